//! Crash safety: a child process writes through the group-commit writer and is killed with
//! SIGKILL at random moments; after every kill the store must open cleanly and hold every write
//! the child was told was durable, with its secondary tables (status counts, queue rows, index
//! outbox) in step with the records.
//!
//! The child is this test binary run again with `--exact crash_child` and
//! [`CHILD_ENV`] naming the data directory (this works under `cargo test` and `cargo nextest`).
//! It reports `ACK <id>` on stdout only after `store.write` returned Ok for the insert of `<id>`
//! (plus its delivery queue row), and `SENT <id>` after the commit that acked that queue row and
//! moved the notification to `sending`.
//!
//! A second child makes one deferred (bulk) write with nothing else going on and exits without
//! closing the store: that write must be on disk too, as it got a durable commit of its own.

use crate::common;

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::Rng;
use storage::records::{Notification, NotificationStatus};
use storage::{Store, StoreError, StoreOptions};
use uuid::Uuid;

/// Set (to the data directory) only in the child process.
const CHILD_ENV: &str = "NOTIFY_CRASH_CHILD_DIR";
const QUEUE: &str = "crash-deliver";
const SERVICE: Uuid = Uuid::from_u128(0x0c4a_5400_0000_4000_8000_0000_0000_0001);
const CYCLES: usize = 24;
/// Concurrent inserting tasks in the child.
const WRITERS: usize = 32;
/// Concurrent consumers of the delivery queue in the child.
const CONSUMERS: usize = 2;
/// The child gives up on its own after this long, in case the parent died without killing it.
const CHILD_LIFETIME: Duration = Duration::from_secs(120);

fn recipient_for(id: Uuid) -> String {
    format!("person.{}@example.com", &id.simple().to_string()[20..])
}

/// The record the child writes for `id`: the parent rebuilds it to compare byte for byte.
fn inserted_record(id: Uuid) -> Notification {
    common::notification_with_id(id, SERVICE, &recipient_for(id), NotificationStatus::Created)
}

fn sent_record(id: Uuid) -> Notification {
    let mut n = inserted_record(id);
    common::mark_sending(&mut n);
    n
}

// ---------------------------------------------------------------------------------------------
// Child
// ---------------------------------------------------------------------------------------------

/// Write one whole line to stdout and flush it. False once the parent has gone.
fn report(tag: &str, id: Uuid) -> bool {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{tag} {id}")
        .and_then(|()| out.flush())
        .is_ok()
}

/// An unexpected failure in the child: make it visible as a non-SIGKILL exit.
fn child_fail(what: &str, e: StoreError) -> ! {
    eprintln!("crash child: {what}: {e}");
    std::process::abort()
}

/// The child's body; a no-op unless the parent started this process.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    std::thread::spawn(|| {
        std::thread::sleep(CHILD_LIFETIME);
        std::process::exit(3);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("child runtime");
    runtime.block_on(child_main(PathBuf::from(dir)));
}

