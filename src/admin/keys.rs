//! `/service/{id}/api-key` (create), `/service/{id}/api-keys` (list, get) and
//! `/service/{id}/api-key/revoke/{key_id}`. A key's secret is shown once, when it is created;
//! listings never include it.

use bytes::Bytes;
use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use storage::records::ApiKey;
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done, json_body, parse_body};
use crate::domain::api_keys;
use crate::error::AppError;

/// A stored key, without its secret.
fn key_json(k: &ApiKey) -> Value {
    json!({
        "id": k.id,
        "service_id": k.service_id,
        "name": k.name,
        "key_type": k.key_type.as_str(),
        "created_at": format_api_timestamp(k.created_at),
        "expiry_date": k.expiry_date.map(format_api_timestamp),
    })
}

async fn create(service_id: Uuid, app: Caller, body: Bytes) -> Result<Response, AppError> {
    let new: api_keys::NewApiKey = parse_body(&body)?;
    let created = api_keys::create_api_key(&app, &app.actor, service_id, new).await?;
    tracing::info!(%service_id, key_id = %created.id, key_type = created.key_type, "API key created");
    Ok(data(StatusCode::CREATED, json!(created)))
}

async fn list(service_id: Uuid, app: Caller) -> Result<Response, AppError> {
    let keys = api_keys::list_api_keys(&app.store, service_id)?;
    Ok(data(
        StatusCode::OK,
        Value::Array(keys.iter().map(key_json).collect()),
    ))
}

async fn get(service_id: Uuid, key_id: Uuid, app: Caller) -> Result<Response, AppError> {
    let key = api_keys::get_api_key(&app.store, service_id, key_id)?;
    Ok(data(StatusCode::OK, key_json(&key)))
}

async fn revoke(service_id: Uuid, key_id: Uuid, app: Caller) -> Result<Response, AppError> {
    let key = api_keys::revoke_api_key(&app, &app.actor, service_id, key_id).await?;
    tracing::info!(%service_id, %key_id, "API key revoked");
    Ok(data(StatusCode::ACCEPTED, key_json(&key)))
}

pub fn routes(auth: Auth) -> Routes {
    let create = warp::path!("service" / Uuid / "api-key")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(
            |id: Uuid, app: Caller, body: Bytes| async move { done(create(id, app, body).await) },
        );
    let list = warp::path!("service" / Uuid / "api-keys")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|id: Uuid, app: Caller| async move { done(list(id, app).await) });
    let get = warp::path!("service" / Uuid / "api-keys" / Uuid)
        .and(warp::get())
        .and(auth.clone())
        .and_then(
            |id: Uuid, key_id: Uuid, app: Caller| async move { done(get(id, key_id, app).await) },
        );
    let revoke = warp::path!("service" / Uuid / "api-key" / "revoke" / Uuid)
        .and(warp::post())
        .and(auth)
        .and_then(|id: Uuid, key_id: Uuid, app: Caller| async move {
            done(revoke(id, key_id, app).await)
        });
    create
        .or(list)
        .unify()
        .or(get)
        .unify()
        .or(revoke)
        .unify()
        .boxed()
}
