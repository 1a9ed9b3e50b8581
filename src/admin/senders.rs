//! Email reply-to addresses (`/service/{id}/email-reply-to`), text message senders
//! (`/service/{id}/sms-sender`) and letter contact blocks (`/service/{id}/letter-contact`): list
//! (GET), add (POST), get (GET `/{entry_id}`), update (POST `/{entry_id}`) and archive
//! (POST `/{entry_id}/archive`). Archived entries are gone from all of them.

use bytes::Bytes;
use serde_json::{Value, json};
use storage::records::{LetterContact, ReplyTo, SmsSender};
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done, json_body, parse_body};
use crate::domain::services;
use crate::error::AppError;

fn reply_to_json(service_id: Uuid, r: &ReplyTo) -> Value {
    json!({
        "id": r.id,
        "service_id": service_id,
        "email_address": r.email_address,
        "is_default": r.is_default,
        "archived": r.archived,
    })
}

pub(super) fn sms_sender_json(service_id: Uuid, s: &SmsSender) -> Value {
    json!({
        "id": s.id,
        "service_id": service_id,
        "sms_sender": s.sms_sender,
        "is_default": s.is_default,
        "inbound_number": s.inbound_number,
        "archived": s.archived,
    })
}

fn letter_contact_json(service_id: Uuid, c: &LetterContact) -> Value {
    json!({
        "id": c.id,
        "service_id": service_id,
        "contact_block": c.contact_block,
        "is_default": c.is_default,
        "archived": c.archived,
    })
}

async fn add_reply_to(sid: Uuid, app: Caller, body: Bytes) -> Result<Response, AppError> {
    let added = services::add_reply_to(&app, &app.actor, sid, parse_body(&body)?).await?;
    Ok(data(StatusCode::CREATED, reply_to_json(sid, &added)))
}

async fn update_reply_to(
    sid: Uuid,
    id: Uuid,
    app: Caller,
    body: Bytes,
) -> Result<Response, AppError> {
    let updated = services::update_reply_to(&app, &app.actor, sid, id, parse_body(&body)?).await?;
    Ok(data(StatusCode::OK, reply_to_json(sid, &updated)))
}

async fn add_sms_sender(sid: Uuid, app: Caller, body: Bytes) -> Result<Response, AppError> {
    let added = services::add_sms_sender(&app, &app.actor, sid, parse_body(&body)?).await?;
    Ok(data(StatusCode::CREATED, sms_sender_json(sid, &added)))
}

async fn update_sms_sender(
    sid: Uuid,
    id: Uuid,
    app: Caller,
    body: Bytes,
) -> Result<Response, AppError> {
    let updated =
        services::update_sms_sender(&app, &app.actor, sid, id, parse_body(&body)?).await?;
    Ok(data(StatusCode::OK, sms_sender_json(sid, &updated)))
}

async fn add_letter_contact(sid: Uuid, app: Caller, body: Bytes) -> Result<Response, AppError> {
    let added = services::add_letter_contact(&app, &app.actor, sid, parse_body(&body)?).await?;
    Ok(data(StatusCode::CREATED, letter_contact_json(sid, &added)))
}

async fn update_letter_contact(
    sid: Uuid,
    id: Uuid,
    app: Caller,
    body: Bytes,
) -> Result<Response, AppError> {
    let updated =
        services::update_letter_contact(&app, &app.actor, sid, id, parse_body(&body)?).await?;
    Ok(data(StatusCode::OK, letter_contact_json(sid, &updated)))
}

/// The five routes of one kind of entry, under `/service/{id}/$seg`.
macro_rules! entry_routes {
    ($auth:expr, $seg:tt, $ty:ty, $field:ident, $json:ident, $add:ident, $update:ident) => {{
        let auth: Auth = $auth;
        let list = warp::path!("service" / Uuid / $seg)
            .and(warp::get())
            .and(auth.clone())
            .and_then(|sid: Uuid, app: Caller| async move {
                let result = services::get_service(&app.store, sid).map(|s| {
                    let live = services::live_entries(&s.$field);
                    data(
                        StatusCode::OK,
                        Value::Array(live.iter().map(|e| $json(sid, e)).collect()),
                    )
                });
                done(result.map_err(AppError::from))
            });
        let add = warp::path!("service" / Uuid / $seg)
            .and(warp::post())
            .and(auth.clone())
            .and(json_body())
            .and_then(|sid: Uuid, app: Caller, body: Bytes| async move {
                done($add(sid, app, body).await)
            });
        let get = warp::path!("service" / Uuid / $seg / Uuid)
            .and(warp::get())
            .and(auth.clone())
            .and_then(|sid: Uuid, id: Uuid, app: Caller| async move {
                let result = services::get_service(&app.store, sid)
                    .and_then(|s| services::live_entry(&s.$field, sid, id))
                    .map(|e| data(StatusCode::OK, $json(sid, &e)));
                done(result.map_err(AppError::from))
            });
        let update = warp::path!("service" / Uuid / $seg / Uuid)
            .and(warp::post())
            .and(auth.clone())
            .and(json_body())
            .and_then(|sid: Uuid, id: Uuid, app: Caller, body: Bytes| async move {
                done($update(sid, id, app, body).await)
            });
        let archive = warp::path!("service" / Uuid / $seg / Uuid / "archive")
            .and(warp::post())
            .and(auth)
            .and_then(|sid: Uuid, id: Uuid, app: Caller| async move {
                let result = services::archive_sender_entry::<$ty>(&app, &app.actor, sid, id).await;
                done(
                    result
                        .map(|e| data(StatusCode::OK, $json(sid, &e)))
                        .map_err(AppError::from),
                )
            });
        list.or(add)
            .unify()
            .or(get)
            .unify()
            .or(update)
            .unify()
            .or(archive)
            .unify()
            .boxed()
    }};
}

pub fn routes(auth: Auth) -> Routes {
    let reply_to = entry_routes!(
        auth.clone(),
        "email-reply-to",
        ReplyTo,
        email_reply_to,
        reply_to_json,
        add_reply_to,
        update_reply_to
    );
    let sms_sender = entry_routes!(
        auth.clone(),
        "sms-sender",
        SmsSender,
        sms_senders,
        sms_sender_json,
        add_sms_sender,
        update_sms_sender
    );
    let letter_contact = entry_routes!(
        auth,
        "letter-contact",
        LetterContact,
        letter_contacts,
        letter_contact_json,
        add_letter_contact,
        update_letter_contact
    );
    reply_to
        .or(sms_sender)
        .unify()
        .or(letter_contact)
        .unify()
        .boxed()
}