async fn child_main(dir: PathBuf) {
    let store =
        Store::open(&dir, StoreOptions::default()).unwrap_or_else(|e| child_fail("open store", e));
    {
        // Start on a fresh line: libtest may have printed "test crash_child ... " without one.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out);
        let _ = out.flush();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..WRITERS {
        let store = store.clone();
        tasks.spawn(async move {
            loop {
                let id = Uuid::now_v7();
                let n = inserted_record(id);
                store
                    .write(move |ctx| {
                        ctx.insert_notification(&n)?;
                        let now = ctx.now_ms();
                        ctx.enqueue(QUEUE, now, id.as_bytes())?;
                        Ok(())
                    })
                    .await
                    .unwrap_or_else(|e| child_fail("insert", e));
                if !report("ACK", id) {
                    return;
                }
            }
        });
    }
    for _ in 0..CONSUMERS {
        let store = store.clone();
        tasks.spawn(async move {
            loop {
                let claimed = store
                    .claim(QUEUE, 16, 60_000)
                    .await
                    .unwrap_or_else(|e| child_fail("claim", e));
                if claimed.is_empty() {
                    store
                        .wait_for_work(QUEUE, Duration::from_millis(50))
                        .await
                        .unwrap_or_else(|e| child_fail("wait_for_work", e));
                    continue;
                }
                for row in claimed {
                    let id = Uuid::from_slice(&row.payload).expect("queue payload is an id");
                    let seq = row.seq;
                    store
                        .write(move |ctx| {
                            // Checks first, then writes: a rejection must leave nothing behind.
                            let mut n = ctx
                                .get_notification(id)?
                                .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
                            if !ctx.ack(QUEUE, seq)? {
                                return Err(StoreError::Conflict(format!("row {seq} not leased")));
                            }
                            common::mark_sending(&mut n);
                            ctx.update_notification(&n)
                        })
                        .await
                        .unwrap_or_else(|e| child_fail("consume", e));
                    if !report("SENT", id) {
                        return;
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

// ---------------------------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    Ack(Uuid),
    Sent(Uuid),
}

/// Parse one complete stdout line of the child.
fn parse_line(line: &str) -> Option<Event> {
    let line = line.strip_suffix('\n')?.trim_end();
    for (tag, make) in [
        ("ACK ", Event::Ack as fn(Uuid) -> Event),
        ("SENT ", Event::Sent as fn(Uuid) -> Event),
    ] {
        if let Some(pos) = line.find(tag) {
            let rest = &line[pos + tag.len()..];
            if rest.len() == 36 {
                return Uuid::parse_str(rest).ok().map(make);
            }
        }
    }
    None
}

/// Read the child's stdout until it closes, sending every complete report line.
fn read_reports(stdout: std::process::ChildStdout, tx: mpsc::Sender<Event>) {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            // A line cut short by the kill has no newline and is not a report.
            Ok(_) => {
                if let Some(event) = parse_line(&line) {
                    let _ = tx.send(event);
                }
            }
        }
    }
}

/// Everything the child was told is durable, across all cycles.
#[derive(Default)]
struct Acknowledged {
    inserted: HashSet<Uuid>,
    sent: HashSet<Uuid>,
}

impl Acknowledged {
    fn record(&mut self, event: Event) {
        match event {
            Event::Ack(id) => self.inserted.insert(id),
            Event::Sent(id) => self.sent.insert(id),
        };
    }
}

/// Run one child and kill it. Returns how many reports it made.
fn run_and_kill_child(exe: &Path, dir: &Path, cycle: usize, acked: &mut Acknowledged) -> usize {
    let mut rng = rand::rng();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "crash::crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the crash child");
    let stdout = child.stdout.take().expect("child stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || read_reports(stdout, tx));

    let mut events = Vec::new();
    if cycle % 4 == 3 {
        // Now and then kill at a random moment from the start, which may be while the child
        // is still opening the store (and recovering from the previous kill).
        std::thread::sleep(Duration::from_millis(rng.random_range(0..=150)));
    } else {
        // Otherwise let it get going (the first start may be slow), then kill mid-stream.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(event) => {
                    events.push(event);
                    if matches!(event, Event::Ack(_)) {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    panic!("cycle {cycle}: the child acknowledged nothing within 60 s");
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().expect("wait for child");
                    panic!("cycle {cycle}: the child closed stdout before any ACK ({status})");
                }
            }
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(20..=300)));
    }
    if let Some(status) = child.try_wait().expect("poll child") {
        panic!("cycle {cycle}: the child exited by itself ({status}); see its stderr above");
    }
    child.kill().expect("kill child");
    let status = child.wait().expect("wait for child");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "cycle {cycle}: the child should have died of SIGKILL, not {status}"
        );
    }
    #[cfg(not(unix))]
    let _ = status;
    reader.join().expect("stdout reader thread");
    events.extend(rx.try_iter());
    for &event in &events {
        acked.record(event);
    }
    events.len()
}

