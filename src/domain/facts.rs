//! Billing, status and processing-time facts (workers.md §6.2, §6.3 and the
//! `save-daily-notification-processing-time` job): daily aggregates counted from live and
//! archived notifications together, so they stay right after retention has removed the rows.
//!
//! - **Billing facts**: per London day, service, template and price — texts in a billed status
//!   (fragments × rate × international multiplier), letters sent or returned (sheets and postage,
//!   priced by `sending.letter_rates`), emails (counted, free). Normal and team keys only.
//! - **Status facts**: per London day, service, template, job, key type and status, a count.
//!   Normal and team keys only.
//! - **Processing time**: of the API's emails and texts (live keys), how many were sent within
//!   10 seconds of being accepted.
//!
//! A day is recomputed as a whole and replaces what was there, so running a job twice, or after
//! a crash, gives the same facts. The nightly jobs recompute the 10 days up to yesterday (letters
//! can change status for that long); `update-ft-billing-for-today` recomputes today every hour.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::London;
use storage::facts::CountedNotification;
use storage::records::{
    BillingFact, KeyType, NotificationHistory, NotificationStatus, NotificationType,
    ProcessingTimeFact, StatusFact,
};
use storage::{Reader, Store, WriteCtx};
use uuid::Uuid;

use super::{DomainError, DomainResult, JobOutcome, recipients};
use crate::config::SendingConfig;
use crate::domain::Context;

/// How many days up to yesterday the nightly jobs recompute.
pub const TRAILING_DAYS: u64 = 10;
/// Sent within this long of acceptance counts as on time for the processing-time fact.
const ON_TIME_MICROS: i64 = 10_000_000;

// ---------------------------------------------------------------------------------------------
// London days

/// The London date an instant (UTC microseconds) falls on.
pub fn london_date(micros: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .with_timezone(&London)
        .date_naive()
}

