//! Letters returned to sender:
//! - `POST /letters/returned` `{"notification_ids": [...]}` and/or `{"references": [...]}`
//!   (the 16-character references printed on the letters): the printer's list of letters it
//!   could not deliver; answers what became of each;
//! - `GET /service/{id}/returned-letter-summary`: returned letters per reporting day;
//! - `GET /service/{id}/returned-letter-statistics`: how many in the last 7 days, and the most
//!   recent reporting day.
//!
//! The rules live in [`crate::domain::returned_letters`].

use bytes::Bytes;
use serde::Deserialize;
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done, json_body, parse_body};
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
        .and(auth)
        .and_then(|sid, app: Caller| async move { done(statistics(sid, &app)) });
    record.or(summary).unify().or(statistics).unify().boxed()
}
