//! End to end with the real binary: a backup taken while the server runs and accepts sends,
//! the server killed, the backup restored into a fresh data directory and started — every
//! notification acknowledged (201) before the backup began is there and readable through the
//! API with the same key. `notify check` passes on the restored directory; a damaged backup is
//! found by `notify check --backup` and refused by `notify restore`, which leaves nothing; a
//! restore into a data directory that is not empty is refused. A second test keeps its backups
//! in moto's S3 (the harness's S3-compatible server): precompiled letters' PDFs go with the
//! backup and come back byte for byte after a restore from the bucket. A backup made with
//! `--no-secrets` carries no key and restores only with the right `--encryption-key-file`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::binary::{Served, free_port};
use crate::common::servers::S3Server;
use crate::common::{claims_for, secret_of, sign};

/// Notifications acknowledged before the backup begins.
const BEFORE: usize = 150;

/// Sends a second while the backup runs.
const RATE_PER_SEC: u64 = 50;

fn run(data_dir: &Path, port: u16, args: &[&str]) -> Output {
    run_with(data_dir, port, args, &[])
}

/// `run` with more settings in the environment (e.g. `[backup.s3]`).
fn run_with(data_dir: &Path, port: u16, args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_notify"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("NOTIFY_LOG__LEVEL", "warn")
        .env("NOTIFY_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("the notify binary runs")
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "notify {what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The v2 API as a client with one key sees it.
#[derive(Clone)]
struct Client {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Client {
    fn auth(&self) -> String {
        let token = sign(
            &claims_for(&self.key, chrono::Utc::now().timestamp()),
            secret_of(&self.key),
            jsonwebtoken::Algorithm::HS256,
        );
        format!("Bearer {token}")
    }

    /// Send one email; answers its id when the server acknowledged it with 201.
    async fn send(&self, template: &str, n: usize) -> Option<String> {
        let resp = self
            .http
            .post(format!("{}/v2/notifications/email", self.base))
            .header("authorization", self.auth())
            .json(&json!({
                "email_address": format!("person{n}@example.com"),
                "template_id": template,
                "personalisation": {"name": format!("Person {n}")},
                "reference": format!("ref-{n}"),
            }))
            .send()
            .await
            .ok()?;
        if resp.status().as_u16() != 201 {
            return None;
        }
        let body: Value = resp.json().await.ok()?;
        body["id"].as_str().map(str::to_string)
    }

    /// Send a precompiled letter; its id (the server must acknowledge it).
    async fn send_letter(&self, pdf: &[u8], reference: &str) -> String {
        use base64::Engine as _;
        let resp = self
            .http
            .post(format!("{}/v2/notifications/letter", self.base))
            .header("authorization", self.auth())
            .json(&json!({
                "reference": reference,
                "content": base64::engine::general_purpose::STANDARD.encode(pdf),
            }))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// The letter's PDF as the API serves it: status and bytes.
    async fn pdf(&self, id: &str) -> (u16, Vec<u8>) {
        let resp = self
            .http
            .get(format!("{}/v2/notifications/{id}/pdf", self.base))
            .header("authorization", self.auth())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.bytes().await.unwrap().to_vec())
    }

    async fn get(&self, id: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}/v2/notifications/{id}", self.base))
            .header("authorization", self.auth())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// The one backup folder made under `dir`.
fn backup_folder(dir: &Path) -> PathBuf {
    let folders: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    folders[0].clone()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// A service with a test key and an email template, made with the CLI on a stopped server:
/// (key, template id).
fn make_service(dir: &Path, data: &Path, port: u16) -> (String, String) {
    let service: Value = serde_json::from_str(&ok(
        run(
            data,
            port,
            &["service", "create", "--name", "Backups", "--json"],
        ),
        "service create",
    ))
    .unwrap();
    let service_id = service["id"].as_str().unwrap().to_string();
    let key = ok(
        run(
            data,
            port,
            &[
                "api-key",
                "create",
                "--service",
                &service_id,
                "--name",
                "k",
                "--type",
                "test",
            ],
        ),
        "api-key create",
    );
    let body = dir.join("body.txt");
    std::fs::write(&body, "Hello ((name))").unwrap();
    let template = ok(
        run(
            data,
            port,
            &[
                "template",
                "create",
                "--service",
                &service_id,
                "--type",
                "email",
                "--name",
                "Hello",
                "--subject",
                "Hello",
                "--body-file",
                body.to_str().unwrap(),
            ],
        ),
        "template create",
    );

    (key, template)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_acknowledged_notification() {
    notify::app::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();

    let (key, template) = make_service(dir.path(), &data, port);

    let server = Served::start(&data, port).await;
    let client = Client {
        base: format!("http://127.0.0.1:{port}"),
        key: key.clone(),
        http: reqwest::Client::new(),
    };
    let mut acknowledged = Vec::new();
    for n in 0..BEFORE {
        let id = client
            .send(&template, n)
            .await
            .expect("a send is acknowledged");
        acknowledged.push(id);
    }

    // Sends go on while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let sent_during = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (client, template, stop, sent_during) = (
            client.clone(),
            template.clone(),
            stop.clone(),
            sent_during.clone(),
        );
        // A steady rate (as a real service sends), not as fast as one connection can go.
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1000 / RATE_PER_SEC));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n = BEFORE;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                if client.send(&template, n).await.is_some() {
                    sent_during.fetch_add(1, Ordering::Relaxed);
                }
                n += 1;
            }
        })
    };
    while sent_during.load(Ordering::Relaxed) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let backups = dir.path().join("backups");
    let out = {
        let (data, backups) = (data.clone(), backups.clone());
        tokio::task::spawn_blocking(move || {
            run(&data, port, &["backup", backups.to_str().unwrap()])
        })
        .await
        .unwrap()
    };
    stop.store(true, Ordering::Relaxed);
    sender.await.unwrap();
    let said = ok(out, "backup");
    assert!(said.starts_with("backup "), "{said}");
    assert!(said.contains("secrets included"), "{said}");
    assert!(sent_during.load(Ordering::Relaxed) > 0);

    // The machine is lost: the server dies without a clean stop.
    drop(server);

    let folder = backup_folder(&backups);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], 1);
    assert!(manifest["committed_seq"].as_u64().unwrap() > 0);
    for file in ["store.dump", "blobs.jsonl", "settings.json", "SHA256SUMS"] {
        assert!(folder.join(file).exists(), "{file}");
    }
    assert!(
        !std::fs::read_to_string(folder.join("settings.json"))
            .unwrap()
            .contains(secret_of(&key)),
    );
    let verified = ok(
        run(
            &data,
            port,
            &["check", "--backup", folder.to_str().unwrap()],
        ),
        "check --backup",
    );
    assert!(verified.contains("whole"), "{verified}");

    // Restore on a fresh directory, check it, serve it.
    let restored = dir.path().join("restored");
    let port2 = free_port();
    let said = ok(
        run(&restored, port2, &["restore", backups.to_str().unwrap()]),
        "restore",
    );
    assert!(said.contains("encryption key from backup"), "{said}");
    let checked = run(&restored, port2, &["check"]);
    let text = ok(checked, "check");
    assert!(text.ends_with("whole"), "{text}");

    let server = Served::start(&restored, port2).await;
    let client = Client {
        base: format!("http://127.0.0.1:{port2}"),
        ..client
    };
    for (n, id) in acknowledged.iter().enumerate() {
        let (status, body) = client.get(id).await;
        assert_eq!(status, 200, "notification {n} ({id}): {body}");
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["email_address"], format!("person{n}@example.com"));
        assert_eq!(body["reference"], format!("ref-{n}"));
        assert_eq!(body["body"], format!("Hello Person {n}"));
    }
    // The check also runs through the server that now holds the restored directory.
    let text = ok(run(&restored, port2, &["check"]), "check (server running)");
    assert!(text.contains("held by the running server"), "{text}");
    assert!(text.ends_with("whole"), "{text}");
    drop(server);

    // A restore never goes into a data directory that has something in it.
    let refused = run(&restored, port2, &["restore", backups.to_str().unwrap()]);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("is not empty: a restore goes into an empty data directory"),
        "{why}"
    );

    // A damaged backup: found by the check, refused by the restore, which leaves nothing.
    let damaged = dir.path().join("damaged");
    copy_dir(&folder, &damaged);
    let dump = damaged.join("store.dump");
    let mut bytes = std::fs::read(&dump).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&dump, bytes).unwrap();
    let found = run(
        &data,
        port,
        &["check", "--backup", damaged.to_str().unwrap()],
    );
    assert_eq!(found.status.code(), Some(2));
    let text = String::from_utf8_lossy(&found.stdout);
    assert!(
        text.contains("store.dump does not match its checksum"),
        "{text}"
    );
    let elsewhere = dir.path().join("elsewhere");
    let refused = run(&elsewhere, port2, &["restore", damaged.to_str().unwrap()]);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("damaged"), "{why}");
    assert_eq!(
        std::fs::read_dir(&elsewhere)
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "a refused restore leaves the data directory empty"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_in_s3_carries_letter_pdfs_and_restores_from_the_bucket() {
    notify::app::install_tls_provider();
    let s3 = S3Server::start("notify-backups");
    let s3_env: Vec<(String, String)> = [
        ("NOTIFY_BACKUP__S3__ENDPOINT", s3.endpoint()),
        ("NOTIFY_BACKUP__S3__REGION", "eu-west-2".into()),
        ("NOTIFY_BACKUP__S3__ACCESS_KEY_ID", "testing".into()),
        ("NOTIFY_BACKUP__S3__SECRET_ACCESS_KEY", "testing".into()),
        ("NOTIFY_BACKUP__S3__ALLOW_HTTP", "true".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let target = "s3://notify-backups/nightly";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let (key, template) = make_service(dir.path(), &data, port);

    let server = Served::start(&data, port).await;
    let client = Client {
        base: format!("http://127.0.0.1:{port}"),
        key,
        http: reqwest::Client::new(),
    };
    let mut emails = Vec::new();
    for n in 0..20 {
        emails.push(client.send(&template, n).await.expect("acknowledged"));
    }
    let upload = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/letters/valid-1-page.pdf"),
    )
    .unwrap();
    let mut letters = Vec::new();
    for reference in ["letter-a", "letter-b"] {
        let id = client.send_letter(&upload, reference).await;
        // The PDF is served once the letter has been through its checks.
        let deadline = Instant::now() + Duration::from_secs(60);
        let pdf = loop {
            let (status, bytes) = client.pdf(&id).await;
            if status == 200 {
                break bytes;
            }
            assert!(Instant::now() < deadline, "no PDF for {id}: HTTP {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(pdf.starts_with(b"%PDF"));
        letters.push((id, pdf));
    }

    let out = {
        let (data, env) = (data.clone(), s3_env.clone());
        tokio::task::spawn_blocking(move || {
            run_with(&data, port, &["backup", target, "--json"], &env)
        })
        .await
        .unwrap()
    };
    let said: Value = serde_json::from_str(&ok(out, "backup to S3")).unwrap();
    assert_eq!(said["manifest"]["blobs"]["included"], true, "{said}");
    assert!(
        said["manifest"]["blobs"]["files"].as_u64().unwrap() >= letters.len() as u64,
        "{said}"
    );
    let folder = said["folder"].as_str().unwrap().to_string();
    assert!(folder.starts_with(target), "{folder}");
    let verified = ok(
        run_with(&data, port, &["check", "--backup", &folder], &s3_env),
        "check --backup (S3)",
    );
    assert!(verified.contains("whole"), "{verified}");
    drop(server);

    // A standby with an empty data directory restores the newest backup from the bucket.
    let restored = dir.path().join("standby");
    let port2 = free_port();
    let said = ok(
        run_with(&restored, port2, &["restore", target], &s3_env),
        "restore from S3",
    );
    assert!(said.contains("encryption key from backup"), "{said}");
    let text = ok(run(&restored, port2, &["check"]), "check");
    assert!(text.ends_with("whole"), "{text}");
    assert!(text.contains(", 0 missing"), "{text}");

    let _server = Served::start(&restored, port2).await;
    let client = Client {
        base: format!("http://127.0.0.1:{port2}"),
        ..client
    };
    for (n, id) in emails.iter().enumerate() {
        let (status, body) = client.get(id).await;
        assert_eq!(status, 200, "{id}: {body}");
        assert_eq!(body["email_address"], format!("person{n}@example.com"));
    }
    for (id, pdf) in &letters {
        let (status, body) = client.get(id).await;
        assert_eq!(status, 200, "{id}: {body}");
        let (status, bytes) = client.pdf(id).await;
        assert_eq!(status, 200, "{id}");
        assert!(
            bytes == *pdf,
            "the restored PDF of {id} differs from the one served before"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_backup_job_keeps_the_newest_backups() {
    let backups = tempfile::tempdir().unwrap();
    let to = backups.path().to_str().unwrap().to_string();
    let s = crate::common::TestServer::start_with(|c| {
        c.backup.to = to.clone();
        c.backup.keep = 2;
    })
    .await;
    let (status, body) = s
        .call(
            "normal",
            "POST",
            "/v2/notifications/email",
            Some(
                json!({"email_address": "a@example.gov.uk", "template_id": s.email_template,
                        "personalisation": {"name": "Ann"}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let mut made = Vec::new();
    for _ in 0..3 {
        let report = notify::scheduler::run_now(&s.app, "backup").await.unwrap();
        assert!(report.ok, "{}", report.message);
        assert!(
            report.message.starts_with("backup notify-backup-"),
            "{}",
            report.message
        );
        made.push(report.message);
        // Backup folders are named to the millisecond.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(made[2].ends_with("1 old backups deleted"), "{}", made[2]);
    let mut folders: Vec<String> = std::fs::read_dir(backups.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(folders.len(), 2, "{folders:?}");
    // The oldest went; the two newest are whole.
    assert!(!made[0].contains(&folders[0]), "{folders:?} {made:?}");
    for folder in &folders {
        let target = notify::backup::Target::parse(
            backups.path().join(folder).to_str().unwrap(),
            &Default::default(),
            false,
        )
        .unwrap();
        let verified = notify::backup::verify_backup(&target).await.unwrap();
        assert!(verified.problems.is_empty(), "{:?}", verified.problems);
        assert!(verified.files >= 4, "{folder}: {} files", verified.files);
    }
}

/// `--no-secrets`: the backup carries neither the encryption key nor the admin secret; a
/// restore without the key is refused with what to do, a wrong key is refused by its
/// fingerprint (leaving nothing), and the right one (`--encryption-key-file`) restores an
/// appliance whose API keys still work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_without_secrets_restores_only_with_the_right_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let (key, template) = make_service(dir.path(), &data, port);
    let server = Served::start(&data, port).await;
    let client = Client {
        base: format!("http://127.0.0.1:{port}"),
        key,
        http: reqwest::Client::new(),
    };
    let id = client.send(&template, 1).await.expect("acknowledged");
    drop(server);

    let backups = dir.path().join("backups");
    let said = ok(
        run(
            &data,
            port,
            &["backup", "--no-secrets", backups.to_str().unwrap()],
        ),
        "backup --no-secrets",
    );
    assert!(said.contains("secrets left out"), "{said}");
    let folder = backup_folder(&backups);
    assert!(!folder.join("secrets").exists());
    let sums = std::fs::read_to_string(folder.join("SHA256SUMS")).unwrap();
    assert!(!sums.contains("secrets/"), "{sums}");

    let restored = dir.path().join("restored");
    let port2 = free_port();
    let refused = run(&restored, port2, &["restore", backups.to_str().unwrap()]);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("--encryption-key-file"), "{why}");

    let wrong = dir.path().join("wrong-key");
    {
        use base64::Engine as _;
        std::fs::write(
            &wrong,
            base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
        )
        .unwrap();
    }
    let refused = run(
        &restored,
        port2,
        &[
            "restore",
            backups.to_str().unwrap(),
            "--encryption-key-file",
            wrong.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("is not the one this backup"), "{why}");
    assert_eq!(
        std::fs::read_dir(&restored).map(|d| d.count()).unwrap_or(0),
        0,
        "a refused restore leaves the data directory empty"
    );

    let right = data.join(notify::config::ENCRYPTION_KEY_FILE);
    let said = ok(
        run(
            &restored,
            port2,
            &[
                "restore",
                backups.to_str().unwrap(),
                "--encryption-key-file",
                right.to_str().unwrap(),
            ],
        ),
        "restore --encryption-key-file",
    );
    assert!(said.contains("encryption key from file"), "{said}");
    let _server = Served::start(&restored, port2).await;
    let client = Client {
        base: format!("http://127.0.0.1:{port2}"),
        ..client
    };
    let (status, body) = client.get(&id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["body"], "Hello Person 1");
}
