//! Fault suite: the real binary is killed with SIGKILL at full API load, cycle after cycle.
//! Every text message acknowledged with a 201 is still there after each restart, ends
//! delivered, and reaches the outbox exactly once; nothing is in the outbox twice.
//!
//! CI runs 5 cycles; the long run is the same test with `CRASH_CYCLES=50`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::binary::{Served, free_port, run_ok};
use crate::common::{claims_for, secret_of, sign};

/// The outbox keeps its newest 10,000 messages by default; the long run sends more.
const KEEP_THE_WHOLE_OUTBOX: &[(&str, &str)] = &[("NOTIFY_OUTBOX__KEEP", "100000000")];

/// Concurrent senders: enough to keep the accept path busy on 2 cores.
const SENDERS: usize = 16;

fn bearer(key: &str) -> String {
    let token = sign(
        &claims_for(key, chrono::Utc::now().timestamp()),
        secret_of(key),
        jsonwebtoken::Algorithm::HS256,
    );
    format!("Bearer {token}")
}

/// Sends text messages from `SENDERS` tasks until `stop`; the ids acknowledged with a 201,
/// with the reference each was sent with.
async fn load(
    base: String,
    key: String,
    template: String,
    cycle: usize,
    stop: Arc<AtomicBool>,
    count: Arc<AtomicUsize>,
) -> Vec<(Uuid, String)> {
    let client = reqwest::Client::new();
    let tasks = (0..SENDERS).map(|sender| {
        let (client, base, key, template, stop) = (
            client.clone(),
            base.clone(),
            key.clone(),
            template.clone(),
            stop.clone(),
        );
        let count = count.clone();
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let reference = format!("c{cycle}-s{sender}-n{n}");
                let sent = client
                    .post(format!("{base}/v2/notifications/sms"))
                    .header("authorization", bearer(&key))
                    .json(&json!({
                        "phone_number": "07700900123",
                        "template_id": template,
                        "personalisation": {"name": "Crash"},
                        "reference": reference,
                    }))
                    .send()
                    .await;
                // Refused connections and requests cut off by the kill were never acknowledged.
                let Ok(resp) = sent else { continue };
                let status = resp.status().as_u16();
                if status != 201 {
                    // Anything but a 201 is a fault of its own (a 500 or 503 would hide loss).
                    let body = resp.text().await.unwrap_or_default();
                    assert!(body.is_empty(), "{status}: {body}");
                    continue;
                }
                let Ok(body) = resp.json::<Value>().await else {
                    continue;
                };
                let id = Uuid::parse_str(body["id"].as_str().expect("a 201 has an id")).unwrap();
                acknowledged.push((id, reference));
                count.fetch_add(1, Ordering::Relaxed);
            }
            acknowledged
        })
    });
    let mut all = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        all.extend(task.await.unwrap());
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_at_full_api_load_loses_nothing_acknowledged() {
    let cycles: usize = std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let service: Value = serde_json::from_str(&run_ok(
        &data,
        &["service", "create", "--name", "Crash", "--json"],
    ))
    .unwrap();
    let service_id = service["id"].as_str().unwrap().to_string();
    run_ok(
        &data,
        &[
            "service",
            "update",
            "--service",
            &service_id,
            "--rate-limit",
            "100000000",
            "--sms-limit",
            "100000000",
        ],
    );
    let body = dir.path().join("body.txt");
    std::fs::write(&body, "Hello ((name)), this is a test").unwrap();
    let template = run_ok(
        &data,
        &[
            "template",
            "create",
            "--service",
            &service_id,
            "--type",
            "sms",
            "--name",
            "Crash",
            "--body-file",
            body.to_str().unwrap(),
        ],
    );
    let key = run_ok(
        &data,
        &[
            "api-key",
            "create",
            "--service",
            &service_id,
            "--name",
            "crash",
            "--type",
            "normal",
        ],
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");

    let mut acknowledged: HashMap<Uuid, String> = HashMap::new();
    for cycle in 0..cycles {
        let server = Served::start_with(&data, port, KEEP_THE_WHOLE_OUTBOX).await;
        // What was acknowledged before the last kill is all still there.
        if let Some((id, reference)) = acknowledged.iter().next() {
            let got = get(&base, &key, *id).await;
            assert_eq!(got["reference"], reference.as_str(), "{got}");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicUsize::new(0));
        let senders = tokio::spawn(load(
            base.clone(),
            key.clone(),
            template.clone(),
            cycle,
            stop.clone(),
            count.clone(),
        ));
        // Once the load is flowing, killed at a different point of each cycle, mid-flight.
        let deadline = Instant::now() + Duration::from_secs(60);
        while count.load(Ordering::Relaxed) < 50 {
            assert!(Instant::now() < deadline, "cycle {cycle}: nothing accepted");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(100 + 130 * (cycle as u64 % 7))).await;
        drop(server);
        stop.store(true, Ordering::Relaxed);
        let got = senders.await.unwrap();
        assert!(!got.is_empty(), "cycle {cycle}: nothing was acknowledged");
        for (id, reference) in got {
            assert!(acknowledged.insert(id, reference).is_none(), "{id} twice");
        }
    }

    // Restarted once more: every acknowledged message is there with its reference and is
    // delivered (the queues resume where the kills left them).
    let server = Served::start_with(&data, port, KEEP_THE_WHOLE_OUTBOX).await;
    let mut pending: HashSet<Uuid> = acknowledged.keys().copied().collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    while !pending.is_empty() {
        let batch: Vec<Uuid> = pending.iter().take(64).copied().collect();
        let answers =
            futures_util::future::join_all(batch.iter().map(|id| get(&base, &key, *id))).await;
        for (id, got) in batch.iter().zip(answers) {
            assert_eq!(got["reference"], acknowledged[id].as_str(), "{got}");
            match got["status"].as_str() {
                Some("delivered") => {
                    pending.remove(id);
                }
                Some("created" | "sending" | "pending") => {}
                other => panic!("{id} ended {other:?}: {got}"),
            }
        }
        if !batch.iter().any(|id| !pending.contains(id)) {
            assert!(
                Instant::now() < deadline,
                "{} acknowledged messages never delivered",
                pending.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    drop(server);

    // The outbox (the embedded default's provider): each message at most once, and every
    // acknowledged one in it.
    let store = storage::Store::open(&data, storage::StoreOptions::default()).unwrap();
    let outbox = store
        .read()
        .unwrap()
        .outbox_messages(None, usize::MAX)
        .unwrap();
    let mut seen = HashSet::new();
    for (_, message) in &outbox {
        assert!(
            seen.insert(message.notification_id),
            "{} is in the outbox twice",
            message.notification_id
        );
    }
    let missing = acknowledged.keys().filter(|id| !seen.contains(id)).count();
    assert_eq!(missing, 0, "acknowledged but not in the outbox");
    eprintln!(
        "{cycles} kill -9 cycles: {} acknowledged, 0 lost, {} in the outbox, no duplicates",
        acknowledged.len(),
        outbox.len()
    );
}

async fn get(base: &str, key: &str, id: Uuid) -> Value {
    let resp = reqwest::Client::new()
        .get(format!("{base}/v2/notifications/{id}"))
        .header("authorization", bearer(key))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{id} is not retrievable");
    resp.json().await.unwrap()
}
