//! Retention purge throughput, and what it costs the accept path while it runs.
//!
//! Seeds `BENCH_N` (default 1,000,000) notifications past retention in a temporary data
//! directory, lets the indexer take them in, then measures a steady open-loop load of
//! `BENCH_RATE` text messages a second (default 200) through the real HTTP API: first alone for
//! `BENCH_SECONDS` (default 10), then while the nightly purge archives every seeded row.
//! Prints the purge's rows/s and the accept latency percentiles without and during the purge,
//! then again alone after it. The ratio is also given against the two alone windows pooled:
//! one 10 s window's p99 moves by 2x from run to run on a small VM, the pooled one much less.
//! With `BENCH_PROBE=1` a plain thread meanwhile makes a tiny durable store write every 5 ms:
//! its percentiles are the storage's share of the accept latency, without HTTP, auth or the
//! async runtime. Those 200 writes a second run in all three windows alike, so they load both
//! sides of every ratio; they are off by default because they are not the issue's load (they
//! double the durable commits a purge gives way to).
//! The bytes the process wrote (alone and during the purge, and per archived row) show the disk
//! load the accepts' fsyncs compete with; unlike a p99 they barely move between runs.
//!
//! `cargo bench --bench retention` (`BENCH_BATCH` overrides `retention.batch_size`,
//! `BENCH_CHUNK` `retention.write_chunk`, `BENCH_PACE` `retention.max_rows_per_second`, 0 for
//! an unpaced purge; `BENCH_SERVICES` sets how many services take turns, default 4;
//! `BENCH_PROBE=1` adds the store write probe).

// The server's allocator and memory settings (src/main.rs), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use notify::app::{self, App};
use notify::config::Config;
use notify::domain::retention::{self, PurgeOptions};
use notify::domain::{services, templates};
use storage::clock::v7_at_micros;
use storage::codec::encode;
use storage::records::{KeyType, Notification, NotificationStatus, NotificationType};
use uuid::Uuid;

#[path = "common/load.rs"]
mod load;

use load::{describe, env, load, pct, sender};

/// Rows per seeding commit (no load is running yet, so big is fine).
const SEED_CHUNK: usize = 20_000;

/// `n` delivered texts ten days old, spread over the services, in big commits.
async fn seed(app: &App, services: &[(Uuid, Uuid)], n: usize) {
    let start = (chrono::Utc::now() - chrono::Duration::days(10)).timestamp_micros();
    let mut done = 0;
    while done < n {
        let count = SEED_CHUNK.min(n - done);
        let rows: Vec<(Notification, Vec<u8>)> = (done..done + count)
            .map(|i| {
                let (service_id, template_id) = services[i % services.len()];
                let at = start + i as i64;
                let n = Notification {
                    id: v7_at_micros(at),
                    service_id,
                    notification_type: NotificationType::Sms,
                    template_id,
                    template_version: 1,
                    api_key_id: None,
                    key_type: KeyType::Normal,
                    status: NotificationStatus::Delivered,
                    to: "07700 900123".into(),
                    normalised_to: "447700900123".into(),
                    personalisation: r#"{"name":"Ann"}"#.into(),
                    body: "Hello Ann".into(),
                    subject: None,
                    client_reference: Some(format!("ref-{i}")),
                    job_id: None,
                    job_row_number: None,
                    reply_to_text: None,
                    one_click_unsubscribe_url: None,
                    postage: None,
                    international: false,
                    billable_units: 1,
                    sent_by: Some("outbox".into()),
                    created_at: at,
                    sent_at: Some(at + 1000),
                    updated_at: Some(at + 2000),
                    created_by_name: None,
                    status_reason: None,
                };
                let bytes = encode(&n);
                (n, bytes)
            })
            .collect();
        app.store
            .write(move |ctx| {
                for (n, bytes) in &rows {
                    ctx.insert_encoded_notification(n, bytes)?;
                }
                Ok(())
            })
            .await
            .expect("seed");
        done += count;
    }
}

