//! End to end with the real binary: a 50,000-row job is killed (SIGKILL) in the middle of
//! processing; after a restart it finishes with exactly 50,000 notifications, one per row.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::binary::Served;

const ROWS: usize = 50_000;

fn notify_output(data_dir: &Path, port: u16, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_notify"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("NOTIFY_LOG__LEVEL", "warn")
        .env("NOTIFY_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .output()
        .expect("the notify binary runs")
}

fn notify(data_dir: &Path, args: &[&str]) -> String {
    let out = notify_output(data_dir, 0, args);
    assert!(
        out.status.success(),
        "notify {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Admin {
    base: String,
    secret: String,
    client: reqwest::Client,
}

impl Admin {
    fn auth(&self) -> String {
        let token = notify::auth::sign_admin_token(
            "notify-admin",
            &self.secret,
            chrono::Utc::now().timestamp(),
        );
        format!("Bearer {token}")
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Vec<u8>>) -> Value {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("authorization", self.auth());
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_in_the_middle_finishes_with_every_row_exactly_once() {
    notify::app::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let service: Value = serde_json::from_str(&notify(
        &data,
        &["service", "create", "--name", "Bulk", "--json"],
    ))
    .unwrap();
    let service_id = service["id"].as_str().unwrap().to_string();
    let body = dir.path().join("body.txt");
    std::fs::write(&body, "Hello ((name)), your reference is ((reference))").unwrap();
    // Email: its recipients are the quickest to check in a debug build.
    let template_id = notify(
        &data,
        &[
            "template",
            "create",
            "--service",
            &service_id,
            "--type",
            "email",
            "--name",
            "Bulk",
            "--subject",
            "Your reference",
            "--body-file",
            body.to_str().unwrap(),
        ],
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    // The CLI on the stopped data directory: a sheet with bad rows is listed row by row and
    // nothing is sent.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "email address,name,reference\nann@example.com,Ann,1\nnot an address,Bob,2\n",
    )
    .unwrap();
    let out = notify_output(
        &data,
        port,
        &[
            "sheet",
            "send",
            "--service",
            &service_id,
            "--template",
            &template_id,
            "--file",
            bad.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("row 3, email address: "), "{stderr}");
    assert!(stderr.contains("nothing was sent"), "{stderr}");

    let server = Served::start(&data, port).await;
    let admin = Admin {
        base: format!("http://127.0.0.1:{port}"),
        secret: std::fs::read_to_string(data.join("admin-secret"))
            .unwrap()
            .trim()
            .to_string(),
        client: reqwest::Client::new(),
    };

    let mut sheet = String::from("email address,name,reference\n");
    for i in 0..ROWS {
        sheet.push_str(&format!("person{i}@example.com,Person {i},row-{i}\n"));
    }
    // Sent with the CLI through the running server.
    let big = dir.path().join("big.csv");
    std::fs::write(&big, sheet).unwrap();
    let t0 = Instant::now();
    let out = notify_output(
        &data,
        port,
        &[
            "sheet",
            "send",
            "--service",
            &service_id,
            "--template",
            &template_id,
            "--file",
            big.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("sheet checked and job created in {:?}", t0.elapsed());
    let sent: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sent["upload"]["notification_count"], ROWS);
    let job_id = sent["job"]["id"].as_str().unwrap().to_string();
    let rows_path = format!("/service/{service_id}/job/{job_id}/notifications?page_size=1");

    // Kill it as soon as some rows are stored.
    let deadline = Instant::now() + Duration::from_secs(120);
    let stored_at_kill = loop {
        let total = admin.send(reqwest::Method::GET, &rows_path, None).await["total"]
            .as_u64()
            .unwrap();
        if total > 0 {
            drop(server);
            break total;
        }
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    assert!(
        (stored_at_kill as usize) < ROWS,
        "the job finished before it could be killed"
    );

    eprintln!("killed at {:?}", t0.elapsed());
    // Restarted, it resumes and finishes.
    let server = Served::start(&data, port).await;
    let deadline = Instant::now() + Duration::from_secs(300);
    let job = loop {
        let job = admin
            .send(
                reqwest::Method::GET,
                &format!("/service/{service_id}/job/{job_id}"),
                None,
            )
            .await;
        if job["data"]["job_status"] == "finished all notifications created" {
            break job;
        }
        assert!(Instant::now() < deadline, "the job never finished: {job}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!("finished at {:?}", t0.elapsed());
    assert_eq!(job["data"]["rows_processed"], ROWS);
    let counted: u64 = job["data"]["statistics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, ROWS as u64, "{job}");
    drop(server);

    eprintln!("counted at {:?}", t0.elapsed());
    // The database itself: 50,000 notifications, each row once, each with its own row's data.
    let store = storage::Store::open(&data, storage::StoreOptions::default()).unwrap();
    let reader = store.read().unwrap();
    assert_eq!(reader.notification_count().unwrap(), ROWS as u64);
    let links = reader
        .job_rows(uuid::Uuid::parse_str(&job_id).unwrap(), 0, usize::MAX)
        .unwrap();
    assert_eq!(links.len(), ROWS);
    let mut ids = std::collections::HashSet::new();
    for (i, (row, id)) in links.iter().enumerate() {
        assert_eq!(*row as usize, i);
        assert!(ids.insert(*id));
        let n = reader.get_notification(*id).unwrap().unwrap();
        assert_eq!(n.job_row_number, Some(*row));
        assert_eq!(n.client_reference, Some(format!("row-{i}")));
    }
    eprintln!("killed with {stored_at_kill} of {ROWS} rows stored; resumed to {ROWS}");
}
