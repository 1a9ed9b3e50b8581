//! Complaints (a recipient marked an email as spam), on upstream's internal paths and one of
//! ours for a single service:
//! - `GET /complaint?page=N`: every service's complaints, newest first, 50 a page
//!   (`{"complaints": [...], "links": {"prev"?, "next"?}}`);
//! - `GET /complaint/count-by-date-range?start_date=YYYY-MM-DD&end_date=YYYY-MM-DD`: how many
//!   were received over those London days (both default to today);
//! - `GET /service/{id}/complaints?page=N`: the same list for one service; with `?format=csv`
//!   all of them as a spreadsheet.
//!
//! The rules live in [`crate::domain::complaints`].

use chrono::NaiveDate;
use serde_json::{Map, Value, json};
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, done, raw_query};
use crate::app::App;
use crate::domain::complaints::{self, Listed, PAGE_SIZE};
use crate::domain::facts::london_date;
use crate::error::{AppError, json_response};

/// The query's value for `name`, if given.
fn arg(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn page_of(query: &str) -> Result<usize, AppError> {
    match arg(query, "page") {
        None => Ok(1),
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| AppError::BadRequest("page must be a positive whole number".into())),
    }
}

/// One page of `list` with upstream's `links` (`prev`/`next` where there are such pages).
fn page(list: &[Listed], page: usize, path: &str) -> Response {
    let start = (page - 1).saturating_mul(PAGE_SIZE);
    let items: Vec<Value> = list
        .iter()
        .skip(start)
        .take(PAGE_SIZE)
        .map(Listed::to_json)
        .collect();
    let mut links = Map::new();
    if page > 1 {
        links.insert("prev".into(), json!(format!("{path}?page={}", page - 1)));
    }
    if page.saturating_mul(PAGE_SIZE) < list.len() {
        links.insert("next".into(), json!(format!("{path}?page={}", page + 1)));
    }
    json_response(
        StatusCode::OK,
        &json!({"complaints": items, "links": links}),
    )
}

fn all(app: &App, query: &str) -> Result<Response, AppError> {
    let n = page_of(query)?;
    Ok(page(&complaints::complaints(app, None)?, n, "/complaint"))
}

fn count(app: &App, query: &str) -> Result<Response, AppError> {
    let today = london_date(app.store.clock().now_micros());
    let date = |name: &str| match arg(query, name) {
        None => Ok(today),
        Some(d) => NaiveDate::parse_from_str(&d, "%Y-%m-%d")
            .map_err(|_| AppError::BadRequest(format!("{name} {d} is not a date (YYYY-MM-DD)"))),
    };
    let (start, end) = (date("start_date")?, date("end_date")?);
    let n = complaints::count_between(app, start, end)?;
    Ok(json_response(StatusCode::OK, &json!(n)))
}

fn for_service(service_id: Uuid, app: &App, query: &str) -> Result<Response, AppError> {
    let list = complaints::complaints(app, Some(service_id))?;
    if arg(query, "format").as_deref() == Some("csv") {
        return csv_of(&list);
    }
    let path = format!("/service/{service_id}/complaints");
    Ok(page(&list, page_of(query)?, &path))
}

fn csv_of(list: &[Listed]) -> Result<Response, AppError> {
    let failed = |e: csv::Error| AppError::Internal(format!("writing the complaints: {e}"));
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "Notification ID",
        "Complaint type",
        "Complaint date",
        "Received at",
    ])
    .map_err(failed)?;
    for listed in list {
        let c = &listed.complaint;
        out.write_record([
            c.notification_id.to_string(),
            c.complaint_type.clone().unwrap_or_default(),
            c.complaint_date
                .map(storage::clock::format_api_timestamp)
                .unwrap_or_default(),
            storage::clock::format_api_timestamp(c.created_at),
        ])
        .map_err(failed)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| AppError::Internal(format!("writing the complaints: {e}")))?;
    let mut response = Response::new(bytes.into());
    response.headers_mut().insert(
        "content-type",
        warp::http::HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(response)
}

pub fn routes(auth: Auth) -> Routes {
    let all = warp::path!("complaint")
        .and(warp::get())
        .and(raw_query())
        .and(auth.clone())
        .and_then(|q: String, app: Caller| async move { done(all(&app, &q)) });
    let count = warp::path!("complaint" / "count-by-date-range")
        .and(warp::get())
        .and(raw_query())
        .and(auth.clone())
        .and_then(|q: String, app: Caller| async move { done(count(&app, &q)) });
    let service = warp::path!("service" / Uuid / "complaints")
        .and(warp::get())
        .and(raw_query())
        .and(auth)
        .and_then(|sid, q: String, app: Caller| async move { done(for_service(sid, &app, &q)) });
    all.or(count).unify().or(service).unify().boxed()
}
