//! Text helpers shared by the renderers.
//!
//! Upstream's text formatters (whitespace clean-up, `GOV.UK` unlinking),
//! Python's HTML entity handling, and the "nice typography" steps (smart
//! quotes, en dashes) that upstream applies to email and letter subjects and
//! to email bodies. Python's idea of whitespace and word characters is in
//! [`crate::python`].
//!
//! Sources: UTILS `notifications_utils/formatters.py`, `html` (Python stdlib)
//! and the `smartypants` package (`Attr.q | Attr.u`, as upstream calls it).

use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::python::{STRING_WHITESPACE, is_word, py_isspace, py_split_whitespace, py_splitlines};

/// Zero-width characters that upstream removes when it normalises whitespace.
pub(crate) const OBSCURE_ZERO_WIDTH_WHITESPACE: [char; 8] = [
    '\u{180e}', '\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}', '\u{2028}', '\u{2029}',
];

/// Non-breaking spaces that upstream turns into ordinary spaces.
pub(crate) const OBSCURE_FULL_WIDTH_WHITESPACE: [char; 2] = ['\u{a0}', '\u{202f}'];

/// Upstream `normalise_whitespace`: non-breaking spaces become spaces,
/// zero-width characters go, and every run of whitespace becomes one space
/// (so the ends are trimmed too).
pub(crate) fn normalise_whitespace(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .filter_map(|c| {
            if OBSCURE_FULL_WIDTH_WHITESPACE.contains(&c) {
                Some(' ')
            } else if OBSCURE_ZERO_WIDTH_WHITESPACE.contains(&c) {
                None
            } else {
                Some(c)
            }
        })
        .collect();
    py_split_whitespace(&cleaned).collect::<Vec<_>>().join(" ")
}

