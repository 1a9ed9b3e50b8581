//! Durable queues in redb.
//!
//! A ready row is keyed by (queue, due time, sequence), so claiming is a range scan from the
//! front of the queue up to "now". Claiming moves rows to the leased table with a lease deadline;
//! `ack` removes them, `retry` puts them back with a delay and one more attempt counted in the
//! row, and gives up after the caller's limit. A lease that runs out (a worker died) is returned
//! to the ready rows by the next claim, and every lease is returned when the store is opened after
//! a crash. Waiting workers are woken when a commit makes work ready (no busy polling).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::codec::{decode, encode};
use crate::error::Result;
use crate::tables::{QUEUE_LEASED, QUEUE_READY};
use crate::writer::WriteCtx;

/// The stored payload of a queue row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    pub payload: Vec<u8>,
    /// Failed attempts so far (retries scheduled).
    pub attempts: u32,
    pub enqueued_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LeasedItem {
    lease_until_ms: i64,
    due_ms: i64,
    item: QueueItem,
}

/// A row handed to a worker. Finish it with `ack` or `retry`.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub queue: String,
    pub seq: u64,
    pub due_ms: i64,
    pub attempts: u32,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RetryOutcome {
    /// Back in the ready rows; `attempts` failed attempts so far.
    Scheduled { attempts: u32, due_ms: i64 },
    /// The limit was reached: the row is gone and the caller records the failure.
    GaveUp { attempts: u32, payload: Vec<u8> },
    /// The row was not leased (already acked, or its lease expired and it was re-queued).
    NotLeased,
}

impl WriteCtx<'_> {
    /// Wake `queue`'s waiters after the commit (allocates only for the first row per queue).
    fn wake(&mut self, queue: &str) {
        if !self.woken.contains(queue) {
            self.woken.insert(queue.to_string());
        }
    }

    /// Add a row to `queue`, due at `due_ms` (use `now_ms()` for "now"). Returns its sequence.
    pub fn enqueue(&mut self, queue: &str, due_ms: i64, payload: &[u8]) -> Result<u64> {
        let seq = self.next_seq();
        let item = QueueItem {
            payload: payload.to_vec(),
            attempts: 0,
            enqueued_at_ms: self.now_ms(),
        };
        self.tables
            .queue_ready
            .insert((queue, due_ms, seq), encode(&item).as_slice())?;
        // Wake even for future rows: a worker asleep until a later due time must learn of this one.
        self.wake(queue);
        Ok(seq)
    }

    /// Lease up to `max` due rows of `queue` for `lease_ms`. Expired leases of this queue are
    /// returned to the ready rows first, so a dead worker's rows are picked up again.
    pub fn claim(&mut self, queue: &str, max: usize, lease_ms: i64) -> Result<Vec<Claimed>> {
        let now = self.now_ms();
        self.return_expired_leases(queue, now)?;
        let mut due = Vec::new();
        for row in self
            .tables
            .queue_ready
            .range((queue, i64::MIN, 0)..=(queue, now, u64::MAX))?
            .take(max)
        {
            let (k, v) = row?;
            let (_, due_ms, seq) = k.value();
            due.push((due_ms, seq, decode::<QueueItem>(v.value())?));
        }
        let mut claimed = Vec::with_capacity(due.len());
        for (due_ms, seq, item) in due {
            self.tables.queue_ready.remove((queue, due_ms, seq))?;
            let leased = LeasedItem {
                lease_until_ms: now + lease_ms,
                due_ms,
                item,
            };
            self.tables
                .queue_leased
                .insert((queue, seq), encode(&leased).as_slice())?;
            claimed.push(Claimed {
                queue: queue.to_string(),
                seq,
                due_ms,
                attempts: leased.item.attempts,
                payload: leased.item.payload,
            });
        }
        Ok(claimed)
    }

    /// The work is done: forget the row. False if it was not leased.
    pub fn ack(&mut self, queue: &str, seq: u64) -> Result<bool> {
        Ok(self.tables.queue_leased.remove((queue, seq))?.is_some())
    }

    /// The attempt failed: schedule another after `delay_ms`, unless `max_retries` retries have
    /// already been made, in which case the row is removed and handed back for the failure path.
    pub fn retry(
        &mut self,
        queue: &str,
        seq: u64,
        delay_ms: i64,
        max_retries: u32,
    ) -> Result<RetryOutcome> {
        let leased: LeasedItem = match self.tables.queue_leased.get((queue, seq))? {
            Some(v) => decode(v.value())?,
            None => return Ok(RetryOutcome::NotLeased),
        };
        self.tables.queue_leased.remove((queue, seq))?;
        let mut item = leased.item;
        if item.attempts >= max_retries {
            return Ok(RetryOutcome::GaveUp {
                attempts: item.attempts + 1,
                payload: item.payload,
            });
        }
        item.attempts += 1;
        let due_ms = self.now_ms() + delay_ms;
        self.tables
            .queue_ready
            .insert((queue, due_ms, seq), encode(&item).as_slice())?;
        self.wake(queue);
        Ok(RetryOutcome::Scheduled {
            attempts: item.attempts,
            due_ms,
        })
    }

    fn return_expired_leases(&mut self, queue: &str, now_ms: i64) -> Result<()> {
        let mut expired = Vec::new();
        for row in self
            .tables
            .queue_leased
            .range((queue, 0)..=(queue, u64::MAX))?
        {
            let (k, v) = row?;
            let leased: LeasedItem = decode(v.value())?;
            if leased.lease_until_ms <= now_ms {
                expired.push((k.value().1, leased));
            }
        }
        for (seq, leased) in expired {
            tracing::warn!(queue, seq, "lease expired; returning the row to its queue");
            self.tables.queue_leased.remove((queue, seq))?;
            self.tables
                .queue_ready
                .insert((queue, leased.due_ms, seq), encode(&leased.item).as_slice())?;
        }
        Ok(())
    }
}

