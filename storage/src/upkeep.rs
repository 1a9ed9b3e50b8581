//! Records of the appliance's own upkeep: scheduled-job run state, operator alerts, and the
//! per-service retention settings the nightly jobs read.

use redb::ReadableTable;
use uuid::Uuid;

use crate::codec::{decode, encode};
use crate::entities::Reader;
use crate::error::Result;
use crate::records::{Alert, DataRetention, Notification, NotificationType, SchedulerRun};
use crate::tables::{ALERTS, DATA_RETENTION, NOTIFICATIONS, SCHEDULER_RUNS};
use crate::writer::WriteCtx;

impl WriteCtx<'_> {
    pub fn get_scheduler_run(&self, name: &str) -> Result<Option<SchedulerRun>> {
        match self.tables.scheduler_runs.get(name)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn put_scheduler_run(&mut self, run: &SchedulerRun) -> Result<()> {
        self.tables
            .scheduler_runs
            .insert(run.name.as_str(), encode(run).as_slice())?;
        Ok(())
    }

    pub fn insert_alert(&mut self, alert: &Alert) -> Result<()> {
        self.tables
            .alerts
            .insert(alert.id.as_u128(), encode(alert).as_slice())?;
        Ok(())
    }

    pub fn get_data_retention(
        &self,
        service_id: Uuid,
        kind: NotificationType,
    ) -> Result<Option<DataRetention>> {
        match self
            .tables
            .data_retention
            .get((service_id.as_u128(), kind.as_str()))?
        {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn put_data_retention(&mut self, r: &DataRetention) -> Result<()> {
        self.tables.data_retention.insert(
            (r.service_id.as_u128(), r.notification_type.as_str()),
            encode(r).as_slice(),
        )?;
        Ok(())
    }
}

impl Reader {
    /// Live notifications with ids in (`after`, `before`) (uuid v7: creation order), at most
    /// `limit` looked at, those `keep` accepts; also the last id looked at, to resume from.
    pub fn scan_notifications_before(
        &self,
        after: Option<Uuid>,
        before: Uuid,
        limit: usize,
        mut keep: impl FnMut(&Notification) -> bool,
    ) -> Result<(Vec<Notification>, Option<Uuid>)> {
        let lower = match after {
            Some(id) => std::ops::Bound::Excluded(id.as_u128()),
            None => std::ops::Bound::Unbounded,
        };
        let table = self.table(NOTIFICATIONS)?;
        let mut out = Vec::new();
        let mut last = None;
        for row in table
            .range::<u128>((lower, std::ops::Bound::Excluded(before.as_u128())))?
            .take(limit)
        {
            let (k, v) = row?;
            last = Some(Uuid::from_u128(k.value()));
            let n: Notification = decode(v.value())?;
            if keep(&n) {
                out.push(n);
            }
        }
        Ok((out, last))
    }

    pub fn scheduler_runs(&self) -> Result<Vec<SchedulerRun>> {
        let mut out = Vec::new();
        for row in self.table(SCHEDULER_RUNS)?.iter()? {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    /// Alerts, newest first, at most `limit`.
    pub fn alerts(&self, limit: usize) -> Result<Vec<Alert>> {
        let mut out = Vec::new();
        for row in self.table(ALERTS)?.iter()?.rev().take(limit) {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    /// A service's retention settings, one per type that has one.
    pub fn service_data_retention(&self, service_id: Uuid) -> Result<Vec<DataRetention>> {
        retention_of(&self.table(DATA_RETENTION)?, service_id)
    }

    /// Every service's retention settings.
    pub fn all_data_retention(&self) -> Result<Vec<DataRetention>> {
        let mut out = Vec::new();
        for row in self.table(DATA_RETENTION)?.iter()? {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }
}

/// A service's retention settings from the table, read or write side alike.
pub(crate) fn retention_of(
    table: &impl ReadableTable<(u128, &'static str), &'static [u8]>,
    service_id: Uuid,
) -> Result<Vec<DataRetention>> {
    let s = service_id.as_u128();
    let mut out = Vec::new();
    for row in table.range((s, "")..=(s, "\u{10FFFF}"))? {
        out.push(decode(row?.1.value())?);
    }
    Ok(out)
}