/// Upstream `normalise_whitespace_and_newlines`: every line normalised on its
/// own, lines joined with `\n` (so `\r\n` and `\r` become `\n`).
pub(crate) fn normalise_whitespace_and_newlines(value: &str) -> String {
    py_splitlines(value)
        .into_iter()
        .map(normalise_whitespace)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Upstream `normalise_multiple_newlines`: three or more `\n` become two.
pub(crate) fn normalise_multiple_newlines(value: &str) -> String {
    static RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\n{3,}").expect("valid regex"));
    RE.replace_all(value, "\n\n").into_owned()
}

/// Upstream `strip_and_remove_obscure_whitespace`, used on list items:
/// zero-width and non-breaking spaces are removed, then ASCII whitespace is
/// trimmed from both ends.
pub(crate) fn strip_and_remove_obscure_whitespace(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .filter(|c| {
            !OBSCURE_ZERO_WIDTH_WHITESPACE.contains(c) && !OBSCURE_FULL_WIDTH_WHITESPACE.contains(c)
        })
        .collect();
    cleaned.trim_matches(&STRING_WHITESPACE[..]).to_string()
}

/// Upstream `remove_whitespace_before_punctuation`: spaces and tabs before
/// `,` or `.` are removed.
pub(crate) fn remove_whitespace_before_punctuation(value: &str) -> String {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[ \t]+([,.])").expect("valid regex"));
    RE.replace_all(value, "$1").into_owned()
}

/// Upstream `strip_unsupported_characters`.
pub(crate) fn strip_unsupported_characters(value: &str) -> String {
    value.replace(['\u{2028}', '\u{3164}'], "")
}

/// Upstream `unlink_govuk_escaped`: a zero-width space is put into `GOV.UK`
/// (when it starts a word and is not followed by `/`, `?` or `#`) so that
/// email clients do not turn it into a link.
pub(crate) fn unlink_govuk_escaped(message: &str) -> String {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)(^|\s)([#*^])?(GOV)\.(UK)").expect("valid regex"));
    let mut out = String::with_capacity(message.len());
    let mut last = 0;
    let mut pos = 0;
    while pos <= message.len() {
        let Some(caps) = RE.captures_at(message, pos) else {
            break;
        };
        let whole = caps.get(0).expect("group 0");
        if matches!(message[whole.end()..].chars().next(), Some('/' | '?' | '#')) {
            let step = message[whole.start()..]
                .chars()
                .next()
                .map_or(1, char::len_utf8);
            pos = whole.start() + step;
            continue;
        }
        out.push_str(&message[last..whole.start()]);
        out.push_str(&caps[1]);
        out.push_str(caps.get(2).map_or("", |m| m.as_str()));
        out.push_str(&caps[3]);
        out.push_str(".\u{200b}");
        out.push_str(&caps[4]);
        last = whole.end();
        pos = whole.end();
    }
    out.push_str(&message[last..]);
    out
}

// ---------------------------------------------------------------------------
// HTML escaping and entities
// ---------------------------------------------------------------------------

/// Names of the Latin-1 entities, for U+00A0 to U+00FF in order. These are
/// also the "legacy" entities that HTML allows without a trailing `;`.
const LATIN1_ENTITY_NAMES: [&str; 96] = [
    "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf",
    "laquo", "not", "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro",
    "para", "middot", "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest",
    "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil", "Egrave", "Eacute",
    "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH", "Ntilde", "Ograve", "Oacute",
    "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute",
    "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
    "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde",
    "ograve", "oacute", "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc",
    "uuml", "yacute", "thorn", "yuml",
];

/// Legacy entities (valid without `;`) outside Latin-1's upper half.
const LEGACY_ENTITIES: [(&str, char); 10] = [
    ("amp", '&'),
    ("AMP", '&'),
    ("lt", '<'),
    ("LT", '<'),
    ("gt", '>'),
    ("GT", '>'),
    ("quot", '"'),
    ("QUOT", '"'),
    ("COPY", '©'),
    ("REG", '®'),
];

/// Common entities that need their `;`.
const OTHER_ENTITIES: [(&str, char); 42] = [
    ("apos", '\''),
    ("euro", '€'),
    ("hellip", '…'),
    ("mdash", '—'),
    ("ndash", '–'),
    ("lsquo", '‘'),
    ("rsquo", '’'),
    ("ldquo", '“'),
    ("rdquo", '”'),
    ("sbquo", '‚'),
    ("bdquo", '„'),
    ("bull", '•'),
    ("trade", '™'),
    ("dagger", '†'),
    ("Dagger", '‡'),
    ("permil", '‰'),
    ("lsaquo", '‹'),
    ("rsaquo", '›'),
    ("OElig", 'Œ'),
    ("oelig", 'œ'),
    ("Scaron", 'Š'),
    ("scaron", 'š'),
    ("Yuml", 'Ÿ'),
    ("fnof", 'ƒ'),
    ("circ", 'ˆ'),
    ("tilde", '˜'),
    ("ensp", '\u{2002}'),
    ("emsp", '\u{2003}'),
    ("thinsp", '\u{2009}'),
    ("zwnj", '\u{200c}'),
    ("zwj", '\u{200d}'),
    ("lrm", '\u{200e}'),
    ("rlm", '\u{200f}'),
    ("prime", '′'),
    ("Prime", '″'),
    ("minus", '−'),
    ("larr", '←'),
    ("rarr", '→'),
    ("uarr", '↑'),
    ("darr", '↓'),
    ("hyphen", '‐'),
    ("Tab", '\t'),
];

fn legacy_entity(name: &str) -> Option<char> {
    if let Some(i) = LATIN1_ENTITY_NAMES.iter().position(|&n| n == name) {
        return char::from_u32(0xa0 + i as u32);
    }
    LEGACY_ENTITIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, c)| c)
}

fn entity(name: &str) -> Option<char> {
    legacy_entity(name).or_else(|| {
        OTHER_ENTITIES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, c)| c)
    })
}

