//! Service callbacks (workers.md §7.5): the settings a service keeps per kind (URL + bearer
//! token, the token sealed at rest), the bodies of each kind, and the queue row that carries a
//! callback to the callback worker ([`crate::workers::callbacks`]).
//!
//! The queue row captures the URL, the sealed token and the body at queue time, as upstream's
//! signed task payload does: a callback reports the notification as it was when it changed.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use storage::records::{
    CallbackKind, Complaint, InboundSms, Notification, NotificationHistory, ServiceCallback,
};
use storage::{Store, WriteCtx};
use uuid::Uuid;

use super::{DomainError, DomainResult};
use crate::crypto::Sealer;
use crate::domain::queues::Queue;

/// Shortest bearer token accepted (upstream's schema).
pub const MIN_TOKEN_LEN: usize = 10;

/// One callback to make: the payload of a [`Queue::Callbacks`] row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackTask {
    pub service_id: Uuid,
    pub kind: String,
    pub url: String,
    /// Sealed with the appliance's key, as stored in the service's settings.
    pub bearer_token_sealed: Vec<u8>,
    pub body: Value,
}

impl CallbackTask {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<CallbackTask> {
        serde_json::from_slice(bytes).ok()
    }
}

/// Queue a call to `cb` with `body`, due now.
pub fn enqueue(ctx: &mut WriteCtx<'_>, cb: &ServiceCallback, body: Value) -> storage::Result<()> {
    let task = CallbackTask {
        service_id: cb.service_id,
        kind: cb.kind.as_str().to_string(),
        url: cb.url.clone(),
        bearer_token_sealed: cb.bearer_token_sealed.clone(),
        body,
    };
    let now = ctx.now_ms();
    ctx.enqueue(Queue::Callbacks.name(), now, &task.encode())?;
    Ok(())
}

fn ts(micros: Option<i64>) -> Value {
    micros.map_or(Value::Null, |m| Value::String(format_api_timestamp(m)))
}

/// The `send-returned-letter` body (§7.5) of a letter, live or archived (`sent_by`: the person
/// who sent it, when known; else the API).
pub fn returned_letter_body(
    ctx: &WriteCtx<'_>,
    h: &NotificationHistory,
    sent_by: Option<&str>,
) -> storage::Result<Value> {
    let template = ctx.get_template(h.template_id)?.filter(|t| !t.hidden);
    let job = match h.job_id {
        Some(id) => ctx.get_job(id)?,
        None => None,
    };
    Ok(json!({
        "notification_id": h.id,
        "reference": h.api_key_id.and(h.client_reference.clone()),
        "date_sent": format_api_timestamp(h.sent_at.unwrap_or(h.created_at)),
        "sent_by": sent_by.unwrap_or("API"),
        "template_name": template.as_ref().map(|t| t.name.clone()),
        "template_id": template.as_ref().map(|t| t.id),
        "template_version": template.as_ref().map(|_| h.template_version),
        "spreadsheet_file_name": job.as_ref().map(|j| j.original_file_name.clone()),
        "spreadsheet_row_number": h.job_row_number.map(|r| r + 1),
        "upload_letter_file_name": Value::Null,
    }))
}

/// `send-delivery-status` body.
pub fn delivery_status_body(n: &Notification) -> Value {
    json!({
        "id": n.id,
        "reference": n.client_reference,
        "to": n.to,
        "status": n.status.as_str(),
        "created_at": format_api_timestamp(n.created_at),
        "completed_at": ts(n.updated_at),
        "sent_at": ts(n.sent_at),
        "notification_type": n.notification_type.as_str(),
        "template_id": n.template_id,
        "template_version": n.template_version,
    })
}

/// `send-complaint` body.
pub fn complaint_body(c: &Complaint, n: &Notification) -> Value {
    json!({
        "notification_id": c.notification_id,
        "complaint_id": c.id,
        "reference": n.client_reference,
        "to": n.to,
        "complaint_date": ts(c.complaint_date.or(Some(c.created_at))),
    })
}

