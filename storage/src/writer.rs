//! Group commit: one thread owns every write transaction.
//!
//! Callers hand the writer an operation (a closure over [`WriteCtx`]) and wait on a oneshot.
//! The writer opens a transaction for the first operation, applies it and every one that
//! arrives while it works (never waiting for a batch to fill, except briefly under heavy load),
//! commits durably (fsync), and only then answers each caller. So an answer always means
//! "durable", and many callers share the cost of one fsync. Applying each operation as it
//! arrives, rather than collecting the batch first, lets the writer's tree work overlap the
//! callers preparing the rest of the batch: +20–30% acknowledged inserts/s at 256 writers.
//!
//! Bulk work that a crash may safely undo and redo (retention batches) can be submitted with
//! [`Writer::write_deferred`]. Durable operations go first: a deferred one gets a commit only
//! when no durable one is waiting (or after [`DEFERRED_MAX_WAIT`]), so an API write waits
//! behind at most one chunk of bulk work. A chunk that checks [`WriteCtx::should_give_way`]
//! between rows stops early when a durable write arrives (its caller sends the rest again), so
//! that write waits for a few rows only. The durable writes waiting then join the chunk's
//! transaction: one commit and one fsync carry both. (Until December 2026 the chunk had a
//! commit of its own without fsync and the API write a second one; redb keeps a non-durable
//! commit's pages in memory, so the second wrote them anyway, and the first cost its fixed
//! page work for nothing: ~400 such commits a second during the retention bench.)
//!
//! An operation must do its checks before it writes: if it returns a rejection
//! ([`StoreError::is_fatal_for_batch`] is false) it is assumed to have written nothing and its
//! neighbours commit as usual. A storage failure aborts the whole batch and every caller in it
//! gets the error; nothing in that batch was acknowledged, so nothing is lost. After an I/O
//! failure redb refuses every later write until the database is reopened: the writer then
//! closes and reopens it itself, answering writes with [`StoreError::Unavailable`] meanwhile
//! ([`crate::recovery`]).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use redb::{Database, ReadableTable};
use tokio::sync::oneshot;

use crate::clock::SharedClock;
use crate::error::{Result, StoreError};
use crate::health::{DbSlot, Health};
use crate::queue::Wakers;
use crate::records::{NotificationStatus, NotificationType};
use crate::stats::{BatchEntries, WriterStats};
use crate::tables::Tables;

pub(crate) const SEQ_KEY: &str = "seq";

/// What an operation sees: every table, open in the batch's transaction, plus the batch's time
/// and a sequence generator.
pub struct WriteCtx<'txn> {
    pub tables: Tables<'txn>,
    now_micros: i64,
    seq: u64,
    pub(crate) woken: BTreeSet<String>,
    /// Status count changes of this batch, applied once at its end (one read-modify-write per
    /// status per commit instead of one per operation).
    status_deltas: std::collections::BTreeMap<&'static str, i64>,
    /// Hourly status count changes of this batch ([`crate::hourly_counts`]), applied the same way.
    hourly_deltas: std::collections::BTreeMap<crate::hourly_counts::CountKey, i64>,
    /// Notifications that entered a status in this batch (counted in [`WriterStats`] once the
    /// commit is durable).
    entered: BatchEntries,
    /// Durable operations sent but not yet taken by the writer.
    durable_queued: &'txn AtomicUsize,
    /// Whether this commit's (deferred) work should give way to waiting durable writes: not
    /// in durable batches, and not for deferred work already passed over for
    /// [`DEFERRED_MAX_WAIT`] (so a purge under full load still moves).
    may_give_way: bool,
    health: &'txn Health,
}

