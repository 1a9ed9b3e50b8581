//! Letter references and PDF file names (workers.md §2.1).
//!
//! `[<YYYY-MM-DD>/]NOTIFY.<REF>.D.<POSTAGE>.C.<YYYYMMDDHHMMSS>.PDF`: the folder is the print day
//! (London; a letter created after 17:30 belongs to the next day's run), the timestamp is
//! `created_at` in UTC. The printer's files and response lines identify a letter only by its
//! 16-character reference, so the reference is part of every name.

use chrono::{Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use uuid::Uuid;

/// Length of the printer's reference (upstream: 16 of `[A-Z0-9]`).
pub const REFERENCE_LEN: usize = 16;

/// The daily print deadline: letters created after it (London time) go in the next day's run.
pub fn print_deadline() -> NaiveTime {
    NaiveTime::from_hms_opt(17, 30, 0).expect("a valid time of day")
}

/// The letter's 16-character printer reference, derived from its id so that every file name
/// can be recomputed from the notification alone. The low 80 bits of a v4/v7 id are random;
/// 36^16 > 2^80, so the base-36 digits keep all of them (no two ids in practice share one, and
/// the writer refuses a duplicate reference).
pub fn letter_reference(id: Uuid) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut value = id.as_u128() & ((1u128 << 80) - 1);
    let mut out = [b'0'; REFERENCE_LEN];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(value % 36) as usize];
        value /= 36;
    }
    out.iter().map(|&b| b as char).collect()
}

/// Is `text` shaped like a printer reference?
pub fn is_letter_reference(text: &str) -> bool {
    text.len() == REFERENCE_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// The postage field of the file name (upstream `RESOLVE_POSTAGE_FOR_FILE_NAME`).
pub fn postage_code(postage: &str) -> &'static str {
    match postage {
        "first" => "1",
        "europe" => "E",
        "rest-of-world" => "N",
        "economy" => "ECONOMY",
        _ => "2",
    }
}

fn utc(micros: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_micros(micros).single().unwrap_or_default()
}

/// The print day of a letter created at `created_at_micros`: its London date, or the next day
/// when the London time is strictly after 17:30 (no weekend or bank-holiday skipping).
pub fn print_day(created_at_micros: i64) -> NaiveDate {
    let local = utc(created_at_micros).with_timezone(&London);
    let date = local.date_naive();
    if local.time() > print_deadline() {
        date.checked_add_days(Days::new(1)).unwrap_or(date)
    } else {
        date
    }
}

/// The file name without a folder: `NOTIFY.<REF>.D.<POSTAGE>.C.<UTC timestamp>.PDF`.
pub fn pdf_file_name(reference: &str, postage: &str, created_at_micros: i64) -> String {
    format!(
        "NOTIFY.{}.D.{}.C.{}.PDF",
        reference.to_uppercase(),
        postage_code(postage),
        utc(created_at_micros).format("%Y%m%d%H%M%S")
    )
}

/// The name with its print-day folder, as the letters-pdf area keeps it.
pub fn foldered_pdf_file_name(reference: &str, postage: &str, created_at_micros: i64) -> String {
    format!(
        "{}/{}",
        print_day(created_at_micros).format("%Y-%m-%d"),
        pdf_file_name(reference, postage, created_at_micros)
    )
}

/// The reference in a file name: always the second `.`-separated field of the last path part.
pub fn reference_from_file_name(name: &str) -> Option<&str> {
    let base = name.rsplit('/').next()?;
    let mut fields = base.split('.');
    (fields.next()? == "NOTIFY")
        .then(|| fields.next())
        .flatten()
        .filter(|r| is_letter_reference(r))
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
    fn spec_example_name() {
        let at = micros("2018-01-13T12:00:00Z");
        assert_eq!(
            foldered_pdf_file_name("abcdef1234567890", "second", at),
            "2018-01-13/NOTIFY.ABCDEF1234567890.D.2.C.20180113120000.PDF"
        );
    }

    #[test]
    fn postage_codes() {
        let at = micros("2026-11-30T09:00:00Z");
        for (postage, code) in [
            ("first", "1"),
            ("second", "2"),
            ("economy", "ECONOMY"),
            ("europe", "E"),
            ("rest-of-world", "N"),
        ] {
            let name = pdf_file_name("A".repeat(16).as_str(), postage, at);
            assert_eq!(name.split('.').nth(3), Some(code), "{postage}");
        }
    }

    #[test]
    fn the_folder_moves_on_strictly_after_half_past_five_london() {
        // Winter: London = UTC.
        assert_eq!(
            print_day(micros("2026-11-30T17:30:00Z")).to_string(),
            "2026-11-30"
        );
        assert_eq!(
            print_day(micros("2026-11-30T17:30:01Z")).to_string(),
            "2026-12-01"
        );
        // Summer: 16:31 UTC is 17:31 BST.
        assert_eq!(
            print_day(micros("2026-07-01T16:29:00Z")).to_string(),
            "2026-07-01"
        );
        assert_eq!(
            print_day(micros("2026-07-01T16:31:00Z")).to_string(),
            "2026-07-02"
        );
        // The timestamp stays in UTC while the folder follows London.
        let name = foldered_pdf_file_name(
            "B".repeat(16).as_str(),
            "first",
            micros("2026-07-01T23:30:00Z"),
        );
        assert_eq!(
            name,
            "2026-07-02/NOTIFY.BBBBBBBBBBBBBBBB.D.1.C.20260701233000.PDF"
        );
    }

    #[test]
    fn references_are_sixteen_base36_characters_and_round_trip_from_names() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let r = letter_reference(Uuid::now_v7());
            assert!(is_letter_reference(&r), "{r}");
            assert!(seen.insert(r));
        }
        let id = Uuid::new_v4();
        assert_eq!(letter_reference(id), letter_reference(id));
        let name = foldered_pdf_file_name(&letter_reference(id), "second", 0);
        assert_eq!(
            reference_from_file_name(&name),
            Some(letter_reference(id).as_str())
        );
        assert_eq!(reference_from_file_name("ERROR/NOTIFY.X.D.2.PDF"), None);
        assert_eq!(reference_from_file_name("README.txt"), None);
    }
}
