//! One-click unsubscribe requests (RFC 8058), on upstream's paths:
//! - `POST /unsubscribe/{notification_id}/{token}`: the recipient's mail client, following the
//!   email's `List-Unsubscribe` header; **not** authenticated (the sealed token is the proof);
//! - `GET /service/{id}/unsubscribe-request-reports-summary`: requests not yet in a report,
//!   then each report, newest first;
//! - `GET /service/{id}/unsubscribe-request-statistics`;
//! - `POST /service/{id}/create-unsubscribe-request-report` `{"count", "earliest_timestamp",
//!   "latest_timestamp"}` (or `{}`: every request not yet in a report) → `{"report_id"}`;
//! - `GET /service/{id}/unsubscribe-request-report/{batch_id}`: the report's requests as JSON,
//!   or with `?format=csv` the spreadsheet upstream's admin app offers;
//! - `POST /service/{id}/process-unsubscribe-request-report/{batch_id}`
//!   `{"report_has_been_processed": bool}` (204).
//!
//! The rules live in [`crate::domain::unsubscribe`].

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, done, json_body, no_content, parse_body, raw_query};
use crate::app::App;
use crate::domain::unsubscribe::{self, NewReport, ProcessReport};
use crate::error::{AppError, json_response};

/// Upstream answers these routes without the `data` wrapper.
fn plain(status: StatusCode, value: &Value) -> Response {
    json_response(status, value)
}

async fn one_click(id: Uuid, token: String, app: Arc<App>) -> Result<Response, AppError> {
    unsubscribe::receive_one_click(&app, id, &token).await?;
    Ok(plain(
        StatusCode::OK,
        &json!({"result": "success", "message": "Unsubscribe successful"}),
    ))
}

async fn create(service_id: Uuid, app: Caller, body: Bytes) -> Result<Response, AppError> {
    let new: NewReport = if body.iter().all(u8::is_ascii_whitespace) {
        NewReport::default()
    } else {
        parse_body(&body)?
    };
    let report = unsubscribe::create_report(&app, service_id, new).await?;
    Ok(plain(StatusCode::CREATED, &json!({"report_id": report.id})))
}

fn download(
    service_id: Uuid,
    batch_id: Uuid,
    query: &str,
    app: &App,
) -> Result<Response, AppError> {
    let (report, rows) = unsubscribe::report_for_download(app, service_id, batch_id)?;
    let csv = form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "format" && v == "csv");
    if csv {
        return csv_of(&rows);
    }
    Ok(plain(
        StatusCode::OK,
        &json!({
            "batch_id": report.id,
            "earliest_timestamp": storage::clock::format_api_timestamp(report.earliest_timestamp),
            "latest_timestamp": storage::clock::format_api_timestamp(report.latest_timestamp),
            "unsubscribe_requests": rows,
        }),
    ))
}

/// The columns upstream's admin app puts in its download.
fn csv_of(rows: &[unsubscribe::ReportRow]) -> Result<Response, AppError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let write = |out: &mut csv::Writer<Vec<u8>>, record: [&str; 5]| {
        out.write_record(record)
            .map_err(|e| AppError::Internal(format!("writing the report: {e}")))
    };
    write(
        &mut out,
        [
            "Email address",
            "Template name",
            "Uploaded spreadsheet file name",
            "Template sent at",
            "Unsubscribe request received at",
        ],
    )?;
    for r in rows {
        write(
            &mut out,
            [
                &r.email_address,
                &r.template_name,
                &r.original_file_name,
                r.template_sent_at.as_deref().unwrap_or(""),
                &r.unsubscribe_request_received_at,
            ],
        )?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| AppError::Internal(format!("writing the report: {e}")))?;
    let mut response = Response::new(bytes.into());
    response.headers_mut().insert(
        "content-type",
        warp::http::HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(response)
}

async fn process(
    service_id: Uuid,
    batch_id: Uuid,
    app: Caller,
    body: Bytes,
) -> Result<Response, AppError> {
    let processed: ProcessReport = parse_body(&body)?;
    unsubscribe::mark_processed(&app, service_id, batch_id, processed).await?;
    Ok(no_content())
}

/// The recipient's one-click request: mounted with the public routes (no admin token).
pub fn one_click_route(app: Arc<App>) -> Routes {
    warp::path!("unsubscribe" / Uuid / String)
        .and(warp::post())
        .and(warp::any().map(move || app.clone()))
        .and_then(|id, token, app| async move { done(one_click(id, token, app).await) })
        .boxed()
}

pub fn routes(auth: Auth) -> Routes {
    let summary = warp::path!("service" / Uuid / "unsubscribe-request-reports-summary")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid, app: Caller| async move {
            done(
                unsubscribe::reports_summary(&app, sid)
                    .map(|v| plain(StatusCode::OK, &v))
                    .map_err(AppError::from),
            )
        });
    let statistics = warp::path!("service" / Uuid / "unsubscribe-request-statistics")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid, app: Caller| async move {
            done(
                unsubscribe::statistics(&app, sid)
                    .map(|v| plain(StatusCode::OK, &v))
                    .map_err(AppError::from),
            )
        });
    let create = warp::path!("service" / Uuid / "create-unsubscribe-request-report")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|sid, app, body| async move { done(create(sid, app, body).await) });
    let download = warp::path!("service" / Uuid / "unsubscribe-request-report" / Uuid)
        .and(warp::get())
        .and(raw_query())
        .and(auth.clone())
        .and_then(|sid, bid, query: String, app: Caller| async move {
            done(download(sid, bid, &query, &app))
        });
    let process = warp::path!("service" / Uuid / "process-unsubscribe-request-report" / Uuid)
        .and(warp::post())
        .and(auth)
        .and(json_body())
        .and_then(|sid, bid, app, body| async move { done(process(sid, bid, app, body).await) });
    summary
        .or(statistics)
        .unify()
        .or(create)
        .unify()
        .or(download)
        .unify()
        .or(process)
        .unify()
        .boxed()
}
