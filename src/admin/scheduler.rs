//! The scheduler and alerts in the internal API:
//! - `GET /scheduler/jobs`: every scheduled job with its schedule, next run and last run;
//! - `POST /scheduler/jobs/{name}/run`: run one now and answer with its outcome (409 while it
//!   is already running);
//! - `GET /scheduler/alerts?limit=N`: operator alerts, newest first.
//!
//! And the loopback-only web pages `/scheduler` and `/alerts`.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::access::Caller;
use super::{Auth, Routes, data, done};
use crate::app::App;
use crate::domain::accounts::{Action, Entry};
use crate::domain::alerts::alert_json;
use crate::error::AppError;
use crate::scheduler::{self, SchedulerError};

const ALERTS_PAGE: usize = 100;

impl From<SchedulerError> for AppError {
    fn from(e: SchedulerError) -> Self {
        match e {
            SchedulerError::UnknownJob(_) => AppError::NotFound(e.to_string()),
            SchedulerError::AlreadyRunning(_) => AppError::Conflict(e.to_string()),
            SchedulerError::Store(s) => AppError::from(s),
        }
    }
}

fn alerts_limit(q: &HashMap<String, String>) -> Result<usize, AppError> {
    match q.get("limit") {
        Some(l) => Ok(l
            .parse::<usize>()
            .map_err(|_| AppError::BadRequest(format!("limit {l:?} is not a number")))?
            .clamp(1, 1000)),
        None => Ok(ALERTS_PAGE),
    }
}

pub fn routes(auth: Auth) -> Routes {
    let list = warp::path!("scheduler" / "jobs")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|app: Caller| async move {
            done(
                scheduler::list(&app)
                    .map(|jobs| data(StatusCode::OK, json!(jobs)))
                    .map_err(AppError::from),
            )
        });
    let run = warp::path!("scheduler" / "jobs" / String / "run")
        .and(warp::post())
        .and(auth.clone())
        .and_then(|name: String, app: Caller| async move {
            let ran = async {
                let report = scheduler::run_now(&app.app, &name).await?;
                let entry = Entry::new(&app.actor, Action::ScheduledJobRun)
                    .subject(&name)
                    .details(json!({ "outcome": report }));
                crate::domain::accounts::audit::record(&app, entry).await?;
                Ok::<_, AppError>(data(StatusCode::OK, json!(report)))
            };
            done(ran.await)
        });
    let alerts = warp::path!("scheduler" / "alerts")
        .and(warp::get())
        .and(auth)
        .and(warp::query::<HashMap<String, String>>())
        .and_then(|app: Caller, q: HashMap<String, String>| async move {
            done((|| {
                let limit = alerts_limit(&q)?;
                let rows = app.store.read()?.alerts(limit)?;
                Ok(data(
                    StatusCode::OK,
                    Value::Array(rows.iter().map(alert_json).collect()),
                ))
            })())
        });
    list.or(run).unify().or(alerts).unify().boxed()
}

fn scheduler_page(app: &App, layout: web::Layout) -> Result<Response, AppError> {
    let jobs = scheduler::list(app)?
        .into_iter()
        .map(|j| web::ScheduledJobRow {
            name: j.name.to_string(),
            description: j.description.to_string(),
            schedule: j.schedule,
            next_run: j.next_run.unwrap_or_default(),
            running: j.running,
            last_finished: j.last_finished.unwrap_or_default(),
            last_outcome: j.last_outcome.unwrap_or_default(),
            last_message: j.last_message.unwrap_or_default(),
        })
        .collect();
    let html = web::SchedulerPage { layout, jobs }
        .render_html()
        .map_err(|e| AppError::Internal(format!("scheduler page: {e}")))?;
    Ok(warp::reply::html(html).into_response())
}

fn alerts_page(app: &App, layout: web::Layout) -> Result<Response, AppError> {
    let alerts = app
        .store
        .read()?
        .alerts(ALERTS_PAGE)?
        .into_iter()
        .map(|a| web::AlertRow {
            kind: a.kind,
            message: a.message,
            details: a.details,
            created_at: format_api_timestamp(a.created_at),
        })
        .collect();
    let html = web::AlertsPage { layout, alerts }
        .render_html()
        .map_err(|e| AppError::Internal(format!("alerts page: {e}")))?;
    Ok(warp::reply::html(html).into_response())
}

/// The banner after "run now" (`?ran=NAME`) or a job that was already running (`?running=`).
fn ran_banner(q: &HashMap<String, String>) -> Option<web::Banner> {
    let known = |name: &String| scheduler::Job::from_name(name).is_some();
    if let Some(name) = q.get("ran").filter(|n| known(n)) {
        return Some(web::Banner {
            message: format!("{name} has run: its outcome is in the table"),
            success: true,
        });
    }
    q.get("running")
        .filter(|n| known(n))
        .map(|name| web::Banner {
            message: format!("{name} is already running: try again when it has finished"),
            success: false,
        })
}

/// The `/scheduler` and `/alerts` pages, for a signed-in platform admin (or the developer
/// convenience of [`crate::pages::operator`]).
pub fn page_routes(app: Arc<App>) -> Routes {
    use crate::pages::operator::{OperatorAccess, operator};
    use crate::pages::platform_admin::{Section, operator_layout};
    let jobs = warp::path!("scheduler")
        .and(warp::get())
        .and(operator(app.clone()))
        .and(warp::query::<HashMap<String, String>>())
        .and_then(
            |admitted: OperatorAccess, q: HashMap<String, String>| async move {
                match admitted {
                    Ok(v) => {
                        let mut layout = operator_layout(&v, "Scheduled jobs", Section::Scheduler);
                        layout.banner = ran_banner(&q);
                        done(scheduler_page(&v.app, layout))
                    }
                    Err(refused) => Ok(*refused),
                }
            },
        );
    let alerts = warp::path!("alerts")
        .and(warp::get())
        .and(operator(app))
        .and_then(|admitted: OperatorAccess| async move {
            match admitted {
                Ok(v) => {
                    let layout = operator_layout(&v, "Alerts", Section::Alerts);
                    done(alerts_page(&v.app, layout))
                }
                Err(refused) => Ok(*refused),
            }
        });
    jobs.or(alerts).unify().boxed()
}
