//! notify's storage engine. It knows nothing of HTTP, templates or providers.
//!
//! Code map:
//! - [`tables`]: every redb table, in one place;
//! - [`migrations`]: the schema version and the steps that bring an older store up to it;
//! - [`codec`]: the one versioned record encoding (format byte + bincode 2);
//! - [`records`]: the plain stored records;
//! - [`writer`]: group commit — one thread owns write transactions, callers are answered once
//!   their commit is durable;
//! - [`health`] and [`recovery`]: storage faults (the writer closes and reopens the database,
//!   refusing everything meanwhile) and the low-disk watermark (new work refused before the
//!   disk is full); [`log_limit`]: one log line per interval for a failure that repeats;
//! - [`queue`]: durable queues (ready/leased rows, retries, lease recovery, wake-ups);
//! - [`entities`]: typed reads and writes that keep secondary tables in step;
//! - [`hourly_counts`]: live status counts per service and hour ("today so far" without a walk);
//! - [`index`] and [`indexer`]: the derived tantivy index, fed from an outbox table written in
//!   the same transaction as each notification change;
//! - [`check`]: is a store whole (its file, every table, the index against it);
//! - [`snapshot`]: the whole store as one consistent stream of rows, and a new store made
//!   from one (backups and restores);
//! - [`inbound_numbers`], [`unsubscribe`], [`sms_providers`]: the inbound-number pool,
//!   one-click unsubscribe requests and their reports, and text-message provider shares;
//! - [`clock`]: injected time;
//! - [`stats`]: what the writer counts for monitoring (commit times, status entries);
//! - [`files`]: owner-only directories and files (the data directory holds personal data);
//! - [`memory`]: process memory settings (transparent huge pages off).
//!
//! Invariants:
//! - an answered write is durable (fsync'ed) — the writer answers only after commit;
//! - a notification, its listing row, its status count and its outbox entry change together;
//! - every leased queue row returns to its queue when the store is opened (the holder died);
//! - the search index can always be rebuilt from redb alone.

pub mod accounts;
pub mod audit;
pub mod check;
pub mod clock;
pub mod codec;
pub mod entities;
pub mod error;
pub mod facts;
pub mod files;
pub mod health;
pub mod hourly_counts;
pub mod inbound_numbers;
pub mod index;
pub mod indexer;
pub mod jobs;
pub mod log_limit;
pub mod memory;
pub mod migrations;
pub mod print;
pub mod queue;
pub mod records;
pub mod recovery;
pub mod retention;
pub mod returned_letters;
pub mod sms_providers;
pub mod snapshot;
pub mod sso;
pub mod stats;
pub mod tables;
pub mod unsubscribe;
pub mod upkeep;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase};

pub use clock::{Clock, ManualClock, SharedClock, SystemClock, v7_floor};
pub use entities::Reader;
pub use error::{Result, StoreError};
pub use health::{LowDiskWatermark, StoreHealth};
pub use queue::{Claimed, RetryOutcome};
pub use writer::{WriteCtx, Writer};

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most operations in one group commit.
    pub max_batch: usize,
    /// redb page cache, bytes.
    pub cache_size: usize,
    pub clock: SharedClock,
    /// Below how much free space new work is refused (see [`health`]).
    pub low_disk: LowDiskWatermark,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_batch: 4096,
            cache_size: 256 * 1024 * 1024,
            clock: Arc::new(SystemClock),
            low_disk: LowDiskWatermark::default(),
        }
    }
}

/// The open store: redb plus its writer thread. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// The open database (empty while the writer reopens it after a storage fault).
    slot: Arc<health::DbSlot>,
    health: Arc<health::Health>,
    writer: Writer,
    clock: SharedClock,
    wakers: Arc<queue::Wakers>,
    stats: Arc<stats::WriterStats>,
    dir: PathBuf,
    writer_thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The database file inside a data directory.
pub fn database_path(dir: &Path) -> PathBuf {
    dir.join("notify.redb")
}

impl Store {
    /// Open (or create) the store in `dir`: migrate an older store to this binary's schema
    /// (after backing it up; see [`migrations`]), create every table, return leased queue rows to
    /// their queues, and start the writer.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Store> {
        files::create_private_dir(dir)?;
        files::warn_if_not_private(dir, "data directory");
        let path = database_path(dir);
        // redb would create it with the process's default mode (0644 under the usual umask).
        files::create_private_file(&path)?;
        files::warn_if_not_private(&path, "database file");
        let db = open_database(&path, options.cache_size)?;
        migrations::migrate(&db, &path, migrations::STEPS, options.clock.now())?;
        prepare_schema(&db)?;
        let recovered = queue::recover_leases(&db)?;
        if recovered > 0 {
            tracing::info!(
                recovered,
                "returned leased queue rows from the previous run to their queues"
            );
        }
        let db = Arc::new(db);
        let wakers = Arc::new(queue::Wakers::default());
        let slot = Arc::new(health::DbSlot::new(db.clone()));
        let health = Arc::new(health::Health::new(dir, options.low_disk));
        let cache_size = options.cache_size;
        let stats = Arc::new(stats::WriterStats::default());
        let (writer, handle) = Writer::start(
            db,
            writer::WriterConfig {
                max_batch: options.max_batch.max(1),
                clock: options.clock.clone(),
                wakers: wakers.clone(),
                health: health.clone(),
                slot: slot.clone(),
                reopen: Arc::new(move || open_database(&path, cache_size)),
                stats: stats.clone(),
            },
        )?;
        Ok(Store {
            inner: Arc::new(Inner {
                slot,
                health,
                writer,
                clock: options.clock,
                wakers,
                stats,
                dir: dir.to_path_buf(),
                writer_thread: std::sync::Mutex::new(Some(handle)),
            }),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    pub fn writer(&self) -> &Writer {
        &self.inner.writer
    }

    /// Apply `f` in the next group commit; resolves once it is durable.
    pub async fn write<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.inner.writer.write(f).await
    }

    /// Apply `f` as bulk work that gives way to durable writes (see [`Writer::write_deferred`]).
    pub async fn write_deferred<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.inner.writer.write_deferred(f).await
    }

