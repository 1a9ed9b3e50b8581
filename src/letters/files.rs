//! Where letter files live (workers.md §2.2): the logical buckets are prefixes of the one blob
//! store (a local directory, or one S3 bucket), so an appliance needs no bucket set-up.
//!
//! | area | key | holds |
//! | --- | --- | --- |
//! | `letters-pdf` | `<print day>/NOTIFY….PDF` | printable letters, collected by the print run |
//! | `letters-scan` | `NOTIFY….PDF`, `ERROR/…`, `FAILURE/…` | precompiled uploads before and after the scan |
//! | `letters-invalid` | `NOTIFY….PDF` + `NOTIFY….PDF.json` | letters that failed validation, with why |
//! | `test-letters` | `NOTIFY….PDF` | letters sent with a test key |
//!
//! Moves are copy-then-delete and safe to repeat: when the source is gone and the target is
//! there, the move already happened (a crash between the two steps is resumed, not lost).

use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use storage::records::{KeyType, Notification, NotificationStatus};

use super::names;

/// A logical bucket of spec §2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    LettersPdf,
    Scan,
    ScanError,
    ScanFailure,
    Invalid,
    TestLetters,
}

impl Area {
    pub fn prefix(self) -> &'static str {
        match self {
            Area::LettersPdf => "letters-pdf",
            Area::Scan => "letters-scan",
            Area::ScanError => "letters-scan/ERROR",
            Area::ScanFailure => "letters-scan/FAILURE",
            Area::Invalid => "letters-invalid",
            Area::TestLetters => "test-letters",
        }
    }

    pub fn path(self, name: &str) -> Path {
        Path::from(format!("{}/{name}", self.prefix()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("blob store: {0}")]
    Store(#[from] object_store::Error),
    #[error("{0} is in neither its old nor its new place")]
    Lost(String),
}

/// The precompiled file's name in the scan area (no folder).
pub fn scan_name(n: &Notification) -> String {
    names::pdf_file_name(
        &names::letter_reference(n.id),
        n.postage.as_deref().unwrap_or("second"),
        n.created_at,
    )
}

/// Where a letter's finished PDF is (the lookup rule of §2.1): letters-invalid after a failed
/// validation, test-letters for a test key, else letters-pdf under the print-day folder.
pub fn pdf_location(n: &Notification) -> (Area, String) {
    let reference = names::letter_reference(n.id);
    let postage = n.postage.as_deref().unwrap_or("second");
    if n.status == NotificationStatus::ValidationFailed {
        (
            Area::Invalid,
            names::pdf_file_name(&reference, postage, n.created_at),
        )
    } else if n.key_type == KeyType::Test {
        (
            Area::TestLetters,
            names::pdf_file_name(&reference, postage, n.created_at),
        )
    } else {
        (
            Area::LettersPdf,
            names::foldered_pdf_file_name(&reference, postage, n.created_at),
        )
    }
}

/// Letter files over the appliance's blob store.
#[derive(Clone)]
pub struct LetterFiles {
    store: Arc<dyn ObjectStore>,
}

impl LetterFiles {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        LetterFiles { store }
    }

    pub async fn put(&self, area: Area, name: &str, bytes: Bytes) -> Result<(), FilesError> {
        self.store
            .put(&area.path(name), PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    /// The file, or None when there is none.
    pub async fn get(&self, area: Area, name: &str) -> Result<Option<Bytes>, FilesError> {
        match self.store.get(&area.path(name)).await {
            Ok(got) => Ok(Some(got.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn exists(&self, area: Area, name: &str) -> Result<bool, FilesError> {
        match self.store.head(&area.path(name)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The file's size, or None when there is none.
    pub async fn size(&self, area: Area, name: &str) -> Result<Option<u64>, FilesError> {
        match self.store.head(&area.path(name)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Delete; a file already gone is not an error.
    pub async fn delete(&self, area: Area, name: &str) -> Result<(), FilesError> {
        match self.store.delete(&area.path(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Copy-then-delete, safe to repeat (see the module notes).
    pub async fn move_file(&self, from: (Area, &str), to: (Area, &str)) -> Result<(), FilesError> {
        let (source, target) = (from.0.path(from.1), to.0.path(to.1));
        if source == target {
            return Ok(());
        }
        match self.store.copy(&source, &target).await {
            Ok(()) => {}
            Err(object_store::Error::NotFound { .. }) => {
                return if self.exists(to.0, to.1).await? {
                    Ok(())
                } else {
                    Err(FilesError::Lost(source.to_string()))
                };
            }
            Err(e) => return Err(e.into()),
        }
        self.delete(from.0, from.1).await
    }

    /// Names of the files directly in `area` (not in its sub-folders), e.g. everything in
    /// `letters-scan/ERROR` for a replay.
    pub async fn list(&self, area: Area) -> Result<Vec<String>, FilesError> {
        self.list_folder(area, "").await
    }

    /// Names of the files directly in `folder` of `area` (e.g. a print day's `zips_sent`).
    pub async fn list_folder(&self, area: Area, folder: &str) -> Result<Vec<String>, FilesError> {
        let prefix = if folder.is_empty() {
            Path::from(area.prefix())
        } else {
            area.path(folder)
        };
        let listed = self.store.list_with_delimiter(Some(&prefix)).await?;
        Ok(listed
            .objects
            .into_iter()
            .filter_map(|o| o.location.filename().map(str::to_string))
            .collect())
    }
}
