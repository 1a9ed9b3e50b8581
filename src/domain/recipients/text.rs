//! Clean-up shared by every kind of recipient: upstream's whitespace rules and its ASCII
//! downgrade.

use crate::python::STRING_WHITESPACE;
use crate::templates::typography::{
    OBSCURE_FULL_WIDTH_WHITESPACE, OBSCURE_ZERO_WIDTH_WHITESPACE,
    strip_and_remove_obscure_whitespace,
};

/// True for the characters of Notify's `ALL_WHITESPACE`.
pub(super) fn is_notify_whitespace(c: char) -> bool {
    STRING_WHITESPACE.contains(&c)
        || OBSCURE_ZERO_WIDTH_WHITESPACE.contains(&c)
        || OBSCURE_FULL_WIDTH_WHITESPACE.contains(&c)
}

/// §10.2 step 1 clean-up, also applied to phone numbers before they are stored: delete
/// zero-width characters (U+180E, U+200B–U+200D, U+2060, U+FEFF, U+2028, U+2029) and
/// non-breaking spaces (U+00A0, U+202F) anywhere, then trim ASCII whitespace from both ends.
pub fn clean_recipient(s: &str) -> String {
    strip_and_remove_obscure_whitespace(s)
}

/// Notify's `SanitiseASCII`: downgrade text to printable ASCII. Printable ASCII is kept, letters
/// with a canonical decomposition become their base letter, a few punctuation and space
/// characters are replaced, and anything else becomes `?`.
pub(super) fn sanitise_ascii(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_recipient_removes_obscure_whitespace() {
        assert_eq!(
            clean_recipient("\u{FEFF} 07700\u{200B}900\u{00A0}123 \t"),
            "07700900123"
        );
        assert_eq!(clean_recipient("a\u{2028}b\u{180E}c"), "abc");
        assert_eq!(clean_recipient("\u{3000}x"), "\u{3000}x");
    }

    #[test]
    fn ascii_downgrade() {
        assert_eq!(sanitise_ascii("Côte d’Ivoire"), "Cote d'Ivoire");
        assert_eq!(sanitise_ascii("Łódź – ½"), "Lodz - ?");
        assert_eq!(sanitise_ascii("日本"), "??");
    }
}
