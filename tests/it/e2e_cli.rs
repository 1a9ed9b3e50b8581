//! End to end: the real `notify` binary, as a person would use it — bootstrap a service, key and
//! template with the CLI against a stopped data directory, start the server, use the CLI again
//! while it runs (through its internal API), read the status endpoints, stop it with SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::binary::free_port;

fn notify(data_dir: &Path, port: u16, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_notify"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("NOTIFY_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("NOTIFY_LOG__LEVEL", "warn")
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

/// A minimal HTTP/1.1 request; returns (status code, body).
fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let code = raw[9..12].parse().unwrap();
    let body = raw
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_string();
    (code, body)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(data_dir: &Path, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_notify"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("NOTIFY_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !notify(data_dir, port, &["healthcheck", "--timeout", "1"])
        .status
        .success()
    {
        assert!(Instant::now() < deadline, "the server did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

#[test]
fn bootstrap_serve_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();

    // Nothing is listening yet: healthcheck says so and exits 1.
    assert!(
        !notify(&data, port, &["healthcheck", "--timeout", "1"])
            .status
            .success()
    );

    // Bootstrap against the stopped data directory.
    let service: serde_json::Value = serde_json::from_str(&stdout(&notify(
        &data,
        port,
        &["service", "create", "--name", "E2E Service", "--json"],
    )))
    .unwrap();
    let service_id = service["id"].as_str().unwrap().to_string();
    assert_eq!(service["name"], "E2E Service");
    assert_eq!(service["email_sender_local_part"], "e2e.service");

    let key = stdout(&notify(
        &data,
        port,
        &[
            "api-key",
            "create",
            "--service",
            &service_id,
            "--name",
            "Live Key",
            "--type",
            "normal",
        ],
    ));
    // The format the official clients parse: secret = last 36, service id = the 36 before.
    assert!(key.starts_with("live_key-"), "{key}");
    assert_eq!(&key[key.len() - 73..key.len() - 37], service_id);
    assert!(uuid::Uuid::parse_str(&key[key.len() - 36..]).is_ok());

    let body = dir.path().join("body.txt");
    std::fs::write(&body, "Hello ((name))").unwrap();
    let template_id = stdout(&notify(
        &data,
        port,
        &[
            "template",
            "create",
            "--service",
            &service_id,
            "--type",
            "sms",
            "--name",
            "Greeting",
            "--body-file",
            body.to_str().unwrap(),
        ],
    ));
    assert!(uuid::Uuid::parse_str(&template_id).is_ok());

    // Bad input: a clear message and exit 1, nothing written.
    let bad = notify(
        &data,
        port,
        &[
            "api-key",
            "create",
            "--service",
            &service_id,
            "--name",
            "k",
            "--type",
            "live",
        ],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("key_type live is not one of"));

    // Scheduled jobs on the stopped data directory: listed, run by hand, unknown names refused.
    let jobs: serde_json::Value =
        serde_json::from_str(&stdout(&notify(&data, port, &["jobs", "list", "--json"]))).unwrap();
    let names: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"delete-notifications-older-than-retention"));
    assert!(names.contains(&"timeout-sending-notifications"));
    assert_eq!(
        stdout(&notify(
            &data,
            port,
            &["jobs", "run", "timeout-sending-notifications"]
        )),
        "timeout-sending-notifications: notifications timed out: 0"
    );
    let unknown = notify(&data, port, &["jobs", "run", "no-such-job"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("there is no scheduled job called \"no-such-job\"")
    );

    let server = start_server(&data, port);

    // A job run through the running server, then seen in its list.
    assert_eq!(
        stdout(&notify(
            &data,
            port,
            &["jobs", "run", "replay-created-notifications"]
        )),
        "replay-created-notifications: notifications queued again: 0"
    );
    let jobs: serde_json::Value =
        serde_json::from_str(&stdout(&notify(&data, port, &["jobs", "list", "--json"]))).unwrap();
    let replay = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "replay-created-notifications")
        .unwrap();
    assert_eq!(replay["last_outcome"], "ok");
    assert!(replay["runs"].as_u64().unwrap() >= 1);
    let timeout = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "timeout-sending-notifications")
        .unwrap();
    assert_eq!(
        timeout["runs"], 1,
        "the run on the stopped directory is remembered"
    );

    // The same commands while the server holds the data directory.
    let second = stdout(&notify(
        &data,
        port,
        &["service", "create", "--name", "Second"],
    ));
    assert!(uuid::Uuid::parse_str(&second).is_ok(), "{second}");
    let dup = notify(&data, port, &["service", "create", "--name", "e2e service"]);
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let key2 = stdout(&notify(
        &data,
        port,
        &[
            "api-key",
            "create",
            "--service",
            &second,
            "--name",
            "Test key",
            "--type",
            "test",
            "--json",
        ],
    ));
    let key2: serde_json::Value = serde_json::from_str(&key2).unwrap();
    assert_eq!(key2["key_type"], "test");
    assert!(key2["key"].as_str().unwrap().contains(&second));
    assert!(stdout(&notify(&data, port, &["reindex"])).starts_with("indexed "));

    // Settings change through the running server too; only the options given change.
    let updated: serde_json::Value = serde_json::from_str(&stdout(&notify(
        &data,
        port,
        &[
            "service",
            "update",
            "--service",
            &second,
            "--rate-limit",
            "60000",
            "--trial",
            "true",
            "--json",
        ],
    )))
    .unwrap();
    assert_eq!(updated["rate_limit"], 60000);
    assert_eq!(updated["restricted"], true);
    assert_eq!(updated["name"], "Second");
    let bad = notify(
        &data,
        port,
        &[
            "service",
            "update",
            "--service",
            &second,
            "--rate-limit",
            "0",
        ],
    );
    assert!(!bad.status.success());

    // Status for machines and for people.
    let (code, body) = http(port, "GET", "/_status");
    assert_eq!(code, 200);
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["status"], "ok");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    let (code, page) = http(port, "GET", "/");
    assert_eq!(code, 200);
    assert!(page.contains("Notifications by status"));
    let (code, css) = http(port, "GET", "/static/style.css");
    assert_eq!(code, 200);
    assert!(css.contains("body"));

    // Unknown routes and methods, as upstream answers them.
    let (code, body) = http(port, "GET", "/no-such-page");
    assert_eq!(code, 404);
    assert!(body.contains("The requested URL was not found on the server."));
    let (code, body) = http(port, "DELETE", "/_status");
    assert_eq!(code, 405);
    assert!(body.contains("The method is not allowed for the requested URL."));

    // The internal API wants an admin token.
    let (code, body) = http(port, "GET", "/service");
    assert_eq!(code, 401);
    assert!(body.contains("authentication token must be provided"));

    // SIGTERM: a clean stop, and the data directory is free again.
    let mut server = server;
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exit = server.0.wait().unwrap();
    assert!(exit.success(), "server exit: {exit}");
    assert!(
        !notify(&data, port, &["healthcheck", "--timeout", "1"])
            .status
            .success()
    );
    let third = stdout(&notify(
        &data,
        port,
        &["service", "create", "--name", "Third"],
    ));
    assert!(uuid::Uuid::parse_str(&third).is_ok());
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_notify"))
        .args(["--config", "/nonexistent/notify.toml", "healthcheck"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/notify.toml"), "{err}");
}