async fn index_settled(app: &App) {
    while app.store.read().map_or(1, |r| r.outbox_len().unwrap_or(1)) > 0 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Let the disk write back what seeding left dirty and the index finish merging what it took
/// in, so the baseline is not measured against a gigabyte of writeback or a segment merge (a
/// seeded store is days old in real life): sync, then wait until this process has been
/// nearly idle (< 5% of a core) for two seconds, at most a minute.
async fn settle() {
    let _ = tokio::process::Command::new("sync").status().await;
    let started = Instant::now();
    let mut quiet = 0;
    let mut last = process_cpu_ticks();
    while quiet < 4 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = process_cpu_ticks();
        // Ticks are 1/100 s: under 5% of a core in half a second is at most 2 ticks.
        quiet = if now.saturating_sub(last) <= 2 {
            quiet + 1
        } else {
            0
        };
        last = now;
    }
}

/// This process's user + system CPU time in clock ticks, from `/proc/self/stat` (0 elsewhere).
fn process_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// Tiny durable store writes from a plain thread every 5 ms, timed, until finished; only with
/// `BENCH_PROBE=1`, since they double the durable commits a second beyond the issue's load.
struct StoreProbe {
    running: Option<(Arc<AtomicBool>, std::thread::JoinHandle<Vec<u64>>)>,
}

impl StoreProbe {
    fn start(app: &App) -> StoreProbe {
        if env("BENCH_PROBE", 0u8) == 0 {
            return StoreProbe { running: None };
        }
        let store = app.store.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut latencies = Vec::new();
            while !stopping.load(Ordering::Relaxed) {
                let started = Instant::now();
                // Bumping the sequence is the smallest durable change a write can make.
                store
                    .write_blocking(|ctx| {
                        ctx.next_seq();
                        Ok(())
                    })
                    .expect("probe write");
                latencies.push(started.elapsed().as_micros() as u64);
                std::thread::sleep(Duration::from_millis(5));
            }
            latencies.sort_unstable();
            latencies
        });
        StoreProbe {
            running: Some((stop, thread)),
        }
    }

    fn finish(self, window: &str) {
        let Some((stop, thread)) = self.running else {
            return;
        };
        stop.store(true, Ordering::Relaxed);
        let latencies = thread.join().expect("probe thread");
        println!(
            "store write {window:<20} {} writes, p50 {:.2} ms, p99 {:.2} ms",
            latencies.len(),
            pct(&latencies, 0.50),
            pct(&latencies, 0.99)
        );
    }
}

