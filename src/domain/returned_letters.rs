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
use storage::clock::format_api_timestamp;
use storage::records::{
    CallbackKind, KeyType, NotificationHistory, NotificationStatus, NotificationType,
    ReturnedLetter,
};
use uuid::Uuid;

use super::facts::london_date;
use super::{DomainResult, callbacks};

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

fn printed(status: NotificationStatus) -> bool {
    matches!(
        status,
        NotificationStatus::Sending | NotificationStatus::Delivered
    )
}

/// The `send-returned-letter` callback body (§7.5).
fn callback_body(
    ctx: &WriteCtx<'_>,
    h: &NotificationHistory,
    sent_by: Option<&str>,
) -> storage::Result<Value> {
    let template = ctx.get_template(h.template_id)?.filter(|t| !t.hidden);
    let job = match h.job_id {
        Some(id) => ctx.get_job(id)?,
        None => None,
    };
    Ok(json!({
        "notification_id": h.id,
        "reference": h.api_key_id.and(h.client_reference.clone()),
        "date_sent": format_api_timestamp(h.sent_at.unwrap_or(h.created_at)),
        "sent_by": sent_by.unwrap_or("API"),
        "template_name": template.as_ref().map(|t| t.name.clone()),
        "template_id": template.as_ref().map(|t| t.id),
        "template_version": template.as_ref().map(|_| h.template_version),
        "spreadsheet_file_name": job.as_ref().map(|j| j.original_file_name.clone()),
        "spreadsheet_row_number": h.job_row_number.map(|r| r + 1),
        "upload_letter_file_name": Value::Null,
    }))
}

/// Mark one letter returned, live or archived; which list of the report it belongs in.
fn mark_one(ctx: &mut WriteCtx<'_>, id: Uuid, report: &mut ReturnedReport) -> storage::Result<()> {
    let now = ctx.now_micros();
    let (history, sent_by) = if let Some(mut n) = ctx.get_notification(id)? {
        if n.notification_type != NotificationType::Letter {
            report.unknown.push(id);
            return Ok(());
        }
        if n.status == NotificationStatus::ReturnedLetter {
            report.already_returned.push(id);
            return Ok(());
        }
        if !printed(n.status) || n.key_type == KeyType::Test {
            report.not_printed.push(id);
            return Ok(());
        }
        n.status = NotificationStatus::ReturnedLetter;
        n.updated_at = Some(now);
        ctx.update_notification(&n)?;
        (NotificationHistory::from(&n), n.created_by_name.clone())
    } else if let Some(mut h) = ctx.get_notification_history(id)? {
        if h.notification_type != NotificationType::Letter {
            report.unknown.push(id);
            return Ok(());
        }
        if h.status == NotificationStatus::ReturnedLetter {
            report.already_returned.push(id);
            return Ok(());
        }
        if !printed(h.status) || h.key_type == KeyType::Test {
            report.not_printed.push(id);
            return Ok(());
        }
        h.status = NotificationStatus::ReturnedLetter;
        h.updated_at = Some(now);
        ctx.put_notification_history(&h)?;
        (h, None)
    } else {
        report.unknown.push(id);
        return Ok(());
    };
    if ctx.get_returned_letter(history.service_id, id)?.is_none() {
        ctx.put_returned_letter(&ReturnedLetter {
            notification_id: id,
            service_id: history.service_id,
            reported_at: now,
        })?;
    }
    if let Some(cb) = ctx.get_service_callback(history.service_id, CallbackKind::ReturnedLetter)? {
        let body = callback_body(ctx, &history, sent_by.as_deref())?;
        callbacks::enqueue(ctx, &cb, body)?;
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
