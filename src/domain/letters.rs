//! Letter rules outside the pipeline itself: when a letter should arrive, where its PDF is,
//! cancelling a letter before the print run (§1.7), and scanning uploads kept in
//! `letters-scan/ERROR/` again.

use chrono::{Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use storage::records::{Notification, NotificationStatus};

use super::status::{Applied, Event, StatusChange, apply_status, apply_status_with};
use super::working_days::{is_royal_mail_day, next_dvla_working_day};
use crate::domain::Context;
use crate::domain::queues::Queue;

/// Royal Mail working days after the print day, by postage (upstream's letter timings).
fn delivery_days(postage: &str) -> (u32, bool) {
    match postage {
        "first" => (1, true),
        "economy" => (7, false),
        "europe" => (6, false),
        "rest-of-world" => (8, false),
        _ => (5, false),
    }
}

/// `estimated_delivery` of §6: print day is the next DVLA working day strictly after
/// (created_at + 6h30) in London; then count Royal Mail days; 16:00 London that day.
pub fn estimated_delivery(created_at_micros: i64, postage: &str) -> i64 {
    let created = Utc
        .timestamp_micros(created_at_micros)
        .single()
        .unwrap_or_default();
    let local_day = (created + Duration::minutes(6 * 60 + 30))
        .with_timezone(&London)
        .date_naive();
    let mut day = next_dvla_working_day(local_day);
    let (mut remaining, saturdays) = delivery_days(postage);
    while remaining > 0 {
        day = day.succ_opt().expect("dates stay in range");
        if is_royal_mail_day(day, saturdays) {
            remaining -= 1;
        }
    }
    let four_pm = day.and_time(NaiveTime::from_hms_opt(16, 0, 0).expect("valid time"));
    London
        .from_local_datetime(&four_pm)
        .earliest()
        .map(|t| t.with_timezone(&Utc).timestamp_micros())
        .unwrap_or(created_at_micros)
}

/// Where a letter's finished PDF is kept in the blob store (workers.md §2.1's lookup rule).
pub fn pdf_path(n: &Notification) -> object_store::path::Path {
    let (area, name) = crate::letters::files::pdf_location(n);
    area.path(&name)
}

/// The letter's PDF, if it has been made and stored.
pub async fn read_pdf(cx: &Context, n: &Notification) -> Option<Vec<u8>> {
    let (area, name) = crate::letters::files::pdf_location(n);
    let files = crate::letters::files::LetterFiles::new(cx.blobs.clone());
    match files.get(area, &name).await {
        Ok(found) => found.map(|b| b.to_vec()),
        Err(e) => {
            tracing::warn!(notification_id = %n.id, error = %e, "cannot read a letter PDF");
            None
        }
    }
}

/// Why a letter cannot be cancelled (the messages are upstream's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancelError {
    #[error("Notification not found")]
    NotFound,
    #[error("Notification cannot be cancelled - only letters can be cancelled")]
    NotALetter,
    #[error("This letter has already been cancelled.")]
    AlreadyCancelled,
    #[error("It\u{2019}s too late to cancel this letter. Printing started {0} at 5.30pm")]
    TooLate(String),
}

fn london(micros: i64) -> chrono::DateTime<chrono_tz::Tz> {
    Utc.timestamp_micros(micros)
        .single()
        .unwrap_or_default()
        .with_timezone(&London)
}

/// Upstream's `too_late_to_cancel_letter`: printing of a letter starts at 17:30 London on the
/// day it was created (or the next day when created after 17:30).
pub fn too_late_to_cancel(created_at_micros: i64, now_micros: i64) -> bool {
    let (created, now) = (london(created_at_micros), london(now_micros));
    let deadline = crate::letters::names::print_deadline();
    let today = now.date_naive();
    let created_day = created.date_naive();
    let yesterday = today.pred_opt().unwrap_or(today);
    (now.time() >= deadline && created.naive_local() <= today.and_time(deadline))
        || (created.time() <= deadline && created_day < today)
        || created_day < yesterday
}

/// "today", or "on 5 March": the day printing started, for the too-late message.
pub fn print_day_words(created_at_micros: i64, now_micros: i64) -> String {
    let print = (london(created_at_micros) + Duration::minutes(6 * 60 + 30)).date_naive();
    if print >= london(now_micros).date_naive() {
        "today".into()
    } else {
        format!("on {}", print.format("%-d %B"))
    }
}

/// Cancel one letter of `service_id` (§1.7): only `created` or `pending-virus-check` letters,
/// only before printing starts.
pub async fn cancel_letter(
    store: &storage::Store,
    service_id: uuid::Uuid,
    id: uuid::Uuid,
) -> Result<Result<Notification, CancelError>, storage::StoreError> {
    use storage::records::NotificationType;
    store
        .write(move |ctx| {
            let Some(n) = ctx
                .get_notification(id)?
                .filter(|n| n.service_id == service_id)
            else {
                return Ok(Err(CancelError::NotFound));
            };
            if n.notification_type != NotificationType::Letter {
                return Ok(Err(CancelError::NotALetter));
            }
            if n.status == NotificationStatus::Cancelled {
                return Ok(Err(CancelError::AlreadyCancelled));
            }
            let now = ctx.now_micros();
            let too_late = || {
                Ok(Err(CancelError::TooLate(print_day_words(
                    n.created_at,
                    now,
                ))))
            };
            if too_late_to_cancel(n.created_at, now) {
                return too_late();
            }
            match apply_status(
                ctx,
                id,
                Event::Cancelled,
                NotificationStatus::Cancelled,
                StatusChange::default(),
            )? {
                Applied::Updated(cancelled) => Ok(Ok(*cancelled)),
                // Printing has started (the table cancels only `created` and
                // `pending-virus-check` letters).
                _ => too_late(),
            }
        })
        .await
}

