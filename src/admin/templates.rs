//! `/service/{id}/template` (create, list), `/service/{id}/template/{template_id}` (get,
//! update: a new version), `.../archive`, `.../versions` and `.../version/{n}`.

use bytes::Bytes;
use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use storage::records::Template;
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done, json_body, parse_body, raw_query};
use crate::domain::templates;
use crate::error::AppError;

pub fn template_json(t: &Template) -> Value {
    json!({
        "id": t.id,
        "service": t.service_id,
        "name": t.name,
        "template_type": t.template_type.as_str(),
        "subject": t.subject,
        "content": t.content,
        "version": t.version,
        "archived": t.archived,
        "postage": t.postage,
        "created_at": format_api_timestamp(t.created_at),
        "updated_at": t.updated_at.map(format_api_timestamp),
        "created_by": t.created_by,
    })
}

fn list_json(list: &[Template]) -> Value {
    Value::Array(list.iter().map(template_json).collect())
}

async fn create(service_id: Uuid, app: Caller, body: Bytes) -> Result<Response, AppError> {
    let new: templates::NewTemplate = parse_body(&body)?;
    let template = templates::create_template(&app, &app.actor, service_id, new).await?;
    tracing::info!(%service_id, template_id = %template.id, "template created");
    Ok(data(StatusCode::CREATED, template_json(&template)))
}

/// `?template_type=sms|email|letter` and `?include_archived=true|false`.
async fn list(service_id: Uuid, app: Caller, query: String) -> Result<Response, AppError> {
    let mut template_type = None;
    let mut include_archived = false;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "template_type" => template_type = Some(templates::parse_template_type(&v)?),
            "include_archived" => {
                include_archived = match v.as_ref() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(AppError::BadRequest(
                            "include_archived must be true or false".into(),
                        ));
                    }
                }
            }
            other => {
                return Err(AppError::BadRequest(format!(
                    "Unknown query parameter {other}"
                )));
            }
        }
    }
    let list = templates::list_templates(&app.store, service_id, template_type, include_archived)?;
    Ok(data(StatusCode::OK, list_json(&list)))
}

async fn get(service_id: Uuid, id: Uuid, app: Caller) -> Result<Response, AppError> {
    let t = templates::get_template(&app.store, service_id, id)?;
    Ok(data(StatusCode::OK, template_json(&t)))
}

async fn update(
    service_id: Uuid,
    id: Uuid,
    app: Caller,
    body: Bytes,
) -> Result<Response, AppError> {
    let update: templates::TemplateUpdate = parse_body(&body)?;
    let t = templates::update_template(&app, &app.actor, service_id, id, update).await?;
    // Templates are read per request (not from the v2 key cache): nothing to invalidate.
    tracing::info!(%service_id, template_id = %id, version = t.version, "template updated");
    Ok(data(StatusCode::OK, template_json(&t)))
}

async fn archive(service_id: Uuid, id: Uuid, app: Caller) -> Result<Response, AppError> {
    let t = templates::archive_template(&app, &app.actor, service_id, id).await?;
    tracing::info!(%service_id, template_id = %id, "template archived");
    Ok(data(StatusCode::OK, template_json(&t)))
}

async fn versions(service_id: Uuid, id: Uuid, app: Caller) -> Result<Response, AppError> {
    let list = templates::template_versions(&app.store, service_id, id)?;
    Ok(data(StatusCode::OK, list_json(&list)))
}

async fn version(
    service_id: Uuid,
    id: Uuid,
    version: u32,
    app: Caller,
) -> Result<Response, AppError> {
    let t = templates::get_template_version(&app.store, service_id, id, version)?;
    Ok(data(StatusCode::OK, template_json(&t)))
}

pub fn routes(auth: Auth) -> Routes {
    let create = warp::path!("service" / Uuid / "template")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|sid: Uuid, app: Caller, body: Bytes| async move {
            done(create(sid, app, body).await)
        });
    let list = warp::path!("service" / Uuid / "template")
        .and(warp::get())
        .and(auth.clone())
        .and(raw_query())
        .and_then(|sid: Uuid, app: Caller, query: String| async move {
            done(list(sid, app, query).await)
        });
    let get = warp::path!("service" / Uuid / "template" / Uuid)
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid: Uuid, id: Uuid, app: Caller| async move { done(get(sid, id, app).await) });
    let update = warp::path!("service" / Uuid / "template" / Uuid)
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|sid: Uuid, id: Uuid, app: Caller, body: Bytes| async move {
            done(update(sid, id, app, body).await)
        });
    let archive = warp::path!("service" / Uuid / "template" / Uuid / "archive")
        .and(warp::post())
        .and(auth.clone())
        .and_then(
            |sid: Uuid, id: Uuid, app: Caller| async move { done(archive(sid, id, app).await) },
        );
    let versions = warp::path!("service" / Uuid / "template" / Uuid / "versions")
        .and(warp::get())
        .and(auth.clone())
        .and_then(
            |sid: Uuid, id: Uuid, app: Caller| async move { done(versions(sid, id, app).await) },
        );
    let version = warp::path!("service" / Uuid / "template" / Uuid / "version" / u32)
        .and(warp::get())
        .and(auth)
        .and_then(|sid: Uuid, id: Uuid, v: u32, app: Caller| async move {
            done(version(sid, id, v, app).await)
        });
    create
        .or(list)
        .unify()
        .or(get)
        .unify()
        .or(update)
        .unify()
        .or(archive)
        .unify()
        .or(versions)
        .unify()
        .or(version)
        .unify()
        .boxed()
}
