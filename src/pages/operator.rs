//! Who may see the operator pages (`/`, `/outbox`, `/scheduler`, `/alerts`): a signed-in
//! platform admin. Nothing is shown by address alone, because behind a reverse proxy on the
//! same machine every visitor arrives from 127.0.0.1.
//!
//! One documented developer convenience remains: with `environment = "development"` (the
//! embedded default) a browser on the machine itself, talking to the server directly (a
//! loopback TCP peer and no proxy headers at all), sees them without signing in — that is how a
//! developer reads the first sign-in code from the outbox. Any other environment never does.

use std::sync::Arc;

use warp::Filter;
use warp::http::HeaderMap;
use warp::reply::Response;

use super::session::{Visit, visit};
use super::{error_page, redirect};
use crate::app::App;
use crate::config::Environment;

/// Headers a proxy adds; a request carrying any of them did not come straight from a browser
/// on this machine, whatever its TCP peer.
const PROXY_HEADERS: [&str; 4] = ["forwarded", "x-forwarded-for", "x-real-ip", "via"];

/// The visit, when the visitor may see an operator page; otherwise the response to give
/// instead (the sign-in page for nobody, the 403 page for a person without platform admin).
pub type OperatorAccess = Result<Visit, Box<Response>>;

/// The filter operator pages run first.
pub fn operator(
    app: Arc<App>,
) -> impl Filter<Extract = (OperatorAccess,), Error = warp::Rejection> + Clone {
    visit(app)
        .and(warp::header::headers_cloned())
        .map(|v: Visit, headers: HeaderMap| admit(v, &headers))
}

fn admit(v: Visit, headers: &HeaderMap) -> OperatorAccess {
    match v.signed_in() {
        Some(s) if s.person.user.platform_admin => Ok(v),
        _ if developer_on_this_machine(&v, headers) => Ok(v),
        Some(_) => Err(Box::new(error_page(warp::http::StatusCode::FORBIDDEN))),
        None => Err(Box::new(redirect("/sign-in"))),
    }
}

fn developer_on_this_machine(v: &Visit, headers: &HeaderMap) -> bool {
    v.app.config.environment == Environment::Development
        && v.info.client.peer.is_some_and(|p| p.ip().is_loopback())
        && !PROXY_HEADERS.iter().any(|h| headers.contains_key(*h))
}
