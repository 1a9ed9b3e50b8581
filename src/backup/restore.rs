//! Restoring a backup into an empty data directory: checksums first, then the encryption key
//! (refused unless it is the backup's), the store loaded from the dump (its checksum verified
//! as it is read), the blobs copied back when the backup has them, and the search index
//! rebuilt. A restore that fails leaves the data directory empty again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use object_store::ObjectStoreExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use storage::{Store, SystemClock};

use super::target::{SUMS, Target};
use super::write::{MANIFEST_FORMAT, Manifest};
use super::{BackupError, sha256_hex};
use crate::config::Config;
use crate::crypto::Sealer;

/// Where the secrets come from when the backup does not carry them.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// The encryption key file kept apart from the backup (`<data_dir>/encryption-key` of the
    /// appliance backed up).
    pub encryption_key_file: Option<PathBuf>,
    /// Its admin secret file (optional: without one the restored server makes a new one).
    pub admin_secret_file: Option<PathBuf>,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub backup: String,
    pub manifest: Manifest,
    pub tables: BTreeMap<String, u64>,
    pub rows: u64,
    pub blobs_copied: u64,
    pub indexed: u64,
    /// Where the encryption key came from: `config`, `file` or `backup`.
    pub key_from: &'static str,
}

/// Restore the backup at `from` (a backup folder, or a place holding backups: the newest
/// complete one is taken) into `config`'s data directory, which must be empty.
pub async fn restore(
    from: &Target,
    config: &Config,
    options: &RestoreOptions,
) -> Result<RestoreReport, BackupError> {
    let folder = locate(from).await?;
    let sums = read_sums(&folder).await?;
    let manifest: Manifest =
        serde_json::from_slice(&verified(&folder, &sums, "manifest.json").await?)
            .map_err(|e| BackupError::Refused(format!("{}/manifest.json: {e}", folder.shown())))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(BackupError::Refused(format!(
            "{}: backup format {} is not one this notify reads ({MANIFEST_FORMAT})",
            folder.shown(),
            manifest.format
        )));
    }
    if manifest.schema_version > storage::tables::SCHEMA_VERSION {
        return Err(BackupError::Refused(format!(
            "{}: made by a newer notify (schema version {}, this one reads up to {}); restore it with that version",
            folder.shown(),
            manifest.schema_version,
            storage::tables::SCHEMA_VERSION
        )));
    }
    let dir = &config.data_dir;
    require_empty(dir)?;
    storage::files::create_private_dir(dir)?;
    let restored = restore_into(&folder, &sums, manifest, config, options).await;
    if restored.is_err() {
        empty_dir(dir);
    }
    restored
}

async fn restore_into(
    folder: &Target,
    sums: &BTreeMap<String, String>,
    manifest: Manifest,
    config: &Config,
    options: &RestoreOptions,
) -> Result<RestoreReport, BackupError> {
    let key_from = place_secrets(folder, sums, &manifest, config, options).await?;

    let db_path = storage::database_path(&config.data_dir);
    let (tables, rows) = load_store(folder, sums, &db_path).await?;

    let mut blobs_copied = 0;
    if manifest.blobs.included {
        let blobs = crate::domain::context::open_blobs(config)
            .map_err(|e| BackupError::objects("the blob store", e))?;
        for file in sums.keys().filter(|f| f.starts_with("blobs/")) {
            let content = verified(folder, sums, file).await?;
            let path = object_store::path::Path::from(&file["blobs/".len()..]);
            blobs
                .put(&path, content.into())
                .await
                .map_err(|e| BackupError::objects(format!("blob {path}"), e))?;
            blobs_copied += 1;
        }
    }

    let indexed = rebuild_index(config).await?;
    tracing::info!(backup = %folder.shown(), rows, blobs_copied, indexed, "backup restored");
    Ok(RestoreReport {
        backup: folder.shown().to_string(),
        manifest,
        tables,
        rows,
        blobs_copied,
        indexed,
        key_from,
    })
}

/// `from` itself when it is a complete backup, else the newest complete backup in it.
async fn locate(from: &Target) -> Result<Target, BackupError> {
    if from.exists(SUMS).await? {
        return Ok(from.clone());
    }
    let backups = from.backups().await?;
    match backups.iter().rev().find(|(_, complete)| *complete) {
        Some((name, _)) => Ok(from.child(name)),
        None => Err(BackupError::Refused(format!(
            "there is no complete backup at {} (a backup folder has a {SUMS} file)",
            from.shown()
        ))),
    }
}

