//! `GET /metrics`: the Prometheus text format (0.0.4), for a bearer token.
//!
//! - `metrics.bearer_token` empty (the default): the endpoint is off and answers 404 like any
//!   unknown path, so an appliance nobody set up for monitoring shows nothing and says nothing.
//! - Set: a request without `Authorization: Bearer <that token>` gets 401 (with
//!   `WWW-Authenticate: Bearer`). The token is compared in constant time (`subtle`, on SHA-256
//!   digests, so not even its length shows).

use std::sync::Arc;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use warp::Filter;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use super::scrape::Snapshot;
use crate::app::App;
use crate::error::admin_error_response;

pub fn route(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::path!("metrics")
        .and(warp::get())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::any().map(move || app.clone()))
        .and_then(|authorization: Option<String>, app: Arc<App>| async move {
            if !app.config.metrics.enabled() {
                return Err(warp::reject::not_found());
            }
            let expected = app.config.metrics.bearer_token.expose();
            if !authorized(authorization.as_deref(), expected) {
                return Ok(unauthorized());
            }
            Ok(render(app).await)
        })
}

/// `Authorization: Bearer <token>` (the scheme in any case) carrying `expected`.
fn authorized(header: Option<&str>, expected: &str) -> bool {
    let Some((scheme, token)) = header.and_then(|h| h.trim().split_once(' ')) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") || expected.is_empty() {
        return false;
    }
    let given = Sha256::digest(token.trim().as_bytes());
    let wanted = Sha256::digest(expected.as_bytes());
    given.ct_eq(&wanted).into()
}

fn unauthorized() -> Response {
    let mut response = admin_error_response(
        StatusCode::UNAUTHORIZED,
        "GET /metrics needs the bearer token set in metrics.bearer_token.",
    );
    response.headers_mut().insert(
        "www-authenticate",
        HeaderValue::from_static("Bearer realm=\"notify metrics\""),
    );
    response
}

/// Every metric: those counted as things happened, then those read now.
async fn render(app: Arc<App>) -> Response {
    let reading = app.clone();
    let snapshot = match tokio::task::spawn_blocking(move || Snapshot::take(&reading)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "metrics: reading the store's figures failed");
            Snapshot::default()
        }
    };
    let mut scraped = Registry::default();
    scraped.register_collector(Box::new(snapshot));
    let mut body = String::with_capacity(16 * 1024);
    let encoded = prometheus_text::encode(&mut body, app.metrics.registry())
        .and_then(|()| prometheus_text::encode(&mut body, &scraped));
    if let Err(e) = encoded {
        tracing::error!(error = %e, "metrics could not be encoded");
        return admin_error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The metrics could not be encoded.",
        );
    }
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static(prometheus_text::CONTENT_TYPE),
    );
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::authorized;

    #[test]
    fn only_the_bearer_token_itself_is_taken() {
        let token = "a-long-enough-token-123";
        assert!(authorized(Some("Bearer a-long-enough-token-123"), token));
        assert!(authorized(Some("bearer a-long-enough-token-123"), token));
        for wrong in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Bearer a-long-enough-token-12"),
            Some("Bearer a-long-enough-token-1234"),
            Some("Basic a-long-enough-token-123"),
            Some("a-long-enough-token-123"),
        ] {
            assert!(!authorized(wrong, token), "{wrong:?}");
        }
        // An endpoint without a token takes nothing (it is off).
        assert!(!authorized(Some("Bearer "), ""));
        assert!(!authorized(Some("Bearer x"), ""));
    }
}
