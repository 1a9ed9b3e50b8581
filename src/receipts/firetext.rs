//! Firetext's formats: delivery receipts (form `status`, `code`, `reference`, `time`) and
//! received texts (form `source`, `destination`, `message`, `time`). Pure parsing only.

use std::collections::HashMap;

use storage::records::NotificationStatus;

use super::{ParseError, SmsReceipt, parse_provider_date};
use crate::domain::receipts::InboundText;

/// How upstream names Firetext in its answers and logs.
pub const CLIENT: &str = "Firetext";
/// The provider name stored with received texts.
pub const PROVIDER: &str = "firetext";

/// Firetext's status → ours before the code refines it: `0` delivered, `1` permanent-failure,
/// `2` pending. `None` for anything else.
pub fn status_for(status: &str) -> Option<NotificationStatus> {
    match status.trim() {
        "0" => Some(NotificationStatus::Delivered),
        "1" => Some(NotificationStatus::PermanentFailure),
        "2" => Some(NotificationStatus::Pending),
        _ => None,
    }
}

/// What a failure code means (upstream's `firetext_codes`): the status it stands for and why.
pub fn code_outcome(code: &str) -> Option<(NotificationStatus, &'static str)> {
    use NotificationStatus::{PermanentFailure, TemporaryFailure};
    Some(match code.trim() {
        "000" => (TemporaryFailure, "No error reported"),
        "101" => (PermanentFailure, "Unknown Subscriber"),
        "102" => (TemporaryFailure, "Absent Subscriber"),
        "103" => (TemporaryFailure, "Subscriber Busy"),
        "104" => (TemporaryFailure, "No Subscriber Memory"),
        "201" => (PermanentFailure, "Invalid Number"),
        "301" => (PermanentFailure, "SMS Not Supported"),
        "302" => (TemporaryFailure, "SMS Not Supported"),
        "401" => (PermanentFailure, "Message Rejected"),
        "900" => (TemporaryFailure, "Routing Error"),
        _ => return None,
    })
}

/// The new status for a receipt, given the notification's `current` status. A failure (`1`)
/// is refined by its code; with no code or an unknown one, a message Firetext already called
/// pending failed only temporarily. `None` when the status itself is unknown.
pub fn decide(
    status: &str,
    code: Option<&str>,
    current: NotificationStatus,
) -> Option<NotificationStatus> {
    let status = status_for(status)?;
    if status != NotificationStatus::PermanentFailure {
        return Some(status);
    }
    if let Some(code) = code.filter(|c| !c.trim().is_empty()) {
        match code_outcome(code) {
            Some((refined, reason)) => {
                tracing::info!(
                    code,
                    reason,
                    status = refined.as_str(),
                    "Firetext failure code"
                );
                return Some(refined);
            }
            None => tracing::warn!(code, "Firetext failure code not recognised"),
        }
    }
    Some(if current == NotificationStatus::Pending {
        NotificationStatus::TemporaryFailure
    } else {
        NotificationStatus::PermanentFailure
    })
}

/// The form's fields (the first value of each name wins).
fn form(body: &[u8]) -> HashMap<String, String> {
    let mut fields = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        fields
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    fields
}

fn present(fields: &HashMap<String, String>, name: &str) -> Option<String> {
    fields.get(name).filter(|v| !v.trim().is_empty()).cloned()
}

/// Read a delivery receipt. `status` and `reference` are required (upstream's messages when
/// not); `code` is optional.
pub fn parse_receipt(body: &[u8]) -> Result<SmsReceipt, ParseError> {
    let fields = form(body);
    let status = present(&fields, "status");
    let reference = present(&fields, "reference");
    let mut missing = Vec::new();
    if status.is_none() {
        missing.push(format!("{CLIENT} callback failed: status missing"));
    }
    if reference.is_none() {
        missing.push(format!("{CLIENT} callback failed: reference missing"));
    }
    match (status, reference) {
        (Some(status), Some(reference)) => Ok(SmsReceipt {
            status,
            detail: present(&fields, "code"),
            reference,
        }),
        _ => Err(ParseError::Missing(missing)),
    }
}

