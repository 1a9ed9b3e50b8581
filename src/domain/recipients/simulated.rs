//! Smoke-test recipients (§3): sends to these are accepted and never delivered.

/// Smoke-test phone numbers (§3), normalised.
pub const SIMULATED_PHONE_NUMBERS: [&str; 3] = ["447700900000", "447700900111", "447700900222"];
/// Smoke-test email addresses (§3), normalised.
pub const SIMULATED_EMAIL_ADDRESSES: [&str; 3] = [
    "simulate-delivered@notifications.service.gov.uk",
    "simulate-delivered-2@notifications.service.gov.uk",
    "simulate-delivered-3@notifications.service.gov.uk",
];

/// Is this normalised phone number (E.164 without `+`) a smoke-test number?
pub fn is_simulated_phone(normalised: &str) -> bool {
    SIMULATED_PHONE_NUMBERS.contains(&normalised)
}

/// Is this normalised (lower-cased) email address a smoke-test address?
pub fn is_simulated_email(normalised: &str) -> bool {
    SIMULATED_EMAIL_ADDRESSES.contains(&normalised)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::recipients::{normalise_email, validate_phone_number};

    #[test]
    fn simulated_recipients() {
        for number in ["07700900000", "+44 7700 900111", "447700900222"] {
            assert!(is_simulated_phone(
                &validate_phone_number(number).unwrap().normalised
            ));
        }
        assert!(!is_simulated_phone("447700900123"));
        assert!(is_simulated_email(&normalise_email(
            "Simulate-Delivered-2@notifications.service.gov.uk "
        )));
        assert!(is_simulated_email(
            "simulate-delivered-3@notifications.service.gov.uk"
        ));
        assert!(!is_simulated_email(
            "simulate-delivered-4@notifications.service.gov.uk"
        ));
    }
}
