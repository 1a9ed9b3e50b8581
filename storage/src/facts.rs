//! Billing, status and processing-time facts: the daily aggregates that outlive the rows they
//! were counted from. Facts are written per (London day, service) as one set, so recomputing a
//! day replaces it exactly instead of adding to it.

use std::ops::{Bound, RangeInclusive};

use uuid::Uuid;

use crate::clock::v7_floor;
use crate::codec::{decode, encode};
use crate::entities::Reader;
use crate::error::Result;
use crate::records::{
    BillingFact, Job, Notification, NotificationHistory, ProcessingTimeFact, StatusFact,
};
use crate::tables::{
    BILLING_FACTS, HISTORY_RATE_MULTIPLIERS, JOBS, NOTIFICATION_HISTORY, NOTIFICATIONS,
    PROCESSING_TIME_FACTS, SERVICE_JOBS, SERVICE_NOTIFICATIONS, STATUS_FACTS,
};
use crate::writer::WriteCtx;

/// Ids are stamped by the clock that also stamps `created_at`, though not in the same call: a
/// window walk reaches this far past its edges in id order, then goes by `created_at`.
const ID_SLACK_MS: i64 = 60_000;

/// One notification as the facts see it, whether still live or already archived.
pub struct CountedNotification {
    /// The fields that survive retention (for a live row, taken from it).
    pub record: NotificationHistory,
    /// The normalised recipient, while the row is live (a text's rate multiplier comes from it).
    pub live_recipient: Option<String>,
    /// An archived international text's price multiplier, as kept at archiving.
    pub archived_rate_multiplier: Option<u32>,
}

impl WriteCtx<'_> {
    /// Replaces a service's billing facts for one London day; an empty set removes them.
    pub fn replace_billing_facts(
        &mut self,
        day: i32,
        service_id: Uuid,
        facts: &[BillingFact],
    ) -> Result<()> {
        let key = (day, service_id.as_u128());
        if facts.is_empty() {
            self.tables.billing_facts.remove(key)?;
        } else {
            self.tables
                .billing_facts
                .insert(key, encode(&facts).as_slice())?;
        }
        Ok(())
    }

    /// Replaces a service's status facts for one London day; an empty set removes them.
    pub fn replace_status_facts(
        &mut self,
        day: i32,
        service_id: Uuid,
        facts: &[StatusFact],
    ) -> Result<()> {
        let key = (day, service_id.as_u128());
        if facts.is_empty() {
            self.tables.status_facts.remove(key)?;
        } else {
            self.tables
                .status_facts
                .insert(key, encode(&facts).as_slice())?;
        }
        Ok(())
    }

    pub fn put_processing_time_fact(&mut self, fact: &ProcessingTimeFact) -> Result<()> {
        self.tables
            .processing_time_facts
            .insert(fact.bst_date, encode(fact).as_slice())?;
        Ok(())
    }
}

impl Reader {
    /// Billing facts for the London days in `days`, of one service or of all.
    pub fn billing_facts(
        &self,
        service_id: Option<Uuid>,
        days: RangeInclusive<i32>,
    ) -> Result<Vec<BillingFact>> {
        let table = self.table(BILLING_FACTS)?;
        let mut out = Vec::new();
        for row in table.range((*days.start(), 0u128)..=(*days.end(), u128::MAX))? {
            let (k, v) = row?;
            if service_id.is_none_or(|s| s.as_u128() == k.value().1) {
                out.extend(decode::<Vec<BillingFact>>(v.value())?);
            }
        }
        Ok(out)
    }

    /// Status facts for the London days in `days`, of one service or of all.
    pub fn status_facts(
        &self,
        service_id: Option<Uuid>,
        days: RangeInclusive<i32>,
    ) -> Result<Vec<StatusFact>> {
        let table = self.table(STATUS_FACTS)?;
        let mut out = Vec::new();
        for row in table.range((*days.start(), 0u128)..=(*days.end(), u128::MAX))? {
            let (k, v) = row?;
            if service_id.is_none_or(|s| s.as_u128() == k.value().1) {
                out.extend(decode::<Vec<StatusFact>>(v.value())?);
            }
        }
        Ok(out)
    }

