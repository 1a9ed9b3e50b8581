//! Text-message provider shares at run time, on upstream's internal paths:
//! - `GET /provider-details`: every configured provider with its share, this month's billable
//!   texts and the last change (`{"provider_details": [...]}`);
//! - `GET /provider-details/{id}`: one provider;
//! - `GET /provider-details/{id}/versions`: its saved changes, newest first (`{"data": ...}`);
//! - `POST /provider-details/{id}` `{"priority"?, "active"?, "reason"?, "created_by"?}`: change
//!   a share or switch a provider off, saved (a new version) and in force at once.
//!
//! A provider's id is derived from its configured name. The rules live in
//! [`crate::domain::sms_routing`].

use bytes::Bytes;
use serde_json::{Map, Value, json};
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done, json_body, parse_body};
use crate::app::App;
use crate::domain::sms_routing::{self, ProviderUpdate};
use crate::error::{AppError, json_response};

fn providers(value: Value) -> Response {
    json_response(StatusCode::OK, &json!({ "provider_details": value }))
}

fn list(app: &App) -> Result<Response, AppError> {
    Ok(providers(Value::Array(sms_routing::list_providers(app)?)))
}

fn get(id: Uuid, app: &App) -> Result<Response, AppError> {
    Ok(providers(sms_routing::get_provider(app, id)?))
}

fn versions(id: Uuid, app: &App) -> Result<Response, AppError> {
    Ok(data(
        StatusCode::OK,
        Value::Array(sms_routing::provider_versions(app, id)?),
    ))
}

async fn update(id: Uuid, app: Caller, body: Bytes) -> Result<Response, AppError> {
    let body: Map<String, Value> = parse_body(&body)?;
    let update = ProviderUpdate::from_json(&body)?;
    let answer = sms_routing::update_provider(&app, id, update).await?;
    tracing::info!(provider_id = %id, "SMS provider share changed by hand");
    Ok(providers(answer))
}

pub fn routes(auth: Auth) -> Routes {
    let list = warp::path!("provider-details")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|app: Caller| async move { done(list(&app)) });
    let get = warp::path!("provider-details" / Uuid)
        .and(warp::get())
        .and(auth.clone())
        .and_then(|id, app: Caller| async move { done(get(id, &app)) });
    let versions = warp::path!("provider-details" / Uuid / "versions")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|id, app: Caller| async move { done(versions(id, &app)) });
    let update = warp::path!("provider-details" / Uuid)
        .and(warp::post())
        .and(auth)
        .and(json_body())
        .and_then(|id, app, body| async move { done(update(id, app, body).await) });
    list.or(get)
        .unify()
        .or(versions)
        .unify()
        .or(update)
        .unify()
        .boxed()
}
