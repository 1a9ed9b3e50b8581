//! The one place an error becomes an HTTP status and a body.
//!
//! Public v2 routes answer with Notify's envelope
//! `{"status_code": N, "errors": [{"error": "...", "message": "..."}]}`; the internal API and
//! the app-level 404/405 answer `{"result": "error", "message": ...}` as upstream does.

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::auth::AdminAuthError;
use crate::domain::{Code, DomainError};
use crate::receipts::ReceiptError;

pub const NOT_FOUND_MESSAGE: &str = "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.";
pub const METHOD_NOT_ALLOWED_MESSAGE: &str = "The method is not allowed for the requested URL.";

/// An error on its way to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    AdminAuth(#[from] AdminAuthError),
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A provider's receipt or received text refused (`/notifications/...` routes).
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// 409: the thing asked for is already happening (a scheduled job already running).
    #[error("{0}")]
    Conflict(String),
    /// v2 authentication failure (§2.3): 401 or 403 `AuthError`.
    #[error("{message}")]
    Auth { status: StatusCode, message: String },
    /// JSON-schema and address errors: 400 `ValidationError`, one entry per message.
    #[error("{}", .0.join("; "))]
    Validation(Vec<String>),
    /// A business rule answered with 403 `BadRequestError` (letters with team keys, trial mode).
    #[error("{0}")]
    Forbidden(String),
    /// 400 `InvalidPhoneError`.
    #[error("{0}")]
    InvalidPhone(String),
    /// 400 `PDFNotReadyError`.
    #[error("PDF not available yet, try again later")]
    PdfNotReady,
    /// 404 `NoResultFound` with upstream's fixed message.
    #[error("No result found")]
    NoResult,
    /// 429 `RateLimitError`.
    #[error("{0}")]
    RateLimit(String),
    /// 429 `TooManyRequestsError`.
    #[error("{0}")]
    TooManyRequests(String),
    /// Something on our side failed (logged in full, answered in general terms).
    #[error("{0}")]
    Internal(String),
}

impl From<storage::StoreError> for AppError {
    fn from(e: storage::StoreError) -> Self {
        AppError::Domain(e.into())
    }
}

