//! Recipient validation, compatible with GOV.UK Notify (spec §10 and §3).
//!
//! * Phone numbers (§10.1): [`validate_phone_number`] does the schema-level check (syntax,
//!   parse, number type, billed country) and returns a [`PhoneNumber`];
//!   [`check_phone_permissions`] applies the service permissions when sending.
//! * Email addresses (§10.2): [`validate_email_address`], [`normalise_email`].
//! * Postal addresses (§10.3): [`validate_postal_address`].
//! * Smoke-test recipients (§3): [`is_simulated_phone`], [`is_simulated_email`].
//!
//! Phone parsing follows Notify, which uses libphonenumber (Python `phonenumbers`) with
//! default region GB. The parsing steps of libphonenumber that Notify relies on are
//! re-implemented here on top of the metadata shipped with the `phonenumber` crate, so that
//! edge cases (national prefix stripping, `00` international prefix, a leading `44` without a
//! `+`, "possible number" reasons...) behave like upstream.
//!
//! Data files (parsed on first use): `data/sms_rates.txt` (billed country prefixes and rate
//! multipliers; its header says which multipliers are confirmed current values) and
//! `data/countries.tsv` (country and territory names with synonyms, and their postage zone).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::sync::LazyLock;

use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use phonenumber::{Type, Validation};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// Whitespace helpers shared by all recipient types
// ---------------------------------------------------------------------------------------------

/// Zero-width characters that Notify deletes anywhere in a recipient.
const OBSCURE_ZERO_WIDTH: [char; 8] = [
    '\u{180E}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{2028}', '\u{2029}',
];
/// Non-breaking spaces (deleted in recipients, turned into spaces in address lines).
const OBSCURE_FULL_WIDTH: [char; 2] = ['\u{00A0}', '\u{202F}'];
/// Python's `string.whitespace`.
const ASCII_WHITESPACE: [char; 6] = [' ', '\t', '\n', '\r', '\u{0B}', '\u{0C}'];

/// True for the characters of Notify's `ALL_WHITESPACE`.
fn is_notify_whitespace(c: char) -> bool {
    ASCII_WHITESPACE.contains(&c)
        || OBSCURE_ZERO_WIDTH.contains(&c)
        || OBSCURE_FULL_WIDTH.contains(&c)
}

/// Python's `str.isspace()` for one character.
fn is_py_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\u{1C}'..='\u{20}'
            | '\u{85}'
            | '\u{A0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200A}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202F}'
            | '\u{205F}'
            | '\u{3000}'
    )
}

/// Python's `str.splitlines()`.
fn py_splitlines(s: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\u{0B}' | '\u{0C}' | '\u{1C}' | '\u{1D}' | '\u{1E}' | '\u{85}' | '\u{2028}'
            | '\u{2029}' => lines.push(std::mem::take(&mut current)),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines.push(std::mem::take(&mut current));
            }
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// §10.2 step 1 clean-up, also applied to phone numbers before they are stored: delete
/// zero-width characters (U+180E, U+200B–U+200D, U+2060, U+FEFF, U+2028, U+2029) and
/// non-breaking spaces (U+00A0, U+202F) anywhere, then trim ASCII whitespace from both ends.
pub fn clean_recipient(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .filter(|c| !OBSCURE_ZERO_WIDTH.contains(c) && !OBSCURE_FULL_WIDTH.contains(c))
        .collect();
    cleaned.trim_matches(&ASCII_WHITESPACE[..]).to_string()
}

// ---------------------------------------------------------------------------------------------
// ASCII downgrade (Notify's `SanitiseASCII`)
// ---------------------------------------------------------------------------------------------

