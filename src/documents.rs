//! The built-in document download: the links that files sent by email are replaced with
//! (see [`crate::domain::documents`]).
//!
//! - `GET /d/{service_id}/{document_id}?key=...`: the file itself, or, when the sender asked for
//!   it (the default), a page asking for the recipient's email address first.
//! - `POST /d/{service_id}/{document_id}/confirm` (form: `key`, `email_address`): the file if
//!   the address is the one it was sent to, otherwise the form again with an error.
//!
//! A wrong or missing key, an unknown document and an expired one all get the same 404 page.

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;
use warp::Filter;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::{Reply, Response};

use crate::app::App;
use crate::domain::documents::{self, OpenDocument};

pub const EMAIL_MISMATCH_MESSAGE: &str = "This is not the email address the file was sent to. To confirm the file was meant for you, enter the email address you received the file at.";
pub const EMAIL_MISSING_MESSAGE: &str = "Enter your email address";

fn with_app(
    app: Arc<App>,
) -> impl Filter<Extract = (Arc<App>,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || app.clone())
}

/// Headers for every document response: the key is in the URL, so it must not leak as a
/// referrer, and none of this is for search engines.
fn private(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    response
}

fn html(status: StatusCode, page: Result<String, impl std::fmt::Display>) -> Response {
    match page {
        Ok(body) => {
            private(warp::reply::with_status(warp::reply::html(body), status).into_response())
        }
        Err(e) => {
            tracing::error!(error = %e, "document page failed to render");
            internal_error()
        }
    }
}

fn internal_error() -> Response {
    private(
        warp::reply::with_status(
            "Sorry, there is a problem with the service. Try again later.",
            StatusCode::INTERNAL_SERVER_ERROR,
        )
        .into_response(),
    )
}

fn unavailable() -> Response {
    html(
        StatusCode::NOT_FOUND,
        web::DocumentUnavailablePage {
            layout: web::Layout::new("This file is no longer available"),
        }
        .render_html(),
    )
}

fn confirm_page(
    service_id: Uuid,
    document_id: Uuid,
    key: &str,
    email_address: &str,
    error: Option<&str>,
) -> Response {
    let page = web::DocumentConfirmPage {
        layout: web::Layout {
            has_errors: error.is_some(),
            ..web::Layout::new("Confirm your email address")
        },
        action: format!("/d/{service_id}/{document_id}/confirm"),
        key: key.to_string(),
        email_address: email_address.to_string(),
        error: error.map(str::to_string),
    };
    html(StatusCode::OK, page.render_html())
}

/// `Content-Disposition` for a download: the name quoted with only safe ASCII, plus the exact
/// name as `filename*` (RFC 6266) when it needs more than that.
pub fn content_disposition(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '_',
        })
        .collect();
    if safe == name {
        format!("attachment; filename=\"{safe}\"")
    } else {
        let encoded: String = name
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        format!("attachment; filename=\"{safe}\"; filename*=UTF-8''{encoded}")
    }
}

async fn serve_file(app: &App, doc: &OpenDocument) -> Response {
    match doc.content(app).await {
        Ok(Some(bytes)) => {
            let mut response = Response::new(bytes.into());
            let h = response.headers_mut();
            let content_type = HeaderValue::from_str(doc.mime_type())
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            h.insert("content-type", content_type);
            if let Ok(v) = HeaderValue::from_str(&content_disposition(&doc.download_name())) {
                h.insert("content-disposition", v);
            }
            private(response)
        }
        Ok(None) => unavailable(),
        Err(e) => {
            tracing::error!(error = %e, "could not read a document");
            internal_error()
        }
    }
}

/// Open the document named by the path, or the response to give instead.
async fn open(
    app: &App,
    service_id: &str,
    document_id: &str,
    key: &str,
) -> Result<(Uuid, Uuid, OpenDocument), Response> {
    let (Ok(service_id), Ok(document_id)) = (service_id.parse(), document_id.parse()) else {
        return Err(unavailable());
    };
    match documents::open_document(app, service_id, document_id, key).await {
        Ok(Some(doc)) => Ok((service_id, document_id, doc)),
        Ok(None) => Err(unavailable()),
        Err(e) => {
            tracing::error!(error = %e, "could not open a document");
            Err(internal_error())
        }
    }
}

async fn get_document(
    app: Arc<App>,
    service_id: String,
    document_id: String,
    query: String,
) -> Response {
    let key = crate::api::query_pairs(&query)
        .into_iter()
        .find(|(k, _)| k == "key")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let (service_id, document_id, doc) = match open(&app, &service_id, &document_id, &key).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    if doc.needs_email_confirmation() {
        confirm_page(service_id, document_id, &key, "", None)
    } else {
        serve_file(&app, &doc).await
    }
}

async fn confirm_email(
    app: Arc<App>,
    service_id: String,
    document_id: String,
    form: HashMap<String, String>,
) -> Response {
    let key = form.get("key").map(String::as_str).unwrap_or_default();
    let (service_id, document_id, doc) = match open(&app, &service_id, &document_id, key).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let typed = form
        .get("email_address")
        .map(String::as_str)
        .unwrap_or_default();
    if !doc.needs_email_confirmation() || doc.email_matches(typed) {
        return serve_file(&app, &doc).await;
    }
    let error = if typed.trim().is_empty() {
        EMAIL_MISSING_MESSAGE
    } else {
        EMAIL_MISMATCH_MESSAGE
    };
    confirm_page(service_id, document_id, key, typed.trim(), Some(error))
}

pub fn routes(
    app: Arc<App>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let get = warp::path!("d" / String / String)
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(crate::api::raw_query())
        .then(
            |service_id: String, document_id: String, app: Arc<App>, query: String| {
                get_document(app, service_id, document_id, query)
            },
        );
    let confirm = warp::path!("d" / String / String / "confirm")
        .and(warp::post())
        .and(with_app(app))
        .and(warp::body::form::<HashMap<String, String>>())
        .then(
            |service_id: String, document_id: String, app: Arc<App>, form| {
                confirm_email(app, service_id, document_id, form)
            },
        );
    get.or(confirm).unify()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_are_safe_in_headers() {
        assert_eq!(
            content_disposition("report 2026.csv"),
            r#"attachment; filename="report 2026.csv""#
        );
        assert_eq!(
            content_disposition("a\"b\r\n.pdf"),
            r#"attachment; filename="a_b__.pdf"; filename*=UTF-8''a%22b%0D%0A.pdf"#
        );
        assert_eq!(
            content_disposition("café.txt"),
            r#"attachment; filename="caf_.txt"; filename*=UTF-8''caf%C3%A9.txt"#
        );
        assert!(HeaderValue::from_str(&content_disposition("x\u{0}y\\z.txt")).is_ok());
    }
}
