//! Live status counts per service and hour: how many of a service's notifications created in
//! each UTC hour are in each status now, kept in the same transaction as every insert and status
//! change. They answer "today so far" (a dashboard, the platform summary) from a few rows
//! instead of a walk over today's notifications, which at a million stored took 140 ms a page.
//!
//! What is counted is what the daily status facts count: notifications sent with normal and team
//! keys (test keys are never reported), live or archived, by the hour they were created and
//! the status they are in. Archiving a row moves it, so it leaves its count alone; a status
//! change of an archived row moves its count like a live one's. Hours are UTC, so a London day
//! (which always starts on a UTC hour) is a range of hours.
//!
//! Rows older than the days anyone asks for are pruned by the nightly status facts job
//! ([`WriteCtx::prune_hourly_counts`]), which records the cut: later changes to rows created
//! before it are not counted; a store from before this table (schema version 2) has
//! it built by migration step 3 ([`build_from_scratch`]).

use std::collections::BTreeMap;

use redb::{ReadableTable, WriteTransaction};
use uuid::Uuid;

use crate::codec::decode;
use crate::entities::Reader;
use crate::error::Result;
use crate::records::{
    KeyType, Notification, NotificationHistory, NotificationStatus, NotificationType,
};
use crate::tables::{HOURLY_STATUS_COUNTS, NOTIFICATION_HISTORY, NOTIFICATIONS};
use crate::writer::WriteCtx;

const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// `meta` key: the hour before which counts were pruned (i64, little-endian). A change to an
/// older row (a status update of a letter archived a month ago) is not counted there, so the
/// table never holds a stray part of a pruned hour, and `notify check` compares only the hours
/// from this one on.
pub(crate) const PRUNED_BEFORE_KEY: &str = "hourly_counts_pruned_before";

/// The hour counts were pruned before, if they ever were.
pub(crate) fn pruned_before(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Option<i64>> {
    Ok(meta.get(PRUNED_BEFORE_KEY)?.and_then(|v| {
        let bytes: [u8; 8] = v.value().get(..8)?.try_into().ok()?;
        Some(i64::from_le_bytes(bytes))
    }))
}

/// The UTC hour (hours since the Unix epoch) a time in microseconds falls in.
pub fn hour_of(micros: i64) -> i64 {
    micros.div_euclid(MICROS_PER_HOUR)
}

/// One count: a service's notifications of one type and key type, created in one UTC hour,
/// that are in one status now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourlyCount {
    pub service_id: Uuid,
    pub hour: i64,
    pub notification_type: NotificationType,
    pub key_type: KeyType,
    pub status: NotificationStatus,
    pub count: u64,
}

type CountsTable<'txn> =
    redb::Table<'txn, (u128, i64, &'static str, &'static str, &'static str), u64>;

/// A count's identity while a batch sums its changes.
pub(crate) type CountKey = (u128, i64, NotificationType, KeyType, NotificationStatus);

fn counted(key_type: KeyType) -> bool {
    key_type != KeyType::Test
}

/// The key of the notification `created_at`/`kind`/`key_type`/`service` in `status`, or `None`
/// when it is not counted (a test key).
pub(crate) fn key_of(
    service_id: Uuid,
    created_at: i64,
    kind: NotificationType,
    key_type: KeyType,
    status: NotificationStatus,
) -> Option<CountKey> {
    counted(key_type).then(|| {
        (
            service_id.as_u128(),
            hour_of(created_at),
            kind,
            key_type,
            status,
        )
    })
}

fn table_key(k: &CountKey) -> (u128, i64, &'static str, &'static str, &'static str) {
    (k.0, k.1, k.2.as_str(), k.3.as_str(), k.4.as_str())
}

fn parse_row(k: (u128, i64, &str, &str, &str), count: u64) -> Option<HourlyCount> {
    Some(HourlyCount {
        service_id: Uuid::from_u128(k.0),
        hour: k.1,
        notification_type: NotificationType::parse(k.2)?,
        key_type: KeyType::parse(k.3)?,
        status: NotificationStatus::parse(k.4)?,
        count,
    })
}