/// Downgrade text to printable ASCII the way Notify does: printable ASCII is kept, letters
/// with a canonical decomposition become their base letter, a few punctuation and space
/// characters are replaced, and anything else becomes `?`.
fn sanitise_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (' '..='~').contains(&c) {
            out.push(c);
            continue;
        }
        let mut decomposed = Vec::new();
        unicode_normalization::char::decompose_canonical(c, |d| decomposed.push(d));
        if decomposed.len() != 1 || decomposed[0] != c {
            // Python looks at the first character of the *one-level* decomposition. A full
            // decomposition of three or more characters means that character is itself
            // composed (so not ASCII); U+212B is a singleton that maps to a composed letter.
            let first = match decomposed.len() {
                1 => Some(decomposed[0]),
                2 if c != '\u{212B}' => Some(decomposed[0]),
                _ => None,
            };
            match first {
                Some(f) if (' '..='~').contains(&f) => out.push(f),
                _ => out.push('?'),
            }
        } else if let Some(replacement) = crate::templates::sms::replacement(c) {
            out.push_str(replacement);
        } else {
            out.push('?');
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Phone numbers (§10.1)
// ---------------------------------------------------------------------------------------------

/// A phone number validation failure. `Display` gives the v2 ("legacy") message of §10.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("Too many digits")]
    TooLong,
    #[error("Not enough digits")]
    TooShort,
    #[error("Not a UK mobile number")]
    NotUkMobile,
    #[error("Must not contain letters or symbols")]
    UnknownCharacter,
    #[error("Not a valid country prefix")]
    UnsupportedCountryCode,
    #[error("Number is not valid \u{2013} double check the phone number you entered")]
    InvalidNumber,
}

impl PhoneError {
    /// Upstream's error code name, e.g. `TOO_LONG`.
    pub fn code(&self) -> &'static str {
        match self {
            PhoneError::TooLong => "TOO_LONG",
            PhoneError::TooShort => "TOO_SHORT",
            PhoneError::NotUkMobile => "NOT_A_UK_MOBILE",
            PhoneError::UnknownCharacter => "UNKNOWN_CHARACTER",
            PhoneError::UnsupportedCountryCode => "UNSUPPORTED_COUNTRY_CODE",
            PhoneError::InvalidNumber => "INVALID_NUMBER",
        }
    }
}

/// A phone number that passed the schema-level check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumber {
    /// E.164 without the `+`, e.g. `447700900123`.
    pub normalised: String,
    /// Not a GB number for billing: any other country, or a Crown dependency. Ofcom drama
    /// numbers (07700 900xxx) count as UK.
    pub international: bool,
    /// +44 number of Jersey, Guernsey or the Isle of Man.
    pub crown_dependency: bool,
    /// Country calling code, e.g. 44.
    pub country_code: u16,
    /// Billing prefix: the country code, or `1` + area code for NANP countries billed
    /// separately (e.g. `1664`).
    pub phone_prefix: String,
    /// 1 for UK numbers, otherwise the rate multiplier of the billing prefix.
    pub rate_multiplier: u32,
    /// A +44 number of type fixed line, fixed-line-or-mobile or UAN (needs
    /// `sms_to_uk_landlines`).
    pub uk_landline: bool,
}

/// Why a valid number may not be sent to by a service (§10.1 step 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhonePermissionError {
    /// International number (not a Crown dependency) without `international_sms`.
    #[error("Cannot send to international mobile numbers")]
    InternationalNotAllowed,
    /// UK landline without `sms_to_uk_landlines`.
    #[error("Not a UK mobile number")]
    NotUkMobile,
}

impl PhonePermissionError {
    /// The v2 error name: `BadRequestError` or `InvalidPhoneError` (both are HTTP 400).
    pub fn error_name(&self) -> &'static str {
        match self {
            PhonePermissionError::InternationalNotAllowed => "BadRequestError",
            PhonePermissionError::NotUkMobile => "InvalidPhoneError",
        }
    }

    /// HTTP status code of the error.
    pub fn status_code(&self) -> u16 {
        400
    }
}

/// Permission that allows sending to international numbers.
pub const PERMISSION_INTERNATIONAL_SMS: &str = "international_sms";
/// Permission that allows sending to UK landlines.
pub const PERMISSION_SMS_TO_UK_LANDLINES: &str = "sms_to_uk_landlines";

