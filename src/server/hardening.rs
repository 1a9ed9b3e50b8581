//! Response headers by kind of route, and the `Host` check for pages.
//!
//! Every response carries upstream's protective headers. CORS is only for the public API
//! (`/v2/`, upstream's values): pages and the internal API send none, so a web page elsewhere
//! cannot read them from a browser. HSTS only when the client used HTTPS. Pages get a
//! Content-Security-Policy (nothing inline, everything from this origin) and send no Referer
//! (document links carry their key in the URL). A page asked for under a `Host` that is not
//! one of ours is refused, which stops DNS rebinding from reading pages through a browser.

use std::net::SocketAddr;

use warp::http::header::{HeaderName, HeaderValue};
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

use super::client::{ClientInfo, Scheme};
use super::routes::RouteClass;
use crate::config::ServerConfig;

const COMMON: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-permitted-cross-domain-policies", "none"),
    (
        "cache-control",
        "no-store, no-cache, private, must-revalidate",
    ),
];

/// Upstream's CORS headers, on `/v2/` only.
const CORS: [(&str, &str); 3] = [
    ("access-control-allow-origin", "*"),
    ("access-control-allow-headers", "Content-Type,Authorization"),
    ("access-control-allow-methods", "GET,PUT,POST,DELETE"),
];

const HSTS: (&str, &str) = (
    "strict-transport-security",
    "max-age=31536000; includeSubDomains; preload",
);

const PAGE: [(&str, &str); 2] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'",
    ),
    ("referrer-policy", "no-referrer"),
];

/// A signed-in person's pages: as [`PAGE`], but inline styles allowed, because a message preview
/// shows the email as it will be sent, with its inline styles. Scripts stay this origin's only.
const SERVICE_PAGE: [(&str, &str); 2] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'self'",
    ),
    ("referrer-policy", "no-referrer"),
];

fn insert(headers: &mut HeaderMap, (name, value): (&'static str, &'static str)) {
    headers.insert(
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    );
}

/// Add the headers this kind of route's responses carry.
pub fn add_headers(response: &mut Response, class: RouteClass, client: &ClientInfo) {
    let headers = response.headers_mut();
    for h in COMMON {
        insert(headers, h);
    }
    match class {
        RouteClass::V2 => CORS.into_iter().for_each(|h| insert(headers, h)),
        RouteClass::Page => PAGE.into_iter().for_each(|h| insert(headers, h)),
        RouteClass::ServicePage => SERVICE_PAGE.into_iter().for_each(|h| insert(headers, h)),
        RouteClass::Receipts | RouteClass::SheetUpload | RouteClass::Internal => {}
    }
    if client.scheme == Scheme::Https {
        insert(headers, HSTS);
    }
}

/// The host names pages answer to.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    any: bool,
    names: Vec<String>,
}

impl AllowedHosts {
    /// `server.allowed_hosts`, or when empty: localhost, the loopback addresses, the listen
    /// address and `public_url`'s host.
    pub fn from_config(server: &ServerConfig, listening: &[SocketAddr]) -> AllowedHosts {
        let mut names: Vec<String> = server
            .allowed_hosts
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if names.is_empty() {
            names.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
            for addr in listening.iter().chain([&server.listen]) {
                if !addr.ip().is_unspecified() {
                    names.push(addr.ip().to_string());
                }
            }
            if let Some(host) = url_host(&server.public_url) {
                names.push(host);
            }
        }
        AllowedHosts {
            any: names.iter().any(|n| n == "*"),
            names,
        }
    }

    /// Whether a request's host (from `Host` or the HTTP/2 authority, port and all) is ours.
    /// A request with no host at all (HTTP/1.0) is allowed: a browser always sends one.
    pub fn allows(&self, host: Option<&str>) -> bool {
        if self.any {
            return true;
        }
        let Some(host) = host else {
            return true;
        };
        let name = host_name(host);
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// `example.org:8080` → `example.org`; `[::1]:80` → `::1`.
pub fn host_name(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// The host of an `http(s)://host[:port]/...` URL, lower-cased.
fn url_host(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split('/').next()?;
    let name = host_name(authority);
    (!name.is_empty()).then(|| name.to_ascii_lowercase())
}

/// The answer to a page asked for under a host that is not ours.
pub fn wrong_host() -> Response {
    let mut r = crate::error::admin_error_response(
        StatusCode::BAD_REQUEST,
        "This host name is not served here. Add it to server.allowed_hosts to allow it.",
    );
    r.headers_mut()
        .insert("connection", HeaderValue::from_static("close"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_hosts_are_local_names_and_the_public_url() {
        let server = ServerConfig {
            public_url: "https://Notify.Example.org/".into(),
            ..ServerConfig::default()
        };
        let hosts = AllowedHosts::from_config(&server, &["127.0.0.1:6011".parse().unwrap()]);
        for ok in [
            "localhost:6011",
            "127.0.0.1",
            "[::1]:6011",
            "notify.example.org",
            "NOTIFY.example.org:443",
        ] {
            assert!(hosts.allows(Some(ok)), "{ok}");
        }
        for bad in ["evil.example", "127.0.0.1.nip.io:6011", "attacker:6011"] {
            assert!(!hosts.allows(Some(bad)), "{bad}");
        }
        assert!(hosts.allows(None));
    }

    #[test]
    fn configured_hosts_replace_the_defaults_and_star_allows_all() {
        let server = ServerConfig {
            allowed_hosts: vec!["notify.internal".into()],
            ..ServerConfig::default()
        };
        let hosts = AllowedHosts::from_config(&server, &[]);
        assert!(hosts.allows(Some("notify.internal:6011")));
        assert!(!hosts.allows(Some("localhost")));
        let server = ServerConfig {
            allowed_hosts: vec!["*".into()],
            ..ServerConfig::default()
        };
        assert!(AllowedHosts::from_config(&server, &[]).allows(Some("anything")));
    }

    #[test]
    fn cors_only_on_v2_and_hsts_only_over_https() {
        let https = ClientInfo {
            scheme: Scheme::Https,
            ..ClientInfo::unknown()
        };
        let mut r = Response::new(Default::default());
        add_headers(&mut r, RouteClass::V2, &ClientInfo::unknown());
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        assert!(r.headers().get("strict-transport-security").is_none());
        for class in [
            RouteClass::Page,
            RouteClass::ServicePage,
            RouteClass::Internal,
            RouteClass::Receipts,
        ] {
            let mut r = Response::new(Default::default());
            add_headers(&mut r, class, &https);
            assert!(r.headers().get("access-control-allow-origin").is_none());
            assert!(r.headers().get("strict-transport-security").is_some());
            assert_eq!(
                r.headers().get("content-security-policy").is_some(),
                matches!(class, RouteClass::Page | RouteClass::ServicePage)
            );
        }
    }
}