impl WriteCtx<'_> {
    /// True when this is deferred work and a durable write (an API request, say) is waiting
    /// for the writer. Long deferred operations check it between rows and stop early, so that
    /// write waits for a few rows rather than a whole chunk.
    pub fn should_give_way(&self) -> bool {
        self.may_give_way && self.durable_queued.load(Ordering::Relaxed) > 0
    }

    /// The time the batch started (one clock read per commit, shared by its operations).
    pub fn now_micros(&self) -> i64 {
        self.now_micros
    }

    pub fn now_ms(&self) -> i64 {
        self.now_micros.div_euclid(1000)
    }

    /// A new uuid v7 stamped with the batch's time.
    pub fn new_id(&self) -> uuid::Uuid {
        crate::clock::v7_at_micros(self.now_micros)
    }

    pub(crate) fn bump_status(&mut self, status: &'static str, delta: i64) {
        *self.status_deltas.entry(status).or_default() += delta;
    }

    /// Count (`delta` 1) or uncount (-1) one notification in its hourly status count; `None`
    /// (a test key) is not counted.
    pub(crate) fn bump_hourly(&mut self, key: Option<crate::hourly_counts::CountKey>, delta: i64) {
        if let Some(key) = key {
            *self.hourly_deltas.entry(key).or_default() += delta;
        }
    }

    /// A notification of type `kind` entered `status` (was inserted in it, or changed to it).
    pub(crate) fn status_entered(&mut self, kind: NotificationType, status: NotificationStatus) {
        self.entered.entered(kind, status);
    }

    /// A store-wide, strictly increasing sequence number (queue rows, outbox entries).
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Refuse new work (a new notification, say) with [`StoreError::LowDiskSpace`] while free
    /// space on the data directory's filesystem is below the low-disk watermark, so that work
    /// already accepted can still finish (see [`crate::health`]). A rejection: call it before
    /// writing anything.
    pub fn check_space_for_new_work(&self) -> Result<()> {
        self.health.check_new_work()
    }
}

/// Type-erased pending operation: applied inside the batch, answered after the commit.
pub(crate) trait PendingOp: Send {
    fn apply(&mut self, ctx: &mut WriteCtx<'_>) -> Result<()>;
    fn finish(self: Box<Self>, commit: Result<()>);
    /// False for deferred (bulk) operations: they wait while durable ones are queued.
    fn needs_durability(&self) -> bool;
}

struct Op<F, R> {
    f: Option<F>,
    result: Option<Result<R>>,
    reply: oneshot::Sender<Result<R>>,
    durable: bool,
}

impl<F, R> PendingOp for Op<F, R>
where
    F: FnOnce(&mut WriteCtx<'_>) -> Result<R> + Send,
    R: Send,
{
    fn apply(&mut self, ctx: &mut WriteCtx<'_>) -> Result<()> {
        let Some(f) = self.f.take() else {
            return Ok(());
        };
        // A panicking operation may have written half its rows: abandon the batch like a
        // storage failure, but keep the writer thread (and so the store) alive.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(ctx)))
            .unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(StoreError::Io(Arc::new(std::io::Error::other(format!(
                    "a write operation panicked: {what}"
                )))))
            });
        match outcome {
            Err(e) if e.is_fatal_for_batch() => Err(e),
            other => {
                self.result = Some(other);
                Ok(())
            }
        }
    }

    fn needs_durability(&self) -> bool {
        self.durable
    }

    fn finish(self: Box<Self>, commit: Result<()>) {
        let answer = match commit {
            Ok(()) => self.result.unwrap_or(Err(StoreError::WriterGone)),
            Err(e) => Err(e),
        };
        // The caller may have given up waiting; its write is durable all the same.
        let _ = self.reply.send(answer);
    }
}

pub(crate) type BoxedOp = Box<dyn PendingOp>;

/// The handle callers use; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<BoxedOp>,
    durable_queued: Arc<AtomicUsize>,
}

pub(crate) struct WriterConfig {
    pub max_batch: usize,
    pub clock: SharedClock,
    pub wakers: Arc<Wakers>,
    /// The store's condition (a storage fault, free space).
    pub health: Arc<Health>,
    /// Where readers find the open database; emptied and refilled by [`crate::recovery`].
    pub slot: Arc<DbSlot>,
    /// Opens the database again after a storage fault.
    pub reopen: Reopen,
    /// What the writer counts for monitoring.
    pub stats: Arc<WriterStats>,
}

