//! Delivery receipts for the generic webhook provider ([`crate::providers::sms::webhook`]), a
//! format of our own, so its texts need not wait for the sending timeout:
//!
//! ```json
//! POST /notifications/sms/webhook
//! {"reference": "<the reference we sent>", "status": "delivered",
//!  "timestamp": "2026-05-21T10:56:11Z"}
//! ```
//!
//! `status` is one of `delivered`, `pending`, `temporary-failure`, `permanent-failure`; any
//! other records a technical failure (as an unknown MMG or Firetext status does).
//! `timestamp` (RFC 3339) is optional and only checked: the notification's time of the change
//! is when the receipt arrived. Pure parsing only.

use serde_json::Value;
use storage::records::NotificationStatus;

use super::{ParseError, SmsReceipt};

/// How the provider is named in answers and logs.
pub const CLIENT: &str = "Webhook";

/// The webhook's status → ours; `None` for anything else.
pub fn status_for(status: &str) -> Option<NotificationStatus> {
    match status.trim() {
        "delivered" => Some(NotificationStatus::Delivered),
        "pending" => Some(NotificationStatus::Pending),
        "temporary-failure" => Some(NotificationStatus::TemporaryFailure),
        "permanent-failure" => Some(NotificationStatus::PermanentFailure),
        _ => None,
    }
}

/// Read a receipt: `reference` and `status` are required, `timestamp` must be RFC 3339 when
/// given.
pub fn parse_receipt(body: &[u8]) -> Result<SmsReceipt, ParseError> {
    let Ok(Value::Object(data)) = serde_json::from_slice::<Value>(body) else {
        return Err(ParseError::Invalid(format!(
            "{CLIENT} callback failed: expected a JSON object"
        )));
    };
    let text = |name: &str| match data.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    };
    let mut missing = Vec::new();
    for name in ["reference", "status"] {
        if text(name).is_none() {
            missing.push(format!("{CLIENT} callback failed: {name} missing"));
        }
    }
    if !missing.is_empty() {
        return Err(ParseError::Missing(missing));
    }
    if let Some(t) = data.get("timestamp").filter(|t| !t.is_null()) {
        let valid = t
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok());
        if !valid {
            return Err(ParseError::Invalid(format!(
                "{CLIENT} callback failed: timestamp must be an RFC 3339 date and time"
            )));
        }
    }
    Ok(SmsReceipt {
        status: text("status").unwrap_or_default(),
        detail: None,
        reference: text("reference").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_name_what_is_missing_or_wrong() {
        let ok = parse_receipt(br#"{"reference": "abc", "status": "delivered"}"#).unwrap();
        assert_eq!(
            (ok.reference.as_str(), ok.status.as_str()),
            ("abc", "delivered")
        );
        let timed =
            br#"{"reference": "abc", "status": "pending", "timestamp": "2026-05-21T10:56:11Z"}"#;
        assert!(parse_receipt(timed).is_ok());
        match parse_receipt(br#"{"status": ""}"#) {
            Err(ParseError::Missing(m)) => assert_eq!(
                m,
                vec![
                    "Webhook callback failed: reference missing",
                    "Webhook callback failed: status missing"
                ]
            ),
            other => panic!("{other:?}"),
        }
        let bad_time = br#"{"reference": "a", "status": "delivered", "timestamp": "yesterday"}"#;
        assert!(matches!(
            parse_receipt(bad_time),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(parse_receipt(b"[1]"), Err(ParseError::Invalid(_))));
        assert_eq!(status_for("delivered"), Some(NotificationStatus::Delivered));
        assert_eq!(status_for("lost"), None);
    }
}
