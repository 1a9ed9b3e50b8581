//! Service callback settings, on upstream's internal paths:
//! `/service/{id}/delivery-receipt-api`, `/service/{id}/inbound-api`,
//! `/service/{id}/complaint-api` and `/service/{id}/returned-letter-api`. `POST` creates or
//! replaces (`{"url", "bearer_token"}`), `GET` shows, `DELETE` removes; the `/{callback_id}`
//! forms upstream uses are accepted too. The bearer token is never shown.

use bytes::Bytes;
use serde::Deserialize;
use storage::records::CallbackKind;
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done, json_body, no_content, parse_body};
use crate::domain::callbacks::{callback_json, delete_callback, get_callback, set_callback};
use crate::error::AppError;

fn kind_of(path: &str) -> Option<CallbackKind> {
    Some(match path {
        "delivery-receipt-api" => CallbackKind::DeliveryStatus,
        "inbound-api" => CallbackKind::InboundSms,
        "complaint-api" => CallbackKind::Complaint,
        "returned-letter-api" => CallbackKind::ReturnedLetter,
        _ => return None,
    })
}

#[derive(Deserialize)]
struct Setting {
    url: String,
    bearer_token: String,
    #[serde(default)]
    #[allow(dead_code)]
    updated_by_id: Option<Uuid>,
}

async fn set(
    service_id: Uuid,
    kind: CallbackKind,
    app: Caller,
    body: Bytes,
    status: StatusCode,
) -> Result<Response, AppError> {
    let s: Setting = parse_body(&body)?;
    let cb = set_callback(
        &app.store,
        &app.sealer,
        service_id,
        kind,
        &s.url,
        &s.bearer_token,
        app.config.callbacks.allow_http,
    )
    .await?;
    tracing::info!(%service_id, kind = kind.as_str(), "service callback set");
    Ok(data(status, callback_json(&cb)))
}

pub fn routes(auth: Auth) -> Routes {
    let kind = || {
        warp::path::param::<String>()
            .and_then(|p: String| async move { kind_of(&p).ok_or_else(warp::reject::not_found) })
    };
    let base = warp::path("service")
        .and(warp::path::param::<Uuid>())
        .and(kind());
    let create = base
        .and(warp::path::end())
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|id, kind, app, body| async move {
            done(set(id, kind, app, body, StatusCode::CREATED).await)
        });
    let update = base
        .and(warp::path::param::<Uuid>())
        .and(warp::path::end())
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|id, kind, _cb: Uuid, app, body| async move {
            done(set(id, kind, app, body, StatusCode::OK).await)
        });
    let get = base
        .and(
            warp::path::param::<Uuid>()
                .map(Some)
                .or(warp::any().map(|| None))
                .unify(),
        )
        .and(warp::path::end())
        .and(warp::get())
        .and(auth.clone())
        .and_then(|id, kind, _cb: Option<Uuid>, app: Caller| async move {
            done(
                get_callback(&app.store, id, kind)
                    .map(|cb| data(StatusCode::OK, callback_json(&cb)))
                    .map_err(AppError::from),
            )
        });
    let delete = base
        .and(
            warp::path::param::<Uuid>()
                .map(Some)
                .or(warp::any().map(|| None))
                .unify(),
        )
        .and(warp::path::end())
        .and(warp::delete())
        .and(auth)
        .and_then(|id, kind, _cb: Option<Uuid>, app: Caller| async move {
            done(
                delete_callback(&app.store, id, kind)
                    .await
                    .map(|()| no_content())
                    .map_err(AppError::from),
            )
        });
    create
        .or(update)
        .unify()
        .or(get)
        .unify()
        .or(delete)
        .unify()
        .boxed()
}
