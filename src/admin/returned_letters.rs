//! Letters returned to sender:
//! - `POST /letters/returned` `{"notification_ids": [...]}`: the printer's list of letters it
//!   could not deliver; answers what became of each id;
//! - `GET /service/{id}/returned-letter-summary`: returned letters per reporting day;
//! - `GET /service/{id}/returned-letter-statistics`: how many in the last 7 days, and the most
//!   recent reporting day.
//!
//! The rules live in [`crate::domain::returned_letters`].

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::{Auth, Routes, data, done, json_body, parse_body};
use crate::app::App;
use crate::domain::returned_letters;
use crate::error::AppError;

/// Upper bound of one report, so one request cannot hold the writer for long.
const MAX_IDS: usize = 100_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReturnedList {
    notification_ids: Vec<Uuid>,
}

async fn record(app: Arc<App>, body: Bytes) -> Result<Response, AppError> {
    let list: ReturnedList = parse_body(&body)?;
    if list.notification_ids.is_empty() || list.notification_ids.len() > MAX_IDS {
        return Err(AppError::BadRequest(format!(
            "notification_ids must list 1 to {MAX_IDS} letters"
        )));
    }
    let report =
        returned_letters::process_returned_letters(&app.store, list.notification_ids).await?;
    Ok(data(StatusCode::OK, report.to_json()))
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
        .and_then(|sid, app: Arc<App>| async move { done(summary(sid, &app)) });
    let statistics = warp::path!("service" / Uuid / "returned-letter-statistics")
        .and(warp::get())
        .and(auth)
        .and_then(|sid, app: Arc<App>| async move { done(statistics(sid, &app)) });
    record.or(summary).unify().or(statistics).unify().boxed()
}
