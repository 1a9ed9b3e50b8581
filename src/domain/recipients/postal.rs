//! Postal addresses (§10.3): a templated letter's address lines checked and normalised.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::countries::{Zone, find_country};
use super::text::is_notify_whitespace;
use crate::python::py_splitlines;
use crate::templates::typography::{normalise_whitespace, remove_whitespace_before_punctuation};

/// A postal address validation failure. `Display` gives the exact v2 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("Address must be at least 3 lines")]
    TooFewLines,
    #[error("Address must be no more than 7 lines")]
    TooManyLines,
    #[error(
        "The first 2 lines of the address must both include at least one alphanumeric character"
    )]
    FirstTwoLinesNotAlphanumeric,
    #[error("The last line of a BFPO address must not be a country.")]
    BfpoWithCountry,
    #[error("Last line of address must be a real UK postcode or another country")]
    NotPostcodeOrCountry,
    #[error("Must be a real UK postcode")]
    NotUkPostcode,
    #[error(
        "Address lines must not start with any of the following characters: @ ( ) = [ ] \u{201D} \\ / , < >"
    )]
    InvalidFirstCharacter,
    #[error("Must be a real address")]
    NoFixedAbode,
}

/// A validated postal address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalAddress {
    /// Normalised lines: whitespace normalised, UK country lines removed, postcode
    /// reformatted, an international country replaced by its canonical name and a BFPO
    /// number written as `BFPO <n>` (after the postcode).
    pub lines: Vec<String>,
    /// The reformatted UK postcode (`SW1A 1AA`), if the address has one.
    pub postcode: Option<String>,
    /// True when the last line names a country outside the UK.
    pub international: bool,
    /// `europe` or `rest-of-world` for international addresses.
    pub postage_zone: Option<String>,
    /// True for a British Forces Post Office address.
    pub bfpo: bool,
    /// The BFPO number, without leading zeros.
    pub bfpo_number: Option<String>,
    /// Canonical name of the country named on the last line (`United Kingdom` for UK names
    /// such as `England`), or `None` if no country was named.
    pub country: Option<String>,
}

/// Known postcode areas.
const UK_POSTCODE_ZONES: [&str; 127] = [
    "AB", "AL", "B", "BA", "BB", "BD", "BF", "BH", "BL", "BN", "BR", "BS", "BT", "BX", "CA", "CB",
    "CF", "CH", "CM", "CO", "CR", "CT", "CV", "CW", "DA", "DD", "DE", "DG", "DH", "DL", "DN", "DT",
    "DY", "E", "EC", "EH", "EN", "EX", "FK", "FY", "G", "GL", "GU", "GY", "HA", "HD", "HG", "HP",
    "HR", "HS", "HU", "HX", "IG", "IM", "IP", "IV", "JE", "KA", "KT", "KW", "KY", "L", "GIR", "LA",
    "LD", "LE", "LL", "LN", "LS", "LU", "M", "ME", "MK", "ML", "N", "NE", "NG", "NN", "NP", "NR",
    "NW", "OL", "OX", "PA", "PE", "PH", "PL", "PO", "PR", "RG", "RH", "RM", "S", "SA", "SE", "SG",
    "SK", "SL", "SM", "SN", "SO", "SP", "SR", "SS", "ST", "SW", "SY", "TA", "TD", "TF", "TN", "TQ",
    "TR", "TS", "TW", "UB", "W", "WA", "WC", "WD", "WF", "WN", "WR", "WS", "WV", "YO", "ZE",
];

static POSTCODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        "^(?:{})[0-9][0-9A-Z]?[0-9][A-BD-HJLNP-UW-Z]{{2}}$",
        UK_POSTCODE_ZONES.join("|")
    ))
    .expect("valid regex")
});

/// Reformat a UK postcode as `OUTWARD INWARD` if it is a real one (`sw1a1aa` → `SW1A 1AA`).
pub fn format_postcode(postcode: &str) -> Option<String> {
    let normalised: String = postcode
        .chars()
        .filter(|&c| !is_notify_whitespace(c))
        .collect::<String>()
        .to_uppercase();
    if !POSTCODE.is_match(&normalised) {
        return None;
    }
    let chars: Vec<char> = normalised.chars().collect();
    let (outward, inward) = chars.split_at(chars.len() - 3);
    Some(format!(
        "{} {}",
        outward.iter().collect::<String>(),
        inward.iter().collect::<String>()
    ))
}