/// Python's `html._replace_charref`, given the reference without its `&`.
fn replace_charref(s: &str) -> String {
    if let Some(number) = s.strip_prefix('#') {
        let number = number.trim_end_matches(';');
        let parsed = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => number.parse::<u32>().ok(),
        };
        // Only an overflow can fail here: treat it like any too-large number.
        let n = parsed.unwrap_or(u32::MAX);
        if let Some(c) = invalid_charref(n) {
            return c.to_string();
        }
        if (0xd800..=0xdfff).contains(&n) || n > 0x10ffff {
            return '\u{fffd}'.to_string();
        }
        if is_invalid_codepoint(n) {
            return String::new();
        }
        return char::from_u32(n).map(String::from).unwrap_or_default();
    }
    let named = match s.strip_suffix(';') {
        Some(name) => entity(name),
        None => legacy_entity(s),
    };
    if let Some(c) = named {
        return c.to_string();
    }
    // Longest legacy entity that is a prefix of the reference.
    let boundaries: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
    for &cut in boundaries.iter().skip(2).rev() {
        if let Some(c) = legacy_entity(&s[..cut]) {
            return format!("{c}{}", &s[cut..]);
        }
    }
    format!("&{s}")
}

/// Python's `html._invalid_charrefs` (the Windows-1252 repair table).
fn invalid_charref(n: u32) -> Option<char> {
    let c = match n {
        0x00 => '\u{fffd}',
        0x0d => '\r',
        0x80 => '\u{20ac}',
        0x81 => '\u{81}',
        0x82 => '\u{201a}',
        0x83 => '\u{192}',
        0x84 => '\u{201e}',
        0x85 => '\u{2026}',
        0x86 => '\u{2020}',
        0x87 => '\u{2021}',
        0x88 => '\u{2c6}',
        0x89 => '\u{2030}',
        0x8a => '\u{160}',
        0x8b => '\u{2039}',
        0x8c => '\u{152}',
        0x8d => '\u{8d}',
        0x8e => '\u{17d}',
        0x8f => '\u{8f}',
        0x90 => '\u{90}',
        0x91 => '\u{2018}',
        0x92 => '\u{2019}',
        0x93 => '\u{201c}',
        0x94 => '\u{201d}',
        0x95 => '\u{2022}',
        0x96 => '\u{2013}',
        0x97 => '\u{2014}',
        0x98 => '\u{2dc}',
        0x99 => '\u{2122}',
        0x9a => '\u{161}',
        0x9b => '\u{203a}',
        0x9c => '\u{153}',
        0x9d => '\u{9d}',
        0x9e => '\u{17e}',
        0x9f => '\u{178}',
        _ => return None,
    };
    Some(c)
}

/// Python's `html._invalid_codepoints`.
fn is_invalid_codepoint(n: u32) -> bool {
    matches!(n, 0x1..=0x8 | 0xb | 0xe..=0x1f | 0x7f..=0x9f | 0xfdd0..=0xfdef)
        || (n & 0xfffe) == 0xfffe
}

/// Upstream `unescape_strict`: like Python's `html.unescape`, but a
/// reference is only decoded when it ends with `;`.
pub(crate) fn unescape_strict(s: &str) -> String {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"&(#[0-9]+;|#[xX][0-9a-fA-F]+;|[^\t\n\x0c <&#;]{1,32};)").expect("valid regex")
    });
    if !s.contains('&') {
        return s.to_string();
    }
    RE.replace_all(s, |caps: &Captures| replace_charref(&caps[1]))
        .into_owned()
}

/// Python's `html.unescape` (references without `;` are decoded too).
///
/// Only a common subset of HTML's named entities is known; numeric
/// references are complete.
pub(crate) fn html_unescape(s: &str) -> String {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\x0c <&#;]{1,32};?)")
            .expect("valid regex")
    });
    if !s.contains('&') {
        return s.to_string();
    }
    RE.replace_all(s, |caps: &Captures| replace_charref(&caps[1]))
        .into_owned()
}

/// Upstream `escape_html`: existing entities are decoded first (except
/// `&nbsp;` and `&amp;`, which are kept as they are), then `&`, `<` and `>`
/// are escaped. Quotes are not escaped.
pub(crate) fn escape_html(value: &str) -> String {
    const NBSP_STANDIN: &str = "\u{1f47e}\u{1f426}\u{1f974}";
    const AMP_STANDIN: &str = "\u{2795}\u{1f426}\u{1f974}";
    if value.is_empty() {
        return String::new();
    }
    let protected = value
        .replace("&nbsp;", NBSP_STANDIN)
        .replace("&amp;", AMP_STANDIN);
    let escaped = unescape_strict(&protected)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    escaped
        .replace(NBSP_STANDIN, "&nbsp;")
        .replace(AMP_STANDIN, "&amp;")
}