/// Apply a batch's summed changes: one read-modify-write per count it touched; a count that
/// reaches zero is removed, so the table holds only what exists. Changes to hours before
/// `pruned_before` are not counted.
pub(crate) fn apply_deltas(
    table: &mut CountsTable<'_>,
    pruned_before: Option<i64>,
    deltas: BTreeMap<CountKey, i64>,
) -> Result<()> {
    let kept = |key: &CountKey| pruned_before.is_none_or(|cut| key.1 >= cut);
    for (key, delta) in deltas.into_iter().filter(|(k, d)| *d != 0 && kept(k)) {
        let k = table_key(&key);
        let current = table.get(k)?.map(|v| v.value()).unwrap_or(0);
        let next = current.saturating_add_signed(delta);
        if next == 0 {
            table.remove(k)?;
        } else {
            table.insert(k, next)?;
        }
    }
    Ok(())
}

impl WriteCtx<'_> {
    /// Drop the counts of hours before `before_hour` (they are in the daily facts by now).
    /// Returns how many rows went.
    pub fn prune_hourly_counts(&mut self, before_hour: i64) -> Result<usize> {
        let meta = self.tables.meta.open()?;
        let cut = pruned_before(&*meta)?.map_or(before_hour, |was| was.max(before_hour));
        meta.insert(PRUNED_BEFORE_KEY, cut.to_le_bytes().as_slice())?;
        let table = self.tables.hourly_status_counts.open()?;
        let mut gone = 0;
        table.retain(|k, _| {
            let keep = k.1 >= before_hour;
            gone += usize::from(!keep);
            keep
        })?;
        Ok(gone)
    }
}

impl Reader {
    /// The counts of hours `from_hour..to_hour`, of one service or of every service.
    pub fn hourly_counts(
        &self,
        service_id: Option<Uuid>,
        from_hour: i64,
        to_hour: i64,
    ) -> Result<Vec<HourlyCount>> {
        let table = self.table(HOURLY_STATUS_COUNTS)?;
        let mut out = Vec::new();
        let mut take = |k: (u128, i64, &str, &str, &str), v: u64| {
            if (from_hour..to_hour).contains(&k.1)
                && let Some(c) = parse_row(k, v)
            {
                out.push(c);
            }
        };
        match service_id {
            Some(s) => {
                let s = s.as_u128();
                let lower = (s, from_hour, "", "", "");
                let upper = (s, to_hour, "", "", "");
                for row in table.range(lower..upper)? {
                    let (k, v) = row?;
                    take(k.value(), v.value());
                }
            }
            // Every service: the table holds a few days of a few dozen counts per service, so
            // a full walk is cheap.
            None => {
                for row in table.iter()? {
                    let (k, v) = row?;
                    take(k.value(), v.value());
                }
            }
        }
        Ok(out)
    }
}

/// Counts worked out from rows: how migration step 3 fills the table and how `notify check`
/// verifies it. (No set of ids is kept: a store may hold tens of millions.)
#[derive(Default)]
pub(crate) struct Recount {
    pub(crate) counts: BTreeMap<CountKey, i64>,
}

impl Recount {
    pub(crate) fn add_live(&mut self, n: &Notification) {
        self.add(key_of(
            n.service_id,
            n.created_at,
            n.notification_type,
            n.key_type,
            n.status,
        ));
    }

    /// An archived row; `also_live` when its live row is still there too (a retirement cut
    /// short), which counts it once, as live.
    pub(crate) fn add_archived(&mut self, h: &NotificationHistory, also_live: bool) {
        if !also_live {
            self.add(key_of(
                h.service_id,
                h.created_at,
                h.notification_type,
                h.key_type,
                h.status,
            ));
        }
    }

    fn add(&mut self, key: Option<CountKey>) {
        if let Some(key) = key {
            *self.counts.entry(key).or_default() += 1;
        }
    }
}

/// Count every stored notification, live and archived, into an empty table: migration step 3
/// (stores written before the table existed).
pub(crate) fn build_from_scratch(txn: &WriteTransaction) -> Result<()> {
    let mut recount = Recount::default();
    for row in txn.open_table(NOTIFICATIONS)?.iter()? {
        recount.add_live(&decode(row?.1.value())?);
    }
    let live = txn.open_table(NOTIFICATIONS)?;
    for row in txn.open_table(NOTIFICATION_HISTORY)?.iter()? {
        let (id, bytes) = row?;
        let also_live = live.get(id.value())?.is_some();
        recount.add_archived(&decode(bytes.value())?, also_live);
    }
    apply_deltas(
        &mut txn.open_table(HOURLY_STATUS_COUNTS)?,
        None,
        recount.counts,
    )
}
