//! One-click unsubscribe (RFC 8058) when the appliance hosts the endpoint, as upstream's
//! `one_click_unsubscribe` and unsubscribe-request reports work.
//!
//! - An email from a template with `has_unsubscribe_link` (and no `one_click_unsubscribe_url`
//!   of the client's own) gets `List-Unsubscribe: <{root}unsubscribe/{notification id}/{token}>`
//!   and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`. The token is the recipient's
//!   address, the notification id and the time, sealed with the appliance's key (so the link
//!   works after retention has removed the address from the notification, for a year, as
//!   upstream's signed token does), in base64url.
//! - The mail client POSTs to that URL: the request is stored for the email's service once
//!   (a repeat before the service has processed it changes nothing).
//! - The service lists a summary of its requests (not yet batched, then each report), batches
//!   the unbatched ones into a report, downloads a report (JSON, or CSV as upstream's admin
//!   app makes it) and marks it processed.
//! - `archive-unsubscribe-requests` (nightly) removes requests 7 days after their report was
//!   made, and requests never batched after 90 days.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Days, TimeZone};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use storage::records::{Micros, UnsubscribeRequest, UnsubscribeRequestReport};
use storage::{StoreError, WriteCtx};
use uuid::Uuid;

use super::facts::{london_date, london_midnight_micros, london_timestamp};
use super::{Code, Context, DomainError, DomainResult, JobOutcome};

/// How long a link works (upstream: a year).
pub const LINK_MAX_AGE_SECS: i64 = 365 * 24 * 3600;
/// Batched requests are kept this many London days after their report was made.
const BATCHED_KEEP_DAYS: u64 = 7;
/// Requests never batched are kept this many London days.
const UNBATCHED_KEEP_DAYS: u64 = 90;

/// What a link's token carries.
#[derive(Serialize, Deserialize)]
struct Token {
    /// The notification the link was made for.
    n: Uuid,
    /// The recipient's address.
    e: String,
    /// When the link was made (seconds since the epoch).
    t: i64,
}

/// The appliance's unsubscribe link for an email (`root_url` ends with `/`).
pub fn unsubscribe_link(
    cx: &Context,
    root_url: &str,
    notification_id: Uuid,
    email: &str,
) -> String {
    let token = Token {
        n: notification_id,
        e: email.to_string(),
        t: cx.clock().now().timestamp(),
    };
    let sealed = cx
        .sealer
        .seal(&serde_json::to_vec(&token).expect("a token serialises"));
    format!(
        "{root_url}unsubscribe/{notification_id}/{}",
        URL_SAFE_NO_PAD.encode(sealed)
    )
}

/// The root URL of links made without a request at hand: `server.public_url`, else the
/// listen address (https when the appliance serves TLS).
pub fn configured_root(config: &crate::config::Config) -> String {
    let public = config.server.public_url.trim().trim_end_matches('/');
    if !public.is_empty() {
        return format!("{public}/");
    }
    let scheme = if config.server.tls.enabled() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{}/", config.server.listen)
}

/// The appliance's link for an email made without one (a row of a job) whose template has
/// `has_unsubscribe_link`; `None` otherwise.
pub fn link_for_template(
    cx: &Context,
    n: &storage::records::Notification,
) -> storage::Result<Option<String>> {
    if n.notification_type != storage::records::NotificationType::Email
        || !cx
            .store
            .read()?
            .template_has_unsubscribe_link(n.template_id)?
    {
        return Ok(None);
    }
    let root = configured_root(&cx.config);
    Ok(Some(unsubscribe_link(cx, &root, n.id, &n.to)))
}

/// The address a link's token was made for, if the token is ours, for this notification, and
/// less than a year old.
fn open_token(cx: &Context, notification_id: Uuid, token: &str) -> Option<String> {
    let sealed = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).ok()?;
    let plain = cx.sealer.open(&sealed).ok()?;
    let token: Token = serde_json::from_slice(&plain).ok()?;
    let age = cx.clock().now().timestamp() - token.t;
    (token.n == notification_id && (0..=LINK_MAX_AGE_SECS).contains(&age)).then_some(token.e)
}

fn not_valid() -> DomainError {
    DomainError::not_found("This is not a valid unsubscribe link.".into())
}

/// Whether a request made earlier still waits for its service (not batched, or its report not
/// yet processed): a second click then changes nothing.
fn still_waiting(ctx: &WriteCtx<'_>, r: &UnsubscribeRequest) -> Result<bool, StoreError> {
    match r.report_id {
        None => Ok(true),
        Some(id) => Ok(ctx
            .get_unsubscribe_report(r.service_id, id)?
            .is_none_or(|report| report.processed_by_service_at.is_none())),
    }
}

