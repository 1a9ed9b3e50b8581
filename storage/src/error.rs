//! The storage crate's one error type.
//!
//! Variants are split by what the writer must do with them: a storage failure (database, io)
//! means the transaction may hold a half-applied operation, so the whole batch is aborted and
//! every caller in it is told; anything else is a *rejection*: the operation checked something,
//! wrote nothing, and its neighbours in the same group commit go ahead.

use std::sync::Arc;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error(
        "the data directory {0} is in use by another notify process (stop it, or run this command against the running server)"
    )]
    InUse(String),
    #[error("database: {0}")]
    Database(Arc<redb::Error>),
    #[error("record encoding: {0}")]
    Codec(String),
    #[error("search index: {0}")]
    Index(String),
    #[error("io: {0}")]
    Io(Arc<std::io::Error>),
    #[error("the storage writer has stopped")]
    WriterGone,
    /// A storage fault (a full disk, a failing device) closed the database; the writer reopens
    /// it with back-off, and until then every read and write is refused at once.
    #[error(
        "storage unavailable until the database is reopened after a storage failure ({reason})"
    )]
    Unavailable {
        reason: String,
        /// When the next reopen is due, rounded up (at least 1).
        retry_after_secs: u64,
    },
    /// Free space on the data directory's filesystem is below the low-disk watermark: new work
    /// is refused so that work already accepted can finish (see [`crate::health`]).
    #[error(
        "low disk space: {free_bytes} bytes free on the data directory's filesystem, below the {min_free_bytes}-byte watermark"
    )]
    LowDiskSpace {
        free_bytes: u64,
        min_free_bytes: u64,
    },
    #[error(
        "the store {path} has schema version {found}, newer than this binary's ({supported}): it was written by a newer notify; run that one (or restore the .backup copy made beside the file when it upgraded the store)"
    )]
    SchemaTooNew {
        path: String,
        found: u32,
        supported: u32,
    },
    /// A schema migration step failed; its transaction was abandoned.
    #[error(
        "migrating the store {path} from schema version {from} to {to} ({step:?}) failed: {message}; that step changed nothing (the store is at version {from}; a copy from before the upgrade is {backup})"
    )]
    Migration {
        path: String,
        step: String,
        from: u32,
        to: u32,
        message: String,
        backup: String,
    },
    /// The copy made before migrating could not be written; nothing was migrated.
    #[error(
        "could not copy the store {path} to {backup} before migrating it: {message}; nothing was changed"
    )]
    MigrationBackup {
        path: String,
        backup: String,
        message: String,
    },
}

impl StoreError {
    /// True when the storage itself failed, so a transaction may hold a half-applied
    /// operation and the whole group commit must be abandoned. Every other error is a
    /// rejection: the operation checked something and wrote nothing.
    pub fn is_fatal_for_batch(&self) -> bool {
        matches!(
            self,
            StoreError::Database(_) | StoreError::Io(_) | StoreError::WriterGone
        )
    }

    /// True for an I/O failure reported by redb: after one, redb refuses every write until the
    /// database is closed and reopened, which the writer then does ([`crate::recovery`]).
    pub fn is_storage_fault(&self) -> bool {
        match self {
            StoreError::Database(e) => matches!(
                **e,
                redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseClosed
            ),
            _ => false,
        }
    }

    /// For an error that means "the store cannot take this now, try again later" (unavailable,
    /// low on disk space, a storage fault), the seconds to tell the client to wait; `None` for
    /// every other error. The HTTP layer answers these with 503 and `Retry-After`.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            StoreError::Unavailable {
                retry_after_secs, ..
            } => Some((*retry_after_secs).max(1)),
            StoreError::LowDiskSpace { .. } => Some(crate::health::LOW_DISK_RETRY_SECS),
            e if e.is_storage_fault() => Some(1),
            _ => None,
        }
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Database(Arc::new(e.into()))
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::SetDurabilityError
);

impl From<redb::DatabaseError> for StoreError {
    fn from(e: redb::DatabaseError) -> Self {
        StoreError::Database(Arc::new(e.into()))
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(Arc::new(e))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