/// Smoke-test phone numbers (§3), normalised.
pub const SIMULATED_PHONE_NUMBERS: [&str; 3] = ["447700900000", "447700900111", "447700900222"];
/// Smoke-test email addresses (§3), normalised.
pub const SIMULATED_EMAIL_ADDRESSES: [&str; 3] = [
    "simulate-delivered@notifications.service.gov.uk",
    "simulate-delivered-2@notifications.service.gov.uk",
    "simulate-delivered-3@notifications.service.gov.uk",
];

/// Is this normalised phone number (E.164 without `+`) a smoke-test number?
pub fn is_simulated_phone(normalised: &str) -> bool {
    SIMULATED_PHONE_NUMBERS.contains(&normalised)
}

/// Is this normalised (lower-cased) email address a smoke-test address?
pub fn is_simulated_email(normalised: &str) -> bool {
    SIMULATED_EMAIL_ADDRESSES.contains(&normalised)
}

/// Billing prefix -> rate multiplier, from `data/sms_rates.txt`.
static SMS_RATES: LazyLock<HashMap<String, u32>> = LazyLock::new(|| {
    include_str!("data/sms_rates.txt")
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

/// Schema-level phone number check (§10.1 steps 1–5 and 7): characters, parsing (with the
/// rescue re-parse), possible-number reasons, number type (with the Ofcom drama-number
/// exception) and billed country. International numbers and UK landlines are allowed here;
/// use [`check_phone_permissions`] for the service permissions.
///
/// The input is parsed as supplied (upstream does not clean it first; zero-width characters
/// and non-breaking spaces are dealt with by the parser and the rescue step).
pub fn validate_phone_number(s: &str) -> Result<PhoneNumber, PhoneError> {
    let number = parse_notify_number(s)?;
    if !SMS_RATES.contains_key(&number.cc.to_string()) {
        return Err(PhoneError::UnsupportedCountryCode);
    }
    Ok(describe(&number))
}

/// §10.1 step 6: check a validated number against the service's permissions
/// (`international_sms`, `sms_to_uk_landlines`). Crown-dependency mobiles count as UK.
pub fn check_phone_permissions(
    n: &PhoneNumber,
    permissions: &[String],
) -> Result<(), PhonePermissionError> {
    let has = |p: &str| permissions.iter().any(|x| x == p);
    let not_allowed = n.country_code != 44 && !has(PERMISSION_INTERNATIONAL_SMS)
        || n.country_code == 44 && n.uk_landline && !has(PERMISSION_SMS_TO_UK_LANDLINES);
    if !not_allowed {
        Ok(())
    } else if n.international && !n.crown_dependency {
        Err(PhonePermissionError::InternationalNotAllowed)
    } else {
        Err(PhonePermissionError::NotUkMobile)
    }
}

/// Normalise a recipient the way guest lists and team members are compared: a phone number
/// that parses becomes its normalised form (no country check), anything else is treated as
/// an email address (cleaned and lower-cased).
pub fn format_recipient(s: &str) -> String {
    match parse_notify_number(s) {
        Ok(number) => format!("{}{}", number.cc, number.nsn),
        Err(_) => normalise_email(s),
    }
}

/// A parsed number: country calling code and national significant number (with any
/// leading zeros libphonenumber keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Num {
    cc: u16,
    nsn: String,
}

/// Notify's `PhoneNumber(...)` constructor: parse, and on failure parse once more after a
/// more aggressive normalisation (remove every `+`, strip leading zeros, downgrade to ASCII).
fn parse_notify_number(s: &str) -> Result<Num, PhoneError> {
    match parse_notify_once(s) {
        Ok(n) => Ok(n),
        Err(_) => {
            let without_plus: String = s.chars().filter(|&c| c != '+').collect();
            let rescued = sanitise_ascii(without_plus.trim_start_matches('0'));
            parse_notify_once(&rescued)
        }
    }
}

/// Notify's `parse_phone_number`.
fn parse_notify_once(s: &str) -> Result<Num, PhoneError> {
    if s.chars()
        .any(|c| !(c.is_ascii_digit() || "()-+".contains(c) || is_notify_whitespace(c)))
    {
        return Err(PhoneError::UnknownCharacter);
    }
    if s.is_empty() {
        return Err(PhoneError::TooShort);
    }
    let mut number = lib_parse(s, true).map_err(|_| PhoneError::InvalidNumber)?;
    let reason = is_possible_with_reason(&number);
    if reason != Validation::IsPossible {
        match forced_international(s) {
            Some(forced) => number = forced,
            None => {
                return Err(match reason {
                    Validation::TooLong => PhoneError::TooLong,
                    Validation::TooShort | Validation::IsPossibleLocalOnly => PhoneError::TooShort,
                    Validation::InvalidCountryCode => PhoneError::UnsupportedCountryCode,
                    _ => PhoneError::InvalidNumber,
                });
            }
        }
    }
    let kind = number_type(&number);
    if kind == Type::Unknown || !is_allowed_type(kind) {
        if is_tv_number(&number) {
            return Ok(number);
        }
        return Err(PhoneError::InvalidNumber);
    }
    Ok(number)
}

/// Excel often drops a leading `+`: try the number as an international one.
fn forced_international(s: &str) -> Option<Num> {
    let forced = lib_parse(&format!("+{s}"), false).ok()?;
    matches!(
        is_possible_with_reason(&forced),
        Validation::IsPossible | Validation::IsPossibleLocalOnly
    )
    .then_some(forced)
}

fn is_allowed_type(kind: Type) -> bool {
    matches!(
        kind,
        Type::FixedLine | Type::Mobile | Type::FixedLineOrMobile | Type::Uan | Type::PersonalNumber
    )
}

/// Ofcom drama numbers are not valid for libphonenumber. Upstream's check is loose: the
/// national number (without leading zeros) starting `7700` and then any digit.
fn is_tv_number(n: &Num) -> bool {
    let national = n.nsn.trim_start_matches('0');
    national.len() > 4 && national.starts_with("7700") && national.as_bytes()[4].is_ascii_digit()
}

fn describe(n: &Num) -> PhoneNumber {
    let normalised = format!("{}{}", n.cc, n.nsn);
    let tv = is_tv_number(n);
    let region = region_for_number(n.cc, &n.nsn).map(Metadata::id);
    let international = !(region == Some("GB") || tv);
    let crown_dependency = !tv && n.cc == 44 && region != Some("GB");
    let mut phone_prefix = n.cc.to_string();
    if n.cc == 1 && normalised.len() >= 4 && SMS_RATES.contains_key(&normalised[..4]) {
        phone_prefix = normalised[..4].to_string();
    }
    let rate_multiplier = if international {
        SMS_RATES.get(&phone_prefix).copied().unwrap_or(1)
    } else {
        1
    };
    let uk_landline = n.cc == 44
        && matches!(
            number_type(n),
            Type::FixedLine | Type::FixedLineOrMobile | Type::Uan
        );
    PhoneNumber {
        normalised,
        international,
        crown_dependency,
        country_code: n.cc,
        phone_prefix,
        rate_multiplier,
        uk_landline,
    }
}

// ----- libphonenumber emulation ---------------------------------------------------------------

const MIN_LENGTH_FOR_NSN: usize = 2;
const MAX_LENGTH_FOR_NSN: usize = 17;
const MAX_INPUT_STRING_LENGTH: usize = 250;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParseError {
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
fn region_for_number(cc: u16, nsn: &str) -> Option<&'static Metadata> {
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

fn number_type(n: &Num) -> Type {
    region_for_number(n.cc, &n.nsn).map_or(Type::Unknown, |meta| number_type_for(&n.nsn, meta))
}

fn is_possible_with_reason(n: &Num) -> Validation {
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
fn lib_parse(input: &str, default_gb: bool) -> Result<Num, ParseError> {
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

// ---------------------------------------------------------------------------------------------
// Email addresses (§10.2)
// ---------------------------------------------------------------------------------------------

/// An invalid email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Not a valid email address")]
pub struct EmailError;

const VALID_LOCAL_CHARS: &str = ".!#$%&'*+/=?^_`{|}~-";

static HOSTNAME_PART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?i-u:xn|[a-z0-9]+)(?i-u:-?-[a-z0-9]+)*$").expect("valid regex")
});
static TLD_PART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?i-u:[a-z]{2,63}|xn--(?:[a-z0-9]+-)*[a-z0-9]+)$").expect("valid regex")
});

