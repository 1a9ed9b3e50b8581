//! What providers post back to us (workers.md §7.3): SMS delivery receipts from MMG and Firetext,
//! texts people sent to our inbound numbers, and Amazon SES events delivered by SNS.
//!
//! | Route | Body | Provider |
//! |---|---|---|
//! | `POST /notifications/sms/mmg` | JSON | MMG receipt |
//! | `POST /notifications/sms/firetext` | form | Firetext receipt |
//! | `POST /notifications/sms/webhook` | JSON | webhook provider receipt ([`webhook`]) |
//! | `POST /notifications/sms/receive/mmg` | JSON | MMG inbound text |
//! | `POST /notifications/sms/receive/firetext` | form | Firetext inbound text |
//! | `POST /notifications/email/ses` | SNS envelope (JSON) | Amazon SES via SNS |
//!
//! Each provider's format is parsed by pure functions in its own file ([`mmg`], [`firetext`],
//! [`ses`]); this file checks the optional basic auth, applies the outcome through
//! [`crate::domain::receipts`] (which holds the §1.1 guard) and answers as upstream does:
//! `{"result": "success", ...}` or `{"result": "error", "message": ...}`.
//!
//! **Authentication.** When `[receipts] username` is set, every route here requires HTTP basic
//! auth with that username and password (401 otherwise). Nothing else authenticates these
//! requests: in particular SNS message signatures are *not* verified (that needs the signing
//! certificate fetched from AWS), so an appliance that receives SES events over the internet
//! should set the basic auth and put the credentials in the SNS subscription URL
//! (`https://user:password@host/notifications/email/ses`).

pub mod firetext;
pub mod mmg;
pub mod ses;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use serde_json::json;
use storage::records::{Micros, NotificationStatus};
use subtle::ConstantTimeEq;
use uuid::Uuid;
use warp::Filter;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::{Reply, Response};

use crate::app::App;
use crate::config::ReceiptsConfig;
use crate::domain::inbound_numbers::Unrouted;
use crate::domain::receipts::{
    InboundText, Received, apply_email_receipt, apply_sms_receipt, receive_inbound_sms,
    record_complaint,
};
use crate::domain::status::Applied;
use crate::domain::{DomainError, DomainResult};
use crate::error::{AppError, json_response};

/// How long confirming an SNS subscription may take.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// An SES receipt for an email we cannot find yet is answered 503 (so SNS tries again) while the
/// email is younger than this: the receipt may have overtaken our own write (§7.3).
const SES_RETRY_WINDOW_MICROS: i64 = 5 * 60 * 1_000_000;

/// What every route receives: the app, the `Authorization` header and the raw body.
fn request_parts(
    app: Arc<App>,
) -> impl Filter<Extract = (Arc<App>, Option<String>, Bytes), Error = warp::Rejection> + Clone {
    warp::any()
        .map(move || app.clone())
        .and(warp::header::optional::<String>("authorization"))
        .and(crate::server::bodies::bytes())
}