/// An instant as upstream's reports write it: London time, `YYYY-MM-DD HH:MM:SS`.
pub fn london_timestamp(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|t| {
            t.with_timezone(&London)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

/// A date as the facts tables key it: days since 1970-01-01.
pub fn day_number(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")).num_days() as i32
}

pub fn date_of_day_number(day: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date") + chrono::Duration::days(day as i64)
}

/// London midnight at the start of `date`, as UTC microseconds.
pub fn london_midnight_micros(date: NaiveDate) -> i64 {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    London
        .from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.timestamp_micros())
        // London midnight always exists (clocks change at 01:00 UTC); UTC midnight otherwise.
        .unwrap_or_else(|| midnight.and_utc().timestamp_micros())
}

/// `[start, end)` of a London day in UTC microseconds: 23, 24 or 25 hours.
pub fn london_day_window(date: NaiveDate) -> (i64, i64) {
    let next = date.succ_opt().unwrap_or(date);
    (london_midnight_micros(date), london_midnight_micros(next))
}

fn london_today(store: &Store) -> NaiveDate {
    london_date(store.clock().now_micros())
}

/// `count` days ending with `last`, oldest first.
fn days_ending(last: NaiveDate, count: u64) -> Vec<NaiveDate> {
    (0..count)
        .rev()
        .filter_map(|back| last.checked_sub_days(Days::new(back)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Counting one day

fn billed_key(key_type: KeyType) -> bool {
    matches!(key_type, KeyType::Normal | KeyType::Team)
}

fn is_billed(kind: NotificationType, status: NotificationStatus) -> bool {
    use NotificationStatus::*;
    match kind {
        NotificationType::Email => {
            matches!(
                status,
                Sending | Delivered | TemporaryFailure | PermanentFailure
            )
        }
        NotificationType::Sms => matches!(
            status,
            Sending | Sent | Delivered | Pending | TemporaryFailure | PermanentFailure
        ),
        NotificationType::Letter => matches!(status, Sending | Delivered | ReturnedLetter),
    }
}

/// What makes two notifications one billing row; everything but the sums.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct BillingGroup {
    service_id: Uuid,
    template_id: Uuid,
    kind: NotificationType,
    provider: String,
    rate_multiplier: u32,
    international: bool,
    postage: String,
    /// Letters are priced per sheet count, so sheets are part of the group.
    sheets: u32,
}

/// The international multiplier of a text: from its number while the row is live, as kept at
/// archiving afterwards (1, the UK's, is not kept).
fn rate_multiplier(n: &CountedNotification) -> u32 {
    match n.live_recipient.as_deref() {
        Some(to) => recipients::validate_phone_number(to)
            .map(|p| p.rate_multiplier)
            .unwrap_or(1),
        None => n.archived_rate_multiplier.unwrap_or(1),
    }
}

/// Billing facts of one London day, per service.
pub fn billing_facts_for_day(
    reader: &Reader,
    date: NaiveDate,
    prices: &SendingConfig,
) -> DomainResult<BTreeMap<Uuid, Vec<BillingFact>>> {
    let (from, to) = london_day_window(date);
    let mut groups: BTreeMap<BillingGroup, (u64, u64)> = BTreeMap::new();
    reader.for_each_notification_created_between(from, to, |n| {
        let r = &n.record;
        if !billed_key(r.key_type) || !is_billed(r.notification_type, r.status) {
            return;
        }
        let provider = r.sent_by.clone().unwrap_or_else(|| "unknown".into());
        let group = match r.notification_type {
            NotificationType::Email => BillingGroup {
                service_id: r.service_id,
                template_id: r.template_id,
                kind: r.notification_type,
                provider,
                rate_multiplier: 0,
                international: false,
                postage: "none".into(),
                sheets: 0,
            },
            NotificationType::Sms => BillingGroup {
                service_id: r.service_id,
                template_id: r.template_id,
                kind: r.notification_type,
                provider,
                rate_multiplier: rate_multiplier(&n),
                international: r.international,
                postage: "none".into(),
                sheets: 0,
            },
            NotificationType::Letter => BillingGroup {
                service_id: r.service_id,
                template_id: r.template_id,
                kind: r.notification_type,
                provider: "dvla".into(),
                rate_multiplier: 1,
                international: r.international,
                postage: r.postage.clone().unwrap_or_else(|| "none".into()),
                sheets: r.billable_units,
            },
        };
        let sums = groups.entry(group).or_default();
        if r.notification_type != NotificationType::Email {
            sums.0 += u64::from(r.billable_units);
        }
        sums.1 += 1;
    })?;
    let day = day_number(date);
    let mut out: BTreeMap<Uuid, Vec<BillingFact>> = BTreeMap::new();
    for (g, (units, sent)) in groups {
        let rate = match g.kind {
            NotificationType::Email => 0.0,
            NotificationType::Sms => prices.sms_rate,
            NotificationType::Letter => prices.letter_rates.letter_cost(g.sheets, &g.postage),
        };
        let fact = BillingFact {
            bst_date: day,
            service_id: g.service_id,
            template_id: g.template_id,
            notification_type: g.kind,
            provider: g.provider,
            rate_multiplier: g.rate_multiplier,
            international: g.international,
            postage: g.postage,
            rate,
            billable_units: units,
            notifications_sent: sent,
        };
        out.entry(g.service_id).or_default().push(fact);
    }
    Ok(out)
}

/// Service, template, job, type, key type, status: what one status fact counts.
type StatusGroup = (
    Uuid,
    Uuid,
    Option<Uuid>,
    NotificationType,
    KeyType,
    NotificationStatus,
);

/// Counts notifications into status facts, one row at a time (a day may hold millions).
#[derive(Default)]
pub struct StatusCounter {
    groups: BTreeMap<StatusGroup, u64>,
}

impl StatusCounter {
    pub fn add(&mut self, r: &NotificationHistory) {
        if billed_key(r.key_type) {
            let group = (
                r.service_id,
                r.template_id,
                r.job_id,
                r.notification_type,
                r.key_type,
                r.status,
            );
            *self.groups.entry(group).or_default() += 1;
        }
    }

    /// The facts of London day `day`, per service.
    pub fn finish(self, day: i32) -> BTreeMap<Uuid, Vec<StatusFact>> {
        let mut out: BTreeMap<Uuid, Vec<StatusFact>> = BTreeMap::new();
        for ((service_id, template_id, job_id, kind, key_type, status), count) in self.groups {
            out.entry(service_id).or_default().push(StatusFact {
                bst_date: day,
                service_id,
                template_id,
                job_id,
                notification_type: kind,
                key_type,
                status,
                count,
            });
        }
        out
    }
}

/// Status facts of one London day, per service.
pub fn status_facts_for_day(
    reader: &Reader,
    date: NaiveDate,
) -> DomainResult<BTreeMap<Uuid, Vec<StatusFact>>> {
    let (from, to) = london_day_window(date);
    let mut counter = StatusCounter::default();
    reader.for_each_notification_created_between(from, to, |n| counter.add(&n.record))?;
    Ok(counter.finish(day_number(date)))
}

/// Status facts of one London day, per service, from the live hourly counts
/// ([`storage::hourly_counts`]): what [`status_facts_for_day`] counts, without walking the day's
/// notifications, but not split by template or job (those facts have a nil template and no
/// job). For today, while the counts of the day are kept.
pub fn status_facts_from_hourly_counts(
    reader: &Reader,
    service_id: Option<Uuid>,
    date: NaiveDate,
) -> DomainResult<BTreeMap<Uuid, Vec<StatusFact>>> {
    use storage::hourly_counts::hour_of;
    let (from, to) = london_day_window(date);
    let mut groups: BTreeMap<(Uuid, NotificationType, KeyType, NotificationStatus), u64> =
        BTreeMap::new();
    for c in reader.hourly_counts(service_id, hour_of(from), hour_of(to))? {
        *groups
            .entry((c.service_id, c.notification_type, c.key_type, c.status))
            .or_default() += c.count;
    }
    let mut out: BTreeMap<Uuid, Vec<StatusFact>> = BTreeMap::new();
    for ((service_id, kind, key_type, status), count) in groups {
        out.entry(service_id).or_default().push(StatusFact {
            bst_date: day_number(date),
            service_id,
            template_id: Uuid::nil(),
            job_id: None,
            notification_type: kind,
            key_type,
            status,
            count,
        });
    }
    Ok(out)
}

/// Of the API's live-key emails and texts created on `date`, how many were sent within 10 s.
pub fn processing_time_for_day(
    reader: &Reader,
    date: NaiveDate,
) -> DomainResult<ProcessingTimeFact> {
    let (from, to) = london_day_window(date);
    let mut fact = ProcessingTimeFact {
        bst_date: day_number(date),
        messages_total: 0,
        messages_within_10_secs: 0,
    };
    reader.for_each_notification_created_between(from, to, |n| {
        let r = &n.record;
        if r.api_key_id.is_none()
            || r.key_type == KeyType::Test
            || r.notification_type == NotificationType::Letter
        {
            return;
        }
        fact.messages_total += 1;
        if r.sent_at
            .is_some_and(|sent| sent - r.created_at <= ON_TIME_MICROS)
        {
            fact.messages_within_10_secs += 1;
        }
    })?;
    Ok(fact)
}

// ---------------------------------------------------------------------------------------------
// Jobs

/// What a recompute wrote, for the job's outcome line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recomputed {
    pub days: usize,
    pub rows: usize,
}

/// A day's facts of one kind, per service.
type PerService<T> = BTreeMap<Uuid, Vec<T>>;

/// One kind of daily fact: how a day is counted, which services already have facts that day,
/// and how one service's set is replaced.
struct FactKind<T> {
    count: fn(&Reader, NaiveDate, &Context) -> DomainResult<PerService<T>>,
    existing: fn(&Reader, i32) -> storage::Result<BTreeSet<Uuid>>,
    replace: fn(&mut WriteCtx<'_>, i32, Uuid, &[T]) -> storage::Result<()>,
}

const BILLING: FactKind<BillingFact> = FactKind {
    count: |reader, date, cx| billing_facts_for_day(reader, date, &cx.config.sending),
    existing: |reader, day| {
        Ok(reader
            .billing_facts(None, day..=day)?
            .iter()
            .map(|f| f.service_id)
            .collect())
    },
    replace: |ctx, day, service, facts| ctx.replace_billing_facts(day, service, facts),
};

const STATUS: FactKind<StatusFact> = FactKind {
    count: |reader, date, _| status_facts_for_day(reader, date),
    existing: |reader, day| {
        Ok(reader
            .services_with_status_facts(day..=day)?
            .into_iter()
            .collect())
    },
    replace: |ctx, day, service, facts| ctx.replace_status_facts(day, service, facts),
};

/// Recomputes the facts of each of `dates` and replaces what was stored: a service with facts
/// that day but no rows any more has its set removed.
async fn recompute<T: Send + 'static>(
    cx: &Arc<Context>,
    dates: Vec<NaiveDate>,
    kind: FactKind<T>,
) -> DomainResult<Recomputed> {
    let FactKind {
        count,
        existing,
        replace,
    } = kind;
    let mut done = Recomputed::default();
    for date in dates {
        let day = day_number(date);
        let app2 = cx.clone();
        let (per_service, before) = blocking(move || {
            let reader = app2.store.read()?;
            Ok((count(&reader, date, &app2)?, existing(&reader, day)?))
        })
        .await?;
        done.days += 1;
        done.rows += per_service.values().map(Vec::len).sum::<usize>();
        cx.store
            .write(move |ctx| {
                for service in before.iter().filter(|s| !per_service.contains_key(s)) {
                    replace(ctx, day, *service, &[])?;
                }
                for (service, facts) in &per_service {
                    replace(ctx, day, *service, facts)?;
                }
                Ok(())
            })
            .await?;
    }
    Ok(done)
}

/// Recomputes and replaces the billing facts of `dates`.
pub async fn recompute_billing(
    cx: &Arc<Context>,
    dates: Vec<NaiveDate>,
) -> DomainResult<Recomputed> {
    recompute(cx, dates, BILLING).await
}

/// Recomputes and replaces the status facts of `dates`.
pub async fn recompute_status(
    cx: &Arc<Context>,
    dates: Vec<NaiveDate>,
) -> DomainResult<Recomputed> {
    recompute(cx, dates, STATUS).await
}

/// Runs a read-heavy count off the async workers, so the API keeps answering.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> DomainResult<T> + Send + 'static,
) -> DomainResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DomainError::invalid(format!("facts task stopped: {e}")))?
}

