//! `/service`, `/service/{id}`, `/service/{id}/archive`, `/service/{id}/guest-list`.

use bytes::Bytes;
use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use storage::records::Service;
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done, json_body, no_content, parse_body};
use crate::domain::services;
use crate::error::AppError;

pub fn service_json(s: &Service) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "active": s.active,
        "restricted": s.restricted,
        "rate_limit": s.rate_limit,
        "email_message_limit": s.email_message_limit,
        "sms_message_limit": s.sms_message_limit,
        "letter_message_limit": s.letter_message_limit,
        "international_sms_message_limit": s.international_sms_message_limit,
        "permissions": s.permissions,
        "email_sender_local_part": s.email_sender_local_part,
        "prefix_sms": s.prefix_sms,
        "contact_link": s.contact_link,
        "created_at": format_api_timestamp(s.created_at),
        "updated_at": s.updated_at.map(format_api_timestamp),
    })
}

async fn list(app: Caller) -> Result<Response, AppError> {
    let list = app.store.read()?.list_services()?;
    Ok(data(
        StatusCode::OK,
        Value::Array(list.iter().map(service_json).collect()),
    ))
}

async fn create(app: Caller, body: Bytes) -> Result<Response, AppError> {
    let new: services::NewService = parse_body(&body)?;
    let service = services::create_service(&app, &app.actor, new).await?;
    tracing::info!(service_id = %service.id, "service created");
    Ok(data(StatusCode::CREATED, service_json(&service)))
}

async fn get(id: Uuid, app: Caller) -> Result<Response, AppError> {
    let service = services::get_service(&app.store, id)?;
    Ok(data(StatusCode::OK, service_json(&service)))
}

async fn update(id: Uuid, app: Caller, body: Bytes) -> Result<Response, AppError> {
    let update: services::ServiceUpdate = parse_body(&body)?;
    let service = services::update_service(&app, &app.actor, id, update).await?;
    tracing::info!(service_id = %id, "service updated");
    Ok(data(StatusCode::OK, service_json(&service)))
}

async fn archive(id: Uuid, app: Caller) -> Result<Response, AppError> {
    services::archive_service(&app, &app.actor, id).await?;
    tracing::info!(service_id = %id, "service archived");
    Ok(no_content())
}

async fn get_guest_list(id: Uuid, app: Caller) -> Result<Response, AppError> {
    let service = services::get_service(&app.store, id)?;
    Ok(data(
        StatusCode::OK,
        json!(services::split_guest_list(&service.guest_list)),
    ))
}

async fn put_guest_list(id: Uuid, app: Caller, body: Bytes) -> Result<Response, AppError> {
    let list: services::GuestList = parse_body(&body)?;
    let stored = services::set_guest_list(&app, &app.actor, id, list).await?;
    tracing::info!(service_id = %id, "guest list replaced");
    Ok(data(StatusCode::OK, json!(stored)))
}

pub fn routes(auth: Auth) -> Routes {
    let list = warp::path!("service")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|app: Caller| async move { done(list(app).await) });
    let create = warp::path!("service")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|app: Caller, body: Bytes| async move { done(create(app, body).await) });
    let get = warp::path!("service" / Uuid)
        .and(warp::get())
        .and(auth.clone())
        .and_then(|id: Uuid, app: Caller| async move { done(get(id, app).await) });
    let update = warp::path!("service" / Uuid)
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(
            |id: Uuid, app: Caller, body: Bytes| async move { done(update(id, app, body).await) },
        );
    let archive = warp::path!("service" / Uuid / "archive")
        .and(warp::post())
        .and(auth.clone())
        .and_then(|id: Uuid, app: Caller| async move { done(archive(id, app).await) });
    let get_guest_list = warp::path!("service" / Uuid / "guest-list")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|id: Uuid, app: Caller| async move { done(get_guest_list(id, app).await) });
    let put_guest_list = warp::path!("service" / Uuid / "guest-list")
        .and(warp::put())
        .and(auth)
        .and(json_body())
        .and_then(|id: Uuid, app: Caller, body: Bytes| async move {
            done(put_guest_list(id, app, body).await)
        });
    list.or(create)
        .unify()
        .or(get)
        .unify()
        .or(update)
        .unify()
        .or(archive)
        .unify()
        .or(get_guest_list)
        .unify()
        .or(put_guest_list)
        .unify()
        .boxed()
}
