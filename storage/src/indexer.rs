//! Feeds the tantivy index from the outbox table.
//!
//! Every notification change writes an outbox row in its own transaction, so the index can lag
//! but never miss a change. The indexer thread wakes on a timer, turns outbox rows into index
//! documents (or deletions, for notifications that are gone), commits tantivy once per chunk,
//! and only then forgets those outbox rows.
//!
//! Inserts have an outbox of their own: a new notification's document is simply added, while
//! any other change deletes the old document by id and adds the new one. Tantivy looks every
//! delete up again in each segment at commit, so most of the indexing work went on deleting
//! documents that could not exist. Skipping that is safe because each tantivy commit records
//! the last outbox sequence it holds: a crash between the tantivy commit and forgetting the
//! outbox rows leaves rows the next drain recognises as done and drops, rather than adding
//! their documents a second time.
//!
//! A drain that fails (the store unavailable after a storage fault, the index's disk full) is
//! tried again with back-off, logged once per interval; the index recreates its writer after a
//! failure, and a rebuild that failed is started again, so the index catches up by itself once
//! the disk has room.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use uuid::Uuid;

use crate::Store;
use crate::error::{Result, StoreError};
use crate::index::{IndexDoc, SearchIndex};
use crate::records::Notification;

/// Outbox rows handled per tantivy commit.
const CHUNK: usize = 10_000;
/// The longest wait between attempts after failures (the wait doubles from the interval).
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// One line per interval however often a drain fails.
static FAILURE_LOG: crate::log_limit::LogEvery =
    crate::log_limit::LogEvery::new(Duration::from_secs(60));

impl From<crate::index::IndexError> for StoreError {
    fn from(e: crate::index::IndexError) -> Self {
        StoreError::Index(e.to_string())
    }
}

/// The search document of a notification.
pub fn doc_for(n: &Notification) -> IndexDoc {
    IndexDoc {
        id: n.id,
        service_id: n.service_id,
        notification_type: n.notification_type.as_str().to_string(),
        recipient: n.normalised_to.clone(),
        reference: n.client_reference.clone(),
        created_at_ms: n.created_at.div_euclid(1000),
    }
}

/// Whether two versions of a notification have different search documents. Lists exactly the
/// fields [`doc_for`] reads.
pub fn search_fields_differ(a: &Notification, b: &Notification) -> bool {
    a.id != b.id
        || a.service_id != b.service_id
        || a.notification_type != b.notification_type
        || a.normalised_to != b.normalised_to
        || a.client_reference != b.client_reference
        || a.created_at != b.created_at
}

/// Move up to one chunk of outbox rows into the index. Returns how many rows were handled.
pub fn drain_once(store: &Store, index: &SearchIndex) -> Result<usize> {
    let reader = store.read()?;
    let rows = reader.outbox(CHUNK)?;
    let Some(last_seq) = rows.last().map(|r| r.seq) else {
        return Ok(0);
    };
    let done = index.committed_through();
    // Per notification, in first-seen order: can the index already hold a document for it?
    let mut may_be_indexed: HashMap<Uuid, bool> = HashMap::with_capacity(rows.len());
    let mut order = Vec::with_capacity(rows.len());
    for row in &rows {
        if done.is_some_and(|d| row.seq <= d) {
            continue; // Committed to the index before a crash kept us from forgetting it.
        }
        may_be_indexed
            .entry(row.id)
            .and_modify(|m| *m |= !row.new)
            .or_insert_with(|| {
                order.push(row.id);
                !row.new
            });
    }
    // Each notification is indexed once, as it is now: every change in the chunk is in it.
    let mut added = Vec::new();
    let mut replaced = Vec::new();
    let mut deletes: Vec<Uuid> = Vec::new();
    for id in order {
        match reader.get_notification(id)? {
            Some(n) if may_be_indexed[&id] => replaced.push(doc_for(&n)),
            Some(n) => added.push(doc_for(&n)),
            None => deletes.push(id),
        }
    }
    drop(reader);
    index.delete(&deletes)?;
    index.upsert(&replaced)?;
    index.add(&added)?;
    index.commit_through(last_seq)?;
    store.write_blocking(move |ctx| ctx.remove_outbox_through(last_seq))?;
    Ok(rows.len())
}

/// Drain until the outbox is empty.
pub fn drain_all(store: &Store, index: &SearchIndex) -> Result<usize> {
    let mut total = 0;
    loop {
        let n = drain_once(store, index)?;
        total += n;
        if n < CHUNK {
            return Ok(total);
        }
    }
}

