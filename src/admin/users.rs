//! Team members: `/user` (create), `/user/{id}`, and `/service/{id}/users` (list), with
//! `/service/{id}/users/{user_id}` to add (POST) and remove (DELETE) a member.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use storage::records::User;
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::{Auth, Routes, data, done, json_body, no_content, parse_body, service_json};
use crate::app::App;
use crate::domain::{services, users};
use crate::error::AppError;

fn user_json(u: &User) -> Value {
    json!({
        "id": u.id,
        "name": u.name,
        "email_address": u.email_address,
        "mobile_number": u.mobile_number,
        "created_at": format_api_timestamp(u.created_at),
    })
}

async fn create(app: Arc<App>, body: Bytes) -> Result<Response, AppError> {
    let new: users::NewUser = parse_body(&body)?;
    let user = users::create_user(&app.store, new).await?;
    tracing::info!(user_id = %user.id, "user created");
    Ok(data(StatusCode::CREATED, user_json(&user)))
}

async fn get(id: Uuid, app: Arc<App>) -> Result<Response, AppError> {
    let user = users::get_user(&app.store, id)?;
    Ok(data(StatusCode::OK, user_json(&user)))
}

async fn list(service_id: Uuid, app: Arc<App>) -> Result<Response, AppError> {
    let list = users::service_users(&app.store, service_id)?;
    Ok(data(
        StatusCode::OK,
        Value::Array(list.iter().map(user_json).collect()),
    ))
}

/// Answers the service, as upstream does.
async fn add(service_id: Uuid, user_id: Uuid, app: Arc<App>) -> Result<Response, AppError> {
    users::add_user_to_service(&app, service_id, user_id).await?;
    tracing::info!(%service_id, %user_id, "user added to service");
    let service = services::get_service(&app.store, service_id)?;
    Ok(data(StatusCode::CREATED, service_json(&service)))
}

async fn remove(service_id: Uuid, user_id: Uuid, app: Arc<App>) -> Result<Response, AppError> {
    users::remove_user_from_service(&app, service_id, user_id).await?;
    tracing::info!(%service_id, %user_id, "user removed from service");
    Ok(no_content())
}

pub fn routes(auth: Auth) -> Routes {
    let create = warp::path!("user")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|app: Arc<App>, body: Bytes| async move { done(create(app, body).await) });
    let get = warp::path!("user" / Uuid)
        .and(warp::get())
        .and(auth.clone())
        .and_then(|id: Uuid, app: Arc<App>| async move { done(get(id, app).await) });
    let list = warp::path!("service" / Uuid / "users")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid: Uuid, app: Arc<App>| async move { done(list(sid, app).await) });
    let add = warp::path!("service" / Uuid / "users" / Uuid)
        .and(warp::post())
        .and(auth.clone())
        .and_then(
            |sid: Uuid, uid: Uuid, app: Arc<App>| async move { done(add(sid, uid, app).await) },
        );
    let remove = warp::path!("service" / Uuid / "users" / Uuid)
        .and(warp::delete())
        .and(auth)
        .and_then(|sid: Uuid, uid: Uuid, app: Arc<App>| async move {
            done(remove(sid, uid, app).await)
        });
    create
        .or(get)
        .unify()
        .or(list)
        .unify()
        .or(add)
        .unify()
        .or(remove)
        .unify()
        .boxed()
}
