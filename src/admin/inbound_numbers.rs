//! The inbound-number pool, on upstream's internal paths:
//! - `GET /inbound-number`: every number, with the service it is assigned to;
//! - `GET /inbound-number/available`: numbers no service has;
//! - `POST /inbound-number` `{"number", "provider"?}`: a number for the pool (upstream loads
//!   them with a command; `notify inbound-number add` calls this);
//! - `GET /inbound-number/service/{id}`: the service's number (`{}` when none);
//! - `POST /inbound-number/service/{id}` `{"inbound_number_id"?}`: assign the chosen number (or
//!   the oldest available); answers the service's text message sender it became (201);
//! - `POST /inbound-number/service/{id}/off`: switch the service's number off (204);
//! - `POST /service/{id}/inbound-sms/remove` `{"archive": bool}`: stop the service receiving
//!   texts and release its number (back to the pool, or retired with `archive`).
//!
//! The rules live in [`crate::domain::inbound_numbers`].

use bytes::Bytes;
use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use storage::records::{InboundNumber, Service};
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::senders::sms_sender_json;
use super::{Auth, Routes, data, done, json_body, no_content, parse_body};
use crate::app::App;
use crate::domain::inbound_numbers::{self, AssignInboundNumber, NewInboundNumber};
use crate::error::AppError;

/// A number as upstream serialises it (`service` is `{id, name}` or null).
pub fn inbound_number_json(n: &InboundNumber, service: Option<&Service>) -> Value {
    json!({
        "id": n.id,
        "number": n.number,
        "provider": n.provider,
        "service": service.map(|s| json!({"id": s.id, "name": s.name})),
        "active": n.active,
        "created_at": format_api_timestamp(n.created_at),
        "updated_at": n.updated_at.map(format_api_timestamp),
    })
}

/// A body that may be empty (`{}` assumed), as upstream's optional fields allow.
fn optional_body<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_body(body)
}

fn list(app: &App) -> Result<Response, AppError> {
    let all = inbound_numbers::list_inbound_numbers(app)?;
    let list: Vec<Value> = all
        .iter()
        .map(|(n, s)| inbound_number_json(n, s.as_ref()))
        .collect();
    Ok(data(StatusCode::OK, Value::Array(list)))
}

fn available(app: &App) -> Result<Response, AppError> {
    let list: Vec<Value> = inbound_numbers::available_inbound_numbers(app)?
        .iter()
        .map(|n| inbound_number_json(n, None))
        .collect();
    Ok(data(StatusCode::OK, Value::Array(list)))
}

async fn add(app: Caller, body: Bytes) -> Result<Response, AppError> {
    let new: NewInboundNumber = parse_body(&body)?;
    let n = inbound_numbers::add_inbound_number(&app, new).await?;
    Ok(data(StatusCode::CREATED, inbound_number_json(&n, None)))
}

fn for_service(service_id: Uuid, app: &App) -> Result<Response, AppError> {
    let service = crate::domain::services::get_service(&app.store, service_id)?;
    let answer = match inbound_numbers::inbound_number_for_service(app, service_id)? {
        Some(n) => inbound_number_json(&n, Some(&service)),
        None => json!({}),
    };
    Ok(data(StatusCode::OK, answer))
}

async fn assign(service_id: Uuid, app: Caller, body: Bytes) -> Result<Response, AppError> {
    let request: AssignInboundNumber = optional_body(&body)?;
    let (_, sender) = inbound_numbers::assign_inbound_number(&app, service_id, request).await?;
    // Upstream answers the sender itself, not wrapped in `data`.
    Ok(crate::error::json_response(
        StatusCode::CREATED,
        &sms_sender_json(service_id, &sender),
    ))
}

async fn off(service_id: Uuid, app: Caller) -> Result<Response, AppError> {
    inbound_numbers::switch_off_for_service(&app, service_id).await?;
    Ok(no_content())
}

async fn remove(service_id: Uuid, app: Caller, body: Bytes) -> Result<Response, AppError> {
    let request: inbound_numbers::RemoveInboundSms = optional_body(&body)?;
    let released = inbound_numbers::remove_inbound_sms(&app, service_id, request).await?;
    let answer = match released {
        Some(n) => inbound_number_json(&n, None),
        None => json!({}),
    };
    Ok(data(StatusCode::OK, answer))
}

pub fn routes(auth: Auth) -> Routes {
    let list = warp::path!("inbound-number")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|app: Caller| async move { done(list(&app)) });
    let add = warp::path!("inbound-number")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|app, body| async move { done(add(app, body).await) });
    let available = warp::path!("inbound-number" / "available")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|app: Caller| async move { done(available(&app)) });
    let get = warp::path!("inbound-number" / "service" / Uuid)
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid, app: Caller| async move { done(for_service(sid, &app)) });
    let assign = warp::path!("inbound-number" / "service" / Uuid)
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|sid, app, body| async move { done(assign(sid, app, body).await) });
    let off = warp::path!("inbound-number" / "service" / Uuid / "off")
        .and(warp::post())
        .and(auth.clone())
        .and_then(|sid, app| async move { done(off(sid, app).await) });
    let remove = warp::path!("service" / Uuid / "inbound-sms" / "remove")
        .and(warp::post())
        .and(auth)
        .and(json_body())
        .and_then(|sid, app, body| async move { done(remove(sid, app, body).await) });
    list.or(add)
        .unify()
        .or(available)
        .unify()
        .or(get)
        .unify()
        .or(assign)
        .unify()
        .or(off)
        .unify()
        .or(remove)
        .unify()
        .boxed()
}
