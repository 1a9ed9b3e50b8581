//! Bulk-send throughput, and what a big job costs the API senders meanwhile.
//!
//! Uploads a `BENCH_N`-row (default 100,000) text-message sheet through the real upload check,
//! then measures a steady open-loop load of `BENCH_RATE` API texts a second (default 100) from
//! another service: alone for `BENCH_SECONDS` (default 10), then while the job runs. The job's
//! figure is the time from its creation to every row persisted and queued for delivery (its
//! status `finished all notifications created`); every worker runs meanwhile, delivering to the
//! outbox, as on a real appliance.
//!
//! `cargo bench --bench jobs`

// The server's allocator and memory settings (src/main.rs), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "common/load.rs"]
mod load;

use std::sync::Arc;
use std::time::{Duration, Instant};

use load::{describe, env, load, pct, sender};
use notify::app::{self, App};
use notify::config::Config;
use notify::domain::jobs::{self, NewJob, NewUpload};
use notify::domain::{services, templates};
use storage::records::JobStatus;

async fn run(n: usize, rate: u64, seconds: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_tests(dir.path());
    config.log.level = "warn".into();
    config.storage.cache_size_mb = 256;
    let app = App::open(config, Arc::new(storage::SystemClock)).expect("open");
    let listener = app::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::serve(app.clone(), listener, async move {
        let _ = stopped.await;
    }));

    let bulk = services::create_service(
        &app,
        &notify::domain::accounts::Actor::operator(),
        services::NewService {
            name: "Bulk".into(),
            restricted: false,
        },
    )
    .await
    .expect("service");
    let bulk_id = bulk.id;
    app.store
        .write(move |ctx| {
            let mut s = ctx.get_service(bulk_id)?.expect("just created");
            s.sms_message_limit = 100_000_000;
            ctx.put_service(&s)
        })
        .await
        .expect("limits");
    let template = templates::create_template(
        &app,
        &notify::domain::accounts::Actor::operator(),
        bulk_id,
        templates::NewTemplate {
            template_type: "sms".into(),
            name: "bulk".into(),
            subject: None,
            content: "Hello ((name)), your appointment is on ((day))".into(),
            postage: None,
            ..Default::default()
        },
    )
    .await
    .expect("template");
    let mut sheet = String::from("phone number,name,day,reference\n");
    for i in 0..n {
        sheet.push_str(&format!(
            "07700{:06},Person {i},Tuesday,ref-{i}\n",
            900_000 + i % 100_000
        ));
    }
    let checking = Instant::now();
    let upload = jobs::upload_sheet(
        &app,
        bulk_id,
        NewUpload {
            template_id: template.id,
            original_file_name: "bench.csv".into(),
            ..Default::default()
        },
        sheet.into(),
    )
    .await
    .expect("upload");
    let checked = checking.elapsed().as_secs_f64();
    assert!(upload.meta.valid, "{:?}", upload.errors.first());
    println!(
        "upload check: {n} rows in {checked:.2} s ({:.0} rows/s)",
        n as f64 / checked
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
    println!("API alone:      {}", describe(&alone, seconds as f64));

    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let during = tokio::spawn(load(sender.clone(), client.clone(), rate, async move {
        let _ = done_rx.await;
    }));
    let started = Instant::now();
    let job = jobs::create_job(
        &app,
        &notify::domain::accounts::actor::Actor::operator(),
        bulk_id,
        NewJob {
            id: upload.meta.id,
            ..Default::default()
        },
    )
    .await
    .expect("job");
    loop {
        let status = app
            .store
            .read()
            .expect("read")
            .get_job(job.id)
            .expect("job")
            .map(|j| j.status);
        if status == Some(JobStatus::FinishedAllNotificationsCreated) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the job did not finish: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = started.elapsed().as_secs_f64();
    let _ = done_tx.send(());
    let during = during.await.expect("load");
    let stored = app
        .store
        .read()
        .expect("read")
        .job_row_count(job.id)
        .expect("rows");
    assert_eq!(stored as usize, n, "every row is a notification");
    println!(
        "job: {n} rows persisted and queued in {took:.2} s ({:.0} rows/s)",
        n as f64 / took
    );
    println!("API during job: {}", describe(&during, took));
    println!(
        "API p99 during / alone: {:.2}x",
        pct(&during.latencies, 0.99) / pct(&alone.latencies, 0.99).max(0.001)
    );
    let _ = stop_server.send(());
    let _ = server.await;
}

fn main() {
    storage::memory::disable_transparent_huge_pages();
    let n = env("BENCH_N", 100_000usize);
    let rate = env("BENCH_RATE", 100u64);
    let seconds = env("BENCH_SECONDS", 10u64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(n, rate, seconds));
}