impl AppError {
    /// (HTTP status, Notify error name, message).
    pub fn classify(&self) -> (StatusCode, &'static str, String) {
        match self {
            AppError::AdminAuth(e) => (StatusCode::UNAUTHORIZED, "AuthError", e.to_string()),
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, "BadRequestError", m.clone()),
            AppError::NotFound(m) => (StatusCode::NOT_FOUND, "NoResultFound", m.clone()),
            AppError::Conflict(m) => (StatusCode::CONFLICT, "ConflictError", m.clone()),
            AppError::Auth { status, message } => (*status, "AuthError", message.clone()),
            AppError::Validation(m) => (
                StatusCode::BAD_REQUEST,
                "ValidationError",
                m.first().cloned().unwrap_or_default(),
            ),
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, "BadRequestError", m.clone()),
            AppError::InvalidPhone(m) => (StatusCode::BAD_REQUEST, "InvalidPhoneError", m.clone()),
            AppError::PdfNotReady => (
                StatusCode::BAD_REQUEST,
                "PDFNotReadyError",
                self.to_string(),
            ),
            AppError::NoResult => (StatusCode::NOT_FOUND, "NoResultFound", self.to_string()),
            AppError::RateLimit(m) => (StatusCode::TOO_MANY_REQUESTS, "RateLimitError", m.clone()),
            AppError::TooManyRequests(m) => (
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsError",
                m.clone(),
            ),
            AppError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Exception",
                    "Internal server error".to_string(),
                )
            }
            AppError::Receipt(r) => {
                let status = match r {
                    ReceiptError::BadRequest(_) | ReceiptError::MissingFields(_) => {
                        StatusCode::BAD_REQUEST
                    }
                    ReceiptError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
                    ReceiptError::NotFound(_) => StatusCode::NOT_FOUND,
                    ReceiptError::RetryLater(_) => StatusCode::SERVICE_UNAVAILABLE,
                    ReceiptError::Upstream(_) => StatusCode::BAD_GATEWAY,
                };
                (status, "BadRequestError", r.to_string())
            }
            AppError::Domain(d) => {
                let (status, name) = http_of(d.code());
                let message = match d {
                    DomainError::Refused { message, .. } => message.clone(),
                    DomainError::Validation(m) => m.first().cloned().unwrap_or_default(),
                    DomainError::Store(e) if e.retry_after_secs().is_some() => {
                        store_unavailable(e).2
                    }
                    DomainError::Store(_)
                    | DomainError::Crypto(_)
                    | DomainError::Blobs(_)
                    | DomainError::Internal(_) => {
                        // Logged in full, answered in general terms: internals are not for
                        // clients.
                        tracing::error!(error = %d, "internal error");
                        "Internal server error".to_string()
                    }
                };
                (status, name, message)
            }
        }
    }

    /// Seconds for a `Retry-After` header: set when the store cannot take the request now (a
    /// storage fault being recovered from, low disk space).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::Domain(DomainError::Store(e)) => e.retry_after_secs(),
            AppError::Domain(d) if d.code() == Code::Unavailable => Some(BLOBS_RETRY_AFTER_SECS),
            _ => None,
        }
    }

    /// The body of the internal API and app-level errors. Authentication failures carry
    /// their message under `token`, as upstream's admin auth does.
    pub fn into_admin_response(&self) -> Response {
        let (status, _, message) = self.classify();
        let response = match self {
            AppError::AdminAuth(_) => json_response(
                status,
                &json!({"result": "error", "message": {"token": [message]}}),
            ),
            AppError::Receipt(ReceiptError::MissingFields(fields)) => {
                json_response(status, &json!({"result": "error", "message": fields}))
            }
            _ => admin_error_response(status, &message),
        };
        with_retry_after(response, self.retry_after_secs())
    }

    /// The v2 envelope. Only validation errors carry several entries (deduplicated, in order).
    pub fn into_v2_response(&self) -> Response {
        let (status, error, message) = self.classify();
        let errors: Vec<serde_json::Value> = match self {
            AppError::Validation(messages)
            | AppError::Domain(DomainError::Validation(messages)) => {
                let mut seen = std::collections::HashSet::new();
                messages
                    .iter()
                    .filter(|m| seen.insert(m.as_str()))
                    .map(|m| json!({"error": error, "message": m}))
                    .collect()
            }
            _ => vec![json!({"error": error, "message": message})],
        };
        let response = json_response(
            status,
            &json!({"status_code": status.as_u16(), "errors": errors}),
        );
        with_retry_after(response, self.retry_after_secs())
    }
}

