//! The glue between v2 requests and the rendering rules in `crate::templates`: what each send
//! and preview returns, and the request-level checks that belong to content (§5.2, §5.13, §11).

use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};
use storage::records::Template;

use super::schema::{Checker, py_repr};
use crate::domain::recipients::PhonePermissionError;
use crate::error::AppError;
use crate::templates;

pub struct RenderedSms {
    pub body: String,
    pub fragments: u32,
}

pub struct RenderedEmail {
    pub subject: String,
    pub body: String,
}

pub struct RenderedLetter {
    pub subject: String,
    pub body: String,
}

fn missing_error(names: Vec<String>) -> Result<(), AppError> {
    if names.is_empty() {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!(
            "Missing personalisation: {}",
            names.join(", ")
        )))
    }
}

fn not_empty(body: &str) -> Result<(), AppError> {
    if body.trim().is_empty() {
        Err(AppError::BadRequest("Your message is empty.".into()))
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
) -> Result<RenderedSms, AppError> {
    let values = templates::placeholders::Personalisation::new(p);
    missing_error(templates::placeholders::missing(&[&t.content], &values))?;
    let body = templates::sms::render_sms_body(&t.content, &values);
    not_empty(&body)?;
    let delivered = templates::sms::render_sms_for_delivery(&t.content, &values, prefix);
    let fragments = templates::sms::fragment_count(&delivered);
    Ok(RenderedSms { body, fragments })
}

pub fn email(t: &Template, p: &Map<String, Value>) -> Result<RenderedEmail, AppError> {
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
) -> Result<RenderedLetter, AppError> {
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

pub fn check_sms_length(body: &str) -> Result<(), AppError> {
    if templates::sms::is_too_long(body) {
        return Err(AppError::BadRequest(format!(
            "Your message is too long. Text messages cannot be longer than {} characters. Your message is {} characters long.",
            templates::sms::SMS_CHAR_COUNT_LIMIT,
            templates::sms::character_count(body)
        )));
    }
    Ok(())
}

pub fn check_email_length(body: &str) -> Result<(), AppError> {
    if templates::email::is_email_too_long(body) {
        return Err(AppError::BadRequest(format!(
            "Your message is too long. Emails cannot be longer than 2000000 bytes. Your message is {} bytes.",
            body.len()
        )));
    }
    Ok(())
}

pub fn phone_permission_error(e: PhonePermissionError) -> AppError {
    match e.error_name() {
        "InvalidPhoneError" => AppError::InvalidPhone(e.to_string()),
        _ => AppError::BadRequest(e.to_string()),
    }
}

/// `scheduled_for` (§5.13): validated, then ignored.
pub fn check_scheduled_for(c: &mut Checker<'_>, now: DateTime<Utc>) {
    let value = match c.get("scheduled_for") {
        None | Some(Value::Null) => return,
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            let message = format!("{} is not of type string", py_repr(other));
            c.error("scheduled_for", &message);
            return;
        }
    };
    let Some(at) = parse_iso8601_dropping_offset(&value) else {
        c.error(
            "scheduled_for",
            "datetime format is invalid. It must be a valid ISO8601 date time format, https://en.wikipedia.org/wiki/ISO_8601",
        );
        return;
    };
    let now = now.naive_utc();
    if at < now {
        c.error("scheduled_for", "datetime can not be in the past");
    } else if at > now + chrono::Duration::hours(24) {
        c.error(
            "scheduled_for",
            "datetime can only be 24 hours in the future",
        );
    }
}

/// ISO 8601 date-times as upstream reads them: a time-zone offset is dropped, not applied.
fn parse_iso8601_dropping_offset(text: &str) -> Option<NaiveDateTime> {
    let trimmed = text.trim();
    let without_zone = trimmed
        .strip_suffix('Z')
        .or_else(|| {
            let b = trimmed.as_bytes();
            (b.len() > 6
                && (b[b.len() - 6] == b'+' || b[b.len() - 6] == b'-')
                && b[b.len() - 3] == b':')
                .then(|| &trimmed[..trimmed.len() - 6])
        })
        .unwrap_or(trimmed);
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(without_zone, format) {
            return Some(t);
        }
    }
    chrono::NaiveDate::parse_from_str(without_zone, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// `one_click_unsubscribe_url`: an https URL with a host.
pub fn is_https_url(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty() && !text.chars().any(char::is_whitespace)
}

/// `sanitise_content_for`: an array of strings or null.
pub fn check_sanitise_content_for(c: &mut Checker<'_>) -> Vec<String> {
    match c.get("sanitise_content_for") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut keys = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => keys.push(s.clone()),
                    other => {
                        let message = format!("{} is not of type string", py_repr(other));
                        c.error("sanitise_content_for", &message);
                    }
                }
            }
            keys
        }
        Some(other) => {
            let message = format!("{} is not of type array, null", py_repr(other));
            c.error("sanitise_content_for", &message);
            Vec::new()
        }
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