/// `create-nightly-billing` (00:15): the 10 London days up to yesterday.
pub async fn create_nightly_billing(cx: &Arc<Context>) -> JobOutcome {
    let yesterday = london_today(&cx.store)
        .pred_opt()
        .expect("dates stay in range");
    let done = recompute_billing(cx, days_ending(yesterday, TRAILING_DAYS)).await?;
    Ok(format!(
        "billing facts: {} rows over {} days",
        done.rows, done.days
    ))
}

/// `update-ft-billing-for-today` (hourly): London today so far.
pub async fn update_billing_for_today(cx: &Arc<Context>) -> JobOutcome {
    let done = recompute_billing(cx, vec![london_today(&cx.store)]).await?;
    Ok(format!("billing facts for today: {} rows", done.rows))
}

/// `create-nightly-notification-status` (00:30): the 10 London days up to yesterday.
pub async fn create_nightly_notification_status(cx: &Arc<Context>) -> JobOutcome {
    let yesterday = london_today(&cx.store)
        .pred_opt()
        .expect("dates stay in range");
    let days = days_ending(yesterday, TRAILING_DAYS);
    let oldest = days.first().copied().unwrap_or(yesterday);
    let done = recompute_status(cx, days).await?;
    // The hourly counts answer for today; what they held of the days now recomputed is in the
    // facts, so keep only those days (in case a page asks about them) and drop the rest.
    let before_hour = storage::hourly_counts::hour_of(london_midnight_micros(oldest));
    let pruned = cx
        .store
        .write(move |ctx| ctx.prune_hourly_counts(before_hour))
        .await?;
    Ok(format!(
        "status facts: {} rows over {} days; {pruned} old hourly counts pruned",
        done.rows, done.days
    ))
}