/// The receipt and inbound-text routes. Every matched request is answered here (errors
/// included); only requests for other paths or methods are rejected.
/// Boxed: unboxed, the server's whole chain of filters overflows the compiler's query depth.
pub fn routes(app: Arc<App>) -> warp::filters::BoxedFilter<(Response,)> {
    let mmg_receipt = warp::path!("notifications" / "sms" / "mmg")
        .and(warp::post())
        .and(request_parts(app.clone()))
        .then(
            |app: Arc<App>, auth: Option<String>, body: Bytes| async move {
                guarded(&app, auth.as_deref(), || mmg_receipt(&app, &body)).await
            },
        );
    let firetext_receipt = warp::path!("notifications" / "sms" / "firetext")
        .and(warp::post())
        .and(request_parts(app.clone()))
        .then(
            |app: Arc<App>, auth: Option<String>, body: Bytes| async move {
                guarded(&app, auth.as_deref(), || firetext_receipt(&app, &body)).await
            },
        );
    let webhook_receipt = warp::path!("notifications" / "sms" / "webhook")
        .and(warp::post())
        .and(request_parts(app.clone()))
        .then(
            |app: Arc<App>, auth: Option<String>, body: Bytes| async move {
                guarded(&app, auth.as_deref(), || webhook_receipt(&app, &body)).await
            },
        );
    let mmg_inbound = warp::path!("notifications" / "sms" / "receive" / "mmg")
        .and(warp::post())
        .and(request_parts(app.clone()))
        .then(
            |app: Arc<App>, auth: Option<String>, body: Bytes| async move {
                guarded(&app, auth.as_deref(), || mmg_inbound(&app, &body)).await
            },
        );
    let firetext_inbound = warp::path!("notifications" / "sms" / "receive" / "firetext")
        .and(warp::post())
        .and(request_parts(app.clone()))
        .then(
            |app: Arc<App>, auth: Option<String>, body: Bytes| async move {
                guarded(&app, auth.as_deref(), || firetext_inbound(&app, &body)).await
            },
        );
    let ses = warp::path!("notifications" / "email" / "ses")
        .and(warp::post())
        .and(warp::header::optional::<String>("x-amz-sns-message-type"))
        .and(request_parts(app))
        .then(
            |kind: Option<String>, app: Arc<App>, auth: Option<String>, body: Bytes| async move {
                let authenticated = auth.is_some() && !app.config.receipts.username.is_empty();
                guarded(&app, auth.as_deref(), || {
                    ses_callback(&app, kind.as_deref(), &body, authenticated)
                })
                .await
            },
        );
    mmg_receipt
        .or(firetext_receipt)
        .unify()
        .or(webhook_receipt)
        .unify()
        .or(mmg_inbound)
        .unify()
        .or(firetext_inbound)
        .unify()
        .or(ses)
        .unify()
        .boxed()
}

/// Runs `handler` only when the request passes the optional basic auth.
async fn guarded<F, Fut>(app: &App, authorization: Option<&str>, handler: F) -> Response
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Response>,
{
    match check_basic_auth(&app.config.receipts, authorization) {
        Ok(()) => handler().await,
        Err(message) => {
            tracing::warn!(reason = message, "provider callback refused: basic auth");
            let mut r = error(ReceiptError::Unauthorized(message.to_string()));
            r.headers_mut().insert(
                "www-authenticate",
                HeaderValue::from_static("Basic realm=\"notify\""),
            );
            r
        }
    }
}

/// `Ok` when no basic auth is configured or the header carries the configured credentials;
/// otherwise the reason to refuse.
pub fn check_basic_auth(
    config: &ReceiptsConfig,
    authorization: Option<&str>,
) -> Result<(), &'static str> {
    if config.username.is_empty() {
        return Ok(());
    }
    let Some(header) = authorization else {
        return Err("Unauthorized, basic authentication is required");
    };
    let Some((user, password)) = parse_basic_auth(header) else {
        return Err("Unauthorized, invalid basic authentication header");
    };
    // Both comparisons always run, so timing does not tell which part was wrong.
    let user_ok = constant_time_eq(user.as_bytes(), config.username.as_bytes());
    let password_ok = constant_time_eq(password.as_bytes(), config.password.expose().as_bytes());
    if user_ok & password_ok {
        Ok(())
    } else {
        Err("Unauthorized, invalid username or password")
    }
}

/// `Basic base64(user:password)` → (user, password).
pub fn parse_basic_auth(header: &str) -> Option<(String, String)> {
    use base64::Engine;
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Equal bytes, compared in time that does not depend on where they differ (`subtle`).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

// ---------------------------------------------------------------------------------------------
// Answers

/// Why a provider's post was refused. Answered through `src/error.rs`, like every other error
/// (`{"result": "error", "message": ...}`, as upstream's receipt endpoints answer).
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// 400: the post cannot be used (an unknown reference, a bad value).
    #[error("{0}")]
    BadRequest(String),
    /// 400: fields the provider must send are missing; answered as a list, as upstream does.
    #[error("{}", .0.join(", "))]
    MissingFields(Vec<String>),
    /// 401: the optional basic auth of `[receipts]` failed.
    #[error("{0}")]
    Unauthorized(String),
    /// 404: the message the receipt is for is not known.
    #[error("{0}")]
    NotFound(String),
    /// 503: not found yet (our write may be a moment behind); the provider should retry.
    #[error("{0}")]
    RetryLater(String),
    /// 502: a call we make for the provider (confirming an SNS subscription) failed.
    #[error("{0}")]
    Upstream(String),
}

