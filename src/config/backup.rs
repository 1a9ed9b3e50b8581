//! `[backup]`: the scheduled backup job (`backup`, its schedule in `[scheduler.jobs]`): where
//! backups go, how many are kept, whether blob contents go with them; `[backup.s3]` is how to
//! reach an S3 target. `notify backup --to` takes the same targets by hand.

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, invalid};
use super::secret::Secret;

/// `[backup]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// Where the scheduled job puts backups: a directory, or `s3://bucket/prefix`; empty =
    /// the job makes none.
    pub to: String,
    /// Backups kept at `to` by the scheduled job (the oldest beyond this are deleted after a
    /// new one is complete); at least 1.
    pub keep: u32,
    /// Copy the blob store's files into each backup (false: the backup lists them, right when
    /// blobs are in S3, which keeps them itself).
    pub include_blobs: bool,
    /// Copy the encryption key (and the admin secret) into each backup, so it restores on its
    /// own; false = keep the key safe apart (a restore asks for it).
    pub include_secrets: bool,
    /// `[backup.s3]`: the S3 service of an `s3://` target.
    pub s3: BackupS3Config,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            to: String::new(),
            keep: 7,
            include_blobs: true,
            include_secrets: true,
            s3: BackupS3Config::default(),
        }
    }
}

/// `[backup.s3]`: how to reach the bucket named in an `s3://bucket/prefix` target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupS3Config {
    pub region: String,
    /// Empty = AWS for `region`; or the URL of an S3-compatible server.
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub path_style: bool,
    pub allow_http: bool,
}

impl Default for BackupS3Config {
    fn default() -> Self {
        BackupS3Config {
            region: "eu-west-2".into(),
            endpoint: String::new(),
            access_key_id: String::new(),
            secret_access_key: Secret::default(),
            path_style: true,
            allow_http: false,
        }
    }
}

impl BackupConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.keep == 0 {
            return invalid("backup.keep", "must be at least 1");
        }
        let to = self.to.trim();
        if let Some(rest) = to.strip_prefix("s3://")
            && rest.split('/').next().unwrap_or("").is_empty()
        {
            return invalid(
                "backup.to",
                "an s3:// target names its bucket: s3://bucket/prefix",
            );
        }
        let e = &self.s3.endpoint;
        if !(e.is_empty() || e.starts_with("http://") || e.starts_with("https://")) {
            return invalid(
                "backup.s3.endpoint",
                format!("must be empty (AWS) or an http(s) URL (got {e:?})"),
            );
        }
        Ok(())
    }
}