/// Opens the store's database (the same way [`crate::Store::open`] did).
pub(crate) type Reopen = Arc<dyn Fn() -> Result<Database> + Send + Sync>;

/// What the writer thread owns besides the database.
pub(crate) struct WriterState {
    pub(crate) config: WriterConfig,
    /// Incremented by [`Writer::submit`] for each durable operation, decremented when the
    /// writer takes it: see [`WriteCtx::should_give_way`].
    pub(crate) durable_queued: Arc<AtomicUsize>,
}

impl WriterState {
    /// The context for one commit's operations, starting from sequence `seq`.
    fn ctx<'txn>(
        &'txn self,
        txn: &'txn redb::WriteTransaction,
        seq: u64,
        may_give_way: bool,
    ) -> WriteCtx<'txn> {
        WriteCtx {
            tables: Tables::new(txn),
            now_micros: self.config.clock.now_micros(),
            seq,
            woken: BTreeSet::new(),
            status_deltas: Default::default(),
            hourly_deltas: Default::default(),
            entered: BatchEntries::default(),
            durable_queued: &self.durable_queued,
            may_give_way,
            health: &self.config.health,
        }
    }
}

impl Writer {
    pub(crate) fn start(
        db: Arc<Database>,
        config: WriterConfig,
    ) -> Result<(Writer, std::thread::JoinHandle<()>)> {
        let start_seq = read_seq(&db)?;
        let (tx, rx) = mpsc::channel::<BoxedOp>();
        let durable_queued = Arc::new(AtomicUsize::new(0));
        let state = WriterState {
            config,
            durable_queued: durable_queued.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("notify-writer".into())
            .spawn(move || run(db, rx, state, start_seq))?;
        Ok((Writer { tx, durable_queued }, handle))
    }

    fn submit<F, R>(&self, f: F, durable: bool) -> Result<oneshot::Receiver<Result<R>>>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        if durable {
            self.durable_queued.fetch_add(1, Ordering::Relaxed);
        }
        let sent = self.tx.send(Box::new(Op {
            f: Some(f),
            result: None,
            reply,
            durable,
        }));
        if sent.is_err() {
            if durable {
                self.durable_queued.fetch_sub(1, Ordering::Relaxed);
            }
            return Err(StoreError::WriterGone);
        }
        Ok(rx)
    }

    /// Apply `f` in the next group commit; resolves once that commit is durable.
    pub async fn write<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.submit(f, true)?
            .await
            .map_err(|_| StoreError::WriterGone)?
    }

    /// Apply `f` in a durable commit of its own, after every durable write waiting (which may
    /// join it). Only for bulk work that a crash may undo and that is simply done again (see
    /// the module notes).
    pub async fn write_deferred<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.submit(f, false)?
            .await
            .map_err(|_| StoreError::WriterGone)?
    }

    /// The same for threads outside the async runtime (CLI, indexer, tests).
    pub fn write_blocking<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.submit(f, true)?
            .blocking_recv()
            .map_err(|_| StoreError::WriterGone)?
    }
}

pub(crate) fn read_seq(db: &Database) -> Result<u64> {
    use redb::ReadableDatabase;
    let txn = db.begin_read()?;
    let meta = match txn.open_table(crate::tables::META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    Ok(meta
        .get(SEQ_KEY)?
        .map(|v| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&v.value()[..8]);
            u64::from_le_bytes(b)
        })
        .unwrap_or(0))
}

type Held = std::collections::VecDeque<(Instant, BoxedOp)>;