/// Open the store after a kill and check it against everything acknowledged so far.
fn verify(dir: &Path, acked: &Acknowledged, cycle: usize) {
    let store = Store::open(dir, StoreOptions::default())
        .unwrap_or_else(|e| panic!("cycle {cycle}: the store did not open after SIGKILL: {e}"));

    let (ready, leased) = store
        .queue_depths()
        .expect("queue depths")
        .into_iter()
        .find(|(q, _, _)| q == QUEUE)
        .map(|(_, r, l)| (r, l))
        .unwrap_or((0, 0));
    assert_eq!(
        leased, 0,
        "cycle {cycle}: leases of the dead child must be returned on open"
    );

    // Every stored record is one the child wrote, whole, and the secondary tables agree.
    let all = common::all_notifications(&store);
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut created = 0u64;
    for n in &all {
        let expected = match n.status {
            NotificationStatus::Created => {
                created += 1;
                inserted_record(n.id)
            }
            NotificationStatus::Sending => sent_record(n.id),
            other => panic!("cycle {cycle}: {} has unexpected status {other}", n.id),
        };
        assert_eq!(n, &expected, "cycle {cycle}: stored record differs");
        *by_status.entry(n.status.as_str().to_string()).or_default() += 1;
    }

    let reader = store.read().expect("read snapshot");
    let count = reader.notification_count().expect("notification count");
    assert_eq!(
        count,
        all.len() as u64,
        "cycle {cycle}: table length vs scan"
    );
    assert!(
        count >= acked.inserted.len() as u64,
        "cycle {cycle}: {count} notifications stored but {} acknowledged",
        acked.inserted.len()
    );
    let counts: BTreeMap<String, u64> = reader
        .status_counts()
        .expect("status counts")
        .into_iter()
        .map(|(s, c)| (s.as_str().to_string(), c))
        .collect();
    assert_eq!(
        counts, by_status,
        "cycle {cycle}: status counts differ from the records"
    );
    assert_eq!(counts.values().sum::<u64>(), count);
    // One delivery row per notification not yet taken by a consumer.
    assert_eq!(
        ready, created,
        "cycle {cycle}: ready queue rows vs created notifications"
    );
    // One outbox row per insert (a status change leaves the search document as it was, so it
    // writes none); nothing drains the outbox here.
    assert_eq!(
        reader.outbox_len().expect("outbox length"),
        count,
        "cycle {cycle}: index outbox rows vs notification changes"
    );

    for &id in &acked.inserted {
        let stored = reader
            .get_notification(id)
            .expect("get notification")
            .unwrap_or_else(|| panic!("cycle {cycle}: acknowledged insert {id} was lost"));
        if acked.sent.contains(&id) {
            assert_eq!(stored, sent_record(id), "cycle {cycle}: {id}");
        } else {
            assert!(
                stored == inserted_record(id) || stored == sent_record(id),
                "cycle {cycle}: acknowledged {id} is not what was written: {stored:?}"
            );
        }
    }
    for &id in &acked.sent {
        let stored = reader.get_notification(id).expect("get notification");
        assert_eq!(
            stored,
            Some(sent_record(id)),
            "cycle {cycle}: acknowledged consume of {id} was lost"
        );
    }
    drop(reader);
    store.close();
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return; // never recurse from inside a child
    }
    let tmp = common::temp_dir();
    let dir = tmp.path().join("data");
    let exe = std::env::current_exe().expect("current test binary");
    let mut acked = Acknowledged::default();
    for cycle in 0..CYCLES {
        run_and_kill_child(&exe, &dir, cycle, &mut acked);
        verify(&dir, &acked, cycle);
    }
    assert!(
        acked.inserted.len() >= CYCLES,
        "the children acknowledged only {} inserts in {CYCLES} cycles",
        acked.inserted.len()
    );

    eprintln!(
        "crash: {CYCLES} SIGKILL cycles; {} inserts and {} consumes acknowledged",
        acked.inserted.len(),
        acked.sent.len()
    );

    // Finally every ready queue row must be claimable and name exactly the notifications no
    // consumer took.
    let store = Store::open(&dir, StoreOptions::default()).expect("final open");
    let created: HashSet<Uuid> = common::all_notifications(&store)
        .into_iter()
        .filter(|n| n.status == NotificationStatus::Created)
        .map(|n| n.id)
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let claimed = runtime
        .block_on(store.claim(QUEUE, usize::MAX, 60_000))
        .expect("claim every row");
    let payloads: HashSet<Uuid> = claimed
        .iter()
        .map(|row| Uuid::from_slice(&row.payload).expect("payload is an id"))
        .collect();
    assert_eq!(
        claimed.len(),
        payloads.len(),
        "one queue row per notification"
    );
    assert_eq!(payloads, created);
    eprintln!(
        "crash: {} notifications stored, {} still queued",
        common::all_notifications(&store).len(),
        created.len()
    );
    store.close();
}

/// Set (to the data directory) only in the child of
/// [`deferred_work_answered_with_nothing_waiting_survives_a_crash`].
const DEFERRED_CHILD_ENV: &str = "NOTIFY_DEFERRED_CHILD_DIR";
const DEFERRED_ID: Uuid = Uuid::from_u128(0x0c4a_5400_0000_7000_8000_0000_0000_00de);

/// The child: one deferred write with nothing else going on, then an exit that runs no
/// destructors (so redb's close, which would make a pending commit durable, never happens).
#[test]
fn deferred_child() {
    let Some(dir) = std::env::var_os(DEFERRED_CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("child runtime");
    runtime.block_on(async {
        let store = Store::open(Path::new(&dir), StoreOptions::default())
            .unwrap_or_else(|e| child_fail("open store", e));
        let n = inserted_record(DEFERRED_ID);
        store
            .write_deferred(move |ctx| ctx.insert_notification(&n))
            .await
            .unwrap_or_else(|e| child_fail("deferred write", e));
        std::process::exit(0);
    });
}

/// Bulk work answered while no durable write waited paid for its own fsync: it is on disk
/// even though the process died before any later commit or a clean close.
#[test]
fn deferred_work_answered_with_nothing_waiting_survives_a_crash() {
    if std::env::var_os(DEFERRED_CHILD_ENV).is_some() || std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let tmp = common::temp_dir();
    let dir = tmp.path().join("data");
    let status = Command::new(std::env::current_exe().expect("current test binary"))
        .args([
            "--exact",
            "crash::deferred_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DEFERRED_CHILD_ENV, &dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("run the child");
    assert!(status.success(), "child failed: {status}");
    let store = Store::open(&dir, StoreOptions::default()).expect("open after the crash");
    let found = store
        .read()
        .expect("read")
        .get_notification(DEFERRED_ID)
        .expect("get");
    assert_eq!(found, Some(inserted_record(DEFERRED_ID)));
    store.close();
}
