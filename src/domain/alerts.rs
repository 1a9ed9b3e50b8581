//! Operator alerts: things a person must look at (a scheduled job failed, letters the printer
//! has not confirmed, a service failing at scale). Every alert is logged at error level, kept in
//! redb for the alerts page and `GET /alerts`, and POSTed to `alerts.webhook_url` when one is
//! set. Raising an alert never fails the work that raised it.

use serde_json::json;
use storage::clock::format_api_timestamp;
use storage::records::Alert;

use crate::domain::Context;

/// Raise an alert. `kind` is a stable name (`scheduled-job-failed`, `letters-still-created`);
/// `details` lists what the operator needs (references, service ids), kept short by the caller.
pub async fn raise(
    cx: &Context,
    kind: &str,
    message: String,
    details: Vec<String>,
) -> Option<Alert> {
    tracing::error!(alert = kind, details = ?details, "{message}");
    let kind = kind.to_string();
    let stored = cx
        .store
        .write(move |ctx| {
            let alert = Alert {
                id: ctx.new_id(),
                kind,
                message,
                details,
                created_at: ctx.now_micros(),
            };
            ctx.insert_alert(&alert)?;
            Ok(alert)
        })
        .await;
    let alert = match stored {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "cannot store an alert");
            return None;
        }
    };
    let url = cx.config.alerts.webhook_url.clone();
    if !url.is_empty() {
        let body = alert_json(&alert);
        let http = cx.http.clone();
        // In the background: a slow or broken webhook must not hold up the job that alerted.
        tokio::spawn(async move {
            match http.post(&url).json(&body).send().await {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    tracing::warn!(status = %r.status(), "the alerts webhook refused an alert")
                }
                Err(e) => {
                    tracing::warn!(error = %e.without_url(), "cannot reach the alerts webhook")
                }
            }
        });
    }
    Some(alert)
}

/// An alert as the internal API, the webhook and the page show it.
pub fn alert_json(a: &Alert) -> serde_json::Value {
    json!({
        "id": a.id,
        "kind": a.kind,
        "message": a.message,
        "details": a.details,
        "created_at": format_api_timestamp(a.created_at),
    })
}