/// `SHA256SUMS` as file → hex SHA-256.
async fn read_sums(folder: &Target) -> Result<BTreeMap<String, String>, BackupError> {
    let text = folder.read(SUMS).await?;
    let text = std::str::from_utf8(&text)
        .map_err(|_| BackupError::Refused(format!("{}/{SUMS} is not text", folder.shown())))?;
    let mut sums = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (sha, file) = line.split_once("  ").ok_or_else(|| {
            BackupError::Refused(format!("{}/{SUMS}: bad line {line:?}", folder.shown()))
        })?;
        sums.insert(file.to_string(), sha.to_string());
    }
    for needed in ["store.dump", "manifest.json"] {
        if !sums.contains_key(needed) {
            return Err(BackupError::Refused(format!(
                "{}/{SUMS} does not list {needed}",
                folder.shown()
            )));
        }
    }
    Ok(sums)
}

/// The whole file `file`, refused unless its SHA-256 is the one `SHA256SUMS` lists.
async fn verified(
    folder: &Target,
    sums: &BTreeMap<String, String>,
    file: &str,
) -> Result<Bytes, BackupError> {
    let expected = sums.get(file).ok_or_else(|| {
        BackupError::Refused(format!("{}/{SUMS} does not list {file}", folder.shown()))
    })?;
    let bytes = folder.read(file).await?;
    if &sha256_hex(&bytes) != expected {
        return Err(BackupError::Refused(format!(
            "{}/{file} does not match its checksum: the backup is damaged",
            folder.shown()
        )));
    }
    Ok(bytes)
}

fn require_empty(dir: &Path) -> Result<(), BackupError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(BackupError::Refused(format!(
                "{} is not empty: a restore goes into an empty data directory",
                dir.display()
            ))),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(BackupError::Refused(format!("{}: {e}", dir.display()))),
    }
}

/// Remove what a failed restore put in `dir` (it was empty before).
fn empty_dir(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// Put the encryption key (and the admin secret, when there is one) in the data directory,
/// unless the configuration sets them; refuse a key that is not the one the backup needs.
async fn place_secrets(
    folder: &Target,
    sums: &BTreeMap<String, String>,
    manifest: &Manifest,
    config: &Config,
    options: &RestoreOptions,
) -> Result<&'static str, BackupError> {
    let read_file = |path: &Path| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .map_err(|e| BackupError::Refused(format!("{}: {e}", path.display())))
    };
    let in_backup = |file: &str| format!("secrets/{file}");
    let key_file = crate::config::ENCRYPTION_KEY_FILE;
    let (key, from) = if !config.secrets.encryption_key.is_empty() {
        (config.secrets.encryption_key.expose().to_string(), "config")
    } else if let Some(path) = &options.encryption_key_file {
        (read_file(path)?, "file")
    } else if sums.contains_key(&in_backup(key_file)) {
        let bytes = verified(folder, sums, &in_backup(key_file)).await?;
        (String::from_utf8_lossy(&bytes).trim().to_string(), "backup")
    } else {
        return Err(BackupError::Refused(format!(
            "{} does not carry the encryption key (it was made with --no-secrets): give \
             the backed-up appliance's key with --encryption-key-file (its <data_dir>/{key_file}), \
             or set secrets.encryption_key",
            folder.shown()
        )));
    };
    let sealer = Sealer::from_encoded(&key)
        .map_err(|e| BackupError::Refused(format!("the encryption key ({from}): {e}")))?;
    if sealer.fingerprint() != manifest.encryption_key_fingerprint {
        return Err(BackupError::Refused(format!(
            "the encryption key ({from}, fingerprint {}) is not the one this backup's sealed \
             values need (fingerprint {})",
            sealer.fingerprint(),
            manifest.encryption_key_fingerprint
        )));
    }
    if from != "config" {
        write_secret(&config.encryption_key_file(), &key)?;
    }
    let admin_file = crate::config::ADMIN_SECRET_FILE;
    if config.admin.secret.is_empty() {
        let admin = if let Some(path) = &options.admin_secret_file {
            Some(read_file(path)?)
        } else if sums.contains_key(&in_backup(admin_file)) {
            let bytes = verified(folder, sums, &in_backup(admin_file)).await?;
            Some(String::from_utf8_lossy(&bytes).trim().to_string())
        } else {
            None
        };
        if let Some(admin) = admin {
            write_secret(&config.admin_secret_file(), &admin)?;
        }
    }
    Ok(from)
}

fn write_secret(path: &Path, value: &str) -> Result<(), BackupError> {
    storage::files::create_private_file(path)?;
    std::fs::write(path, value)?;
    Ok(())
}

