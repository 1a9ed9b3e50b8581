//! Online backup and restore: how long they take, how big a backup is, and what a backup costs
//! the accept path while it runs.
//!
//! Seeds `BENCH_N` (default 100,000) delivered text messages in a temporary data directory,
//! lets the indexer take them in, then measures a steady open-loop load of `BENCH_RATE` text
//! messages a second (default 100) through the real HTTP API for `BENCH_SECONDS` (default 5)
//! alone, then while a backup (the same code as `notify backup`: one snapshot dumped on its own
//! thread, blobs, settings, secrets, manifest, checksums) is written to a temporary directory.
//! Prints the backup's time and size (the dump and the database file it came from), the accept
//! latency alone and during it, then the time to restore the backup into an empty directory
//! (load and index rebuild) and to check it.
//!
//! `cargo bench --bench backup` (`BENCH_N=1000000` for a bigger store).

// The server's allocator (src/main.rs), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::app::{self, App};
use notify::backup::{BackupOptions, RestoreOptions, Target};
use notify::config::Config;
use notify::domain::{services, templates};
use storage::clock::v7_at_micros;
use storage::codec::encode;
use storage::records::{KeyType, Notification, NotificationStatus, NotificationType};
use uuid::Uuid;

#[path = "common/load.rs"]
mod load;

use load::{describe, env, load, sender};

/// Rows per seeding commit.
const SEED_CHUNK: usize = 20_000;

async fn seed(app: &App, service_id: Uuid, template_id: Uuid, n: usize) {
    let start = (chrono::Utc::now() - chrono::Duration::days(1)).timestamp_micros();
    let mut done = 0;
    while done < n {
        let count = SEED_CHUNK.min(n - done);
        let rows: Vec<(Notification, Vec<u8>)> = (done..done + count)
            .map(|i| {
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
                    personalisation: format!(r#"{{"name":"Person {i}"}}"#),
                    body: format!("Hello Person {i}, your appointment is confirmed."),
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

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        dir_bytes(&path)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[tokio::main]
async fn main() {
    app::install_tls_provider();
    let n = env("BENCH_N", 100_000usize);
    let rate = env("BENCH_RATE", 100u64);
    let seconds = env("BENCH_SECONDS", 5u64);
    let work = tempfile::tempdir().expect("temp dir");
    let data = work.path().join("data");
    let mut config = Config::for_tests(&data);
    config.log.level = "warn".into();
    let app = App::open(config.clone(), Arc::new(storage::SystemClock)).expect("open");
    let listener = app::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::serve(app.clone(), listener, async move {
        let _ = stopped.await;
    }));

    let service = services::create_service(
        &app,
        &notify::domain::accounts::Actor::operator(),
        services::NewService {
            name: "Seeded".into(),
            restricted: false,
        },
    )
    .await
    .expect("service");
    let template = templates::create_template(
        &app,
        &notify::domain::accounts::Actor::operator(),
        service.id,
        templates::NewTemplate {
            template_type: "sms".into(),
            name: "seeded".into(),
            subject: None,
            content: "Hello ((name)), your appointment is confirmed.".into(),
            postage: None,
            ..Default::default()
        },
    )
    .await
    .expect("template");
    let started = Instant::now();
    seed(&app, service.id, template.id, n).await;
    while app.store.read().map_or(1, |r| r.outbox_len().unwrap_or(1)) > 0 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "seeded and indexed {n} notifications in {:.1} s; database file {:.1} MiB",
        started.elapsed().as_secs_f64(),
        mib(std::fs::metadata(storage::database_path(&data))
            .map(|m| m.len())
            .unwrap_or(0))
    );

    let sender = Arc::new(sender(&app, &base).await);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    load(
        sender.clone(),
        client.clone(),
        rate,
        tokio::time::sleep(Duration::from_secs(1)),
    )
    .await;
    let alone = load(
        sender.clone(),
        client.clone(),
        rate,
        tokio::time::sleep(Duration::from_secs(seconds)),
    )
    .await;
    println!("accept alone        {}", describe(&alone, seconds as f64));

    let backups = work.path().join("backups");
    let target =
        Target::parse(backups.to_str().expect("utf-8"), &config.backup.s3, true).expect("target");
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let backup_app = app.clone();
    let backup_target = target.clone();
    let backup = tokio::spawn(async move {
        let started = Instant::now();
        let dump = notify::backup::dump(&backup_app.store).expect("snapshot");
        let manifest = notify::backup::write_backup(
            dump,
            backup_app.blobs.clone(),
            &backup_app.config,
            backup_app.sealer.fingerprint(),
            &backup_target,
            BackupOptions {
                include_blobs: true,
                include_secrets: true,
            },
        )
        .await
        .expect("backup");
        let elapsed = started.elapsed().as_secs_f64();
        let _ = done_tx.send(());
        (manifest, elapsed)
    });
    let during_started = Instant::now();
    let during = load(sender.clone(), client.clone(), rate, async move {
        let _ = done_rx.await;
    })
    .await;
    let during_seconds = during_started.elapsed().as_secs_f64();
    let (manifest, elapsed) = backup.await.expect("backup task");
    let folder = backups.join(&manifest.name);
    println!(
        "backup              {:.2} s for {} rows: dump {:.1} MiB, whole backup {:.1} MiB ({:.0} MiB/s of dump)",
        elapsed,
        n,
        mib(manifest.store_bytes),
        mib(dir_bytes(&folder)),
        mib(manifest.store_bytes) / elapsed.max(1e-9),
    );
    println!("accept during       {}", describe(&during, during_seconds));

    let _ = stop_server.send(());
    let _ = server.await;
    app.shutdown();

    let mut restored = config.clone();
    restored.data_dir = work.path().join("restored");
    let started = Instant::now();
    let report = notify::backup::restore(&target, &restored, &RestoreOptions::default())
        .await
        .expect("restore");
    println!(
        "restore             {:.2} s: {} rows loaded, {} notifications indexed; database file {:.1} MiB",
        started.elapsed().as_secs_f64(),
        report.rows,
        report.indexed,
        mib(
            std::fs::metadata(storage::database_path(&restored.data_dir))
                .map(|m| m.len())
                .unwrap_or(0)
        )
    );
}