/// `POST /unsubscribe/{notification_id}/{token}`: record the recipient's request for the
/// email's service. The email may have been archived by retention already.
pub async fn receive_one_click(
    cx: &Context,
    notification_id: Uuid,
    token: &str,
) -> DomainResult<()> {
    let email = open_token(cx, notification_id, token).ok_or_else(not_valid)?;
    let stored = cx
        .store
        .write(move |ctx| {
            if let Some(earlier) = ctx.unsubscribe_request_for_notification(notification_id)?
                && still_waiting(ctx, &earlier)?
            {
                return Ok(None);
            }
            let sent = match ctx.get_notification(notification_id)? {
                Some(n) => Some((n.service_id, n.template_id, n.template_version)),
                None => ctx
                    .get_notification_history(notification_id)?
                    .map(|h| (h.service_id, h.template_id, h.template_version)),
            };
            let Some((service_id, template_id, template_version)) = sent else {
                return Err(StoreError::NotFound(
                    "This unsubscribe link is invalid or expired.".into(),
                ));
            };
            let request = UnsubscribeRequest {
                id: ctx.new_id(),
                service_id,
                notification_id,
                template_id,
                template_version,
                email_address: email,
                created_at: ctx.now_micros(),
                report_id: None,
            };
            ctx.put_unsubscribe_request(&request)?;
            Ok(Some(request))
        })
        .await?;
    match stored {
        Some(r) => tracing::info!(
            %notification_id,
            service_id = %r.service_id,
            "received an unsubscribe request"
        ),
        None => tracing::info!(%notification_id, "repeated unsubscribe request ignored"),
    }
    Ok(())
}

/// London midnight (as UTC micros) `days` after the London day of `micros`.
fn midnight_after(micros: Micros, days: u64) -> Micros {
    london_midnight_micros(london_date(micros) + Days::new(days))
}

fn report_json(r: &UnsubscribeRequestReport) -> Value {
    json!({
        "batch_id": r.id,
        "count": r.count,
        "created_at": format_api_timestamp(r.created_at),
        "earliest_timestamp": format_api_timestamp(r.earliest_timestamp),
        "latest_timestamp": format_api_timestamp(r.latest_timestamp),
        "processed_by_service_at": r.processed_by_service_at.map(format_api_timestamp),
        "is_a_batched_report": true,
        "will_be_archived_at": format_api_timestamp(midnight_after(r.created_at, BATCHED_KEEP_DAYS)),
        "service_id": r.service_id,
    })
}

/// `GET /service/{id}/unsubscribe-request-reports-summary`: the requests not yet batched (one
/// summary with no `batch_id`), then each report, newest first.
pub fn reports_summary(cx: &Context, service_id: Uuid) -> DomainResult<Value> {
    super::services::get_service(&cx.store, service_id)?;
    let reader = cx.store.read()?;
    let unbatched: Vec<UnsubscribeRequest> = reader
        .service_unsubscribe_requests(service_id)?
        .into_iter()
        .filter(|r| r.report_id.is_none())
        .collect();
    let mut out = Vec::new();
    if let (Some(oldest), Some(newest)) = (
        unbatched.iter().map(|r| r.created_at).min(),
        unbatched.iter().map(|r| r.created_at).max(),
    ) {
        out.push(json!({
            "batch_id": Value::Null,
            "count": unbatched.len(),
            "created_at": Value::Null,
            "earliest_timestamp": format_api_timestamp(oldest),
            "latest_timestamp": format_api_timestamp(newest),
            "processed_by_service_at": Value::Null,
            "is_a_batched_report": false,
            "will_be_archived_at": format_api_timestamp(midnight_after(oldest, UNBATCHED_KEEP_DAYS)),
            "service_id": service_id,
        }));
    }
    let mut reports = reader.service_unsubscribe_reports(service_id)?;
    reports.sort_by_key(|r| std::cmp::Reverse(r.latest_timestamp));
    out.extend(reports.iter().map(report_json));
    Ok(Value::Array(out))
}

/// `GET /service/{id}/unsubscribe-request-statistics`: requests still waiting for the service
/// (not batched, or in a report not processed) and the newest of them; with none waiting, a
/// count of 0 and the newest request ever; `{}` when there never was one.
pub fn statistics(cx: &Context, service_id: Uuid) -> DomainResult<Value> {
    super::services::get_service(&cx.store, service_id)?;
    let reader = cx.store.read()?;
    let processed: std::collections::HashSet<Uuid> = reader
        .service_unsubscribe_reports(service_id)?
        .into_iter()
        .filter(|r| r.processed_by_service_at.is_some())
        .map(|r| r.id)
        .collect();
    let all = reader.service_unsubscribe_requests(service_id)?;
    let waiting: Vec<&UnsubscribeRequest> = all
        .iter()
        .filter(|r| r.report_id.is_none_or(|id| !processed.contains(&id)))
        .collect();
    if let Some(latest) = waiting.iter().map(|r| r.created_at).max() {
        return Ok(json!({
            "unsubscribe_requests_count": waiting.len(),
            "datetime_of_latest_unsubscribe_request": format_api_timestamp(latest),
        }));
    }
    Ok(match all.iter().map(|r| r.created_at).max() {
        Some(latest) => json!({
            "unsubscribe_requests_count": 0,
            "datetime_of_latest_unsubscribe_request": format_api_timestamp(latest),
        }),
        None => json!({}),
    })
}

