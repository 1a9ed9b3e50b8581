//! What can go wrong in a domain function, as a type: every refusal carries a stable [`Code`]
//! (what a caller may match on; its text may change) and a message for people. The HTTP status
//! and Notify error name of each code are in `src/error.rs`, the one table from error to HTTP;
//! pages and the CLI show the message.

use storage::StoreError;

use crate::crypto::CryptoError;

/// Why a request was refused. Stable: the API maps each to a status and Notify's error name,
/// pages to the field it belongs to. `as_str` gives the code's name (for logs and JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// The thing asked for does not exist (for this service).
    NotFound,
    /// Upstream's fixed "No result found".
    NoResult,
    /// A value fails its check (a field, a setting, an address).
    Invalid,
    /// The request contradicts what is stored (a duplicate name, a state that forbids it).
    Conflict,
    /// A rule refuses this caller outright (an inactive service, letters in trial mode).
    Forbidden,
    /// A rule refuses the request; no more specific code applies.
    BadRequest,
    /// The service may not send this type of message.
    NotAllowedToSend,
    /// The template is not the service's, or is hidden.
    TemplateNotFound,
    /// The template is of another type than the message.
    TemplateWrongType,
    /// The template was archived.
    TemplateArchived,
    /// Placeholders without a value.
    MissingPersonalisation,
    /// The message renders to nothing.
    EmptyMessage,
    /// The message is over its length limit.
    MessageTooLong,
    /// The chosen SMS sender or reply-to address is not one of the service's.
    UnknownSender,
    /// Trial mode or a team key: the recipient is not in the team or guest list.
    RecipientNotAllowed,
    /// A phone number the service may not text (international, crown dependency).
    PhoneNotAllowed,
    /// A phone number refused as upstream's `InvalidPhoneError` does.
    InvalidPhone,
    /// Letters with a team key or from a trial-mode service.
    LetterNotAllowed,
    /// Files sent by email need the service's contact details first.
    FilesNotSetUp,
    /// A file sent by email was refused (type, size, retention).
    DocumentRejected,
    /// A precompiled letter's content is not base64.
    UndecodableContent,
    /// A letter's PDF is not ready yet.
    PdfNotReady,
    /// The per-minute rate limit.
    RateLimited,
    /// A daily sending limit.
    DailyLimit,
    /// Nobody is signed in (or the session has ended).
    Unauthorized,
    /// Too many sign-in attempts are being checked at once; try again shortly.
    Busy,
    /// The store cannot take writes right now (full disk, I/O error being recovered).
    Unavailable,
    /// Our side failed: the store, the blob store, or a sealed secret. Logged in full,
    /// answered in general terms.
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::NotFound => "not_found",
            Code::NoResult => "no_result",
            Code::Invalid => "invalid",
            Code::Conflict => "conflict",
            Code::Forbidden => "forbidden",
            Code::BadRequest => "bad_request",
            Code::NotAllowedToSend => "not_allowed_to_send",
            Code::TemplateNotFound => "template_not_found",
            Code::TemplateWrongType => "template_wrong_type",
            Code::TemplateArchived => "template_archived",
            Code::MissingPersonalisation => "missing_personalisation",
            Code::EmptyMessage => "empty_message",
            Code::MessageTooLong => "message_too_long",
            Code::UnknownSender => "unknown_sender",
            Code::RecipientNotAllowed => "recipient_not_allowed",
            Code::PhoneNotAllowed => "phone_not_allowed",
            Code::InvalidPhone => "invalid_phone",
            Code::LetterNotAllowed => "letter_not_allowed",
            Code::FilesNotSetUp => "files_not_set_up",
            Code::DocumentRejected => "document_rejected",
            Code::UndecodableContent => "undecodable_content",
            Code::PdfNotReady => "pdf_not_ready",
            Code::RateLimited => "rate_limited",
            Code::DailyLimit => "daily_limit",
            Code::Unauthorized => "unauthorized",
            Code::Busy => "busy",
            Code::Unavailable => "unavailable",
            Code::Internal => "internal",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// A rule refused the request.
    #[error("{message}")]
    Refused { code: Code, message: String },
    /// Several values failed their checks at once (each message names its field).
    #[error("{}", .0.join("; "))]
    Validation(Vec<String>),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The blob store (letter PDFs, job files, documents) failed; reported as such, not as a
    /// store error, so an operator looks at the right place.
    #[error("object storage: {0}")]
    Blobs(String),
    /// Something else on our side failed (a background task died).
    #[error("{0}")]
    Internal(String),
}

impl DomainError {
    pub fn refused(code: Code, message: impl Into<String>) -> Self {
        DomainError::Refused {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(message: String) -> Self {
        Self::refused(Code::NotFound, message)
    }

    pub fn invalid(message: String) -> Self {
        Self::refused(Code::Invalid, message)
    }

    pub fn conflict(message: String) -> Self {
        Self::refused(Code::Conflict, message)
    }

    pub fn forbidden(message: String) -> Self {
        Self::refused(Code::Forbidden, message)
    }

    pub fn bad_request(message: String) -> Self {
        Self::refused(Code::BadRequest, message)
    }

    pub fn rate_limited(message: String) -> Self {
        Self::refused(Code::RateLimited, message)
    }

    /// A file a send brought with it could not be stored: the blob store is away or failing.
    /// The cause goes to the log; the caller is told to try again (a 503, nothing accepted).
    pub fn files_unavailable(what: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, what, "refused a send: the blob store did not take its file");
        Self::refused(
            Code::Unavailable,
            "The service cannot store files right now. Try again later.",
        )
    }

    pub fn daily_limit(message: String) -> Self {
        Self::refused(Code::DailyLimit, message)
    }

    /// The stable code of this error.
    pub fn code(&self) -> Code {
        match self {
            DomainError::Refused { code, .. } => *code,
            DomainError::Validation(_) => Code::Invalid,
            DomainError::Store(e) if e.retry_after_secs().is_some() => Code::Unavailable,
            DomainError::Store(_)
            | DomainError::Crypto(_)
            | DomainError::Blobs(_)
            | DomainError::Internal(_) => Code::Internal,
        }
    }

    /// The people-readable message of a refusal (`None` for our own failures, whose details
    /// are for the log, not for the caller).
    pub fn refusal(&self) -> Option<&str> {
        match self {
            DomainError::Refused { message, .. } => Some(message),
            _ => None,
        }
    }
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => DomainError::not_found(m),
            StoreError::Conflict(m) => DomainError::conflict(m),
            StoreError::Invalid(m) => DomainError::invalid(m),
            other => DomainError::Store(other),
        }
    }
}

impl From<object_store::Error> for DomainError {
    fn from(e: object_store::Error) -> Self {
        DomainError::Blobs(e.to_string())
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
