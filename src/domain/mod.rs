//! Rules shared by the public API, the internal API, the CLI and the workers. Handlers and
//! commands call these functions; nothing here knows about HTTP.

pub mod alerts;
pub mod api_keys;
pub mod callbacks;
pub mod contact_lists;
pub mod documents;
pub mod facts;
pub mod jobs;
pub mod letters;
pub mod limits;
pub mod monitoring;
pub mod receipts;
pub mod recipient_sheet;
pub mod recipients;
pub mod retention;
pub mod returned_letters;
pub mod sending;
pub mod services;
pub mod statistics;
pub mod status;
pub mod templates;
pub mod upkeep;
pub mod users;
pub mod working_days;

use storage::StoreError;

use crate::crypto::CryptoError;

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// Object storage (letter PDFs, job files) failed; the work is retried later.
    #[error("object storage: {0}")]
    Blobs(String),
    /// The per-minute rate limit (429 `RateLimitError`).
    #[error("{0}")]
    RateLimited(String),
    /// A daily sending limit (429 `TooManyRequestsError`).
    #[error("{0}")]
    DailyLimit(String),
    /// A rule that refuses the caller outright (403): an inactive service, a letter job from a
    /// trial-mode service.
    #[error("{0}")]
    Forbidden(String),
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => DomainError::NotFound(m),
            StoreError::Conflict(m) => DomainError::Conflict(m),
            StoreError::Invalid(m) => DomainError::Invalid(m),
            other => DomainError::Store(other),
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;

impl From<object_store::Error> for DomainError {
    fn from(e: object_store::Error) -> Self {
        DomainError::Blobs(e.to_string())
    }
}

/// What a scheduled job reports when it finishes: a one-line summary for `notify jobs list`
/// ("archived 1200 notifications"), or why it failed.
pub type JobOutcome = DomainResult<String>;