/// Validate an email address (§10.2). Returns the cleaned address in its original case.
pub fn validate_email_address(s: &str) -> Result<String, EmailError> {
    let email = clean_recipient(s);
    let (local, host) = email.split_once('@').ok_or(EmailError)?;
    if local.is_empty()
        || !local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || VALID_LOCAL_CHARS.contains(c))
    {
        return Err(EmailError);
    }
    let mut host_chars = host.chars();
    match host_chars.next() {
        Some(first) if first != '.' && first != '@' => {}
        _ => return Err(EmailError),
    }
    let rest: Vec<char> = host_chars.collect();
    if rest.is_empty() || rest.iter().any(|&c| c == '@' || is_py_space(c)) {
        return Err(EmailError);
    }
    if email.chars().count() > 320 || email.contains("..") {
        return Err(EmailError);
    }
    // Python's "idna" codec: ASCII labels are kept as they are, others are converted.
    let hostname = if host.is_ascii() {
        host.to_string()
    } else {
        host.split(['.', '\u{3002}', '\u{FF0E}', '\u{FF61}'])
            .map(|label| {
                if label.is_ascii() {
                    Ok(label.to_string())
                } else {
                    idna::domain_to_ascii(label).map_err(|_| EmailError)
                }
            })
            .collect::<Result<Vec<_>, _>>()?
            .join(".")
    };
    let parts: Vec<&str> = hostname.split('.').collect();
    if hostname.chars().count() > 253 || parts.len() < 2 {
        return Err(EmailError);
    }
    if parts
        .iter()
        .any(|p| p.is_empty() || p.len() > 63 || !HOSTNAME_PART.is_match(p))
    {
        return Err(EmailError);
    }
    if !parts.last().is_some_and(|tld| TLD_PART.is_match(tld)) {
        return Err(EmailError);
    }
    Ok(email)
}

