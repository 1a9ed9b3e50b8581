//! Storage side of retention (workers.md §5): the batch reads and writes the nightly purge,
//! the received-text purge and the job-file clean-up are built from. The rules (cut-offs, which
//! rows are archived, deleted or kept) live in the server's `domain::retention`; this module
//! only moves rows, keeping every secondary table in step.
//!
//! The notification purge is split in two so the single writer thread does as little as
//! possible per row: a snapshot read ([`Reader::services_notifications_raw`]) decodes rows and
//! the caller decides and encodes their history off the writer; the write
//! ([`WriteCtx::retire_notifications`]) then only moves bytes. A row that changed in between
//! (its stored bytes differ from the snapshot's) is left live for the next run, so a decision is
//! never applied to a row it was not made for.

use std::ops::Bound;

use redb::{ReadableTable, ReadableTableMetadata};
use uuid::Uuid;

use crate::codec::{decode, encode};
use crate::entities::{Reader, get_by_id};
use crate::error::Result;
use crate::records::{
    DataRetention, InboundSms, InboundSmsHistory, Job, Notification, NotificationStatus,
};
use crate::tables::{
    INBOUND_SMS_HISTORY, JOBS, NOTIFICATION_HISTORY, NOTIFICATIONS, SERVICE_NOTIFICATIONS,
};
use crate::writer::WriteCtx;

/// A live notification to remove, as the caller saw it in a snapshot.
#[derive(Debug, Clone)]
pub struct Retiring {
    pub id: Uuid,
    pub service_id: Uuid,
    pub status: NotificationStatus,
    /// The stored bytes the decision was made on.
    pub stored: Vec<u8>,
    /// The encoded history record to keep, or `None` to delete without a trace (test keys).
    pub history: Option<Vec<u8>>,
    /// An international text's price multiplier, kept beside its history (billing needs it
    /// once the number is gone).
    pub rate_multiplier: Option<u32>,
}

/// What [`WriteCtx::retire_notifications`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retired {
    pub archived: u64,
    pub deleted: u64,
    /// Rows gone or changed since the snapshot: left as they are for the next run.
    pub changed: u64,
}

impl std::ops::AddAssign for Retired {
    fn add_assign(&mut self, other: Retired) {
        self.archived += other.archived;
        self.deleted += other.deleted;
        self.changed += other.changed;
    }
}

/// Where one service's walk through its expired notifications has got to (see
/// [`Reader::services_notifications_raw`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceWalk {
    pub service_id: Uuid,
    /// The last id looked at, `None` before the first.
    pub after: Option<Uuid>,
    /// Ids from this one on are not walked (the service's latest cut-off).
    pub before: Uuid,
    /// Nothing is left to look at.
    pub done: bool,
}

impl ServiceWalk {
    pub fn new(service_id: Uuid, before: Uuid) -> ServiceWalk {
        ServiceWalk {
            service_id,
            after: None,
            before,
            done: false,
        }
    }
}

/// Rows [`WriteCtx::retire_notifications_yielding`] retires between looks for a waiting
/// durable write: a few hundred microseconds of work.
const ROWS_BETWEEN_YIELD_CHECKS: usize = 16;