/// The one table from a domain error code to its HTTP status and Notify error name.
pub fn http_of(code: Code) -> (StatusCode, &'static str) {
    match code {
        Code::NotFound | Code::NoResult => (StatusCode::NOT_FOUND, "NoResultFound"),
        Code::Invalid => (StatusCode::BAD_REQUEST, "ValidationError"),
        Code::Conflict
        | Code::BadRequest
        | Code::NotAllowedToSend
        | Code::TemplateNotFound
        | Code::TemplateWrongType
        | Code::TemplateArchived
        | Code::MissingPersonalisation
        | Code::EmptyMessage
        | Code::MessageTooLong
        | Code::UnknownSender
        | Code::RecipientNotAllowed
        | Code::PhoneNotAllowed
        | Code::FilesNotSetUp
        | Code::DocumentRejected
        | Code::UndecodableContent => (StatusCode::BAD_REQUEST, "BadRequestError"),
        Code::InvalidPhone => (StatusCode::BAD_REQUEST, "InvalidPhoneError"),
        Code::PdfNotReady => (StatusCode::BAD_REQUEST, "PDFNotReadyError"),
        Code::Forbidden | Code::LetterNotAllowed => (StatusCode::FORBIDDEN, "BadRequestError"),
        Code::Unauthorized => (StatusCode::UNAUTHORIZED, "AuthError"),
        Code::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "RateLimitError"),
        Code::Busy => (StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsError"),
        Code::DailyLimit => (StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsError"),
        Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableError"),
        Code::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Exception"),
    }
}

// --- storage unavailable or low on disk space (issue 29): 503 + Retry-After ---------------------

/// One log line per interval however many requests are refused (a full disk refuses thousands
/// a minute).
static STORE_UNAVAILABLE_LOG: storage::log_limit::LogEvery =
    storage::log_limit::LogEvery::new(std::time::Duration::from_secs(10));

/// 503: the store cannot take the request now; the client should try again later.
/// `Retry-After` when the blob store refused a send's file (its own retries already spent).
const BLOBS_RETRY_AFTER_SECS: u64 = 5;

fn store_unavailable(e: &storage::StoreError) -> (StatusCode, &'static str, String) {
    if let Some(held_back) = STORE_UNAVAILABLE_LOG.ready() {
        tracing::warn!(error = %e, held_back, "refused a request: the store cannot take it now");
    }
    let message = match e {
        storage::StoreError::LowDiskSpace { .. } => {
            "The service is low on storage space and is not accepting new notifications. Try again later."
        }
        _ => "The service cannot store or read notifications right now. Try again later.",
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailableError",
        message.to_string(),
    )
}

fn with_retry_after(mut response: Response, secs: Option<u64>) -> Response {
    if let Some(secs) = secs {
        response
            .headers_mut()
            .insert(warp::http::header::RETRY_AFTER, secs.into());
    }
    response
}

// --- end of storage unavailable -----------------------------------------------------------------

pub fn admin_error_response(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({"result": "error", "message": message}))
}

pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

/// An [`AppError`] travelling through warp's rejection path from an internal-API route.
#[derive(Debug)]
pub struct AdminRejection(pub AppError);

impl warp::reject::Reject for AdminRejection {}

pub fn admin_reject(e: impl Into<AppError>) -> warp::Rejection {
    warp::reject::custom(AdminRejection(e.into()))
}

/// An [`AppError`] from a public v2 route: answered with the v2 envelope.
#[derive(Debug)]
pub struct V2Rejection(pub AppError);

impl warp::reject::Reject for V2Rejection {}

pub fn v2_reject(e: impl Into<AppError>) -> warp::Rejection {
    warp::reject::custom(V2Rejection(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_errors_map_to_statuses() {
        let (s, e, m) = AppError::Domain(DomainError::not_found("No service".into())).classify();
        assert_eq!(
            (s, e, m.as_str()),
            (StatusCode::NOT_FOUND, "NoResultFound", "No service")
        );
        let (s, _, _) = AppError::AdminAuth(AdminAuthError::Missing).classify();
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _, m) =
            AppError::Domain(DomainError::Store(storage::StoreError::WriterGone)).classify();
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!m.contains("writer"), "internals stay internal");
    }

    #[test]
    fn an_unavailable_store_is_503_with_retry_after() {
        use storage::StoreError;
        let cases = [
            StoreError::Unavailable {
                reason: "No space left on device (os error 28)".into(),
                retry_after_secs: 4,
            },
            StoreError::LowDiskSpace {
                free_bytes: 1,
                min_free_bytes: 2,
            },
        ];
        for e in cases {
            let app = AppError::from(e.clone());
            let (s, name, m) = app.classify();
            assert_eq!(
                (s, name),
                (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableError")
            );
            assert!(!m.contains("os error"), "internals stay internal: {m}");
            for response in [app.into_v2_response(), app.into_admin_response()] {
                assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
                let retry = response.headers()[warp::http::header::RETRY_AFTER]
                    .to_str()
                    .unwrap();
                assert_eq!(retry, e.retry_after_secs().unwrap().to_string());
            }
        }
    }
}