async fn run(n: usize, rate: u64, seconds: u64, batch: Option<usize>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_tests(dir.path());
    config.log.level = "warn".into();
    config.storage.cache_size_mb = 256;
    config.storage.index_commit_interval_ms = env("BENCH_INDEX_MS", 1000u64);
    if let Some(b) = batch {
        config.retention.batch_size = b;
    }
    config.retention.write_chunk = env("BENCH_CHUNK", config.retention.write_chunk);
    config.retention.max_rows_per_second = env("BENCH_PACE", config.retention.max_rows_per_second);
    let app = App::open(config, Arc::new(storage::SystemClock)).expect("open");
    let listener = app::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::serve(app.clone(), listener, async move {
        let _ = stopped.await;
    }));

    let mut owners = Vec::new();
    // Services whose texts interleave in time, as on a shared appliance.
    for i in 0..env("BENCH_SERVICES", 4usize).max(1) {
        let s = services::create_service(
            &app,
            &notify::domain::accounts::Actor::operator(),
            services::NewService {
                name: format!("Expired {i}"),
                restricted: false,
            },
        )
        .await
        .expect("service");
        let t = templates::create_template(
            &app,
            &notify::domain::accounts::Actor::operator(),
            s.id,
            templates::NewTemplate {
                template_type: "sms".into(),
                name: "old".into(),
                subject: None,
                content: "Hello ((name))".into(),
                postage: None,
                ..Default::default()
            },
        )
        .await
        .expect("template");
        owners.push((s.id, t.id));
    }
    let started = Instant::now();
    seed(&app, &owners, n).await;
    let seeded = started.elapsed().as_secs_f64();
    if env("BENCH_INDEX_MS", 1000u64) <= 1000 {
        index_settled(&app).await;
    }
    println!(
        "seeded {n} expired notifications in {seeded:.1} s (indexed after {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    settle().await;
    let sender = Arc::new(sender(&app, &base).await);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    // Warm up connections and caches.
    load(
        sender.clone(),
        client.clone(),
        rate,
        tokio::time::sleep(Duration::from_secs(1)),
    )
    .await;

    let probe = StoreProbe::start(&app);
    let written_before_alone = bytes_written();
    let alone = load(
        sender.clone(),
        client.clone(),
        rate,
        tokio::time::sleep(Duration::from_secs(seconds)),
    )
    .await;
    let written_alone = bytes_written()
        .zip(written_before_alone)
        .map(|(b, a)| b - a);
    println!("accept alone        {}", describe(&alone, seconds as f64));
    probe.finish("alone");
    let probe = StoreProbe::start(&app);

    let options = PurgeOptions::from_config(&app);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let purge_app = app.clone();
    let written_before_purge = bytes_written();
    let purge = tokio::spawn(async move {
        let started = Instant::now();
        let report = retention::purge_notifications(&purge_app, options).await;
        let elapsed = started.elapsed().as_secs_f64();
        let _ = done_tx.send(());
        (report, elapsed)
    });
    let during = load(sender.clone(), client.clone(), rate, async move {
        let _ = done_rx.await;
    })
    .await;
    let (report, elapsed) = purge.await.expect("purge task");
    let written_during = bytes_written()
        .zip(written_before_purge)
        .map(|(b, a)| b - a);
    probe.finish("during purge");
    let report = report.expect("purge");
    println!(
        "purge               {} archived in {elapsed:.2} s: {:.0} rows/s (batch {}, paced at {})",
        report.archived,
        report.archived as f64 / elapsed,
        options.batch_size,
        options
            .max_rows_per_second
            .map_or("no limit".to_string(), |r| format!("{r} rows/s"))
    );
    println!("accept during purge {}", describe(&during, elapsed));
    // What the disk is asked to take, the whole process (store, index, probe) included: the
    // purge's share is what competes with an accept's fsync.
    if let (Some(alone_bytes), Some(during_bytes)) = (written_alone, written_during) {
        println!(
            "disk writes         alone {:.1} MB/s, during purge {:.1} MB/s ({:.0} bytes per archived row)",
            alone_bytes as f64 / 1e6 / seconds as f64,
            during_bytes as f64 / 1e6 / elapsed,
            during_bytes as f64 / report.archived.max(1) as f64
        );
    }
    println!(
        "p99 during / alone  {:.2}x",
        pct(&during.latencies, 0.99) / pct(&alone.latencies, 0.99).max(0.001)
    );
    let drain = Instant::now();
    if env("BENCH_INDEX_MS", 1000u64) <= 1000 {
        index_settled(&app).await;
    }
    println!(
        "index caught up with the deletes {:.1} s after the purge",
        drain.elapsed().as_secs_f64()
    );
    settle().await;
    let probe = StoreProbe::start(&app);
    let after = load(
        sender.clone(),
        client.clone(),
        rate,
        tokio::time::sleep(Duration::from_secs(seconds)),
    )
    .await;
    println!("accept alone again  {}", describe(&after, seconds as f64));
    probe.finish("alone again");
    println!(
        "p99 during / alone again {:.2}x",
        pct(&during.latencies, 0.99) / pct(&after.latencies, 0.99).max(0.001)
    );
    let mut pooled = [alone.latencies, after.latencies].concat();
    pooled.sort_unstable();
    println!(
        "p99 during / both alone windows pooled {:.2}x (pooled p99 {:.1} ms)",
        pct(&during.latencies, 0.99) / pct(&pooled, 0.99).max(0.001),
        pct(&pooled, 0.99)
    );
    let _ = stop_server.send(());
    let _ = server.await;
    app.shutdown();
}

/// Bytes this process has caused to be written to storage so far (Linux's `/proc/self/io`;
/// `None` where that is not available).
fn bytes_written() -> Option<u64> {
    std::fs::read_to_string("/proc/self/io")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("write_bytes:"))?
        .trim()
        .parse()
        .ok()
}

fn main() {
    storage::memory::disable_transparent_huge_pages();
    let n = env("BENCH_N", 1_000_000usize);
    let rate = env("BENCH_RATE", 200u64);
    let seconds = env("BENCH_SECONDS", 10u64);
    let batch = std::env::var("BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(n, rate, seconds, batch));
}
