//! Phone numbers (§10.1): the schema-level check, the service permissions, and the
//! normalised form guest lists compare.

use phonenumber::metadata::Metadata;
use phonenumber::{Type, Validation};
use serde::{Deserialize, Serialize};

use super::email::normalise_email;
use super::libphonenumber::{
    Num, is_possible_with_reason, lib_parse, number_type, region_for_number,
};
use super::sms_rates::SMS_RATES;
use super::text::{is_notify_whitespace, sanitise_ascii};

/// A phone number validation failure. `Display` gives the v2 ("legacy") message of §10.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("Too many digits")]
    TooLong,
    #[error("Not enough digits")]
    TooShort,
    #[error("Not a UK mobile number")]
    NotUkMobile,
    #[error("Must not contain letters or symbols")]
    UnknownCharacter,
    #[error("Not a valid country prefix")]
    UnsupportedCountryCode,
    #[error("Number is not valid \u{2013} double check the phone number you entered")]
    InvalidNumber,
}

impl PhoneError {
    /// Upstream's error code name, e.g. `TOO_LONG`.
    pub fn code(&self) -> &'static str {
        match self {
            PhoneError::TooLong => "TOO_LONG",
            PhoneError::TooShort => "TOO_SHORT",
            PhoneError::NotUkMobile => "NOT_A_UK_MOBILE",
            PhoneError::UnknownCharacter => "UNKNOWN_CHARACTER",
            PhoneError::UnsupportedCountryCode => "UNSUPPORTED_COUNTRY_CODE",
            PhoneError::InvalidNumber => "INVALID_NUMBER",
        }
    }
}

/// A phone number that passed the schema-level check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumber {
    /// E.164 without the `+`, e.g. `447700900123`.
    pub normalised: String,
    /// Not a GB number for billing: any other country, or a Crown dependency. Ofcom drama
    /// numbers (07700 900xxx) count as UK.
    pub international: bool,
    /// +44 number of Jersey, Guernsey or the Isle of Man.
    pub crown_dependency: bool,
    /// Country calling code, e.g. 44.
    pub country_code: u16,
    /// Billing prefix: the country code, or `1` + area code for NANP countries billed
    /// separately (e.g. `1664`).
    pub phone_prefix: String,
    /// 1 for UK numbers, otherwise the rate multiplier of the billing prefix.
    pub rate_multiplier: u32,
    /// A +44 number of type fixed line, fixed-line-or-mobile or UAN (needs
    /// `sms_to_uk_landlines`).
    pub uk_landline: bool,
}

/// Why a valid number may not be sent to by a service (§10.1 step 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhonePermissionError {
    /// International number (not a Crown dependency) without `international_sms`.
    #[error("Cannot send to international mobile numbers")]
    InternationalNotAllowed,
    /// UK landline without `sms_to_uk_landlines`.
    #[error("Not a UK mobile number")]
    NotUkMobile,
}

impl PhonePermissionError {
    /// The v2 error name: `BadRequestError` or `InvalidPhoneError` (both are HTTP 400).
    pub fn error_name(&self) -> &'static str {
        match self {
            PhonePermissionError::InternationalNotAllowed => "BadRequestError",
            PhonePermissionError::NotUkMobile => "InvalidPhoneError",
        }
    }

    /// HTTP status code of the error.
    pub fn status_code(&self) -> u16 {
        400
    }
}

/// Permission that allows sending to international numbers.
pub const PERMISSION_INTERNATIONAL_SMS: &str = "international_sms";
/// Permission that allows sending to UK landlines.
pub const PERMISSION_SMS_TO_UK_LANDLINES: &str = "sms_to_uk_landlines";

/// Schema-level phone number check (§10.1 steps 1–5 and 7): characters, parsing (with the
/// rescue re-parse), possible-number reasons, number type (with the Ofcom drama-number
/// exception) and billed country. International numbers and UK landlines are allowed here;
/// use [`check_phone_permissions`] for the service permissions.
///
/// The input is parsed as supplied (upstream does not clean it first; zero-width characters
/// and non-breaking spaces are dealt with by the parser and the rescue step).
pub fn validate_phone_number(s: &str) -> Result<PhoneNumber, PhoneError> {
    let number = parse_notify_number(s)?;
    if !SMS_RATES.contains_key(&number.cc.to_string()) {
        return Err(PhoneError::UnsupportedCountryCode);
    }
    Ok(describe(&number))
}

