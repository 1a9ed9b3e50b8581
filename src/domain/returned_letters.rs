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

/// One returned letter as upstream's `GET /service/{id}/returned-letters` lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReturnedLetterRow {
    pub notification_id: Uuid,
    /// Only for letters sent through the API (a person's upload names its file instead).
    pub client_reference: Option<String>,
    /// The London reporting day, `YYYY-MM-DD`.
    pub reported_at: String,
    /// When the letter was sent, `YYYY-MM-DD HH:MM:SS.ffffff` (UTC, no zone, as upstream).
    pub created_at: String,
    /// `None` for precompiled (hidden) templates.
    pub template_name: Option<String>,
    pub template_id: Option<Uuid>,
    pub template_version: Option<u32>,
    /// Who sent it: a person's name, or `API`.
    pub user_name: String,
    pub email_address: String,
    /// The spreadsheet it came from, and its row there (the header is row 1).
    pub original_file_name: Option<String>,
    pub job_row_number: Option<u32>,
    /// A letter a person uploaded: its file name.
    pub uploaded_letter_file_name: Option<String>,
}

/// The letters reported on London day `day`, newest sent first, and how many of that day's
/// reports name a letter we no longer hold at all (`orphaned_count`).
pub fn returned_letters_on(
    store: &Store,
    service_id: Uuid,
    day: chrono::NaiveDate,
) -> DomainResult<(Vec<ReturnedLetterRow>, u64)> {
    super::services::get_service(store, service_id)?;
    let reader = store.read()?;
    let mut rows = Vec::new();
    let mut orphaned = 0u64;
    for r in reader.returned_letters(service_id)? {
        if london_date(r.reported_at) != day {
            continue;
        }
        let found = match reader.get_notification(r.notification_id)? {
            Some(n) => Some((
                n.client_reference.clone(),
                n.created_at,
                n.template_id,
                n.template_version,
                n.api_key_id,
                n.job_id,
                n.job_row_number,
                n.created_by_name.clone(),
            )),
            None => reader
                .get_notification_history(r.notification_id)?
                .map(|h| {
                    (
                        h.client_reference.clone(),
                        h.created_at,
                        h.template_id,
                        h.template_version,
                        h.api_key_id,
                        h.job_id,
                        h.job_row_number,
                        None,
                    )
                }),
        };
        let Some((reference, created_at, template_id, version, api_key, job_id, row, by)) = found
        else {
            orphaned += 1;
            continue;
        };
        let template = reader.get_template_version(template_id, version)?;
        let hidden = template.as_ref().is_some_and(|t| t.hidden);
        let original_file_name = match job_id {
            Some(id) => reader.get_job(id)?.map(|j| j.original_file_name),
            None => None,
        };
        let sent_by = by.unwrap_or_else(|| "API".to_string());
        rows.push((
            created_at,
            ReturnedLetterRow {
                notification_id: r.notification_id,
                client_reference: api_key.and(reference.clone()),
                reported_at: day.to_string(),
                created_at: chrono::DateTime::from_timestamp_micros(created_at)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
                    .unwrap_or_default(),
                template_name: template
                    .as_ref()
                    .filter(|_| !hidden)
                    .map(|t| t.name.clone()),
                template_id: (!hidden).then_some(template_id),
                template_version: (!hidden).then_some(version),
                user_name: sent_by.clone(),
                email_address: sent_by,
                original_file_name,
                job_row_number: row.map(|r| r + 2),
                uploaded_letter_file_name: if hidden && api_key.is_none() {
                    reference
                } else {
                    None
                },
            },
        ));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    Ok((rows.into_iter().map(|(_, r)| r).collect(), orphaned))
}
