//! The parsing steps of libphonenumber (Python `phonenumbers`) that Notify relies on,
//! re-implemented on top of the metadata shipped with the `phonenumber` crate, so that edge
//! cases (national prefix stripping, `00` international prefix, a leading `44` without a `+`,
//! "possible number" reasons...) behave like upstream.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use phonenumber::{Type, Validation};
use regex::{Regex, RegexBuilder};

/// A parsed number: country calling code and national significant number (with any
/// leading zeros libphonenumber keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Num {
    pub(super) cc: u16,
    pub(super) nsn: String,
}

const MIN_LENGTH_FOR_NSN: usize = 2;
const MAX_LENGTH_FOR_NSN: usize = 17;
const MAX_INPUT_STRING_LENGTH: usize = 250;

/// Why libphonenumber could not parse a number (its `NumberParseException` types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ParseError {
    NotANumber,
    InvalidCountryCode,
    TooShortAfterIdd,
    TooShortNsn,
    TooLong,
}

/// Compiled copies of metadata patterns, anchored like Python's `fullmatch` (`full`) or
/// `match`. `source` must be a pattern string of the static metadata: its address is the
/// cache key. Kept, not rebuilt: a fresh `Regex` starts with an empty match cache and builds
/// its lazy DFA again (that was most of the SMS accept path's CPU). One cache per thread: a
/// shared one behind a mutex, and a `Regex` shared between threads (whose scratch space then
/// comes from a contended pool), were ~15% of the server's CPU under an SMS load.
fn metadata_regex(source: &'static str, full: bool) -> Rc<Regex> {
    thread_local! {
        static CACHE: RefCell<HashMap<(usize, usize, bool), Rc<Regex>>> =
            RefCell::new(HashMap::new());
    }
    let key = (source.as_ptr() as usize, source.len(), full);
    CACHE.with_borrow_mut(|cache| {
        cache
            .entry(key)
            .or_insert_with(|| {
                let anchored = if full {
                    format!("^(?:{source})$")
                } else {
                    format!("^(?:{source})")
                };
                Rc::new(
                    RegexBuilder::new(&anchored)
                        .ignore_whitespace(true)
                        .build()
                        .unwrap_or_else(|_| Regex::new(r"[^\s\S]").expect("valid regex")),
                )
            })
            .clone()
    })
}

fn full_match(source: &'static str, s: &str) -> bool {
    metadata_regex(source, true).is_match(s)
}

/// Metadata of the main region for a country calling code (or of the non-geographic entity).
fn metadata_for_code(cc: u16) -> Option<&'static Metadata> {
    let db = &*DATABASE;
    let regions = db.region(&cc)?;
    let main = *regions.first()?;
    if main == "001" {
        db.by_code(&cc)?.into_iter().next()
    } else {
        db.by_id(main)
    }
}

/// Possible lengths of the general description (the union over all number types) and the
/// lengths possible only for local dialling. Worked out once per region and thread, like the
/// regexes: every number checked needs them, and they never change.
fn general_lengths(meta: &'static Metadata) -> Rc<Lengths> {
    thread_local! {
        static CACHE: RefCell<HashMap<usize, Rc<Lengths>>> = RefCell::new(HashMap::new());
    }
    let key = meta as *const Metadata as usize;
    CACHE.with_borrow_mut(|cache| {
        cache
            .entry(key)
            .or_insert_with(|| Rc::new(union_of_lengths(meta)))
            .clone()
    })
}

/// A region's possible number lengths, and those possible only for local dialling.
type Lengths = (Vec<u16>, Vec<u16>);

fn union_of_lengths(meta: &Metadata) -> Lengths {
    let d = meta.descriptors();
    let mut lengths = Vec::new();
    let mut local = Vec::new();
    for desc in [
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ]
    .into_iter()
    .flatten()
    {
        lengths.extend_from_slice(desc.possible_length());
        local.extend_from_slice(desc.possible_local_length());
    }
    lengths.sort_unstable();
    lengths.dedup();
    // A length that is possible for some type is not "local only" for the region.
    local.retain(|l| !lengths.contains(l));
    local.sort_unstable();
    local.dedup();
    (lengths, local)
}

