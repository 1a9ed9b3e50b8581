//! `notify check-config` with the real binary: the effective settings and where each came from,
//! secrets redacted; a clear message and a failing exit for a configuration `serve` would refuse.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn check_config(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_notify"));
    // Only the variables the test gives: the developer's own NOTIFY_* must not leak in.
    for (name, _) in std::env::vars_os() {
        if name
            .to_string_lossy()
            .to_ascii_uppercase()
            .starts_with("NOTIFY_")
        {
            cmd.env_remove(name);
        }
    }
    cmd.arg("check-config").args(args).envs(env.iter().copied());
    cmd.output().expect("the notify binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn setting<'a>(settings: &'a Value, key: &str) -> &'a Value {
    settings
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("no setting {key} in {settings}"))
}

#[test]
fn shows_effective_settings_with_their_sources_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notify.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"0.0.0.0:7000\"\n[receipts]\nusername = \"mmg\"\npassword = \"receipt-pw\"\n",
    )
    .unwrap();
    let file_arg = file.to_str().unwrap();
    let env = [
        ("NOTIFY_ADMIN__SECRET", "very-secret-admin"),
        ("NOTIFY_LOG__FORMAT", "json"),
        // systemd's variable shares the prefix but is not a setting.
        ("NOTIFY_SOCKET", "/run/systemd/notify"),
    ];

    let out = check_config(
        &["--config", file_arg, "--data-dir", "/srv/notify", "--json"],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("very-secret-admin") && !stdout.contains("receipt-pw"));
    let settings: Value = serde_json::from_str(&stdout).unwrap();
    let listen = setting(&settings, "server.listen");
    assert_eq!(listen["value"], "0.0.0.0:7000");
    assert_eq!(listen["source"]["kind"], "file");
    assert_eq!(listen["source"]["path"], file_arg);
    let secret = setting(&settings, "admin.secret");
    assert_eq!(secret["value"], "[redacted]");
    assert_eq!(secret["source"]["name"], "NOTIFY_ADMIN__SECRET");
    assert_eq!(
        setting(&settings, "receipts.password")["value"],
        "[redacted]"
    );
    assert_eq!(setting(&settings, "log.format")["source"]["kind"], "env");
    let data_dir = setting(&settings, "data_dir");
    assert_eq!(data_dir["value"], "/srv/notify");
    assert_eq!(data_dir["source"]["name"], "--data-dir");
    assert_eq!(
        setting(&settings, "outbox.keep")["source"]["kind"],
        "default"
    );

    // The same as text: `key = value  # source`.
    let out = check_config(&["--config", file_arg, "--listen", "127.0.0.1:7001"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("very-secret-admin") && !stdout.contains("receipt-pw"));
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in\n{stdout}"))
            .to_string()
    };
    assert!(line("server.listen").contains("\"127.0.0.1:7001\""));
    assert!(line("server.listen").ends_with("# flag --listen"));
    assert!(line("receipts.username").ends_with(&format!("# file {file_arg}")));
    assert!(line("admin.secret").contains("\"[redacted]\""));
    assert!(line("admin.secret").ends_with("# env NOTIFY_ADMIN__SECRET"));
    assert!(line("outbox.keep").ends_with("# default"));
    assert!(text(&out.stderr).contains("valid"));
}

#[test]
fn the_example_config_is_valid() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/notify.toml");
    let out = check_config(&["--config", example.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_configuration_serve_would_refuse_fails_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notify.toml");
    std::fs::write(&file, "[server]\nlsten = \"0.0.0.0:7000\"\n").unwrap();
    let out = check_config(&["--config", file.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("unknown setting `server.lsten`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `server.listen`?"), "{stderr}");
    assert!(out.stdout.is_empty());

    let out = check_config(&[], &[("NOTIFY_STORAGE__MAX_BATCH", "0")]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("`storage.max_batch`"), "{stderr}");
    assert!(stderr.contains("NOTIFY_STORAGE__MAX_BATCH"), "{stderr}");

    // Beyond the file's shape: what `serve` checks before it opens the data directory.
    let out = check_config(
        &[],
        &[("NOTIFY_SCHEDULER__JOBS__NO_SUCH_JOB", "0 0 3 * * *")],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no_such_job"),
        "{}",
        text(&out.stderr)
    );

    let out = check_config(&["--config", "/nonexistent/notify.toml"], &[]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("does not exist"));
}
