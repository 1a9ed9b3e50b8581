//! Country and territory names with their synonyms and postage zones, from
//! `data/countries.tsv`, looked up the way upstream's `CountryMapping` does.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::text::sanitise_ascii;

/// Postage zone of a country.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Zone {
    Uk,
    Europe,
    RestOfWorld,
}

struct Countries {
    /// make_key(name) -> index into `canonical`.
    by_key: HashMap<String, usize>,
    canonical: Vec<(String, Zone)>,
}

static COUNTRIES: LazyLock<Countries> = LazyLock::new(|| {
    let mut by_key = HashMap::new();
    let mut canonical = Vec::new();
    for line in include_str!("../data/countries.tsv").lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split('\t');
        let zone = match fields.next() {
            Some("U") => Zone::Uk,
            Some("E") => Zone::Europe,
            _ => Zone::RestOfWorld,
        };
        let Some(name) = fields.next() else { continue };
        // A leading `!` marks a canonical name that is not itself a key.
        let (name, self_key) = match name.strip_prefix('!') {
            Some(n) => (n, false),
            None => (name, true),
        };
        let index = canonical.len();
        canonical.push((name.to_string(), zone));
        if self_key {
            by_key.insert(country_key(name), index);
        }
        for synonym in fields {
            by_key.insert(country_key(synonym), index);
        }
    }
    Countries { by_key, canonical }
});

/// Notify's `CountryMapping.make_key`.
fn country_key(name: &str) -> String {
    let name = name.replace(['&', '+'], "and");
    let normalised: String = name
        .chars()
        .filter(|c| !" _-'\u{2019},.()".contains(*c))
        .flat_map(char::to_lowercase)
        .collect();
    let encoded = sanitise_ascii(&normalised);
    if encoded.contains('?') {
        normalised
    } else {
        encoded
    }
}

/// Look a line up in the country list (also trying "the", "yr" and "y" in front).
pub(super) fn find_country(line: &str) -> Option<(&'static str, Zone)> {
    let countries = &*COUNTRIES;
    if line.chars().any(char::is_numeric) {
        return None;
    }
    [
        line.to_string(),
        format!("the {line}"),
        format!("yr {line}"),
        format!("y {line}"),
    ]
    .iter()
    .find_map(|candidate| countries.by_key.get(&country_key(candidate)))
    .map(|&i| {
        let (name, zone) = &countries.canonical[i];
        (name.as_str(), *zone)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_data() {
        let header: usize = include_str!("../data/countries.tsv")
            .lines()
            .find_map(|l| l.strip_prefix("# keys: "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap();
        assert_eq!(COUNTRIES.by_key.len(), header);
        assert_eq!(find_country("FRANCE"), Some(("France", Zone::Europe)));
        assert_eq!(
            find_country("Bahamas"),
            Some(("The Bahamas", Zone::RestOfWorld))
        );
        assert_eq!(find_country("Alban"), Some(("United Kingdom", Zone::Uk)));
        assert_eq!(
            find_country("Trinidad & Tobago"),
            Some(("Trinidad and Tobago", Zone::RestOfWorld))
        );
        assert_eq!(
            find_country("East Germany"),
            Some(("Germany", Zone::Europe))
        );
        assert_eq!(find_country("Yugoslavia"), None);
        assert_eq!(find_country("Germany 1"), None);
        assert_eq!(find_country("SW1A 1AA"), None);
    }
}
