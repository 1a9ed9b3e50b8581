//! Letters returned to sender:
//! - `POST /letters/returned` `{"notification_ids": [...]}` and/or `{"references": [...]}`
//!   (the 16-character references printed on the letters): the printer's list of letters it
//!   could not deliver; answers what became of each;
//! - `GET /service/{id}/returned-letter-summary`: returned letters per reporting day;
//! - `GET /service/{id}/returned-letter-statistics`: how many in the last 7 days, and the most
//!   recent reporting day;
//! - `GET /service/{id}/returned-letters?reported_at=YYYY-MM-DD`: the letters reported that
//!   day, newest sent first, and how many we no longer hold (`orphaned_count`); with
//!   `&format=csv`, the spreadsheet upstream's admin app offers.
//!
//! The rules live in [`crate::domain::returned_letters`].

use bytes::Bytes;
use serde::Deserialize;
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done, json_body, parse_body, raw_query};
use crate::app::App;
use crate::domain::returned_letters;
use crate::error::AppError;

/// Upper bound of one report, so one request cannot hold the writer for long.
const MAX_IDS: usize = 100_000;

/// The printer's list: notification ids, or the 16-character references on the letters
/// (what the printer and Royal Mail see), or both.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReturnedList {
    #[serde(default)]
    notification_ids: Vec<Uuid>,
    #[serde(default)]
    references: Vec<String>,
}

async fn record(app: Caller, body: Bytes) -> Result<Response, AppError> {
    let list: ReturnedList = parse_body(&body)?;
    let count = list.notification_ids.len() + list.references.len();
    if count == 0 || count > MAX_IDS {
        return Err(AppError::BadRequest(format!(
            "notification_ids and references must list 1 to {MAX_IDS} letters"
        )));
    }
    let mut ids = list.notification_ids;
    let mut unknown_references = Vec::new();
    {
        let reader = app.store.read()?;
        for reference in list.references {
            match reader.notification_id_by_reference(&reference.trim().to_uppercase())? {
                Some(id) => ids.push(id),
                None => unknown_references.push(reference),
            }
        }
    }
    let report = returned_letters::process_returned_letters(&app.store, ids).await?;
    let mut answer = report.to_json();
    answer["unknown_references"] = serde_json::json!(unknown_references);
    Ok(data(StatusCode::OK, answer))
}

fn statistics(service_id: Uuid, app: &App) -> Result<Response, AppError> {
    Ok(data(
        StatusCode::OK,
        returned_letters::statistics(&app.store, service_id)?,
    ))
}

fn summary(service_id: Uuid, app: &App) -> Result<Response, AppError> {
    Ok(data(
        StatusCode::OK,
        returned_letters::summary(&app.store, service_id)?,
    ))
}

/// The query's value for `name`, if given.
fn arg(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn on_day(service_id: Uuid, query: &str, app: &App) -> Result<Response, AppError> {
    let day = arg(query, "reported_at").unwrap_or_default();
    let day = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")
        .map_err(|_| AppError::BadRequest("reported_at must be a date (YYYY-MM-DD)".to_string()))?;
    let (rows, orphaned) = returned_letters::returned_letters_on(&app.store, service_id, day)?;
    if arg(query, "format").as_deref() == Some("csv") {
        return csv_of(&rows);
    }
    Ok(crate::error::json_response(
        StatusCode::OK,
        &serde_json::json!({"returned_letters": rows, "orphaned_count": orphaned}),
    ))
}

/// The columns upstream's admin app puts in its download.
fn csv_of(rows: &[returned_letters::ReturnedLetterRow]) -> Result<Response, AppError> {
    let failed = |e: csv::Error| AppError::Internal(format!("writing the returned letters: {e}"));
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "Notification ID",
        "Reference",
        "Date sent",
        "Sent by",
        "Template name",
        "Template ID",
        "Template version",
        "Spreadsheet file name",
        "Spreadsheet row number",
        "Uploaded letter file name",
    ])
    .map_err(failed)?;
    let text = |v: Option<String>| v.unwrap_or_default();
    for r in rows {
        out.write_record([
            r.notification_id.to_string(),
            text(r.client_reference.clone()),
            r.created_at.clone(),
            r.email_address.clone(),
            text(r.template_name.clone()),
            text(r.template_id.map(|t| t.to_string())),
            text(r.template_version.map(|v| v.to_string())),
            text(r.original_file_name.clone()),
            text(r.job_row_number.map(|n| n.to_string())),
            text(r.uploaded_letter_file_name.clone()),
        ])
        .map_err(failed)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| AppError::Internal(format!("writing the returned letters: {e}")))?;
    let mut response = Response::new(bytes.into());
    response.headers_mut().insert(
        "content-type",
        warp::http::HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(response)
}

pub fn routes(auth: Auth) -> Routes {
    let record = warp::path!("letters" / "returned")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|app, body| async move { done(record(app, body).await) });
    let summary = warp::path!("service" / Uuid / "returned-letter-summary")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid, app: Caller| async move { done(summary(sid, &app)) });
    let statistics = warp::path!("service" / Uuid / "returned-letter-statistics")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid, app: Caller| async move { done(statistics(sid, &app)) });
    let on_day = warp::path!("service" / Uuid / "returned-letters")
        .and(warp::get())
        .and(raw_query())
        .and(auth)
        .and_then(|sid, q: String, app: Caller| async move { done(on_day(sid, &q, &app)) });
    record
        .or(summary)
        .unify()
        .or(statistics)
        .unify()
        .or(on_day)
        .unify()
        .boxed()
}
