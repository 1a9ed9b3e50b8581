//! The disk's floor for the retention target "accept p99 at most doubled during a purge": how
//! much a purge-shaped bulk writer slows small durable commits, with raw redb and none of
//! notify's code (no writer thread, no index, no HTTP).
//!
//! `cargo bench -p storage --bench contention` (`BENCH_N` seeded rows, default 1,000,000;
//! `BENCH_SECS` per mode, default 10; `BENCH_PACE` purge rows/s, default 56,000; `BENCH_CHUNK`
//! rows per purge commit, default 250). Each mode starts from a fresh database in a temporary
//! directory on the real disk; the small writer commits one 400-byte row, durably, every 5 ms
//! (200 accepts a second):
//!
//! - `alone`: the small commits only;
//! - `shared`: while a purge thread, in the same database, removes rows and their listing
//!   rows and writes history and outbox rows (what notify's purge does per row), a durable
//!   commit per chunk. redb runs one write transaction at a time, so a small commit waits for
//!   the purge commit in progress: the design notify has;
//! - `separate`: the purge in a second database file on the same disk (its own writer), so a
//!   small commit never waits for it, only shares the disk with it;
//! - `separate-unsynced`: the same with the purge's commits not synced (`Durability::None`),
//!   so the disk sees only what redb and the kernel write back.
//!
//! The last two are designs notify does not have; if even they more than double the small
//! commits' p99 on a machine, no store layout on that one disk meets the target. The p99 alone
//! moves between runs on a small VM, so compare medians of several runs. Run without `--bench`
//! (e.g. by `cargo test --benches`) it does a short smoke run instead.

// The same allocator as the `notify` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redb::{Database, Durability, TableDefinition};

const ROWS: TableDefinition<u128, &[u8]> = TableDefinition::new("rows");
const LISTING: TableDefinition<(u128, u128), ()> = TableDefinition::new("listing");
const HISTORY: TableDefinition<u128, &[u8]> = TableDefinition::new("history");
const OUTBOX: TableDefinition<u64, u128> = TableDefinition::new("outbox");

/// Services the seeded rows are spread over (the listing table's first key).
const SERVICES: u128 = 4;
const SEED_COMMIT: u128 = 20_000;
const SMALL_EVERY: Duration = Duration::from_millis(5);

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Alone,
    Shared,
    Separate,
    SeparateUnsynced,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Alone => "alone",
            Mode::Shared => "shared",
            Mode::Separate => "separate",
            Mode::SeparateUnsynced => "separate-unsynced",
        }
    }
}

#[derive(Clone, Copy)]
struct Settings {
    rows: u128,
    measure: Duration,
    pace: f64,
    chunk: u128,
}

fn open(path: &Path) -> Database {
    Database::builder()
        .set_cache_size(256 << 20)
        .create(path)
        .expect("create database")
}

/// `rows` live rows (~300 bytes, as an encoded text) with their listing rows.
fn seed(db: &Database, rows: u128) {
    let row = vec![7u8; 300];
    let mut from = 0;
    while from < rows {
        let txn = db.begin_write().expect("begin");
        {
            let mut live = txn.open_table(ROWS).expect("table");
            let mut listing = txn.open_table(LISTING).expect("table");
            for id in from..(from + SEED_COMMIT).min(rows) {
                live.insert(id, row.as_slice()).expect("insert");
                listing.insert((id % SERVICES, id), ()).expect("insert");
            }
        }
        txn.commit().expect("commit");
        from += SEED_COMMIT;
    }
}

struct PurgeFigures {
    rows: u128,
    elapsed: Duration,
    commits: Vec<u64>,
}