impl WriteCtx<'_> {
    /// Remove each row (with its listing row, status count and index outbox entry) and, when it
    /// carries one, write its history record in the same transaction. History is keyed by id,
    /// so writing it again after a crash overwrites rather than duplicates.
    pub fn retire_notifications(&mut self, rows: &[Retiring]) -> Result<Retired> {
        self.retire_rows(rows, false).map(|(done, _)| done)
    }

    /// [`WriteCtx::retire_notifications`] that gives way: when a durable write (an API
    /// request) is waiting, it stops after the current few rows. Returns what it did and how
    /// many of `rows` it got through; the caller retires the rest in another commit.
    pub fn retire_notifications_yielding(&mut self, rows: &[Retiring]) -> Result<(Retired, usize)> {
        self.retire_rows(rows, true)
    }

    fn retire_rows(&mut self, rows: &[Retiring], give_way: bool) -> Result<(Retired, usize)> {
        let mut done = Retired::default();
        for (looked_at, row) in rows.iter().enumerate() {
            if give_way
                && looked_at > 0
                && looked_at % ROWS_BETWEEN_YIELD_CHECKS == 0
                && self.should_give_way()
            {
                return Ok((done, looked_at));
            }
            let id = row.id.as_u128();
            // Remove first and put back on a mismatch: one tree walk for the usual case.
            let changed = match self.tables.notifications.remove(id)? {
                None => Some(None),
                Some(old) if old.value() == row.stored.as_slice() => None,
                Some(old) => Some(Some(old.value().to_vec())),
            };
            if let Some(current) = changed {
                if let Some(bytes) = current {
                    self.tables.notifications.insert(id, bytes.as_slice())?;
                }
                done.changed += 1;
                continue;
            }
            self.tables
                .service_notifications
                .remove((row.service_id.as_u128(), id))?;
            self.bump_status(row.status.as_str(), -1);
            let seq = self.next_seq();
            self.tables.index_outbox.insert(seq, id)?;
            match &row.history {
                Some(h) => {
                    self.tables.notification_history.insert(id, h.as_slice())?;
                    if let Some(m) = row.rate_multiplier {
                        self.tables.history_rate_multipliers.insert(id, m)?;
                    }
                    done.archived += 1;
                }
                None => done.deleted += 1,
            }
        }
        Ok((done, rows.len()))
    }

    /// Move a service's received texts created before `cutoff_micros` to their history
    /// (without content or sender), looking at listing rows with ids in (`after`, `before`), at
    /// most `limit` of them. Returns how many moved and the last id looked at (to resume from;
    /// `None` when there was nothing left to look at).
    pub fn retire_inbound_sms(
        &mut self,
        service_id: Uuid,
        after: Option<Uuid>,
        before: Uuid,
        cutoff_micros: i64,
        limit: usize,
    ) -> Result<(u64, Option<Uuid>)> {
        let s = service_id.as_u128();
        let lower = match after {
            Some(id) => Bound::Excluded((s, id.as_u128())),
            None => Bound::Included((s, 0)),
        };
        let mut ids = Vec::new();
        for row in self
            .tables
            .service_inbound_sms
            .range::<(u128, u128)>((lower, Bound::Excluded((s, before.as_u128()))))?
            .take(limit)
        {
            ids.push(row?.0.value().1);
        }
        let last = ids.last().map(|id| Uuid::from_u128(*id));
        let mut moved = 0;
        for id in ids {
            let Some(bytes) = self.tables.inbound_sms.get(id)?.map(|v| v.value().to_vec()) else {
                // A listing row without its record: drop the stray link.
                self.tables.service_inbound_sms.remove((s, id))?;
                continue;
            };
            let Ok(message) = decode::<InboundSms>(&bytes) else {
                tracing::warn!(id = %Uuid::from_u128(id), "unreadable received text left in place");
                continue;
            };
            if message.created_at >= cutoff_micros {
                continue;
            }
            let history = InboundSmsHistory::from(&message);
            self.tables
                .inbound_sms_history
                .insert(id, encode(&history).as_slice())?;
            self.tables.inbound_sms.remove(id)?;
            self.tables.service_inbound_sms.remove((s, id))?;
            moved += 1;
        }
        Ok((moved, last))
    }

    /// Store a job with its per-service listing row (creates or replaces).
    pub fn put_job(&mut self, job: &Job) -> Result<()> {
        self.tables
            .jobs
            .insert(job.id.as_u128(), encode(job).as_slice())?;
        self.tables
            .service_jobs
            .insert((job.service_id.as_u128(), job.id.as_u128()), ())?;
        Ok(())
    }

    pub fn get_job(&self, id: Uuid) -> Result<Option<Job>> {
        get_by_id(&*self.tables.jobs, id)
    }

    /// Mark a job archived (its file is gone). False when there is no such job.
    pub fn archive_job(&mut self, id: Uuid) -> Result<bool> {
        let Some(mut job) = self.get_job(id)? else {
            return Ok(false);
        };
        if !job.archived {
            job.archived = true;
            self.put_job(&job)?;
        }
        Ok(true)
    }

    /// A service's retention settings (at most one per notification type).
    pub fn service_data_retention(&self, service_id: Uuid) -> Result<Vec<DataRetention>> {
        crate::upkeep::retention_of(&*self.tables.data_retention, service_id)
    }
}

/// Next ids of the merged walk, smallest first, each with the index of its walk.
type Heads = std::collections::BinaryHeap<std::cmp::Reverse<(u128, usize)>>;

