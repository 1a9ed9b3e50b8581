//! `[admin]` and `[secrets]`: the admin tokens' signing secret and the encryption key of
//! secrets at rest. Each is generated once into the data directory when not set.

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, invalid};
use super::secret::Secret;

/// File under the data directory holding the generated admin secret.
pub const ADMIN_SECRET_FILE: &str = "admin-secret";
/// File under the data directory holding the generated encryption key.
pub const ENCRYPTION_KEY_FILE: &str = "encryption-key";
/// Length of the base64 (standard, padded) encoding of a 32-byte key.
pub const ENCRYPTION_KEY_BASE64_LEN: usize = 44;

/// `[admin]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// The `iss` of admin JWTs.
    pub client_id: String,
    /// Signing secret of admin JWTs; empty = generated once and kept in
    /// `<data_dir>/admin-secret` (see [`Config::admin_secret_file`]).
    pub secret: Secret,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            client_id: "notify-admin".to_owned(),
            secret: Secret::default(),
        }
    }
}

/// `[secrets]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// Base64 of 32 bytes; empty = generated once and kept in
    /// `<data_dir>/encryption-key` (see [`Config::encryption_key_file`]).
    /// Only its shape is checked here; decoding is up to the caller.
    pub encryption_key: Secret,
}

impl AdminConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.client_id.trim().is_empty() {
            return invalid("admin.client_id", "must not be empty");
        }
        Ok(())
    }
}

impl SecretsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let key = self.encryption_key.expose();
        if !key.is_empty() && !looks_like_base64_key(key) {
            return invalid(
                "secrets.encryption_key",
                format!(
                    "must be the base64 encoding of 32 bytes ({ENCRYPTION_KEY_BASE64_LEN} \
                     characters ending in '=', e.g. from `head -c 32 /dev/urandom | base64`); \
                     got {} characters",
                    key.chars().count()
                ),
            );
        }
        Ok(())
    }
}

/// 44 characters of the (standard or URL-safe) base64 alphabet, with exactly
/// one trailing `=`, as the padded encoding of 32 bytes is.
fn looks_like_base64_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.len() == ENCRYPTION_KEY_BASE64_LEN
        && bytes[ENCRYPTION_KEY_BASE64_LEN - 1] == b'='
        && bytes[..ENCRYPTION_KEY_BASE64_LEN - 1]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
}
