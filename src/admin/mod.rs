//! The internal (admin) JSON API: managing services, keys and templates. Authenticated with an
//! admin token (see [`crate::auth`]). Paths follow upstream's internal API (`/service`,
//! `/service/{id}/api-key`, `/service/{id}/template`); bodies are `{"data": ...}`.
//! The CLI talks to it when a server already holds the data directory.

use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use storage::records::{Service, Template};
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::app::App;
use crate::auth::verify_admin_header;
use crate::domain::{api_keys, services, templates};
use crate::error::{AppError, admin_reject, json_response};

/// Largest internal-API request body.
const MAX_BODY: u64 = 2 * 1024 * 1024;

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
        "created_at": format_api_timestamp(s.created_at),
    })
}

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
    })
}

fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(|e| AppError::BadRequest(format!("Invalid JSON: {e}")))
}

fn data(status: StatusCode, value: Value) -> Response {
    json_response(status, &json!({ "data": value }))
}

/// Passes only requests with a valid admin token.
fn authorised(
    app: Arc<App>,
) -> impl Filter<Extract = (Arc<App>,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("authorization").and_then(move |header: Option<String>| {
        let app = app.clone();
        async move {
            let now = app.store.clock().now().timestamp();
            verify_admin_header(
                header.as_deref(),
                &app.config.admin.client_id,
                app.admin_secret.expose(),
                now,
            )
            .map_err(admin_reject)?;
            Ok::<_, warp::Rejection>(app)
        }
    })
}

fn json_body() -> impl Filter<Extract = (Bytes,), Error = warp::Rejection> + Clone {
    warp::body::content_length_limit(MAX_BODY).and(warp::body::bytes())
}

pub fn routes(
    app: Arc<App>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let auth = authorised(app);

    let list_services = warp::path!("service")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|app: Arc<App>| async move {
            let list = app.store.read().and_then(|r| r.list_services());
            let list = list.map_err(admin_reject)?;
            Ok::<_, warp::Rejection>(data(
                StatusCode::OK,
                Value::Array(list.iter().map(service_json).collect()),
            ))
        });

    let create_service = warp::path!("service")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|app: Arc<App>, body: Bytes| async move {
            let new: services::NewService = parse_body(&body).map_err(admin_reject)?;
            let service = services::create_service(&app.store, new)
                .await
                .map_err(admin_reject)?;
            tracing::info!(service_id = %service.id, "service created");
            Ok::<_, warp::Rejection>(data(StatusCode::CREATED, service_json(&service)))
        });

    let get_service = warp::path!("service" / Uuid)
        .and(warp::get())
        .and(auth.clone())
        .and_then(|id: Uuid, app: Arc<App>| async move {
            let service = services::get_service(&app.store, id).map_err(admin_reject)?;
            Ok::<_, warp::Rejection>(data(StatusCode::OK, service_json(&service)))
        });

    let create_api_key = warp::path!("service" / Uuid / "api-key")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|service_id: Uuid, app: Arc<App>, body: Bytes| async move {
            let new: api_keys::NewApiKey = parse_body(&body).map_err(admin_reject)?;
            let created = api_keys::create_api_key(&app.store, &app.sealer, service_id, new)
                .await
                .map_err(admin_reject)?;
            app.keys.invalidate(service_id);
            tracing::info!(%service_id, key_id = %created.id, key_type = created.key_type, "API key created");
            Ok::<_, warp::Rejection>(data(StatusCode::CREATED, json!(created)))
        });

    let create_template = warp::path!("service" / Uuid / "template")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|service_id: Uuid, app: Arc<App>, body: Bytes| async move {
            let new: templates::NewTemplate = parse_body(&body).map_err(admin_reject)?;
            let template = templates::create_template(&app.store, service_id, new)
                .await
                .map_err(admin_reject)?;
            tracing::info!(%service_id, template_id = %template.id, "template created");
            Ok::<_, warp::Rejection>(data(StatusCode::CREATED, template_json(&template)))
        });

    let rebuild_index = warp::path!("index" / "rebuild")
        .and(warp::post())
        .and(auth)
        .and_then(|app: Arc<App>| async move {
            let indexed = app.rebuild_index().await.map_err(admin_reject)?;
            tracing::info!(indexed, "search index rebuilt");
            Ok::<_, warp::Rejection>(data(StatusCode::OK, json!({ "indexed": indexed })))
        });

    list_services
        .or(create_service)
        .unify()
        .or(get_service)
        .unify()
        .or(create_api_key)
        .unify()
        .or(create_template)
        .unify()
        .or(rebuild_index)
        .unify()
}