/// `send-inbound-sms` body.
pub fn inbound_sms_body(m: &InboundSms) -> Value {
    json!({
        "id": m.id,
        "source_number": m.user_number,
        "destination_number": m.notify_number,
        "message": m.content,
        "date_received": format_api_timestamp(m.provider_date.unwrap_or(m.created_at)),
    })
}

/// Whether `url` may receive callbacks: https always; http only to loopback unless allowed.
pub fn check_url(url: &str, allow_http: bool) -> DomainResult<String> {
    let url = url.trim();
    let invalid = || DomainError::invalid(format!("url {url} is not a valid https url"));
    let parsed = reqwest::Url::parse(url).map_err(|_| invalid())?;
    let host = parsed.host_str().ok_or_else(invalid)?;
    match parsed.scheme() {
        "https" => Ok(url.to_string()),
        "http" if allow_http || is_loopback(host) => Ok(url.to_string()),
        _ => Err(invalid()),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What the internal API shows of a callback setting (never the token).
pub fn callback_json(cb: &ServiceCallback) -> Value {
    json!({
        "id": cb.id,
        "service_id": cb.service_id,
        "callback_type": cb.kind.as_str(),
        "url": cb.url,
        "created_at": format_api_timestamp(cb.created_at),
        "updated_at": ts(cb.updated_at),
    })
}

/// Create or replace the service's callback of `kind`.
pub async fn set_callback(
    store: &Store,
    sealer: &Sealer,
    service_id: Uuid,
    kind: CallbackKind,
    url: &str,
    bearer_token: &str,
    allow_http: bool,
) -> DomainResult<ServiceCallback> {
    let url = check_url(url, allow_http)?;
    if bearer_token.chars().count() < MIN_TOKEN_LEN {
        // The token itself is never echoed back.
        return Err(DomainError::invalid(format!(
            "bearer_token is too short: at least {MIN_TOKEN_LEN} characters"
        )));
    }
    let sealed = sealer.seal(bearer_token.as_bytes());
    Ok(store
        .write(move |ctx| {
            super::services::require_service(ctx, service_id)?;
            let now = ctx.now_micros();
            let cb = match ctx.get_service_callback(service_id, kind)? {
                Some(old) => ServiceCallback {
                    url,
                    bearer_token_sealed: sealed,
                    updated_at: Some(now),
                    ..old
                },
                None => ServiceCallback {
                    id: ctx.new_id(),
                    service_id,
                    kind,
                    url,
                    bearer_token_sealed: sealed,
                    created_at: now,
                    updated_at: None,
                },
            };
            ctx.put_service_callback(&cb)?;
            Ok(cb)
        })
        .await?)
}

pub fn get_callback(
    store: &Store,
    service_id: Uuid,
    kind: CallbackKind,
) -> DomainResult<ServiceCallback> {
    store
        .read()?
        .get_service_callback(service_id, kind)?
        .ok_or_else(|| DomainError::not_found("No result found".into()))
}

pub async fn delete_callback(
    store: &Store,
    service_id: Uuid,
    kind: CallbackKind,
) -> DomainResult<()> {
    let removed = store
        .write(move |ctx| ctx.delete_service_callback(service_id, kind))
        .await?;
    if removed {
        Ok(())
    } else {
        Err(DomainError::not_found("No result found".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_urls_must_be_https_except_on_loopback() {
        assert!(check_url("https://example.gov.uk/cb", false).is_ok());
        assert!(check_url("http://127.0.0.1:9000/cb", false).is_ok());
        assert!(check_url("http://localhost/cb", false).is_ok());
        assert!(check_url("http://example.gov.uk/cb", false).is_err());
        assert!(check_url("http://example.gov.uk/cb", true).is_ok());
        assert!(check_url("ftp://example.gov.uk/cb", true).is_err());
        assert!(check_url("not a url", true).is_err());
    }
}