    /// The services that have status facts on any day in `days`.
    pub fn services_with_status_facts(&self, days: RangeInclusive<i32>) -> Result<Vec<Uuid>> {
        let table = self.table(STATUS_FACTS)?;
        let mut out = Vec::new();
        for row in table.range((*days.start(), 0u128)..=(*days.end(), u128::MAX))? {
            let id = Uuid::from_u128(row?.0.value().1);
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    pub fn processing_time_facts(
        &self,
        days: RangeInclusive<i32>,
    ) -> Result<Vec<ProcessingTimeFact>> {
        let table = self.table(PROCESSING_TIME_FACTS)?;
        let mut out = Vec::new();
        for row in table.range(days)? {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    /// A service's live notifications created at or after `since_micros`, oldest first.
    pub fn service_notifications_since(
        &self,
        service_id: Uuid,
        since_micros: i64,
    ) -> Result<Vec<Notification>> {
        let s = service_id.as_u128();
        let lower = v7_floor(since_micros.div_euclid(1000).saturating_sub(ID_SLACK_MS)).as_u128();
        let links = self.table(SERVICE_NOTIFICATIONS)?;
        let rows = self.table(NOTIFICATIONS)?;
        let mut out = Vec::new();
        for link in links.range((s, lower)..=(s, u128::MAX))? {
            let id = link?.0.value().1;
            if let Some(v) = rows.get(id)? {
                let n: Notification = decode(v.value())?;
                if n.created_at >= since_micros {
                    out.push(n);
                }
            }
        }
        Ok(out)
    }

    /// A service's jobs, oldest first.
    pub fn service_jobs(&self, service_id: Uuid) -> Result<Vec<Job>> {
        let s = service_id.as_u128();
        let links = self.table(SERVICE_JOBS)?;
        let jobs = self.table(JOBS)?;
        let mut out = Vec::new();
        for link in links.range((s, 0u128)..=(s, u128::MAX))? {
            if let Some(v) = jobs.get(link?.0.value().1)? {
                out.push(decode(v.value())?);
            }
        }
        Ok(out)
    }

    /// Calls `f` with every notification, live or archived, created in `[from, to)` (UTC
    /// microseconds), in creation order. A row found in both tables is counted once, as live.
    /// Reads one snapshot, so a purge running meanwhile neither hides nor doubles a row.
    pub fn for_each_notification_created_between(
        &self,
        from_micros: i64,
        to_micros: i64,
        mut f: impl FnMut(CountedNotification),
    ) -> Result<()> {
        let lower = v7_floor(from_micros.div_euclid(1000).saturating_sub(ID_SLACK_MS)).as_u128();
        let upper = v7_floor(to_micros.div_euclid(1000).saturating_add(ID_SLACK_MS)).as_u128();
        let range = (Bound::Included(lower), Bound::Excluded(upper));
        let live_table = self.table(NOTIFICATIONS)?;
        let history_table = self.table(NOTIFICATION_HISTORY)?;
        let multipliers = self.table(HISTORY_RATE_MULTIPLIERS)?;
        let mut live = live_table.range::<u128>(range)?;
        let mut history = history_table.range::<u128>(range)?;
        let mut next_live = next_row(&mut live)?;
        let mut next_history = next_row(&mut history)?;
        let in_window = |at: i64| at >= from_micros && at < to_micros;
        loop {
            let take_live = match (&next_live, &next_history) {
                (None, None) => return Ok(()),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((l, _)), Some((h, _))) => {
                    if l == h {
                        // Archived but not yet removed from live (a purge cut short): once.
                        next_history = next_row(&mut history)?;
                    }
                    true_if_not_after(*l, next_history.as_ref().map(|r| r.0))
                }
            };
            if take_live {
                let (_, bytes) = next_live.take().expect("matched as present");
                next_live = next_row(&mut live)?;
                let n: Notification = decode(&bytes)?;
                if in_window(n.created_at) {
                    f(CountedNotification {
                        record: NotificationHistory::from(&n),
                        live_recipient: Some(n.normalised_to),
                        archived_rate_multiplier: None,
                    });
                }
            } else {
                let (_, bytes) = next_history.take().expect("matched as present");
                next_history = next_row(&mut history)?;
                let h: NotificationHistory = decode(&bytes)?;
                if in_window(h.created_at) {
                    let archived_rate_multiplier = if h.international {
                        multipliers.get(h.id.as_u128())?.map(|m| m.value())
                    } else {
                        None
                    };
                    f(CountedNotification {
                        record: h,
                        live_recipient: None,
                        archived_rate_multiplier,
                    });
                }
            }
        }
    }
}

/// The live row goes first unless the next archived row sorts before it.
fn true_if_not_after(live: u128, history: Option<u128>) -> bool {
    history.is_none_or(|h| live <= h)
}

fn next_row(range: &mut redb::Range<'_, u128, &'static [u8]>) -> Result<Option<(u128, Vec<u8>)>> {
    match range.next() {
        Some(row) => {
            let (k, v) = row?;
            Ok(Some((k.value(), v.value().to_vec())))
        }
        None => Ok(None),
    }
}
