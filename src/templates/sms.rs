//! SMS rendering, the SMS character set and fragment counting (spec §11.3,
//! §11.4).
//!
//! - [`render_sms_body`] gives `content.body` for API responses: the
//!   rendered text **without** the service-name prefix.
//! - [`render_sms_for_delivery`] gives the text handed to the provider:
//!   with `"{service name}: "` in front when the service has `prefix_sms`.
//! - [`character_count`], [`fragment_count`] and [`is_too_long`] take a
//!   rendered body.
//!
//! Which text each count is taken on, as upstream does it:
//! - the length check (`is_too_long`, 918) is on the body **without** the
//!   prefix (upstream `content_count_without_prefix`);
//! - billing (`billable_units`) counts fragments of the text **as
//!   delivered**, prefix included: upstream builds the template with
//!   `prefix=service.name, show_prefix=service.prefix_sms` in
//!   `send_to_providers.py` and stores `template.fragment_count`. So bill
//!   with `fragment_count(&render_sms_for_delivery(..))`.
//!
//! Sources: UTILS `notifications_utils/template.py` (BaseSMSTemplate,
//! get_sms_fragment_count), `notifications_utils/sanitise_text.py`
//! (SanitiseSMS), `notifications_utils/formatters.py`; API
//! `app/delivery/send_to_providers.py`.

use unicode_normalization::UnicodeNormalization;

use super::placeholders::{Escaping, ListStyle, Personalisation, fill};
use super::typography::{
    normalise_multiple_newlines, normalise_whitespace_and_newlines,
    remove_whitespace_before_punctuation,
};
use crate::python::py_strip;

/// Longest SMS accepted by the API, in characters (6 × 153).
pub const SMS_CHAR_COUNT_LIMIT: usize = 918;

/// The GSM 03.38 basic character set.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                         ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The GSM extension set: each costs two characters in a GSM message.
const GSM_EXTENSION: &str = "^{}\\[~]|€";

/// Welsh letters with grave, acute, diaeresis or circumflex (kept in SMS).
const WELSH_DIACRITICS: &str = "àèìòùẁỳÀÈÌÒÙẀỲáéíóúẃýÁÉÍÓÚẂÝäëïöüẅÿÄËÏÖÜẄŸâêîôûŵŷÂÊÎÔÛŴŶ";

/// The 43 Welsh letters that are not in GSM: any of them makes the message
/// UCS-2 (Unicode) for fragment counting.
pub const WELSH_NON_GSM_CHARACTERS: &str = "ÀÁÂÈÊËÌÍÎÏÒÓÔÙÚÛÝáâêëíîïóôúûýÿŴŵŶŷŸẀẁẂẃẄẅỲỳ";

/// Whether `c` is sent as it is (GSM basic or extension set, or a Welsh
/// letter with a diacritic).
pub fn is_sms_character(c: char) -> bool {
    GSM_BASIC.contains(c) || GSM_EXTENSION.contains(c) || WELSH_DIACRITICS.contains(c)
}

/// Characters with a fixed downgrade: Notify's replacement table, shared by the SMS and the
/// ASCII (recipient) downgrades.
pub fn replacement(c: char) -> Option<&'static str> {
    let r = match c {
        '\u{2011}' | '\u{2013}' | '\u{2014}' | '\u{2212}' => "-",
        '\u{2026}' => "...",
        '\u{2018}' | '\u{2019}' | '\u{201a}' => "'",
        '\u{201c}' | '\u{201d}' | '\u{201e}' => "\"",
        '\u{180e}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}'
        | '\u{2028}' | '\u{2029}' => "",
        '\u{a0}' | '\u{202f}' | '\t' => " ",
        'Ł' => "L",
        'ł' => "l",
        _ => return None,
    };
    Some(r)
}

/// A letter with diacritics that are not allowed loses them, one at a time
/// from the outside, until what is left is allowed (`ç` → `c`, `ǘ` → `ü`).
fn strip_diacritics(c: char) -> Option<char> {
    let mut decomposed = Vec::new();
    unicode_normalization::char::decompose_canonical(c, |d| decomposed.push(d));
    if decomposed == [c] {
        return None;
    }
    if let [single] = decomposed[..] {
        return is_sms_character(single).then_some(single);
    }
    (1..decomposed.len()).rev().find_map(|keep| {
        let mut composed = decomposed[..keep].iter().copied().nfc();
        match (composed.next(), composed.next()) {
            (Some(base), None) if is_sms_character(base) => Some(base),
            _ => None,
        }
    })
}

