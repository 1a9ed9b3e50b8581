//! MMG's formats: delivery receipts (JSON `status`, `substatus`, `CID`, ...) and received texts
//! (JSON `MSISDN`, `Number`, `Message`, `ID`, `DateRecieved`). Pure parsing only.

use serde_json::Value;
use storage::records::NotificationStatus;

use super::{ParseError, SmsReceipt, parse_provider_date};
use crate::domain::receipts::InboundText;

/// How upstream names MMG in its answers and logs.
pub const CLIENT: &str = "MMG";
/// The provider name stored with received texts.
pub const PROVIDER: &str = "mmg";

/// MMG's status → ours: `2` and `5` permanent-failure, `3` delivered, `4` temporary-failure.
/// `None` for anything else (the caller records a technical failure).
pub fn status_for(status: &str) -> Option<NotificationStatus> {
    match status.trim() {
        "2" | "5" => Some(NotificationStatus::PermanentFailure),
        "3" => Some(NotificationStatus::Delivered),
        "4" => Some(NotificationStatus::TemporaryFailure),
        _ => None,
    }
}

/// What MMG's substatus means, for the logs (upstream's `mmg_response_map`).
pub fn substatus_description(status: &str, substatus: Option<&str>) -> Option<&'static str> {
    let sub = substatus?.trim();
    Some(match (status.trim(), sub) {
        ("2", "1") => "Number does not exist",
        ("2", "4") => "Rejected by operator",
        ("2", "5") => "Unidentified Subscriber",
        ("2", "9") => "Undelivered",
        ("2", "11") => "Service for Subscriber suspended",
        ("2", "12") => "Illegal equipment",
        ("2", "2049") => "Subscriber IMSI blacklisted",
        ("2", "2050") => "Number blacklisted in do-not-disturb blacklist",
        ("2", "2052") => "Destination number blacklisted",
        ("2", "2053") => "Source address blacklisted",
        ("3", "2") => "Delivered to operator",
        ("3", "5") => "Delivered to handset",
        ("4", "6") | ("4", "27") => "Absent Subscriber",
        ("4", "8") => "Roaming not allowed",
        ("4", "13") => "SMS Not Supported",
        ("4", "15") => "Expired",
        ("4", "29") => "Invalid delivery report",
        ("4", "32") => "Delivery Failure",
        ("5", "6") => "Network out of coverage",
        ("5", "8") => "Incorrect number prefix",
        ("5", "10") => "Number on do-not-disturb service",
        ("5", "11") => "Sender id not registered",
        ("5", "13") => "Sender id blacklisted",
        ("5", "14") => "Destination number blacklisted",
        ("5", "19") => "Routing unavailable",
        ("5", "20") => "Rejected by anti-flooding mechanism",
        ("5", "21") => "System error",
        ("5", "23") => "Duplicate message id",
        ("5", "24") => "Message formatted incorrectly",
        ("5", "25") => "Message too long",
        ("5", "51") => "Missing recipient value",
        ("5", "52") => "Invalid destination",
        _ => return None,
    })
}

/// A JSON value as the text upstream would compare (`3` and `"3"` are the same status).
/// `None` for absent, null and empty values.
fn text_of(value: Option<&Value>) -> Option<String> {
    let text = match value? {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    (!text.trim().is_empty()).then_some(text)
}

fn json_object(body: &[u8], what: &str) -> Result<serde_json::Map<String, Value>, ParseError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ParseError::Invalid(format!(
            "{CLIENT} {what} failed: expected a JSON object"
        ))),
        Err(_) => Err(ParseError::Invalid(format!(
            "{CLIENT} {what} failed: invalid json"
        ))),
    }
}

/// Read a delivery receipt. `status` and `CID` are required (upstream's messages when not).
pub fn parse_receipt(body: &[u8]) -> Result<SmsReceipt, ParseError> {
    let data = json_object(body, "callback")?;
    let status = text_of(data.get("status"));
    let reference = text_of(data.get("CID"));
    let mut missing = Vec::new();
    if status.is_none() {
        missing.push(format!("{CLIENT} callback failed: status missing"));
    }
    if reference.is_none() {
        missing.push(format!("{CLIENT} callback failed: CID missing"));
    }
    match (status, reference) {
        (Some(status), Some(reference)) => Ok(SmsReceipt {
            status,
            detail: text_of(data.get("substatus")),
            reference,
        }),
        _ => Err(ParseError::Missing(missing)),
    }
}

