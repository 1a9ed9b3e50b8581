//! All HTTP routes in one tree, the app-level 404/405 bodies, and the headers upstream adds to
//! every response.

use std::convert::Infallible;
use std::sync::Arc;

use warp::Filter;
use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::{Reply, Response};

use crate::app::App;
use crate::error::{
    AdminRejection, METHOD_NOT_ALLOWED_MESSAGE, NOT_FOUND_MESSAGE, V2Rejection,
    admin_error_response,
};

fn with_app(app: Arc<App>) -> impl Filter<Extract = (Arc<App>,), Error = Infallible> + Clone {
    warp::any().map(move || app.clone())
}

fn common_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-headers", "Content-Type,Authorization"),
        ("access-control-allow-methods", "GET,PUT,POST,DELETE"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "SAMEORIGIN"),
        ("x-permitted-cross-domain-policies", "none"),
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains; preload",
        ),
        (
            "cache-control",
            "no-store, no-cache, private, must-revalidate",
        ),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    h
}

pub fn routes(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let status = warp::path!("_status")
        .and(warp::get())
        .and(with_app(app.clone()))
        .map(|app: Arc<App>| crate::status::status_json(&app));

    let home = warp::path::end()
        .and(warp::get())
        .and(with_app(app.clone()))
        .map(crate::status::status_page);

    let assets =
        warp::path!("static" / String)
            .and(warp::get())
            .and_then(|name: String| async move {
                match web::asset(&name) {
                    Some((bytes, mime)) => {
                        Ok(warp::reply::with_header(bytes, "content-type", mime).into_response())
                    }
                    None => Err(warp::reject::not_found()),
                }
            });

    status
        .or(home)
        .unify()
        .or(assets)
        .unify()
        .or(crate::api::routes(app.clone()))
        .unify()
        .or(crate::documents::routes(app.clone()))
        .unify()
        .or(crate::admin::outbox_page(app.clone()))
        .unify()
        .or(crate::admin::scheduler_pages(app.clone()))
        .unify()
        .or(crate::receipts::routes(app.clone()))
        .unify()
        .or(crate::admin::routes(app))
        .unify()
        .recover(handle_rejection)
        .unify()
        .with(warp::reply::with::headers(common_headers()))
        .map(Reply::into_response)
}

async fn handle_rejection(err: warp::Rejection) -> Result<Response, Infallible> {
    if let Some(V2Rejection(e)) = err.find::<V2Rejection>() {
        return Ok(e.into_v2_response());
    }
    if let Some(AdminRejection(e)) = err.find::<AdminRejection>() {
        return Ok(e.into_admin_response());
    }
    if err.is_not_found() {
        return Ok(admin_error_response(
            StatusCode::NOT_FOUND,
            NOT_FOUND_MESSAGE,
        ));
    }
    if err.find::<warp::reject::MethodNotAllowed>().is_some() {
        return Ok(admin_error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            METHOD_NOT_ALLOWED_MESSAGE,
        ));
    }
    if err.find::<warp::reject::PayloadTooLarge>().is_some() {
        return Ok(admin_error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request body is too large.",
        ));
    }
    if err.find::<warp::reject::LengthRequired>().is_some() {
        return Ok(admin_error_response(
            StatusCode::LENGTH_REQUIRED,
            "A Content-Length header is required.",
        ));
    }
    tracing::warn!(rejection = ?err, "unhandled rejection");
    Ok(admin_error_response(
        StatusCode::BAD_REQUEST,
        "The request could not be understood.",
    ))
}
