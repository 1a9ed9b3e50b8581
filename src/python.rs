//! Python's string behaviour, where upstream's rules depend on it.
//!
//! GOV.UK Notify is written in Python, so what counts as whitespace, a line break or a word
//! character, and the text a JSON value turns into, follow Python's `str` methods, its `re`
//! module and `str()`/`repr()`. This is the one copy of those rules: the template renderers
//! and the recipient checks both use it.

use serde_json::{Number, Value};

/// Python's `string.whitespace`: the ASCII whitespace characters.
pub(crate) const STRING_WHITESPACE: [char; 6] = [' ', '\t', '\n', '\r', '\u{b}', '\u{c}'];

/// Python's `str.isspace()` (also what `\s` matches in a Python `str` regex): Unicode's
/// `White_Space` characters plus the ASCII separators U+001C–U+001F.
pub(crate) fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` with no argument.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// What `\w` matches in a Python `str` regex (letters, digits, underscore).
pub(crate) fn is_word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Python's `str.split()` with no argument.
pub(crate) fn py_split_whitespace(s: &str) -> impl Iterator<Item = &str> {
    s.split(py_isspace).filter(|part| !part.is_empty())
}

/// Python's `str.splitlines()` (no line ends kept, no trailing empty line).
pub(crate) fn py_splitlines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let is_break = matches!(
            c,
            '\n' | '\r'
                | '\u{b}'
                | '\u{c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if !is_break {
            continue;
        }
        lines.push(&s[start..i]);
        start = i + c.len_utf8();
        if c == '\r' && chars.peek().map(|&(_, next)| next) == Some('\n') {
            chars.next();
            start += 1;
        }
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

/// Python's `str()` of a JSON value.
pub(crate) fn python_str(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => python_number(n),
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => python_repr(value),
    }
}

/// Python's `repr()` of a JSON value.
pub(crate) fn python_repr(value: &Value) -> String {
    match value {
        Value::String(s) => python_repr_str(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(python_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", python_repr_str(k), python_repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        other => python_str(other),
    }
}

fn python_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control()
                || matches!(
                    c,
                    '\u{a0}' | '\u{ad}' | '\u{2028}' | '\u{2029}' | '\u{feff}'
                ) =>
            {
                let n = c as u32;
                if n < 0x100 {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n < 0x10000 {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str()` of a JSON number: integers as they are, floats with
/// `repr(float)` rules (shortest round-trip digits; exponent form below
/// 1e-4 and from 1e16).
fn python_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    python_float_repr(n.as_f64().unwrap_or(0.0))
}

/// Python's `repr()` of a float: shortest round-trip digits, `.0` on whole numbers, the
/// exponent form below 1e-4 and from 1e16.
pub(crate) fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    let formatted = format!("{f:e}");
    let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let body = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{body}")
    } else {
        let mantissa = if digits.len() == 1 {
            digits
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn isspace_is_pythons_set() {
        // Python: `[c for c in map(chr, range(0x110000)) if c.isspace()]`.
        let python = |c: char| {
            matches!(
                c,
                '\t'..='\r'
                    | '\u{1c}'..='\u{20}'
                    | '\u{85}'
                    | '\u{a0}'
                    | '\u{1680}'
                    | '\u{2000}'..='\u{200a}'
                    | '\u{2028}'
                    | '\u{2029}'
                    | '\u{202f}'
                    | '\u{205f}'
                    | '\u{3000}'
            )
        };
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            assert_eq!(py_isspace(c), python(c), "U+{:04X}", c as u32);
        }
        // Zero-width characters are not whitespace to Python.
        assert!(!py_isspace('\u{200b}') && !py_isspace('\u{feff}'));
    }

    #[test]
    fn strip_split_and_words() {
        assert_eq!(py_strip("\u{1f}\u{3000} a b\u{85}\n"), "a b");
        assert_eq!(py_strip("\u{200b}a\u{200b}"), "\u{200b}a\u{200b}");
        assert_eq!(
            py_split_whitespace(" a\u{a0}b\t\u{2003}c ").collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert!(py_split_whitespace(" \n ").next().is_none());
        assert!(is_word('_') && is_word('é') && is_word('٣') && !is_word('-'));
    }

    #[test]
    fn splitlines_like_python() {
        assert_eq!(
            py_splitlines("a\r\nb\rc\n\nd\n"),
            vec!["a", "b", "c", "", "d"]
        );
        assert_eq!(
            py_splitlines("a\u{b}b\u{c}c\u{1c}d\u{85}e\u{2028}f\u{2029}g"),
            vec!["a", "b", "c", "d", "e", "f", "g"]
        );
        assert_eq!(py_splitlines("\n"), vec![""]);
        assert!(py_splitlines("").is_empty());
        // A lone `\r`, then `\r\n`: two breaks.
        assert_eq!(py_splitlines("x\r\r\ny"), vec!["x", "", "y"]);
    }

    #[test]
    fn str_and_repr_of_values() {
        assert_eq!(python_str(&json!(null)), "None");
        assert_eq!(python_str(&json!("it's")), "it's");
        assert_eq!(python_repr(&json!("it's")), "\"it's\"");
        assert_eq!(python_repr(&json!("a'b\"c")), "'a\\'b\"c'");
        assert_eq!(python_repr(&json!("tab\t\u{a0}")), "'tab\\t\\xa0'");
        assert_eq!(
            python_str(&json!({"k": [1, 2.5, false]})),
            "{'k': [1, 2.5, False]}"
        );
    }

    #[test]
    fn float_repr_like_python() {
        for (f, expected) in [
            (1.5, "1.5"),
            (2.0, "2.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.0, "-0.0"),
            (1.0 / 3.0, "0.3333333333333333"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(python_float_repr(f), expected, "{f}");
        }
    }
}