fn test_number_length(nsn: &str, meta: &'static Metadata) -> Validation {
    let lengths = general_lengths(meta);
    let (possible, local) = (&lengths.0, &lengths.1);
    let (Some(&min), Some(&max)) = (possible.first(), possible.last()) else {
        return Validation::InvalidLength;
    };
    let len = nsn.len() as u16;
    if local.contains(&len) {
        Validation::IsPossibleLocalOnly
    } else if len == min {
        Validation::IsPossible
    } else if len < min {
        Validation::TooShort
    } else if len > max {
        Validation::TooLong
    } else if possible.contains(&len) {
        Validation::IsPossible
    } else {
        Validation::InvalidLength
    }
}

fn matches_general(nsn: &str, meta: &'static Metadata) -> bool {
    full_match(meta.descriptors().general().national_number().as_str(), nsn)
}

fn matches_desc(nsn: &str, desc: Option<&'static Descriptor>) -> bool {
    let Some(desc) = desc else { return false };
    let lengths = desc.possible_length();
    if !lengths.is_empty() && !lengths.contains(&(nsn.len() as u16)) {
        return false;
    }
    full_match(desc.national_number().as_str(), nsn)
}

/// Whether a region's fixed-line and mobile patterns are the same (whitespace aside). The
/// patterns are long, so the answer is worked out once per region, not once per number.
fn fixed_line_same_as_mobile(meta: &'static Metadata) -> bool {
    thread_local! {
        static CACHE: RefCell<HashMap<usize, bool>> = RefCell::new(HashMap::new());
    }
    let key = meta as *const Metadata as usize;
    CACHE.with_borrow_mut(|cache| {
        *cache.entry(key).or_insert_with(|| {
            let d = meta.descriptors();
            let squash = |desc: Option<&Descriptor>| {
                desc.map(|x| {
                    x.national_number()
                        .as_str()
                        .split_whitespace()
                        .collect::<String>()
                })
            };
            squash(d.fixed_line()) == squash(d.mobile())
        })
    })
}

fn number_type_for(nsn: &str, meta: &'static Metadata) -> Type {
    let d = meta.descriptors();
    let lengths = general_lengths(meta);
    if !lengths.0.contains(&(nsn.len() as u16)) || !matches_general(nsn, meta) {
        return Type::Unknown;
    }
    for (desc, kind) in [
        (d.premium_rate(), Type::PremiumRate),
        (d.toll_free(), Type::TollFree),
        (d.shared_cost(), Type::SharedCost),
        (d.voip(), Type::Voip),
        (d.personal_number(), Type::PersonalNumber),
        (d.pager(), Type::Pager),
        (d.uan(), Type::Uan),
        (d.voicemail(), Type::Voicemail),
    ] {
        if matches_desc(nsn, desc) {
            return kind;
        }
    }
    let same_pattern = fixed_line_same_as_mobile(meta);
    if matches_desc(nsn, d.fixed_line()) {
        if same_pattern || matches_desc(nsn, d.mobile()) {
            return Type::FixedLineOrMobile;
        }
        return Type::FixedLine;
    }
    if !same_pattern && matches_desc(nsn, d.mobile()) {
        return Type::Mobile;
    }
    Type::Unknown
}

/// libphonenumber's `region_code_for_number`, returning the region's metadata.
pub(super) fn region_for_number(cc: u16, nsn: &str) -> Option<&'static Metadata> {
    let db = &*DATABASE;
    let regions = db.region(&cc)?;
    if regions.len() == 1 {
        return metadata_for_code(cc);
    }
    for region in regions {
        let Some(meta) = db.by_id(region) else {
            continue;
        };
        if let Some(leading) = meta.leading_digits() {
            if metadata_regex(leading.as_str(), false).is_match(nsn) {
                return Some(meta);
            }
        } else if number_type_for(nsn, meta) != Type::Unknown {
            return Some(meta);
        }
    }
    None
}

pub(super) fn number_type(n: &Num) -> Type {
    region_for_number(n.cc, &n.nsn).map_or(Type::Unknown, |meta| number_type_for(&n.nsn, meta))
}

