//! What the appliance reports about itself: `GET /_status` for machines (load balancers,
//! `notify healthcheck`) and `GET /` for people.

use std::sync::Arc;

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::app::App;
use crate::error::json_response;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /_status`: 200 `{"status":"ok",...}` when the database answers a read; 503
/// `{"status":"degraded","reason":...}` while the store recovers from a storage fault or is
/// below the low-disk watermark (new sends refused), and when the database cannot be read.
pub fn status_json(app: &App) -> Response {
    let uptime = app.started.elapsed().as_secs();
    if let Some(reason) = app.store.health().problem() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({
                "status": "degraded",
                "reason": reason,
                "version": VERSION,
                "schema_version": storage::tables::SCHEMA_VERSION,
                "uptime_seconds": uptime,
            }),
        );
    }
    match app.store.read().and_then(|r| r.notification_count()) {
        Ok(_) => json_response(
            StatusCode::OK,
            &json!({
                "status": "ok",
                "version": VERSION,
                "schema_version": storage::tables::SCHEMA_VERSION,
                "uptime_seconds": uptime,
            }),
        ),
        Err(e) => {
            tracing::error!(error = %e, "status check could not read the database");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"status": "error", "message": "the database cannot be read", "version": VERSION}),
            )
        }
    }
}

fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// `GET /`: the status page.
/// `layout` is the platform admin layout for this visit ([`crate::pages::platform_admin`]).
pub fn status_page(app: Arc<App>, layout: web::Layout) -> Response {
    let build = || -> Result<web::StatusPage, storage::StoreError> {
        let reader = app.store.read()?;
        let statuses: Vec<(String, u64)> = reader
            .status_counts()?
            .into_iter()
            .map(|(s, n)| (s.as_str().to_string(), n))
            .collect();
        Ok(web::StatusPage {
            layout,
            version: VERSION.to_string(),
            schema_version: storage::tables::SCHEMA_VERSION,
            uptime: human_duration(app.started.elapsed().as_secs()),
            total_notifications: reader.notification_count()?,
            statuses,
            queues: app.store.queue_depths()?,
            index_lag: reader.outbox_len()?,
            indexed_documents: app.index.num_docs(),
        })
    };
    match build().map(|page| page.render_html()) {
        Ok(Ok(html)) => warp::reply::html(html).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "status page failed to render");
            warp::reply::with_status(
                "status page failed to render",
                StatusCode::INTERNAL_SERVER_ERROR,
            )
            .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "status page could not read the database");
            warp::reply::with_status(
                "the database cannot be read",
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(125), "2m 5s");
        assert_eq!(human_duration(7_260), "2h 1m");
        assert_eq!(human_duration(90_000), "1d 1h");
    }
}