/// `save-daily-notification-processing-time` (02:00): yesterday.
pub async fn save_daily_processing_time(cx: &Arc<Context>) -> JobOutcome {
    let yesterday = london_today(&cx.store)
        .pred_opt()
        .expect("dates stay in range");
    let app2 = cx.clone();
    let fact = blocking(move || processing_time_for_day(&app2.store.read()?, yesterday)).await?;
    let line = format!(
        "processing time for {yesterday}: {} of {} within 10 seconds",
        fact.messages_within_10_secs, fact.messages_total
    );
    cx.store
        .write(move |ctx| ctx.put_processing_time_fact(&fact))
        .await?;
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros()
    }

    #[test]
    fn london_days_are_23_24_or_25_hours() {
        let hours = |d: NaiveDate| {
            let (a, b) = london_day_window(d);
            (b - a) / 3_600_000_000
        };
        assert_eq!(hours(NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()), 23);
        assert_eq!(hours(NaiveDate::from_ymd_opt(2026, 10, 25).unwrap()), 25);
        assert_eq!(hours(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()), 24);
    }

    #[test]
    fn an_instant_belongs_to_its_london_day() {
        // 23:30 UTC in summer is already the next day in London; in winter it is not.
        assert_eq!(
            london_date(utc("2026-07-01T23:30:00Z")),
            NaiveDate::from_ymd_opt(2026, 7, 2).unwrap()
        );
        assert_eq!(
            london_date(utc("2026-12-01T23:30:00Z")),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        );
        let d = NaiveDate::from_ymd_opt(2026, 7, 2).unwrap();
        assert_eq!(date_of_day_number(day_number(d)), d);
        assert_eq!(
            days_ending(d, 3),
            vec![
                NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
                NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(),
                d
            ]
        );
    }

    #[test]
    fn billed_statuses_follow_the_type() {
        use NotificationStatus::*;
        assert!(is_billed(NotificationType::Sms, Pending));
        assert!(!is_billed(NotificationType::Sms, TechnicalFailure));
        assert!(!is_billed(NotificationType::Email, Created));
        assert!(is_billed(NotificationType::Letter, ReturnedLetter));
        assert!(!is_billed(NotificationType::Letter, PermanentFailure));
        assert!(!billed_key(KeyType::Test));
    }
}