/// §10.1 step 6: check a validated number against the service's permissions
/// (`international_sms`, `sms_to_uk_landlines`). Crown-dependency mobiles count as UK.
pub fn check_phone_permissions(
    n: &PhoneNumber,
    permissions: &[String],
) -> Result<(), PhonePermissionError> {
    let has = |p: &str| permissions.iter().any(|x| x == p);
    let not_allowed = n.country_code != 44 && !has(PERMISSION_INTERNATIONAL_SMS)
        || n.country_code == 44 && n.uk_landline && !has(PERMISSION_SMS_TO_UK_LANDLINES);
    if !not_allowed {
        Ok(())
    } else if n.international && !n.crown_dependency {
        Err(PhonePermissionError::InternationalNotAllowed)
    } else {
        Err(PhonePermissionError::NotUkMobile)
    }
}

/// Normalise a recipient the way guest lists and team members are compared: a phone number
/// that parses becomes its normalised form (no country check), anything else is treated as
/// an email address (cleaned and lower-cased).
pub fn format_recipient(s: &str) -> String {
    match parse_notify_number(s) {
        Ok(number) => format!("{}{}", number.cc, number.nsn),
        Err(_) => normalise_email(s),
    }
}

/// Notify's `PhoneNumber(...)` constructor: parse, and on failure parse once more after a
/// more aggressive normalisation (remove every `+`, strip leading zeros, downgrade to ASCII).
fn parse_notify_number(s: &str) -> Result<Num, PhoneError> {
    match parse_notify_once(s) {
        Ok(n) => Ok(n),
        Err(_) => {
            let without_plus: String = s.chars().filter(|&c| c != '+').collect();
            let rescued = sanitise_ascii(without_plus.trim_start_matches('0'));
            parse_notify_once(&rescued)
        }
    }
}

/// Notify's `parse_phone_number`.
fn parse_notify_once(s: &str) -> Result<Num, PhoneError> {
    if s.chars()
        .any(|c| !(c.is_ascii_digit() || "()-+".contains(c) || is_notify_whitespace(c)))
    {
        return Err(PhoneError::UnknownCharacter);
    }
    if s.is_empty() {
        return Err(PhoneError::TooShort);
    }
    let mut number = lib_parse(s, true).map_err(|_| PhoneError::InvalidNumber)?;
    let reason = is_possible_with_reason(&number);
    if reason != Validation::IsPossible {
        match forced_international(s) {
            Some(forced) => number = forced,
            None => {
                return Err(match reason {
                    Validation::TooLong => PhoneError::TooLong,
                    Validation::TooShort | Validation::IsPossibleLocalOnly => PhoneError::TooShort,
                    Validation::InvalidCountryCode => PhoneError::UnsupportedCountryCode,
                    _ => PhoneError::InvalidNumber,
                });
            }
        }
    }
    let kind = number_type(&number);
    if kind == Type::Unknown || !is_allowed_type(kind) {
        if is_tv_number(&number) {
            return Ok(number);
        }
        return Err(PhoneError::InvalidNumber);
    }
    Ok(number)
}

/// Excel often drops a leading `+`: try the number as an international one.
fn forced_international(s: &str) -> Option<Num> {
    let forced = lib_parse(&format!("+{s}"), false).ok()?;
    matches!(
        is_possible_with_reason(&forced),
        Validation::IsPossible | Validation::IsPossibleLocalOnly
    )
    .then_some(forced)
}

fn is_allowed_type(kind: Type) -> bool {
    matches!(
        kind,
        Type::FixedLine | Type::Mobile | Type::FixedLineOrMobile | Type::Uan | Type::PersonalNumber
    )
}

/// Ofcom drama numbers are not valid for libphonenumber. Upstream's check is loose: the
/// national number (without leading zeros) starting `7700` and then any digit.
fn is_tv_number(n: &Num) -> bool {
    let national = n.nsn.trim_start_matches('0');
    national.len() > 4 && national.starts_with("7700") && national.as_bytes()[4].is_ascii_digit()
}

