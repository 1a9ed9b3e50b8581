//! `[sending]`: what outgoing messages look like and what they cost.

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, invalid};

/// `[sending]`: what outgoing messages look like and cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SendingConfig {
    /// Domain of the From address: `<service local part>@<email_from_domain>`.
    pub email_from_domain: String,
    /// Sender of text messages when a service has none of its own.
    pub default_sms_sender: String,
    /// Price of one text message fragment, in pounds (cost data in API responses, billing).
    pub sms_rate: f64,
    /// Prices of letters, in pounds (cost data in API responses, billing).
    pub letter_rates: LetterRates,
}

/// `[sending.letter_rates]`: the price of a one-sheet letter per postage, plus a price for
/// each further sheet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LetterRates {
    pub first: f64,
    pub second: f64,
    pub economy: f64,
    pub europe: f64,
    pub rest_of_world: f64,
    pub extra_sheet: f64,
}

impl Default for LetterRates {
    fn default() -> Self {
        LetterRates {
            first: 1.31,
            second: 0.76,
            economy: 0.59,
            europe: 1.56,
            rest_of_world: 1.56,
            extra_sheet: 0.05,
        }
    }
}

impl LetterRates {
    /// The price of one letter of `sheets` sheets (0 sheets: nothing was printed, no charge).
    pub fn letter_cost(&self, sheets: u32, postage: &str) -> f64 {
        if sheets == 0 {
            return 0.0;
        }
        let base = match postage {
            "first" => self.first,
            "economy" => self.economy,
            "europe" => self.europe,
            "rest-of-world" => self.rest_of_world,
            _ => self.second,
        };
        let cost = base + self.extra_sheet * f64::from(sheets - 1);
        (cost * 100.0).round() / 100.0
    }

    fn prices(&self) -> [(&'static str, f64); 6] {
        [
            ("first", self.first),
            ("second", self.second),
            ("economy", self.economy),
            ("europe", self.europe),
            ("rest_of_world", self.rest_of_world),
            ("extra_sheet", self.extra_sheet),
        ]
    }
}

impl Default for SendingConfig {
    fn default() -> Self {
        SendingConfig {
            email_from_domain: "notify.localhost".into(),
            default_sms_sender: "GOVUK".into(),
            sms_rate: 0.0227,
            letter_rates: LetterRates::default(),
        }
    }
}

impl SendingConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.email_from_domain.trim().is_empty() {
            return invalid("sending.email_from_domain", "must not be empty");
        }
        if !(self.sms_rate.is_finite() && self.sms_rate >= 0.0) {
            return invalid("sending.sms_rate", "must be a price in pounds, 0 or more");
        }
        for (name, price) in self.letter_rates.prices() {
            if !(price.is_finite() && price >= 0.0) {
                return invalid(
                    &format!("sending.letter_rates.{name}"),
                    "must be a price in pounds, 0 or more",
                );
            }
        }
        Ok(())
    }
}
