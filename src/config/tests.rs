//! Loading the configuration: defaults, the environment, and the wording of errors.

use super::error::unknown_key_hint;
use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load_env(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    load_from(None, &env(pairs), &Overrides::default())
}

#[test]
fn systemds_notify_socket_is_not_a_setting() {
    let config = load_env(&[("NOTIFY_SOCKET", "/run/systemd/notify")]).unwrap();
    assert_eq!(config, Config::default());
}

#[test]
fn defaults_are_valid() {
    let config = load_env(&[]).unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.server.listen, DEFAULT_LISTEN);
    assert_eq!(
        config.blobs_dir(),
        Path::new(DEFAULT_DATA_DIR).join("blobs")
    );
    Config::for_tests(Path::new("/tmp/x")).validate().unwrap();
}

#[test]
fn string_settings_keep_their_raw_text() {
    let config = load_env(&[
        ("NOTIFY_ADMIN__SECRET", "0123"),
        ("NOTIFY_ADMIN__CLIENT_ID", "true"),
        ("NOTIFY_STORAGE__MAX_BATCH", "17"),
        ("NOTIFY_LOG__FORMAT", "json"),
        ("NOTIFY_DATA_DIR", "/var/lib/notify"),
        ("OTHER", "ignored"),
    ])
    .unwrap();
    assert_eq!(config.admin.secret.expose(), "0123");
    assert_eq!(config.admin.client_id, "true");
    assert_eq!(config.storage.max_batch, 17);
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.data_dir, Path::new("/var/lib/notify"));
}

#[test]
fn section_given_a_value_is_explained() {
    for order in [
        [("NOTIFY_LOG", "debug"), ("NOTIFY_LOG__LEVEL", "info")],
        [("NOTIFY_LOG__LEVEL", "info"), ("NOTIFY_LOG", "debug")],
    ] {
        let err = load_env(&order).unwrap_err().to_string();
        assert!(err.contains("`log` is a section"), "{err}");
        assert!(err.contains("NOTIFY_LOG__"), "{err}");
        assert!(err.contains("environment variable NOTIFY_LOG)"), "{err}");
    }
}

#[test]
fn single_underscore_hint() {
    let err = load_env(&[("NOTIFY_SERVER_LISTEN", "0.0.0.0:1")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown setting `server_listen`"), "{err}");
    assert!(err.contains("NOTIFY_SERVER__LISTEN"), "{err}");
}

#[test]
fn bad_values_name_key_and_source() {
    let err = load_env(&[("NOTIFY_SERVER__LISTEN", "nowhere")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`server.listen`"), "{err}");
    assert!(err.contains("NOTIFY_SERVER__LISTEN"), "{err}");

    let err = load_env(&[("NOTIFY_LOG__FORMAT", "xml")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`log.format`"), "{err}");
    assert!(err.contains("`text`, `json`"), "{err}");

    let err = load_env(&[("NOTIFY_STORAGE__MAX_BATCH", "0")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`storage.max_batch`"), "{err}");
    assert!(err.contains("at least 1"), "{err}");
    assert!(err.contains("NOTIFY_STORAGE__MAX_BATCH"), "{err}");

    let err = load_env(&[("NOTIFY_STORAGE__INDEX_COMMIT_INTERVAL_MS", "5")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least 10"), "{err}");
}

#[test]
fn encryption_key_shape() {
    let good = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    assert_eq!(good.len(), ENCRYPTION_KEY_BASE64_LEN);
    load_env(&[("NOTIFY_SECRETS__ENCRYPTION_KEY", good)]).unwrap();
    let err = load_env(&[("NOTIFY_SECRETS__ENCRYPTION_KEY", "too-short-secret")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`secrets.encryption_key`"), "{err}");
    assert!(!err.contains("too-short-secret"), "{err}");
}

#[test]
fn empty_segment_names_are_rejected() {
    let err = load_env(&[("NOTIFY_", "x")]).unwrap_err().to_string();
    assert!(err.contains("`NOTIFY_`"), "{err}");
    let err = load_env(&[("NOTIFY_SERVER____LISTEN", "x")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("NOTIFY_SERVER____LISTEN"), "{err}");
}

#[test]
fn suggestions() {
    assert_eq!(
        unknown_key_hint(&[], "dta_dir", &["data_dir", "server"], false).as_deref(),
        Some("did you mean `data_dir`?")
    );
    assert_eq!(
        unknown_key_hint(&["log".into()], "lvl", &["level", "format"], false).as_deref(),
        Some("valid settings in `log`: format, level")
    );
    let err = load_env(&[("NOTIFY_SERVER__LSTEN", "0.0.0.0:1")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("did you mean `NOTIFY_SERVER__LISTEN`?"),
        "{err}"
    );
    let err = load_env(&[("NOTIFY_WHATEVER", "1")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("valid settings at the top level"), "{err}");
}