/// Rebuild the index from redb alone: clear it, add every live notification from one snapshot,
/// then forget the outbox rows that snapshot already covers. Returns the documents indexed.
pub fn rebuild(store: &Store, index: &SearchIndex) -> Result<u64> {
    let reader = store.read()?;
    let covered = reader.outbox_last_seq()?;
    index.clear()?;
    let mut after = None;
    let mut count = 0u64;
    loop {
        let chunk = reader.notifications_after(after, CHUNK)?;
        let Some(last) = chunk.last() else { break };
        after = Some(last.id);
        count += chunk.len() as u64;
        let docs: Vec<IndexDoc> = chunk.iter().map(doc_for).collect();
        // Added after the clear above, which removes everything before it.
        index.add(&docs)?;
    }
    drop(reader);
    index.mark_rebuilt_through(covered)?;
    if let Some(seq) = covered {
        store.write_blocking(move |ctx| ctx.remove_outbox_through(seq))?;
    }
    Ok(count)
}

enum Command {
    Rebuild(tokio::sync::oneshot::Sender<Result<u64>>),
    Stop,
}

/// The background indexer thread. Rebuilds go through it too, so a drain never interleaves
/// with a half-done rebuild.
pub struct Indexer {
    tx: mpsc::Sender<Command>,
    thread: Option<std::thread::JoinHandle<()>>,
    index: Arc<SearchIndex>,
}

impl Indexer {
    /// Start the thread; if the index asks for it (new, damaged, or an unfinished rebuild), it
    /// rebuilds from redb first.
    pub fn start(store: Store, index: Arc<SearchIndex>, interval: Duration) -> Result<Indexer> {
        let (tx, rx) = mpsc::channel();
        let idx = index.clone();
        let thread = std::thread::Builder::new()
            .name("notify-indexer".into())
            .spawn(move || run(store, idx, rx, interval))?;
        Ok(Indexer {
            tx,
            thread: Some(thread),
            index,
        })
    }

    pub fn index(&self) -> &Arc<SearchIndex> {
        &self.index
    }

    /// Ask for a rebuild from redb now; the returned future resolves when it is done and does
    /// not borrow the indexer.
    pub fn rebuild(&self) -> impl std::future::Future<Output = Result<u64>> + Send + 'static {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let sent = self.tx.send(Command::Rebuild(reply));
        async move {
            sent.map_err(|_| StoreError::Index("the indexer has stopped".into()))?;
            rx.await
                .map_err(|_| StoreError::Index("the indexer has stopped".into()))?
        }
    }

    /// Stop after a last drain.
    pub fn stop(mut self) {
        let _ = self.tx.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(store: Store, index: Arc<SearchIndex>, rx: mpsc::Receiver<Command>, interval: Duration) {
    // The index is derived and may lag: let the API threads have the CPU first.
    crate::index::lower_cpu_priority();
    // An index that claims changes this store never committed belongs to another copy of it
    // (a database restored from an older backup, say): it would skip this store's new rows.
    let ahead = match (index.committed_through(), store.committed_seq()) {
        (Some(through), Ok(seq)) => through > seq,
        _ => false,
    };
    if ahead {
        tracing::warn!("search index is ahead of the database; rebuilding it");
    }
    let mut failures = 0u32;
    if index.needs_rebuild() || ahead {
        match rebuild(&store, &index) {
            Ok(n) => tracing::info!(documents = n, "search index rebuilt from the database"),
            Err(e) => {
                // Started again below until it succeeds (the rebuild marker stays meanwhile).
                tracing::error!(error = %e, "search index rebuild failed; will retry");
                failures = 1;
            }
        }
    }
    loop {
        let wait = if failures == 0 {
            interval
        } else {
            interval
                .saturating_mul(1 << failures.min(16))
                .min(MAX_BACKOFF)
                .max(interval)
        };
        match rx.recv_timeout(wait) {
            Ok(Command::Rebuild(reply)) => {
                let _ = reply.send(rebuild(&store, &index));
            }
            Ok(Command::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                if let Err(e) = drain_all(&store, &index) {
                    tracing::error!(error = %e, "final index drain failed");
                }
                return;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let caught_up = if index.needs_rebuild() {
            rebuild(&store, &index).map(|n| {
                tracing::info!(documents = n, "search index rebuilt from the database");
            })
        } else {
            drain_all(&store, &index).map(|_| ())
        };
        match caught_up {
            Ok(()) if failures > 0 => {
                tracing::info!(failures, "search index caught up again after failures");
                failures = 0;
            }
            Ok(()) => {}
            Err(e) => {
                failures = failures.saturating_add(1);
                if let Some(held_back) = FAILURE_LOG.ready() {
                    tracing::warn!(error = %e, failures, held_back, "index drain failed; will retry with back-off");
                }
            }
        }
    }
}