/// Retire rows in id order, `chunk` a commit, at `pace` rows/s until told to stop.
fn purge(db: &Database, settings: &Settings, synced: bool, stop: &AtomicBool) -> PurgeFigures {
    let history = vec![3u8; 200];
    let started = Instant::now();
    let mut next = 0u128;
    let mut seq = 0u64;
    let mut commits = Vec::new();
    while !stop.load(Ordering::Relaxed) && next < settings.rows {
        let began = Instant::now();
        let mut txn = db.begin_write().expect("begin");
        if !synced {
            txn.set_durability(Durability::None).expect("durability");
        }
        {
            let mut live = txn.open_table(ROWS).expect("table");
            let mut listing = txn.open_table(LISTING).expect("table");
            let mut archive = txn.open_table(HISTORY).expect("table");
            let mut outbox = txn.open_table(OUTBOX).expect("table");
            for id in next..(next + settings.chunk).min(settings.rows) {
                live.remove(id).expect("remove");
                listing.remove((id % SERVICES, id)).expect("remove");
                archive.insert(id, history.as_slice()).expect("insert");
                seq += 1;
                outbox.insert(seq, id).expect("insert");
            }
        }
        txn.commit().expect("commit");
        commits.push(began.elapsed().as_micros() as u64);
        next += settings.chunk;
        let due = Duration::from_secs_f64(next as f64 / settings.pace);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    PurgeFigures {
        rows: next.min(settings.rows),
        elapsed: started.elapsed(),
        commits,
    }
}

/// One durable 400-byte insert every [`SMALL_EVERY`] for `measure`; their latencies in µs.
fn small_commits(db: &Database, first_id: u128, measure: Duration) -> Vec<u64> {
    let row = vec![9u8; 400];
    let mut latencies = Vec::new();
    let started = Instant::now();
    let mut id = first_id;
    while started.elapsed() < measure {
        let began = Instant::now();
        let txn = db.begin_write().expect("begin");
        {
            let mut live = txn.open_table(ROWS).expect("table");
            live.insert(id, row.as_slice()).expect("insert");
        }
        txn.commit().expect("commit");
        latencies.push(began.elapsed().as_micros() as u64);
        id += 1;
        std::thread::sleep(SMALL_EVERY);
    }
    latencies
}

fn percentile(sorted: &[u64], q: f64) -> u64 {
    sorted
        .get(((sorted.len().saturating_sub(1)) as f64 * q) as usize)
        .copied()
        .unwrap_or(0)
}

/// Runs one mode; returns the small commits' p99 (µs).
fn run(mode: Mode, settings: &Settings, alone_p99: Option<u64>) -> u64 {
    let dir = tempfile::tempdir().expect("temporary directory");
    let main = Arc::new(open(&dir.path().join("main.redb")));
    let bulk = match mode {
        Mode::Separate | Mode::SeparateUnsynced => Arc::new(open(&dir.path().join("bulk.redb"))),
        Mode::Alone | Mode::Shared => main.clone(),
    };
    seed(&bulk, settings.rows);
    if !Arc::ptr_eq(&main, &bulk) {
        // The small writer's file holds as many rows, so its tree is as deep.
        seed(&main, settings.rows);
    }
    // Let the seeding's dirty pages reach the disk before measuring.
    std::process::Command::new("sync").status().ok();

    let stop = Arc::new(AtomicBool::new(false));
    let purger = (mode != Mode::Alone).then(|| {
        let (bulk, stop) = (bulk.clone(), stop.clone());
        let settings = *settings;
        let synced = mode != Mode::SeparateUnsynced;
        std::thread::spawn(move || purge(&bulk, &settings, synced, &stop))
    });
    let mut latencies = small_commits(&main, settings.rows * 2, settings.measure);
    stop.store(true, Ordering::Relaxed);
    let figures = purger.map(|p| p.join().expect("purge thread"));

    latencies.sort_unstable();
    let p99 = percentile(&latencies, 0.99);
    let ratio = alone_p99.map_or(String::new(), |alone| {
        format!("  p99 / alone {:.2}x", p99 as f64 / alone.max(1) as f64)
    });
    println!(
        "{:17} small commits n={:5} p50 {:5} µs  p90 {:5} µs  p99 {:5} µs{ratio}",
        mode.name(),
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        p99,
    );
    if let Some(mut f) = figures {
        f.commits.sort_unstable();
        println!(
            "{:17} purge {:.0} rows/s, commit (chunk {}) p50 {} µs  p99 {} µs",
            "",
            f.rows as f64 / f.elapsed.as_secs_f64(),
            settings.chunk,
            percentile(&f.commits, 0.5),
            percentile(&f.commits, 0.99),
        );
    }
    p99
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // As the server does (see `storage::memory`).
    storage::memory::disable_transparent_huge_pages();
    let benching = std::env::args().any(|a| a == "--bench");
    let settings = if benching {
        Settings {
            rows: env("BENCH_N", 1_000_000),
            measure: Duration::from_secs_f64(env("BENCH_SECS", 10.0)),
            pace: env("BENCH_PACE", 56_000.0),
            chunk: env("BENCH_CHUNK", 250),
        }
    } else {
        Settings {
            rows: 20_000,
            measure: Duration::from_millis(200),
            pace: 56_000.0,
            chunk: 250,
        }
    };
    println!(
        "contention: {} seeded rows, small durable commits every {:?} for {:?}, purge at {} rows/s{}",
        settings.rows,
        SMALL_EVERY,
        settings.measure,
        settings.pace,
        if benching {
            ""
        } else {
            " (smoke run: pass --bench for real numbers)"
        }
    );
    let alone = run(Mode::Alone, &settings, None);
    for mode in [Mode::Shared, Mode::Separate, Mode::SeparateUnsynced] {
        run(mode, &settings, Some(alone));
    }
    // Alone again: this VM's p99 alone moves between runs, so the ratios above have a range.
    run(Mode::Alone, &settings, Some(alone));
}
