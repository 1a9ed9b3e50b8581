//! The one place an error becomes an HTTP status and a body.
//!
//! Public v2 routes answer with Notify's envelope
//! `{"status_code": N, "errors": [{"error": "...", "message": "..."}]}`; the internal API and
//! the app-level 404/405 answer `{"result": "error", "message": ...}` as upstream does.

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::auth::AdminAuthError;
use crate::domain::DomainError;

pub const NOT_FOUND_MESSAGE: &str = "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.";
pub const METHOD_NOT_ALLOWED_MESSAGE: &str = "The method is not allowed for the requested URL.";

/// An error on its way to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    AdminAuth(#[from] AdminAuthError),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
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
            AppError::Domain(d) => match d {
                DomainError::NotFound(m) => (StatusCode::NOT_FOUND, "NoResultFound", m.clone()),
                DomainError::Invalid(m) => (StatusCode::BAD_REQUEST, "ValidationError", m.clone()),
                DomainError::Conflict(m) => (StatusCode::BAD_REQUEST, "BadRequestError", m.clone()),
                DomainError::Store(_) | DomainError::Crypto(_) => {
                    // Logged in full, answered in general terms: internals are not for clients.
                    tracing::error!(error = %d, "internal error");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Exception",
                        "Internal server error".to_string(),
                    )
                }
            },
        }
    }

    /// The body of the internal API and app-level errors.
    pub fn into_admin_response(self) -> Response {
        let (status, _, message) = self.classify();
        admin_error_response(status, &message)
    }

    /// The v2 envelope.
    pub fn into_v2_response(self) -> Response {
        let (status, error, message) = self.classify();
        json_response(
            status,
            &json!({"status_code": status.as_u16(), "errors": [{"error": error, "message": message}]}),
        )
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_errors_map_to_statuses() {
        let (s, e, m) = AppError::Domain(DomainError::NotFound("No service".into())).classify();
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
}