/// How long a deferred operation may be passed over by durable ones before it gets a commit
/// of its own anyway: API writes go first, but a purge under full load still moves.
const DEFERRED_MAX_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// A commit of at least this many operations means many callers are writing at once, and the
/// next batch may wait to grow back to the last one's size: as long as operations keep coming
/// (no gap longer than [`LINGER_GAP`]), for at most [`LINGER_MAX`] in all.
const LINGER_FROM: usize = 32;
const LINGER_GAP: std::time::Duration = std::time::Duration::from_micros(150);
const LINGER_MAX: std::time::Duration = std::time::Duration::from_millis(1);

/// The writer thread: group commits until every handle is gone; after a storage fault, the
/// database is reopened ([`crate::recovery`]) and group commits resume.
fn run(mut db: Arc<Database>, rx: mpsc::Receiver<BoxedOp>, state: WriterState, mut seq: u64) {
    let mut backoff = crate::recovery::FIRST_RETRY;
    loop {
        match group_commits(&db, &rx, &state, seq, backoff) {
            Stopped::Closed => break,
            Stopped::Fault { committed_any } => {
                // A fault right after a reopen waits longer before the next one.
                if committed_any {
                    backoff = crate::recovery::FIRST_RETRY;
                }
                drop(db);
                match crate::recovery::reopen(&rx, &state, &mut backoff) {
                    Some((reopened, reopened_seq)) => {
                        db = reopened;
                        seq = reopened_seq;
                    }
                    None => break,
                }
            }
        }
    }
    tracing::debug!("storage writer stopped");
}

/// Why [`group_commits`] returned.
enum Stopped {
    /// Every [`Writer`] handle is gone and everything sent was answered.
    Closed,
    /// A commit failed with a storage fault; its callers and the held bulk work were answered
    /// with [`StoreError::Unavailable`]. `committed_any`: a batch ended without a storage
    /// fault before this one (so the database worked after its last reopen).
    Fault { committed_any: bool },
}

fn group_commits(
    db: &Database,
    rx: &mpsc::Receiver<BoxedOp>,
    state: &WriterState,
    mut seq: u64,
    backoff: std::time::Duration,
) -> Stopped {
    // Durable operations are committed as soon as possible, all waiting ones together.
    // Deferred ones (bulk work) wait in `held` and get a commit each when no durable operation
    // is waiting, so an API write never waits behind more than the one chunk being committed
    // (and only a few rows of it when that chunk checks `should_give_way`).
    let mut batch: Vec<BoxedOp> = Vec::with_capacity(state.config.max_batch);
    let mut held = Held::new();
    let mut open = true;
    let mut last_batch = 0usize;
    let mut committed_any = false;
    loop {
        let overdue = held
            .front()
            .is_some_and(|(since, _)| since.elapsed() >= DEFERRED_MAX_WAIT);
        let first = if overdue {
            None
        } else if held.is_empty() && open {
            match rx.recv() {
                Ok(op) => Some(op),
                Err(_) => {
                    open = false;
                    None
                }
            }
        } else if open {
            match rx.try_recv() {
                Ok(op) => Some(op),
                Err(mpsc::TryRecvError::Empty) => None,
                Err(mpsc::TryRecvError::Disconnected) => {
                    open = false;
                    None
                }
            }
        } else {
            None
        };
        let start = match first {
            Some(op) if !op.needs_durability() => {
                held.push_back((Instant::now(), op));
                continue;
            }
            Some(op) => {
                state.durable_queued.fetch_sub(1, Ordering::Relaxed);
                batch.push(op);
                First::Durable { last_batch }
            }
            None => {
                let Some((_, op)) = held.pop_front() else {
                    if open {
                        continue;
                    }
                    break;
                };
                batch.push(op);
                // Work passed over for long enough runs to the end of its chunk.
                First::Deferred {
                    may_give_way: !overdue,
                }
            }
        };
        let outcome = commit_batch(db, rx, state, seq, start, &mut batch, &mut held);
        if !outcome.open {
            open = false;
        }
        if let First::Durable { .. } = start {
            last_batch = batch.len();
        }
        match answer(outcome.committed, &mut batch, &state.config, seq) {
            Ok(next) => {
                seq = next;
                committed_any = true;
            }
            Err(fault) => {
                let refused = crate::recovery::begin(state, &fault, backoff);
                let held_ops = held.drain(..).map(|(_, op)| op);
                crate::recovery::refuse_all(batch.drain(..).chain(held_ops), &refused);
                return Stopped::Fault { committed_any };
            }
        }
    }
    Stopped::Closed
}

