//! All HTTP routes in one tree, and how a request no route took is answered (404, 405, 413...).
//! The headers every response carries are added by the edge (`crate::server::hardening`).

use std::convert::Infallible;
use std::sync::Arc;

use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::app::App;
use crate::error::{
    AdminRejection, METHOD_NOT_ALLOWED_MESSAGE, NOT_FOUND_MESSAGE, V2Rejection,
    admin_error_response,
};

fn with_app(app: Arc<App>) -> impl Filter<Extract = (Arc<App>,), Error = Infallible> + Clone {
    warp::any().map(move || app.clone())
}

pub fn routes(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let status = warp::path!("_status")
        .and(warp::get())
        .and(with_app(app.clone()))
        .map(|app: Arc<App>| crate::status::status_json(&app));

    // The status page is an operator page; a person who is not one is sent where they belong.
    let home = warp::path::end()
        .and(warp::get())
        .and(crate::pages::operator::operator(app.clone()))
        .map(
            |admitted: crate::pages::operator::OperatorAccess| match admitted {
                Ok(v) => {
                    let layout = crate::pages::platform_admin::operator_layout(
                        &v,
                        "System status",
                        crate::pages::platform_admin::Section::Status,
                    );
                    crate::status::status_page(v.app, layout)
                }
                Err(_) => crate::pages::redirect("/your-services"),
            },
        );

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
        .or(crate::metrics::route(app.clone()))
        .unify()
        .or(home)
        .unify()
        .or(assets)
        .unify()
        .or(crate::api::routes(app.clone()))
        .unify()
        .or(crate::documents::routes(app.clone()))
        .unify()
        .boxed()
        .or(crate::admin::outbox_page(app.clone()))
        .unify()
        .or(crate::admin::scheduler_pages(app.clone()))
        .unify()
        .or(crate::pages::sign_in::routes(app.clone()))
        .unify()
        .or(crate::pages::sso::routes(app.clone()))
        .unify()
        .or(crate::pages::people::routes(app.clone()))
        .unify()
        .boxed()
        .or(crate::pages::services::routes(app.clone()))
        .unify()
        .or(crate::pages::templates::routes(app.clone()))
        .unify()
        .or(crate::pages::send::routes(app.clone()))
        .unify()
        .or(crate::pages::jobs::routes(app.clone()))
        .unify()
        .boxed()
        .or(crate::pages::activity::routes(app.clone()))
        .unify()
        .or(crate::pages::settings::routes(app.clone()))
        .unify()
        .or(crate::pages::platform_admin::routes(app.clone()))
        .unify()
        .or(crate::pages::api_integration::routes(app.clone()))
        .unify()
        .boxed()
        .or(crate::pages::contact_lists::routes(app.clone()))
        .unify()
        .or(crate::receipts::routes(app.clone()))
        .unify()
        .or(crate::admin::unsubscribe_route(app.clone()))
        .unify()
        .or(crate::admin::routes(app))
        .unify()
        // Boxed every few routes: each `or` nests the types of everything before it, and the
        // compiler's trait checks on a long unboxed chain grow steeply with its length (21
        // unboxed routes made the crate take over 30 minutes to check).
        .boxed()
        .recover(handle_rejection)
        .unify()
        .map(Reply::into_response)
}

/// The answer to a request every route refused. A rejection from a route whose path and method
/// matched (a handler's error, an unreadable body or query) says more than one from a route
/// whose method did not, which says more than "no such path": 405 only when the path exists
/// with another method, 404 only when no route knows the path.
async fn handle_rejection(err: warp::Rejection) -> Result<Response, Infallible> {
    use warp::reject;
    if let Some(V2Rejection(e)) = err.find::<V2Rejection>() {
        return Ok(e.into_v2_response());
    }
    if let Some(AdminRejection(e)) = err.find::<AdminRejection>() {
        return Ok(e.into_admin_response());
    }
    if err.find::<reject::PayloadTooLarge>().is_some() {
        return Ok(admin_error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request body is too large.",
        ));
    }
    if err.find::<crate::server::bodies::BodyRejection>().is_some() {
        return Ok(admin_error_response(
            StatusCode::BAD_REQUEST,
            "The request body could not be read.",
        ));
    }
    if err.find::<reject::UnsupportedMediaType>().is_some() {
        return Ok(admin_error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The request body is not of a type this route takes.",
        ));
    }
    if err.find::<reject::LengthRequired>().is_some() {
        return Ok(admin_error_response(
            StatusCode::LENGTH_REQUIRED,
            "A Content-Length header is required.",
        ));
    }
    if err.find::<reject::InvalidQuery>().is_some()
        || err.find::<reject::InvalidHeader>().is_some()
        || err.find::<reject::MissingHeader>().is_some()
    {
        return Ok(admin_error_response(
            StatusCode::BAD_REQUEST,
            "The request could not be understood.",
        ));
    }
    if err.find::<reject::MethodNotAllowed>().is_some() {
        return Ok(admin_error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            METHOD_NOT_ALLOWED_MESSAGE,
        ));
    }
    if err.is_not_found() {
        let mut response = admin_error_response(StatusCode::NOT_FOUND, NOT_FOUND_MESSAGE);
        response.extensions_mut().insert(crate::server::Unmatched);
        return Ok(response);
    }
    tracing::warn!(rejection = ?err, "unhandled rejection");
    Ok(admin_error_response(
        StatusCode::BAD_REQUEST,
        "The request could not be understood.",
    ))
}
