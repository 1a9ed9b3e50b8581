//! `[storage]` (the database and the search index) and `[blobs]` (where files are kept: the
//! local file system or an S3 bucket).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, invalid};
use super::secret::Secret;

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Maximum operations per group commit (>= 1).
    pub max_batch: usize,
    /// How often the search indexer commits, in milliseconds (>= 10).
    pub index_commit_interval_ms: u64,
    /// Database page cache, in MiB.
    pub cache_size_mb: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            max_batch: 4096,
            index_commit_interval_ms: 1000,
            cache_size_mb: 256,
        }
    }
}

/// `[blobs]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlobsConfig {
    pub kind: BlobsKind,
    /// Directory of the local object store; empty = `<data_dir>/blobs`
    /// (see [`Config::blobs_dir`]).
    pub path: PathBuf,
    /// `[blobs.s3]`: the bucket used when `kind = "s3"`.
    pub s3: S3Config,
}

/// `[blobs.s3]`: an S3 (or S3-compatible) bucket; every logical area is a prefix in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// Empty = AWS for `region`; e.g. `http://127.0.0.1:9000` for an on-premises store.
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// Path-style requests (`endpoint/bucket/key`), which most S3-compatible servers need.
    pub path_style: bool,
    /// Allow a plain `http://` endpoint (a store on the same machine or network).
    pub allow_http: bool,
    /// How long one blob operation keeps retrying a store that does not answer before it
    /// fails. Kept short: a send waiting on it holds its request open, and the queues retry
    /// background work (letter PDFs, scans) on their own schedule.
    pub retry_timeout_seconds: u64,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            bucket: String::new(),
            region: "eu-west-2".into(),
            endpoint: String::new(),
            access_key_id: String::new(),
            secret_access_key: Secret::default(),
            path_style: true,
            allow_http: false,
            retry_timeout_seconds: 15,
        }
    }
}

/// `blobs.kind`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobsKind {
    /// Files on the local file system.
    #[default]
    Local,
    /// One S3 or S3-compatible bucket (`[blobs.s3]`).
    S3,
}

impl StorageConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_batch < 1 {
            return invalid(
                "storage.max_batch",
                format!("must be at least 1 (got {})", self.max_batch),
            );
        }
        if self.index_commit_interval_ms < 10 {
            return invalid(
                "storage.index_commit_interval_ms",
                format!(
                    "must be at least 10 milliseconds (got {})",
                    self.index_commit_interval_ms
                ),
            );
        }
        Ok(())
    }
}

impl BlobsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.kind == BlobsKind::S3 {
            let s3 = &self.s3;
            if s3.bucket.trim().is_empty() {
                return invalid("blobs.s3.bucket", "must be set when blobs.kind = \"s3\"");
            }
            if !(1..=300).contains(&s3.retry_timeout_seconds) {
                return invalid(
                    "blobs.s3.retry_timeout_seconds",
                    format!(
                        "must be 1 to 300 seconds (got {})",
                        s3.retry_timeout_seconds
                    ),
                );
            }
            let e = &s3.endpoint;
            if !(e.is_empty() || e.starts_with("http://") || e.starts_with("https://")) {
                return invalid(
                    "blobs.s3.endpoint",
                    format!("must be empty (AWS) or an http(s) URL (got {e:?})"),
                );
            }
            if e.starts_with("http://") && !s3.allow_http {
                return invalid(
                    "blobs.s3.endpoint",
                    "is plain http://; set blobs.s3.allow_http = true to allow it",
                );
            }
        }
        Ok(())
    }
}

/// `[disk]`: new notifications are refused (503) while the data directory's filesystem has less
/// free space than the smaller of `min_free_mb` and `min_free_percent` of its size, so work
/// already accepted can still finish before the disk is full. Either at 0 turns it off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiskConfig {
    pub min_free_mb: u64,
    /// 0–100.
    pub min_free_percent: u8,
}

impl Default for DiskConfig {
    fn default() -> Self {
        let watermark = ::storage::LowDiskWatermark::default();
        DiskConfig {
            min_free_mb: watermark.min_free_bytes >> 20,
            min_free_percent: watermark.min_free_percent,
        }
    }
}

impl DiskConfig {
    pub fn watermark(&self) -> ::storage::LowDiskWatermark {
        ::storage::LowDiskWatermark {
            min_free_bytes: self.min_free_mb.saturating_mul(1 << 20),
            min_free_percent: self.min_free_percent,
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.min_free_percent > 100 {
            return invalid("disk.min_free_percent", "must be between 0 and 100");
        }
        Ok(())
    }
}
