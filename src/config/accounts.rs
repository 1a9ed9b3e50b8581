//! `[accounts]` (people signing in: sessions, second factor, lock-out, links, password hashing)
//! and `[audit]` (how long the audit trail is kept). Defaults are upstream's admin app's.

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, invalid};

/// `[accounts]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsConfig {
    /// A session ends this long after sign-in, however busy (upstream's 20 hours).
    pub session_absolute_hours: u32,
    /// A session ends after this long without a request (upstream's sliding 20 hours).
    pub session_idle_minutes: u32,
    /// Platform admins' sessions end sooner when idle (upstream: 30 minutes).
    pub platform_admin_idle_minutes: u32,
    /// Failed passwords and codes in a row before the account locks (upstream: 10).
    pub max_failed_logins: u32,
    /// A code sent by text message or email works this long (upstream: 30 minutes).
    pub code_expiry_minutes: u32,
    /// At most this many unused, unexpired codes at once; more requests send nothing
    /// (upstream: 5).
    pub max_active_codes: u32,
    /// A password reset link works this long (upstream: 1 hour).
    pub password_reset_minutes: u32,
    /// An invitation link works this long (upstream: 2 days).
    pub invitation_days: u32,
    /// The first sign-in link `notify user create` prints works this long.
    pub first_sign_in_hours: u32,
    /// Shortest password accepted (upstream: 8).
    pub min_password_length: u32,
    /// Password hashes (Argon2id, deliberately slow) computed at once, each on a blocking
    /// thread.
    pub password_hashing_threads: u32,
    /// Sign-in attempts that may wait for a hashing thread; more are answered 429 at once, so
    /// a flood of attempts cannot exhaust the server.
    pub password_hashing_queue: u32,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            session_absolute_hours: 20,
            session_idle_minutes: 20 * 60,
            platform_admin_idle_minutes: 30,
            max_failed_logins: 10,
            code_expiry_minutes: 30,
            max_active_codes: 5,
            password_reset_minutes: 60,
            invitation_days: 2,
            first_sign_in_hours: 24,
            min_password_length: 8,
            password_hashing_threads: 2,
            password_hashing_queue: 16,
        }
    }
}

impl AccountsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("session_absolute_hours", self.session_absolute_hours),
            ("session_idle_minutes", self.session_idle_minutes),
            (
                "platform_admin_idle_minutes",
                self.platform_admin_idle_minutes,
            ),
            ("max_failed_logins", self.max_failed_logins),
            ("code_expiry_minutes", self.code_expiry_minutes),
            ("max_active_codes", self.max_active_codes),
            ("password_reset_minutes", self.password_reset_minutes),
            ("invitation_days", self.invitation_days),
            ("first_sign_in_hours", self.first_sign_in_hours),
            ("password_hashing_threads", self.password_hashing_threads),
        ];
        for (key, value) in positive {
            if value == 0 {
                return invalid(&format!("accounts.{key}"), "must be at least 1");
            }
        }
        if !(8..=64).contains(&self.min_password_length) {
            return invalid(
                "accounts.min_password_length",
                format!(
                    "must be between 8 and 64 (got {})",
                    self.min_password_length
                ),
            );
        }
        Ok(())
    }
}

/// `[audit]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Days the audit trail keeps an event; older ones are removed nightly
    /// (`delete-audit-events-older-than-retention`).
    pub retention_days: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            retention_days: 365,
        }
    }
}

impl AuditConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.retention_days == 0 {
            return invalid("audit.retention_days", "must be at least 1");
        }
        Ok(())
    }
}