pub(super) fn is_possible_with_reason(n: &Num) -> Validation {
    match metadata_for_code(n.cc) {
        Some(meta) => test_number_length(&n.nsn, meta),
        None => Validation::InvalidCountryCode,
    }
}

fn is_plus(c: char) -> bool {
    c == '+' || c == '\u{FF0B}'
}

/// libphonenumber's `VALID_PUNCTUATION`.
fn is_valid_punctuation(c: char) -> bool {
    matches!(
        c,
        '-' | 'x'
            | 'X'
            | '\u{2010}'..='\u{2015}'
            | '\u{2212}'
            | '\u{30FC}'
            | '\u{FF0D}'..='\u{FF0F}'
            | ' '
            | '\u{00A0}'
            | '\u{00AD}'
            | '\u{200B}'
            | '\u{2060}'
            | '\u{3000}'
            | '('
            | ')'
            | '\u{FF08}'
            | '\u{FF09}'
            | '\u{FF3B}'
            | '\u{FF3D}'
            | '.'
            | '['
            | ']'
            | '/'
            | '~'
            | '\u{2053}'
            | '\u{223C}'
            | '\u{FF5E}'
    )
}

/// `_extract_possible_number`: from the first `+` or digit, without trailing non-word
/// characters.
fn extract_possible_number(s: &str) -> &str {
    let Some(start) = s.find(|c: char| is_plus(c) || c.is_ascii_digit()) else {
        return "";
    };
    let s = &s[start..];
    s.trim_end_matches(|c: char| c == '_' || !(c.is_alphanumeric() || c == '#'))
}

/// `_is_viable_phone_number` for the characters Notify lets through (digits, whitespace,
/// brackets, `+` and `-`; no letters, so no extensions).
fn is_viable(s: &str) -> bool {
    let count = s.chars().count();
    if count < MIN_LENGTH_FOR_NSN {
        return false;
    }
    if count == 2 && s.chars().all(|c| c.is_ascii_digit()) {
        return true;
    }
    let rest = s.trim_start_matches(is_plus);
    let mut digits = 0;
    for c in rest.chars() {
        if c.is_ascii_digit() {
            digits += 1;
        } else if !(is_valid_punctuation(c) || c == '*' || digits >= 3 && c.is_ascii_alphabetic()) {
            return false;
        }
    }
    digits >= 3
}

fn digits_only(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// `_maybe_strip_national_prefix_carrier_code`; returns the number without the prefix.
fn strip_national_prefix(number: &str, meta: &'static Metadata) -> String {
    if number.is_empty() {
        return number.to_string();
    }
    let prefix_regex = match meta.national_prefix_for_parsing() {
        Some(p) => metadata_regex(p.as_str(), false),
        None => match meta.national_prefix() {
            Some(p) if !p.is_empty() => match Regex::new(&format!("^(?:{})", regex::escape(p))) {
                Ok(r) => Rc::new(r),
                Err(_) => return number.to_string(),
            },
            _ => return number.to_string(),
        },
    };
    let Some(caps) = prefix_regex.captures(number) else {
        return number.to_string();
    };
    let whole = caps.get(0).map_or(0..0, |m| m.range());
    let general = meta.descriptors().general().national_number().as_str();
    let viable_original = full_match(general, number);
    let groups = caps.len() - 1;
    let transform = meta
        .national_prefix_transform_rule()
        .filter(|t| !t.is_empty());
    match transform {
        Some(rule) if groups > 0 && caps.get(groups).is_some() => {
            let mut transformed = String::new();
            let mut chars = rule.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' || c == '\\' {
                    let mut index = String::new();
                    while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                        index.push(*d);
                        chars.next();
                    }
                    match index.parse::<usize>() {
                        Ok(i) => transformed.push_str(caps.get(i).map_or("", |m| m.as_str())),
                        Err(_) => transformed.push(c),
                    }
                } else {
                    transformed.push(c);
                }
            }
            transformed.push_str(&number[whole.end..]);
            if viable_original && !full_match(general, &transformed) {
                return number.to_string();
            }
            transformed
        }
        _ => {
            let stripped = &number[whole.end..];
            if viable_original && !full_match(general, stripped) {
                return number.to_string();
            }
            stripped.to_string()
        }
    }
}

