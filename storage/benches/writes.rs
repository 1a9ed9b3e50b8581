//! Durable, acknowledged notification inserts per second through the group-commit writer.
//!
//! `cargo bench -p storage --bench writes` (set `BENCH_SECS` to change the 3 s measuring time).
//! Each run starts a fresh store in a temporary directory on the real disk and `N` tokio tasks
//! that each loop `store.write(..).await` — every answer is an fsync'ed commit. Two modes:
//!
//! - `plain`: the notification row, the per-service listing row and the status count, written
//!   straight into the tables (no index outbox, no queue row);
//! - `outbox`: `insert_notification` (record, listing row, status count, index outbox row):
//!   the "with the index outbox and secondary index entries" of the storage target;
//! - `accept`: the real accept path: the same plus a delivery queue row.
//!
//! Operations in one group commit see the same `now_micros`, so the bench counts distinct
//! values to report the mean batch size. Run without `--bench` (e.g. by `cargo test
//! --benches`) it does a short smoke run instead.

// The same allocator as the `notify` binary, so the figures are the appliance's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use storage::codec::encode;
use storage::records::{KeyType, Notification, NotificationStatus, NotificationType};
use storage::{Store, StoreOptions};
use uuid::Uuid;

const WRITERS: [usize; 3] = [1, 16, 256];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Plain,
    Outbox,
    Accept,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Outbox => "outbox",
            Mode::Accept => "accept",
        }
    }
}

/// A realistic accepted email: ~300 bytes encoded.
fn record(service_id: Uuid, template_id: Uuid, api_key_id: Uuid, serial: u64) -> Notification {
    let id = Uuid::now_v7();
    let to = format!("firstname.lastname{serial}@example.gov.uk");
    Notification {
        id,
        service_id,
        notification_type: NotificationType::Email,
        template_id,
        template_version: 3,
        api_key_id: Some(api_key_id),
        key_type: KeyType::Normal,
        status: NotificationStatus::Created,
        normalised_to: to.clone(),
        to,
        personalisation: format!(
            "{{\"first_name\":\"Firstname\",\"last_name\":\"Lastname\",\"application_number\":\"APP-{serial:08}\",\"appointment_date\":\"14 January 2026\",\"office\":\"Leeds\"}}"
        ),
        body: String::new(),
        subject: Some("Your application".into()),
        client_reference: Some(format!("case-{serial:010}")),
        job_id: None,
        job_row_number: None,
        reply_to_text: Some("replies@example.gov.uk".into()),
        one_click_unsubscribe_url: None,
        postage: None,
        international: false,
        billable_units: 0,
        sent_by: None,
        created_at: chrono::Utc::now().timestamp_micros(),
        sent_at: None,
        updated_at: None,
        created_by_name: None,
        status_reason: None,
    }
}

struct Outcome {
    ops: u64,
    commits: usize,
    latencies_us: Vec<u32>,
}

async fn run(
    store: &Store,
    writers: usize,
    mode: Mode,
    warmup: Duration,
    measure: Duration,
) -> Outcome {
    let service_id = Uuid::now_v7();
    let template_id = Uuid::now_v7();
    let api_key_id = Uuid::now_v7();
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + measure;
    let mut tasks = Vec::with_capacity(writers);
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut commits = Vec::new();
            let mut serial = (w as u64) << 32;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                serial += 1;
                let n = record(service_id, template_id, api_key_id, serial);
                let committed_at = match mode {
                    Mode::Plain => {
                        store
                            .write(move |ctx| {
                                let id = n.id.as_u128();
                                ctx.tables.notifications.insert(id, encode(&n).as_slice())?;
                                ctx.tables
                                    .service_notifications
                                    .insert((n.service_id.as_u128(), id), ())?;
                                let key = n.status.as_str();
                                let before = ctx
                                    .tables
                                    .status_counts
                                    .insert(key, 1u64)?
                                    .map(|v| v.value());
                                if let Some(before) = before {
                                    ctx.tables.status_counts.insert(key, before + 1)?;
                                }
                                Ok(ctx.now_micros())
                            })
                            .await
                    }
                    Mode::Outbox => {
                        let encoded = storage::codec::encode(&n);
                        store
                            .write(move |ctx| {
                                ctx.insert_encoded_notification(&n, &encoded)?;
                                Ok(ctx.now_micros())
                            })
                            .await
                    }
                    Mode::Accept => {
                        let encoded = storage::codec::encode(&n);
                        store
                            .write(move |ctx| {
                                ctx.insert_encoded_notification(&n, &encoded)?;
                                let now = ctx.now_ms();
                                ctx.enqueue("deliver-email", now, n.id.as_bytes())?;
                                Ok(ctx.now_micros())
                            })
                            .await
                    }
                }
                .expect("write");
                let t1 = Instant::now();
                if t1 >= measure_from && t1 < end {
                    latencies.push(u32::try_from((t1 - t0).as_micros()).unwrap_or(u32::MAX));
                    commits.push(committed_at);
                }
            }
            (latencies, commits)
        }));
    }
    let mut latencies_us = Vec::new();
    let mut commits = HashSet::new();
    for task in tasks {
        let (l, c) = task.await.expect("writer task");
        latencies_us.extend(l);
        commits.extend(c);
    }
    latencies_us.sort_unstable();
    Outcome {
        ops: latencies_us.len() as u64,
        commits: commits.len(),
        latencies_us,
    }
}

fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted_us.len() as f64 * p).ceil() as usize).clamp(1, sorted_us.len());
    f64::from(sorted_us[rank - 1]) / 1000.0
}

/// The mount (device and filesystem type) holding `path`, from /proc/mounts where available.
fn filesystem_of(path: &Path) -> String {
    let Ok(mounts) = std::fs::read_to_string("/proc/mounts") else {
        return "unknown filesystem".into();
    };
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    mounts
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (dev, mount, fstype) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(mount).then(|| {
                (
                    mount.len(),
                    format!("{fstype} on {dev} (mounted at {mount})"),
                )
            })
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, s)| s)
        .unwrap_or_else(|| "unknown filesystem".into())
}

fn main() {
    // As the server does (see `storage::memory`).
    storage::memory::disable_transparent_huge_pages();
    let benching = std::env::args().any(|a| a == "--bench");
    let (warmup, measure) = if benching {
        let secs: f64 = std::env::var("BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3.0);
        (Duration::from_millis(500), Duration::from_secs_f64(secs))
    } else {
        (Duration::from_millis(20), Duration::from_millis(100))
    };
    let base = std::env::temp_dir();
    let sample = record(Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), 1);
    println!(
        "durable notification inserts: stores under {} ({}); record {} bytes encoded; {:.1} s per run after {:.1} s warm-up{}",
        base.display(),
        filesystem_of(&base),
        encode(&sample).len(),
        measure.as_secs_f64(),
        warmup.as_secs_f64(),
        if benching {
            ""
        } else {
            " (smoke run: pass --bench for real numbers)"
        },
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // `BENCH_WRITERS=256` / `BENCH_MODE=accept` narrow the run (handy under a profiler).
    let only_writers: Option<usize> = std::env::var("BENCH_WRITERS")
        .ok()
        .and_then(|s| s.parse().ok());
    let only_mode = std::env::var("BENCH_MODE").ok();
    for mode in [Mode::Plain, Mode::Outbox, Mode::Accept] {
        if only_mode.as_deref().is_some_and(|m| m != mode.name()) {
            continue;
        }
        for writers in WRITERS {
            if only_writers.is_some_and(|w| w != writers) {
                continue;
            }
            let dir = tempfile::tempdir_in(&base).expect("temporary store directory");
            let store = Store::open(dir.path(), StoreOptions::default()).expect("open store");
            let outcome = runtime.block_on(run(&store, writers, mode, warmup, measure));
            store.close();
            let per_sec = outcome.ops as f64 / measure.as_secs_f64();
            let mean_batch = outcome.ops as f64 / outcome.commits.max(1) as f64;
            println!(
                "writers={writers:<3} mode={:<6} inserts/s={per_sec:>8.0} commits/s={:>6.0} mean_batch={mean_batch:>6.1} p50={:.2}ms p99={:.2}ms",
                mode.name(),
                outcome.commits as f64 / measure.as_secs_f64(),
                percentile_ms(&outcome.latencies_us, 0.50),
                percentile_ms(&outcome.latencies_us, 0.99),
            );
        }
    }
}
