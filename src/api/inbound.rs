//! `GET /v2/received-text-messages` (§5.11).

use std::sync::Arc;

use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::schema::parse_uuid;
use super::{V2, authed, query_pairs, raw_query};
use crate::error::{AppError, json_response, v2_reject};

pub const PAGE_SIZE: usize = 250;

fn list(v2: &V2, raw: &str) -> Result<Response, AppError> {
    let mut errors = Vec::new();
    let mut older_than = None;
    let mut unexpected = Vec::new();
    for (k, v) in query_pairs(raw) {
        match k.as_str() {
            "older_than" => match parse_uuid(&v) {
                Some(id) => older_than = Some(id),
                None => errors.push("older_than is not a valid UUID".to_string()),
            },
            _ if !unexpected.contains(&k) => unexpected.push(k),
            _ => {}
        }
    }
    errors.extend(super::schema::additional_properties(&unexpected));
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let service_id = v2.caller.service().id;
    let reader = v2.app.store.read()?;
    let items = match older_than {
        Some(id) => match reader.get_inbound_sms(id)? {
            Some(anchor) if anchor.service_id == service_id => {
                reader.service_inbound_sms(service_id, Some(id), PAGE_SIZE)?
            }
            _ => Vec::new(),
        },
        None => reader.service_inbound_sms(service_id, None, PAGE_SIZE)?,
    };
    let current = format!("{}v2/received-text-messages", v2.root);
    let mut links = json!({ "current": current });
    if let Some(last) = items.last() {
        links["next"] = json!(format!("{current}?older_than={}", last.id));
    }
    let messages: Vec<Value> = items
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "created_at": format_api_timestamp(m.created_at),
                "service_id": m.service_id,
                "notify_number": m.notify_number,
                "user_number": m.user_number,
                "content": m.content,
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"received_text_messages": messages, "links": links}),
    ))
}

pub fn routes(
    app: Arc<App>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::path!("v2" / "received-text-messages")
        .and(warp::get())
        .and(authed(app))
        .and(raw_query())
        .and_then(|v2: V2, q: String| async move { list(&v2, &q).map_err(v2_reject) })
}

use crate::app::App;
