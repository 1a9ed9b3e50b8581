//! Checks that raise alerts (workers.md §1.8 and the service checks of §6.1):
//! - letters created before yesterday's 17:30 print deadline and still `created` (they missed
//!   a print run);
//! - services that, in the last 24 hours, sent at least 10,000 texts with a quarter or more
//!   permanently failing, or more than 500 texts to TV drama numbers (07700 900xxx), which
//!   suggests test data sent to a live key.
//!
//! - letters the printer has not confirmed: still `sending` two DVLA working days after they
//!   were sent (workers.md §4.4, the Dec-2022 rule), in production and test environments only.
//!
//! - precompiled letters still `pending-virus-check` 10 minutes to 2 hours after upload: scanned
//!   again when their upload is still in the scan area, an alert otherwise.
//!
//! All read from a snapshot, a bounded chunk at a time, so they never hold up the writer.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use storage::records::{KeyType, NotificationStatus, NotificationType};
use storage::v7_floor;
use uuid::Uuid;

use super::working_days::{dvla_working_days_before, is_dvla_working_day};
use super::{JobOutcome, alerts};
use crate::domain::Context;
use crate::domain::queues::Queue;

const CHUNK: usize = 5000;
/// References listed in an alert; the count covers the rest.
const MAX_DETAILS: usize = 50;
const FAILURE_MIN_SMS: u64 = 10_000;
const FAILURE_RATIO: f64 = 0.25;
const TV_NUMBERS_MAX: u64 = 500;

/// 17:30 London yesterday, as milliseconds since the epoch.
fn yesterdays_deadline_ms(now_ms: i64) -> i64 {
    let today = Utc
        .timestamp_millis_opt(now_ms)
        .single()
        .unwrap_or_default()
        .with_timezone(&London)
        .date_naive();
    let deadline = (today - Duration::days(1))
        .and_time(NaiveTime::from_hms_opt(17, 30, 0).unwrap_or_default());
    London
        .from_local_datetime(&deadline)
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or(now_ms)
}

/// Alert when letters created before 17:30 yesterday are still `created`.
pub async fn check_if_letters_still_in_created(cx: &Context) -> JobOutcome {
    let deadline = yesterdays_deadline_ms(cx.store.clock().now_ms());
    let reader = cx.store.read()?;
    let mut stuck: Vec<String> = Vec::new();
    let mut count = 0u64;
    let mut after: Option<Uuid> = None;
    loop {
        let (letters, last) =
            reader.scan_notifications_before(after, v7_floor(deadline), CHUNK, |n| {
                n.notification_type == NotificationType::Letter
                    && n.status == NotificationStatus::Created
                    && n.created_at < deadline * 1000
            })?;
        for n in letters {
            count += 1;
            if stuck.len() < MAX_DETAILS {
                stuck.push(match &n.client_reference {
                    Some(r) => format!("{} (reference {r})", n.id),
                    None => n.id.to_string(),
                });
            }
        }
        match last {
            Some(id) => after = Some(id),
            None => break,
        }
    }
    if count > 0 {
        alerts::raise(
            cx,
            "letters-still-created",
            format!(
                "{count} letters were created before 17.30 yesterday and still have 'created' status"
            ),
            stuck,
        )
        .await;
    }
    Ok(format!("letters still created: {count}"))
}

/// Letters still waiting for their virus scan 10 minutes to 2 hours after upload (§1.8): queue
/// the scan again when the upload is still in `letters-scan` and no scan is queued; alert on
/// the rest.
pub async fn check_if_letters_still_pending_virus_check(cx: &Context) -> JobOutcome {
    use crate::letters::files::{Area, LetterFiles, scan_name};
    let now = cx.store.clock().now_ms();
    let (oldest, newest) = (now - 120 * 60 * 1000, now - 10 * 60 * 1000);
    let reader = cx.store.read()?;
    let queued = reader.queue_payloads(Queue::LetterScan.name())?;
    let mut after = Some(v7_floor(oldest));
    let mut waiting = Vec::new();
    loop {
        let (letters, last) =
            reader.scan_notifications_before(after, v7_floor(newest), CHUNK, |n| {
                n.notification_type == NotificationType::Letter
                    && n.status == NotificationStatus::PendingVirusCheck
                    && !queued.contains(n.id.as_bytes().as_slice())
            })?;
        waiting.extend(letters);
        match last {
            Some(id) => after = Some(id),
            None => break,
        }
    }
    drop(reader);
    let files = LetterFiles::new(cx.blobs.clone());
    let (mut rescanned, mut lost) = (Vec::new(), Vec::new());
    for n in waiting {
        match files.exists(Area::Scan, &scan_name(&n)).await {
            Ok(true) => rescanned.push(n.id),
            Ok(false) => lost.push(format!(
                "{} (reference {})",
                n.id,
                crate::letters::names::letter_reference(n.id)
            )),
            Err(e) => return Err(super::DomainError::Blobs(e.to_string())),
        }
    }
    let count = rescanned.len();
    if count > 0 {
        let ids = rescanned.clone();
        cx.store
            .write(move |ctx| {
                let now = ctx.now_ms();
                for id in ids {
                    ctx.enqueue(Queue::LetterScan.name(), now, id.as_bytes())?;
                }
                Ok(())
            })
            .await?;
        tracing::warn!(
            count,
            "letters still pending virus check were queued for another scan"
        );
    }
    if !lost.is_empty() {
        let total = lost.len();
        lost.truncate(MAX_DETAILS);
        alerts::raise(
            cx,
            "letters-still-pending-virus-check",
            format!("{total} letters are still pending virus check and their upload is not in letters-scan"),
            lost,
        )
        .await;
    }
    Ok(format!("letters scanned again: {count}"))
}

