//! Statistics for the internal API, read from the daily facts for past days and from live rows
//! for London today (the facts for today do not exist until tonight's jobs run):
//! - a service's requested/delivered/failed counts over the last N days;
//! - its status counts per month of a financial year (April to March);
//! - its usage and cost per month and per year, from the billing facts;
//! - template usage over the last N days, and when a template was last used;
//! - a job's outcome counts (from live and archived rows, so they survive retention) and the
//!   service's scheduled-job count.
//!
//! Counts cover normal and team keys, as the facts do: test-key messages are never billed or
//! reported.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate};
use serde_json::{Map, Value, json};
use storage::Store;
use storage::clock::format_api_timestamp;
use storage::records::{BillingFact, JobStatus, NotificationStatus, NotificationType, StatusFact};
use uuid::Uuid;

use super::facts::{date_of_day_number, day_number, london_date, status_facts_from_hourly_counts};
use super::{DomainError, DomainResult};

/// Statuses counted as failed in the dashboard totals (as upstream).
fn is_failure(status: NotificationStatus) -> bool {
    use NotificationStatus::*;
    matches!(
        status,
        TechnicalFailure | TemporaryFailure | PermanentFailure | ValidationFailed | VirusScanFailed
    )
}

fn is_delivered(status: NotificationStatus) -> bool {
    matches!(
        status,
        NotificationStatus::Delivered | NotificationStatus::Sent
    )
}

fn today(store: &Store) -> NaiveDate {
    london_date(store.clock().now_micros())
}

