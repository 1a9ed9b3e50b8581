//! The public REST API v2 (spec: shared/spec/api-v2.md), one file per resource.
//!
//! Every route authenticates first (§2), so an unauthenticated request never sees a validation
//! error; errors travel as [`V2Rejection`] and are answered in the v2 envelope by `http.rs`.

pub mod auth;
pub mod inbound;
pub mod json_body;
pub mod notifications;
pub mod render;
pub mod schema;
pub mod templates;

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};
use warp::Filter;
use warp::reply::Response;

use crate::app::App;
use crate::error::{AppError, v2_reject};
use crate::server::{RequestInfo, Scheme};
pub use auth::Caller;

/// The root URL responses build absolute links from: `public_url`, or the client's scheme (as
/// the edge decided it) + Host + `/`. Pass the Host only when the edge found it allowed.
pub fn root_url(app: &App, host: Option<&str>, scheme: Scheme) -> String {
    let configured = app.config.server.public_url.trim();
    if !configured.is_empty() {
        let mut root = configured.to_string();
        if !root.ends_with('/') {
            root.push('/');
        }
        return root;
    }
    // Served over TLS, every client uses https (also when no request is at hand).
    let scheme = match app.config.server.tls.enabled() {
        true => Scheme::Https.as_str(),
        false => scheme.as_str(),
    };
    let host = host
        .map(str::to_string)
        .unwrap_or_else(|| app.config.server.listen.to_string());
    format!("{scheme}://{host}/")
}

/// Everything a v2 handler needs: the app, the caller, and the request's root URL.
#[derive(Clone)]
pub struct V2 {
    pub app: Arc<App>,
    pub caller: Caller,
    pub root: String,
}

/// Authenticate, and capture the root URL. The service that authenticated is noted for the
/// access log.
pub fn authed(app: Arc<App>) -> impl Filter<Extract = (V2,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::header::optional::<String>("host"))
        .and(crate::server::request_info())
        .and_then(
            move |header: Option<String>, host: Option<String>, info: Arc<RequestInfo>| {
                let app = app.clone();
                async move {
                    let caller = auth::authenticate(header.as_deref(), &app, &app.tokens)
                        .map_err(v2_reject)?;
                    info.set_service(caller.service().id);
                    let host = host.filter(|_| info.host_allowed);
                    let root = root_url(&app, host.as_deref(), info.client.scheme);
                    Ok::<_, warp::Rejection>(V2 { app, caller, root })
                }
            },
        )
}

/// The request body (limits are the edge's: `server.bodies.v2_kib`).
pub fn body() -> impl Filter<Extract = (Bytes,), Error = warp::Rejection> + Clone {
    crate::server::bodies::bytes()
}

/// Upstream parses the body as JSON whatever the Content-Type (§1). Falsy JSON counts as `{}`;
/// anything else that is not an object fails the schema's type check.
pub fn parse_json_object(body: &[u8], empty_ok: bool) -> Result<Map<String, Value>, AppError> {
    let invalid = || AppError::BadRequest("Invalid JSON supplied in POST data".into());
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return if empty_ok {
            Ok(Map::new())
        } else {
            Err(invalid())
        };
    }
    let value: Value = json_body::parse(body).map_err(|_| invalid())?;
    let falsy = match &value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    };
    match value {
        _ if falsy => Ok(Map::new()),
        Value::Object(o) => Ok(o),
        other => Err(AppError::Validation(vec![format!(
            "{} is not of type object",
            schema::py_repr(&other)
        )])),
    }
}

/// The raw query string (empty when there is none).
pub fn raw_query() -> impl Filter<Extract = (String,), Error = std::convert::Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// Query pairs in their original order.
pub fn query_pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

pub fn routes(
    app: Arc<App>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    notifications::routes(app.clone())
        .or(templates::routes(app.clone()))
        .unify()
        .or(inbound::routes(app))
        .unify()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_parsed_whatever_they_look_like() {
        assert!(parse_json_object(b"", true).unwrap().is_empty());
        assert!(matches!(
            parse_json_object(b"", false),
            Err(AppError::BadRequest(_))
        ));
        assert!(matches!(
            parse_json_object(b"{nope", true),
            Err(AppError::BadRequest(_))
        ));
        for falsy in ["null", "false", "0", "\"\"", "[]", "{}"] {
            assert!(
                parse_json_object(falsy.as_bytes(), false)
                    .unwrap()
                    .is_empty(),
                "{falsy}"
            );
        }
        match parse_json_object(b"[1]", false) {
            Err(AppError::Validation(m)) => assert_eq!(m, vec!["[1] is not of type object"]),
            other => panic!("{other:?}"),
        }
        assert_eq!(parse_json_object(br#"{"a":1}"#, false).unwrap()["a"], 1);
    }
}