/// `POST /service/{id}/create-unsubscribe-request-report`: which requests to batch. Upstream's
/// admin app sends its summary of the unbatched requests; without timestamps every unbatched
/// request is batched.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    /// Upstream sends the count it showed; the report counts what it actually holds.
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub earliest_timestamp: Option<String>,
    #[serde(default)]
    pub latest_timestamp: Option<String>,
}

/// A timestamp of upstream's admin app: RFC 3339, or its naive UTC forms.
fn parse_timestamp(field: &str, text: &str) -> DomainResult<Micros> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_micros());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%a, %d %b %Y %H:%M:%S GMT",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(chrono::Utc.from_utc_datetime(&t).timestamp_micros());
        }
    }
    Err(DomainError::invalid(format!(
        "{field} {text:?} is not a date and time"
    )))
}

/// Batch a service's unbatched requests (those within the given times) into a new report.
pub async fn create_report(
    cx: &Context,
    service_id: Uuid,
    new: NewReport,
) -> DomainResult<UnsubscribeRequestReport> {
    let earliest = new
        .earliest_timestamp
        .as_deref()
        .map(|t| parse_timestamp("earliest_timestamp", t))
        .transpose()?;
    let latest = new
        .latest_timestamp
        .as_deref()
        .map(|t| parse_timestamp("latest_timestamp", t))
        .transpose()?;
    let report = cx
        .store
        .write(move |ctx| {
            super::services::require_service(ctx, service_id)?;
            let chosen: Vec<UnsubscribeRequest> = ctx
                .service_unsubscribe_requests(service_id)?
                .into_iter()
                .filter(|r| r.report_id.is_none())
                .filter(|r| earliest.is_none_or(|t| r.created_at >= t))
                .filter(|r| latest.is_none_or(|t| r.created_at <= t))
                .collect();
            let (Some(first), Some(last)) = (
                chosen.iter().map(|r| r.created_at).min(),
                chosen.iter().map(|r| r.created_at).max(),
            ) else {
                return Err(super::services::rejection(DomainError::bad_request(
                    "There are no unsubscribe requests to put in a report".into(),
                )));
            };
            let report = UnsubscribeRequestReport {
                id: ctx.new_id(),
                service_id,
                created_at: ctx.now_micros(),
                earliest_timestamp: first,
                latest_timestamp: last,
                processed_by_service_at: None,
                count: chosen.len() as u64,
            };
            ctx.put_unsubscribe_report(&report)?;
            for mut r in chosen {
                r.report_id = Some(report.id);
                ctx.put_unsubscribe_request(&r)?;
            }
            Ok(report)
        })
        .await?;
    tracing::info!(%service_id, report_id = %report.id, count = report.count, "unsubscribe request report made");
    Ok(report)
}

fn report_not_found(batch_id: Uuid) -> DomainError {
    DomainError::refused(
        Code::BadRequest,
        format!("No report available for {batch_id}"),
    )
}

/// One row of a report, as upstream's download lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    pub email_address: String,
    pub template_name: String,
    /// The spreadsheet the email was sent from, or `N/A`.
    pub original_file_name: String,
    /// London time, `YYYY-MM-DD HH:MM:SS`.
    pub template_sent_at: Option<String>,
    pub unsubscribe_request_received_at: String,
}