/// The Markdown renderer's text escaping (mistune's `escape` with
/// `smart_amp`): a `&` that does not start an entity becomes `&amp;`, and
/// `<` and `>` are escaped.
pub(crate) fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        match c {
            '&' => {
                if starts_entity(&text[i + 1..]) {
                    out.push('&');
                } else {
                    out.push_str("&amp;");
                }
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// Whether `rest` (the text after an `&`) matches `#?\w+;`.
fn starts_entity(rest: &str) -> bool {
    let rest = rest.strip_prefix('#').unwrap_or(rest);
    let word_len: usize = rest
        .chars()
        .take_while(|&c| is_word(c))
        .map(char::len_utf8)
        .sum();
    word_len > 0 && rest[word_len..].starts_with(';')
}

// ---------------------------------------------------------------------------
// Nice typography
// ---------------------------------------------------------------------------

/// Upstream `do_nice_typography`, applied to subjects and HTML email bodies.
pub(crate) fn do_nice_typography(value: &str) -> String {
    let value = remove_whitespace_before_punctuation(value);
    let value = make_quotes_smart(&value);
    let value = remove_smart_quotes_from_email_addresses(&value);
    replace_hyphens_with_en_dashes(&value)
}

/// Upstream `replace_hyphens_with_en_dashes`: 1 to 3 hyphens or dashes with
/// whitespace on both sides become ` – `.
pub(crate) fn replace_hyphens_with_en_dashes(value: &str) -> String {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\s+[-–—]{1,3}\s+").expect("valid regex"));
    RE.replace_all(value, " \u{2013} ").into_owned()
}

/// Upstream `remove_smart_quotes_from_email_addresses`: curly single quotes
/// inside anything that looks like an email address go back to `'`.
pub(crate) fn remove_smart_quotes_from_email_addresses(value: &str) -> String {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?m)(^|\s)\S+@\S+(\s|$)").expect("valid regex"));
    RE.replace_all(value, |caps: &Captures| caps[0].replace(['‘', '’'], "'"))
        .into_owned()
}

enum Token<'a> {
    Tag(&'a str),
    Text(&'a str),
}

/// smartypants' `_tokenize`: runs of text and HTML tags (comments that
/// contain `--` count as text).
fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    while let Some(offset) = text[pos..].find('<') {
        let lt = pos + offset;
        let tag_end = if text[lt..].starts_with("<!--") {
            comment_end(text, lt).or_else(|| text[lt..].find('>').map(|i| lt + i + 1))
        } else {
            text[lt..].find('>').map(|i| lt + i + 1)
        };
        let Some(tag_end) = tag_end else {
            break;
        };
        if lt > pos {
            tokens.push(Token::Text(&text[pos..lt]));
        }
        let tag = &text[lt..tag_end];
        if let Some(comment) = tag.strip_prefix("<!--") {
            let inner = comment
                .trim_end_matches('>')
                .trim_end()
                .trim_end_matches('-');
            if inner.contains("--") {
                tokens.push(Token::Text(tag));
            } else {
                tokens.push(Token::Tag(tag));
            }
        } else {
            tokens.push(Token::Tag(tag));
        }
        pos = tag_end;
    }
    if pos < text.len() {
        tokens.push(Token::Text(&text[pos..]));
    }
    tokens
}

/// End of the shortest `<!--.*?--\s*>` starting at `start`.
fn comment_end(text: &str, start: usize) -> Option<usize> {
    let mut search = start + 4;
    while let Some(offset) = text[search..].find("--") {
        let dashes = search + offset;
        let after = &text[dashes + 2..];
        let ws: usize = after
            .chars()
            .take_while(|&c| py_isspace(c))
            .map(char::len_utf8)
            .sum();
        if after[ws..].starts_with('>') {
            return Some(dashes + 2 + ws + 1);
        }
        search = dashes + 1;
    }
    None
}

/// smartypants with `Attr.q | Attr.u`: straight quotes become curly ones,
/// except inside `pre`, `code`, `a` (and similar) elements and inside tags.
pub(crate) fn make_quotes_smart(text: &str) -> String {
    static SKIP_TAG: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^<(/)?(pre|samp|code|tt|kbd|script|style|math|a)[^>]*>")
            .expect("valid regex")
    });
    let mut out = String::with_capacity(text.len() + 16);
    let mut skipped: Vec<String> = Vec::new();
    let mut in_pre = false;
    let mut prev_last: Option<char> = None;
    for token in tokenize(text) {
        match token {
            Token::Tag(tag) => {
                out.push_str(tag);
                if let Some(caps) = SKIP_TAG.captures(tag) {
                    let name = caps[2].to_lowercase();
                    if caps.get(1).is_none() {
                        skipped.push(name);
                        in_pre = true;
                    } else {
                        if skipped.last() == Some(&name) {
                            skipped.pop();
                        }
                        if skipped.is_empty() {
                            in_pre = false;
                        }
                    }
                }
            }
            Token::Text(t) => {
                let last = t.chars().last();
                if in_pre {
                    out.push_str(t);
                } else {
                    let t = process_escapes(t);
                    let prev_is_non_space = prev_last.is_some_and(|c| !py_isspace(c));
                    let t = if t == "'" {
                        if prev_is_non_space {
                            "&#8217;"
                        } else {
                            "&#8216;"
                        }
                        .to_string()
                    } else if t == "\"" {
                        if prev_is_non_space {
                            "&#8221;"
                        } else {
                            "&#8220;"
                        }
                        .to_string()
                    } else {
                        convert_quotes(&t)
                    };
                    out.push_str(&convert_entities(&t));
                }
                prev_last = last;
            }
        }
    }
    out
}

