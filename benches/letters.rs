//! Letters: PDFs rendered per second (one-page and three-page templated letters), precompiled
//! validations per second, and the daily print run over `BENCH_LETTERS` letters (default
//! 150,000: the volume that hung GOV.UK Notify's collation) into zips on a local folder, with
//! its peak memory.
//!
//! `cargo bench --bench letters` (`BENCH_RENDERS` per kind, default 1000; `BENCH_THREADS`,
//! default 2; `BENCH_LETTERS`; `BENCH_ONLY=render|validate|collate`).

// The server's allocator and memory settings (src/main.rs), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use notify::app::App;
use notify::config::Config;
use notify::letters::render::{LetterContent, render_letter};
use notify::letters::validate::{Validation, validate_precompiled};
use storage::clock::v7_at_micros;
use storage::records::{KeyType, Notification, NotificationStatus, NotificationType};
use uuid::Uuid;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn wanted(part: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |o| o == part)
}

/// Run `work` `n` times over `threads` threads; answers operations per second.
fn per_second(n: usize, threads: usize, work: impl Fn() + Sync) -> f64 {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let work = &work;
            scope.spawn(move || {
                for _ in (t..n).step_by(threads) {
                    work();
                }
            });
        }
    });
    n as f64 / start.elapsed().as_secs_f64()
}

fn body(paragraphs: usize) -> String {
    (0..paragraphs)
        .map(|i| {
            format!(
                "Paragraph {i}. We are writing to tell you about a change to your account. \
                 Please read this letter carefully and keep it somewhere safe, because you \
                 may need it later when you contact us about your claim."
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn bench_render(n: usize, threads: usize) {
    let address: Vec<String> = [
        "Ms Sam Example",
        "Flat 2",
        "10 Downing Street",
        "London",
        "SW1A 2AA",
    ]
    .map(String::from)
    .to_vec();
    for (label, paragraphs, pages) in [("one-page", 3, 1), ("three-page", 24, 3)] {
        let text = body(paragraphs);
        let content = LetterContent {
            address_lines: &address,
            contact_block: Some("Department of Examples\n1 Example Street\nLondon\nSW1A 1AA"),
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).expect("a date"),
            subject: "About your account",
            body: &text,
            language: Default::default(),
            logo: None,
        };
        let got = render_letter(&content).expect("renders").page_count;
        assert_eq!(got, pages, "{label} letter has {got} pages");
        let rate = per_second(n, threads, || {
            render_letter(&content).expect("renders");
        });
        println!("render {label:<10} {rate:>8.0} letters/s ({threads} threads, {n} letters)");
    }
}

fn bench_validate(n: usize, threads: usize) {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/letters");
    let mut names: Vec<String> = std::fs::read_dir(&fixtures)
        .expect("fixtures/letters")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("valid-") && n.ends_with(".pdf"))
        .collect();
    names.sort();
    for name in names {
        let pdf = std::fs::read(fixtures.join(&name)).expect("fixture");
        let pages = match validate_precompiled(&pdf, true) {
            Validation::Passed { page_count, .. } => page_count,
            other => panic!("{name} does not pass: {other:?}"),
        };
        let rate = per_second(n, threads, || {
            validate_precompiled(&pdf, true);
        });
        println!("validate {name:<32} {pages:>2} pages {rate:>8.0} letters/s ({threads} threads)");
    }
}

/// Peak resident memory of this process (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Start measuring the peak afresh (Linux: writing 5 to clear_refs resets VmHWM).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn bench_collate(letters: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_tests(dir.path());
    config.print.max_zip_bytes = 40 * 1024 * 1024;
    config.print.max_letters_per_zip = 5000;
    let clock = storage::ManualClock::new("2026-11-26T10:00:00Z".parse().expect("time"));
    let app = App::open(config, clock.clone()).expect("app");
    // A small one-page PDF per letter (a validation fixture), four services, every postage.
    let pdf = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/letters/valid-1-page.pdf"),
    )
    .expect("fixture");
    let services: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    let postage = ["first", "second", "economy", "europe", "rest-of-world"];
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-26T08:00:00Z")
        .expect("time")
        .timestamp_micros();
    let seeding = Instant::now();
    let blobs = app.config.blobs_dir().join("letters-pdf");
    let mut done = 0;
    while done < letters {
        let count = 20_000.min(letters - done);
        let rows: Vec<Notification> = (done..done + count)
            .map(|i| {
                let at = start + i as i64 * 10;
                let p = postage[i % postage.len()];
                Notification {
                    id: v7_at_micros(at),
                    service_id: services[i % services.len()],
                    notification_type: NotificationType::Letter,
                    template_id: Uuid::nil(),
                    template_version: 1,
                    api_key_id: None,
                    key_type: KeyType::Normal,
                    status: NotificationStatus::Created,
                    to: "A Person".into(),
                    normalised_to: "a person".into(),
                    personalisation: "{}".into(),
                    body: String::new(),
                    subject: None,
                    client_reference: None,
                    job_id: None,
                    job_row_number: None,
                    reply_to_text: None,
                    one_click_unsubscribe_url: None,
                    postage: Some(p.into()),
                    international: p == "europe" || p == "rest-of-world",
                    billable_units: 1,
                    sent_by: None,
                    created_at: at,
                    sent_at: None,
                    updated_at: Some(at),
                    created_by_name: None,
                    status_reason: None,
                }
            })
            .collect();
        for n in &rows {
            let (_, name) = notify::letters::files::pdf_location(n);
            let path = blobs.join(&name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("folder");
            }
            std::fs::write(&path, &pdf).expect("pdf");
        }
        app.store
            .write_deferred(move |ctx| {
                for n in &rows {
                    ctx.insert_notification(n)?;
                }
                Ok(())
            })
            .await
            .expect("seed");
        done += count;
    }
    app.store.write(|_| Ok(())).await.expect("durable");
    // Let the search indexer take the seeded rows in first: that is seeding's cost, not the run's.
    while app
        .store
        .read()
        .expect("read")
        .outbox_len()
        .expect("outbox")
        > 0
    {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    println!(
        "collate: seeded {letters} letters ({} bytes each) in {:.1} s",
        pdf.len(),
        seeding.elapsed().as_secs_f64()
    );
    clock.set("2026-11-26T17:50:00Z".parse().expect("time"));
    reset_peak_rss();
    let before = peak_rss_mib();
    let run = Instant::now();
    let report = notify::letters::print_run::run(&app.cx)
        .await
        .expect("print run");
    let seconds = run.elapsed().as_secs_f64();
    assert_eq!(report.printed as usize, letters, "{report:?}");
    println!(
        "collate {letters} letters into {} zips: {seconds:.1} s, {:.0} letters/s, peak RSS {:.0} MiB (at start {:.0} MiB)",
        report.zips,
        letters as f64 / seconds,
        peak_rss_mib(),
        before
    );
    app.shutdown();
}

fn main() {
    storage::memory::disable_transparent_huge_pages();
    let n = env("BENCH_RENDERS", 1000usize);
    let threads = env("BENCH_THREADS", 2usize);
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(0, |c| c.get())
    );
    if wanted("render") {
        bench_render(n, threads);
    }
    if wanted("validate") {
        bench_validate(n, threads);
    }
    if wanted("collate") {
        let letters = env("BENCH_LETTERS", 150_000usize);
        tokio::runtime::Builder::new_multi_thread()
            .max_blocking_threads(env("BENCH_BLOCKING_THREADS", notify::app::BLOCKING_THREADS))
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(bench_collate(letters));
    }
}
