//! `[[sms_providers]]` (the HTTP SMS providers) and `[sms_switching]` (when traffic moves
//! between them).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, invalid};
use super::providers::SmsProviderKind;
use super::secret::Secret;

/// One `[[sms_providers]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsProviderConfig {
    /// Recorded as the notification's `sent_by`, and the receipt path for `mmg`/`firetext`.
    pub name: String,
    pub kind: SmsApiKind,
    /// The provider's send URL.
    pub url: String,
    #[serde(default)]
    pub api_key: Secret,
    /// Share of traffic, 0–100; also the resting point the share drifts back to.
    pub priority: u32,
    #[serde(default)]
    pub supports_international: bool,
    #[serde(default = "default_sms_timeout")]
    pub timeout_seconds: u64,
}

fn default_sms_timeout() -> u64 {
    10
}

/// `sms_providers.kind`: the request format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsApiKind {
    Mmg,
    Firetext,
    /// JSON POST with a bearer token: `{"id","to","from","body","reference"}`.
    Webhook,
}

/// `[sms_switching]`: when traffic moves between SMS providers (workers.md §7.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsSwitchingConfig {
    /// More failed sends than this within `error_window_seconds` moves traffic away.
    pub error_threshold: u32,
    pub error_window_seconds: u64,
    /// Points moved per change.
    pub step: u32,
    /// No error-driven change within this many seconds of the previous change.
    pub min_seconds_between_changes: u64,
    /// How often shares drift back towards their resting points, in seconds.
    pub drift_every_seconds: u64,
    /// Drift only after this many seconds without a change.
    pub drift_after_quiet_seconds: u64,
    /// Slow delivery (checked every minute by `switch-current-sms-provider-on-slow-delivery`):
    /// a provider is slow when at least this percentage of its texts sent in the last
    /// `slow_delivery_window_seconds` took `slow_delivery_seconds` or more to be delivered (or
    /// have not been yet). When some but not all providers are slow, each slow one loses
    /// `step` points, unless a change happened within `slow_delivery_min_seconds_between_changes`.
    pub slow_delivery_percent: u32,
    pub slow_delivery_seconds: u64,
    pub slow_delivery_window_seconds: u64,
    pub slow_delivery_min_seconds_between_changes: u64,
}

impl Default for SmsSwitchingConfig {
    fn default() -> Self {
        SmsSwitchingConfig {
            error_threshold: 50,
            error_window_seconds: 60,
            step: 10,
            min_seconds_between_changes: 60,
            drift_every_seconds: 300,
            drift_after_quiet_seconds: 900,
            slow_delivery_percent: 15,
            slow_delivery_seconds: 300,
            slow_delivery_window_seconds: 900,
            slow_delivery_min_seconds_between_changes: 300,
        }
    }
}

impl SmsSwitchingConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=100).contains(&self.slow_delivery_percent) {
            return invalid(
                "sms_switching.slow_delivery_percent",
                "must be a percentage from 1 to 100",
            );
        }
        if self.slow_delivery_seconds == 0 || self.slow_delivery_window_seconds == 0 {
            return invalid(
                "sms_switching.slow_delivery_seconds",
                "and slow_delivery_window_seconds must be at least 1",
            );
        }
        Ok(())
    }
}

/// `[inbound_numbers]`: the pool of numbers services receive texts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InboundNumbersConfig {
    /// `check-for-low-available-inbound-sms-numbers` alerts when this many or fewer numbers are
    /// left to assign (upstream's 50); an empty pool (inbound texts unused) never alerts.
    pub low_pool_threshold: u32,
}

impl Default for InboundNumbersConfig {
    fn default() -> Self {
        InboundNumbersConfig {
            low_pool_threshold: 50,
        }
    }
}

/// `providers.sms = "http"` needs providers; each needs a unique name, a priority of at most
/// 100 and an http(s) URL.
pub(super) fn validate_sms_providers(
    kind: SmsProviderKind,
    providers: &[SmsProviderConfig],
) -> Result<(), ConfigError> {
    if kind == SmsProviderKind::Http && providers.is_empty() {
        return invalid(
            "providers.sms",
            "is \"http\" but no [[sms_providers]] are configured",
        );
    }
    let mut names = BTreeSet::new();
    for p in providers {
        if p.name.trim().is_empty() || !names.insert(p.name.as_str()) {
            return invalid(
                "sms_providers.name",
                format!("must be present and unique (got {:?})", p.name),
            );
        }
        if p.priority > 100 {
            return invalid(
                "sms_providers.priority",
                format!("must be 0 to 100 (got {} for {})", p.priority, p.name),
            );
        }
        if !(p.url.starts_with("http://") || p.url.starts_with("https://")) {
            return invalid(
                "sms_providers.url",
                format!("must be an http(s) URL (got {:?} for {})", p.url, p.name),
            );
        }
    }
    Ok(())
}
