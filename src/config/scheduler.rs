//! `[scheduler]` (the scheduled jobs), `[retention]` (what the nightly purge keeps) and
//! `[alerts]` (where the alerts raised by scheduled checks go).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, invalid};

/// `[scheduler]`: the in-process scheduler of nightly and periodic jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Run scheduled jobs in this process. Off only where another process owns the data.
    pub enabled: bool,
    /// Cron lines replacing a job's default, by job name (`notify jobs list` shows the names).
    /// Six fields, seconds first, in Europe/London time: `"0 50 17 * * *"` is 17:50 every day.
    pub jobs: BTreeMap<String, String>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            enabled: true,
            jobs: BTreeMap::new(),
        }
    }
}

/// `[retention]`: how long notifications are kept when a service has not chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Whole London days kept before notifications are archived (services can choose their own).
    pub default_days: u32,
    /// Notifications looked at per batch (one snapshot read; their letter PDFs deleted together).
    pub batch_size: usize,
    /// Notifications removed per commit: small, so API writes never wait long behind the purge.
    pub write_chunk: usize,
    /// Most notifications the nightly purge removes a second; 0 = as fast as it can. The purge
    /// shares the one writer with the API, and an API write that arrives during a purge commit
    /// waits for it, so an unpaced purge (about 100,000 rows/s on two cores) slows the API's
    /// answers more than one at 60,000 rows/s, which still clears a million rows in 17 seconds.
    pub max_rows_per_second: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            default_days: 7,
            batch_size: 2000,
            write_chunk: 250,
            max_rows_per_second: 60_000,
        }
    }
}

/// `[alerts]`: where operator alerts go besides the log, the alerts page and the internal API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// POST each alert as JSON to this URL; empty = none.
    pub webhook_url: String,
}

impl SchedulerConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Err(message) = crate::scheduler::check_overrides(&self.jobs) {
            return invalid("scheduler.jobs", message);
        }
        Ok(())
    }
}

impl RetentionConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.default_days == 0 || self.batch_size == 0 || self.write_chunk == 0 {
            return invalid(
                "retention",
                "default_days, batch_size and write_chunk must be at least 1",
            );
        }
        Ok(())
    }
}

impl AlertsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let hook = &self.webhook_url;
        if !(hook.is_empty() || hook.starts_with("http://") || hook.starts_with("https://")) {
            return invalid(
                "alerts.webhook_url",
                format!("must be empty or an http(s) URL (got {hook:?})"),
            );
        }
        Ok(())
    }
}
