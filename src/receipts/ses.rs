//! Amazon SES events delivered by Amazon SNS over HTTP(S). Pure parsing only.
//!
//! SNS posts a JSON envelope (with `Content-Type: text/plain`) and names its kind in the
//! `x-amz-sns-message-type` header: `SubscriptionConfirmation` (we must GET its `SubscribeURL`),
//! `Notification` (its `Message` is the SES event as a JSON string) or
//! `UnsubscribeConfirmation`. With "raw message delivery" the body is the SES event itself.
//!
//! SNS signs its messages, but checking the signature needs the signing certificate fetched
//! from AWS, which an appliance may not reach: it is **not** checked. Protect this endpoint
//! with the `[receipts]` basic auth. Without that auth, a subscription is only confirmed when
//! its `SubscribeURL` is an HTTPS Amazon SNS address, so an anonymous caller cannot make the
//! appliance fetch arbitrary URLs.

use chrono::DateTime;
use serde_json::Value;
use storage::records::{Micros, NotificationStatus};

use super::ParseError;

const CLIENT: &str = "SES";

/// The SNS envelope, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnsEnvelope {
    SubscriptionConfirmation {
        subscribe_url: String,
        topic_arn: Option<String>,
    },
    UnsubscribeConfirmation {
        topic_arn: Option<String>,
    },
    /// `message` is the SES event, still as JSON text.
    Notification {
        message: String,
    },
}

/// What SES tells us about one email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesEvent {
    /// `mail.messageId`: the provider reference we stored when sending.
    pub reference: String,
    /// `mail.timestamp`: when SES accepted the email.
    pub mail_timestamp: Option<Micros>,
    pub kind: SesEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SesEventKind {
    Delivery,
    Bounce {
        permanent: bool,
        bounce_type: Option<String>,
        bounce_sub_type: Option<String>,
    },
    Complaint {
        /// `complaint.complaintFeedbackType`, e.g. `abuse`.
        feedback_type: Option<String>,
        /// `complaint.timestamp`.
        date: Option<Micros>,
    },
}

impl SesEventKind {
    /// The status this event gives the email; `None` for a complaint (status unchanged).
    pub fn status(&self) -> Option<NotificationStatus> {
        match self {
            SesEventKind::Delivery => Some(NotificationStatus::Delivered),
            SesEventKind::Bounce {
                permanent: true, ..
            } => Some(NotificationStatus::PermanentFailure),
            SesEventKind::Bounce { .. } => Some(NotificationStatus::TemporaryFailure),
            SesEventKind::Complaint { .. } => None,
        }
    }
}

fn invalid_json() -> ParseError {
    ParseError::Invalid(format!("{CLIENT} callback failed: invalid json"))
}

fn missing(field: &str) -> ParseError {
    ParseError::Missing(vec![format!("{CLIENT} callback failed: {field} missing")])
}

fn string_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = value;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str().filter(|s| !s.trim().is_empty())
}

fn timestamp_at(value: &Value, path: &[&str]) -> Option<Micros> {
    string_at(value, path)
        .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| t.timestamp_micros())
}

/// Read an SNS post. `message_type` is the `x-amz-sns-message-type` header; without it the
/// envelope's own `Type` is used, and a body that is an SES event is taken as raw delivery.
pub fn parse_envelope(message_type: Option<&str>, body: &[u8]) -> Result<SnsEnvelope, ParseError> {
    let envelope: Value = serde_json::from_slice(body).map_err(|_| invalid_json())?;
    if !envelope.is_object() {
        return Err(invalid_json());
    }
    let kind = message_type
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .or_else(|| string_at(&envelope, &["Type"]));
    let kind = match kind {
        Some(kind) => kind,
        None if is_ses_event(&envelope) => {
            return Ok(SnsEnvelope::Notification {
                message: envelope.to_string(),
            });
        }
        None => return Err(missing("Type")),
    };
    let topic_arn = string_at(&envelope, &["TopicArn"]).map(str::to_string);
    match kind {
        "SubscriptionConfirmation" => match string_at(&envelope, &["SubscribeURL"]) {
            Some(url) => Ok(SnsEnvelope::SubscriptionConfirmation {
                subscribe_url: url.trim().to_string(),
                topic_arn,
            }),
            None => Err(missing("SubscribeURL")),
        },
        "UnsubscribeConfirmation" => Ok(SnsEnvelope::UnsubscribeConfirmation { topic_arn }),
        "Notification" => match envelope.get("Message") {
            Some(Value::String(m)) if !m.trim().is_empty() => {
                Ok(SnsEnvelope::Notification { message: m.clone() })
            }
            // Raw delivery with the header still set: the body is the event.
            _ if is_ses_event(&envelope) => Ok(SnsEnvelope::Notification {
                message: envelope.to_string(),
            }),
            Some(m) if m.is_object() => Ok(SnsEnvelope::Notification {
                message: m.to_string(),
            }),
            _ => Err(missing("Message")),
        },
        other => Err(ParseError::Invalid(format!(
            "{CLIENT} callback failed: unknown SNS message type {other}"
        ))),
    }
}

