//! Statistics built on the daily facts and on live rows, on upstream's internal paths:
//! - `GET /service/{id}/statistics?limit_days=7&today_only=false`: requested, delivered and
//!   failed per type;
//! - `GET /service/{id}/notifications/monthly?year=YYYY`: status counts per month of the
//!   financial year starting in April `year`;
//! - `GET /service/{id}/billing/monthly-usage?year=YYYY` and
//!   `GET /service/{id}/billing/yearly-usage-summary?year=YYYY`: units, messages and cost;
//! - `GET /service/{id}/template-statistics?whole_days=7`: use per template and status;
//! - `GET /service/{id}/template-statistics/last-used/{template_id}`: `{"last_date_used"}`;
//! - `GET /service/{id}/job/{job_id}/statistics`: a job's outcomes by status;
//! - `GET /service/{id}/job/scheduled-job-stats`: jobs waiting for their time.
//!
//! The counting lives in [`crate::domain::statistics`].

use serde_json::{Value, json};
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done, raw_query};
use crate::app::App;
use crate::domain::statistics;
use crate::error::AppError;

/// The query parameters a route accepts; anything else is a 400 naming it.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: &str, allowed: &[&str]) -> Result<Query, AppError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if let Some((k, _)) = pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            return Err(AppError::BadRequest(format!("Unknown query parameter {k}")));
        }
        Ok(Query(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn number<T: std::str::FromStr>(
        &self,
        name: &str,
        default: Option<T>,
        valid: impl Fn(&T) -> bool,
        rule: &str,
    ) -> Result<T, AppError> {
        match (self.get(name), default) {
            (None, Some(d)) => Ok(d),
            (None, None) => Err(AppError::BadRequest(format!("{name} is required"))),
            (Some(v), _) => v
                .parse::<T>()
                .ok()
                .filter(|n| valid(n))
                .ok_or_else(|| AppError::BadRequest(format!("{name} must be {rule}"))),
        }
    }

    fn flag(&self, name: &str) -> Result<bool, AppError> {
        match self.get(name) {
            None | Some("false") | Some("False") => Ok(false),
            Some("true") | Some("True") => Ok(true),
            Some(_) => Err(AppError::BadRequest(format!(
                "{name} must be true or false"
            ))),
        }
    }

    fn year(&self) -> Result<i32, AppError> {
        self.number(
            "year",
            None,
            |y| (2000..=2200).contains(y),
            "a year, e.g. 2026",
        )
    }
}

fn ok(value: Value) -> Result<Response, AppError> {
    Ok(data(StatusCode::OK, value))
}

fn totals(service_id: Uuid, app: &App, raw: &str) -> Result<Response, AppError> {
    let q = Query::parse(raw, &["limit_days", "today_only"])?;
    let days = q.number(
        "limit_days",
        Some(7u32),
        |d| (1..=366).contains(d),
        "a number of days from 1 to 366",
    )?;
    let today_only = q.flag("today_only")?;
    ok(statistics::service_totals(
        &app.store, service_id, days, today_only,
    )?)
}

fn monthly(service_id: Uuid, app: &App, raw: &str) -> Result<Response, AppError> {
    let year = Query::parse(raw, &["year"])?.year()?;
    ok(statistics::monthly_status_counts(
        &app.store, service_id, year,
    )?)
}

fn monthly_usage(service_id: Uuid, app: &App, raw: &str) -> Result<Response, AppError> {
    let year = Query::parse(raw, &["year"])?.year()?;
    ok(json!(statistics::monthly_usage(
        &app.store, service_id, year
    )?))
}

fn yearly_usage(service_id: Uuid, app: &App, raw: &str) -> Result<Response, AppError> {
    let year = Query::parse(raw, &["year"])?.year()?;
    ok(json!(statistics::yearly_usage(
        &app.store, service_id, year
    )?))
}

fn templates(service_id: Uuid, app: &App, raw: &str) -> Result<Response, AppError> {
    let q = Query::parse(raw, &["whole_days"])?;
    let days = q.number(
        "whole_days",
        Some(7u32),
        |d| (1..=366).contains(d),
        "a number of days from 1 to 366",
    )?;
    ok(json!(statistics::template_usage(
        &app.store, service_id, days
    )?))
}

fn last_used(service_id: Uuid, template_id: Uuid, app: &App) -> Result<Response, AppError> {
    let date = statistics::template_last_used(&app.store, service_id, template_id)?;
    ok(json!({"last_date_used": date.map(|d| d.to_string())}))
}

fn job(service_id: Uuid, job_id: Uuid, app: &App) -> Result<Response, AppError> {
    ok(statistics::job_outcomes(&app.store, service_id, job_id)?)
}

fn scheduled_jobs(service_id: Uuid, app: &App) -> Result<Response, AppError> {
    ok(statistics::scheduled_job_stats(&app.store, service_id)?)
}

pub fn routes(auth: Auth) -> Routes {
    let totals = warp::path!("service" / Uuid / "statistics")
        .and(warp::get())
        .and(auth.clone())
        .and(raw_query())
        .and_then(|sid, app: Caller, q: String| async move { done(totals(sid, &app, &q)) });
    let monthly = warp::path!("service" / Uuid / "notifications" / "monthly")
        .and(warp::get())
        .and(auth.clone())
        .and(raw_query())
        .and_then(|sid, app: Caller, q: String| async move { done(monthly(sid, &app, &q)) });
    let monthly_usage = warp::path!("service" / Uuid / "billing" / "monthly-usage")
        .and(warp::get())
        .and(auth.clone())
        .and(raw_query())
        .and_then(|sid, app: Caller, q: String| async move { done(monthly_usage(sid, &app, &q)) });
    let yearly_usage = warp::path!("service" / Uuid / "billing" / "yearly-usage-summary")
        .and(warp::get())
        .and(auth.clone())
        .and(raw_query())
        .and_then(|sid, app: Caller, q: String| async move { done(yearly_usage(sid, &app, &q)) });
    let templates = warp::path!("service" / Uuid / "template-statistics")
        .and(warp::get())
        .and(auth.clone())
        .and(raw_query())
        .and_then(|sid, app: Caller, q: String| async move { done(templates(sid, &app, &q)) });
    let last_used = warp::path!("service" / Uuid / "template-statistics" / "last-used" / Uuid)
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid, tid, app: Caller| async move { done(last_used(sid, tid, &app)) });
    let scheduled = warp::path!("service" / Uuid / "job" / "scheduled-job-stats")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid, app: Caller| async move { done(scheduled_jobs(sid, &app)) });
    let job = warp::path!("service" / Uuid / "job" / Uuid / "statistics")
        .and(warp::get())
        .and(auth)
        .and_then(|sid, jid, app: Caller| async move { done(job(sid, jid, &app)) });
    totals
        .or(monthly)
        .unify()
        .or(monthly_usage)
        .unify()
        .or(yearly_usage)
        .unify()
        .or(templates)
        .unify()
        .or(last_used)
        .unify()
        .or(scheduled)
        .unify()
        .or(job)
        .unify()
        .boxed()
}
