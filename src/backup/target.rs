//! Where backups are kept: a directory, or a prefix of an S3 bucket (`s3://bucket/prefix`),
//! both seen through `object_store` so the backup code is written once.

use std::sync::Arc;

use futures_util::{StreamExt as _, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use super::BackupError;
use crate::config::{BackupS3Config, S3Config};

/// Every backup folder's name starts with this.
pub const BACKUP_PREFIX: &str = "notify-backup-";
/// Written last: a folder holding it is a complete backup.
pub const SUMS: &str = "SHA256SUMS";

/// A place backups are written to or read from.
#[derive(Clone)]
pub struct Target {
    store: Arc<dyn ObjectStore>,
    /// Folder inside `store` ("" for its root).
    prefix: String,
    /// How to name it to a person.
    shown: String,
    /// The directory, for a local target.
    dir: Option<std::path::PathBuf>,
}

impl Target {
    /// `dir`, or `s3://bucket/prefix` reached with `s3`'s settings. A directory is created
    /// (owner-only) when `create` is set, and must exist otherwise.
    pub fn parse(text: &str, s3: &BackupS3Config, create: bool) -> Result<Target, BackupError> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(BackupError::Refused(format!(
                    "{text}: name the bucket, as s3://bucket/prefix"
                )));
            }
            let settings = S3Config {
                bucket: bucket.to_string(),
                region: s3.region.clone(),
                endpoint: s3.endpoint.clone(),
                access_key_id: s3.access_key_id.clone(),
                secret_access_key: s3.secret_access_key.clone(),
                path_style: s3.path_style,
                allow_http: s3.allow_http,
                ..S3Config::default()
            };
            let store = crate::domain::context::s3_store(&settings)
                .map_err(|e| BackupError::objects(text, e))?;
            return Ok(Target {
                store,
                prefix: prefix.trim_matches('/').to_string(),
                shown: text.trim_end_matches('/').to_string(),
                dir: None,
            });
        }
        if text.is_empty() {
            return Err(BackupError::Refused("no backup location given".into()));
        }
        let dir = std::path::Path::new(text);
        if create {
            storage::files::create_private_dir(dir).map_err(|e| BackupError::objects(text, e))?;
        } else if !dir.is_dir() {
            return Err(BackupError::Refused(format!("{text} is not a directory")));
        }
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| BackupError::objects(text, e))?;
        Ok(Target {
            store: Arc::new(store),
            prefix: String::new(),
            shown: text.to_string(),
            dir: Some(dir.to_path_buf()),
        })
    }

    /// The folder `name` inside this target.
    pub fn child(&self, name: &str) -> Target {
        Target {
            store: self.store.clone(),
            prefix: self.join(name),
            shown: format!("{}/{name}", self.shown),
            dir: self.dir.clone(),
        }
    }

    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn join(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    /// The object `name` (a path relative to this folder).
    pub fn path(&self, name: &str) -> Path {
        Path::from(self.join(name))
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The whole object `name`.
    pub async fn read(&self, name: &str) -> Result<bytes::Bytes, BackupError> {
        let place = || format!("{}/{name}", self.shown);
        let got = self
            .store
            .get(&self.path(name))
            .await
            .map_err(|e| BackupError::objects(place(), e))?;
        got.bytes()
            .await
            .map_err(|e| BackupError::objects(place(), e))
    }

    /// Write the whole object `name`.
    pub async fn write(&self, name: &str, bytes: Vec<u8>) -> Result<(), BackupError> {
        self.store
            .put(&self.path(name), bytes.into())
            .await
            .map_err(|e| BackupError::objects(format!("{}/{name}", self.shown), e))?;
        Ok(())
    }

    pub async fn exists(&self, name: &str) -> Result<bool, BackupError> {
        match self.store.head(&self.path(name)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(BackupError::objects(format!("{}/{name}", self.shown), e)),
        }
    }

    /// The backup folders here, oldest first (names sort by time), and whether each is
    /// complete.
    pub async fn backups(&self) -> Result<Vec<(String, bool)>, BackupError> {
        let prefix = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
        let listed = self
            .store
            .list_with_delimiter(prefix.as_ref())
            .await
            .map_err(|e| BackupError::objects(&self.shown, e))?;
        let mut names: Vec<String> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .filter(|n| n.starts_with(BACKUP_PREFIX))
            .collect();
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let complete = self.child(&name).exists(SUMS).await?;
            out.push((name, complete));
        }
        Ok(out)
    }

    /// Delete everything in this folder.
    pub async fn remove_all(&self) -> Result<(), BackupError> {
        if let Some(dir) = &self.dir {
            // The local store would leave the emptied directories behind.
            return match std::fs::remove_dir_all(dir.join(&self.prefix)) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(BackupError::objects(&self.shown, e)),
            };
        }
        let prefix = Path::from(self.prefix.as_str());
        let paths = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .boxed();
        self.store
            .delete_stream(paths)
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| BackupError::objects(&self.shown, e))?;
        Ok(())
    }

    /// Keep the newest `keep` complete backups; delete older ones, and incomplete folders
    /// older than the newest complete one (runs that failed). Answers what was deleted.
    pub async fn prune(&self, keep: usize) -> Result<Vec<String>, BackupError> {
        let backups = self.backups().await?;
        let complete: Vec<&String> = backups.iter().filter(|(_, c)| *c).map(|(n, _)| n).collect();
        let Some(newest) = complete.last().map(|n| n.to_string()) else {
            return Ok(Vec::new());
        };
        let excess = complete.len().saturating_sub(keep);
        let old: Vec<String> = complete[..excess].iter().map(|n| n.to_string()).collect();
        let mut deleted = Vec::new();
        for (name, complete) in &backups {
            let stale = if *complete {
                old.contains(name)
            } else {
                *name < newest
            };
            if stale {
                self.child(name).remove_all().await?;
                deleted.push(name.clone());
            }
        }
        Ok(deleted)
    }
}
