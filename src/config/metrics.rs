//! `[metrics]`: the Prometheus endpoint, `GET /metrics`.

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, invalid};
use super::secret::Secret;

/// Shortest bearer token taken: the endpoint shows the appliance's traffic and state, so a
/// guessable token is refused at start rather than found out later.
pub const MIN_METRICS_TOKEN_LEN: usize = 16;

/// `[metrics]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// The token Prometheus sends (`Authorization: Bearer <token>`) to read `GET /metrics`.
    /// Empty = the endpoint is off: it answers 404, and request metrics are not kept.
    pub bearer_token: Secret,
}

impl MetricsConfig {
    /// Whether `GET /metrics` is served.
    pub fn enabled(&self) -> bool {
        !self.bearer_token.is_empty()
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let token = self.bearer_token.expose();
        if token.is_empty() {
            return Ok(());
        }
        if token.len() < MIN_METRICS_TOKEN_LEN {
            return invalid(
                "metrics.bearer_token",
                format!(
                    "must be at least {MIN_METRICS_TOKEN_LEN} characters (e.g. from \
                     `head -c 32 /dev/urandom | base64`), or empty to turn the endpoint off"
                ),
            );
        }
        // It travels in a header: visible ASCII only, as RFC 6750's token68 is.
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return invalid(
                "metrics.bearer_token",
                "must be visible ASCII characters only (no spaces or control characters)",
            );
        }
        Ok(())
    }
}