    /// [`Store::write`] for threads outside the async runtime.
    pub fn write_blocking<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.inner.writer.write_blocking(f)
    }

    /// The open database; [`StoreError::Unavailable`] while it is reopened after a fault.
    fn db(&self) -> Result<Arc<Database>> {
        self.inner.slot.get(&self.inner.health)
    }

    /// A consistent snapshot for reading.
    pub fn read(&self) -> Result<Reader> {
        Ok(Reader::new(self.db()?.begin_read()?))
    }

    /// One read transaction over the whole store, for a dump or a check
    /// ([`snapshot`]): it holds every commit made before it, and blocks no writer.
    pub fn snapshot(&self) -> Result<snapshot::Snapshot> {
        let txn = self.db()?.begin_read()?;
        snapshot::Snapshot::new(txn, self.inner.clock.now_micros())
    }

    /// The store-wide sequence as of the last commit: no committed queue row or outbox entry
    /// has a higher one.
    pub fn committed_seq(&self) -> Result<u64> {
        writer::read_seq(&*self.db()?)
    }

    /// The store's condition: well, recovering from a storage fault, or low on disk space.
    pub fn health(&self) -> StoreHealth {
        self.inner.health.status()
    }

    /// [`WriteCtx::check_space_for_new_work`] outside a write: `Err` while the store is
    /// unavailable or below the low-disk watermark.
    pub fn check_space_for_new_work(&self) -> Result<()> {
        self.inner.health.check_new_work()
    }

    /// Lease up to `max` due rows of `queue`.
    pub async fn claim(&self, queue: &str, max: usize, lease_ms: i64) -> Result<Vec<Claimed>> {
        let queue = queue.to_string();
        self.write(move |ctx| ctx.claim(&queue, max, lease_ms))
            .await
    }

    /// Wait until `queue` may have due work: returns at once if a row is due, otherwise when a
    /// commit touches the queue or the earliest future row falls due (capped at `max_wait`).
    pub async fn wait_for_work(&self, queue: &str, max_wait: std::time::Duration) -> Result<()> {
        let notify = self.inner.wakers.get(queue);
        let notified = notify.notified();
        tokio::pin!(notified);
        // Register before looking, so a commit between the look and the wait still wakes us.
        notified.as_mut().enable();
        let wait = match queue::next_due_ms(&*self.db()?, queue)? {
            Some(due) => {
                let now = self.inner.clock.now_ms();
                if due <= now {
                    return Ok(());
                }
                std::time::Duration::from_millis((due - now) as u64).min(max_wait)
            }
            None => max_wait,
        };
        let _ = tokio::time::timeout(wait, notified).await;
        Ok(())
    }

    /// (queue, ready rows, leased rows) for every queue that has rows.
    pub fn queue_depths(&self) -> Result<Vec<(String, u64, u64)>> {
        queue::depths(&*self.db()?)
    }

    /// The earliest due time (ms since the epoch) of `queue`'s ready rows, if it has any.
    pub fn earliest_due_ms(&self, queue: &str) -> Result<Option<i64>> {
        queue::next_due_ms(&*self.db()?, queue)
    }

    /// What the writer counted since the store was opened (commit times, status entries).
    pub fn writer_stats(&self) -> &stats::WriterStats {
        &self.inner.stats
    }

    /// Stop the writer after the operations already sent, and wait for it.
    pub fn close(self) {
        let Ok(inner) = Arc::try_unwrap(self.inner) else {
            return;
        };
        let Inner {
            slot,
            writer,
            writer_thread,
            ..
        } = inner;
        drop(writer);
        if let Some(handle) = writer_thread.into_inner().ok().flatten() {
            let _ = handle.join();
        }
        drop(slot);
    }
}

/// Open (or create) the database file; another process holding it is [`StoreError::InUse`].
fn open_database(path: &Path, cache_size: usize) -> Result<Database> {
    match Database::builder().set_cache_size(cache_size).create(path) {
        Ok(db) => Ok(db),
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => Err(StoreError::InUse(
            path.parent().unwrap_or(path).display().to_string(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Create every table (so read transactions find them all, and a broken table fails the open,
/// not a write), and record the schema version in a new store. An existing store is at this
/// binary's version by now ([`migrations::migrate`] ran first).
fn prepare_schema(db: &Database) -> Result<()> {
    let new = migrations::stored_version(db)?.is_none();
    let txn = db.begin_write()?;
    tables::Tables::open_all(&txn)?;
    if new {
        migrations::record_version(&txn, tables::SCHEMA_VERSION)?;
    }
    txn.commit()?;
    Ok(())
}
