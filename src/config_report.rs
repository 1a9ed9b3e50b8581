//! `notify check-config`: the effective configuration, every setting with the layer its value
//! came from (built-in default, the file, a `NOTIFY_*` variable, a flag), secrets redacted.
//!
//! Loading is [`crate::config::load_layered`], the same as `serve`; the source of each value is
//! the figment metadata of the layer that supplied it. Values are shown after parsing
//! (`environment = "live"` shows as `"production"`), through [`config::serialize_redacted`], so
//! every [`config::Secret`] shows as `[redacted]` without a list of secret keys to keep up.

use std::fmt;
use std::path::PathBuf;

use figment::value::Value;
use figment::{Figment, Profile};
use serde_json::json;

use crate::config::{self, Config, ConfigError};

/// Where a setting's effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    /// The environment variable's name.
    Env(String),
    /// The command-line flag.
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(name) => write!(f, "env {name}"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

impl Source {
    fn to_json(&self) -> serde_json::Value {
        match self {
            Source::Default => json!({ "kind": "default" }),
            Source::File(path) => json!({ "kind": "file", "path": path }),
            Source::Env(name) => json!({ "kind": "env", "name": name }),
            Source::Flag(flag) => json!({ "kind": "flag", "name": flag }),
        }
    }
}

/// One effective setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// Dotted path, with `[i]` for an element of a list: `server.listen`, `sms_providers[0].name`.
    pub key: String,
    /// The value after parsing; a non-empty secret is `"[redacted]"`.
    pub value: serde_json::Value,
    pub source: Source,
}

/// A step of a setting's path.
#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every setting of `config` (leaves of its tree; an empty list or table is one setting) with
/// its source according to `layers` (from [`config::load_layered`]).
pub fn effective_settings(config: &Config, layers: &Figment) -> Result<Vec<Setting>, ConfigError> {
    let shown = serde_json::to_value(config::serialize_redacted(config)?).map_err(|e| {
        ConfigError::Other(Box::new(figment::Error::from(format!(
            "cannot show the configuration: {e}"
        ))))
    })?;
    let merged = layers.find_value("").ok();
    let mut out = Vec::new();
    walk(&shown, merged.as_ref(), &mut Vec::new(), layers, &mut out);
    Ok(out)
}

fn walk(
    shown: &serde_json::Value,
    merged: Option<&Value>,
    path: &mut Vec<Step>,
    layers: &Figment,
    out: &mut Vec<Setting>,
) {
    match shown {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (key, value) in map {
                let child = merged
                    .and_then(Value::as_dict)
                    .and_then(|d| d.get(key.as_str()));
                path.push(Step::Key(key.clone()));
                walk(value, child, path, layers, out);
                path.pop();
            }
        }
        serde_json::Value::Array(items) if !items.is_empty() => {
            for (i, value) in items.iter().enumerate() {
                let child = merged.and_then(Value::as_array).and_then(|a| a.get(i));
                path.push(Step::Index(i));
                walk(value, child, path, layers, out);
                path.pop();
            }
        }
        leaf => out.push(Setting {
            key: key_text(path),
            value: leaf.clone(),
            source: source_of(merged, path, layers),
        }),
    }
}

fn key_text(path: &[Step]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Step::Key(k) if text.is_empty() => text.push_str(k),
            Step::Key(k) => {
                text.push('.');
                text.push_str(k);
            }
            Step::Index(i) => text.push_str(&format!("[{i}]")),
        }
    }
    text
}

/// The layer whose value is at `path`. A value no layer has (a field left out of an element of
/// `[[sms_providers]]`) is its type's default.
fn source_of(merged: Option<&Value>, path: &[Step], layers: &Figment) -> Source {
    let Some(metadata) = merged.and_then(|v| layers.get_metadata(v.tag())) else {
        return Source::Default;
    };
    if let Some(figment::Source::File(file)) = &metadata.source {
        return Source::File(file.clone());
    }
    // A variable or flag sets a whole list at once: name it by the path down to the list.
    let keys: Vec<&str> = path
        .iter()
        .map_while(|step| match step {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        })
        .collect();
    match metadata.name.as_ref() {
        config::ENV_LAYER => Source::Env(metadata.interpolate(&Profile::Default, &keys)),
        config::FLAGS_LAYER => Source::Flag(match keys.as_slice() {
            ["data_dir"] => "--data-dir",
            ["server", "listen"] => "--listen",
            _ => "(command line)",
        }),
        _ => Source::Default,
    }
}

/// `key = value  # source` lines, values in TOML's notation.
pub fn render_text(settings: &[Setting]) -> String {
    let lines: Vec<(String, &Source)> = settings
        .iter()
        .map(|s| (format!("{} = {}", s.key, value_text(&s.value)), &s.source))
        .collect();
    // Align the sources, except after a very long line.
    let width = lines
        .iter()
        .map(|(l, _)| l.chars().count())
        .filter(|&n| n <= 64)
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for (line, source) in lines {
        text.push_str(&format!("{line:<width$}  # {source}\n"));
    }
    text
}

fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "\"\"".to_owned(),
        serde_json::Value::Object(map) if map.is_empty() => "{}".to_owned(),
        // Strings as JSON writes them: the same escapes as a TOML basic string.
        other => other.to_string(),
    }
}

/// The settings as a JSON array of `{key, value, source}`.
pub fn render_json(settings: &[Setting]) -> serde_json::Value {
    settings
        .iter()
        .map(|s| json!({ "key": s.key, "value": s.value, "source": s.source.to_json() }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    fn settings(
        file: Option<&std::path::Path>,
        env: &[(&str, &str)],
        overrides: &Overrides,
    ) -> Vec<Setting> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (config, layers) = config::load_layered(file, &env, overrides).unwrap();
        effective_settings(&config, &layers).unwrap()
    }

    fn find<'a>(settings: &'a [Setting], key: &str) -> &'a Setting {
        settings
            .iter()
            .find(|s| s.key == key)
            .unwrap_or_else(|| panic!("no setting {key}"))
    }

    #[test]
    fn each_layer_is_named_and_secrets_are_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("notify.toml");
        std::fs::write(
            &file,
            "environment = \"live\"\n[storage]\nmax_batch = 17\n[smtp]\npassword = \"hunter2\"\n\
             [[sms_providers]]\nname = \"mmg\"\nkind = \"mmg\"\nurl = \"https://sms.example\"\n\
             api_key = \"sms-secret\"\npriority = 100\n",
        )
        .unwrap();
        let overrides = Overrides {
            data_dir: Some("/srv/notify".into()),
            listen: None,
        };
        let all = settings(
            Some(&file),
            &[
                ("NOTIFY_ADMIN__SECRET", "admin-secret-value"),
                ("NOTIFY_STORAGE__CACHE_SIZE_MB", "64"),
                ("NOTIFY_DATA_DIR", "/ignored/by/the/flag"),
            ],
            &overrides,
        );
        let text = render_text(&all);
        for secret in ["hunter2", "sms-secret", "admin-secret-value"] {
            assert!(!text.contains(secret), "{secret} printed:\n{text}");
        }
        let json = render_json(&all).to_string();
        assert!(!json.contains("hunter2") && !json.contains("sms-secret"));

        assert_eq!(find(&all, "server.listen").source, Source::Default);
        assert_eq!(find(&all, "server.listen").value, "127.0.0.1:6011");
        assert_eq!(find(&all, "storage.max_batch").value, 17);
        assert_eq!(
            find(&all, "storage.max_batch").source,
            Source::File(file.clone())
        );
        // Parsed values: "live" is read as production.
        assert_eq!(find(&all, "environment").value, "production");
        assert_eq!(find(&all, "smtp.password").value, config::REDACTED);
        assert_eq!(
            find(&all, "smtp.password").source,
            Source::File(file.clone())
        );
        assert_eq!(
            find(&all, "sms_providers[0].api_key").value,
            config::REDACTED
        );
        assert_eq!(
            find(&all, "sms_providers[0].name").source,
            Source::File(file.clone())
        );
        // Left out of the file's element: the type's default.
        assert_eq!(
            find(&all, "sms_providers[0].timeout_seconds").source,
            Source::Default
        );
        assert_eq!(find(&all, "admin.secret").value, config::REDACTED);
        assert_eq!(
            find(&all, "admin.secret").source,
            Source::Env("NOTIFY_ADMIN__SECRET".into())
        );
        assert_eq!(
            find(&all, "storage.cache_size_mb").source,
            Source::Env("NOTIFY_STORAGE__CACHE_SIZE_MB".into())
        );
        assert_eq!(find(&all, "data_dir").source, Source::Flag("--data-dir"));
        assert_eq!(find(&all, "data_dir").value, "/srv/notify");
        // An empty secret (generated at first start) has nothing to hide.
        assert_eq!(find(&all, "secrets.encryption_key").value, "");
        assert_eq!(find(&all, "scheduler.jobs").value, json!({}));
        assert!(text.contains("scheduler.jobs = {}"), "{text}");
        let line = text
            .lines()
            .find(|l| l.starts_with("storage.max_batch = 17 "))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(
            line.ends_with(&format!("# file {}", file.display())),
            "{line}"
        );
    }

    #[test]
    fn redaction_is_only_for_the_report() {
        let mut config = Config::default();
        config.admin.secret = config::Secret::new("s3cret");
        let plain = serde_json::to_string(&config).unwrap();
        assert!(plain.contains("s3cret"));
        let redacted =
            serde_json::to_string(&config::serialize_redacted(&config).unwrap()).unwrap();
        assert!(!redacted.contains("s3cret"), "{redacted}");
        // The flag is reset afterwards.
        assert!(serde_json::to_string(&config).unwrap().contains("s3cret"));
    }
}
