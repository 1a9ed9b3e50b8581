//! Request checks of the v2 send bodies that are about the request itself, not the message:
//! `scheduled_for` (§5.13), `one_click_unsubscribe_url`, `sanitise_content_for` and the fields
//! of files sent by email (§5.2). What a message says is rendered in `domain::content`.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::schema::{Checker, py_repr};

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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

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
