//! `[providers]` (which provider each channel uses), `[delivery]` (how delivery workers retry
//! and time out), `[outbox]` (the local sink) and `[receipts]` (what providers post back).
//! The SMTP relay is in `smtp`, the HTTP SMS providers in `sms`.

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, invalid};
use super::secret::Secret;

/// `[providers]`: which delivery provider each channel uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvidersConfig {
    pub email: EmailProviderKind,
    pub sms: SmsProviderKind,
    pub letter: ProviderKind,
}

/// `providers.email`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailProviderKind {
    /// Keep outgoing emails in the local outbox (`/outbox`).
    #[default]
    Outbox,
    /// Relay through the SMTP server of `[smtp]`.
    Smtp,
}

/// `providers.sms`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProviderKind {
    /// Keep outgoing text messages in the local outbox (`/outbox`).
    #[default]
    Outbox,
    /// Send through the HTTP providers of `[[sms_providers]]`.
    Http,
}

/// `providers.*`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Keep outgoing messages in a local outbox instead of sending them.
    #[default]
    Outbox,
}

/// `[delivery]`: how delivery workers retry and time out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Retries after a failed send before the notification becomes `technical-failure`.
    pub max_retries: u32,
    /// Seconds between retries.
    pub retry_delay_seconds: u64,
    /// Emails handed to the provider at once.
    pub email_concurrency: usize,
    /// Text messages handed to providers at once.
    pub sms_concurrency: usize,
    /// Emails and texts still `sending`/`pending` after this many hours become `temporary-failure`
    /// (checked by the `timeout-sending-notifications` scheduled job).
    pub sending_timeout_hours: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            max_retries: 48,
            retry_delay_seconds: 300,
            email_concurrency: 32,
            sms_concurrency: 32,
            sending_timeout_hours: 72,
        }
    }
}

impl DeliveryConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.email_concurrency < 1 || self.sms_concurrency < 1 {
            return invalid(
                "delivery.email_concurrency",
                "concurrency must be at least 1",
            );
        }
        Ok(())
    }
}

/// `[outbox]`: the local sink used by `outbox` providers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// Most recent messages kept; older ones are dropped.
    pub keep: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig { keep: 10_000 }
    }
}

/// `[receipts]`: delivery receipts and inbound texts posted by providers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiptsConfig {
    /// HTTP basic auth required on the receipt routes (`/notifications/sms/*`,
    /// `/notifications/email/ses`); empty = none.
    pub username: String,
    pub password: Secret,
}