/// Downgrades text to the SMS character set (GSM + Welsh), spec §11.3:
/// letters lose disallowed diacritics (`ç` → `c`; `é` stays), dashes become
/// `-`, curly quotes straight ones, `…` becomes `...`, `Ł` → `L`,
/// non-breaking spaces and tabs become spaces, zero-width characters go and
/// anything else (emoji, CJK, …) becomes `?`.
pub fn downgrade_to_sms_charset(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_sms_character(c) {
            out.push(c);
        } else if let Some(r) = replacement(c) {
            out.push_str(r);
        } else if let Some(base) = strip_diacritics(c) {
            out.push(base);
        } else {
            out.push('?');
        }
    }
    out
}

/// Upstream `add_prefix`: `"{prefix}: {body}"` (prefix trimmed) when there
/// is a non-empty prefix.
fn add_prefix(body: String, prefix: Option<&str>) -> String {
    match prefix {
        Some(prefix) if !prefix.is_empty() => format!("{}: {body}", py_strip(prefix)),
        _ => body,
    }
}

fn render(content: &str, values: &Personalisation, prefix: Option<&str>) -> String {
    let text = fill(content, values, ListStyle::Prose, Escaping::Passthrough);
    let text = add_prefix(text, prefix);
    let text = remove_whitespace_before_punctuation(&text);
    let text = normalise_whitespace_and_newlines(&text);
    let text = normalise_multiple_newlines(&text);
    downgrade_to_sms_charset(py_strip(&text))
}

/// The rendered SMS body, as returned in API responses (no prefix):
/// values substituted (lists as `a, b and c`), spaces before `,` and `.`
/// removed, whitespace normalised on each line, `\r\n` and `\r` made `\n`,
/// three or more newlines collapsed to two, ends trimmed, then downgraded
/// to the SMS character set.
pub fn render_sms_body(content: &str, values: &Personalisation) -> String {
    render(content, values, None)
}

/// The SMS text handed to the provider: like [`render_sms_body`], with
/// `"{service name}: "` in front when `service_name` is given (pass it only
/// when the service has `prefix_sms`). Upstream adds the prefix before the
/// whitespace and character-set steps, so it is normalised and downgraded
/// too. Fragments for billing are counted on this text.
pub fn render_sms_for_delivery(
    content: &str,
    values: &Personalisation,
    service_name: Option<&str>,
) -> String {
    render(content, values, service_name)
}

/// The character count of a rendered body: UTF-16 code units (spec §11.4).
/// After downgrading every character is in the Basic Multilingual Plane, so
/// this is also the number of characters.
pub fn character_count(body: &str) -> usize {
    body.encode_utf16().count()
}

/// How many characters of the GSM extension set the body has.
fn extension_character_count(body: &str) -> usize {
    body.chars().filter(|&c| GSM_EXTENSION.contains(c)).count()
}

/// Whether the body must be sent as UCS-2: it has one of the 43 Welsh
/// letters that GSM lacks.
pub fn is_unicode(body: &str) -> bool {
    body.chars().any(|c| WELSH_NON_GSM_CHARACTERS.contains(c))
}

/// The number of SMS fragments (billable units) of a rendered body.
///
/// The length is [`character_count`] plus one more for each GSM extension
/// character (``^ { } \ [ ~ ] |`` and `€`). Then:
/// - UCS-2 (a Welsh letter not in GSM, see [`is_unicode`]): 1 fragment up
///   to 70, otherwise `ceil(n / 67)`;
/// - GSM: 1 fragment up to 160, otherwise `ceil(n / 153)`.
///
/// Upstream adds the extension characters before choosing the rule, so they
/// count twice in a UCS-2 message as well.
pub fn fragment_count(body: &str) -> u32 {
    let n = character_count(body) + extension_character_count(body);
    let (single, multi) = if is_unicode(body) {
        (70, 67)
    } else {
        (160, 153)
    };
    let fragments = if n <= single { 1 } else { n.div_ceil(multi) };
    u32::try_from(fragments).unwrap_or(u32::MAX)
}

