//! A full data volume (issue 29, finding 1), for real: each test mounts a small tmpfs, runs the
//! appliance on it and fills it with a ballast file.
//!
//! - Filled until commits fail: sends are answered 503 with `Retry-After` (never 500),
//!   `/_status` says `degraded` (so `notify healthcheck` fails); once the ballast is deleted,
//!   the writer reopens the database by itself and sends are accepted again without a restart;
//!   every notification acknowledged before, during and after is there and delivered, and the
//!   search index catches up.
//! - Filled below the low-disk watermark: new sends are refused with 503 before the disk is
//!   full, while work on accepted notifications still commits.
//!
//! Mounting needs root (or CAP_SYS_ADMIN), as CI has. Where the machine cannot mount at all,
//! each test says so on stderr and returns without checking anything.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{TestServer, errors};

/// A tmpfs mounted on a temporary directory for the test's life.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (after saying why) when this machine cannot mount one.
    fn mount(test: &str, size_mb: u64) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m,mode=0700")])
            .arg("tmpfs")
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED {test}: cannot mount a {size_mb} MiB tmpfs to fill (needs root or \
                     CAP_SYS_ADMIN): mount said {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED {test}: cannot run mount to make a small filesystem: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn ballast(&self) -> PathBuf {
        self.path().join("ballast")
    }

    /// Grow the ballast file until at most `leave` bytes are free (0: until the filesystem
    /// refuses more).
    fn fill_leaving(&self, leave: u64) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.ballast())
            .unwrap();
        let chunk = vec![0xa5u8; 64 * 1024];
        loop {
            let free = storage::health::available_space(self.path()).unwrap();
            if free <= leave {
                break;
            }
            let n = (free - leave).min(chunk.len() as u64) as usize;
            match file.write_all(&chunk[..n]) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("ballast: {e}"),
            }
        }
        let _ = file.sync_all();
    }

    fn free_ballast(&self) {
        std::fs::remove_file(self.ballast()).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: the store may still be closing when the test ends.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// An SMS send with the live key: (HTTP status, Retry-After, body).
async fn send(server: &TestServer, n: usize) -> (u16, Option<String>, Value) {
    let token = server.token(&server.keys["normal"]);
    let resp = reqwest::Client::new()
        .post(format!("{}/v2/notifications/sms", server.base))
        .bearer_auth(token)
        .json(&json!({
            "phone_number": "07700900123",
            "template_id": server.sms_template,
            "personalisation": {"name": format!("n{n}")},
        }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (status, retry, body)
}

fn id_of(body: &Value) -> Uuid {
    body["id"].as_str().unwrap().parse().unwrap()
}

/// A 503 answer's shape: the v2 envelope, no internals, a Retry-After.
fn assert_unavailable(status: u16, retry: &Option<String>, body: &Value) {
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status_code"], 503, "{body}");
    let errs = errors(body);
    assert_eq!(errs[0].0, "ServiceUnavailableError", "{body}");
    assert!(!errs[0].1.contains("os error"), "{body}");
    let secs: u64 = retry
        .as_deref()
        .expect("a Retry-After header")
        .parse()
        .unwrap();
    assert!(secs >= 1, "{secs}");
}

async fn status(server: &TestServer) -> (u16, Value) {
    server.request("GET", "/_status", None, None).await
}

fn healthcheck_passes(server: &TestServer) -> bool {
    Command::new(env!("CARGO_BIN_EXE_notify"))
        .args(["healthcheck", "--timeout", "5", "--url"])
        .arg(format!("{}/_status", server.base))
        .output()
        .unwrap()
        .status
        .success()
}

/// Send until a 201 comes back (the store reopened), at most a minute; never a 500.
async fn send_until_accepted(server: &TestServer, n: &mut usize) -> Uuid {
    let start = Instant::now();
    loop {
        *n += 1;
        let (status, retry, body) = send(server, *n).await;
        match status {
            201 => return id_of(&body),
            503 => assert_unavailable(status, &retry, &body),
            other => panic!("send answered {other}: {body}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "sends still refused a minute after space was freed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_and_recovers_without_a_restart() {
    let Some(fs) = Tmpfs::mount("a_full_disk_answers_503_and_recovers_without_a_restart", 48)
    else {
        return;
    };
    let data = fs.path().join("notify-data");
    let server = TestServer::start_with(|c| {
        c.data_dir = data.clone();
        // This test fills the disk itself; the watermark's refusals are the other test's.
        c.disk.min_free_mb = 0;
    })
    .await;
    let mut acked = Vec::new();
    let mut n = 0;
    for _ in 0..20 {
        n += 1;
        let (status, _, body) = send(&server, n).await;
        assert_eq!(status, 201, "{body}");
        acked.push(id_of(&body));
    }

    // The volume fills up (another program's files, say): sends fail once a commit needs room.
    fs.fill_leaving(0);
    let mut refused = 0;
    for _ in 0..5000 {
        n += 1;
        let (status, retry, body) = send(&server, n).await;
        match status {
            201 => acked.push(id_of(&body)),
            503 => {
                assert_unavailable(status, &retry, &body);
                refused += 1;
                if refused == 20 {
                    break;
                }
            }
            other => panic!("send {n} on a full disk answered {other}: {body}"),
        }
    }
    assert_eq!(refused, 20, "sends kept succeeding on a full disk");
    let (code, body) = status(&server).await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    let reason = body["reason"].as_str().unwrap();
    assert!(reason.contains("No space left on device"), "{reason}");
    assert!(
        !healthcheck_passes(&server),
        "healthcheck must fail while degraded"
    );

    // Space is freed: the writer reopens the database by itself, sends work again.
    fs.free_ballast();
    let mut after = vec![send_until_accepted(&server, &mut n).await];
    for _ in 0..20 {
        n += 1;
        let (status, _, body) = send(&server, n).await;
        assert_eq!(status, 201, "{body}");
        after.push(id_of(&body));
    }
    let (code, body) = status(&server).await;
    assert_eq!((code, &body["status"]), (200, &json!("ok")), "{body}");
    assert!(healthcheck_passes(&server));

    // Every acknowledged notification is there and readable through the API. (A delivery
    // whose outcome could not be written during the outage keeps its queue row leased until
    // the lease runs out, as after any storage error; those sent since are delivered.)
    for id in &after {
        server
            .wait_for(*id, "delivered", |n| {
                n.status == storage::records::NotificationStatus::Delivered
            })
            .await;
    }
    acked.extend(after);
    for id in &acked {
        let (code, body) = server
            .call("normal", "GET", &format!("/v2/notifications/{id}"), None)
            .await;
        assert_eq!(code, 200, "{id}: {body}");
        assert_eq!(body["id"], json!(id.to_string()), "{body}");
    }
    // The search index caught up too (its writer was recreated after failing).
    let start = Instant::now();
    while server.app.store.read().unwrap().outbox_len().unwrap() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the search index never caught up after the disk was freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = *acked.last().unwrap();
    assert!(server.app.index.num_docs() >= acked.len() as u64);
    assert!(
        server
            .app
            .index
            .search(server.service_id, &last.to_string(), None, 1)
            .unwrap()
            .contains(&last)
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_the_low_disk_watermark_new_sends_wait_and_accepted_work_goes_on() {
    let test = "below_the_low_disk_watermark_new_sends_wait_and_accepted_work_goes_on";
    let Some(fs) = Tmpfs::mount(test, 64) else {
        return;
    };
    let data = fs.path().join("notify-data");
    // 16 MiB, or half the volume: 16 MiB here.
    let server = TestServer::start_with(|c| {
        c.data_dir = data.clone();
        c.disk.min_free_mb = 16;
        c.disk.min_free_percent = 50;
    })
    .await;
    let mut acked = Vec::new();
    let mut n = 0;
    for _ in 0..10 {
        n += 1;
        let (status, _, body) = send(&server, n).await;
        assert_eq!(status, 201, "{body}");
        acked.push(id_of(&body));
    }

    fs.fill_leaving(8 << 20);
    // Free space is looked at once a second: sends are refused from then on.
    let start = Instant::now();
    let body = loop {
        n += 1;
        let (status, retry, body) = send(&server, n).await;
        match status {
            201 => acked.push(id_of(&body)),
            503 => {
                assert_unavailable(status, &retry, &body);
                break body;
            }
            other => panic!("send answered {other}: {body}"),
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        errors(&body)[0].1.contains("low on storage space"),
        "{body}"
    );
    let (code, body) = status(&server).await;
    assert_eq!((code, &body["status"]), (503, &json!("degraded")), "{body}");
    assert!(
        body["reason"].as_str().unwrap().contains("low disk space"),
        "{body}"
    );

    // Work on accepted notifications still commits: the deliveries finish, and a status
    // change written now is durable.
    for id in &acked {
        server
            .wait_for(*id, "delivered", |n| {
                n.status == storage::records::NotificationStatus::Delivered
            })
            .await;
    }
    let first = acked[0];
    server
        .app
        .store
        .write(move |ctx| {
            let mut n = ctx.get_notification(first)?.expect("stored");
            n.status_reason = Some("checked while low on disk".into());
            ctx.update_notification(&n)
        })
        .await
        .expect("an update commits below the watermark");
    assert!(
        storage::health::available_space(fs.path()).unwrap() > 0,
        "the disk never filled"
    );

    fs.free_ballast();
    acked.push(send_until_accepted(&server, &mut n).await);
    let (code, body) = status(&server).await;
    assert_eq!((code, &body["status"]), (200, &json!("ok")), "{body}");
    for id in &acked {
        assert_eq!(server.stored_notification(*id).id, *id);
    }
    assert_eq!(
        server.stored_notification(first).status_reason.as_deref(),
        Some("checked while low on disk")
    );
}