/// Read a received text: `source` (the sender), `destination` (ours) and `message` required;
/// `time` is London time.
pub fn parse_inbound(body: &[u8]) -> Result<InboundText, ParseError> {
    let fields = form(body);
    let mut missing = Vec::new();
    for name in ["source", "destination", "message"] {
        let absent = match name {
            // A text may be empty, but it must be there.
            "message" => !fields.contains_key(name),
            _ => present(&fields, name).is_none(),
        };
        if absent {
            missing.push(format!("{CLIENT} inbound SMS failed: {name} missing"));
        }
    }
    if !missing.is_empty() {
        return Err(ParseError::Missing(missing));
    }
    let provider_date = present(&fields, "time").and_then(|raw| {
        let parsed = parse_provider_date(&raw);
        if parsed.is_none() {
            tracing::warn!(time = %raw, "Firetext inbound SMS with an unreadable time");
        }
        parsed
    });
    Ok(InboundText {
        notify_number: present(&fields, "destination").unwrap_or_default(),
        user_number: present(&fields, "source").unwrap_or_default(),
        content: fields.get("message").cloned().unwrap_or_default(),
        provider: PROVIDER.into(),
        provider_reference: None,
        provider_date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use NotificationStatus::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn every_status_maps() {
        assert_eq!(status_for("0"), Some(Delivered));
        assert_eq!(status_for("1"), Some(PermanentFailure));
        assert_eq!(status_for("2"), Some(Pending));
        for unknown in ["", "3", "99", "00", "delivered"] {
            assert_eq!(status_for(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn every_code_maps() {
        for code in ["101", "201", "301", "401"] {
            assert_eq!(
                code_outcome(code).map(|o| o.0),
                Some(PermanentFailure),
                "{code}"
            );
        }
        for code in ["000", "102", "103", "104", "302", "900"] {
            assert_eq!(
                code_outcome(code).map(|o| o.0),
                Some(TemporaryFailure),
                "{code}"
            );
        }
        assert_eq!(code_outcome("101").map(|o| o.1), Some("Unknown Subscriber"));
        assert_eq!(code_outcome("999"), None);
        assert_eq!(code_outcome(""), None);
    }

    #[test]
    fn failures_are_refined_by_code_then_by_current_status() {
        // Delivered and pending ignore the code and the current status.
        assert_eq!(decide("0", Some("101"), Sending), Some(Delivered));
        assert_eq!(decide("2", None, Sending), Some(Pending));
        assert_eq!(decide("2", None, Pending), Some(Pending));
        // A known code decides.
        assert_eq!(decide("1", Some("101"), Sending), Some(PermanentFailure));
        assert_eq!(decide("1", Some("101"), Pending), Some(PermanentFailure));
        assert_eq!(decide("1", Some("102"), Sending), Some(TemporaryFailure));
        assert_eq!(decide("1", Some("000"), Sending), Some(TemporaryFailure));
        // No code, or an unknown one: temporary only after Firetext said pending.
        assert_eq!(decide("1", None, Sending), Some(PermanentFailure));
        assert_eq!(decide("1", None, Pending), Some(TemporaryFailure));
        assert_eq!(decide("1", Some(""), Pending), Some(TemporaryFailure));
        assert_eq!(decide("1", Some("777"), Sending), Some(PermanentFailure));
        assert_eq!(decide("1", Some("777"), Pending), Some(TemporaryFailure));
        // Unknown status.
        assert_eq!(decide("5", Some("101"), Sending), None);
    }

    #[test]
    fn receipts_parse() {
        let r = parse_receipt(
            b"mobile=441234123123&status=1&code=101&time=2016-03-10+14%3A17%3A00&reference=abc",
        )
        .unwrap();
        assert_eq!(
            r,
            SmsReceipt {
                status: "1".into(),
                detail: Some("101".into()),
                reference: "abc".into()
            }
        );
        let r = parse_receipt(b"status=0&reference=abc&code=").unwrap();
        assert_eq!(r.detail, None);
    }

    #[test]
    fn receipts_name_missing_fields() {
        assert_eq!(
            parse_receipt(b"mobile=441234123123&status=0&reference=&time=2016-03-10 14:17:00"),
            Err(ParseError::Missing(vec![
                "Firetext callback failed: reference missing".into()
            ]))
        );
        assert_eq!(
            parse_receipt(b""),
            Err(ParseError::Missing(vec![
                "Firetext callback failed: status missing".into(),
                "Firetext callback failed: reference missing".into(),
            ]))
        );
    }

    #[test]
    fn malformed_forms_never_panic() {
        for body in [
            &b"\xff\xfe=\x00"[..],
            b"%%%=%",
            b"&&&",
            b"status",
            b"{\"status\": 0}",
        ] {
            assert!(parse_receipt(body).is_err(), "{body:?}");
            assert!(parse_inbound(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn inbound_texts_parse() {
        let t = parse_inbound(
            b"source=07700900111&destination=07700900000&message=Hello%2C+there+%F0%9F%93%A9\
              &time=2017-05-21+11%3A56%3A11",
        )
        .unwrap();
        assert_eq!(
            t,
            InboundText {
                notify_number: "07700900000".into(),
                user_number: "07700900111".into(),
                content: "Hello, there 📩".into(),
                provider: "firetext".into(),
                provider_reference: None,
                provider_date: Some(
                    Utc.with_ymd_and_hms(2017, 5, 21, 10, 56, 11)
                        .unwrap()
                        .timestamp_micros()
                ),
            }
        );
        // Backslashes are the sender's own: Firetext does not escape.
        let t = parse_inbound(b"source=1&destination=2&message=a%5Cnb").unwrap();
        assert_eq!(t.content, "a\\nb");
        assert_eq!(t.provider_date, None);
        let t = parse_inbound(b"source=1&destination=2&message=&time=whenever").unwrap();
        assert_eq!((t.content.as_str(), t.provider_date), ("", None));
    }

    #[test]
    fn inbound_texts_name_missing_fields() {
        assert_eq!(
            parse_inbound(b"destination=2"),
            Err(ParseError::Missing(vec![
                "Firetext inbound SMS failed: source missing".into(),
                "Firetext inbound SMS failed: message missing".into(),
            ]))
        );
    }
}