/// Whether the API rejects the body as too long: more than 918 characters
/// ([`character_count`]; extension characters count once here). Pass the
/// body without the service-name prefix.
pub fn is_too_long(body: &str) -> bool {
    character_count(body) > SMS_CHAR_COUNT_LIMIT
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn values(v: serde_json::Value) -> Personalisation {
        Personalisation::from_value(Some(&v))
    }

    #[test]
    fn renders_spec_example() {
        let body = render_sms_body(
            "Hello ((name))\r\n\r\nFunctional Tests make our world a better place",
            &values(json!({"name": "Foo"})),
        );
        assert_eq!(
            body,
            "Hello Foo\n\nFunctional Tests make our world a better place"
        );
    }

    #[test]
    fn render_steps() {
        let cases = [
            ("a , b .", "a, b."),
            ("  lots   of\t\tspace  \n  here ", "lots of space\nhere"),
            ("a\r\nb\rc", "a\nb\nc"),
            ("a\n\n\n\n\nb", "a\n\nb"),
            ("a\n \n \nb", "a\n\nb"),
            ("\n\n  trimmed  \n\n", "trimmed"),
            ("((list))", "x, y and z"),
            ("((cond??shown)) ((hide??hidden))end", "shown end"),
            ("“Quote” – … ☃ ç ş é ŵ", "\"Quote\" - ... ? c s é ŵ"),
            ("zero\u{200b}width\u{a0}nbsp", "zerowidth nbsp"),
        ];
        let p = values(json!({"list": ["x", "y", "z"], "cond": "yes", "hide": "no"}));
        for (content, expected) in cases {
            assert_eq!(
                render_sms_body(content, &p),
                expected,
                "content {content:?}"
            );
        }
    }

    #[test]
    fn downgrades_to_sms_charset() {
        let cases = [
            ("ç", "c"),
            ("é", "é"),
            ("Ç", "Ç"),
            ("ş", "s"),
            ("“hi”", "\"hi\""),
            ("‘hi’ ‚x„", "'hi' 'x\""),
            ("…", "..."),
            ("– — ‑ −", "- - - -"),
            ("Łódź", "Lódz"),
            ("a\u{a0}b\u{202f}c\td", "a b c d"),
            (
                "a\u{200b}\u{200c}\u{200d}\u{2060}\u{feff}\u{180e}\u{2028}\u{2029}b",
                "ab",
            ),
            ("😀", "?"),
            ("中文", "??"),
            ("ŵŷ âÂ ẁ", "ŵŷ âÂ ẁ"),
            ("^{}\\[~]|€", "^{}\\[~]|€"),
            ("ǘ", "ü"),
            ("\u{2126}", "\u{3a9}"),
            ("ﬁ", "?"),
        ];
        for (input, expected) in cases {
            assert_eq!(downgrade_to_sms_charset(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn fragment_counts() {
        let cases = [
            ("a".repeat(160), 1),
            ("a".repeat(161), 2),
            ("a".repeat(306), 2),
            ("a".repeat(307), 3),
            ("ŵ".repeat(70), 1),
            ("ŵ".repeat(71), 2),
            ("ŵ".repeat(134), 2),
            ("ŵ".repeat(135), 3),
            ("€".repeat(80), 1),
            ("€".repeat(81), 2),
            (format!("{}{{", "a".repeat(159)), 2),
            ("é".repeat(160), 1),
            (String::new(), 1),
        ];
        for (body, expected) in cases {
            assert_eq!(
                fragment_count(&body),
                expected,
                "{} chars",
                body.chars().count()
            );
        }
    }

    #[test]
    fn welsh_non_gsm_set_is_welsh_minus_gsm() {
        let derived: String = WELSH_DIACRITICS
            .chars()
            .filter(|&c| !GSM_BASIC.contains(c))
            .collect();
        assert_eq!(derived.chars().count(), 43);
        assert_eq!(WELSH_NON_GSM_CHARACTERS.chars().count(), 43);
        assert!(
            derived
                .chars()
                .all(|c| WELSH_NON_GSM_CHARACTERS.contains(c))
        );
    }

    #[test]
    fn length_limit() {
        assert!(!is_too_long(&"a".repeat(918)));
        assert!(is_too_long(&"a".repeat(919)));
        assert!(!is_too_long(&"€".repeat(918)));
        assert!(is_too_long(&"€".repeat(919)));
        assert_eq!(character_count("ŵ€a"), 3);
    }

    #[test]
    fn prefix_is_for_delivery_only() {
        let p = values(json!({"name": "Foo"}));
        assert_eq!(render_sms_body("Hi ((name))", &p), "Hi Foo");
        assert_eq!(
            render_sms_for_delivery("Hi ((name))", &p, Some(" My Service ")),
            "My Service: Hi Foo"
        );
        assert_eq!(render_sms_for_delivery("Hi", &p, None), "Hi");
        assert_eq!(render_sms_for_delivery("Hi", &p, Some("")), "Hi");
        assert_eq!(
            render_sms_for_delivery("\n Hi", &p, Some("Café…")),
            "Café...:\nHi"
        );
        // 155 characters of body: 1 fragment in the response, 2 when billed
        // with the prefix.
        let content = "a".repeat(155);
        assert_eq!(fragment_count(&render_sms_body(&content, &p)), 1);
        assert_eq!(
            fragment_count(&render_sms_for_delivery(&content, &p, Some("Service"))),
            2
        );
    }
}
