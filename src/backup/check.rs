//! `notify check`: is a data directory whole? On top of the storage checks
//! (`storage::check`: the file, every table and record, the notifications' secondary rows, the
//! index against the store), what only the appliance knows: sealed values open with the
//! encryption key in force, and every file the store refers to is in the blob store.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::TryStreamExt;
use object_store::ObjectStore;
use serde::{Deserialize, Serialize};
use storage::Store;
use storage::check::{IndexCheck, StoreCheck, compare_index};
use storage::index::SearchIndex;
use storage::records::{
    ApiKey, ContactList, Job, Notification, NotificationStatus, NotificationType, ServiceCallback,
};
use storage::tables::{API_KEYS, CONTACT_LISTS, JOBS, NOTIFICATIONS, SERVICE_CALLBACKS};

use super::BackupError;
use crate::crypto::Sealer;
use crate::letters::files::{Area, pdf_location, scan_name};

/// Problems of one kind listed in full; beyond this only counted.
const EXAMPLES: usize = 10;

/// Everything `notify check` found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckReport {
    pub data_dir: String,
    /// redb's check of the file: `Some(true)` intact, `Some(false)` damaged and repaired;
    /// `None` when a running server holds it (the rest is checked through the server).
    pub file_intact: Option<bool>,
    pub store: StoreCheck,
    pub index: IndexCheck,
    pub sealed: SealedCheck,
    pub blobs: BlobsCheck,
}

/// Sealed values (API key secrets, callback tokens) tried with the encryption key in force.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SealedCheck {
    pub checked: u64,
    pub unreadable: u64,
    pub problems: Vec<String>,
}

/// Files the store refers to (job sheets, contact lists, letter PDFs) against the blob store.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BlobsCheck {
    pub listed: u64,
    pub referenced: u64,
    pub missing: u64,
    pub problems: Vec<String>,
}

impl CheckReport {
    /// Every problem, as sentences for a person; empty when the data directory is whole.
    pub fn problems(&self) -> Vec<String> {
        let mut all = Vec::new();
        if self.file_intact == Some(false) {
            all.push("the database file failed redb's integrity check (redb repaired it)".into());
        }
        all.extend(self.store.problems.iter().cloned());
        all.extend(self.index.problems.iter().cloned());
        all.extend(self.sealed.problems.iter().cloned());
        all.extend(self.blobs.problems.iter().cloned());
        all
    }
}

/// Check an open store, its index and its blob store. `sealer` is the encryption key in force
/// (`None`: there is none). Reads everything once; changes nothing.
pub async fn check(
    store: &Store,
    index: &Arc<SearchIndex>,
    blobs: &Arc<dyn ObjectStore>,
    sealer: Option<&Sealer>,
) -> Result<CheckReport, BackupError> {
    let (s, i, key) = (store.clone(), index.clone(), sealer.cloned());
    let walked = tokio::task::spawn_blocking(move || {
        let snapshot = s.snapshot()?;
        let store_check = snapshot.check()?;
        let index_check = compare_index(&s, &snapshot, &i)?;
        let sealed = check_sealed(&snapshot, key.as_ref())?;
        let referenced = referenced_files(&snapshot)?;
        Ok::<_, BackupError>((store_check, index_check, sealed, referenced))
    })
    .await
    .map_err(|e| BackupError::Io(std::io::Error::other(e)))??;
    let (store_check, index_check, sealed, referenced) = walked;
    let blobs_check = check_blobs(blobs, referenced).await?;
    Ok(CheckReport {
        data_dir: store.dir().display().to_string(),
        file_intact: None,
        store: store_check,
        index: index_check,
        sealed,
        blobs: blobs_check,
    })
}

fn check_sealed(
    snapshot: &storage::snapshot::Snapshot,
    sealer: Option<&Sealer>,
) -> Result<SealedCheck, BackupError> {
    let mut sealed: Vec<(String, Vec<u8>)> = Vec::new();
    snapshot.for_each(API_KEYS, |k: ApiKey| {
        sealed.push((format!("API key {}", k.id), k.secret_sealed));
    })?;
    snapshot.for_each(SERVICE_CALLBACKS, |c: ServiceCallback| {
        sealed.push((
            format!("callback {} of service {}", c.id, c.service_id),
            c.bearer_token_sealed,
        ));
    })?;
    let mut report = SealedCheck {
        checked: sealed.len() as u64,
        ..Default::default()
    };
    let Some(sealer) = sealer else {
        if !sealed.is_empty() {
            report.unreadable = report.checked;
            report.problems.push(format!(
                "there is no encryption key, so {} sealed values (API keys, callback tokens) cannot be read",
                report.checked
            ));
        }
        return Ok(report);
    };
    for (what, value) in sealed {
        if sealer.open(&value).is_err() {
            report.unreadable += 1;
            if report.problems.len() < EXAMPLES {
                report.problems.push(format!(
                    "{what} cannot be unsealed with the encryption key in force (fingerprint {})",
                    sealer.fingerprint()
                ));
            }
        }
    }
    if report.unreadable > EXAMPLES as u64 {
        report.problems.push(format!(
            "... {} sealed values in all cannot be unsealed",
            report.unreadable
        ));
    }
    Ok(report)
}

/// Blob paths the store says exist: the sheets of jobs and contact lists not yet removed by
/// retention, and the PDFs of letters whose status means the file is there (printed or being
/// printed: `sending`, `delivered`; uploaded and waiting for the scan: `pending-virus-check`).
fn referenced_files(snapshot: &storage::snapshot::Snapshot) -> Result<Vec<String>, BackupError> {
    let mut files = Vec::new();
    snapshot.for_each(JOBS, |j: Job| {
        if !j.archived {
            files.push(j.file_key);
        }
    })?;
    snapshot.for_each(CONTACT_LISTS, |l: ContactList| {
        if !l.archived {
            files.push(l.file_key);
        }
    })?;
    snapshot.for_each(NOTIFICATIONS, |n: Notification| {
        if n.notification_type != NotificationType::Letter {
            return;
        }
        match n.status {
            NotificationStatus::Sending | NotificationStatus::Delivered => {
                let (area, name) = pdf_location(&n);
                files.push(area.path(&name).to_string());
            }
            NotificationStatus::PendingVirusCheck => {
                files.push(Area::Scan.path(&scan_name(&n)).to_string());
            }
            _ => {}
        }
    })?;
    Ok(files)
}

async fn check_blobs(
    blobs: &Arc<dyn ObjectStore>,
    referenced: Vec<String>,
) -> Result<BlobsCheck, BackupError> {
    let mut listed = HashSet::new();
    let mut all = blobs.list(None);
    while let Some(meta) = all
        .try_next()
        .await
        .map_err(|e| BackupError::objects("the blob store", e))?
    {
        listed.insert(meta.location.to_string());
    }
    let mut report = BlobsCheck {
        listed: listed.len() as u64,
        referenced: referenced.len() as u64,
        ..Default::default()
    };
    for file in referenced {
        if !listed.contains(&file) {
            report.missing += 1;
            if report.problems.len() < EXAMPLES {
                report.problems.push(format!(
                    "{file} is referred to by the store but missing from the blob store"
                ));
            }
        }
    }
    if report.missing > EXAMPLES as u64 {
        report.problems.push(format!(
            "... {} referenced files are missing in all",
            report.missing
        ));
    }
    Ok(report)
}