/// The per-field checks of file uploads (§5.2 table), prefixed with the personalisation key.
pub fn check_file_uploads(c: &mut Checker<'_>, p: &Map<String, Value>) {
    const ALLOWED: &[&str] = &[
        "file",
        "filename",
        "confirm_email_before_download",
        "retention_period",
        "is_csv",
    ];
    for (key, value) in p {
        let Some(upload) = value.as_object().filter(|o| o.contains_key("file")) else {
            continue;
        };
        let extra: Vec<&str> = upload
            .keys()
            .map(String::as_str)
            .filter(|k| !ALLOWED.contains(k))
            .collect();
        if !extra.is_empty() {
            let were = if extra.len() == 1 { "was" } else { "were" };
            c.error(
                key,
                &format!(
                    "Additional properties are not allowed ({} {were} unexpected)",
                    extra.join(", ")
                ),
            );
        }
        if let Some(f) = upload.get("file")
            && !f.is_string()
        {
            c.error(key, &format!("file {} is not of type string", py_repr(f)));
        }
        match upload.get("filename") {
            None | Some(Value::Null) => {}
            Some(Value::String(name)) if name.contains('.') => {}
            Some(_) => c.error(
                key,
                "`filename` must end with a file extension. For example, filename.csv",
            ),
        }
        for flag in ["confirm_email_before_download", "is_csv"] {
            match upload.get(flag) {
                None | Some(Value::Null) | Some(Value::Bool(_)) => {}
                Some(other) => c.error(
                    key,
                    &format!(
                        "Unsupported value for {flag}: {}. Use a boolean true or false value.",
                        py_repr(other)
                    ),
                ),
            }
        }
        match upload.get("retention_period") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if valid_retention_period(s) => {}
            Some(other) => c.error(
                key,
                &format!(
                    "Unsupported value for retention_period: {}. Supported periods are from 1 to 78 weeks.",
                    py_repr(other)
                ),
            ),
        }
        if upload.get("is_csv").is_some_and(|v| !v.is_null())
            && upload.get("filename").is_some_and(|v| !v.is_null())
        {
            c.errors
                .push("Do not set a value for `is_csv` if `filename` is set.".to_string());
        }
    }
}

fn valid_retention_period(s: &str) -> bool {
    let lower = s.trim().to_lowercase();
    let Some((n, unit)) = lower.split_once(' ') else {
        return false;
    };
    matches!(unit, "week" | "weeks") && n.parse::<u32>().is_ok_and(|n| (1..=78).contains(&n))
}

/// The address lines of a templated letter (§5.3): lines 1–7 if `address_line_7` is given,
/// otherwise lines 1–6 and `postcode`. Keys match exactly.
pub fn address_lines(p: &Map<String, Value>) -> Vec<String> {
    let text = |k: &str| match p.get(k) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(py_repr(other)),
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
    use chrono::TimeZone;

    #[test]
    fn scheduled_for_is_checked_then_ignored() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let check = |v: Value| {
            let body = json!({ "scheduled_for": v });
            let mut c = Checker::new(body.as_object().unwrap());
            check_scheduled_for(&mut c, now);
            c.errors
        };
        assert!(check(json!("2026-11-22T13:00:00")).is_empty());
        assert!(check(json!(null)).is_empty());
        assert_eq!(
            check(json!("2026-11-22T11:00:00")),
            vec!["scheduled_for datetime can not be in the past"]
        );
        assert_eq!(
            check(json!("2026-11-24T11:00:00")),
            vec!["scheduled_for datetime can only be 24 hours in the future"]
        );
        assert!(
            check(json!("not a date"))[0].starts_with("scheduled_for datetime format is invalid")
        );
        // The offset is dropped, not applied.
        assert!(check(json!("2026-11-22T13:00:00+05:00")).is_empty());
    }

    #[test]
    fn https_urls_only() {
        assert!(is_https_url("https://example.gov.uk/unsubscribe?x=1"));
        assert!(!is_https_url("http://example.gov.uk"));
        assert!(!is_https_url("https://"));
        assert!(!is_https_url("https://a b"));
    }

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
    fn file_upload_fields_are_checked() {
        let p = json!({"doc": {"file": "YQ==", "filename": "noext", "retention_period": "99 weeks", "confirm_email_before_download": "yes"}});
        let body = json!({});
        let mut c = Checker::new(body.as_object().unwrap());
        check_file_uploads(&mut c, p.as_object().unwrap());
        assert!(c.errors.contains(
            &"doc `filename` must end with a file extension. For example, filename.csv".to_string()
        ));
        assert!(c.errors.contains(&"doc Unsupported value for retention_period: 99 weeks. Supported periods are from 1 to 78 weeks.".to_string()));
        assert!(c.errors.contains(&"doc Unsupported value for confirm_email_before_download: yes. Use a boolean true or false value.".to_string()));
    }
}