/// Move every upload in `letters-scan/ERROR/` back to the scan area and queue its letter for
/// another scan (upstream's `replay_letters_in_error`). Answers the notification ids queued.
pub async fn replay_scan_errors(cx: &Context) -> Result<Vec<uuid::Uuid>, String> {
    use crate::letters::files::{Area, LetterFiles};
    let files = LetterFiles::new(cx.blobs.clone());
    let names = files
        .list(Area::ScanError)
        .await
        .map_err(|e| e.to_string())?;
    let mut queued = Vec::new();
    for name in names {
        let Some(reference) = crate::letters::names::reference_from_file_name(&name) else {
            tracing::warn!(file = %name, "not a letter file name; left in letters-scan/ERROR");
            continue;
        };
        let reader = cx.store.read().map_err(|e| e.to_string())?;
        let Some(id) = reader
            .notification_id_by_reference(reference)
            .map_err(|e| e.to_string())?
        else {
            tracing::warn!(file = %name, "no letter has this reference; left in letters-scan/ERROR");
            continue;
        };
        files
            .move_file((Area::ScanError, &name), (Area::Scan, &name))
            .await
            .map_err(|e| e.to_string())?;
        cx.store
            .write(move |ctx| {
                // Back to waiting for its scan: the failure was the scanner's, not the letter's.
                let applied = apply_status_with(
                    ctx,
                    id,
                    Event::ScanReplayed,
                    NotificationStatus::PendingVirusCheck,
                    StatusChange::default(),
                    |n| n.status_reason = None,
                )?;
                if let Applied::Updated(_) = applied {
                    let now = ctx.now_ms();
                    ctx.enqueue(Queue::LetterScan.name(), now, id.as_bytes())?;
                }
                Ok(())
            })
            .await
            .map_err(|e| e.to_string())?;
        queued.push(id);
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelling_stops_when_printing_starts() {
        let at = |s: &str| micros(s);
        // Created Monday 30 Nov 2026 10:00 (GMT).
        let created = at("2026-11-30T10:00:00Z");
        assert!(!too_late_to_cancel(created, at("2026-11-30T17:29:00Z")));
        assert!(too_late_to_cancel(created, at("2026-11-30T17:31:00Z")));
        assert!(too_late_to_cancel(created, at("2026-12-01T09:00:00Z")));
        assert_eq!(
            print_day_words(created, at("2026-11-30T17:31:00Z")),
            "today"
        );
        assert_eq!(
            print_day_words(created, at("2026-12-02T09:00:00Z")),
            "on 30 November"
        );
        // Created after 17:30: it goes in tomorrow's run, so it can be cancelled until then.
        let late = at("2026-11-30T18:00:00Z");
        assert!(!too_late_to_cancel(late, at("2026-11-30T23:00:00Z")));
        assert!(!too_late_to_cancel(late, at("2026-12-01T17:29:00Z")));
        assert!(too_late_to_cancel(late, at("2026-12-01T17:31:00Z")));
        assert!(too_late_to_cancel(late, at("2026-12-02T09:00:00Z")));
        // Summer time: 16:31 UTC is 17:31 BST.
        let summer = at("2026-07-01T09:00:00Z");
        assert!(!too_late_to_cancel(summer, at("2026-07-01T16:29:00Z")));
        assert!(too_late_to_cancel(summer, at("2026-07-01T16:31:00Z")));
    }

    fn micros(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_micros()
    }

    #[test]
    fn the_spec_example_arrives_on_the_ninth() {
        let created = micros("2000-06-01T12:00:00Z");
        assert_eq!(
            storage::clock::format_api_timestamp(estimated_delivery(created, "second")),
            "2000-06-09T15:00:00.000000Z"
        );
    }

    #[test]
    fn first_class_counts_saturday_and_winter_is_gmt() {
        // Thursday 19 Nov 2026, noon: print Friday 20th, first class → Saturday 21st, 16:00 GMT.
        let created = micros("2026-11-19T12:00:00Z");
        assert_eq!(
            storage::clock::format_api_timestamp(estimated_delivery(created, "first")),
            "2026-11-21T16:00:00.000000Z"
        );
        // 18:00 + 6h30 crosses midnight: the print day moves to Monday.
        let late = micros("2026-11-19T18:00:00Z");
        assert_eq!(
            storage::clock::format_api_timestamp(estimated_delivery(late, "first")),
            "2026-11-24T16:00:00.000000Z"
        );
    }
}
