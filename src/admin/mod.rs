//! The internal (admin) JSON API: managing services, their senders, guest lists, team members,
//! keys and templates. Every route is a row of the [route table](route_table) with what its
//! caller needs; [`access`] checks each request — the admin secret's token (see
//! [`crate::auth`]) or a signed-in person's session — against its row. Paths follow
//! upstream's internal API (`/service`, `/service/{id}/api-key`, `/service/{id}/template`, ...);
//! answers are `{"data": ...}`, errors `{"result": "error", "message": ...}`. The CLI talks to it
//! when a server already holds the data directory.
//!
//! Each file holds one resource's routes; the rules live in [`crate::domain`]. Every change that
//! affects authentication or sending invalidates the service in the v2 key cache so it takes
//! effect at once.

pub mod access;
mod audit;
mod backup;
mod callbacks;
mod complaints;
mod inbound_numbers;
mod jobs;
mod keys;
mod letters;
mod outbox;
mod provider_details;
mod retention;
mod returned_letters;
pub mod route_table;
mod scheduler;
mod senders;
mod sending;
mod services;
mod statistics;
mod templates;
mod unsubscribe;
mod users;

use std::sync::Arc;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::app::App;
use crate::error::{AppError, admin_reject, json_response};
use access::Caller;

pub use backup::LAST_PART_HEADER;
pub use inbound_numbers::inbound_number_json;
pub use jobs::{job_json, upload_json};
pub use outbox::page_route as outbox_page;
pub use scheduler::page_routes as scheduler_pages;
pub use services::service_json;
pub use templates::{template_json, template_json_for};
pub use unsubscribe::one_click_route as unsubscribe_route;

/// The authorised caller (app and actor), for every route.
type Auth = BoxedFilter<(Caller,)>;
/// One resource's routes.
type Routes = BoxedFilter<(Response,)>;

fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, AppError> {
    crate::api::json_body::parse(body)
        .map_err(|e| AppError::BadRequest(format!("Invalid JSON: {e}")))
}

fn data(status: StatusCode, value: Value) -> Response {
    json_response(status, &json!({ "data": value }))
}

fn no_content() -> Response {
    let mut r = Response::new(Default::default());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// A handler's outcome on warp's terms.
fn done(result: Result<Response, AppError>) -> Result<Response, warp::Rejection> {
    result.map_err(admin_reject)
}

/// The request body (limits are the edge's: `server.bodies.internal_kib`).
fn json_body() -> impl Filter<Extract = (Bytes,), Error = warp::Rejection> + Clone {
    crate::server::bodies::bytes()
}

/// The raw query string (empty when there is none).
fn raw_query() -> impl Filter<Extract = (String,), Error = std::convert::Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

fn rebuild_index(auth: Auth) -> Routes {
    warp::path!("index" / "rebuild")
        .and(warp::post())
        .and(auth)
        .and_then(|caller: Caller| async move {
            let indexed = caller.app.rebuild_index().await.map_err(admin_reject)?;
            let entry = crate::domain::accounts::Entry::new(
                &caller.actor,
                crate::domain::accounts::Action::IndexRebuilt,
            )
            .details(json!({ "indexed": indexed }));
            crate::domain::accounts::audit::record(&caller, entry)
                .await
                .map_err(admin_reject)?;
            tracing::info!(indexed, "search index rebuilt");
            Ok::<_, warp::Rejection>(data(StatusCode::OK, json!({ "indexed": indexed })))
        })
        .boxed()
}

pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let auth = access::authorised(app);
    // Boxed in groups: one long chain of filters overflows the compiler's query depth.
    let services: Routes = services::routes(auth.clone())
        .or(senders::routes(auth.clone()))
        .unify()
        .or(keys::routes(auth.clone()))
        .unify()
        .or(templates::routes(auth.clone()))
        .unify()
        .or(users::routes(auth.clone()))
        .unify()
        .or(audit::routes(auth.clone()))
        .unify()
        .or(sending::routes(auth.clone()))
        .unify()
        .or(callbacks::routes(auth.clone()))
        .unify()
        .or(outbox::routes(auth.clone()))
        .unify()
        .or(retention::routes(auth.clone()))
        .unify()
        .boxed();
    let features: Routes = statistics::routes(auth.clone())
        .or(returned_letters::routes(auth.clone()))
        .unify()
        .or(complaints::routes(auth.clone()))
        .unify()
        .or(inbound_numbers::routes(auth.clone()))
        .unify()
        .or(provider_details::routes(auth.clone()))
        .unify()
        .or(unsubscribe::routes(auth.clone()))
        .unify()
        .or(letters::routes(auth.clone()))
        .unify()
        .or(jobs::routes(auth.clone()))
        .unify()
        .or(scheduler::routes(auth.clone()))
        .unify()
        .or(backup::routes(auth.clone()))
        .unify()
        .or(rebuild_index(auth))
        .unify()
        .boxed();
    services.or(features).unify().boxed()
}
