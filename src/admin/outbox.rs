//! The outbox sink's messages: `GET /outbox/messages?before=SEQ&limit=N` (internal API, newest
//! first) and the web page `GET /outbox`. The page shows personal data with no login, so it
//! answers only requests from the machine itself (loopback), where a developer runs the
//! embedded default.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use storage::records::OutboxMessage;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::access::Caller;
use super::{Auth, Routes, data, done};
use crate::app::App;
use crate::error::AppError;

const PAGE: usize = 50;

fn message_json(seq: u64, m: &OutboxMessage) -> Value {
    json!({
        "seq": seq,
        "notification_id": m.notification_id,
        "service_id": m.service_id,
        "notification_type": m.notification_type.as_str(),
        "to": m.to,
        "from": m.from,
        "reply_to": m.reply_to,
        "subject": m.subject,
        "body": m.body,
        "html": m.html,
        "unsubscribe_url": m.unsubscribe_url,
        "created_at": format_api_timestamp(m.created_at),
    })
}

fn page_args(q: &HashMap<String, String>) -> Result<(Option<u64>, usize), AppError> {
    let before = match q.get("before") {
        Some(b) => Some(
            b.parse::<u64>()
                .map_err(|_| AppError::BadRequest(format!("before {b:?} is not a number")))?,
        ),
        None => None,
    };
    let limit = match q.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| AppError::BadRequest(format!("limit {l:?} is not a number")))?
            .clamp(1, 500),
        None => PAGE,
    };
    Ok((before, limit))
}

fn list(app: &App, q: &HashMap<String, String>) -> Result<Response, AppError> {
    let (before, limit) = page_args(q)?;
    let rows = app.store.read()?.outbox_messages(before, limit)?;
    Ok(data(
        StatusCode::OK,
        Value::Array(rows.iter().map(|(s, m)| message_json(*s, m)).collect()),
    ))
}

fn page(app: &App, q: &HashMap<String, String>, layout: web::Layout) -> Result<Response, AppError> {
    let (before, limit) = page_args(q)?;
    let rows = app.store.read()?.outbox_messages(before, limit)?;
    let older = (rows.len() == limit)
        .then(|| rows.last().map(|(s, _)| *s))
        .flatten();
    let messages = rows
        .into_iter()
        .map(|(_, m)| web::OutboxEntry {
            notification_id: m.notification_id.to_string(),
            to: m.to,
            from: m.from,
            reply_to: m.reply_to,
            subject: m.subject,
            body: m.body,
            unsubscribe_url: m.unsubscribe_url,
            created_at: format_api_timestamp(m.created_at),
        })
        .collect();
    let html = web::OutboxPage {
        layout,
        messages,
        older,
    }
    .render_html()
    .map_err(|e| AppError::Internal(format!("outbox page: {e}")))?;
    Ok(warp::reply::html(html).into_response())
}

pub fn routes(auth: Auth) -> Routes {
    let list = warp::path!("outbox" / "messages")
        .and(warp::get())
        .and(auth)
        .and(warp::query::<HashMap<String, String>>())
        .and_then(|app: Caller, q: HashMap<String, String>| async move { done(list(&app, &q)) });
    list.boxed()
}

/// The web page, for a signed-in platform admin (or the developer convenience of
/// [`crate::pages::operator`]).
pub fn page_route(app: Arc<App>) -> Routes {
    warp::path!("outbox")
        .and(warp::get())
        .and(crate::pages::operator::operator(app))
        .and(warp::query::<HashMap<String, String>>())
        .and_then(
            |admitted: crate::pages::operator::OperatorAccess, q: HashMap<String, String>| async move {
                match admitted {
                    Ok(v) => {
                        let layout = crate::pages::platform_admin::operator_layout(
                            &v,
                            "Outbox",
                            crate::pages::platform_admin::Section::Outbox,
                        );
                        done(page(&v.app, &q, layout))
                    }
                    Err(refused) => Ok(*refused),
                }
            },
        )
        .boxed()
}
