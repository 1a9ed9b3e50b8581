//! Letter actions of the internal API:
//! - `POST /service/{id}/notifications/{notification_id}/cancel`: cancel a letter before the
//!   print run (§1.7);
//! - `POST /letters/replay-scan-errors`: scan again every upload in `letters-scan/ERROR/`;
//! - `POST /letters/print-responses` `{"filename": ..., "content": ...}`: apply a response file
//!   from the printer by hand (the same rules as the files the print transport picks up);
//! - `GET /letters/print-responses`: the files applied, with their sorted/unsorted counts.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use storage::records::PrintResponseFile;
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done, json_body, parse_body};
use crate::app::App;
use crate::domain::letters::{CancelError, cancel_letter, replay_scan_errors};
use crate::error::AppError;

async fn cancel(service_id: Uuid, id: Uuid, app: Caller) -> Result<Response, AppError> {
    match cancel_letter(&app.store, service_id, id).await? {
        Ok(n) => {
            let root = crate::api::root_url(&app, None, crate::server::Scheme::Http);
            Ok(data(
                StatusCode::OK,
                crate::api::notifications::notification_json(&n, &root, &app.config.sending),
            ))
        }
        Err(CancelError::NotFound) => Err(AppError::NotFound("Notification not found".into())),
        Err(e) => Err(AppError::BadRequest(e.to_string())),
    }
}

async fn replay(app: Caller) -> Result<Response, AppError> {
    let queued = replay_scan_errors(&app)
        .await
        .map_err(|e| AppError::Internal(format!("cannot replay letters-scan/ERROR: {e}")))?;
    Ok(data(StatusCode::OK, json!({ "queued": queued })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseUpload {
    filename: String,
    content: String,
}

fn response_json(r: &PrintResponseFile) -> serde_json::Value {
    json!({
        "filename": r.name,
        "processed_at": storage::clock::format_api_timestamp(r.processed_at),
        "billing_day": crate::domain::facts::date_of_day_number(r.billing_day).to_string(),
        "lines": r.lines,
        "delivered": r.delivered,
        "failed_references": r.failed,
        "unknown_references": r.unknown,
        "sorted_count": r.sorted,
        "unsorted_count": r.unsorted,
    })
}

async fn upload_response(app: Caller, body: Bytes) -> Result<Response, AppError> {
    use crate::letters::responses::{ResponseError, apply};
    let upload: ResponseUpload = parse_body(&body)?;
    match apply(&app, &upload.filename, upload.content.as_bytes()).await {
        Ok(record) => Ok(data(StatusCode::CREATED, response_json(&record))),
        Err(ResponseError::Store(e)) => Err(AppError::Internal(e)),
        Err(ResponseError::AlreadyProcessed(name)) => Err(AppError::Conflict(format!(
            "response file {name} was already processed"
        ))),
        Err(e) => Err(AppError::BadRequest(e.to_string())),
    }
}

fn list_responses(app: &App) -> Result<Response, AppError> {
    let files = app.store.read()?.print_response_files()?;
    Ok(data(
        StatusCode::OK,
        json!(files.iter().map(response_json).collect::<Vec<_>>()),
    ))
}

pub fn routes(auth: Auth) -> Routes {
    let cancel = warp::path!("service" / Uuid / "notifications" / Uuid / "cancel")
        .and(warp::post())
        .and(auth.clone())
        .and_then(|sid, id, app| async move { done(cancel(sid, id, app).await) });
    let replay = warp::path!("letters" / "replay-scan-errors")
        .and(warp::post())
        .and(auth.clone())
        .and_then(|app| async move { done(replay(app).await) });
    let upload = warp::path!("letters" / "print-responses")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|app, body| async move { done(upload_response(app, body).await) });
    let list = warp::path!("letters" / "print-responses")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|app: Caller| async move { done(list_responses(&app)) });
    cancel
        .or(replay)
        .unify()
        .or(upload)
        .unify()
        .or(list)
        .unify()
        .boxed()
}
