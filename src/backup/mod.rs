//! Online backup, restore and check of a data directory — the appliance's disaster-recovery
//! story: back up while serving, restore the latest backup on a standby, check it, start it.
//!
//! ## What a backup is
//!
//! One folder, `notify-backup-<UTC time>` (e.g. `notify-backup-20261207T013000.123Z`), in a
//! directory or under an `s3://bucket/prefix`:
//!
//! | file | holds |
//! | --- | --- |
//! | `store.dump` | every table of the database as of one read transaction (`storage::snapshot`: rows in key order, lz4 chunks with a CRC each) |
//! | `blobs.jsonl` | the blob store's files (path, size, e-tag), one JSON object a line, listed after the snapshot began |
//! | `blobs/<path>` | the files themselves, unless `--no-blobs` (`backup.include_blobs = false`, right when blobs are in S3) |
//! | `settings.json` | the configuration in force, every secret `[redacted]` |
//! | `secrets/encryption-key`, `secrets/admin-secret` | unless `--no-secrets` (`backup.include_secrets = false`) |
//! | `manifest.json` | what the backup holds: versions, snapshot time, rows per table, blob count, the encryption key's fingerprint |
//! | `SHA256SUMS` | the SHA-256 of every file above (`sha256sum -c` reads it); written last, so a folder without it is an incomplete backup and is never restored |
//!
//! ## Consistency and load
//!
//! The snapshot is one redb read transaction: every notification acknowledged before the
//! backup began is in it, and nothing half-written is. It blocks no writer: the dump is read
//! on its own thread at background CPU priority while the API goes on committing (the pages
//! the snapshot sees are kept until it ends, so the database file may grow meanwhile). redb
//! allows one process: while the server runs, `notify backup` takes the snapshot through the
//! server's internal API (`POST /backup/snapshot`, then `GET /backup/snapshot/{id}/{part}` —
//! parts of a few MiB, pulled in order, so the server never holds more than a few MiB of it);
//! with the server stopped, it reads the data directory itself. The scheduled `backup` job
//! does the same inside the server. Either way the rest of the backup (blobs, settings,
//! checksums) is written by the same code ([`write_backup`]).
//!
//! ## Secrets
//!
//! Sealed values in the database (API key secrets, callback tokens) open only with the
//! encryption key (`secrets.encryption_key`, or `<data_dir>/encryption-key`). A backup carries
//! it (and the admin secret) by default, so it restores on its own; where backups are kept
//! somewhere the key should not be, `--no-secrets` (`backup.include_secrets = false`) leaves
//! them out, and the key must then be kept safe apart. The manifest records the key's
//! fingerprint, and a restore refuses a key that does not match it (`--encryption-key-file`),
//! so a wrong key is found at restore time, not when every API call fails. Without an admin
//! secret the restored server makes a new one.
//!
//! ## Restore and check
//!
//! [`restore`] goes into an empty data directory: it checks `SHA256SUMS`, the key, loads the
//! dump into a new store (verifying the dump's checksum as it reads), copies the blobs back
//! when the backup has them, then rebuilds the search index. [`check`] verifies a data
//! directory: redb's own file check, every table and record, the notifications' secondary
//! rows, the search index against the store, sealed values against the key, and every blob
//! the store refers to.

mod check;
mod restore;
mod snapshot;
mod target;
mod write;

pub use check::{BlobsCheck, CheckReport, SealedCheck, check};
pub use restore::{RestoreOptions, RestoreReport, VerifyReport, restore, verify_backup};
pub use snapshot::{ByteStream, Dump, Part, Sessions, dump};
pub use target::Target;
pub use write::{BackupOptions, Manifest, scheduled_backup, write_backup};

/// Why a backup, restore or check could not be done.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("storage: {0}")]
    Store(#[from] storage::StoreError),
    /// The backup target or the blob store failed.
    #[error("{place}: {message}")]
    Objects { place: String, message: String },
    /// What was asked cannot be done as asked (a data directory that is not empty, a backup
    /// whose checksum does not match, a key that is not the backup's).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl BackupError {
    pub(crate) fn objects(place: impl std::fmt::Display, e: impl std::fmt::Display) -> Self {
        BackupError::Objects {
            place: place.to_string(),
            message: e.to_string(),
        }
    }
}

impl From<BackupError> for crate::domain::DomainError {
    fn from(e: BackupError) -> Self {
        use crate::domain::DomainError;
        match e {
            BackupError::Store(e) => DomainError::from(e),
            BackupError::Objects { .. } | BackupError::Io(_) => DomainError::Blobs(e.to_string()),
            BackupError::Refused(message) => DomainError::invalid(message),
        }
    }
}

/// Hex SHA-256 of `bytes`.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
