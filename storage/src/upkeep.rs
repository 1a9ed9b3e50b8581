//! Records of the appliance's own upkeep: scheduled-job run state, operator alerts, and the
//! per-service retention settings the nightly jobs read.
//!
//! A job's run state is only a note of what ran: one this binary cannot decode (damaged, or
//! written in a shape it does not know) reads as absent, so the scheduler starts the job's
//! record afresh instead of stopping every job on a decode error.

use redb::ReadableTable;
use uuid::Uuid;

use crate::codec::{decode, encode};
use crate::entities::Reader;
use crate::error::Result;
use crate::records::{Alert, DataRetention, Notification, NotificationType, SchedulerRun};
use crate::tables::{ALERTS, DATA_RETENTION, NOTIFICATIONS, SCHEDULER_LINES, SCHEDULER_RUNS};
use crate::writer::WriteCtx;

impl WriteCtx<'_> {
    /// A job's run state; None when there is none, or none this binary can read.
    pub fn get_scheduler_run(&self, name: &str) -> Result<Option<SchedulerRun>> {
        match self.tables.scheduler_runs.get(name)? {
            Some(v) => Ok(readable_run(name, v.value())),
            None => Ok(None),
        }
    }

    pub fn put_scheduler_run(&mut self, run: &SchedulerRun) -> Result<()> {
        self.tables
            .scheduler_runs
            .insert(run.name.as_str(), encode(run).as_slice())?;
        Ok(())
    }

    /// The cron line a job's last slot was counted on, if one was recorded.
    pub fn get_scheduler_line(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .tables
            .scheduler_lines
            .get(name)?
            .map(|v| v.value().to_string()))
    }

    pub fn put_scheduler_line(&mut self, name: &str, line: &str) -> Result<()> {
        self.tables.scheduler_lines.insert(name, line)?;
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

    /// Every job's run state that this binary can read.
    pub fn scheduler_runs(&self) -> Result<Vec<SchedulerRun>> {
        let mut out = Vec::new();
        for row in self.table(SCHEDULER_RUNS)?.iter()? {
            let (name, value) = row?;
            out.extend(readable_run(name.value(), value.value()));
        }
        Ok(out)
    }

    /// Job name → the cron line its last slot was counted on.
    pub fn scheduler_lines(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for row in self.table(SCHEDULER_LINES)?.iter()? {
            let (name, line) = row?;
            out.push((name.value().to_string(), line.value().to_string()));
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

/// A stored run state, or None (with a warning) when it cannot be decoded.
fn readable_run(name: &str, bytes: &[u8]) -> Option<SchedulerRun> {
    match decode(bytes) {
        Ok(run) => Some(run),
        Err(e) => {
            tracing::warn!(job = name, error = %e, "scheduled job's run state is unreadable; it starts afresh");
            None
        }
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