static BFPO_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*bfpo\s*(?:c/o)?(?:\s*(\d+))?\s*$").expect("valid regex"));
static DECIMAL_DIGIT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d$").expect("valid regex"));
static NO_FIXED_ABODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)no fixed (abode|address)").expect("valid regex"));

/// Python's `int()` of a string of Unicode decimal digits, written back in ASCII.
fn decimal_to_ascii(digits: &str) -> String {
    let mut out = String::new();
    for c in digits.chars() {
        // Unicode decimal digits come in contiguous runs of ten, starting with zero.
        let mut start = c as u32;
        while start > 0
            && char::from_u32(start - 1)
                .is_some_and(|p| DECIMAL_DIGIT.is_match(p.encode_utf8(&mut [0; 4])))
        {
            start -= 1;
        }
        let value = (c as u32 - start) % 10;
        out.push(char::from_digit(value, 10).unwrap_or('0'));
    }
    let trimmed = out.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Validate a templated letter's address (§10.3). `lines` are the address values in §5.3
/// order (`address_line_1`… then `address_line_7` or `postcode`), missing ones as empty
/// strings; a value may itself contain line breaks. `allow_international` is the service's
/// `international_letters` permission. Checks run in the §10.3 order.
pub fn validate_postal_address(
    lines: &[String],
    allow_international: bool,
) -> Result<PostalAddress, AddressError> {
    let raw = lines.join("\n");
    let mut cleaned: Vec<String> = py_splitlines(&raw)
        .iter()
        .map(|l| normalise_whitespace(l))
        .filter_map(|l| {
            let l = l.trim_end_matches([' ', ',']);
            (!l.is_empty()).then(|| remove_whitespace_before_punctuation(l))
        })
        .collect();
    if cleaned.is_empty() {
        cleaned.push(String::new());
    }

    // BFPO: the first `BFPO <number>` line gives the number; every BFPO line is removed.
    let lowered: Vec<String> = cleaned.iter().map(|l| l.to_lowercase()).collect();
    let bfpo_number = lowered.iter().find_map(|l| {
        BFPO_LINE
            .captures(l)
            .and_then(|c| c.get(1))
            .map(|m| decimal_to_ascii(m.as_str()))
    });
    let without_bfpo: Vec<String> = if bfpo_number.is_some() {
        cleaned
            .iter()
            .zip(&lowered)
            .filter(|(_, low)| !BFPO_LINE.is_match(low))
            .map(|(l, _)| l.clone())
            .collect()
    } else {
        cleaned
    };

    // Country on the last line. Upstream counts every UK country line when scanning back
    // from the end (skipping lines that are not countries, stopping at another country)
    // and removes that many lines from the end.
    let mut trailing_uk = 0;
    for line in without_bfpo.iter().rev() {
        match find_country(line) {
            Some((_, Zone::Uk)) => trailing_uk += 1,
            Some(_) => break,
            None => {}
        }
    }
    let (country, zone, body) = match without_bfpo.last().and_then(|l| find_country(l)) {
        Some((name, zone)) => {
            let cut = without_bfpo.len().saturating_sub(trailing_uk.max(1));
            (Some(name), zone, without_bfpo[..cut].to_vec())
        }
        None => (None, Zone::Uk, without_bfpo),
    };
    let international = zone != Zone::Uk;
    let postcode = if international {
        None
    } else {
        body.last().and_then(|l| format_postcode(l))
    };

    let mut normalised = body.clone();
    if international {
        if let Some(n) = &bfpo_number {
            normalised.push(format!("BFPO {n}"));
        }
        normalised.push(country.unwrap_or_default().to_string());
    } else {
        if let Some(pc) = &postcode {
            normalised.pop();
            normalised.push(pc.clone());
        }
        if let Some(n) = &bfpo_number {
            normalised.push(format!("BFPO {n}"));
        }
    }

    let line_count = py_splitlines(&normalised.join("\n")).len();
    let bfpo = bfpo_number.is_some();
    if line_count < 3 {
        return Err(AddressError::TooFewLines);
    }
    if line_count > 7 {
        return Err(AddressError::TooManyLines);
    }
    let alphanumeric = |l: &String| l.chars().any(|c| c.is_ascii_alphanumeric());
    if normalised.len() < 2 || !normalised[..2].iter().all(alphanumeric) {
        return Err(AddressError::FirstTwoLinesNotAlphanumeric);
    }
    if international && bfpo {
        return Err(AddressError::BfpoWithCountry);
    }
    // A BFPO address with a country was rejected above.
    let valid_last_line = bfpo || postcode.is_some() || allow_international && international;
    if !valid_last_line {
        return Err(if allow_international {
            AddressError::NotPostcodeOrCountry
        } else {
            AddressError::NotUkPostcode
        });
    }
    if normalised
        .iter()
        .any(|l| l.starts_with(|c: char| "@()=[]\"\\/,<>~".contains(c)))
    {
        return Err(AddressError::InvalidFirstCharacter);
    }
    if normalised.iter().any(|l| l.to_lowercase() == "nfa")
        || NO_FIXED_ABODE.is_match(&normalised.join("\n"))
    {
        return Err(AddressError::NoFixedAbode);
    }

    Ok(PostalAddress {
        lines: normalised,
        postcode,
        international,
        postage_zone: match zone {
            Zone::Uk => None,
            Zone::Europe => Some("europe".to_string()),
            Zone::RestOfWorld => Some("rest-of-world".to_string()),
        },
        bfpo,
        bfpo_number,
        country: country.map(str::to_string),
    })
}

impl fmt::Display for PostalAddress {
    /// The address on one line, comma separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    fn address_error(l: &[&str], allow_international: bool) -> AddressError {
        validate_postal_address(&lines(l), allow_international).expect_err(&l.join("|"))
    }

    #[test]
    fn spec_address_checks_in_order() {
        let invalid_characters = "Address lines must not start with any of the following \
             characters: @ ( ) = [ ] \u{201D} \\ / , < >";
        // (lines, allow_international, error, message)
        let rows: &[(&[&str], bool, AddressError, &str)] = &[
            // 1. fewer than 3 lines (also before any other check)
            (
                &["1 Street", "SW1A 1AA"],
                false,
                AddressError::TooFewLines,
                "Address must be at least 3 lines",
            ),
            (
                &["(Flat", "", "  ", "nfa"],
                false,
                AddressError::TooFewLines,
                "Address must be at least 3 lines",
            ),
            (
                &["1 Street", "Town", "United Kingdom"],
                true,
                AddressError::TooFewLines,
                "Address must be at least 3 lines",
            ),
            (
                &[],
                false,
                AddressError::TooFewLines,
                "Address must be at least 3 lines",
            ),
            // 2. more than 7 lines
            (
                &["1", "2", "3", "4", "5", "6", "7", "SW1A 1AA"],
                false,
                AddressError::TooManyLines,
                "Address must be no more than 7 lines",
            ),
            (
                &["(1", "2", "3", "4", "5", "6", "7", "nope"],
                true,
                AddressError::TooManyLines,
                "Address must be no more than 7 lines",
            ),
            // 3. lines 1 and 2 need an ASCII letter or digit
            (
                &["!!!", "1 Street", "SW1A 1AA"],
                false,
                AddressError::FirstTwoLinesNotAlphanumeric,
                "The first 2 lines of the address must both include at least one alphanumeric character",
            ),
            (
                &["1 Street", "é", "not a postcode"],
                false,
                AddressError::FirstTwoLinesNotAlphanumeric,
                "The first 2 lines of the address must both include at least one alphanumeric character",
            ),
            // 4. BFPO address naming a country
            (
                &["Mx One", "BFPO 123", "France"],
                true,
                AddressError::BfpoWithCountry,
                "The last line of a BFPO address must not be a country.",
            ),
            (
                &["(Mx One", "BFPO 123", "Japan"],
                false,
                AddressError::BfpoWithCountry,
                "The last line of a BFPO address must not be a country.",
            ),
            // 5. bad last line
            (
                &["1 Street", "Town", "Not a postcode"],
                false,
                AddressError::NotUkPostcode,
                "Must be a real UK postcode",
            ),
            (
                &["1 Street", "Town", "Not a postcode"],
                true,
                AddressError::NotPostcodeOrCountry,
                "Last line of address must be a real UK postcode or another country",
            ),
            (
                &["1 Rue Example", "Paris", "France"],
                false,
                AddressError::NotUkPostcode,
                "Must be a real UK postcode",
            ),
            (
                &["(1 Street", "Town", "NFA 1AA"],
                false,
                AddressError::NotUkPostcode,
                "Must be a real UK postcode",
            ),
            (
                &["1 Street", "Town", "SO144 6WB"],
                false,
                AddressError::NotUkPostcode,
                "Must be a real UK postcode",
            ),
            (
                &["1 Street", "Town", "NF1 1AA"],
                false,
                AddressError::NotUkPostcode,
                "Must be a real UK postcode",
            ),
            // 6. first character of a line
            (
                &["1 Street", "(Town)", "SW1A 1AA"],
                false,
                AddressError::InvalidFirstCharacter,
                invalid_characters,
            ),
            (
                &["1 Street", "Town", "~NFA", "SW1A 1AA"],
                false,
                AddressError::InvalidFirstCharacter,
                invalid_characters,
            ),
            (
                &["1 Street", "Town", "\"Quoted\"", "SW1A 1AA"],
                false,
                AddressError::InvalidFirstCharacter,
                invalid_characters,
            ),
            // 7. no fixed abode
            (
                &["A Person", "NFA", "SW1A 1AA"],
                false,
                AddressError::NoFixedAbode,
                "Must be a real address",
            ),
            (
                &["A Person", "nfa,", "SW1A 1AA"],
                false,
                AddressError::NoFixedAbode,
                "Must be a real address",
            ),
            (
                &["A Person", "no fixed Abode", "SW1A 1AA"],
                false,
                AddressError::NoFixedAbode,
                "Must be a real address",
            ),
            (
                &["User with NO FIXED ADDRESS", "London", "SW1A 1AA"],
                false,
                AddressError::NoFixedAbode,
                "Must be a real address",
            ),
            (
                &["nfa", "Berlin", "Deutschland"],
                true,
                AddressError::NoFixedAbode,
                "Must be a real address",
            ),
        ];
        for &(l, allow, error, message) in rows {
            let e = address_error(l, allow);
            assert_eq!(e, error, "{l:?}");
            assert_eq!(e.to_string(), message, "{l:?}");
        }
        // Not a no-fixed-abode address.
        assert!(
            validate_postal_address(&lines(&["123 Street", "NFA NFA2024", "SW1A 1AA"]), false)
                .is_ok()
        );
    }

    #[test]
    fn address_postcode_is_reformatted() {
        assert_eq!(format_postcode("sw1a1aa").as_deref(), Some("SW1A 1AA"));
        assert_eq!(
            format_postcode(" S W1 A 1 AA ").as_deref(),
            Some("SW1A 1AA")
        );
        assert_eq!(
            format_postcode("so14\u{00A0}6wb").as_deref(),
            Some("SO14 6WB")
        );
        assert_eq!(format_postcode("N5 1AA").as_deref(), Some("N5 1AA"));
        assert_eq!(format_postcode("N5"), None);
        assert_eq!(format_postcode("SO14 6WBA"), None);
        let a = validate_postal_address(&lines(&["1 Street", "Town", "sw1a1aa"]), false).unwrap();
        assert_eq!(a.lines, ["1 Street", "Town", "SW1A 1AA"]);
        assert_eq!(a.postcode.as_deref(), Some("SW1A 1AA"));
        assert!(!a.international && a.postage_zone.is_none() && !a.bfpo && a.country.is_none());
        assert_eq!(a.to_string(), "1 Street, Town, SW1A 1AA");
    }

    #[test]
    fn address_uk_country_line_is_stripped() {
        for country in [
            "United Kingdom",
            "England",
            "UK",
            "Scotland",
            "Wales",
            "Isle of Man",
            "Y Deyrnas Unedig",
        ] {
            let a =
                validate_postal_address(&lines(&["1 Street", "Town", "SW1A 1AA", country]), false)
                    .unwrap_or_else(|e| panic!("{country}: {e}"));
            assert_eq!(a.lines, ["1 Street", "Town", "SW1A 1AA"], "{country}");
            assert_eq!(a.country.as_deref(), Some("United Kingdom"));
            assert!(!a.international);
        }
        let a = validate_postal_address(
            &lines(&["1 Street", "Town", "SW1A 1AA", "England", "United Kingdom"]),
            false,
        )
        .unwrap();
        assert_eq!(a.lines, ["1 Street", "Town", "SW1A 1AA"]);
    }

    #[test]
    fn address_international_zones() {
        let rows = [
            ("France", "France", "europe"),
            ("Deutschland", "Germany", "europe"),
            ("Nederland", "Netherlands", "europe"),
            ("Canary Islands", "Canary Islands", "europe"),
            ("Japan", "Japan", "rest-of-world"),
            ("USA", "United States", "rest-of-world"),
            ("Côte d'Ivoire", "Ivory Coast", "rest-of-world"),
            ("Gambia", "The Gambia", "rest-of-world"),
        ];
        for (line, canonical, zone) in rows {
            let a = validate_postal_address(&lines(&["1 Example Road", "Some City", line]), true)
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            assert!(a.international, "{line}");
            assert_eq!(a.postage_zone.as_deref(), Some(zone), "{line}");
            assert_eq!(a.country.as_deref(), Some(canonical), "{line}");
            assert_eq!(
                a.lines.last().map(String::as_str),
                Some(canonical),
                "{line}"
            );
            assert_eq!(a.postcode, None);
        }
        // A postcode before a foreign country is not a UK postcode.
        let a = validate_postal_address(
            &lines(&["123 Example Straße", "SW1A 1AA", "Deutschland"]),
            true,
        )
        .unwrap();
        assert_eq!(a.postcode, None);
        assert_eq!(a.lines, ["123 Example Straße", "SW1A 1AA", "Germany"]);
    }

    #[test]
    fn address_bfpo() {
        let a = validate_postal_address(&lines(&["Mx One", "Unit 1", "BFPO", "BFPO 123"]), false)
            .unwrap();
        assert!(a.bfpo && !a.international);
        assert_eq!(a.bfpo_number.as_deref(), Some("123"));
        assert_eq!(a.lines, ["Mx One", "Unit 1", "BFPO 123"]);
        assert_eq!(a.postcode, None);

        let a = validate_postal_address(&lines(&["Mx One", "bfpo c/o 0077", "BF1 1AA"]), false)
            .unwrap();
        assert_eq!(a.lines, ["Mx One", "BF1 1AA", "BFPO 77"]);
        assert_eq!(a.postcode.as_deref(), Some("BF1 1AA"));

        // "BFPO" alone does not make a BFPO address.
        assert_eq!(
            address_error(&["Mx One", "Unit 1", "BFPO"], false),
            AddressError::NotUkPostcode
        );
    }

    #[test]
    fn address_whitespace_normalisation() {
        let a = validate_postal_address(
            &lines(&[
                "123 Example St. \t  ,    \n, , ,  ,   ,     ,        ,\nCity of Town, Region,\nSW1A 1AA,,\n",
            ]),
            false,
        )
        .unwrap();
        assert_eq!(
            a.lines,
            ["123 Example St.", "City of Town, Region", "SW1A 1AA"]
        );
        let a = validate_postal_address(
            &lines(&[
                "  123 Example    St  .",
                "City\u{00A0}\u{00A0}of Town",
                "",
                "S W1 A 1 AA",
            ]),
            false,
        )
        .unwrap();
        assert_eq!(a.lines, ["123 Example St.", "City of Town", "SW1A 1AA"]);
    }
}
