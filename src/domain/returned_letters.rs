//! Letters returned to sender (workers.md §1.7, `process-returned-letters-list`): the printer
//! reports letters it could not deliver; each becomes `returned-letter` — live or already
//! archived — is recorded with the day it was reported, and the service's returned-letter
//! callback hears about it. The summary per reporting day is what the internal API shows.
//!
//! Only letters that went to the printer (`sending`, `delivered`) can come back; a report for
//! anything else is answered as not printed and changes nothing. Reporting a letter twice keeps
//! its first reporting day.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use storage::Store;
use storage::WriteCtx;
use storage::records::{KeyType, NotificationStatus, NotificationType, ReturnedLetter};
use uuid::Uuid;

use super::DomainResult;
use super::facts::london_date;
use super::status::{Applied, Event, StatusChange, apply_status};

/// Ids handled per commit.
const CHUNK: usize = 500;

/// What a report did, per notification id.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReturnedReport {
    pub returned: Vec<Uuid>,
    pub already_returned: Vec<Uuid>,
    /// Letters that never went to the printer (or test-key letters, which never do).
    pub not_printed: Vec<Uuid>,
    /// Ids that are not letters we know.
    pub unknown: Vec<Uuid>,
}

impl ReturnedReport {
    pub fn to_json(&self) -> Value {
        json!({
            "returned": self.returned,
            "already_returned": self.already_returned,
            "not_printed": self.not_printed,
            "unknown": self.unknown,
        })
    }
}

/// Mark one letter returned, live or archived; which list of the report it belongs in.
fn mark_one(ctx: &mut WriteCtx<'_>, id: Uuid, report: &mut ReturnedReport) -> storage::Result<()> {
    let found = match ctx.get_notification(id)? {
        Some(n) => Some((n.notification_type, n.status, n.key_type, n.service_id)),
        None => ctx
            .get_notification_history(id)?
            .map(|h| (h.notification_type, h.status, h.key_type, h.service_id)),
    };
    let Some((kind, status, key_type, service_id)) = found else {
        report.unknown.push(id);
        return Ok(());
    };
    if kind != NotificationType::Letter {
        report.unknown.push(id);
        return Ok(());
    }
    if status == NotificationStatus::ReturnedLetter {
        report.already_returned.push(id);
        return Ok(());
    }
    if key_type == KeyType::Test {
        report.not_printed.push(id);
        return Ok(());
    }
    match apply_status(
        ctx,
        id,
        Event::Returned,
        NotificationStatus::ReturnedLetter,
        StatusChange::default(),
    )? {
        Applied::Updated(_) | Applied::UpdatedHistory(_) => {}
        Applied::Ignored(_) => {
            report.not_printed.push(id);
            return Ok(());
        }
        Applied::NotFound => {
            report.unknown.push(id);
            return Ok(());
        }
    }
    if ctx.get_returned_letter(service_id, id)?.is_none() {
        let reported_at = ctx.now_micros();
        ctx.put_returned_letter(&ReturnedLetter {
            notification_id: id,
            service_id,
            reported_at,
        })?;
    }
    report.returned.push(id);
    Ok(())
}

/// Record the printer's list of returned letters.
pub async fn process_returned_letters(
    store: &Store,
    ids: Vec<Uuid>,
) -> DomainResult<ReturnedReport> {
    let mut report = ReturnedReport::default();
    for chunk in ids.chunks(CHUNK) {
        let chunk = chunk.to_vec();
        let part = store
            .write(move |ctx| {
                let mut part = ReturnedReport::default();
                for id in chunk {
                    mark_one(ctx, id, &mut part)?;
                }
                Ok(part)
            })
            .await?;
        report.returned.extend(part.returned);
        report.already_returned.extend(part.already_returned);
        report.not_printed.extend(part.not_printed);
        report.unknown.extend(part.unknown);
    }
    tracing::info!(
        returned = report.returned.len(),
        already_returned = report.already_returned.len(),
        not_printed = report.not_printed.len(),
        unknown = report.unknown.len(),
        "returned letters recorded"
    );
    Ok(report)
}

/// `{"returned_letter_count", "most_recent_report"}`: letters reported in the last 7 London days
/// (today included), and the latest reporting day ever (`null` if none).
pub fn statistics(store: &Store, service_id: Uuid) -> DomainResult<Value> {
    super::services::get_service(store, service_id)?;
    let today = london_date(store.clock().now_micros());
    let since = today - chrono::Days::new(6);
    let days: Vec<chrono::NaiveDate> = store
        .read()?
        .returned_letters(service_id)?
        .iter()
        .map(|r| london_date(r.reported_at))
        .collect();
    Ok(json!({
        "returned_letter_count": days.iter().filter(|d| **d >= since).count(),
        "most_recent_report": days.iter().max().map(|d| d.to_string()),
    }))
}

/// `[{"returned_letter_count", "reported_at": "YYYY-MM-DD"}]`, newest reporting day first.
pub fn summary(store: &Store, service_id: Uuid) -> DomainResult<Value> {
    super::services::get_service(store, service_id)?;
    let mut per_day: BTreeMap<chrono::NaiveDate, u64> = BTreeMap::new();
    for r in store.read()?.returned_letters(service_id)? {
        *per_day.entry(london_date(r.reported_at)).or_default() += 1;
    }
    Ok(Value::Array(
        per_day
            .into_iter()
            .rev()
            .map(|(day, count)| json!({"returned_letter_count": count, "reported_at": day.to_string()}))
            .collect(),
    ))
}
