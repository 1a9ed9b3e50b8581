//! `[callbacks]`: calls to services' callback URLs.

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, invalid};

/// `[callbacks]`: calls to services' callback URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallbacksConfig {
    pub timeout_seconds: u64,
    pub max_retries: u32,
    pub retry_delay_seconds: u64,
    /// Callbacks sent at once.
    pub concurrency: usize,
    /// Allow `http://` callback URLs to hosts other than loopback (https is always allowed).
    pub allow_http: bool,
}

impl Default for CallbacksConfig {
    fn default() -> Self {
        CallbacksConfig {
            timeout_seconds: 5,
            max_retries: 5,
            retry_delay_seconds: 300,
            concurrency: 16,
            allow_http: false,
        }
    }
}

impl CallbacksConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.concurrency < 1 {
            return invalid("callbacks.concurrency", "must be at least 1");
        }
        Ok(())
    }
}