/// `GET /service/{id}/unsubscribe-request-report/{batch_id}`: the report and its requests
/// (ordered as upstream's download: template name, file name, then send time, each descending).
pub fn report_for_download(
    cx: &Context,
    service_id: Uuid,
    batch_id: Uuid,
) -> DomainResult<(UnsubscribeRequestReport, Vec<ReportRow>)> {
    super::services::get_service(&cx.store, service_id)?;
    let reader = cx.store.read()?;
    let report = reader
        .get_unsubscribe_report(service_id, batch_id)?
        .ok_or_else(|| report_not_found(batch_id))?;
    let mut rows = Vec::new();
    for r in reader.service_unsubscribe_requests(service_id)? {
        if r.report_id != Some(batch_id) {
            continue;
        }
        let (sent_at, job_id) = match reader.get_notification(r.notification_id)? {
            Some(n) => (n.sent_at, n.job_id),
            None => match reader.get_notification_history(r.notification_id)? {
                Some(h) => (h.sent_at, h.job_id),
                None => (None, None),
            },
        };
        let template_name = reader
            .get_template_version(r.template_id, r.template_version)?
            .map(|t| t.name)
            .unwrap_or_default();
        let original_file_name = match job_id {
            Some(id) => reader.get_job(id)?.map(|j| j.original_file_name),
            None => None,
        }
        .unwrap_or_else(|| "N/A".into());
        rows.push((
            sent_at,
            ReportRow {
                email_address: r.email_address,
                template_name,
                original_file_name,
                template_sent_at: sent_at.map(london_timestamp),
                unsubscribe_request_received_at: london_timestamp(r.created_at),
            },
        ));
    }
    rows.sort_by(|(a_sent, a), (b_sent, b)| {
        (&b.template_name, &b.original_file_name, b_sent).cmp(&(
            &a.template_name,
            &a.original_file_name,
            a_sent,
        ))
    });
    Ok((report, rows.into_iter().map(|(_, r)| r).collect()))
}

/// `POST /service/{id}/process-unsubscribe-request-report/{batch_id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessReport {
    pub report_has_been_processed: bool,
}

/// Mark a report processed by the service (or not any more).
pub async fn mark_processed(
    cx: &Context,
    service_id: Uuid,
    batch_id: Uuid,
    processed: ProcessReport,
) -> DomainResult<UnsubscribeRequestReport> {
    let report = cx
        .store
        .write(move |ctx| {
            let Some(mut report) = ctx.get_unsubscribe_report(service_id, batch_id)? else {
                return Err(super::services::rejection(report_not_found(batch_id)));
            };
            report.processed_by_service_at = processed
                .report_has_been_processed
                .then(|| ctx.now_micros());
            ctx.put_unsubscribe_report(&report)?;
            Ok(report)
        })
        .await?;
    Ok(report)
}

/// `archive-unsubscribe-requests`: remove requests (with their addresses) 7 London days after
/// their report was made, and requests never batched after 90; a report goes with its requests.
pub async fn archive_unsubscribe_requests(cx: &Context) -> JobOutcome {
    let today = london_date(cx.clock().now_micros());
    let batched_before = london_midnight_micros(today - Days::new(BATCHED_KEEP_DAYS));
    let unbatched_before = london_midnight_micros(today - Days::new(UNBATCHED_KEEP_DAYS));
    let services = cx.store.read()?.list_services()?;
    let mut removed = 0u64;
    for service in services {
        let service_id = service.id;
        removed += cx
            .store
            .write(move |ctx| {
                let old_reports: std::collections::HashSet<Uuid> = ctx
                    .service_unsubscribe_reports(service_id)?
                    .into_iter()
                    .filter(|r| r.created_at < batched_before)
                    .map(|r| r.id)
                    .collect();
                let mut removed = 0u64;
                for r in ctx.service_unsubscribe_requests(service_id)? {
                    let expired = match r.report_id {
                        Some(id) => old_reports.contains(&id),
                        None => r.created_at < unbatched_before,
                    };
                    if expired {
                        ctx.delete_unsubscribe_request(&r)?;
                        removed += 1;
                    }
                }
                for id in old_reports {
                    ctx.delete_unsubscribe_report(service_id, id)?;
                }
                Ok(removed)
            })
            .await?;
    }
    Ok(format!("unsubscribe requests archived: {removed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_timestamps_are_read() {
        let t = parse_timestamp("x", "2026-05-01T10:00:00.000000Z").unwrap();
        assert_eq!(
            t,
            chrono::Utc
                .with_ymd_and_hms(2026, 5, 1, 10, 0, 0)
                .unwrap()
                .timestamp_micros()
        );
        assert_eq!(parse_timestamp("x", "2026-05-01 10:00:00").unwrap(), t);
        assert_eq!(
            parse_timestamp("x", "Fri, 01 May 2026 10:00:00 GMT").unwrap(),
            t
        );
        assert!(parse_timestamp("earliest_timestamp", "yesterday").is_err());
    }

    #[test]
    fn archiving_days_count_from_london_midnight() {
        // 23:30 UTC on 1 July is 00:30 on 2 July in London: 7 days on is 9 July's midnight.
        let t = chrono::Utc
            .with_ymd_and_hms(2026, 7, 1, 23, 30, 0)
            .unwrap()
            .timestamp_micros();
        let expected = chrono::Utc
            .with_ymd_and_hms(2026, 7, 8, 23, 0, 0)
            .unwrap()
            .timestamp_micros();
        assert_eq!(midnight_after(t, 7), expected);
    }
}
