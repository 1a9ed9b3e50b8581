//! Working days in London: DVLA print days (Monday to Friday) and Royal Mail delivery days,
//! both skipping England and Wales bank holidays. The holiday list is GOV.UK's published file,
//! compiled in.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate, Weekday};

static BANK_HOLIDAYS: LazyLock<BTreeSet<NaiveDate>> = LazyLock::new(|| {
    let data: serde_json::Value = serde_json::from_str(include_str!("data/uk-bank-holidays.json"))
        .expect("the compiled-in bank holiday file is valid JSON");
    data["england-and-wales"]["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["date"].as_str())
        .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .collect()
});

pub fn is_bank_holiday(day: NaiveDate) -> bool {
    BANK_HOLIDAYS.contains(&day)
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
