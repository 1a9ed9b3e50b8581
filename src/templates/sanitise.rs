//! `sanitise_content_for` (spec §5.2): neutralising personalisation values
//! that a service does not trust.
//!
//! For each value named in the request's `sanitise_content_for`:
//! 1. URL-like substrings are found (the same pattern upstream uses to find
//!    URLs in text). One made only of letters, digits, dots and hyphens
//!    (`gov.uk`) gets a space after every dot (`gov. uk`); any other is
//!    deleted.
//! 2. A backslash is put before every Markdown character
//!    `` ` * _ ( ) { } [ ] < > # + - . ! | \ ``.
//!
//! Only string values can be sanitised (upstream fails with a 500 on other
//! types); the caller reports each key whose value changed in
//! `sanitised_content`.
//!
//! Sources: API `app/v2/notifications/post_notifications.py`
//! (sanitise_personalisation_item); UTILS `notifications_utils/formatters.py`
//! (the `url` pattern).

use crate::python::{is_word, py_isspace};

/// Characters that get a backslash in front of them.
const MARKDOWN_CHARACTERS: &str = "`*_(){}[]<>#+-.!|\\";

/// Sanitises one personalisation value (spec §5.2).
///
/// ```
/// use notify::templates::sanitise_value;
/// assert_eq!(
///     sanitise_value("User, [click here](https://evil.link)"),
///     "User, \\[click here\\]\\(\\)",
/// );
/// ```
pub fn sanitise_value(value: &str) -> String {
    escape_markdown(&defuse_urls(value))
}

/// Step 1: URL-like substrings are deleted, or for bare domain-like ones a
/// space is put after every dot.
fn defuse_urls(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let mut out = String::with_capacity(value.len());
    let mut i = 0;
    while i < chars.len() {
        match match_url(&chars, i) {
            Some(end) => {
                let found = &chars[i..end];
                if found
                    .iter()
                    .all(|&c| c.is_alphanumeric() || c == '.' || c == '-')
                {
                    for &c in found {
                        out.push(c);
                        if c == '.' {
                            out.push(' ');
                        }
                    }
                }
                i = end;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

/// Step 2: a backslash before every Markdown character.
fn escape_markdown(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if MARKDOWN_CHARACTERS.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Python's `\b` at position `i`.
fn is_boundary(chars: &[char], i: usize) -> bool {
    let before = i
        .checked_sub(1)
        .and_then(|j| chars.get(j))
        .is_some_and(|&c| is_word(c));
    let after = chars.get(i).is_some_and(|&c| is_word(c));
    before != after
}

/// Upstream's URL pattern, matched at `i` (case-insensitive):
/// `\b(?<![@.])(https?://)?([\w-]+\.)+([a-z]{2,63})(?!@)\b([/?#][^<\s]*)?`.
/// Returns the end of the match.
fn match_url(chars: &[char], i: usize) -> Option<usize> {
    if !is_boundary(chars, i) {
        return None;
    }
    if i > 0 && matches!(chars[i - 1], '@' | '.') {
        return None;
    }
    let lower_starts_with = |pattern: &str| {
        pattern.chars().enumerate().all(|(k, p)| {
            chars
                .get(i + k)
                .is_some_and(|c| c.to_ascii_lowercase() == p)
        })
    };
    let scheme = ["https://", "http://"]
        .into_iter()
        .find(|s| lower_starts_with(s))
        .map(str::len);
    if let Some(len) = scheme
        && let Some(end) = match_url_after_scheme(chars, i + len)
    {
        return Some(end);
    }
    match_url_after_scheme(chars, i)
}

fn match_url_after_scheme(chars: &[char], start: usize) -> Option<usize> {
    // One or more `label.`; labels cannot contain dots, so each is a whole run.
    let mut label_ends = Vec::new();
    let mut q = start;
    loop {
        let run = chars[q..]
            .iter()
            .take_while(|&&c| is_word(c) || c == '-')
            .count();
        if run == 0 || chars.get(q + run) != Some(&'.') {
            break;
        }
        q += run + 1;
        label_ends.push(q);
    }
    for &tld_start in label_ends.iter().rev() {
        let letters = chars[tld_start..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        for len in (2..=letters.min(63)).rev() {
            let end = tld_start + len;
            if chars.get(end) == Some(&'@') || !is_boundary(chars, end) {
                continue;
            }
            if matches!(chars.get(end), Some('/' | '?' | '#')) {
                let path = chars[end + 1..]
                    .iter()
                    .take_while(|&&c| c != '<' && !py_isspace(c))
                    .count();
                return Some(end + 1 + path);
            }
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitises_values() {
        let cases = [
            (
                "User, [click here](https://evil.link)",
                "User, \\[click here\\]\\(\\)",
            ),
            ("gov.uk", "gov\\. uk"),
            (
                "Visit www.example.co.uk today",
                "Visit www\\. example\\. co\\. uk today",
            ),
            ("See https://example.com/path?q=1 now", "See  now"),
            ("evil.com/login", ""),
            ("Plain text", "Plain text"),
            ("name@example.com", "name@example\\.com"),
            ("# Heading *bold* _x_", "\\# Heading \\*bold\\* \\_x\\_"),
            (
                "a+b-c!d|e\\f`g{h}i<j>k",
                "a\\+b\\-c\\!d\\|e\\\\f\\`g\\{h\\}i\\<j\\>k",
            ),
            ("3.14", "3\\.14"),
            ("file.pdf", "file\\. pdf"),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitise_value(input), expected, "input {input:?}");
        }
    }
}