/// Return every leased row to its queue. Run once when the store opens: whoever held those
/// leases died with the previous process.
pub(crate) fn recover_leases(db: &redb::Database) -> Result<usize> {
    let txn = db.begin_write()?;
    let count;
    {
        let mut leased = txn.open_table(QUEUE_LEASED)?;
        let mut ready = txn.open_table(QUEUE_READY)?;
        let mut rows = Vec::new();
        for row in leased.iter()? {
            let (k, v) = row?;
            let (queue, seq) = k.value();
            rows.push((queue.to_string(), seq, decode::<LeasedItem>(v.value())?));
        }
        count = rows.len();
        for (queue, seq, item) in rows {
            leased.remove((queue.as_str(), seq))?;
            ready.insert(
                (queue.as_str(), item.due_ms, seq),
                encode(&item.item).as_slice(),
            )?;
        }
    }
    txn.commit()?;
    Ok(count)
}

/// Depth of each queue: (ready, leased).
pub(crate) fn depths(db: &redb::Database) -> Result<Vec<(String, u64, u64)>> {
    let txn = db.begin_read()?;
    let ready = txn.open_table(QUEUE_READY)?;
    let leased = txn.open_table(QUEUE_LEASED)?;
    let mut out: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    // Walk queue names by jumping from one queue's first row to the next queue's first row, so
    // the cost is one range lookup per queue plus a count, not a scan of every row.
    let mut next: Option<String> = ready.first()?.map(|(k, _)| k.value().0.to_string());
    while let Some(queue) = next.take() {
        let count = ready
            .range((queue.as_str(), i64::MIN, 0)..=(queue.as_str(), i64::MAX, u64::MAX))?
            .count() as u64;
        out.entry(queue.clone()).or_default().0 = count;
        let mut after = queue.clone();
        after.push('\0');
        next = ready
            .range((after.as_str(), i64::MIN, 0)..)?
            .next()
            .transpose()?
            .map(|(k, _)| k.value().0.to_string());
    }
    for row in leased.iter()? {
        let (k, _) = row?;
        out.entry(k.value().0.to_string()).or_default().1 += 1;
    }
    Ok(out.into_iter().map(|(q, (r, l))| (q, r, l)).collect())
}

/// The earliest due time in `queue`, if any row is ready or waiting.
pub(crate) fn next_due_ms(db: &redb::Database, queue: &str) -> Result<Option<i64>> {
    let txn = db.begin_read()?;
    let ready = txn.open_table(QUEUE_READY)?;
    let first = ready
        .range((queue, i64::MIN, 0)..=(queue, i64::MAX, u64::MAX))?
        .next()
        .transpose()?;
    Ok(first.map(|(k, _)| k.value().1))
}

/// One `Notify` per queue name; the writer wakes a queue's waiters after a commit that touched it.
#[derive(Default)]
pub struct Wakers {
    map: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Wakers {
    pub fn get(&self, queue: &str) -> Arc<Notify> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(queue.to_string()).or_default().clone()
    }

    pub(crate) fn wake(&self, queue: &str) {
        let notify = {
            let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            map.get(queue).cloned()
        };
        if let Some(n) = notify {
            n.notify_waiters();
        }
    }
}

impl crate::entities::Reader {
    /// The payloads of every row of `queue`, ready or leased: lets upkeep avoid queueing work
    /// that is already waiting (e.g. a delivery waiting out its retry delay).
    pub fn queue_payloads(&self, queue: &str) -> Result<std::collections::HashSet<Vec<u8>>> {
        let mut out = std::collections::HashSet::new();
        let ready = self.table(QUEUE_READY)?;
        for row in ready.range((queue, i64::MIN, 0)..=(queue, i64::MAX, u64::MAX))? {
            out.insert(decode::<QueueItem>(row?.1.value())?.payload);
        }
        let leased = self.table(QUEUE_LEASED)?;
        for row in leased.range((queue, 0)..=(queue, u64::MAX))? {
            out.insert(decode::<LeasedItem>(row?.1.value())?.item.payload);
        }
        Ok(out)
    }
}
