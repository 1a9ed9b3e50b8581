//! `[smtp]`: the email relay.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::secret::Secret;

/// `[smtp]`: the relay used when `providers.email = "smtp"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Empty = no authentication.
    pub username: String,
    pub password: Secret,
    /// PEM file of an extra CA certificate to trust (e.g. a relay's self-signed certificate);
    /// empty = the system's CA store only.
    pub ca_file: PathBuf,
    /// Connections kept open to the relay.
    pub pool_size: u32,
    pub timeout_seconds: u64,
    /// True: the relay accepting an email means `delivered`. False: it means `sending`, and
    /// delivery receipts (e.g. Amazon SES through SNS) decide the final status.
    pub delivered_on_accept: bool,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: 25,
            tls: SmtpTls::Starttls,
            username: String::new(),
            password: Secret::default(),
            ca_file: PathBuf::new(),
            pool_size: 8,
            timeout_seconds: 30,
            delivered_on_accept: true,
        }
    }
}

/// `smtp.tls`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP: only for a relay on the same machine.
    None,
    /// STARTTLS, required.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
}
