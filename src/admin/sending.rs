//! `POST /service/{id}/send-notification`: a person sends one message (upstream's one-off
//! send), through the one send path.

use bytes::Bytes;
use serde_json::json;
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done, json_body, parse_body};
use crate::domain::sending::{self, OneOff};
use crate::error::AppError;

async fn send(service_id: Uuid, c: Caller, body: Bytes) -> Result<Response, AppError> {
    let one_off: OneOff = parse_body(&body)?;
    let accepted = sending::send_one_off(&c, &c.actor, service_id, one_off, &c.root).await?;
    Ok(data(
        StatusCode::CREATED,
        json!({ "id": accepted.notification.id }),
    ))
}

pub fn routes(auth: Auth) -> Routes {
    warp::path!("service" / Uuid / "send-notification")
        .and(warp::post())
        .and(auth)
        .and(json_body())
        .and_then(|sid: Uuid, c: Caller, body: Bytes| async move { done(send(sid, c, body).await) })
        .boxed()
}