/// `_extract_country_code`: the shortest known country code (1–3 digits) at the start.
fn extract_country_code(number: &str) -> (u16, String) {
    if number.is_empty() || number.starts_with('0') {
        return (0, number.to_string());
    }
    for i in 1..=number.len().min(3) {
        if let Ok(cc) = number[..i].parse::<u16>()
            && DATABASE.region(&cc).is_some()
        {
            return (cc, number[i..].to_string());
        }
    }
    (0, number.to_string())
}

/// `_maybe_extract_country_code`.
fn maybe_extract_country_code(
    number: &str,
    meta: Option<&'static Metadata>,
) -> Result<(u16, String), ParseError> {
    if number.is_empty() {
        return Ok((0, String::new()));
    }
    let (from_default, full) = if number.starts_with(is_plus) {
        (false, digits_only(number.trim_start_matches(is_plus)))
    } else {
        let normalised = digits_only(number);
        let idd = meta.and_then(Metadata::international_prefix).and_then(|p| {
            metadata_regex(p.as_str(), false)
                .find(&normalised)
                .map(|m| m.end())
        });
        match idd {
            // A number that continues with 0 after the IDD is not international.
            Some(end) if !normalised[end..].starts_with('0') => {
                (false, normalised[end..].to_string())
            }
            _ => (true, normalised),
        }
    };
    if !from_default {
        if full.len() <= MIN_LENGTH_FOR_NSN {
            return Err(ParseError::TooShortAfterIdd);
        }
        let (cc, rest) = extract_country_code(&full);
        if cc != 0 {
            return Ok((cc, rest));
        }
        return Err(ParseError::InvalidCountryCode);
    }
    if let Some(meta) = meta {
        let cc_str = meta.country_code().to_string();
        if let Some(potential) = full.strip_prefix(&cc_str) {
            let potential = strip_national_prefix(potential, meta);
            if (!matches_general(&full, meta) && matches_general(&potential, meta))
                || test_number_length(&full, meta) == Validation::TooLong
            {
                return Ok((meta.country_code(), potential));
            }
        }
    }
    Ok((0, String::new()))
}

/// `phonenumbers.parse(s, "GB")` (or with no default region).
pub(super) fn lib_parse(input: &str, default_gb: bool) -> Result<Num, ParseError> {
    if input.chars().count() > MAX_INPUT_STRING_LENGTH {
        return Err(ParseError::TooLong);
    }
    let national = extract_possible_number(input);
    if !is_viable(national) {
        return Err(ParseError::NotANumber);
    }
    if !default_gb && !national.starts_with(is_plus) {
        return Err(ParseError::InvalidCountryCode);
    }
    let default_meta = if default_gb {
        DATABASE.by_id("GB")
    } else {
        None
    };
    let (mut cc, mut nn) = match maybe_extract_country_code(national, default_meta) {
        Ok(found) => found,
        Err(ParseError::InvalidCountryCode) if national.starts_with(is_plus) => {
            let found =
                maybe_extract_country_code(national.trim_start_matches(is_plus), default_meta)?;
            if found.0 == 0 {
                return Err(ParseError::InvalidCountryCode);
            }
            found
        }
        Err(e) => return Err(e),
    };
    let meta = if cc != 0 {
        metadata_for_code(cc)
    } else {
        nn = digits_only(national);
        if let Some(m) = default_meta {
            cc = m.country_code();
        }
        default_meta
    };
    if nn.len() < MIN_LENGTH_FOR_NSN {
        return Err(ParseError::TooShortNsn);
    }
    if let Some(meta) = meta {
        let potential = strip_national_prefix(&nn, meta);
        if !matches!(
            test_number_length(&potential, meta),
            Validation::TooShort | Validation::IsPossibleLocalOnly | Validation::InvalidLength
        ) {
            nn = potential;
        }
    }
    if nn.len() < MIN_LENGTH_FOR_NSN {
        return Err(ParseError::TooShortNsn);
    }
    if nn.len() > MAX_LENGTH_FOR_NSN {
        return Err(ParseError::TooLong);
    }
    if cc == 0 {
        return Err(ParseError::InvalidCountryCode);
    }
    Ok(Num { cc, nsn: nn })
}
