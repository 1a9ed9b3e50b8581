//! Calls to services' callback URLs (workers.md §7.5): `POST` with the JSON body captured when
//! the callback was queued, `Authorization: Bearer <token>`, a 5 s timeout (configurable).
//! Connection errors, timeouts, 5xx and 429 are retried `callbacks.max_retries` times
//! `callbacks.retry_delay_seconds` apart; any other answer ends the callback.

use std::sync::Arc;

use storage::Claimed;

use crate::app::App;
use crate::domain::callbacks::CallbackTask;
use crate::domain::queues::Queue;

/// Whether a failed call is worth repeating.
#[derive(Debug, PartialEq, Eq)]
pub enum CallResult {
    Done,
    Retry(String),
    Rejected(u16),
}

/// Classify the answer of a callback URL.
pub fn classify(status: u16) -> CallResult {
    match status {
        200..=299 => CallResult::Done,
        429 | 500..=599 => CallResult::Retry(format!("HTTP {status}")),
        other => CallResult::Rejected(other),
    }
}

/// Make one queued callback.
pub async fn call(app: Arc<App>, row: Claimed) {
    let seq = row.seq;
    let result = match CallbackTask::decode(&row.payload) {
        None => {
            tracing::error!(seq, "unreadable callback row; dropped");
            CallResult::Rejected(0)
        }
        Some(task) => send(&app, &task).await,
    };
    let (delay_ms, max) = (
        (app.config.callbacks.retry_delay_seconds * 1000) as i64,
        app.config.callbacks.max_retries,
    );
    let written = match result {
        CallResult::Retry(reason) => {
            let outcome = app
                .store
                .write(move |ctx| ctx.retry(Queue::Callbacks.name(), seq, delay_ms, max))
                .await;
            match &outcome {
                Ok(storage::RetryOutcome::GaveUp { attempts, .. }) => tracing::warn!(
                    seq, attempts, %reason, "service callback failed after every retry; given up"
                ),
                Ok(storage::RetryOutcome::Scheduled { attempts, .. }) => {
                    tracing::info!(seq, attempts, %reason, "service callback failed; will retry")
                }
                _ => {}
            }
            outcome.map(drop)
        }
        other => {
            if let CallResult::Rejected(status) = other {
                tracing::warn!(seq, status, "service callback refused; not retried");
            }
            app.store
                .write(move |ctx| ctx.ack(Queue::Callbacks.name(), seq))
                .await
                .map(drop)
        }
    };
    if let Err(e) = written {
        tracing::error!(seq, error = %e, "cannot finish a callback row");
    }
}

async fn send(app: &App, task: &CallbackTask) -> CallResult {
    let token = match app.sealer.open(&task.bearer_token_sealed) {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e) => {
            tracing::error!(service_id = %task.service_id, error = %e, "cannot unseal a callback token");
            return CallResult::Rejected(0);
        }
    };
    let answer = app
        .http
        .post(&task.url)
        .bearer_auth(token)
        .timeout(std::time::Duration::from_secs(
            app.config.callbacks.timeout_seconds,
        ))
        .json(&task.body)
        .send()
        .await;
    match answer {
        Ok(resp) => classify(resp.status().as_u16()),
        Err(e) => CallResult::Retry(if e.is_timeout() {
            "timed out".into()
        } else {
            "connection failed".into()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_and_throttling_are_retried_client_errors_are_not() {
        assert_eq!(classify(200), CallResult::Done);
        assert_eq!(classify(204), CallResult::Done);
        assert!(matches!(classify(500), CallResult::Retry(_)));
        assert!(matches!(classify(503), CallResult::Retry(_)));
        assert!(matches!(classify(429), CallResult::Retry(_)));
        assert_eq!(classify(400), CallResult::Rejected(400));
        assert_eq!(classify(404), CallResult::Rejected(404));
    }
}
