//! [`Secret`]: a setting whose value never appears in logs or debug output.

use std::fmt;

use figment::value::Value;
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// A secret string. `Debug` prints `"[redacted]"` (or `""` when empty) and
/// `Display` prints `[redacted]` (or nothing when empty); use
/// [`Secret::expose`] to get at the value. Serializes transparently, except
/// inside [`serialize_redacted`].
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

/// What a non-empty secret shows as.
pub const REDACTED: &str = "[redacted]";

thread_local! {
    /// Set while [`serialize_redacted`] runs on this thread.
    static REDACTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if REDACTING.get() && !self.0.is_empty() {
            serializer.serialize_str(REDACTED)
        } else {
            serializer.serialize_str(&self.0)
        }
    }
}

/// `value` as a figment [`Value`], every non-empty [`Secret`] in it replaced by
/// `[redacted]` — so a new secret setting is never printed by `notify check-config`
/// (or kept in a backup's settings) just because a list of secret keys missed it.
pub fn serialize_redacted<T: Serialize>(value: &T) -> Result<Value, ConfigError> {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            REDACTING.set(self.0);
        }
    }
    let _reset = Reset(REDACTING.replace(true));
    Value::serialize(value).map_err(|e| ConfigError::Other(Box::new(e)))
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            write!(f, "\"{REDACTED}\"")
        }
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            f.write_str(REDACTED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_redacted() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "\"[redacted]\"");
        assert_eq!(secret.to_string(), "[redacted]");
        assert_eq!(secret.expose(), "hunter2");
        assert!(!secret.is_empty());
        let empty = Secret::default();
        assert_eq!(format!("{empty:?}"), "\"\"");
        assert_eq!(empty.to_string(), "");
        assert!(empty.is_empty());
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"hunter2\"");
        let back: Secret = serde_json::from_str("\"x\"").unwrap();
        assert_eq!(back.expose(), "x");
    }

    #[test]
    fn redacted_only_inside_serialize_redacted() {
        let secrets = vec![Secret::new("hunter2"), Secret::default()];
        let shown = serde_json::to_string(&serialize_redacted(&secrets).unwrap()).unwrap();
        assert_eq!(shown, "[\"[redacted]\",\"\"]");
        assert_eq!(
            serde_json::to_string(&secrets).unwrap(),
            "[\"hunter2\",\"\"]"
        );
    }
}
