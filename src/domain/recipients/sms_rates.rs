//! Billed SMS country prefixes and their rate multipliers, from `data/sms_rates.txt` (its header
//! says which multipliers are confirmed current values).

use std::collections::HashMap;
use std::sync::LazyLock;

/// Billing prefix -> rate multiplier, from `data/sms_rates.txt`.
pub(super) static SMS_RATES: LazyLock<HashMap<String, u32>> = LazyLock::new(|| {
    include_str!("../data/sms_rates.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let prefix = fields.next()?;
            let rate = fields.next()?.parse().ok()?;
            Some((prefix.to_string(), rate))
        })
        .collect()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_rates_data() {
        assert_eq!(SMS_RATES.len(), 220);
        for (prefix, rate) in [
            ("1", 1),
            ("7", 10),
            ("20", 7),
            ("33", 2),
            ("44", 2),
            ("1664", 6),
        ] {
            assert_eq!(SMS_RATES.get(prefix), Some(&rate), "{prefix}");
        }
        assert!(!SMS_RATES.contains_key("247"));
    }
}
