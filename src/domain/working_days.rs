//! Working days in London: DVLA print days (Monday to Friday) and Royal Mail delivery days,
//! both skipping England and Wales bank holidays. The holiday list is GOV.UK's published file,
//! compiled in; an operator can replace it (`letters.bank_holidays_file`) when the government
//! adds a holiday, without a new binary.

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock, RwLock};

use chrono::{Datelike, NaiveDate, Weekday};

static BANK_HOLIDAYS: LazyLock<RwLock<Arc<BTreeSet<NaiveDate>>>> = LazyLock::new(|| {
    let built_in = parse_bank_holidays(include_str!("data/uk-bank-holidays.json"))
        .expect("the compiled-in bank holiday file is valid");
    RwLock::new(Arc::new(built_in))
});

/// The England and Wales dates of a GOV.UK `bank-holidays.json`.
pub fn parse_bank_holidays(json: &str) -> Result<BTreeSet<NaiveDate>, String> {
    let data: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let events = data["england-and-wales"]["events"]
        .as_array()
        .ok_or("no \"england-and-wales\".\"events\" list (GOV.UK's bank-holidays.json format)")?;
    events
        .iter()
        .map(|e| {
            let text = e["date"]
                .as_str()
                .ok_or(format!("an event without a date: {e}"))?;
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| format!("{text:?} is not a YYYY-MM-DD date"))
        })
        .collect()
}

/// Use the holidays in `path` from now on (the operator's replacement file).
pub fn load_bank_holidays(path: &std::path::Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let days = parse_bank_holidays(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let count = days.len();
    *BANK_HOLIDAYS.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(days);
    Ok(count)
}

pub fn is_bank_holiday(day: NaiveDate) -> bool {
    BANK_HOLIDAYS
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&day)
}

/// A day DVLA prints: Monday to Friday, not a bank holiday.
pub fn is_dvla_working_day(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !is_bank_holiday(day)
}

/// A day Royal Mail delivers: Monday to Saturday for first class, Monday to Friday otherwise;
/// never a bank holiday.
pub fn is_royal_mail_day(day: NaiveDate, counts_saturday: bool) -> bool {
    match day.weekday() {
        Weekday::Sun => false,
        Weekday::Sat if !counts_saturday => false,
        _ => !is_bank_holiday(day),
    }
}

/// The first DVLA working day strictly after `day`.
pub fn next_dvla_working_day(day: NaiveDate) -> NaiveDate {
    let mut d = day.succ_opt().expect("dates stay in range");
    while !is_dvla_working_day(d) {
        d = d.succ_opt().expect("dates stay in range");
    }
    d
}

/// The DVLA working day `n` working days before `day`.
pub fn dvla_working_days_before(day: NaiveDate, n: u32) -> NaiveDate {
    let mut d = day;
    let mut left = n;
    while left > 0 {
        d = d.pred_opt().expect("dates stay in range");
        if is_dvla_working_day(d) {
            left -= 1;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacement_file_is_read_and_bad_ones_are_refused_clearly() {
        let good = r#"{"england-and-wales": {"division": "england-and-wales",
            "events": [{"title": "Extra", "date": "2029-05-07", "notes": "", "bunting": true}]}}"#;
        let days = parse_bank_holidays(good).unwrap();
        assert!(days.contains(&d(2029, 5, 7)));
        assert_eq!(days.len(), 1);
        assert!(
            parse_bank_holidays("{}")
                .unwrap_err()
                .contains("england-and-wales")
        );
        assert!(
            parse_bank_holidays("nope")
                .unwrap_err()
                .contains("not JSON")
        );
        let bad_date = r#"{"england-and-wales": {"events": [{"date": "7 May 2029"}]}}"#;
        assert!(
            parse_bank_holidays(bad_date)
                .unwrap_err()
                .contains("7 May 2029")
        );
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn bank_holidays_come_from_the_published_file() {
        assert!(is_bank_holiday(d(2026, 12, 25)));
        assert!(is_bank_holiday(d(2026, 8, 31)));
        assert!(!is_bank_holiday(d(2026, 8, 30)));
        assert!(
            !is_dvla_working_day(d(2026, 12, 28)),
            "Boxing Day substitute"
        );
    }

    #[test]
    fn next_print_day_skips_weekends_and_holidays() {
        // Thursday 24 Dec 2026 → Fri 25 and Mon 28 are holidays, so Tuesday 29.
        assert_eq!(next_dvla_working_day(d(2026, 12, 24)), d(2026, 12, 29));
        // Friday → Monday.
        assert_eq!(next_dvla_working_day(d(2026, 11, 20)), d(2026, 11, 23));
    }

    #[test]
    fn royal_mail_first_class_counts_saturdays() {
        let sat = d(2026, 11, 21);
        assert!(is_royal_mail_day(sat, true));
        assert!(!is_royal_mail_day(sat, false));
        assert!(!is_royal_mail_day(d(2026, 11, 22), true));
    }
}
