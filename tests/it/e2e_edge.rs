//! End to end, the real binary: serving HTTPS from a configured certificate, the CLI reaching
//! its own HTTPS server (healthcheck, and a command handed to the running server), the access
//! log as JSON lines (route templates, request ids, service ids, never a token or recipient),
//! and logging for commands other than `serve`.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::servers::free_port;
use crate::common::tls::TlsFiles;

fn notify(
    data_dir: &Path,
    port: u16,
    tls: &TlsFiles,
    envs: &[(&str, &str)],
    args: &[&str],
) -> Output {
    Command::new(env!("CARGO_BIN_EXE_notify"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("NOTIFY_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("NOTIFY_SERVER__TLS__CERT_FILE", tls.cert_file())
        .env("NOTIFY_SERVER__TLS__KEY_FILE", tls.key_file())
        .env("NOTIFY_LOG__LEVEL", "warn")
        .env_remove("RUST_LOG")
        .envs(envs.iter().copied())
        .output()
        .expect("the notify binary runs")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "command failed: {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The JSON log lines of a log (other lines are skipped).
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

#[tokio::test]
async fn https_serving_the_cli_and_the_access_log() {
    // reqwest's rustls needs the process's crypto provider (the server installs it in its own
    // process, not in this one).
    notify::app::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let tls = TlsFiles::new();
    let service = stdout(&notify(
        &data,
        port,
        &tls,
        &[],
        &["service", "create", "--name", "Edge E2E"],
    ));
    let log_path = dir.path().join("server.log");
    let mut server = Command::new(env!("CARGO_BIN_EXE_notify"))
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("NOTIFY_SERVER__TLS__CERT_FILE", tls.cert_file())
        .env("NOTIFY_SERVER__TLS__KEY_FILE", tls.key_file())
        .env("NOTIFY_LOG__LEVEL", "info")
        .env("NOTIFY_LOG__FORMAT", "json")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();

    // The CLI's healthcheck speaks HTTPS to its own server, trusting the configured certificate.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !notify(&data, port, &tls, &[], &["healthcheck", "--timeout", "1"])
        .status
        .success()
    {
        assert!(
            Instant::now() < deadline,
            "the server did not come up: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A command handed to the running server goes over HTTPS too.
    let key = stdout(&notify(
        &data,
        port,
        &tls,
        &[],
        &[
            "api-key",
            "create",
            "--service",
            &service,
            "--name",
            "k",
            "--type",
            "test",
        ],
    ));
    let body = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(body.path(), "Hi ((name))").unwrap();
    let template = stdout(&notify(
        &data,
        port,
        &tls,
        &[],
        &[
            "template",
            "create",
            "--service",
            &service,
            "--type",
            "sms",
            "--name",
            "t",
            "--body-file",
            body.path().to_str().unwrap(),
        ],
    ));

    let secret = &key[key.len() - 36..];
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"iss": service, "iat": chrono::Utc::now().timestamp()}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(tls.ca.pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let resp = client
        .post(format!("https://127.0.0.1:{port}/v2/notifications/sms"))
        .bearer_auth(&token)
        .header("x-request-id", "e2e-edge-1")
        .json(&json!({"phone_number": "07700900456", "template_id": template, "personalisation": {"name": "Log"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["x-request-id"], "e2e-edge-1");
    let notification: Value = resp.json().await.unwrap();
    let id = notification["id"].as_str().unwrap();
    let resp = client
        .get(format!("https://127.0.0.1:{port}/v2/notifications/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // A graceful stop, then read what it logged.
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let stopped = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(stopped.success(), "the server stops cleanly on SIGTERM");
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines = json_lines(&log);
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "notify::access")
        .collect();
    let sent = access
        .iter()
        .find(|l| l["request_id"] == "e2e-edge-1")
        .unwrap_or_else(|| panic!("no access line for the request: {log}"));
    assert_eq!(sent["method"], "POST");
    assert_eq!(sent["route"], "/v2/notifications/sms");
    assert_eq!(sent["status"], 201);
    assert_eq!(sent["service_id"], service.as_str());
    assert!(sent["duration_ms"].as_f64().unwrap() > 0.0);
    assert!(
        access
            .iter()
            .any(|l| l["route"] == "/v2/notifications/{id}" && l["status"] == 200),
        "{log}"
    );
    // Internal-API calls from the CLI are logged too, without their ids.
    assert!(
        access
            .iter()
            .any(|l| l["route"] == "/service/{id}/api-key" && l["method"] == "POST"),
        "{log}"
    );
    for secret_or_personal in [token.as_str(), "07700900456", secret] {
        assert!(
            !log.contains(secret_or_personal),
            "the log holds {secret_or_personal:?}: {log}"
        );
    }
}

#[test]
fn commands_other_than_serve_log_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tls = TlsFiles::new();
    let out = notify(
        &data,
        free_port(),
        &tls,
        &[
            ("NOTIFY_LOG__LEVEL", "info"),
            ("NOTIFY_LOG__FORMAT", "json"),
        ],
        &["jobs", "run", "timeout-sending-notifications"],
    );
    stdout(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines = json_lines(&stderr);
    assert!(
        lines.iter().any(|l| l["message"] == "scheduled job started"
            && l["job"] == "timeout-sending-notifications"
            && l["level"] == "INFO"),
        "{stderr}"
    );
}
