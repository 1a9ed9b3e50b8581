//! What a message says: a template rendered with its personalisation for each channel, and the
//! checks that belong to content (every placeholder filled, not empty, not too long). The API,
//! bulk sends and the web pages all render through here, so a message reads the same however it
//! was sent.

use base64::Engine as _;
use serde_json::{Map, Value, json};
use storage::records::Template;

use super::recipients::PhonePermissionError;
use super::{Code, DomainError, DomainResult};
use crate::templates;

#[derive(Debug, Clone)]
pub struct RenderedSms {
    pub body: String,
    pub fragments: u32,
}

#[derive(Debug, Clone)]
pub struct RenderedEmail {
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct RenderedLetter {
    pub subject: String,
    pub body: String,
}

fn missing_error(names: Vec<String>) -> DomainResult<()> {
    if names.is_empty() {
        Ok(())
    } else {
        Err(DomainError::refused(
            Code::MissingPersonalisation,
            format!("Missing personalisation: {}", names.join(", ")),
        ))
    }
}

fn not_empty(body: &str) -> DomainResult<()> {
    if body.trim().is_empty() {
        Err(DomainError::refused(
            Code::EmptyMessage,
            "Your message is empty.",
        ))
    } else {
        Ok(())
    }
}

/// Every placeholder a template needs, in template order (§5.8 `personalisation`).
pub fn template_placeholders(t: &Template, contact_block: Option<&str>) -> Vec<String> {
    let mut parts: Vec<&str> = Vec::new();
    if let Some(block) = contact_block {
        parts.push(block);
    }
    if let Some(subject) = t.subject.as_deref()
        && t.template_type != storage::records::NotificationType::Sms
    {
        parts.push(subject);
    }
    parts.push(&t.content);
    templates::placeholders::placeholder_names_in(&parts)
}

/// Render an SMS. `prefix` is the service name when the service prefixes its texts: billing
/// counts fragments of the text as delivered (prefix included), as upstream does, while the API
/// returns and length-checks the body without it.
pub fn sms(
    t: &Template,
    p: &Map<String, Value>,
    prefix: Option<&str>,
) -> DomainResult<RenderedSms> {
    let values = templates::placeholders::Personalisation::new(p);
    missing_error(templates::placeholders::missing(&[&t.content], &values))?;
    let body = templates::sms::render_sms_body(&t.content, &values);
    not_empty(&body)?;
    let delivered = templates::sms::render_sms_for_delivery(&t.content, &values, prefix);
    let fragments = templates::sms::fragment_count(&delivered);
    Ok(RenderedSms { body, fragments })
}

pub fn email(t: &Template, p: &Map<String, Value>) -> DomainResult<RenderedEmail> {
    let values = templates::placeholders::Personalisation::new(p);
    let subject = t.subject.clone().unwrap_or_default();
    missing_error(templates::placeholders::missing(
        &[&subject, &t.content],
        &values,
    ))?;
    let body = templates::email::render_email_body(&t.content, &values);
    not_empty(&body)?;
    Ok(RenderedEmail {
        subject: templates::email::render_email_subject(&subject, &values),
        body,
    })
}

/// The HTML body of an email (preview only; delivery renders its own).
pub fn email_html(t: &Template, p: &Map<String, Value>) -> String {
    let values = templates::placeholders::Personalisation::new(p);
    templates::email::email_html_body(&t.content, &values, None)
}

pub fn letter(
    t: &Template,
    p: &Map<String, Value>,
    contact_block: Option<&str>,
) -> DomainResult<RenderedLetter> {
    let values = templates::placeholders::Personalisation::new(p);
    let subject = t.subject.clone().unwrap_or_default();
    let mut parts: Vec<&str> = Vec::new();
    if let Some(block) = contact_block {
        parts.push(block);
    }
    parts.push(&subject);
    parts.push(&t.content);
    missing_error(templates::placeholders::missing(&parts, &values))?;
    let body = templates::email::render_letter_body(&t.content, &values);
    not_empty(&body)?;
    Ok(RenderedLetter {
        subject: templates::email::render_letter_subject(&subject, &values),
        body,
    })
}

pub fn check_sms_length(body: &str) -> DomainResult<()> {
    if templates::sms::is_too_long(body) {
        return Err(DomainError::refused(
            Code::MessageTooLong,
            format!(
                "Your message is too long. Text messages cannot be longer than {} characters. Your message is {} characters long.",
                templates::sms::SMS_CHAR_COUNT_LIMIT,
                templates::sms::character_count(body)
            ),
        ));
    }
    Ok(())
}

pub fn check_email_length(body: &str) -> DomainResult<()> {
    if templates::email::is_email_too_long(body) {
        return Err(DomainError::refused(
            Code::MessageTooLong,
            format!(
                "Your message is too long. Emails cannot be longer than 2000000 bytes. Your message is {} bytes.",
                body.len()
            ),
        ));
    }
    Ok(())
}

pub fn phone_permission_error(e: PhonePermissionError) -> DomainError {
    match e.error_name() {
        "InvalidPhoneError" => DomainError::refused(Code::InvalidPhone, e.to_string()),
        _ => DomainError::refused(Code::PhoneNotAllowed, e.to_string()),
    }
}

/// Apply `sanitise_content_for` and report what changed (always an object, maybe empty).
pub fn sanitise_personalisation(p: &mut Map<String, Value>, keys: &[String]) -> Value {
    let mut report = Map::new();
    if keys.is_empty() {
        return Value::Object(report);
    }
    let wanted: Vec<String> = keys
        .iter()
        .map(|k| templates::placeholders::normalise_key(k))
        .collect();
    for (key, value) in p.iter_mut() {
        if !wanted.contains(&templates::placeholders::normalise_key(key)) {
            continue;
        }
        if let Value::String(original) = value {
            let clean = templates::sanitise_value(original);
            if &clean != original {
                report.insert(
                    key.clone(),
                    json!({"unsanitised": original.clone(), "sanitised": clean.clone()}),
                );
                *value = Value::String(clean);
            }
        }
    }
    Value::Object(report)
}

/// A personalisation value that is a file upload: an object with a `file` key.
pub fn has_file_upload(p: &Map<String, Value>) -> bool {
    p.values()
        .any(|v| v.as_object().is_some_and(|o| o.contains_key("file")))
}

/// The address lines of a templated letter (§5.3): lines 1–7 if `address_line_7` is given,
/// otherwise lines 1–6 and `postcode`. Keys match exactly.
pub fn address_lines(p: &Map<String, Value>) -> Vec<String> {
    let text = |k: &str| match p.get(k) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(crate::python::jsonschema_repr(other)),
    };
    let mut keys: Vec<String> = (1..=6).map(|i| format!("address_line_{i}")).collect();
    if p.contains_key("address_line_7") {
        keys.push("address_line_7".into());
    } else {
        keys.push("postcode".into());
    }
    keys.iter().filter_map(|k| text(k)).collect()
}

