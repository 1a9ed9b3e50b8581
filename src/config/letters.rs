//! `[letters]` (making letter PDFs) and `[antivirus]` (scanning precompiled ones). The print
//! run is in `print`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, invalid};

/// `[letters]`: making letter PDFs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LettersConfig {
    /// Letters rendered or validated at once.
    pub concurrency: usize,
    /// Attempts after the first when a letter's PDF cannot be made or stored (then
    /// `technical-failure`), `retry_delay_seconds` apart.
    pub max_retries: u32,
    pub retry_delay_seconds: u64,
    /// England and Wales bank holidays (DVLA and Royal Mail days off), in GOV.UK's
    /// `bank-holidays.json` format; empty = the list built into the binary (2012–2028).
    pub bank_holidays_file: PathBuf,
}

impl Default for LettersConfig {
    fn default() -> Self {
        LettersConfig {
            concurrency: 4,
            max_retries: 15,
            retry_delay_seconds: 300,
            bank_holidays_file: PathBuf::new(),
        }
    }
}

/// `[antivirus]`: the virus scan of precompiled letters by clamd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AntivirusConfig {
    /// Off by default so a developer's appliance needs no clamd: uploads go straight to
    /// validation. Turn it on anywhere real letters are sent.
    pub enabled: bool,
    /// clamd's TCP address (`host:port`) or the path of its unix socket.
    pub clamd: String,
    /// Seconds to wait for one scan.
    pub timeout_seconds: u64,
    /// Attempts after the first when clamd or the blob store cannot be reached (then
    /// `technical-failure`, file in `letters-scan/ERROR/`), `retry_delay_seconds` apart.
    pub max_retries: u32,
    pub retry_delay_seconds: u64,
}

impl Default for AntivirusConfig {
    fn default() -> Self {
        AntivirusConfig {
            enabled: false,
            clamd: "127.0.0.1:3310".into(),
            timeout_seconds: 60,
            max_retries: 5,
            retry_delay_seconds: 300,
        }
    }
}

impl LettersConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.concurrency == 0 {
            return invalid("letters.concurrency", "must be at least 1");
        }
        Ok(())
    }
}

impl AntivirusConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.enabled && self.clamd.trim().is_empty() {
            return invalid(
                "antivirus.clamd",
                "must be clamd's host:port or unix socket path when antivirus is enabled",
            );
        }
        Ok(())
    }
}