fn describe(n: &Num) -> PhoneNumber {
    let normalised = format!("{}{}", n.cc, n.nsn);
    let tv = is_tv_number(n);
    let region = region_for_number(n.cc, &n.nsn).map(Metadata::id);
    let international = !(region == Some("GB") || tv);
    let crown_dependency = !tv && n.cc == 44 && region != Some("GB");
    let mut phone_prefix = n.cc.to_string();
    if n.cc == 1 && normalised.len() >= 4 && SMS_RATES.contains_key(&normalised[..4]) {
        phone_prefix = normalised[..4].to_string();
    }
    let rate_multiplier = if international {
        SMS_RATES.get(&phone_prefix).copied().unwrap_or(1)
    } else {
        1
    };
    let uk_landline = n.cc == 44
        && matches!(
            number_type(n),
            Type::FixedLine | Type::FixedLineOrMobile | Type::Uan
        );
    PhoneNumber {
        normalised,
        international,
        crown_dependency,
        country_code: n.cc,
        phone_prefix,
        rate_multiplier,
        uk_landline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn spec_phone_table_valid_rows() {
        // (input, normalised, international, crown dependency, rate multiplier, landline)
        let rows: &[(&str, &str, bool, bool, u32, bool)] = &[
            ("07700900123", "447700900123", false, false, 1, false),
            ("+447700900123", "447700900123", false, false, 1, false),
            ("447700900123", "447700900123", false, false, 1, false),
            ("0044 7700 900123", "447700900123", false, false, 1, false),
            ("+44 (0)7700 900123", "447700900123", false, false, 1, false),
            ("7700900123", "447700900123", false, false, 1, false),
            ("01709510122", "441709510122", false, false, 1, true),
            ("020 7946 0000", "442079460000", false, false, 1, true),
            ("+1 202-555-0104", "12025550104", true, false, 1, false),
            ("12025550104", "12025550104", true, false, 1, false),
            ("20-12-1234-1234", "201212341234", true, false, 7, false),
            ("+33 6 12 34 56 78", "33612345678", true, false, 2, false),
            ("+447624123456", "447624123456", true, true, 2, false),
        ];
        for &(input, normalised, international, crown, rate, landline) in rows {
            let n = validate_phone_number(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(n.normalised, normalised, "{input}");
            assert_eq!(n.international, international, "{input}");
            assert_eq!(n.crown_dependency, crown, "{input}");
            assert_eq!(n.rate_multiplier, rate, "{input}");
            assert_eq!(n.uk_landline, landline, "{input}");
        }
    }

    #[test]
    fn spec_phone_table_error_rows() {
        let rows: &[(&str, PhoneError, &str)] = &[
            ("077009001234567", PhoneError::TooLong, "Too many digits"),
            (
                "0770090012a",
                PhoneError::UnknownCharacter,
                "Must not contain letters or symbols",
            ),
            ("999", PhoneError::TooShort, "Not enough digits"),
            (
                "08515111111",
                PhoneError::InvalidNumber,
                "Number is not valid \u{2013} double check the phone number you entered",
            ),
            (
                "+800 1234 5678",
                PhoneError::InvalidNumber,
                "Number is not valid \u{2013} double check the phone number you entered",
            ),
            ("", PhoneError::TooShort, "Not enough digits"),
            (
                "24741111",
                PhoneError::UnsupportedCountryCode,
                "Not a valid country prefix",
            ),
        ];
        for &(input, error, message) in rows {
            let e = validate_phone_number(input).expect_err(input);
            assert_eq!(e, error, "{input}");
            assert_eq!(e.to_string(), message, "{input}");
        }
        assert_eq!(
            PhoneError::NotUkMobile.to_string(),
            "Not a UK mobile number"
        );
        assert_eq!(PhoneError::TooLong.code(), "TOO_LONG");
    }

    #[test]
    fn spec_phone_table_mobile_only_permissions() {
        let none = perms(&[]);
        for landline in ["01709510122", "020 7946 0000"] {
            let n = validate_phone_number(landline).unwrap();
            let e = check_phone_permissions(&n, &none).unwrap_err();
            assert_eq!(e, PhonePermissionError::NotUkMobile);
            assert_eq!(e.to_string(), "Not a UK mobile number");
            assert_eq!(e.error_name(), "InvalidPhoneError");
            assert_eq!(e.status_code(), 400);
            assert!(check_phone_permissions(&n, &perms(&["sms_to_uk_landlines"])).is_ok());
        }
        for international in ["+1 202-555-0104", "20-12-1234-1234", "+33 6 12 34 56 78"] {
            let n = validate_phone_number(international).unwrap();
            let e = check_phone_permissions(&n, &none).unwrap_err();
            assert_eq!(e, PhonePermissionError::InternationalNotAllowed);
            assert_eq!(e.to_string(), "Cannot send to international mobile numbers");
            assert_eq!(e.error_name(), "BadRequestError");
            assert!(check_phone_permissions(&n, &perms(&["international_sms"])).is_ok());
        }
        for ok in [
            "07700900123",
            "+447624123456",
            "07797800123",
            "+447700900030",
        ] {
            let n = validate_phone_number(ok).unwrap();
            assert!(check_phone_permissions(&n, &none).is_ok(), "{ok}");
        }
        // A Crown-dependency landline is a UK landline.
        let iom_landline = validate_phone_number("+44 1624 612345").unwrap();
        assert!(iom_landline.crown_dependency && iom_landline.uk_landline);
        assert_eq!(
            check_phone_permissions(&iom_landline, &none),
            Err(PhonePermissionError::NotUkMobile)
        );
    }

    #[test]
    fn phone_rescue_and_drama_numbers() {
        let rows = [
            ("0+447700900100", "447700900100"),
            ("000007700900100", "447700900100"),
            ("+07700900100", "447700900100"),
            ("0+44(0)7779123456", "447779123456"),
            ("+07044123456", "447044123456"),
            ("04407379123456", "447379123456"),
            ("001708123456", "441708123456"),
            ("+04915161123456", "4915161123456"),
            ("+0012025550104", "12025550104"),
            ("1\u{2011}202\u{2013}555\u{2014}010\u{2212}4", "12025550104"),
            (
                "\u{200B}\t\t+44 (0)7723 456 789\u{FEFF} \r\n",
                "447723456789",
            ),
            ("07700\u{00A0}900123", "447700900123"),
            // Ofcom drama numbers, including upstream's loose match.
            ("07700900000", "447700900000"),
            ("07700900999", "447700900999"),
            ("447700900020", "447700900020"),
            ("07700 9001", "44077009001"),
        ];
        for (input, normalised) in rows {
            let n = validate_phone_number(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(n.normalised, normalised, "{input:?}");
        }
        let tv = validate_phone_number("07700900010").unwrap();
        assert!(!tv.international && !tv.crown_dependency && !tv.uk_landline);
        assert_eq!(tv.rate_multiplier, 1);
    }

    #[test]
    fn phone_upstream_error_cases() {
        let rows = [
            ("772345678910", PhoneError::TooLong),
            ("0772345678910", PhoneError::TooLong),
            ("+44 (0)7723 456 789 10", PhoneError::TooLong),
            ("0772345678", PhoneError::InvalidNumber),
            ("00447723456", PhoneError::InvalidNumber),
            ("07890x32109", PhoneError::UnknownCharacter),
            ("07723 456789...", PhoneError::UnknownCharacter),
            ("ALPHANUM3R1C", PhoneError::UnknownCharacter),
            ("0400 123 4567", PhoneError::InvalidNumber),
            ("0900 123 4567", PhoneError::InvalidNumber),
            ("0845 46 46", PhoneError::InvalidNumber),
            ("80100000000", PhoneError::TooLong),
            ("+682 1234", PhoneError::InvalidNumber),
            ("(07417)4123456", PhoneError::TooLong),
            ("+00263 71123456", PhoneError::InvalidNumber),
            ("0049 160 123456", PhoneError::InvalidNumber),
            ("07700\n900123", PhoneError::UnknownCharacter),
        ];
        for (input, error) in rows {
            assert_eq!(validate_phone_number(input), Err(error), "{input:?}");
        }
    }

    #[test]
    fn phone_international_details() {
        let rows = [
            ("16644913789", "1664", 6, true, false),
            ("77234567890", "7", 10, true, false),
            ("+23052512345", "230", 4, true, false),
            ("07797800123", "44", 2, true, true),
            ("07723456789", "44", 1, false, false),
            ("+7 (8) (495) 123-45-67", "7", 10, true, false),
            ("+43 676 111 222 333 4", "43", 3, true, false),
        ];
        for (input, prefix, rate, international, crown) in rows {
            let n = validate_phone_number(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(n.phone_prefix, prefix, "{input}");
            assert_eq!(n.rate_multiplier, rate, "{input}");
            assert_eq!(n.international, international, "{input}");
            assert_eq!(n.crown_dependency, crown, "{input}");
        }
    }

    #[test]
    fn format_recipient_for_guest_lists() {
        assert_eq!(format_recipient("foo"), "foo");
        assert_eq!(format_recipient("TeSt@ExAmPl3.com"), "test@exampl3.com");
        assert_eq!(format_recipient("+4407900 900 123"), "447900900123");
        assert_eq!(format_recipient("+1 928-282-4541"), "19282824541");
        assert_eq!(
            format_recipient("0012025550104"),
            format_recipient("1-202-555-0104")
        );
    }
}
