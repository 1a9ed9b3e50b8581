//! [`ConfigError`]: why the configuration could not be loaded, worded to name the setting and
//! where its value came from; figment's errors are turned into these by [`explain`], with a
//! "did you mean" for a mistyped key.

use std::collections::BTreeSet;
use std::path::PathBuf;

use figment::value::{Dict, Value};

use super::layers::{Layer, Origin, dict_contains, dict_get, value_origin};
use super::{ENV_PREFIX, ENV_SEPARATOR};

/// Why the configuration could not be loaded. Every message starts with
/// `config:` and names the setting, file or variable at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A config file given explicitly does not exist.
    #[error("config: file `{}` does not exist", path.display())]
    FileNotFound { path: PathBuf },

    /// A config file exists but could not be read.
    #[error("config: cannot read `{}`: {source}", path.display())]
    FileUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A config file is not valid TOML.
    #[error("config: cannot parse `{}` as TOML: {message}", path.display())]
    Syntax { path: PathBuf, message: String },

    /// A key that is not a setting, in the file or in the environment.
    #[error("config: unknown setting `{key}` (from {origin}){}", hint_suffix(.hint))]
    UnknownSetting {
        /// Dotted path of the key, e.g. `server.lsten`.
        key: String,
        /// Where it came from: a file path or `environment variable NAME`.
        origin: String,
        /// A suggestion, e.g. "did you mean `server.listen`?".
        hint: Option<String>,
    },

    /// A setting has a value of the wrong type or outside its rules.
    #[error("config: invalid value for `{key}`{}: {message}", origin_suffix(.origin))]
    InvalidValue {
        /// Dotted path of the setting, e.g. `storage.max_batch`.
        key: String,
        /// Where the value came from, when known.
        origin: Option<String>,
        message: String,
    },

    /// A `NOTIFY_*` environment variable that cannot be used at all.
    #[error("config: environment variable `{var}` {message}")]
    Env { var: String, message: String },

    /// Any other error reported by the configuration library.
    #[error("config: {0}")]
    Other(Box<figment::Error>),
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default()
}

fn origin_suffix(origin: &Option<String>) -> String {
    origin
        .as_ref()
        .map(|o| format!(" (from {o})"))
        .unwrap_or_default()
}

/// A [`ConfigError::InvalidValue`] for `key` (its origin is filled in by the loader).
pub(super) fn invalid(key: &str, message: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError::InvalidValue {
        key: key.to_owned(),
        origin: None,
        message: message.into(),
    })
}

/// Turns figment's error into one that names the setting and its source.
pub(super) fn explain(err: figment::Error, layers: &[Layer], defaults: &Dict) -> ConfigError {
    use figment::error::Kind;

    let path = err.path.clone();
    let key = path.join(".");
    match &err.kind {
        Kind::UnknownField(field, expected) => {
            // figment's path usually ends with the unknown key already.
            let mut section = path.clone();
            if section.last() == Some(field) {
                section.pop();
            }
            let mut full = section.clone();
            full.push(field.clone());
            let origins: Vec<String> = layers
                .iter()
                .rev()
                .filter(|layer| !matches!(layer.origin, Origin::Defaults))
                .filter_map(|layer| layer.describe(&full))
                .collect();
            let origin = if origins.is_empty() {
                err.metadata
                    .as_ref()
                    .map(|md| md.name.to_string())
                    .unwrap_or_else(|| "configuration".to_owned())
            } else {
                origins.join(" and ")
            };
            let from_env = layers.iter().any(|layer| {
                matches!(layer.origin, Origin::Env(_)) && dict_contains(&layer.dict, &full)
            });
            ConfigError::UnknownSetting {
                key: full.join("."),
                hint: unknown_key_hint(&section, field, expected, from_env),
                origin,
            }
        }
        _ if path.is_empty() => ConfigError::Other(Box::new(err)),
        kind => {
            let message = match kind {
                Kind::InvalidType(_, expected) if expected.starts_with("struct ") => {
                    let settings = match dict_get(defaults, &path) {
                        Some(Value::Dict(_, section)) => section
                            .keys()
                            .map(String::as_str)
                            .collect::<Vec<_>>()
                            .join(", "),
                        _ => String::new(),
                    };
                    format!(
                        "`{key}` is a section, not a setting; set one of its settings \
                         instead ({settings}), e.g. `{key}.<setting>` in the file or \
                         {ENV_PREFIX}{}{ENV_SEPARATOR}<SETTING> in the environment",
                        key.to_ascii_uppercase().replace('.', ENV_SEPARATOR)
                    )
                }
                Kind::UnknownVariant(found, expected) => {
                    format!("unknown value `{found}`; expected {}", one_of(expected))
                }
                other => other.to_string(),
            };
            ConfigError::InvalidValue {
                origin: value_origin(layers, &path),
                key,
                message,
            }
        }
    }
}

fn one_of(names: &[&str]) -> String {
    match names {
        [] => "nothing here".to_owned(),
        [only] => format!("`{only}`"),
        _ => {
            let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            format!("one of {}", quoted.join(", "))
        }
    }
}

/// "did you mean ..." for an unknown key (the known key nearest by edit distance, within a
/// third of its length), or the list of valid keys.
pub(super) fn unknown_key_hint(
    section: &[String],
    field: &str,
    expected: &[&str],
    from_env: bool,
) -> Option<String> {
    let qualify = |name: &str| {
        let mut path = section.to_vec();
        path.push(name.to_owned());
        path
    };
    // `NOTIFY_SERVER_LISTEN` instead of `NOTIFY_SERVER__LISTEN`.
    if from_env {
        let split = expected.iter().find_map(|known| {
            let rest = field.strip_prefix(known)?.strip_prefix('_')?;
            (!rest.is_empty()).then_some((known, rest))
        });
        if let Some((known, rest)) = split {
            let mut path = qualify(known);
            path.push(rest.to_owned());
            return Some(format!(
                "nesting levels are separated by `{ENV_SEPARATOR}`: did you mean {ENV_PREFIX}{}?",
                path.join(ENV_SEPARATOR).to_ascii_uppercase()
            ));
        }
    }
    let closest = expected
        .iter()
        .map(|known| (strsim::levenshtein(field, known), *known))
        .filter(|(distance, known)| *distance <= (known.len() / 3).max(1))
        .min();
    let qualified = |name: &str| {
        let path = qualify(name);
        if from_env {
            format!(
                "{ENV_PREFIX}{}",
                path.join(ENV_SEPARATOR).to_ascii_uppercase()
            )
        } else {
            path.join(".")
        }
    };
    match closest {
        Some((_, known)) => Some(format!("did you mean `{}`?", qualified(known))),
        None if expected.is_empty() => None,
        None => {
            let valid: BTreeSet<&str> = expected.iter().copied().collect();
            let where_ = if section.is_empty() {
                "at the top level".to_owned()
            } else {
                format!("in `{}`", section.join("."))
            };
            Some(format!(
                "valid settings {where_}: {}",
                valid.into_iter().collect::<Vec<_>>().join(", ")
            ))
        }
    }
}