struct BatchOutcome {
    committed: Result<Committed>,
    /// False once every [`Writer`] handle is gone.
    open: bool,
}

/// What a commit starts from: its first operation, `batch[0]`.
#[derive(Clone, Copy)]
enum First {
    /// A durable operation; the last commit held `last_batch` operations.
    Durable { last_batch: usize },
    /// A deferred one, which gives way to durable writes if `may_give_way`.
    Deferred { may_give_way: bool },
}

/// Open one durable transaction for `batch` (holding its first operation) and apply each
/// durable operation the moment it arrives, so the writer's tree work overlaps the callers
/// preparing the rest of the batch instead of waiting for all of it; then commit (fsync).
/// Deferred operations that arrive meanwhile go to `held`. A deferred first operation is
/// joined only by the durable writes that arrived while it was applied (see the module notes):
/// one commit and one fsync for both, instead of one for the bulk work and another for the
/// API write behind it.
fn commit_batch(
    db: &Database,
    rx: &mpsc::Receiver<BoxedOp>,
    state: &WriterState,
    seq: u64,
    first: First,
    batch: &mut Vec<BoxedOp>,
    held: &mut Held,
) -> BatchOutcome {
    let mut open = true;
    let committed = (|| {
        let txn = db.begin_write()?;
        let finished = {
            let may_give_way = matches!(first, First::Deferred { may_give_way: true });
            let mut ctx = state.ctx(&txn, seq, may_give_way);
            batch[0].apply(&mut ctx)?;
            let waiting = match first {
                First::Durable { last_batch } => Some(Waiting::Linger { last_batch }),
                First::Deferred { .. } if state.durable_queued.load(Ordering::Relaxed) > 0 => {
                    Some(Waiting::ForCounted)
                }
                First::Deferred { .. } => None,
            };
            if let Some(waiting) = waiting {
                ctx.may_give_way = false;
                take_durable(&mut ctx, rx, state, waiting, batch, held, &mut open)?;
            }
            finish_batch(ctx, seq)?
        };
        let commit_started = Instant::now();
        txn.commit()?;
        Ok(Committed {
            took: commit_started.elapsed(),
            ..finished
        })
    })();
    BatchOutcome { committed, open }
}

/// How [`take_durable`] waits when no operation is in the channel.
#[derive(Clone, Copy)]
enum Waiting {
    /// Under heavy load (the last commit held `last_batch` ≥ [`LINGER_FROM`] operations),
    /// briefly, for the next ones; otherwise not at all.
    Linger { last_batch: usize },
    /// Bulk work gave way to a durable write that was counted just before it was sent: for
    /// that one, briefly, if it is not in the channel yet.
    ForCounted,
}