/// smartypants' `process_escapes`: backslash escapes become numeric
/// references (which are left in the output).
fn process_escapes(text: &str) -> String {
    text.replace("\\\\", "&#92;")
        .replace("\\\"", "&#34;")
        .replace("\\'", "&#39;")
        .replace("\\.", "&#46;")
        .replace("\\-", "&#45;")
        .replace("\\`", "&#96;")
}

/// smartypants' `convert_entities` in Unicode mode.
fn convert_entities(text: &str) -> String {
    const TABLE: [(&str, &str); 7] = [
        ("&#8211;", "–"),
        ("&#8212;", "—"),
        ("&#8216;", "‘"),
        ("&#8217;", "’"),
        ("&#8220;", "“"),
        ("&#8221;", "”"),
        ("&#8230;", "…"),
    ];
    let mut text = text.to_string();
    for (from, to) in TABLE {
        if text.contains(from) {
            text = text.replace(from, to);
        }
    }
    text
}

/// One pass of a regex substitution, written by hand because the patterns
/// need look-arounds. `rule` looks at the original characters of the pass
/// and returns how many it consumes and what replaces them.
fn substitute_pass(text: &str, rule: impl Fn(&[char], usize) -> Option<(usize, String)>) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        if let Some((consumed, replacement)) = rule(&chars, i) {
            out.push_str(&replacement);
            i += consumed;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn is_py_digit(c: char) -> bool {
    c.is_numeric()
}

fn at(chars: &[char], i: usize) -> Option<char> {
    chars.get(i).copied()
}

fn starts_with_at(chars: &[char], i: usize, pattern: &str) -> bool {
    (i..)
        .zip(pattern.chars())
        .all(|(j, p)| at(chars, j) == Some(p))
}

/// smartypants' class of characters after which a quote closes.
fn is_close_class(c: char) -> bool {
    !matches!(c, ' ' | '\t' | '\r' | '\n' | '[' | '{' | '(' | '-')
}

/// Length of smartypants' "opening context" (whitespace, `--`, dash
/// entities) at `i`.
fn opening_context_len(chars: &[char], i: usize) -> Option<usize> {
    let c = at(chars, i)?;
    if py_isspace(c) {
        return Some(1);
    }
    [
        "&nbsp;", "--", "&mdash;", "&ndash;", "&#8211;", "&#8212;", "&#x2013;", "&#x2014;",
    ]
    .into_iter()
    .find(|alt| starts_with_at(chars, i, alt))
    .map(|alt| alt.chars().count())
}

/// `s\b`: an `s` that ends a word.
fn is_s_at_word_end(chars: &[char], i: usize) -> bool {
    at(chars, i) == Some('s') && !at(chars, i + 1).is_some_and(is_word)
}

/// smartypants' `convert_quotes`, step by step, producing numeric
/// references that `convert_entities` turns into characters.
fn convert_quotes(text: &str) -> String {
    const PUNCT: &str = "!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}~";
    let is_punct = |c: Option<char>| c.is_some_and(|c| PUNCT.contains(c));

    // A quote at the very start, followed by punctuation and a literal `\B`
    // (upstream's pattern has a doubled backslash).
    let text = substitute_pass(text, |c, i| {
        (i == 0
            && at(c, 0) == Some('\'')
            && is_punct(at(c, 1))
            && at(c, 2) == Some('\\')
            && at(c, 3) == Some('B'))
        .then(|| (1, "&#8217;".to_string()))
    });
    let text = substitute_pass(&text, |c, i| {
        (i == 0
            && at(c, 0) == Some('"')
            && is_punct(at(c, 1))
            && at(c, 2) == Some('\\')
            && at(c, 3) == Some('B'))
        .then(|| (1, "&#8221;".to_string()))
    });
    // Double sets of quotes: "'word and '"word.
    let text = substitute_pass(&text, |c, i| {
        (at(c, i) == Some('"') && at(c, i + 1) == Some('\'') && at(c, i + 2).is_some_and(is_word))
            .then(|| (2, "&#8220;&#8216;".to_string()))
    });
    let text = substitute_pass(&text, |c, i| {
        (at(c, i) == Some('\'') && at(c, i + 1) == Some('"') && at(c, i + 2).is_some_and(is_word))
            .then(|| (2, "&#8216;&#8220;".to_string()))
    });
    // Decade abbreviations: the '80s.
    let text = substitute_pass(&text, |c, i| {
        (at(c, i) == Some('\'')
            && i > 0
            && is_word(c[i - 1])
            && at(c, i + 1).is_some_and(is_py_digit)
            && at(c, i + 2).is_some_and(is_py_digit)
            && at(c, i + 3) == Some('s'))
        .then(|| (1, "&#8217;".to_string()))
    });
    // Opening single quotes.
    let text = substitute_pass(&text, |c, i| {
        let n = opening_context_len(c, i)?;
        (at(c, i + n) == Some('\'') && at(c, i + n + 1).is_some_and(is_word)).then(|| {
            let context: String = c[i..i + n].iter().collect();
            (n + 1, format!("{context}&#8216;"))
        })
    });
    // Closing single quotes.
    let text = substitute_pass(&text, |c, i| {
        let first = at(c, i)?;
        if !is_close_class(first) || at(c, i + 1) != Some('\'') {
            return None;
        }
        let blocked = at(c, i + 2).is_some_and(|n| py_isspace(n) || is_py_digit(n))
            || is_s_at_word_end(c, i + 2);
        (!blocked).then(|| (2, format!("{first}&#8217;")))
    });
    let text = substitute_pass(&text, |c, i| {
        let first = at(c, i)?;
        if !is_close_class(first) || at(c, i + 1) != Some('\'') {
            return None;
        }
        let next = at(c, i + 2)?;
        (py_isspace(next) || is_s_at_word_end(c, i + 2))
            .then(|| (3, format!("{first}&#8217;{next}")))
    });
    // Any other single quote opens.
    let text = text.replace('\'', "&#8216;");
    // Opening double quotes.
    let text = substitute_pass(&text, |c, i| {
        let n = opening_context_len(c, i)?;
        (at(c, i + n) == Some('"') && at(c, i + n + 1).is_some_and(is_word)).then(|| {
            let context: String = c[i..i + n].iter().collect();
            (n + 1, format!("{context}&#8220;"))
        })
    });
    // Closing double quotes.
    let text = substitute_pass(&text, |c, i| {
        (at(c, i) == Some('"') && at(c, i + 1).is_some_and(py_isspace))
            .then(|| (1, "&#8221;".to_string()))
    });
    let text = substitute_pass(&text, |c, i| {
        let first = at(c, i)?;
        (is_close_class(first) && at(c, i + 1) == Some('"')).then(|| (2, format!("{first}&#8221;")))
    });
    // Any other double quote opens.
    text.replace('"', "&#8220;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smart_quotes_match_smartypants() {
        let cases = [
            ("\"Isn't this fun?\"", "“Isn’t this fun?”"),
            ("Don't Foo -- it's \"great\"", "Don’t Foo -- it’s “great”"),
            ("the '80s", "the ‘80s"),
            ("in '99s'", "in ‘99s’"),
            ("'quoted' words", "‘quoted’ words"),
            ("He said, \"'Quoted' words\"", "He said, “‘Quoted’ words”"),
            ("<a href=\"x\">'a'</a> 'b'", "<a href=\"x\">'a'</a> ‘b’"),
            ("don\\'t", "don&#39;t"),
            ("')", "‘)"),
        ];
        for (input, expected) in cases {
            assert_eq!(make_quotes_smart(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn email_addresses_keep_straight_apostrophes() {
        let smart = make_quotes_smart("Email o'neil@example.com now");
        assert_eq!(
            remove_smart_quotes_from_email_addresses(&smart),
            "Email o'neil@example.com now"
        );
    }

    #[test]
    fn hyphens_with_spaces_become_en_dashes() {
        let cases = [
            ("a - b", "a – b"),
            ("a -- b", "a – b"),
            ("a --- b", "a – b"),
            ("a — b", "a – b"),
            ("a-b", "a-b"),
            ("a ---- b", "a ---- b"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                replace_hyphens_with_en_dashes(input),
                expected,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn escape_html_keeps_entities_once() {
        let cases = [
            ("a & b", "a &amp; b"),
            ("<b>", "&lt;b&gt;"),
            ("&amp; &nbsp; &lt;", "&amp; &nbsp; &lt;"),
            ("&pound;5", "£5"),
            ("&#39;quote&#39;", "'quote'"),
            ("it's \"fine\"", "it's \"fine\""),
        ];
        for (input, expected) in cases {
            assert_eq!(escape_html(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn html_unescape_is_lenient() {
        assert_eq!(html_unescape("&amp;&lt;&gt;&quot;&#39;&#x41;"), "&<>\"'A");
        assert_eq!(html_unescape("AT&amp T"), "AT& T");
        assert_eq!(html_unescape("&ampx;"), "&x;");
        assert_eq!(html_unescape("&unknown;"), "&unknown;");
        assert_eq!(html_unescape("&#128;&#0;"), "€\u{fffd}");
    }

    #[test]
    fn markdown_escape_is_smart_about_ampersands() {
        assert_eq!(
            markdown_escape("a & b &amp; &#39; <x>"),
            "a &amp; b &amp; &#39; &lt;x&gt;"
        );
    }

    #[test]
    fn python_whitespace_helpers() {
        assert_eq!(
            py_splitlines("a\r\nb\rc\n\nd\n"),
            vec!["a", "b", "c", "", "d"]
        );
        assert_eq!(
            normalise_whitespace("  a \u{a0} b\u{200b}c\t\n d "),
            "a bc d"
        );
        assert_eq!(
            strip_and_remove_obscure_whitespace(" \u{200b}a\u{a0}b \n"),
            "ab"
        );
        assert_eq!(remove_whitespace_before_punctuation("a , b . c"), "a, b. c");
    }

    #[test]
    fn govuk_is_not_linked() {
        assert_eq!(
            unlink_govuk_escaped("Visit GOV.UK today"),
            "Visit GOV.\u{200b}UK today"
        );
        assert_eq!(unlink_govuk_escaped("gov.uk"), "gov.\u{200b}uk");
        assert_eq!(unlink_govuk_escaped("www.gov.uk"), "www.gov.uk");
        assert_eq!(unlink_govuk_escaped("GOV.UK/foo"), "GOV.UK/foo");
        assert_eq!(unlink_govuk_escaped("#GOV.UK"), "#GOV.\u{200b}UK");
    }
}
