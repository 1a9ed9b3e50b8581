//! Data retention settings, on upstream's internal paths (workers.md §5.1):
//! - `GET /service/{id}/data-retention`: the service's settings;
//! - `POST /service/{id}/data-retention` `{"notification_type", "days_of_retention"}`: add one
//!   (201; one per type, a second is 400 `Service already has data retention for sms
//!   notification type`);
//! - `GET /service/{id}/data-retention/notification-type/{type}`: the setting for a type, or
//!   `{}` when the service keeps the default (as upstream);
//! - `GET /service/{id}/data-retention/{retention_id}`: one setting (404 when unknown);
//! - `POST /service/{id}/data-retention/{retention_id}` `{"days_of_retention"}`: change it (204).
//!
//! Answers use this API's `{"data": ...}` envelope. The rules live in
//! [`crate::domain::retention`]; the nightly jobs read the settings when they run.

use bytes::Bytes;
use serde_json::{Value, json};
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done, json_body, no_content, parse_body};
use crate::app::App;
use crate::domain::retention::{
    create_setting, list_settings, parse_type, setting_by_id, setting_for_type, setting_json,
    update_setting,
};
use crate::error::AppError;

fn list(service_id: Uuid, app: &App) -> Result<Response, AppError> {
    let (service, settings) = list_settings(&app.store, service_id)?;
    let items: Vec<Value> = settings.iter().map(|r| setting_json(r, &service)).collect();
    Ok(data(StatusCode::OK, json!(items)))
}

fn by_type(service_id: Uuid, kind: String, app: &App) -> Result<Response, AppError> {
    let kind = parse_type(Some(&Value::String(kind)))?;
    let (service, found) = setting_for_type(&app.store, service_id, kind)?;
    let body = found.map_or_else(|| json!({}), |r| setting_json(&r, &service));
    Ok(data(StatusCode::OK, body))
}

fn by_id(service_id: Uuid, id: Uuid, app: &App) -> Result<Response, AppError> {
    let (service, setting) = setting_by_id(&app.store, service_id, id)?;
    Ok(data(StatusCode::OK, setting_json(&setting, &service)))
}

async fn create(service_id: Uuid, app: Caller, body: Bytes) -> Result<Response, AppError> {
    let body: Value = parse_body(&body)?;
    let (service, setting) = create_setting(&app.store, service_id, &body).await?;
    Ok(data(StatusCode::CREATED, setting_json(&setting, &service)))
}

async fn update(
    service_id: Uuid,
    id: Uuid,
    app: Caller,
    body: Bytes,
) -> Result<Response, AppError> {
    let body: Value = parse_body(&body)?;
    update_setting(&app.store, service_id, id, &body).await?;
    Ok(no_content())
}

pub fn routes(auth: Auth) -> Routes {
    let list = warp::path!("service" / Uuid / "data-retention")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid, app: Caller| async move { done(list(sid, &app)) });
    let add = warp::path!("service" / Uuid / "data-retention")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|sid, app, body| async move { done(create(sid, app, body).await) });
    let of_type = warp::path!("service" / Uuid / "data-retention" / "notification-type" / String)
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid, kind, app: Caller| async move { done(by_type(sid, kind, &app)) });
    let get = warp::path!("service" / Uuid / "data-retention" / Uuid)
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid, id, app: Caller| async move { done(by_id(sid, id, &app)) });
    let change = warp::path!("service" / Uuid / "data-retention" / Uuid)
        .and(warp::post())
        .and(auth)
        .and(json_body())
        .and_then(|sid, id, app, body| async move { done(update(sid, id, app, body).await) });
    list.or(add)
        .unify()
        .or(of_type)
        .unify()
        .or(get)
        .unify()
        .or(change)
        .unify()
        .boxed()
}