/// Read a received text. `MSISDN` (the sender), `Number` (ours) and `Message` are required;
/// the message and date are URL-encoded the way MMG sends them.
pub fn parse_inbound(body: &[u8]) -> Result<InboundText, ParseError> {
    let data = json_object(body, "inbound SMS")?;
    let field = |name: &str| text_of(data.get(name));
    let mut missing = Vec::new();
    for name in ["MSISDN", "Number", "Message"] {
        // A text may be empty, but it must be there.
        let absent = match name {
            "Message" => data.get(name).is_none_or(Value::is_null),
            _ => field(name).is_none(),
        };
        if absent {
            missing.push(format!("{CLIENT} inbound SMS failed: {name} missing"));
        }
    }
    if !missing.is_empty() {
        return Err(ParseError::Missing(missing));
    }
    // MMG spells it `DateRecieved`; accept the dictionary spelling too.
    let date = field("DateRecieved").or_else(|| field("DateReceived"));
    let provider_date = date.as_deref().and_then(|raw| {
        let parsed = parse_provider_date(&format_message(raw));
        if parsed.is_none() {
            tracing::warn!(date = raw, "MMG inbound SMS with an unreadable date");
        }
        parsed
    });
    Ok(InboundText {
        notify_number: field("Number").unwrap_or_default(),
        user_number: field("MSISDN").unwrap_or_default(),
        content: match data.get("Message") {
            Some(Value::String(s)) => format_message(s),
            other => format_message(&text_of(other).unwrap_or_default()),
        },
        provider: PROVIDER.into(),
        provider_reference: field("ID"),
        provider_date,
    })
}

/// MMG's encoding of a received text: `+` for spaces, `%XX` UTF-8 escapes, and backslash escapes
/// (`\n`, `\u00e9`, ...) as Python writes them. Never fails: what cannot be decoded is kept.
pub fn format_message(raw: &str) -> String {
    unescape(&percent_decode(&raw.replace('+', " ")))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `%XX` → byte; the bytes are read as UTF-8 (invalid sequences become U+FFFD).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex_value),
                bytes.get(i + 2).copied().and_then(hex_value),
            )
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Read exactly `n` hex digits starting at `chars[at]`.
fn hex_digits(chars: &[char], at: usize, n: usize) -> Option<u32> {
    let digits = chars.get(at..at + n)?;
    let mut value = 0u32;
    for c in digits {
        value = value * 16 + c.to_digit(16)?;
    }
    Some(value)
}