/// Status facts of one service for the London days `from..=to`: stored facts for past days,
/// the live hourly counts for today.
pub fn service_status_facts(
    store: &Store,
    service_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> DomainResult<Vec<StatusFact>> {
    super::services::get_service(store, service_id)?;
    let today = today(store);
    let reader = store.read()?;
    let last_stored = to.min(today.pred_opt().unwrap_or(today));
    let mut facts = if from <= last_stored {
        reader.status_facts(Some(service_id), day_number(from)..=day_number(last_stored))?
    } else {
        Vec::new()
    };
    if from <= today && today <= to {
        facts.extend(
            status_facts_from_hourly_counts(&reader, Some(service_id), today)?
                .into_values()
                .flatten(),
        );
    }
    Ok(facts)
}

/// `{"sms": {"requested", "delivered", "failed"}, "email": …, "letter": …}` over the last
/// `limit_days` London days including today (or today only).
pub fn service_totals(
    store: &Store,
    service_id: Uuid,
    limit_days: u32,
    today_only: bool,
) -> DomainResult<Value> {
    let today = today(store);
    let from = if today_only {
        today
    } else {
        today
            .checked_sub_days(Days::new(u64::from(limit_days.max(1) - 1)))
            .unwrap_or(today)
    };
    let facts = service_status_facts(store, service_id, from, today)?;
    let mut out = Map::new();
    for kind in NotificationType::ALL {
        let (mut requested, mut delivered, mut failed) = (0u64, 0u64, 0u64);
        for f in facts.iter().filter(|f| f.notification_type == *kind) {
            requested += f.count;
            if is_delivered(f.status) {
                delivered += f.count;
            }
            if is_failure(f.status) {
                failed += f.count;
            }
        }
        out.insert(
            kind.as_str().into(),
            json!({"requested": requested, "delivered": delivered, "failed": failed}),
        );
    }
    Ok(Value::Object(out))
}

/// The London days of the financial year that starts in April of `year`.
fn financial_year(year: i32) -> DomainResult<(NaiveDate, NaiveDate)> {
    let start = NaiveDate::from_ymd_opt(year, 4, 1);
    let end = NaiveDate::from_ymd_opt(year + 1, 3, 31);
    match (start, end) {
        (Some(s), Some(e)) if (2000..=2200).contains(&year) => Ok((s, e)),
        _ => Err(DomainError::invalid(format!("{year} is not a valid year"))),
    }
}

fn month_key(date: NaiveDate) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

fn months_of(start: NaiveDate) -> Vec<NaiveDate> {
    (0..12)
        .filter_map(|m| start.checked_add_months(chrono::Months::new(m)))
        .collect()
}

/// `{"YYYY-MM": {"sms": {status: count}, "email": {…}, "letter": {…}}}` for every month of the
/// financial year starting in April `year` (months not yet reached are empty).
pub fn monthly_status_counts(store: &Store, service_id: Uuid, year: i32) -> DomainResult<Value> {
    let (start, end) = financial_year(year)?;
    let facts = service_status_facts(store, service_id, start, end)?;
    let mut months: BTreeMap<String, BTreeMap<&str, BTreeMap<&str, u64>>> = months_of(start)
        .into_iter()
        .map(|m| {
            let types = NotificationType::ALL
                .iter()
                .map(|k| (k.as_str(), BTreeMap::new()))
                .collect();
            (month_key(m), types)
        })
        .collect();
    for f in &facts {
        let month = month_key(date_of_day_number(f.bst_date));
        if let Some(types) = months.get_mut(&month) {
            *types
                .entry(f.notification_type.as_str())
                .or_default()
                .entry(f.status.as_str())
                .or_default() += f.count;
        }
    }
    Ok(json!(months))
}

/// What one billing fact costs: texts by fragment and multiplier, letters by letter.
pub fn fact_cost(f: &BillingFact) -> f64 {
    match f.notification_type {
        NotificationType::Email => 0.0,
        NotificationType::Sms => f.billable_units as f64 * f64::from(f.rate_multiplier) * f.rate,
        NotificationType::Letter => f.notifications_sent as f64 * f.rate,
    }
}

/// Units billed: text fragments times their multiplier, letters (not sheets), emails sent.
fn chargeable_units(f: &BillingFact) -> u64 {
    match f.notification_type {
        NotificationType::Sms => f.billable_units * u64::from(f.rate_multiplier),
        _ => f.notifications_sent,
    }
}

fn round_pence(pounds: f64) -> f64 {
    (pounds * 100.0).round() / 100.0
}

/// Billing facts summed per (month or year, type, postage, rate).
fn usage(store: &Store, service_id: Uuid, year: i32, by_month: bool) -> DomainResult<Vec<Value>> {
    super::services::get_service(store, service_id)?;
    let (start, end) = financial_year(year)?;
    let facts = store
        .read()?
        .billing_facts(Some(service_id), day_number(start)..=day_number(end))?;
    type Key = (String, NotificationType, String, u64);
    let mut sums: BTreeMap<Key, (u64, u64, f64, f64)> = BTreeMap::new();
    for f in &facts {
        let month = if by_month {
            month_key(date_of_day_number(f.bst_date))
        } else {
            String::new()
        };
        // Rates are compared exactly, so they key by their bits.
        let key = (
            month,
            f.notification_type,
            f.postage.clone(),
            f.rate.to_bits(),
        );
        let entry = sums.entry(key).or_insert((0, 0, f.rate, 0.0));
        entry.0 += chargeable_units(f);
        entry.1 += f.notifications_sent;
        entry.3 += fact_cost(f);
    }
    Ok(sums
        .into_iter()
        .map(|((month, kind, postage, _), (units, sent, rate, cost))| {
            let mut row = json!({
                "notification_type": kind.as_str(),
                "postage": postage,
                "rate": rate,
                "chargeable_units": units,
                "notifications_sent": sent,
                "cost": round_pence(cost),
            });
            if by_month {
                row["month"] = json!(month);
            }
            row
        })
        .collect())
}

pub fn monthly_usage(store: &Store, service_id: Uuid, year: i32) -> DomainResult<Vec<Value>> {
    usage(store, service_id, year, true)
}

pub fn yearly_usage(store: &Store, service_id: Uuid, year: i32) -> DomainResult<Vec<Value>> {
    usage(store, service_id, year, false)
}

/// Per template and status, the messages of the last `whole_days` London days including today.
pub fn template_usage(
    store: &Store,
    service_id: Uuid,
    whole_days: u32,
) -> DomainResult<Vec<Value>> {
    let today = today(store);
    let from = today
        .checked_sub_days(Days::new(u64::from(whole_days.max(1) - 1)))
        .unwrap_or(today);
    let facts = service_status_facts(store, service_id, from, today)?;
    let mut counts: BTreeMap<(Uuid, NotificationStatus), u64> = BTreeMap::new();
    for f in &facts {
        *counts.entry((f.template_id, f.status)).or_default() += f.count;
    }
    let reader = store.read()?;
    let mut out = Vec::new();
    for ((template_id, status), count) in counts {
        let template = reader.get_template(template_id)?;
        out.push(json!({
            "template_id": template_id,
            "template_name": template.as_ref().map(|t| t.name.clone()),
            "template_type": template.as_ref().map(|t| t.template_type.as_str()),
            "is_precompiled_letter": template.as_ref().is_some_and(|t| t.hidden),
            "status": status.as_str(),
            "count": count,
        }));
    }
    Ok(out)
}

/// The London date a template was last used: its newest live row, else its newest status
/// fact (after retention has removed the rows), else `None`.
pub fn template_last_used(
    store: &Store,
    service_id: Uuid,
    template_id: Uuid,
) -> DomainResult<Option<NaiveDate>> {
    super::templates::get_template(store, service_id, template_id)?;
    let reader = store.read()?;
    let live =
        reader.service_notifications(service_id, None, 1, |n| n.template_id == template_id)?;
    if let Some(n) = live.first() {
        return Ok(Some(london_date(n.created_at)));
    }
    let newest = reader
        .status_facts(Some(service_id), i32::MIN..=day_number(today(store)))?
        .into_iter()
        .filter(|f| f.template_id == template_id)
        .map(|f| f.bst_date)
        .max();
    Ok(newest.map(date_of_day_number))
}

/// A job's notifications counted by status, live and archived together.
pub fn job_outcomes(store: &Store, service_id: Uuid, job_id: Uuid) -> DomainResult<Value> {
    super::services::get_service(store, service_id)?;
    let reader = store.read()?;
    let job = reader
        .get_job(job_id)?
        .filter(|j| j.service_id == service_id)
        .ok_or_else(|| DomainError::not_found(format!("No job with id {job_id}")))?;
    // A job's rows are created while it is processed; a job still running is read to now.
    let from = job
        .processing_started
        .unwrap_or(job.created_at)
        .min(job.created_at);
    let to = job
        .processing_finished
        .unwrap_or_else(|| store.clock().now_micros())
        .saturating_add(1);
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    reader.for_each_notification_created_between(from, to, |n| {
        if n.record.job_id == Some(job_id) {
            *counts.entry(n.record.status.as_str()).or_default() += 1;
        }
    })?;
    let statistics: Vec<Value> = counts
        .into_iter()
        .map(|(status, count)| json!({"status": status, "count": count}))
        .collect();
    Ok(json!({
        "job_id": job_id,
        "notification_count": job.notification_count,
        "statistics": statistics,
    }))
}

/// How many of the service's jobs are waiting for their time, and the soonest of them.
pub fn scheduled_job_stats(store: &Store, service_id: Uuid) -> DomainResult<Value> {
    super::services::get_service(store, service_id)?;
    let scheduled: Vec<i64> = store
        .read()?
        .service_jobs(service_id)?
        .iter()
        .filter(|j| j.status == JobStatus::Scheduled && !j.archived)
        .filter_map(|j| j.scheduled_for)
        .collect();
    Ok(json!({
        "count": scheduled.len(),
        "soonest_scheduled_for": scheduled.iter().min().map(|t| format_api_timestamp(*t)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn financial_years_run_april_to_march() {
        let (s, e) = financial_year(2026).unwrap();
        assert_eq!(s, NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
        assert_eq!(e, NaiveDate::from_ymd_opt(2027, 3, 31).unwrap());
        assert_eq!(months_of(s).len(), 12);
        assert_eq!(month_key(months_of(s)[11]), "2027-03");
        assert!(financial_year(99999).is_err());
    }

    #[test]
    fn text_costs_use_fragments_and_the_multiplier() {
        let f = BillingFact {
            bst_date: 0,
            service_id: Uuid::nil(),
            template_id: Uuid::nil(),
            notification_type: NotificationType::Sms,
            provider: "mmg".into(),
            rate_multiplier: 2,
            international: true,
            postage: "none".into(),
            rate: 0.5,
            billable_units: 3,
            notifications_sent: 2,
        };
        assert_eq!(fact_cost(&f), 3.0);
        assert_eq!(chargeable_units(&f), 6);
        let letter = BillingFact {
            notification_type: NotificationType::Letter,
            rate: 0.81,
            rate_multiplier: 1,
            ..f
        };
        assert_eq!(fact_cost(&letter), 1.62);
        assert_eq!(chargeable_units(&letter), 2);
    }
}
