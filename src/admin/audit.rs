//! The audit trail: `GET /service/{id}/audit-events` (one service's) and `GET /audit-events`
//! (platform-wide), newest first, paged with `?before=<event id>&limit=<n>` (at most 500).

use std::collections::HashMap;

use serde_json::{Value, json};
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done};
use crate::domain::accounts::audit;
use crate::error::AppError;

/// Events per page unless `limit` says otherwise.
const DEFAULT_PAGE: usize = 50;

fn page(
    c: &Caller,
    service_id: Option<Uuid>,
    q: &HashMap<String, String>,
) -> Result<Response, AppError> {
    if let Some(id) = service_id {
        crate::domain::services::get_service(&c.store, id)?;
    }
    let before = match q.get("before") {
        Some(b) => Some(
            Uuid::parse_str(b)
                .map_err(|_| AppError::BadRequest("before: not an event id".into()))?,
        ),
        None => None,
    };
    let limit = match q.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| AppError::BadRequest("limit: not a number".into()))?,
        None => DEFAULT_PAGE,
    };
    let events = audit::list(c, service_id, before, limit)?;
    let older = (events.len() >= limit.clamp(1, 500))
        .then(|| events.last().map(|e| e.id))
        .flatten();
    Ok(data(
        StatusCode::OK,
        json!({
            "events": Value::Array(events.iter().map(audit::event_json).collect()),
            "older": older,
        }),
    ))
}

pub fn routes(auth: Auth) -> Routes {
    let service = warp::path!("service" / Uuid / "audit-events")
        .and(warp::get())
        .and(auth.clone())
        .and(warp::query::<HashMap<String, String>>())
        .and_then(
            |sid: Uuid, c: Caller, q: HashMap<String, String>| async move {
                done(page(&c, Some(sid), &q))
            },
        );
    let all = warp::path!("audit-events")
        .and(warp::get())
        .and(auth)
        .and(warp::query::<HashMap<String, String>>())
        .and_then(|c: Caller, q: HashMap<String, String>| async move { done(page(&c, None, &q)) });
    service.or(all).unify().boxed()
}