/// The normalised form of an email address (guest-list and simulated-address matching):
/// cleaned and lower-cased.
pub fn normalise_email(s: &str) -> String {
    clean_recipient(s).to_lowercase()
}

// ---------------------------------------------------------------------------------------------
// Postal addresses (§10.3)
// ---------------------------------------------------------------------------------------------

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

/// Postage zone of a country.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zone {
    Uk,
    Europe,
    RestOfWorld,
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

struct Countries {
    /// make_key(name) -> index into `canonical`.
    by_key: HashMap<String, usize>,
    canonical: Vec<(String, Zone)>,
}

static COUNTRIES: LazyLock<Countries> = LazyLock::new(|| {
    let mut by_key = HashMap::new();
    let mut canonical = Vec::new();
    for line in include_str!("data/countries.tsv").lines() {
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
fn find_country(line: &str) -> Option<(&'static str, Zone)> {
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

/// Notify's `normalise_whitespace` for one line.
fn normalise_whitespace(line: &str) -> String {
    let line: String = line
        .chars()
        .filter(|c| !OBSCURE_ZERO_WIDTH.contains(c))
        .map(|c| {
            if OBSCURE_FULL_WIDTH.contains(&c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    line.split(is_py_space)
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

static SPACE_BEFORE_PUNCTUATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[ \t]+([,.])").expect("valid regex"));
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
            (!l.is_empty()).then(|| SPACE_BEFORE_PUNCTUATION.replace_all(l, "$1").into_owned())
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

    fn perms(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    fn lines(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    // ----- §10.1 phone numbers -----

    #[test]
    fn spec_phone_table_valid_rows() {
        // (input, normalised, international, crown dependency, rate multiplier, landline)
        let rows: &[(&str, &str, bool, bool, u32, bool)] = &[
            ("07700900123", "447700900123", false, false, 1, false),
            ("+447700900123", "447700900123", false, false, 1, false),
            ("447700900123", "447700900123", false, false, 1, false),
            ("0044 7700 900123", "447700900123", false, false, 1, false),
            ("+44 (0)7700 900123", "447700900123", false, false, 1, false),
            ("7700900123", "447700900123", false, false, 1, false),
            ("01709510122", "441709510122", false, false, 1, true),
            ("020 7946 0000", "442079460000", false, false, 1, true),
            ("+1 202-555-0104", "12025550104", true, false, 1, false),
            ("12025550104", "12025550104", true, false, 1, false),
            ("20-12-1234-1234", "201212341234", true, false, 7, false),
            ("+33 6 12 34 56 78", "33612345678", true, false, 2, false),
            ("+447624123456", "447624123456", true, true, 2, false),
        ];
        for &(input, normalised, international, crown, rate, landline) in rows {
            let n = validate_phone_number(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(n.normalised, normalised, "{input}");
            assert_eq!(n.international, international, "{input}");
            assert_eq!(n.crown_dependency, crown, "{input}");
            assert_eq!(n.rate_multiplier, rate, "{input}");
            assert_eq!(n.uk_landline, landline, "{input}");
        }
    }

    #[test]
    fn spec_phone_table_error_rows() {
        let rows: &[(&str, PhoneError, &str)] = &[
            ("077009001234567", PhoneError::TooLong, "Too many digits"),
            (
                "0770090012a",
                PhoneError::UnknownCharacter,
                "Must not contain letters or symbols",
            ),
            ("999", PhoneError::TooShort, "Not enough digits"),
            (
                "08515111111",
                PhoneError::InvalidNumber,
                "Number is not valid \u{2013} double check the phone number you entered",
            ),
            (
                "+800 1234 5678",
                PhoneError::InvalidNumber,
                "Number is not valid \u{2013} double check the phone number you entered",
            ),
            ("", PhoneError::TooShort, "Not enough digits"),
            (
                "24741111",
                PhoneError::UnsupportedCountryCode,
                "Not a valid country prefix",
            ),
        ];
        for &(input, error, message) in rows {
            let e = validate_phone_number(input).expect_err(input);
            assert_eq!(e, error, "{input}");
            assert_eq!(e.to_string(), message, "{input}");
        }
        assert_eq!(
            PhoneError::NotUkMobile.to_string(),
            "Not a UK mobile number"
        );
        assert_eq!(PhoneError::TooLong.code(), "TOO_LONG");
    }

    #[test]
    fn spec_phone_table_mobile_only_permissions() {
        let none = perms(&[]);
        for landline in ["01709510122", "020 7946 0000"] {
            let n = validate_phone_number(landline).unwrap();
            let e = check_phone_permissions(&n, &none).unwrap_err();
            assert_eq!(e, PhonePermissionError::NotUkMobile);
            assert_eq!(e.to_string(), "Not a UK mobile number");
            assert_eq!(e.error_name(), "InvalidPhoneError");
            assert_eq!(e.status_code(), 400);
            assert!(check_phone_permissions(&n, &perms(&["sms_to_uk_landlines"])).is_ok());
        }
        for international in ["+1 202-555-0104", "20-12-1234-1234", "+33 6 12 34 56 78"] {
            let n = validate_phone_number(international).unwrap();
            let e = check_phone_permissions(&n, &none).unwrap_err();
            assert_eq!(e, PhonePermissionError::InternationalNotAllowed);
            assert_eq!(e.to_string(), "Cannot send to international mobile numbers");
            assert_eq!(e.error_name(), "BadRequestError");
            assert!(check_phone_permissions(&n, &perms(&["international_sms"])).is_ok());
        }
        for ok in [
            "07700900123",
            "+447624123456",
            "07797800123",
            "+447700900030",
        ] {
            let n = validate_phone_number(ok).unwrap();
            assert!(check_phone_permissions(&n, &none).is_ok(), "{ok}");
        }
        // A Crown-dependency landline is a UK landline.
        let iom_landline = validate_phone_number("+44 1624 612345").unwrap();
        assert!(iom_landline.crown_dependency && iom_landline.uk_landline);
        assert_eq!(
            check_phone_permissions(&iom_landline, &none),
            Err(PhonePermissionError::NotUkMobile)
        );
    }

    #[test]
    fn phone_rescue_and_drama_numbers() {
        let rows = [
            ("0+447700900100", "447700900100"),
            ("000007700900100", "447700900100"),
            ("+07700900100", "447700900100"),
            ("0+44(0)7779123456", "447779123456"),
            ("+07044123456", "447044123456"),
            ("04407379123456", "447379123456"),
            ("001708123456", "441708123456"),
            ("+04915161123456", "4915161123456"),
            ("+0012025550104", "12025550104"),
            ("1\u{2011}202\u{2013}555\u{2014}010\u{2212}4", "12025550104"),
            (
                "\u{200B}\t\t+44 (0)7723 456 789\u{FEFF} \r\n",
                "447723456789",
            ),
            ("07700\u{00A0}900123", "447700900123"),
            // Ofcom drama numbers, including upstream's loose match.
            ("07700900000", "447700900000"),
            ("07700900999", "447700900999"),
            ("447700900020", "447700900020"),
            ("07700 9001", "44077009001"),
        ];
        for (input, normalised) in rows {
            let n = validate_phone_number(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(n.normalised, normalised, "{input:?}");
        }
        let tv = validate_phone_number("07700900010").unwrap();
        assert!(!tv.international && !tv.crown_dependency && !tv.uk_landline);
        assert_eq!(tv.rate_multiplier, 1);
    }

    #[test]
    fn phone_upstream_error_cases() {
        let rows = [
            ("772345678910", PhoneError::TooLong),
            ("0772345678910", PhoneError::TooLong),
            ("+44 (0)7723 456 789 10", PhoneError::TooLong),
            ("0772345678", PhoneError::InvalidNumber),
            ("00447723456", PhoneError::InvalidNumber),
            ("07890x32109", PhoneError::UnknownCharacter),
            ("07723 456789...", PhoneError::UnknownCharacter),
            ("ALPHANUM3R1C", PhoneError::UnknownCharacter),
            ("0400 123 4567", PhoneError::InvalidNumber),
            ("0900 123 4567", PhoneError::InvalidNumber),
            ("0845 46 46", PhoneError::InvalidNumber),
            ("80100000000", PhoneError::TooLong),
            ("+682 1234", PhoneError::InvalidNumber),
            ("(07417)4123456", PhoneError::TooLong),
            ("+00263 71123456", PhoneError::InvalidNumber),
            ("0049 160 123456", PhoneError::InvalidNumber),
            ("07700\n900123", PhoneError::UnknownCharacter),
        ];
        for (input, error) in rows {
            assert_eq!(validate_phone_number(input), Err(error), "{input:?}");
        }
    }

    #[test]
    fn phone_international_details() {
        let rows = [
            ("16644913789", "1664", 6, true, false),
            ("77234567890", "7", 10, true, false),
            ("+23052512345", "230", 4, true, false),
            ("07797800123", "44", 2, true, true),
            ("07723456789", "44", 1, false, false),
            ("+7 (8) (495) 123-45-67", "7", 10, true, false),
            ("+43 676 111 222 333 4", "43", 3, true, false),
        ];
        for (input, prefix, rate, international, crown) in rows {
            let n = validate_phone_number(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(n.phone_prefix, prefix, "{input}");
            assert_eq!(n.rate_multiplier, rate, "{input}");
            assert_eq!(n.international, international, "{input}");
            assert_eq!(n.crown_dependency, crown, "{input}");
        }
    }

    #[test]
    fn simulated_recipients() {
        for number in ["07700900000", "+44 7700 900111", "447700900222"] {
            assert!(is_simulated_phone(
                &validate_phone_number(number).unwrap().normalised
            ));
        }
        assert!(!is_simulated_phone("447700900123"));
        assert!(is_simulated_email(&normalise_email(
            "Simulate-Delivered-2@notifications.service.gov.uk "
        )));
        assert!(is_simulated_email(
            "simulate-delivered-3@notifications.service.gov.uk"
        ));
        assert!(!is_simulated_email(
            "simulate-delivered-4@notifications.service.gov.uk"
        ));
    }

    #[test]
    fn format_recipient_for_guest_lists() {
        assert_eq!(format_recipient("foo"), "foo");
        assert_eq!(format_recipient("TeSt@ExAmPl3.com"), "test@exampl3.com");
        assert_eq!(format_recipient("+4407900 900 123"), "447900900123");
        assert_eq!(format_recipient("+1 928-282-4541"), "19282824541");
        assert_eq!(
            format_recipient("0012025550104"),
            format_recipient("1-202-555-0104")
        );
    }

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

    // ----- §10.2 email addresses -----

    #[test]
    fn spec_email_examples() {
        for ok in [
            "a@b.com",
            "first.o'last@x.co.uk",
            "a@xn--r8jz45g.xn--zckzah",
            "a@例え.テスト",
        ] {
            assert_eq!(validate_email_address(ok), Ok(ok.to_string()), "{ok}");
        }
        for bad in [
            "a..b@x.com",
            "a@b",
            "a@b.c",
            "a\"b@x.com",
            "a@-x.com",
            "a@x_y.com",
            "a b@x.com",
            "用户@例子.广告",
            "",
            "@b.com",
            "a@.b.com",
            "a@b.com.",
            "a@b.com@c.com",
        ] {
            let e = validate_email_address(bad).expect_err(bad);
            assert_eq!(e.to_string(), "Not a valid email address");
        }
    }

    #[test]
    fn email_clean_up_length_and_case() {
        assert_eq!(
            validate_email_address("\u{200B} Test.User@Example.COM\u{00A0}\n"),
            Ok("Test.User@Example.COM".to_string())
        );
        assert_eq!(
            validate_email_address("te\u{202F}st@exa\u{2060}mple.com"),
            Ok("test@example.com".to_string())
        );
        assert_eq!(
            normalise_email(" Test.User@Example.COM "),
            "test.user@example.com"
        );
        let long_label = format!("a@{}.com", "x".repeat(64));
        assert!(validate_email_address(&long_label).is_err());
        assert!(validate_email_address(&format!("a@{}.com", "x".repeat(63))).is_ok());
        let too_long = format!("{}@b.com", "a".repeat(315));
        assert!(validate_email_address(&too_long).is_err());
        assert!(validate_email_address("a@bücher.de").is_ok());
        assert!(validate_email_address("x@y.xn--p1ai").is_ok());
        assert!(validate_email_address("a@b---c.com").is_err());
        assert!(validate_email_address("a@b--c.com").is_ok());
    }

    #[test]
    fn clean_recipient_removes_obscure_whitespace() {
        assert_eq!(
            clean_recipient("\u{FEFF} 07700\u{200B}900\u{00A0}123 \t"),
            "07700900123"
        );
        assert_eq!(clean_recipient("a\u{2028}b\u{180E}c"), "abc");
        assert_eq!(clean_recipient("\u{3000}x"), "\u{3000}x");
    }

    // ----- §10.3 postal addresses -----

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

    #[test]
    fn countries_data() {
        let header: usize = include_str!("data/countries.tsv")
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

    #[test]
    fn ascii_downgrade() {
        assert_eq!(sanitise_ascii("Côte d’Ivoire"), "Cote d'Ivoire");
        assert_eq!(sanitise_ascii("Łódź – ½"), "Lodz - ?");
        assert_eq!(sanitise_ascii("日本"), "??");
    }
}