/// London midnight at the start of `day`, in milliseconds.
fn london_midnight_ms(day: chrono::NaiveDate) -> i64 {
    London
        .from_local_datetime(&day.and_time(NaiveTime::MIN))
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or_default()
}

/// At 17:00 on a DVLA working day: alert if normal-key letters are still `sending` with a
/// `sent_at` on or before the working day two working days ago.
pub async fn check_letters_still_sending(cx: &Context) -> JobOutcome {
    let environment = cx.config.environment;
    if !environment.raises_operational_alerts() {
        return Ok(format!(
            "not checked: the environment is {environment:?} (only production and test)"
        ));
    }
    let now = cx.store.clock().now_ms();
    let today = Utc
        .timestamp_millis_opt(now)
        .single()
        .unwrap_or_default()
        .with_timezone(&London)
        .date_naive();
    if !is_dvla_working_day(today) {
        return Ok(format!("not checked: {today} is not a DVLA working day"));
    }
    let expected = dvla_working_days_before(today, 2);
    let end_ms = london_midnight_ms(expected + Duration::days(1));
    let reader = cx.store.read()?;
    let mut count = 0u64;
    let mut references = Vec::new();
    let mut after: Option<Uuid> = None;
    loop {
        let (letters, last) =
            reader.scan_notifications_before(after, v7_floor(end_ms), CHUNK, |n| {
                n.notification_type == NotificationType::Letter
                    && n.status == NotificationStatus::Sending
                    && n.key_type == KeyType::Normal
                    && n.sent_at.is_some_and(|s| s < end_ms * 1000)
            })?;
        for n in letters {
            count += 1;
            if references.len() < MAX_DETAILS {
                references.push(n.id.to_string());
            }
        }
        match last {
            Some(id) => after = Some(id),
            None => break,
        }
    }
    if count > 0 {
        alerts::raise(
            cx,
            "letters-still-sending",
            format!(
                "There are {count} letters in the 'sending' state from {}",
                expected.format("%A %-d %B")
            ),
            references,
        )
        .await;
    }
    Ok(format!(
        "letters still sending from {expected} or before: {count}"
    ))
}

/// Per-service text counts of the last 24 hours.
#[derive(Default)]
struct SmsCounts {
    total: u64,
    permanent_failures: u64,
    tv_numbers: u64,
}

/// A TV drama number (Ofcom's 07700 900000–900999): digits 3–9 of the normalised number.
fn is_tv_number(normalised: &str) -> bool {
    normalised.get(2..9) == Some("7700900")
}

/// Alert on live services with many permanent failures or many texts to TV drama numbers.
pub async fn check_high_failure_rates_and_tv_numbers(cx: &Context) -> JobOutcome {
    let now = cx.store.clock().now_ms();
    let since = now - 24 * 3600 * 1000;
    let reader = cx.store.read()?;
    let live: BTreeMap<Uuid, String> = reader
        .list_services()?
        .into_iter()
        .filter(|s| s.active && !s.restricted)
        .map(|s| (s.id, s.name))
        .collect();
    let mut counts: BTreeMap<Uuid, SmsCounts> = BTreeMap::new();
    let mut after = Some(v7_floor(since));
    loop {
        let (texts, last) = reader.scan_notifications_before(after, v7_floor(now), CHUNK, |n| {
            n.notification_type == NotificationType::Sms
                && n.key_type != KeyType::Test
                && live.contains_key(&n.service_id)
        })?;
        for n in texts {
            let c = counts.entry(n.service_id).or_default();
            c.total += 1;
            if n.status == NotificationStatus::PermanentFailure {
                c.permanent_failures += 1;
            }
            if is_tv_number(&n.normalised_to) {
                c.tv_numbers += 1;
            }
        }
        match last {
            Some(id) => after = Some(id),
            None => break,
        }
    }
    let mut findings = Vec::new();
    for (id, c) in &counts {
        let name = live.get(id).map(String::as_str).unwrap_or("");
        let ratio = c.permanent_failures as f64 / c.total.max(1) as f64;
        if c.total >= FAILURE_MIN_SMS && ratio >= FAILURE_RATIO {
            findings.push(format!(
                "service {id} ({name}): {:.1}% of {} texts permanently failed",
                ratio * 100.0,
                c.total
            ));
        }
        if c.tv_numbers > TV_NUMBERS_MAX {
            findings.push(format!(
                "service {id} ({name}): {} texts sent to TV drama numbers",
                c.tv_numbers
            ));
        }
    }
    if !findings.is_empty() {
        alerts::raise(
            cx,
            "high-failure-rates-or-tv-numbers",
            format!(
                "{} services have high failure rates or are sending to TV numbers",
                findings.len()
            ),
            findings.clone(),
        )
        .await;
    }
    Ok(format!("services flagged: {}", findings.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tv_numbers_are_recognised_from_the_normalised_number() {
        assert!(is_tv_number("447700900123"));
        assert!(!is_tv_number("447700901123"));
        assert!(!is_tv_number("44"));
    }

    #[test]
    fn the_deadline_is_half_past_five_yesterday_in_london() {
        // 2026-07-02 08:00 BST → 2026-07-01 17:30 BST = 16:30 UTC.
        let now = Utc.with_ymd_and_hms(2026, 7, 2, 7, 0, 0).unwrap();
        let d = yesterdays_deadline_ms(now.timestamp_millis());
        let expected = Utc.with_ymd_and_hms(2026, 7, 1, 16, 30, 0).unwrap();
        assert_eq!(d, expected.timestamp_millis());
    }
}
