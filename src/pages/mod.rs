//! The admin web UI: server-rendered pages at the URLs GOV.UK Notify's admin app uses, working
//! without JavaScript. Templates and the page structs they fill are in the `web` crate; the
//! handlers here parse the request, call the same domain function the API, the CLI and the jobs
//! call (which checks permissions and records the audit event), and render. A handler never
//! opens a store transaction itself.
//!
//! This module holds what every page shares: HTML and redirect responses, form bodies, and the
//! error pages (a person never sees a stack trace or a JSON error); [`done`] the success banner
//! a page shows after a change. [`session`] is who is
//! visiting (cookies, the session, CSRF); [`sign_in`] the sign-in pages; [`sso`] single
//! sign-on's redirects to and from the identity provider; [`people`] forgotten passwords,
//! invitations, team members and the person's profile; [`operator`] who may see the operator
//! pages; [`services`] what a service's pages share, its dashboard and adding a service;
//! [`templates`], [`send`] (one message to one recipient), [`jobs`] (sending from a
//! spreadsheet, uploads and jobs) and [`activity`] (sent messages, one message) the pages of a
//! service; [`settings`] its settings (name, senders, channels, live, data retention);
//! [`api_integration`] its API keys, callbacks, guest list and received text messages.

pub mod activity;
pub mod api_integration;
pub mod contact_lists;
pub mod done;
pub mod jobs;
pub mod operator;
pub mod people;
pub mod platform_admin;
pub mod send;
pub mod services;
pub mod session;
pub mod settings;
pub mod sign_in;
pub mod sso;
pub mod templates;

use std::collections::HashMap;

use warp::http::{StatusCode, header};
use warp::reply::{Reply, Response};
use web::askama::Template;

use crate::domain::{Code, DomainError};

/// An HTML response.
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut r = warp::reply::with_status(warp::reply::html(body), status).into_response();
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered");
            error_page(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// 200 with the page.
pub fn ok(page: &impl Template) -> Response {
    html(StatusCode::OK, page)
}

/// After a form's POST: see the result at `to` (303, so a reload does not post again).
pub fn redirect(to: &str) -> Response {
    match header::HeaderValue::from_str(to) {
        Ok(location) => {
            let mut r =
                warp::reply::with_status(warp::reply(), StatusCode::SEE_OTHER).into_response();
            r.headers_mut().insert(header::LOCATION, location);
            r
        }
        Err(_) => error_page(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// A form body (`application/x-www-form-urlencoded`): every value of every field, in order
/// (checkboxes send a field once per ticked box).
#[derive(Debug, Clone, Default)]
pub struct Form {
    fields: HashMap<String, Vec<String>>,
}

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        let mut fields: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in form_urlencoded::parse(body) {
            fields
                .entry(k.into_owned())
                .or_default()
                .push(v.into_owned());
        }
        Form { fields }
    }

    /// The field's first value, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> String {
        self.fields
            .get(name)
            .and_then(|v| v.first())
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    /// The field's value exactly as typed (message bodies keep their spaces and lines).
    pub fn raw(&self, name: &str) -> String {
        self.fields
            .get(name)
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default()
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.fields.get(name).cloned().unwrap_or_default()
    }

    pub fn has(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }
}

/// Why a page cannot be shown, as a person sees it.
#[derive(Debug)]
pub enum PageError {
    /// Not there — or not this person's to see (another service's data is never confirmed to
    /// exist).
    NotFound,
    /// Signed in, but without the permission for this page.
    Forbidden,
    /// Too many sign-in attempts are being checked at once: try again shortly.
    Busy,
    /// Something on our side failed (logged in full).
    Internal(String),
}

impl From<DomainError> for PageError {
    fn from(e: DomainError) -> PageError {
        match e.code() {
            Code::NotFound | Code::NoResult => PageError::NotFound,
            Code::Forbidden => PageError::Forbidden,
            Code::Busy => PageError::Busy,
            _ => PageError::Internal(e.to_string()),
        }
    }
}

impl From<storage::StoreError> for PageError {
    fn from(e: storage::StoreError) -> PageError {
        DomainError::from(e).into()
    }
}

impl PageError {
    pub fn into_response(self) -> Response {
        match self {
            PageError::NotFound => error_page(StatusCode::NOT_FOUND),
            PageError::Forbidden => error_page(StatusCode::FORBIDDEN),
            PageError::Busy => error_page(StatusCode::TOO_MANY_REQUESTS),
            PageError::Internal(message) => {
                tracing::error!(error = %message, "a page failed");
                error_page(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

/// The page shown for an error, with upstream's wording.
pub fn error_page(status: StatusCode) -> Response {
    let (title, message) = match status {
        StatusCode::NOT_FOUND => (
            "Page not found",
            "If you typed the web address, check it is correct. If you pasted the web address, check you copied the entire address.",
        ),
        StatusCode::FORBIDDEN => (
            "You do not have permission to view this page",
            "Ask a team member who can manage the service to give you permission.",
        ),
        StatusCode::TOO_MANY_REQUESTS => (
            "Too many attempts to sign in",
            "Too many people are signing in right now. Wait a minute, then try again.",
        ),
        _ => (
            "Sorry, there is a problem with the service",
            "Try again later. What you sent has not been lost if the service said it was sent.",
        ),
    };
    let page = web::ErrorPage {
        layout: web::Layout::new(title),
        message: message.to_string(),
    };
    match page.render() {
        Ok(body) => warp::reply::with_status(warp::reply::html(body), status).into_response(),
        Err(_) => warp::reply::with_status(title, status).into_response(),
    }
}

/// The result of a page handler as a response.
pub fn respond(result: Result<Response, PageError>) -> Response {
    result.unwrap_or_else(PageError::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_keep_every_value_and_trim_on_request() {
        let f = Form::parse(b"name=+Ann+&perm=a&perm=b&body=Hello%0A%0A++there+");
        assert_eq!(f.get("name"), "Ann");
        assert_eq!(f.all("perm"), vec!["a", "b"]);
        assert_eq!(f.raw("body"), "Hello\n\n  there ");
        assert_eq!(f.get("missing"), "");
        assert!(!f.has("missing"));
    }

    #[test]
    fn errors_never_show_internals() {
        let r = PageError::Internal("redb: disk on fire".into()).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let r = PageError::from(DomainError::not_found("x".into())).into_response();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn redirects_are_see_other() {
        let r = redirect("/your-services");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[header::LOCATION], "/your-services");
    }
}
