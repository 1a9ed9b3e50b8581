//! Request bodies parsed as JSON the way upstream's parser (Python's `json`, through Flask)
//! takes them, where that is more lenient than `serde_json`: a UTF-8 byte-order mark before the
//! JSON is skipped, and a lone surrogate escape (`"\ud800"`), which Python keeps, becomes
//! U+FFFD (a Rust string cannot hold a lone surrogate). Everything else is `serde_json`'s.

use serde::de::DeserializeOwned;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parse `body`; the error is `serde_json`'s for the body as given.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    let body = body.strip_prefix(UTF8_BOM).unwrap_or(body);
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(e) => match replace_lone_surrogates(body) {
            Some(repaired) => serde_json::from_slice(&repaired),
            None => Err(e),
        },
    }
}

fn hex4(body: &[u8], at: usize) -> Option<u16> {
    let digits = body.get(at..at + 4)?;
    u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

fn is_high(unit: u16) -> bool {
    (0xD800..0xDC00).contains(&unit)
}

fn is_low(unit: u16) -> bool {
    (0xDC00..0xE000).contains(&unit)
}

/// The body with every `\uXXXX` escape of an unpaired surrogate, inside strings, replaced by
/// `\ufffd`; `None` when there was none (the body fails for another reason).
fn replace_lone_surrogates(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut in_string = false;
    let mut changed = false;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if !in_string {
            in_string = b == b'"';
            out.push(b);
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = false;
                out.push(b);
                i += 1;
            }
            b'\\' if body.get(i + 1) == Some(&b'u') => match hex4(body, i + 2) {
                Some(unit) if is_high(unit) => {
                    let paired = body.get(i + 6..i + 8) == Some(b"\\u")
                        && hex4(body, i + 8).is_some_and(is_low);
                    if paired {
                        out.extend_from_slice(&body[i..i + 12]);
                        i += 12;
                    } else {
                        out.extend_from_slice(b"\\ufffd");
                        changed = true;
                        i += 6;
                    }
                }
                Some(unit) if is_low(unit) => {
                    out.extend_from_slice(b"\\ufffd");
                    changed = true;
                    i += 6;
                }
                _ => {
                    out.extend_from_slice(b"\\u");
                    i += 2;
                }
            },
            b'\\' => {
                // Any other escape: copy it whole, so an escaped quote or backslash is not
                // mistaken for the end of the string or the start of an escape.
                out.extend_from_slice(&body[i..(i + 2).min(body.len())]);
                i += 2;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let v: Value = parse(b"\xEF\xBB\xBF{\"a\": 1}").unwrap();
        assert_eq!(v, json!({"a": 1}));
    }

    #[test]
    fn lone_surrogates_become_replacement_characters_and_pairs_stay() {
        let v: Value = parse(br#"{"a": "x\ud800y", "b": "\udc00", "c": "\ud83d\ude00"}"#).unwrap();
        assert_eq!(v["a"], "x\u{fffd}y");
        assert_eq!(v["b"], "\u{fffd}");
        assert_eq!(v["c"], "\u{1f600}");
        // An escaped backslash followed by "ud800" is text, not an escape.
        let v: Value = parse(br#"{"a": "\\ud800"}"#).unwrap();
        assert_eq!(v["a"], "\\ud800");
        let v: Value = parse(br#"{"a": "\"\ud800"}"#).unwrap();
        assert_eq!(v["a"], "\"\u{fffd}");
    }

    #[test]
    fn other_errors_stay_errors() {
        assert!(parse::<Value>(b"{nope").is_err());
        assert!(parse::<Value>(br#"{"a": "\ud800"#).is_err());
        assert!(parse::<Value>(b"\xEF\xBB").is_err());
    }
}
