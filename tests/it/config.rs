//! Loading the configuration: layering, the example file, and error messages.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use notify::config::{Config, ConfigError, LogFormat, Overrides, Secret, load_from};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/notify.toml")
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn toml_file(contents: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    std::io::Write::write_all(&mut file, contents.as_bytes()).expect("write temp file");
    file
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

#[test]
fn example_config_loads_and_states_the_defaults() {
    let config = load_from(Some(&example()), &[], &Overrides::default())
        .expect("packaging/notify.toml loads");
    let defaults = Config::default();
    assert_eq!(config.server.listen, addr("127.0.0.1:6011"));
    assert_eq!(config.server.listen, defaults.server.listen);
    assert_eq!(config.data_dir, PathBuf::from("./notify-data"));
    assert_eq!(config.data_dir, defaults.data_dir);
    assert_eq!(config.storage.max_batch, 4096);
    assert_eq!(config.storage.max_batch, defaults.storage.max_batch);
    // The example states every default, so it is the defaults exactly.
    assert_eq!(config, defaults);
    config.validate().expect("example config is valid");
}

#[test]
fn no_file_gives_the_embedded_defaults() {
    let config = load_from(None, &[], &Overrides::default()).expect("defaults load");
    assert_eq!(config.server.listen, addr("127.0.0.1:6011"));
    assert_eq!(config.data_dir, PathBuf::from("./notify-data"));
    assert_eq!(config.blobs_dir(), PathBuf::from("./notify-data/blobs"));
    assert_eq!(config.log.format, LogFormat::Text);
    assert_eq!(config.storage.index_commit_interval_ms, 1000);
    assert!(config.admin.secret.is_empty());
    assert!(config.secrets.encryption_key.is_empty());
}

#[test]
fn unknown_key_in_file_is_rejected_naming_it() {
    let file = toml_file("[server]\nlsten = \"0.0.0.0:1\"\n");
    let err = load_from(Some(file.path()), &[], &Overrides::default()).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, ConfigError::UnknownSetting { key, .. } if key == "server.lsten"),
        "{err:?}"
    );
    assert!(message.contains("server.lsten"), "{message}");
    assert!(
        message.contains(&file.path().display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("did you mean `server.listen`?"),
        "{message}"
    );

    let file = toml_file("colour = \"blue\"\n");
    let message = load_from(Some(file.path()), &[], &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(message.contains("`colour`"), "{message}");
}

#[test]
fn unknown_env_key_is_rejected_naming_it() {
    let err = load_from(
        None,
        &env(&[("NOTIFY_SERVER__LSTEN", "0.0.0.0:8080")]),
        &Overrides::default(),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("server.lsten"), "{message}");
    assert!(message.contains("NOTIFY_SERVER__LSTEN"), "{message}");

    let message = load_from(None, &env(&[("NOTIFY_BOGUS", "1")]), &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(message.contains("NOTIFY_BOGUS"), "{message}");
}

#[test]
fn variables_without_the_prefix_are_ignored() {
    let config = load_from(
        None,
        &env(&[("PATH", "/usr/bin"), ("SERVER__LISTEN", "nonsense")]),
        &Overrides::default(),
    )
    .expect("unrelated variables are ignored");
    assert_eq!(config, Config::default());
}

#[test]
fn env_overrides_file_and_flags_override_env() {
    let file = toml_file(
        "data_dir = \"/from/file\"\n\
         [server]\nlisten = \"127.0.0.1:1111\"\n\
         [storage]\nmax_batch = 7\n",
    );

    let config = load_from(Some(file.path()), &[], &Overrides::default()).unwrap();
    assert_eq!(config.server.listen, addr("127.0.0.1:1111"));
    assert_eq!(config.data_dir, PathBuf::from("/from/file"));
    assert_eq!(config.storage.max_batch, 7);

    let vars = env(&[
        ("NOTIFY_SERVER__LISTEN", "0.0.0.0:2222"),
        ("NOTIFY_DATA_DIR", "/from/env"),
    ]);
    let config = load_from(Some(file.path()), &vars, &Overrides::default()).unwrap();
    assert_eq!(config.server.listen, addr("0.0.0.0:2222"));
    assert_eq!(config.data_dir, PathBuf::from("/from/env"));
    assert_eq!(
        config.storage.max_batch, 7,
        "file values not overridden stay"
    );

    let flags = Overrides {
        data_dir: Some(PathBuf::from("/from/flag")),
        listen: Some(addr("127.0.0.1:3333")),
    };
    let config = load_from(Some(file.path()), &vars, &flags).unwrap();
    assert_eq!(config.server.listen, addr("127.0.0.1:3333"));
    assert_eq!(config.data_dir, PathBuf::from("/from/flag"));
    assert_eq!(config.storage.max_batch, 7);
}

#[test]
fn missing_explicit_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-notify.toml");
    let err = load_from(Some(&path), &[], &Overrides::default()).unwrap_err();
    assert!(matches!(err, ConfigError::FileNotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[test]
fn bad_toml_is_an_error_naming_the_file() {
    let file = toml_file("[server\nlisten = 1\n");
    let message = load_from(Some(file.path()), &[], &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(&file.path().display().to_string()),
        "{message}"
    );
}

#[test]
fn invalid_values_name_the_setting_and_source() {
    let file = toml_file("[storage]\nmax_batch = 0\n");
    let message = load_from(Some(file.path()), &[], &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(message.contains("storage.max_batch"), "{message}");
    assert!(
        message.contains(&file.path().display().to_string()),
        "{message}"
    );

    let message = load_from(
        None,
        &env(&[("NOTIFY_SERVER__LISTEN", "not-an-address")]),
        &Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(message.contains("server.listen"), "{message}");
    assert!(message.contains("NOTIFY_SERVER__LISTEN"), "{message}");

    let file = toml_file("[sending.letter_rates]\nfirst = -1.0\n");
    let message = load_from(Some(file.path()), &[], &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(message.contains("sending.letter_rates.first"), "{message}");
}

#[test]
fn letter_rates_price_by_postage_and_sheets() {
    let file = toml_file("[sending.letter_rates]\nsecond = 0.50\nextra_sheet = 0.10\n");
    let config = load_from(Some(file.path()), &[], &Overrides::default()).unwrap();
    let rates = &config.sending.letter_rates;
    assert_eq!(rates.letter_cost(1, "second"), 0.50);
    assert_eq!(rates.letter_cost(3, "second"), 0.70);
    assert_eq!(
        rates.letter_cost(0, "second"),
        0.0,
        "nothing printed, nothing charged"
    );
    assert_eq!(
        rates.letter_cost(1, "first"),
        1.31,
        "unset prices keep their defaults"
    );
}

#[test]
fn debug_output_never_contains_secrets() {
    let key = "c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXk=";
    let vars = env(&[
        ("NOTIFY_ADMIN__SECRET", "super-secret-admin-value"),
        ("NOTIFY_SECRETS__ENCRYPTION_KEY", key),
    ]);
    let config = load_from(None, &vars, &Overrides::default()).unwrap();
    assert_eq!(config.admin.secret.expose(), "super-secret-admin-value");
    assert_eq!(config.secrets.encryption_key.expose(), key);
    let debug = format!("{config:?}");
    assert!(!debug.contains("super-secret-admin-value"), "{debug}");
    assert!(!debug.contains(key), "{debug}");
    assert!(debug.contains("[redacted]"), "{debug}");
    let pretty = format!("{config:#?}");
    assert!(!pretty.contains("super-secret-admin-value"));
    assert_eq!(Secret::new("x").to_string(), "[redacted]");
}

#[test]
fn for_tests_is_valid_and_ephemeral() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_tests(dir.path());
    config.validate().unwrap();
    assert_eq!(config.server.listen.port(), 0);
    assert_eq!(config.data_dir, dir.path());
    assert_eq!(config.blobs_dir(), dir.path().join("blobs"));
    assert_eq!(config.storage.index_commit_interval_ms, 50);
}

#[test]
fn edge_settings_are_checked_and_read_from_the_environment() {
    let cases = [
        (
            "[server]\ntrusted_proxies = [\"proxy.example\"]\n",
            "server.trusted_proxies",
        ),
        (
            "[server]\nredirect_http_listen = \"0.0.0.0:80\"\n",
            "server.redirect_http_listen",
        ),
        ("[server.tls]\ncert_file = \"/x/cert.pem\"\n", "server.tls"),
        (
            "[server.bodies]\nv2_kib = 300000\n",
            "server.bodies.in_flight_mib",
        ),
    ];
    for (text, key) in cases {
        let file = toml_file(text);
        let message = load_from(Some(file.path()), &[], &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains(key), "{text}: {message}");
    }
    let config = load_from(
        None,
        &env(&[
            ("NOTIFY_SERVER__TLS__CERT_FILE", "/etc/notify/cert.pem"),
            ("NOTIFY_SERVER__TLS__KEY_FILE", "/etc/notify/key.pem"),
            ("NOTIFY_SERVER__BODIES__V2_KIB", "64"),
        ]),
        &Overrides::default(),
    )
    .unwrap();
    assert!(config.server.tls.enabled());
    assert_eq!(config.server.bodies.v2_kib, 64);
}
