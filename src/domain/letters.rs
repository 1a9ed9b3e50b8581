//! Letter facts the API reports: when a letter should arrive and what it costs.

use chrono::{Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use storage::records::Notification;

use super::working_days::{is_royal_mail_day, next_dvla_working_day};
use crate::app::App;

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

/// Where a letter's printable PDF is kept in the blob store.
pub fn pdf_path(n: &Notification) -> object_store::path::Path {
    object_store::path::Path::from(format!("letters-pdf/{}.pdf", n.id))
}

/// The letter's PDF, if it has been made and stored.
pub async fn read_pdf(app: &App, n: &Notification) -> Option<Vec<u8>> {
    use object_store::ObjectStoreExt;
    let got = app.blobs.get(&pdf_path(n)).await.ok()?;
    got.bytes().await.ok().map(|b| b.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

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
