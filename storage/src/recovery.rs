//! What the writer does after a storage fault.
//!
//! Once a commit fails with an I/O error (typically `No space left on device`), redb answers
//! every later write with "Previous I/O error occurred. Please close and re-open the
//! database". So the writer, which owns every write, does exactly that:
//!
//! 1. [`begin`]: it takes the database out of the readers' slot (reads are refused at once
//!    from now on), records the fault in [`Health`] (`/_status` says `degraded`, with the
//!    reason) and answers the failed batch, and any bulk work it held back, with
//!    [`StoreError::Unavailable`]. None of them had been acknowledged, and every write
//!    acknowledged before is in the file: redb's last durable commit is untouched by a failed
//!    one.
//! 2. [`reopen`]: it drops its handle (redb's close releases the file even while old read
//!    snapshots linger; they fail from then on) and, with exponential back-off, waits until
//!    the data directory's filesystem has some room again, then reopens the database on a
//!    helper thread (redb checks and repairs the file, which can take a while on a large
//!    store). Meanwhile it answers every write that arrives with
//!    [`StoreError::Unavailable`] at once, so callers fail fast instead of queueing.
//! 3. When the database is open again, it goes back in the slot, the fault is cleared and the
//!    writer resumes group commits: later writes work without a restart.
//!
//! Nothing here is on the commit path: the writer only comes here after a failed commit.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use redb::Database;

use crate::error::{Result, StoreError};
use crate::log_limit::LogEvery;
use crate::writer::{BoxedOp, WriterState};

/// The first wait before reopening; doubled after each failed attempt, up to [`MAX_RETRY`].
pub(crate) const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(10);
/// A reopen is tried only once the data directory's filesystem has at least this much free:
/// opening writes the file's header, and a repair may write its allocator state.
const REOPEN_MIN_FREE_BYTES: u64 = 1 << 20;
/// How often the writer looks at an attempt running on its helper thread.
const POLL: Duration = Duration::from_millis(20);

/// One line per interval for failed attempts, however quickly they come.
static RETRY_LOG: LogEvery = LogEvery::new(Duration::from_secs(30));

/// Take the database away from readers, record the fault, and return the error every caller
/// is answered with until it is reopened.
pub(crate) fn begin(state: &WriterState, fault: &StoreError, backoff: Duration) -> StoreError {
    let config = &state.config;
    config.slot.set(None);
    config
        .health
        .set_fault(fault.to_string(), Instant::now() + backoff);
    tracing::error!(
        error = %fault,
        "storage failure: closing the database to reopen it (with back-off); every read and \
         write is refused until then, and nothing acknowledged is lost"
    );
    config.health.unavailable()
}

/// Reopen the database once possible, answering every operation that arrives meanwhile with
/// [`StoreError::Unavailable`]. `backoff` is the wait before the first attempt (and carries
/// the last one between faults). Returns the reopened database and its sequence, or `None`
/// when every writer handle is gone (the store is being closed).
pub(crate) fn reopen(
    rx: &mpsc::Receiver<BoxedOp>,
    state: &WriterState,
    backoff: &mut Duration,
) -> Option<(Arc<Database>, u64)> {
    let health = &state.config.health;
    let started = Instant::now();
    let mut next = started + *backoff;
    let mut attempt: Option<std::thread::JoinHandle<Result<Database>>> = None;
    let mut attempts = 0u32;
    let mut refused = 0u64;
    let wait_more = |backoff: &mut Duration, next: &mut Instant, why: &str| {
        *backoff = (*backoff * 2).min(MAX_RETRY);
        *next = Instant::now() + *backoff;
        health.set_retry_at(*next);
        if let Some(held_back) = RETRY_LOG.ready() {
            tracing::warn!(
                retry_in_ms = backoff.as_millis() as u64,
                held_back,
                "the database is still closed after a storage failure: {why}"
            );
        }
    };
    loop {
        let wait = match attempt {
            Some(_) => POLL,
            None => next.saturating_duration_since(Instant::now()),
        };
        match rx.recv_timeout(wait) {
            Ok(op) => {
                refuse(op, state);
                refused += 1;
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                if let Some(running) = attempt {
                    let _ = running.join();
                }
                return None;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Some(running) = attempt.take() {
            if !running.is_finished() {
                attempt = Some(running);
                continue;
            }
            attempts += 1;
            let reopened = running
                .join()
                .unwrap_or_else(|_| {
                    Err(StoreError::Io(Arc::new(std::io::Error::other(
                        "reopening the database panicked",
                    ))))
                })
                .and_then(|db| {
                    let seq = crate::writer::read_seq(&db)?;
                    Ok((Arc::new(db), seq))
                });
            match reopened {
                Ok((db, seq)) => {
                    state.config.slot.set(Some(db.clone()));
                    health.clear_fault();
                    tracing::info!(
                        after_ms = started.elapsed().as_millis() as u64,
                        attempts,
                        refused,
                        "database reopened after the storage failure: reads and writes work again"
                    );
                    return Some((db, seq));
                }
                Err(e) => wait_more(backoff, &mut next, &format!("reopening failed: {e}")),
            }
            continue;
        }
        if Instant::now() < next {
            continue;
        }
        if let Ok(stats) = fs4::statvfs(health.dir())
            && stats.available_space() < REOPEN_MIN_FREE_BYTES
        {
            wait_more(
                backoff,
                &mut next,
                &format!(
                    "waiting for free space on the data directory's filesystem ({} bytes free)",
                    stats.available_space()
                ),
            );
            continue;
        }
        let open = state.config.reopen.clone();
        match std::thread::Builder::new()
            .name("notify-reopen".into())
            .spawn(move || open())
        {
            Ok(running) => attempt = Some(running),
            Err(e) => wait_more(backoff, &mut next, &format!("cannot start a thread: {e}")),
        }
    }
}

/// Answer an operation that arrived while the database is closed.
fn refuse(op: BoxedOp, state: &WriterState) {
    if op.needs_durability() {
        state.durable_queued.fetch_sub(1, Ordering::Relaxed);
    }
    op.finish(Err(state.config.health.unavailable()));
}

/// Answer operations taken before the fault with `error`.
pub(crate) fn refuse_all(ops: impl Iterator<Item = BoxedOp>, error: &StoreError) {
    for op in ops {
        op.finish(Err(error.clone()));
    }
}