/// Apply every durable operation already sent (and, under heavy load, those that follow
/// closely) in `ctx`'s transaction, appending them to `batch`; deferred ones go to `held`.
fn take_durable(
    ctx: &mut WriteCtx<'_>,
    rx: &mpsc::Receiver<BoxedOp>,
    state: &WriterState,
    waiting: Waiting,
    batch: &mut Vec<BoxedOp>,
    held: &mut Held,
    open: &mut bool,
) -> Result<()> {
    let first_durable = batch.len();
    let mut linger_until = None;
    while *open && batch.len() < state.config.max_batch {
        let next = match rx.try_recv() {
            Ok(op) => op,
            Err(mpsc::TryRecvError::Disconnected) => {
                *open = false;
                break;
            }
            Err(mpsc::TryRecvError::Empty) => {
                // A durable write that made bulk work give way was counted just before it
                // was sent: it is a moment away. Under heavy load, also wait a moment for the
                // callers answered by the last commit to send their next operation: one
                // commit of 256 costs far less than two of 128 (the fsync and the per-commit
                // page writes are shared).
                let wait = match waiting {
                    Waiting::ForCounted if batch.len() == first_durable => LINGER_GAP,
                    Waiting::Linger { last_batch }
                        if last_batch >= LINGER_FROM && batch.len() < last_batch =>
                    {
                        let until =
                            *linger_until.get_or_insert_with(|| Instant::now() + LINGER_MAX);
                        let Some(left) = until.checked_duration_since(Instant::now()) else {
                            break;
                        };
                        left.min(LINGER_GAP)
                    }
                    _ => break,
                };
                match rx.recv_timeout(wait) {
                    Ok(op) => op,
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        *open = false;
                        break;
                    }
                }
            }
        };
        if next.needs_durability() {
            state.durable_queued.fetch_sub(1, Ordering::Relaxed);
            batch.push(next);
            let last = batch.len() - 1;
            batch[last].apply(ctx)?;
        } else {
            held.push_back((Instant::now(), next));
        }
    }
    Ok(())
}

/// Answer a batch's callers (all with the error if its commit failed) and wake the queues it
/// filled; returns the sequence to continue from. A storage fault is returned unanswered: the
/// database must be reopened first ([`crate::recovery`]).
fn answer(
    committed: Result<Committed>,
    batch: &mut Vec<BoxedOp>,
    config: &WriterConfig,
    seq: u64,
) -> Result<u64> {
    match committed {
        Ok(Committed {
            seq: new_seq,
            woken,
            entered,
            took,
        }) => {
            config.stats.committed(took, batch.len(), &entered);
            for op in batch.drain(..) {
                op.finish(Ok(()));
            }
            for queue in woken {
                config.wakers.wake(&queue);
            }
            Ok(new_seq)
        }
        Err(e) if e.is_storage_fault() => {
            config.stats.failed();
            Err(e)
        }
        Err(e) => {
            config.stats.failed();
            tracing::error!(error = %e, ops = batch.len(), "group commit failed; every operation in it was refused");
            for op in batch.drain(..) {
                op.finish(Err(e.clone()));
            }
            Ok(seq)
        }
    }
}

/// A batch written and committed.
struct Committed {
    /// The sequence to continue from.
    seq: u64,
    /// Queues to wake.
    woken: BTreeSet<String>,
    entered: BatchEntries,
    /// How long the commit (and its fsync) took.
    took: std::time::Duration,
}

/// The batch-wide writes every commit ends with: the summed status count changes (store-wide
/// and hourly) and the
/// sequence high-water mark. Returns what to do once the commit is durable.
fn finish_batch(mut ctx: WriteCtx<'_>, seq: u64) -> Result<Committed> {
    for (status, delta) in std::mem::take(&mut ctx.status_deltas) {
        if delta != 0 {
            // `open()`, not the panicking deref: this runs outside the operations' guard.
            let status_counts = ctx.tables.status_counts.open()?;
            let current = status_counts.get(status)?.map(|v| v.value()).unwrap_or(0);
            status_counts.insert(status, current.saturating_add_signed(delta))?;
        }
    }
    let hourly = std::mem::take(&mut ctx.hourly_deltas);
    if hourly.values().any(|d| *d != 0) {
        let cut = crate::hourly_counts::pruned_before(&*ctx.tables.meta.open()?)?;
        crate::hourly_counts::apply_deltas(ctx.tables.hourly_status_counts.open()?, cut, hourly)?;
    }
    if ctx.seq != seq {
        ctx.tables
            .meta
            .open()?
            .insert(SEQ_KEY, ctx.seq.to_le_bytes().as_slice())?;
    }
    Ok(Committed {
        seq: ctx.seq,
        woken: ctx.woken,
        entered: ctx.entered,
        took: std::time::Duration::ZERO,
    })
}