/// Put walk `i`'s next listed id in `heads`, or mark the walk done when it has none.
fn next_head(
    range: &mut redb::Range<'_, (u128, u128), ()>,
    i: usize,
    walk: &mut ServiceWalk,
    heads: &mut Heads,
) -> Result<()> {
    match range.next() {
        Some(row) => heads.push(std::cmp::Reverse((row?.0.value().1, i))),
        None => walk.done = true,
    }
    Ok(())
}

impl Reader {
    /// The next live notifications of several services at once, oldest first across all of
    /// them: each [`ServiceWalk`] reads its service's rows with ids in (`after`, `before`), and
    /// the walks are merged by id, at most `limit` rows in all. Each row comes decoded and with
    /// its stored bytes (for [`WriteCtx::retire_notifications`]). Every walk's `after` moves to
    /// the last id it gave, and a walk with nothing left is marked `done`.
    ///
    /// Why merged: ids are time-ordered and services send at the same time, so one table page
    /// holds rows of many services. A walk per service would rewrite each page once for every
    /// service on it (and insert history between rows archived earlier); oldest first across
    /// services empties whole pages and appends history, writing 1.5-2x fewer bytes a row with
    /// 4-16 services sending.
    pub fn services_notifications_raw(
        &self,
        walks: &mut [ServiceWalk],
        limit: usize,
    ) -> Result<Vec<(Notification, Vec<u8>)>> {
        let links = self.table(SERVICE_NOTIFICATIONS)?;
        let records = self.table(NOTIFICATIONS)?;
        let mut ranges = Vec::with_capacity(walks.len());
        let mut heads = Heads::new();
        for (i, walk) in walks.iter_mut().enumerate() {
            let s = walk.service_id.as_u128();
            let lower = match walk.after {
                Some(id) => Bound::Excluded((s, id.as_u128())),
                None => Bound::Included((s, 0)),
            };
            let mut range = links
                .range::<(u128, u128)>((lower, Bound::Excluded((s, walk.before.as_u128()))))?;
            next_head(&mut range, i, walk, &mut heads)?;
            ranges.push(range);
        }
        let mut out = Vec::new();
        let mut taken = 0;
        while taken < limit {
            let Some(std::cmp::Reverse((id, i))) = heads.pop() else {
                break;
            };
            taken += 1;
            walks[i].after = Some(Uuid::from_u128(id));
            if let Some(v) = records.get(id)? {
                let bytes = v.value().to_vec();
                out.push((decode(&bytes)?, bytes));
            }
            next_head(&mut ranges[i], i, &mut walks[i], &mut heads)?;
        }
        Ok(out)
    }

    /// Jobs with ids after `after`, in id order, at most `limit`.
    pub fn jobs_after(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<Job>> {
        let lower = match after {
            Some(id) => Bound::Excluded(id.as_u128()),
            None => Bound::Unbounded,
        };
        let mut out = Vec::new();
        for row in self
            .table(JOBS)?
            .range::<u128>((lower, Bound::Unbounded))?
            .take(limit)
        {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    pub fn get_notification_history(
        &self,
        id: Uuid,
    ) -> Result<Option<crate::records::NotificationHistory>> {
        get_by_id(&self.table(NOTIFICATION_HISTORY)?, id)
    }

    pub fn notification_history_count(&self) -> Result<u64> {
        Ok(self.table(NOTIFICATION_HISTORY)?.len()?)
    }

    /// Every history record, in id order (for checks and reports over small stores).
    pub fn notification_history_after(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<crate::records::NotificationHistory>> {
        let lower = match after {
            Some(id) => Bound::Excluded(id.as_u128()),
            None => Bound::Unbounded,
        };
        let mut out = Vec::new();
        for row in self
            .table(NOTIFICATION_HISTORY)?
            .range::<u128>((lower, Bound::Unbounded))?
            .take(limit)
        {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    pub fn get_inbound_sms_history(&self, id: Uuid) -> Result<Option<InboundSmsHistory>> {
        match self.table(INBOUND_SMS_HISTORY)?.get(id.as_u128())? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn inbound_sms_history_count(&self) -> Result<u64> {
        Ok(self.table(INBOUND_SMS_HISTORY)?.len()?)
    }

    pub fn get_job(&self, id: Uuid) -> Result<Option<Job>> {
        get_by_id(&self.table(JOBS)?, id)
    }
}