/// Base64 as upstream decodes it: characters outside the alphabet are dropped, and only bad
/// padding fails.
pub fn decode_lenient_base64(text: &str) -> Option<Vec<u8>> {
    let clean: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    let body = clean.trim_end_matches('=');
    if body.contains('=') {
        return None;
    }
    if !clean.len().is_multiple_of(4) {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(&clean)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lines_follow_the_key_rules() {
        let p = json!({"address_line_1": "A", "address_line_2": "B", "postcode": "SW1A 1AA", "Address_Line_3": "x"});
        assert_eq!(
            address_lines(p.as_object().unwrap()),
            vec!["A", "B", "SW1A 1AA"]
        );
        let p = json!({"address_line_1": "A", "address_line_7": "France", "postcode": "ignored"});
        assert_eq!(address_lines(p.as_object().unwrap()), vec!["A", "France"]);
    }

    #[test]
    fn lenient_base64() {
        assert_eq!(decode_lenient_base64("aGVs\nbG8=").unwrap(), b"hello");
        assert_eq!(decode_lenient_base64("aGVs*bG8=").unwrap(), b"hello");
        assert!(decode_lenient_base64("aGVsbG8").is_none());
        assert!(decode_lenient_base64("aG=VsbG8=").is_none());
    }

    #[test]
    fn content_refusals_carry_their_codes() {
        let t = Template {
            id: uuid::Uuid::nil(),
            service_id: uuid::Uuid::nil(),
            name: "t".into(),
            template_type: storage::records::NotificationType::Sms,
            subject: None,
            content: "Hello ((name))".into(),
            version: 1,
            archived: false,
            hidden: false,
            postage: None,
            letter_contact_id: None,
            created_at: 0,
            updated_at: None,
            created_by: None,
        };
        let e = sms(&t, &Map::new(), None).unwrap_err();
        assert_eq!(e.code(), Code::MissingPersonalisation);
        assert_eq!(e.to_string(), "Missing personalisation: name");
        let e = check_sms_length(&"x".repeat(1000)).unwrap_err();
        assert_eq!(e.code(), Code::MessageTooLong);
    }
}