fn is_ses_event(value: &Value) -> bool {
    value.get("notificationType").is_some() || value.get("eventType").is_some()
}

/// Read the SES event inside an SNS notification (`notificationType` from an SES notification
/// topic, or `eventType` from an SES configuration set).
pub fn parse_event(message: &str) -> Result<SesEvent, ParseError> {
    let event: Value = serde_json::from_str(message).map_err(|_| invalid_json())?;
    if !event.is_object() {
        return Err(invalid_json());
    }
    let Some(kind) =
        string_at(&event, &["notificationType"]).or_else(|| string_at(&event, &["eventType"]))
    else {
        return Err(missing("notificationType"));
    };
    let kind = match kind {
        "Delivery" => SesEventKind::Delivery,
        "Bounce" => {
            let bounce_type = string_at(&event, &["bounce", "bounceType"]).map(str::to_string);
            SesEventKind::Bounce {
                permanent: bounce_type.as_deref() == Some("Permanent"),
                bounce_type,
                bounce_sub_type: string_at(&event, &["bounce", "bounceSubType"])
                    .map(str::to_string),
            }
        }
        "Complaint" => SesEventKind::Complaint {
            feedback_type: string_at(&event, &["complaint", "complaintFeedbackType"])
                .map(str::to_string),
            date: timestamp_at(&event, &["complaint", "timestamp"]),
        },
        other => {
            return Err(ParseError::Invalid(format!(
                "{CLIENT} callback failed: status {other} not found"
            )));
        }
    };
    let Some(reference) = string_at(&event, &["mail", "messageId"]) else {
        return Err(ParseError::Invalid(format!(
            "{CLIENT} callback failed: messageId missing"
        )));
    };
    Ok(SesEvent {
        reference: reference.trim().to_string(),
        mail_timestamp: timestamp_at(&event, &["mail", "timestamp"]),
        kind,
    })
}

