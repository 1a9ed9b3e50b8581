//! `/v2/template` and `/v2/templates` (§5.8–§5.10).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use storage::clock::format_api_timestamp;
use storage::records::{NotificationType, Template};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::schema::{Checker, parse_uuid};
use super::{V2, authed, body, parse_json_object, query_pairs, raw_query};
use crate::app::App;
use crate::domain::content;
use crate::error::{AppError, json_response, v2_reject};

fn contact_block(v2: &V2, t: &Template) -> Option<String> {
    t.letter_contact_id.and_then(|id| {
        v2.caller
            .service()
            .letter_contacts
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.contact_block.clone())
    })
}

/// The template object of §5.8.
pub fn template_json(v2: &V2, t: &Template) -> Value {
    let block = contact_block(v2, t);
    let personalisation: Map<String, Value> = content::template_placeholders(t, block.as_deref())
        .into_iter()
        .map(|name| (name, json!({"required": true})))
        .collect();
    json!({
        "id": t.id,
        "name": t.name,
        "type": t.template_type.as_str(),
        "created_at": format_api_timestamp(t.created_at),
        "updated_at": t.updated_at.map(format_api_timestamp),
        // Upstream: the author's email address (the operator's id when no person made it).
        "created_by": crate::domain::templates::author(&v2.app.store, t)
            .map(|a| a.email_address)
            .unwrap_or_else(|_| crate::domain::templates::OPERATOR_ID.to_string()),
        "version": t.version,
        "body": t.content,
        "subject": if t.template_type == NotificationType::Sms { Value::Null } else { json!(t.subject) },
        "personalisation": personalisation,
        "postage": if t.template_type == NotificationType::Letter { json!(t.postage) } else { Value::Null },
        "letter_contact_block": block,
    })
}

fn parse_template_id(text: &str) -> Result<uuid::Uuid, AppError> {
    parse_uuid(text).ok_or_else(|| AppError::Validation(vec!["id is not a valid UUID".into()]))
}

/// A visible template of the caller's service, at `version` (0 or none = latest).
fn find(v2: &V2, id_text: &str, version: Option<u32>) -> Result<Template, AppError> {
    let id = parse_template_id(id_text)?;
    let reader = v2.app.store.read()?;
    let latest = reader
        .get_template(id)?
        .filter(|t| t.service_id == v2.caller.service().id && !t.hidden)
        .ok_or(AppError::NoResult)?;
    match version {
        None | Some(0) => Ok(latest),
        Some(v) => reader
            .get_template_version(id, v)?
            .ok_or(AppError::NoResult),
    }
}

fn list(v2: &V2, raw: &str) -> Result<Response, AppError> {
    let mut errors = Vec::new();
    let mut wanted = None;
    let mut unexpected: Vec<String> = Vec::new();
    for (k, v) in query_pairs(raw) {
        match k.as_str() {
            "type" => match NotificationType::parse(&v) {
                Some(t) => wanted = Some(t),
                None => errors.push(format!("type {v} is not one of [sms, email, letter]")),
            },
            _ if !unexpected.contains(&k) => unexpected.push(k),
            _ => {}
        }
    }
    errors.extend(super::schema::additional_properties(&unexpected));
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let mut templates: Vec<Template> = v2
        .app
        .store
        .read()?
        .service_templates(v2.caller.service().id)?
        .into_iter()
        .filter(|t| !t.archived && !t.hidden && wanted.is_none_or(|w| t.template_type == w))
        .collect();
    templates.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then(a.template_type.as_str().cmp(b.template_type.as_str()))
    });
    Ok(json_response(
        StatusCode::OK,
        &json!({"templates": templates.iter().map(|t| template_json(v2, t)).collect::<Vec<_>>()}),
    ))
}

fn preview(v2: &V2, id_text: &str, raw: &Bytes) -> Result<Response, AppError> {
    let id = parse_template_id(id_text)?;
    let body = parse_json_object(raw, true)?;
    let mut c = Checker::new(&body);
    let personalisation = match c.get("personalisation") {
        None | Some(Value::Null) => Map::new(),
        Some(_) => c.object("personalisation").cloned().unwrap_or_default(),
    };
    c.finish()?;
    let template = v2
        .app
        .store
        .read()?
        .get_template(id)?
        .filter(|t| t.service_id == v2.caller.service().id && !t.hidden)
        .ok_or(AppError::NoResult)?;
    let (body, html, subject) = match template.template_type {
        NotificationType::Sms => (
            content::sms(&template, &personalisation, None)?.body,
            None,
            None,
        ),
        NotificationType::Email => {
            let r = content::email(&template, &personalisation)?;
            let html = content::email_html(&template, &personalisation);
            (r.body, Some(html), Some(r.subject))
        }
        NotificationType::Letter => {
            let block = contact_block(v2, &template);
            let r = content::letter(&template, &personalisation, block.as_deref())?;
            (r.body, None, Some(r.subject))
        }
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "id": template.id,
            "type": template.template_type.as_str(),
            "version": template.version,
            "body": body,
            "html": html,
            "subject": subject,
            "postage": template.postage,
        }),
    ))
}

pub fn routes(
    app: Arc<App>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let auth = authed(app);
    let one = warp::path!("v2" / "template" / String)
        .and(warp::get())
        .and(auth.clone())
        .and_then(|id: String, v2: V2| async move {
            find(&v2, &id, None)
                .map(|t| json_response(StatusCode::OK, &template_json(&v2, &t)))
                .map_err(v2_reject)
        });
    let version = warp::path!("v2" / "template" / String / "version" / u32)
        .and(warp::get())
        .and(auth.clone())
        .and_then(|id: String, v: u32, v2: V2| async move {
            find(&v2, &id, Some(v))
                .map(|t| json_response(StatusCode::OK, &template_json(&v2, &t)))
                .map_err(v2_reject)
        });
    let all = warp::path!("v2" / "templates")
        .and(warp::get())
        .and(auth.clone())
        .and(raw_query())
        .and_then(|v2: V2, q: String| async move { list(&v2, &q).map_err(v2_reject) });
    let preview_route = warp::path!("v2" / "template" / String / "preview")
        .and(warp::post())
        .and(auth)
        .and(body())
        .and_then(|id: String, v2: V2, b: Bytes| async move {
            preview(&v2, &id, &b).map_err(v2_reject)
        });
    one.or(version)
        .unify()
        .or(all)
        .unify()
        .or(preview_route)
        .unify()
}
