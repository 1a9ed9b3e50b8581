//! The layers settings come from, each a figment provider: the built-in defaults, a TOML
//! file, `NOTIFY_*` environment variables and command-line flags. Each layer remembers where
//! its keys came from, so an error can name the file or variable at fault.

use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

use super::error::ConfigError;
use super::{
    Config, DEFAULTS_LAYER, ENV_LAYER, ENV_PREFIX, ENV_SEPARATOR, FLAGS_LAYER, Overrides,
    SYSTEMD_NOTIFY_SOCKET,
};

/// Where a layer of settings came from.
pub(super) enum Origin {
    Defaults,
    File(PathBuf),
    /// Each variable's key path (lowercase segments) and its name.
    Env(Vec<(Vec<String>, String)>),
    Flags,
}

/// One layer of settings, as a figment provider.
pub(super) struct Layer {
    pub(super) origin: Origin,
    pub(super) dict: Dict,
}

impl Layer {
    /// Says where the key at `path` in this layer came from, if the layer
    /// has it.
    pub(super) fn describe(&self, path: &[String]) -> Option<String> {
        if !dict_contains(&self.dict, path) {
            return None;
        }
        Some(match &self.origin {
            Origin::Defaults => "built-in defaults".to_owned(),
            Origin::File(file) => file.display().to_string(),
            Origin::Env(vars) => {
                let exact = vars.iter().find(|(p, _)| p.as_slice() == path);
                let nested = || vars.iter().find(|(p, _)| p.starts_with(path));
                match exact.or_else(nested) {
                    Some((_, name)) => format!("environment variable {name}"),
                    None => "environment variables".to_owned(),
                }
            }
            Origin::Flags => "command-line flags".to_owned(),
        })
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        match &self.origin {
            Origin::Defaults => Metadata::named(DEFAULTS_LAYER),
            Origin::File(path) => Metadata::from("TOML file", path.as_path()),
            Origin::Env(_) => {
                Metadata::named(ENV_LAYER).interpolater(|_: &Profile, keys: &[&str]| {
                    format!(
                        "{ENV_PREFIX}{}",
                        keys.join(ENV_SEPARATOR).to_ascii_uppercase()
                    )
                })
            }
            Origin::Flags => Metadata::named(FLAGS_LAYER),
        }
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// The built-in defaults as a dictionary; also the schema of known keys and
/// their types.
pub(super) fn default_dict() -> Dict {
    match Value::serialize(Config::default()) {
        Ok(Value::Dict(_, dict)) => dict,
        other => unreachable!("Config serializes to a dictionary, got {other:?}"),
    }
}

pub(super) fn file_layer(path: &Path) -> Result<Layer, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ConfigError::FileNotFound {
                path: path.to_path_buf(),
            }
        } else {
            ConfigError::FileUnreadable {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let mut data = Toml::string(&text)
        .data()
        .map_err(|err| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: err.kind.to_string().trim().to_owned(),
        })?;
    Ok(Layer {
        origin: Origin::File(path.to_path_buf()),
        dict: data.remove(&Profile::Default).unwrap_or_default(),
    })
}

/// `NOTIFY_` stripped from the front of `name`, ignoring ASCII case (as
/// figment's `Env::prefixed` does), or `None` without the prefix and for
/// systemd's `NOTIFY_SOCKET`, which is not a setting.
pub(super) fn strip_env_prefix(name: &str) -> Option<&str> {
    if name == SYSTEMD_NOTIFY_SOCKET {
        return None;
    }
    let head = name.get(..ENV_PREFIX.len())?;
    head.eq_ignore_ascii_case(ENV_PREFIX)
        .then(|| &name[ENV_PREFIX.len()..])
}

/// Turns `NOTIFY_*` variables into a layer, the way figment's
/// `Env::prefixed("NOTIFY_").split("__")` does, except that a setting whose
/// default is a string always gets the raw text (so a secret of `0123` stays
/// `"0123"`), and a name that cannot be a key is an error.
pub(super) fn env_layer(env: &[(String, String)], defaults: &Dict) -> Result<Layer, ConfigError> {
    let mut dict = Dict::new();
    let mut vars = Vec::new();
    for (name, raw) in env {
        let Some(rest) = strip_env_prefix(name) else {
            continue;
        };
        let key = rest.trim().replace(ENV_SEPARATOR, ".").to_ascii_lowercase();
        let path: Vec<String> = key.split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var: name.clone(),
                message: format!(
                    "does not name a setting: use {ENV_PREFIX}SETTING or \
                     {ENV_PREFIX}SECTION{ENV_SEPARATOR}SETTING, e.g. \
                     {ENV_PREFIX}DATA_DIR or {ENV_PREFIX}SERVER{ENV_SEPARATOR}LISTEN"
                ),
            });
        }
        let value = match dict_get(defaults, &path) {
            Some(Value::String(..)) => Value::from(raw.clone()),
            _ => raw.parse::<Value>().unwrap_or_else(|never| match never {}),
        };
        insert_path(&mut dict, &path, value);
        vars.push((path, name.clone()));
    }
    Ok(Layer {
        origin: Origin::Env(vars),
        dict,
    })
}

pub(super) fn flags_layer(overrides: &Overrides) -> Result<Layer, ConfigError> {
    let mut dict = Dict::new();
    if let Some(data_dir) = &overrides.data_dir {
        let Some(text) = data_dir.to_str() else {
            return Err(ConfigError::InvalidValue {
                key: "data_dir".to_owned(),
                origin: Some("command-line flags".to_owned()),
                message: format!("path {} is not valid UTF-8", data_dir.display()),
            });
        };
        insert_path(&mut dict, &["data_dir".to_owned()], Value::from(text));
    }
    if let Some(listen) = overrides.listen {
        let path = ["server".to_owned(), "listen".to_owned()];
        insert_path(&mut dict, &path, Value::from(listen.to_string()));
    }
    Ok(Layer {
        origin: Origin::Flags,
        dict,
    })
}

pub(super) fn dict_get<'a>(dict: &'a Dict, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let value = dict.get(first)?;
    if rest.is_empty() {
        return Some(value);
    }
    match value {
        Value::Dict(_, inner) => dict_get(inner, rest),
        _ => None,
    }
}

pub(super) fn dict_contains(dict: &Dict, path: &[String]) -> bool {
    dict_get(dict, path).is_some()
}

/// Sets `path` to `value`, creating sections on the way. A plain value set
/// for a section (`NOTIFY_LOG=debug` next to `NOTIFY_LOG__LEVEL=info`) wins
/// over the section's settings whatever the order, so that the mistake is
/// reported rather than silently ignored.
fn insert_path(dict: &mut Dict, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        dict.insert(first.clone(), value);
        return;
    }
    let entry = dict
        .entry(first.clone())
        .or_insert_with(|| Value::from(Dict::new()));
    if let Value::Dict(_, inner) = entry {
        insert_path(inner, rest, value);
    }
}

/// The highest-priority layer that supplies the value at `path`, or failing
/// that (figment's path can reach inside a value of the wrong shape, e.g.
/// `blobs.0.kind` for an array) at the longest prefix of `path` any layer has.
pub(super) fn value_origin(layers: &[Layer], path: &[String]) -> Option<String> {
    (1..=path.len()).rev().find_map(|len| {
        layers
            .iter()
            .rev()
            .find_map(|layer| layer.describe(&path[..len]))
    })
}