fn error(e: ReceiptError) -> Response {
    AppError::from(e).into_admin_response()
}

fn bad_request(message: impl Into<String>) -> Response {
    error(ReceiptError::BadRequest(message.into()))
}

/// Upstream's answer to missing fields: the messages as a list.
fn missing_fields(messages: Vec<String>) -> Response {
    error(ReceiptError::MissingFields(messages))
}

fn success(message: Option<String>) -> Response {
    let body = match message {
        Some(m) => json!({"result": "success", "message": m}),
        None => json!({"result": "success"}),
    };
    json_response(StatusCode::OK, &body)
}

fn internal(e: DomainError) -> Response {
    AppError::Domain(e).into_admin_response()
}

/// A parse failure of a provider's body: a list of "field missing" messages, or one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Missing(Vec<String>),
    Invalid(String),
}

impl ParseError {
    fn into_response(self) -> Response {
        match self {
            ParseError::Missing(m) => missing_fields(m),
            ParseError::Invalid(m) => bad_request(m),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SMS delivery receipts

/// A delivery receipt as either SMS provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsReceipt {
    /// The provider's status value, as text (`"3"`, `"0"`, ...).
    pub status: String,
    /// MMG's `substatus` or Firetext's `code`.
    pub detail: Option<String>,
    /// Our notification id, as sent to the provider.
    pub reference: String,
}

/// The notification id a receipt refers to, or upstream's error message.
pub fn receipt_notification_id(client: &str, reference: &str) -> Result<Uuid, String> {
    Uuid::parse_str(reference.trim())
        .map_err(|_| format!("{client} callback with invalid reference {reference}"))
}

/// Apply a parsed receipt: `known` says whether the provider's status is one we understand and
/// `decide` maps the notification's current status to the new one.
async fn apply_receipt(
    app: &App,
    client: &'static str,
    receipt: SmsReceipt,
    known: bool,
    decide: impl FnOnce(NotificationStatus) -> NotificationStatus + Send + 'static,
) -> Response {
    let id = match receipt_notification_id(client, &receipt.reference) {
        Ok(id) => id,
        Err(message) => {
            tracing::warn!(client, reference = %receipt.reference, "{message}");
            return bad_request(message);
        }
    };
    if !known {
        tracing::error!(
            client,
            notification_id = %id,
            status = %receipt.status,
            "{client} callback failed: status {} not found",
            receipt.status
        );
        return match apply_sms_receipt(&app.store, id, |_| NotificationStatus::TechnicalFailure)
            .await
        {
            Ok(_) => bad_request(format!(
                "{client} callback failed: status {} not found.",
                receipt.status
            )),
            Err(e) => internal(e),
        };
    }
    match apply_sms_receipt(&app.store, id, decide).await {
        Ok(Applied::Updated(n)) => {
            tracing::info!(
                client,
                notification_id = %id,
                provider_status = %receipt.status,
                detail = receipt.detail.as_deref().unwrap_or(""),
                status = n.status.as_str(),
                "{client} callback updated the notification"
            );
            success(Some(format!(
                "{client} callback succeeded. reference {id} updated"
            )))
        }
        Ok(Applied::Ignored(current)) => {
            tracing::info!(
                client,
                notification_id = %id,
                current = current.as_str(),
                "{client} callback ignored: the notification is already final"
            );
            success(None)
        }
        Ok(Applied::NotFound | Applied::UpdatedHistory(_)) => {
            tracing::warn!(
                client,
                notification_id = %id,
                provider_status = %receipt.status,
                "{client} callback for a notification that was not found"
            );
            success(None)
        }
        Err(e) => internal(e),
    }
}

async fn mmg_receipt(app: &App, body: &[u8]) -> Response {
    let receipt = match mmg::parse_receipt(body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if let Some(detail) = mmg::substatus_description(&receipt.status, receipt.detail.as_deref()) {
        tracing::debug!(reference = %receipt.reference, detail, "MMG substatus");
    }
    let status = mmg::status_for(&receipt.status);
    apply_receipt(app, mmg::CLIENT, receipt, status.is_some(), move |_| {
        status.unwrap_or(NotificationStatus::TechnicalFailure)
    })
    .await
}

async fn firetext_receipt(app: &App, body: &[u8]) -> Response {
    let receipt = match firetext::parse_receipt(body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let known = firetext::status_for(&receipt.status).is_some();
    let (status, code) = (receipt.status.clone(), receipt.detail.clone());
    apply_receipt(app, firetext::CLIENT, receipt, known, move |current| {
        firetext::decide(&status, code.as_deref(), current)
            .unwrap_or(NotificationStatus::TechnicalFailure)
    })
    .await
}

async fn webhook_receipt(app: &App, body: &[u8]) -> Response {
    let receipt = match webhook::parse_receipt(body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let status = webhook::status_for(&receipt.status);
    apply_receipt(app, webhook::CLIENT, receipt, status.is_some(), move |_| {
        status.unwrap_or(NotificationStatus::TechnicalFailure)
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Inbound texts

async fn store_inbound(app: &App, text: InboundText) -> DomainResult<bool> {
    let provider = text.provider.clone();
    match receive_inbound_sms(app, text).await? {
        Received::Stored(m) => {
            tracing::info!(
                service_id = %m.service_id,
                inbound_sms_id = %m.id,
                provider = %provider,
                "received an inbound text"
            );
            Ok(true)
        }
        Received::Dropped(Unrouted::NotAssociated) => {
            tracing::warn!(
                provider = %provider,
                "inbound number not associated with a service; the text was dropped"
            );
            Ok(false)
        }
        Received::Dropped(Unrouted::NotAllowed(service_id)) => {
            tracing::error!(
                %service_id,
                provider = %provider,
                "service does not allow inbound SMS; the text was dropped"
            );
            Ok(false)
        }
    }
}

async fn mmg_inbound(app: &App, body: &[u8]) -> Response {
    let text = match mmg::parse_inbound(body) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    match store_inbound(app, text).await {
        // MMG is told it arrived even when no service has the number: that is our problem.
        Ok(false) => warp::reply::with_status("RECEIVED", StatusCode::OK).into_response(),
        Ok(true) => json_response(StatusCode::OK, &json!({"status": "ok"})),
        Err(e) => internal(e),
    }
}

async fn firetext_inbound(app: &App, body: &[u8]) -> Response {
    let text = match firetext::parse_inbound(body) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    match store_inbound(app, text).await {
        Ok(_) => json_response(StatusCode::OK, &json!({"status": "ok"})),
        Err(e) => internal(e),
    }
}

/// A provider's date of a received text: London local time (MMG and Firetext both send it so)
/// unless it carries its own offset. `None` when it cannot be read.
pub fn parse_provider_date(raw: &str) -> Option<Micros> {
    let text = raw.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_micros());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.timestamp_micros());
        }
    }
    let naive = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    Some(london_to_utc(naive).timestamp_micros())
}

/// London wall-clock time to UTC. An hour that happens twice (October) is read as GMT, the
/// second one; an hour that does not exist (March) as GMT too.
pub fn london_to_utc(naive: NaiveDateTime) -> DateTime<Utc> {
    use chrono::LocalResult;
    match London.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(_, later) => later.with_timezone(&Utc),
        LocalResult::None => Utc.from_utc_datetime(&naive),
    }
}

// ---------------------------------------------------------------------------------------------
// Amazon SES through SNS

async fn ses_callback(
    app: &App,
    message_type: Option<&str>,
    body: &[u8],
    authenticated: bool,
) -> Response {
    let envelope = match ses::parse_envelope(message_type, body) {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    match envelope {
        ses::SnsEnvelope::SubscriptionConfirmation {
            subscribe_url,
            topic_arn,
        } => confirm_subscription(app, &subscribe_url, topic_arn.as_deref(), authenticated).await,
        ses::SnsEnvelope::UnsubscribeConfirmation { topic_arn } => {
            tracing::info!(
                topic = topic_arn.as_deref().unwrap_or(""),
                "SNS unsubscribed"
            );
            success(Some("SES callback succeeded".into()))
        }
        ses::SnsEnvelope::Notification { message } => match ses::parse_event(&message) {
            Ok(event) => ses_event(app, event).await,
            Err(e) => e.into_response(),
        },
    }
}

async fn confirm_subscription(
    app: &App,
    url: &str,
    topic_arn: Option<&str>,
    authenticated: bool,
) -> Response {
    if !authenticated && !ses::is_sns_url(url) {
        tracing::warn!(
            url,
            "SNS subscription confirmation refused: not an Amazon SNS URL"
        );
        return bad_request(format!(
            "SES callback failed: SubscribeURL {url} is not an Amazon SNS address"
        ));
    }
    tracing::info!(url, "confirming the SNS subscription");
    let result = app.http.get(url).timeout(SUBSCRIBE_TIMEOUT).send().await;
    match result {
        Ok(resp) if resp.status().is_success() => {
            tracing::info!(
                topic = topic_arn.unwrap_or(""),
                "automatically subscribed to the SNS topic"
            );
            success(Some("SES callback succeeded".into()))
        }
        Ok(resp) => {
            let status = resp.status();
            tracing::error!(url, %status, "SNS subscription confirmation failed");
            error(ReceiptError::Upstream(format!(
                "SES callback failed: confirming the subscription answered {status}"
            )))
        }
        Err(e) => {
            tracing::error!(url, error = %e, "SNS subscription confirmation failed");
            error(ReceiptError::Upstream(
                "SES callback failed: could not confirm the subscription".into(),
            ))
        }
    }
}

/// Not found: 503 while the email is new (SNS retries; our write may not be committed yet),
/// 404 afterwards.
fn ses_not_found(app: &App, event: &ses::SesEvent, status_text: &str) -> Response {
    let now = app.store.clock().now_micros();
    let recent = event
        .mail_timestamp
        .is_some_and(|t| now - t < SES_RETRY_WINDOW_MICROS);
    if recent {
        tracing::info!(
            reference = %event.reference,
            "SES receipt for an email not found yet; asking SNS to retry"
        );
        return error(ReceiptError::RetryLater(format!(
            "SES callback failed: notification reference {} not found yet, try again later",
            event.reference
        )));
    }
    tracing::warn!(reference = %event.reference, status = status_text, "SES receipt for an unknown email");
    error(ReceiptError::NotFound(format!(
        "SES callback failed: notification either not found or already updated from sending. \
         Status {status_text} for notification reference {}",
        event.reference
    )))
}

async fn ses_event(app: &App, event: ses::SesEvent) -> Response {
    let ok = || success(Some("SES callback succeeded".into()));
    match &event.kind {
        ses::SesEventKind::Complaint {
            feedback_type,
            date,
        } => match record_complaint(&app.store, &event.reference, feedback_type.clone(), *date)
            .await
        {
            Ok(Some(c)) => {
                tracing::info!(
                    notification_id = %c.notification_id,
                    complaint_id = %c.id,
                    "SES complaint recorded"
                );
                ok()
            }
            Ok(None) => ses_not_found(app, &event, "complaint"),
            Err(e) => internal(e),
        },
        kind => {
            let Some(status) = kind.status() else {
                return ok();
            };
            if let ses::SesEventKind::Bounce {
                bounce_type,
                bounce_sub_type,
                ..
            } = kind
            {
                tracing::info!(
                    reference = %event.reference,
                    bounce_type = bounce_type.as_deref().unwrap_or(""),
                    bounce_sub_type = bounce_sub_type.as_deref().unwrap_or(""),
                    "SES bounce"
                );
            }
            match apply_email_receipt(&app.store, &event.reference, status).await {
                Ok(Applied::Updated(n)) => {
                    tracing::info!(
                        notification_id = %n.id,
                        status = status.as_str(),
                        "SES callback updated the notification"
                    );
                    ok()
                }
                Ok(Applied::Ignored(current)) => {
                    tracing::info!(
                        reference = %event.reference,
                        current = current.as_str(),
                        new = status.as_str(),
                        "SES callback ignored: the email is no longer sending"
                    );
                    ok()
                }
                Ok(Applied::NotFound | Applied::UpdatedHistory(_)) => {
                    ses_not_found(app, &event, status.as_str())
                }
                Err(e) => internal(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use base64::Engine;

    fn basic(user: &str, password: &str) -> String {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {token}")
    }

    #[test]
    fn basic_auth_is_optional_and_checked_when_configured() {
        let open = ReceiptsConfig::default();
        assert_eq!(check_basic_auth(&open, None), Ok(()));
        assert_eq!(check_basic_auth(&open, Some("garbage")), Ok(()));

        let closed = ReceiptsConfig {
            username: "mmg".into(),
            password: Secret::new("s3cret:with:colons"),
        };
        assert!(check_basic_auth(&closed, None).is_err());
        assert!(check_basic_auth(&closed, Some("Bearer abc")).is_err());
        assert!(check_basic_auth(&closed, Some("Basic !!!not-base64")).is_err());
        assert!(check_basic_auth(&closed, Some(&basic("mmg", "wrong"))).is_err());
        assert!(check_basic_auth(&closed, Some(&basic("mm", "s3cret:with:colons"))).is_err());
        assert!(check_basic_auth(&closed, Some(&basic("mmgx", "s3cret:with:colons"))).is_err());
        assert_eq!(
            check_basic_auth(&closed, Some(&basic("mmg", "s3cret:with:colons"))),
            Ok(())
        );
        assert_eq!(
            check_basic_auth(
                &closed,
                Some(&basic("mmg", "s3cret:with:colons").replace("Basic", "basic"))
            ),
            Ok(())
        );
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn references_must_be_uuids() {
        let id = Uuid::new_v4();
        assert_eq!(receipt_notification_id("MMG", &id.to_string()), Ok(id));
        assert_eq!(
            receipt_notification_id("Firetext", "1234"),
            Err("Firetext callback with invalid reference 1234".to_string())
        );
        assert!(receipt_notification_id("MMG", "").is_err());
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Micros {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .unwrap()
            .timestamp_micros()
    }

    #[test]
    fn provider_dates_are_london_time() {
        // Winter: GMT = UTC.
        assert_eq!(
            parse_provider_date("2017-01-21 11:56:11"),
            Some(utc(2017, 1, 21, 11, 56, 11))
        );
        // Summer: BST = UTC+1.
        assert_eq!(
            parse_provider_date("2017-05-21 11:56:11"),
            Some(utc(2017, 5, 21, 10, 56, 11))
        );
        assert_eq!(
            parse_provider_date("2017-05-21T11:56:11"),
            Some(utc(2017, 5, 21, 10, 56, 11))
        );
        assert_eq!(
            parse_provider_date("2017-05-21 11:56"),
            Some(utc(2017, 5, 21, 10, 56, 0))
        );
        assert_eq!(
            parse_provider_date("2017-05-21"),
            Some(utc(2017, 5, 20, 23, 0, 0))
        );
        assert_eq!(
            parse_provider_date("2017-05-21 11:56:11.250"),
            Some(utc(2017, 5, 21, 10, 56, 11) + 250_000)
        );
        // An explicit offset wins.
        assert_eq!(
            parse_provider_date("2017-05-21T11:56:11Z"),
            Some(utc(2017, 5, 21, 11, 56, 11))
        );
        assert_eq!(
            parse_provider_date("2017-05-21 11:56:11+02:00"),
            Some(utc(2017, 5, 21, 9, 56, 11))
        );
        for bad in [
            "",
            "  ",
            "yesterday",
            "2017-13-01 00:00:00",
            "2017-05-21 25:00:00",
        ] {
            assert_eq!(parse_provider_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn london_clock_changes() {
        // 01:30 on 29 Oct 2017 happened twice: read as GMT.
        let twice = NaiveDate::from_ymd_opt(2017, 10, 29)
            .unwrap()
            .and_hms_opt(1, 30, 0)
            .unwrap();
        assert_eq!(
            london_to_utc(twice).timestamp_micros(),
            utc(2017, 10, 29, 1, 30, 0)
        );
        // 01:30 on 26 Mar 2017 never happened: read as GMT.
        let never = NaiveDate::from_ymd_opt(2017, 3, 26)
            .unwrap()
            .and_hms_opt(1, 30, 0)
            .unwrap();
        assert_eq!(
            london_to_utc(never).timestamp_micros(),
            utc(2017, 3, 26, 1, 30, 0)
        );
    }
}