/// Python's backslash escapes (`unicode_escape`). An escape that cannot be decoded (a bad
/// `\x`, a lone surrogate, an unknown letter, a trailing backslash) is kept as written.
pub fn unescape(text: &str) -> String {
    if !text.contains('\\') {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let next = chars[i + 1];
        let simple = match next {
            '\n' => Some(None),
            '\\' => Some(Some('\\')),
            '\'' => Some(Some('\'')),
            '"' => Some(Some('"')),
            'a' => Some(Some('\u{07}')),
            'b' => Some(Some('\u{08}')),
            'f' => Some(Some('\u{0c}')),
            'n' => Some(Some('\n')),
            'r' => Some(Some('\r')),
            't' => Some(Some('\t')),
            'v' => Some(Some('\u{0b}')),
            _ => None,
        };
        if let Some(replacement) = simple {
            out.extend(replacement);
            i += 2;
            continue;
        }
        if next.is_digit(8) {
            let mut value = 0u32;
            let mut j = i + 1;
            while j < chars.len() && j < i + 4 && chars[j].is_digit(8) {
                value = value * 8 + chars[j].to_digit(8).unwrap_or(0);
                j += 1;
            }
            if let Some(ch) = char::from_u32(value) {
                out.push(ch);
                i = j;
                continue;
            }
        }
        let width = match next {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => 0,
        };
        if width > 0
            && let Some(value) = hex_digits(&chars, i + 2, width)
        {
            let mut consumed = 2 + width;
            let decoded = if (0xD800..0xDC00).contains(&value) && next == 'u' {
                // A UTF-16 pair written as two `\u` escapes.
                match (chars.get(i + 6..i + 8), hex_digits(&chars, i + 8, 4)) {
                    (Some(['\\', 'u']), Some(low)) if (0xDC00..0xE000).contains(&low) => {
                        consumed += 6;
                        char::from_u32(0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00))
                    }
                    _ => None,
                }
            } else {
                char::from_u32(value)
            };
            if let Some(ch) = decoded {
                out.push(ch);
                i += consumed;
                continue;
            }
        }
        // Not an escape we can decode: keep the backslash and go on from the next character.
        out.push('\\');
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn every_status_maps() {
        use NotificationStatus::*;
        assert_eq!(status_for("2"), Some(PermanentFailure));
        assert_eq!(status_for("3"), Some(Delivered));
        assert_eq!(status_for("4"), Some(TemporaryFailure));
        assert_eq!(status_for("5"), Some(PermanentFailure));
        for unknown in ["", "0", "1", "6", "99", "3.0", "delivered", "true"] {
            assert_eq!(status_for(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn substatuses_describe_the_outcome() {
        assert_eq!(
            substatus_description("2", Some("1")),
            Some("Number does not exist")
        );
        assert_eq!(
            substatus_description("3", Some("5")),
            Some("Delivered to handset")
        );
        assert_eq!(substatus_description("4", Some("15")), Some("Expired"));
        assert_eq!(
            substatus_description("5", Some("25")),
            Some("Message too long")
        );
        assert_eq!(substatus_description("3", Some("99")), None);
        assert_eq!(substatus_description("3", None), None);
    }

    #[test]
    fn receipts_accept_string_and_number_statuses() {
        let r = parse_receipt(
            br#"{"reference": "mmg_reference", "CID": "abc", "MSISDN": "447777349060",
                 "status": "3", "substatus": "5", "deliverytime": "2016-04-05 16:01:07"}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            SmsReceipt {
                status: "3".into(),
                detail: Some("5".into()),
                reference: "abc".into()
            }
        );
        let r = parse_receipt(br#"{"CID": "abc", "status": 5, "substatus": 25}"#).unwrap();
        assert_eq!(r.status, "5");
        assert_eq!(r.detail.as_deref(), Some("25"));
        assert_eq!(
            status_for(&r.status),
            Some(NotificationStatus::PermanentFailure)
        );
    }

    #[test]
    fn receipts_name_missing_fields() {
        assert_eq!(
            parse_receipt(br#"{"CID": "abc"}"#),
            Err(ParseError::Missing(vec![
                "MMG callback failed: status missing".into()
            ]))
        );
        assert_eq!(
            parse_receipt(br#"{"status": "3", "CID": ""}"#),
            Err(ParseError::Missing(vec![
                "MMG callback failed: CID missing".into()
            ]))
        );
        assert_eq!(
            parse_receipt(br#"{"status": null}"#),
            Err(ParseError::Missing(vec![
                "MMG callback failed: status missing".into(),
                "MMG callback failed: CID missing".into()
            ]))
        );
    }

    #[test]
    fn malformed_receipts_never_panic() {
        for body in [
            &b""[..],
            b"not json",
            b"[]",
            b"\"3\"",
            b"{\"status\":",
            b"\xff\xfe",
            b"null",
        ] {
            assert!(parse_receipt(body).is_err(), "{body:?}");
            assert!(parse_inbound(body).is_err(), "{body:?}");
        }
        assert_eq!(
            parse_receipt(b"nope"),
            Err(ParseError::Invalid(
                "MMG callback failed: invalid json".into()
            ))
        );
    }

    #[test]
    fn messages_decode_as_upstream() {
        assert_eq!(format_message("abc"), "abc");
        assert_eq!(format_message(""), "");
        assert_eq!(format_message("lots+of+words"), "lots of words");
        assert_eq!(
            format_message("%F0%9F%93%A9+%F0%9F%93%A9+%F0%9F%93%A9"),
            "📩 📩 📩"
        );
        assert_eq!(format_message("x+%2B+y"), "x + y");
        assert_eq!(
            format_message("some+uri+encoded+message%3A"),
            "some uri encoded message:"
        );
        assert_eq!(format_message("Hello%5Cnthere"), "Hello\nthere");
        assert_eq!(format_message(r"Hello\nthere"), "Hello\nthere");
        assert_eq!(format_message(r"caf\u00e9"), "café");
        assert_eq!(format_message(r"caf\xe9"), "café");
        assert_eq!(format_message(r"\U0001F4A9"), "💩");
        assert_eq!(format_message(r"\ud83d\udca9"), "💩");
        assert_eq!(format_message(r"tab\there"), "tab\there");
        assert_eq!(format_message(r"back\\slash"), "back\\slash");
        assert_eq!(format_message(r"\101"), "A");
        assert_eq!(format_message("café"), "café");
    }

    #[test]
    fn undecodable_escapes_are_kept() {
        assert_eq!(format_message("100%"), "100%");
        assert_eq!(format_message("%zz%4"), "%zz%4");
        assert_eq!(format_message("%FF"), "\u{fffd}");
        assert_eq!(format_message(r"a\qb"), r"a\qb");
        assert_eq!(format_message(r"\x4"), r"\x4");
        assert_eq!(format_message(r"\u12"), r"\u12");
        assert_eq!(format_message(r"\ud83d"), r"\ud83d");
        assert_eq!(format_message(r"\ud83dx"), r"\ud83dx");
        assert_eq!(format_message(r"\U00110000"), r"\U00110000");
        assert_eq!(format_message(r"ends\"), r"ends\");
        assert_eq!(format_message("\\\u{e9}"), "\\\u{e9}");
    }

    #[test]
    fn inbound_texts_parse() {
        let t = parse_inbound(
            br#"{"MSISDN": "447700900111", "Number": "40604",
                 "Message": "Hello+there%21", "ID": "mmg-id-1",
                 "DateRecieved": "2017-05-21+11%3A56%3A11"}"#,
        )
        .unwrap();
        assert_eq!(
            t,
            InboundText {
                notify_number: "40604".into(),
                user_number: "447700900111".into(),
                content: "Hello there!".into(),
                provider: "mmg".into(),
                provider_reference: Some("mmg-id-1".into()),
                provider_date: Some(
                    Utc.with_ymd_and_hms(2017, 5, 21, 10, 56, 11)
                        .unwrap()
                        .timestamp_micros()
                ),
            }
        );
        // Numbers as JSON numbers, the other spelling of the date, no ID.
        let t = parse_inbound(
            br#"{"MSISDN": 447700900111, "Number": "07700900000", "Message": "hi",
                 "DateReceived": "2017-01-21+11%3A56%3A11"}"#,
        )
        .unwrap();
        assert_eq!(t.user_number, "447700900111");
        assert_eq!(t.provider_reference, None);
        assert_eq!(
            t.provider_date,
            Some(
                Utc.with_ymd_and_hms(2017, 1, 21, 11, 56, 11)
                    .unwrap()
                    .timestamp_micros()
            )
        );
        // An unreadable date is dropped, not the text.
        let t = parse_inbound(
            br#"{"MSISDN": "1", "Number": "2", "Message": "m", "DateRecieved": "soon"}"#,
        )
        .unwrap();
        assert_eq!(t.provider_date, None);
    }

    #[test]
    fn inbound_texts_name_missing_fields() {
        assert_eq!(
            parse_inbound(br#"{"Number": "40604", "Message": null}"#),
            Err(ParseError::Missing(vec![
                "MMG inbound SMS failed: MSISDN missing".into(),
                "MMG inbound SMS failed: Message missing".into(),
            ]))
        );
        let empty = parse_inbound(br#"{"Number": "40604", "MSISDN": "1", "Message": ""}"#);
        assert_eq!(empty.map(|t| t.content), Ok(String::new()));
    }
}
