//! Who is visiting a page: the request's app, client and cookies; the person's session (from
//! the `notify_admin_session` cookie); the cookies pages set; and the CSRF check every POST
//! form passes.
//!
//! Cookies are `HttpOnly; SameSite=Lax; Path=/`, and `Secure` whenever the request arrived over
//! TLS (or a trusted proxy says it did). Forms of a session carry the session's CSRF token;
//! the sign-in form, before any session, carries a random token that must match the
//! `notify_csrf` cookie set with the form (a double-submitted token), so another site cannot
//! sign a browser in to an account of its choosing.

use std::net::IpAddr;
use std::sync::Arc;

use subtle::ConstantTimeEq;
use warp::Filter;
use warp::http::header::{HeaderValue, SET_COOKIE};
use warp::reply::Response;

use crate::app::App;
use crate::domain::accounts::links::new_token;
use crate::domain::accounts::sessions::{self, Checked, NewSession};
use crate::server::{RequestInfo, Scheme};

/// The cookie holding the sign-in form's CSRF token (before there is a session).
pub const CSRF_COOKIE: &str = "notify_csrf";

/// One page request's context.
#[derive(Clone)]
pub struct Visit {
    pub app: Arc<App>,
    pub info: Arc<RequestInfo>,
    cookies: Option<String>,
    /// The raw query string ("" when there is none).
    query: String,
}

/// The filter every page runs first.
pub fn visit(app: Arc<App>) -> impl Filter<Extract = (Visit,), Error = warp::Rejection> + Clone {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::header::optional::<String>("cookie")
        .and(crate::server::request_info())
        .and(query)
        .map(
            move |cookies: Option<String>, info: Arc<RequestInfo>, query: String| Visit {
                app: app.clone(),
                info,
                cookies,
                query,
            },
        )
}

impl Visit {
    /// The client's address (for the audit trail).
    pub fn address(&self) -> Option<IpAddr> {
        self.info.client.address
    }

    /// Cookies must be `Secure`: the request came over TLS.
    pub fn secure(&self) -> bool {
        self.info.client.scheme == Scheme::Https || self.app.config.server.tls.enabled()
    }

    /// The raw query string of the request ("" when there is none).
    pub fn query(&self) -> &str {
        &self.query
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        cookie_value(self.cookies.as_deref(), name)
    }

    /// The session the cookie names, if it is live: signed in, or pending (password only).
    pub fn session(&self) -> Option<Checked> {
        let token = self.cookie(sessions::COOKIE)?;
        let checked = sessions::check(&self.app, token).ok()?;
        if checked.needs_touch {
            sessions::touch_later(&self.app.cx, &checked);
        }
        Some(checked)
    }

    /// The signed-in session (second factor proved), if any.
    pub fn signed_in(&self) -> Option<Checked> {
        self.session().filter(|s| !s.is_pending())
    }
}

/// A cookie's value in a `Cookie` header.
pub fn cookie_value<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?
        .split(';')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn cookie(name: &str, value: &str, secure: bool, max_age: Option<u32>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

fn add_cookie(response: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().append(SET_COOKIE, v);
    }
}

/// Start using `session` (a new pending or signed-in one): the browser keeps its id for as
/// long as the browser runs; the server ends it by its own timeouts.
pub fn set_session(response: &mut Response, session: &NewSession, secure: bool) {
    add_cookie(
        response,
        cookie(sessions::COOKIE, &session.token, secure, None),
    );
    // The sign-in form's token has done its job.
    add_cookie(response, cookie(CSRF_COOKIE, "", secure, Some(0)));
}

/// Forget the session (signed out, or it is over).
pub fn clear_session(response: &mut Response, secure: bool) {
    add_cookie(response, cookie(sessions::COOKIE, "", secure, Some(0)));
}

/// The sign-in form's CSRF token: the one the browser already holds, or a new one (set on
/// `response` by [`set_form_token`]).
pub fn form_token(visit: &Visit) -> (String, bool) {
    match visit.cookie(CSRF_COOKIE) {
        Some(t) if t.len() == 43 => (t.to_string(), false),
        _ => (new_token(), true),
    }
}

/// Hand a new sign-in form token to the browser.
pub fn set_form_token(response: &mut Response, token: &str, secure: bool) {
    add_cookie(response, cookie(CSRF_COOKIE, token, secure, None));
}

/// Whether a posted form's `csrf_token` is `expected` (compared in constant time).
pub fn csrf_matches(sent: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(sent.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_and_set_with_their_attributes() {
        let h = Some("a=1; notify_admin_session=abc ; notify_csrf=");
        assert_eq!(cookie_value(h, "notify_admin_session"), Some("abc"));
        assert_eq!(cookie_value(h, "notify_csrf"), None);
        assert_eq!(cookie_value(None, "a"), None);
        assert_eq!(
            cookie("n", "v", false, None),
            "n=v; Path=/; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            cookie("n", "", true, Some(0)),
            "n=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
        );
    }

    #[test]
    fn csrf_tokens_must_match_exactly() {
        assert!(csrf_matches("abc", "abc"));
        assert!(!csrf_matches("abd", "abc"));
        assert!(!csrf_matches("", ""));
        assert!(!csrf_matches("abc", ""));
    }
}