/// Load `store.dump` into a new store at `db_path`, hashing it as it is read; refused (and
/// removed) when the hash is not the listed one.
async fn load_store(
    folder: &Target,
    sums: &BTreeMap<String, String>,
    db_path: &Path,
) -> Result<(BTreeMap<String, u64>, u64), BackupError> {
    let place = format!("{}/store.dump", folder.shown());
    let mut stream = folder
        .store()
        .get(&folder.path("store.dump"))
        .await
        .map_err(|e| BackupError::objects(&place, e))?
        .into_stream();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let path = db_path.to_path_buf();
    let loader = tokio::task::spawn_blocking(move || {
        let mut input = HashingReader {
            rx,
            piece: Bytes::new(),
            hash: Sha256::new(),
        };
        let loaded = storage::snapshot::load(&mut input, &path);
        (loaded, hex::encode(input.hash.finalize()))
    });
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| std::io::Error::other(format!("{place}: {e}")));
        let failed = piece.is_err();
        // The loader stops reading when it refuses the dump; it says why below.
        if tx.send(piece).await.is_err() || failed {
            break;
        }
    }
    drop(tx);
    let (loaded, sha) = loader
        .await
        .map_err(|e| BackupError::Io(std::io::Error::other(e)))?;
    let (_, summary) = loaded?;
    if Some(&sha) != sums.get("store.dump") {
        let _ = std::fs::remove_file(db_path);
        return Err(BackupError::Refused(format!(
            "{place} does not match its checksum: the backup is damaged"
        )));
    }
    Ok((summary.tables, summary.rows))
}

/// `Read` over pieces arriving on a channel, hashing what it hands out.
struct HashingReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    piece: Bytes,
    hash: Sha256,
}

impl std::io::Read for HashingReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.piece.is_empty() {
            match self.rx.blocking_recv() {
                Some(piece) => self.piece = piece?,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.piece.len());
        out[..n].copy_from_slice(&self.piece[..n]);
        self.hash.update(&out[..n]);
        self.piece.advance(n);
        Ok(n)
    }
}

/// Rebuild the search index of the restored store (it is derived from the store alone).
async fn rebuild_index(config: &Config) -> Result<u64, BackupError> {
    let options = crate::domain::context::store_options(config, Arc::new(SystemClock));
    let dir = config.data_dir.clone();
    let index_dir = config.index_dir();
    tokio::task::spawn_blocking(move || {
        let store = Store::open(&dir, options)?;
        let index = storage::index::SearchIndex::open(&index_dir)
            .map_err(|e| storage::StoreError::Index(e.to_string()))?;
        let indexed = storage::indexer::rebuild(&store, &index);
        drop(index);
        store.close();
        Ok::<_, BackupError>(indexed?)
    })
    .await
    .map_err(|e| BackupError::Io(std::io::Error::other(e)))?
}

/// What [`verify_backup`] found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub backup: String,
    /// Files listed in `SHA256SUMS`.
    pub files: u64,
    /// Every problem, as a sentence; empty when the backup is whole.
    pub problems: Vec<String>,
}

/// Check a backup without restoring it: every file `SHA256SUMS` lists is there with that
/// checksum (each read as a stream, so a large dump is never held in memory), and the manifest
/// is one this binary reads. `from` is a backup folder or a place holding backups (the newest
/// complete one is checked).
pub async fn verify_backup(from: &Target) -> Result<VerifyReport, BackupError> {
    let folder = locate(from).await?;
    let sums = read_sums(&folder).await?;
    let mut problems = Vec::new();
    for (file, expected) in &sums {
        match streamed_sha256(&folder, file).await {
            Ok(sha) if &sha == expected => {}
            Ok(_) => problems.push(format!(
                "{file} does not match its checksum: the backup is damaged"
            )),
            Err(e) => problems.push(format!("{file} cannot be read: {e}")),
        }
    }
    if problems.is_empty() {
        let manifest = folder.read("manifest.json").await?;
        match serde_json::from_slice::<Manifest>(&manifest) {
            Ok(m) if m.format == MANIFEST_FORMAT => {}
            Ok(m) => problems.push(format!(
                "backup format {} is not one this notify reads ({MANIFEST_FORMAT})",
                m.format
            )),
            Err(e) => problems.push(format!("manifest.json cannot be read: {e}")),
        }
    }
    Ok(VerifyReport {
        backup: folder.shown().to_string(),
        files: sums.len() as u64,
        problems,
    })
}

async fn streamed_sha256(folder: &Target, file: &str) -> Result<String, BackupError> {
    let place = || format!("{}/{file}", folder.shown());
    let mut stream = folder
        .store()
        .get(&folder.path(file))
        .await
        .map_err(|e| BackupError::objects(place(), e))?
        .into_stream();
    let mut hash = Sha256::new();
    while let Some(piece) = stream.next().await {
        hash.update(&piece.map_err(|e| BackupError::objects(place(), e))?);
    }
    Ok(hex::encode(hash.finalize()))
}
