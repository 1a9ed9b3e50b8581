//! `/service/{id}/template` (create, list), `/service/{id}/template/{template_id}` (get,
//! update: a new version), `.../archive`, `.../versions` and `.../version/{n}`.

use bytes::Bytes;
use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use storage::records::{NotificationType, Service, Template};
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done, json_body, parse_body, raw_query};
use crate::app::App;
use crate::domain::services::{self, SenderEntry};
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
        // A person's id, or the operator's: never null (upstream always names the author).
        "created_by": t.created_by.unwrap_or(crate::domain::templates::OPERATOR_ID),
    })
}

/// [`template_json`] with what the service decides, as upstream's template schema has it:
/// `reply_to` (letters: the contact block's id), `reply_to_text` (the contact block, the
/// default reply-to address, or the default text message sender), `letter_contact_block`
/// (as in v2) and `has_unsubscribe_link`.
pub fn template_json_for(service: &Service, t: &Template, unsubscribe_link: bool) -> Value {
    let mut v = template_json(t);
    let block = crate::domain::sending::letter_contact_block(service, t);
    let reply_to_text = match t.template_type {
        NotificationType::Letter => block.clone(),
        NotificationType::Email => default_of(&service.email_reply_to, |r| &r.email_address),
        NotificationType::Sms => default_of(&service.sms_senders, |s| &s.sms_sender),
    };
    v["reply_to"] = json!(t.letter_contact_id);
    v["reply_to_text"] = json!(reply_to_text);
    v["letter_contact_block"] = json!(block);
    v["has_unsubscribe_link"] = json!(unsubscribe_link);
    v
}

fn default_of<T: SenderEntry>(entries: &[T], text: impl Fn(&T) -> &String) -> Option<String> {
    entries
        .iter()
        .find(|e| e.is_default() && !e.archived())
        .map(|e| text(e).clone())
}

/// A template as the routes answer it (see [`template_json_for`]).
fn full_json(app: &App, t: &Template) -> Result<Value, AppError> {
    let service = services::get_service(&app.store, t.service_id)?;
    let link = templates::has_unsubscribe_link(&app.store, t.id)?;
    Ok(template_json_for(&service, t, link))
}

fn list_json(app: &App, list: &[Template]) -> Result<Value, AppError> {
    Ok(Value::Array(
        list.iter()
            .map(|t| full_json(app, t))
            .collect::<Result<_, _>>()?,
    ))
}

async fn create(service_id: Uuid, app: Caller, body: Bytes) -> Result<Response, AppError> {
    let new: templates::NewTemplate = parse_body(&body)?;
    let template = templates::create_template(&app, &app.actor, service_id, new).await?;
    tracing::info!(%service_id, template_id = %template.id, "template created");
    Ok(data(StatusCode::CREATED, full_json(&app, &template)?))
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
    Ok(data(StatusCode::OK, list_json(&app, &list)?))
}

async fn get(service_id: Uuid, id: Uuid, app: Caller) -> Result<Response, AppError> {
    let t = templates::get_template(&app.store, service_id, id)?;
    Ok(data(StatusCode::OK, full_json(&app, &t)?))
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
    Ok(data(StatusCode::OK, full_json(&app, &t)?))
}

async fn archive(service_id: Uuid, id: Uuid, app: Caller) -> Result<Response, AppError> {
    let t = templates::archive_template(&app, &app.actor, service_id, id).await?;
    tracing::info!(%service_id, template_id = %id, "template archived");
    Ok(data(StatusCode::OK, full_json(&app, &t)?))
}

async fn versions(service_id: Uuid, id: Uuid, app: Caller) -> Result<Response, AppError> {
    let list = templates::template_versions(&app.store, service_id, id)?;
    Ok(data(StatusCode::OK, list_json(&app, &list)?))
}

async fn version(
    service_id: Uuid,
    id: Uuid,
    version: u32,
    app: Caller,
) -> Result<Response, AppError> {
    let t = templates::get_template_version(&app.store, service_id, id, version)?;
    Ok(data(StatusCode::OK, full_json(&app, &t)?))
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