/// Whether `url` is an HTTPS Amazon SNS endpoint (`https://sns.<region>.amazonaws.com/...`).
pub fn is_sns_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = parsed.host_str() else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    parsed.scheme() == "https"
        && parsed.username().is_empty()
        && parsed.port().is_none()
        && host.starts_with("sns.")
        && (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn ses_message(kind: &str, extra: Value) -> String {
        let mut m = json!({
            "notificationType": kind,
            "mail": {
                "timestamp": "2017-11-17T12:14:03.646Z",
                "source": "sender@example.com",
                "messageId": "ses-msg-id",
                "destination": ["someone@example.com"]
            }
        });
        if let (Some(m), Some(extra)) = (m.as_object_mut(), extra.as_object()) {
            m.extend(extra.clone());
        }
        m.to_string()
    }

    fn mail_time() -> Option<Micros> {
        Some(
            Utc.with_ymd_and_hms(2017, 11, 17, 12, 14, 3)
                .unwrap()
                .timestamp_micros()
                + 646_000,
        )
    }

    #[test]
    fn deliveries_bounces_and_complaints() {
        let e = parse_event(&ses_message("Delivery", json!({}))).unwrap();
        assert_eq!(
            e,
            SesEvent {
                reference: "ses-msg-id".into(),
                mail_timestamp: mail_time(),
                kind: SesEventKind::Delivery
            }
        );
        assert_eq!(e.kind.status(), Some(NotificationStatus::Delivered));

        let hard = parse_event(&ses_message(
            "Bounce",
            json!({"bounce": {"bounceType": "Permanent", "bounceSubType": "General"}}),
        ))
        .unwrap();
        assert_eq!(
            hard.kind.status(),
            Some(NotificationStatus::PermanentFailure)
        );

        for soft in [
            json!({"bounce": {"bounceType": "Transient", "bounceSubType": "MailboxFull"}}),
            json!({"bounce": {"bounceType": "Undetermined"}}),
            json!({}),
        ] {
            let e = parse_event(&ses_message("Bounce", soft.clone())).unwrap();
            assert_eq!(
                e.kind.status(),
                Some(NotificationStatus::TemporaryFailure),
                "{soft}"
            );
        }

        let c = parse_event(&ses_message(
            "Complaint",
            json!({"complaint": {"complaintFeedbackType": "abuse",
                                 "timestamp": "2018-06-05T13:59:58.000Z"}}),
        ))
        .unwrap();
        assert_eq!(
            c.kind,
            SesEventKind::Complaint {
                feedback_type: Some("abuse".into()),
                date: Some(
                    Utc.with_ymd_and_hms(2018, 6, 5, 13, 59, 58)
                        .unwrap()
                        .timestamp_micros()
                )
            }
        );
        assert_eq!(c.kind.status(), None);
        let bare = parse_event(&ses_message("Complaint", json!({}))).unwrap();
        assert_eq!(
            bare.kind,
            SesEventKind::Complaint {
                feedback_type: None,
                date: None
            }
        );
    }

    #[test]
    fn event_publishing_uses_event_type() {
        let m = json!({"eventType": "Delivery", "mail": {"messageId": "abc"}}).to_string();
        let e = parse_event(&m).unwrap();
        assert_eq!(e.kind, SesEventKind::Delivery);
        assert_eq!(e.mail_timestamp, None);
    }

    #[test]
    fn bad_events_are_named() {
        assert_eq!(
            parse_event("{nope"),
            Err(ParseError::Invalid(
                "SES callback failed: invalid json".into()
            ))
        );
        assert_eq!(
            parse_event(r#"{"mail": {"messageId": "abc"}}"#),
            Err(ParseError::Missing(vec![
                "SES callback failed: notificationType missing".into()
            ]))
        );
        assert_eq!(
            parse_event(&ses_message("Open", json!({}))),
            Err(ParseError::Invalid(
                "SES callback failed: status Open not found".into()
            ))
        );
        assert_eq!(
            parse_event(r#"{"notificationType": "Delivery", "mail": {}}"#),
            Err(ParseError::Invalid(
                "SES callback failed: messageId missing".into()
            ))
        );
    }

    #[test]
    fn envelopes_by_header_or_type() {
        let confirm = json!({
            "Type": "SubscriptionConfirmation",
            "TopicArn": "arn:aws:sns:eu-west-1:123:ses",
            "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=x",
            "Token": "x"
        })
        .to_string();
        let expected = SnsEnvelope::SubscriptionConfirmation {
            subscribe_url:
                "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=x".into(),
            topic_arn: Some("arn:aws:sns:eu-west-1:123:ses".into()),
        };
        assert_eq!(
            parse_envelope(None, confirm.as_bytes()),
            Ok(expected.clone())
        );
        assert_eq!(
            parse_envelope(Some("SubscriptionConfirmation"), confirm.as_bytes()),
            Ok(expected)
        );

        let message = ses_message("Delivery", json!({}));
        let notification = json!({"Type": "Notification", "Message": message}).to_string();
        assert_eq!(
            parse_envelope(Some("Notification"), notification.as_bytes()),
            Ok(SnsEnvelope::Notification {
                message: message.clone()
            })
        );
        // The header wins over the body's Type.
        assert_eq!(
            parse_envelope(Some("Notification"), confirm.as_bytes()),
            Err(ParseError::Missing(vec![
                "SES callback failed: Message missing".into()
            ]))
        );
        // Raw message delivery: the body is the event.
        let raw = parse_envelope(None, message.as_bytes()).unwrap();
        let SnsEnvelope::Notification { message: inner } = raw else {
            panic!("not a notification: {raw:?}");
        };
        assert_eq!(parse_event(&inner).unwrap().reference, "ses-msg-id");
        assert!(matches!(
            parse_envelope(Some("Notification"), message.as_bytes()),
            Ok(SnsEnvelope::Notification { .. })
        ));

        assert_eq!(
            parse_envelope(Some("UnsubscribeConfirmation"), b"{}"),
            Ok(SnsEnvelope::UnsubscribeConfirmation { topic_arn: None })
        );
    }

    #[test]
    fn malformed_envelopes_never_panic() {
        for (kind, body) in [
            (None, &b""[..]),
            (None, b"not json"),
            (None, b"[]"),
            (None, b"{}"),
            (Some("Notification"), b"{}"),
            (Some("Notification"), b"{\"Message\": 5}"),
            (Some("Notification"), b"{\"Message\": \"\"}"),
            (Some("SubscriptionConfirmation"), b"{\"SubscribeURL\": 1}"),
            (Some("Bogus"), b"{}"),
            (None, b"\xff"),
        ] {
            assert!(parse_envelope(kind, body).is_err(), "{kind:?} {body:?}");
        }
        for message in ["", "null", "[]", "\"x\"", "{\"notificationType\": 5}"] {
            assert!(parse_event(message).is_err(), "{message:?}");
        }
    }

    #[test]
    fn only_sns_urls_are_sns_urls() {
        assert!(is_sns_url(
            "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=a&Token=b"
        ));
        assert!(is_sns_url("https://sns.cn-north-1.amazonaws.com.cn/?x=1"));
        for url in [
            "http://sns.eu-west-1.amazonaws.com/",
            "https://sns.eu-west-1.amazonaws.com.evil.example/",
            "https://evil.example/sns.amazonaws.com",
            "https://sns.eu-west-1.amazonaws.com:8443/",
            "https://user@sns.eu-west-1.amazonaws.com/",
            "https://s3.amazonaws.com/",
            "http://127.0.0.1:8080/confirm",
            "not a url",
            "",
        ] {
            assert!(!is_sns_url(url), "{url}");
        }
    }
}
