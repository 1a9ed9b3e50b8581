//! One access-log line per request, and request ids.
//!
//! The line (target `notify::access`, so `RUST_LOG`-style filters can silence or route it)
//! holds the method, the route template (never the raw path), the status, the duration, the
//! request id and the service id once authentication found one: never a token, a query string
//! or anything a client put in the path. The request id is the client's `X-Request-Id` when it
//! is a plain short token, or a new one; it goes back in the response's `X-Request-Id`.

use std::sync::OnceLock;
use std::time::Duration;

use uuid::Uuid;
use warp::http::{HeaderMap, HeaderValue, Method};

use super::client::ClientInfo;

/// The log target of access lines.
pub const TARGET: &str = "notify::access";

/// Longest request id taken from a client.
const MAX_REQUEST_ID: usize = 128;

/// What the edge knows about a request, for routes (`warp::ext`) and the access log.
#[derive(Debug)]
pub struct RequestInfo {
    pub client: ClientInfo,
    pub request_id: HeaderValue,
    /// The request's `Host` is one of `server.allowed_hosts` (or it sent none).
    pub host_allowed: bool,
    /// The service that authenticated (set by the v2 authentication).
    pub service_id: OnceLock<Uuid>,
}

impl RequestInfo {
    /// What routes see when they are served without the edge (tests).
    pub fn unknown() -> RequestInfo {
        RequestInfo {
            client: ClientInfo::unknown(),
            request_id: HeaderValue::from_static("-"),
            host_allowed: true,
            service_id: OnceLock::new(),
        }
    }

    pub fn set_service(&self, id: Uuid) {
        let _ = self.service_id.set(id);
    }
}

/// The client's `X-Request-Id` if it is 1–128 characters of `[A-Za-z0-9._:-]`, else a new id.
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
    if let Some(given) = headers.get("x-request-id") {
        let bytes = given.as_bytes();
        if !bytes.is_empty()
            && bytes.len() <= MAX_REQUEST_ID
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        {
            return given.clone();
        }
    }
    let id = Uuid::new_v4();
    let mut buf = [0u8; 32];
    let text = id.simple().encode_lower(&mut buf);
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// Whether access lines are wanted at all (skip the work when they are filtered out).
pub fn enabled() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::INFO)
}

/// Write one access line.
pub fn record(
    method: &Method,
    route: &str,
    status: u16,
    elapsed: Duration,
    request_id: &HeaderValue,
    service_id: Option<&Uuid>,
) {
    let duration_ms = (elapsed.as_micros() as f64) / 1000.0;
    let request_id = request_id.to_str().unwrap_or("-");
    match service_id {
        Some(service_id) => tracing::info!(
            target: TARGET,
            method = method.as_str(),
            route,
            status,
            duration_ms,
            request_id,
            %service_id,
            "request"
        ),
        None => tracing::info!(
            target: TARGET,
            method = method.as_str(),
            route,
            status,
            duration_ms,
            request_id,
            "request"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_taken_when_plain_else_made() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("abc-123.X_y:z"));
        assert_eq!(request_id(&h), "abc-123.X_y:z");
        for bad in ["with space", "quote\"", "", &"x".repeat(129)] {
            h.insert("x-request-id", HeaderValue::from_str(bad).unwrap());
            let made = request_id(&h);
            assert_ne!(made, bad);
            assert_eq!(made.len(), 32, "{made:?}");
        }
        let a = request_id(&HeaderMap::new());
        let b = request_id(&HeaderMap::new());
        assert_ne!(a, b);
    }
}
