//! Writing one backup: the dump, the blobs' list (or copies), the settings, optionally the
//! secrets, the manifest, and last the checksums. The dump comes as a stream, so the same code
//! serves the CLI on a stopped data directory, the CLI through a running server, and the
//! server's scheduled job.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::target::{BACKUP_PREFIX, SUMS, Target};
use super::{BackupError, ByteStream, Dump, sha256_hex};
use crate::config::Config;
use crate::domain::{Context, JobOutcome};

/// The backup layout this binary writes (see the module notes).
pub const MANIFEST_FORMAT: u32 = 1;
/// Bytes per part of a streamed upload (S3 wants at least 5 MiB).
const UPLOAD_PART: usize = 8 << 20;
/// Parts of a streamed upload in flight at once.
const UPLOADS_IN_FLIGHT: usize = 2;

/// What goes into a backup besides the database.
#[derive(Debug, Clone, Copy, Default)]
pub struct BackupOptions {
    /// Copy every blob into the backup (otherwise they are listed).
    pub include_blobs: bool,
    /// Copy the encryption key and the admin secret into the backup.
    pub include_secrets: bool,
}

/// `manifest.json`: what a backup holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub name: String,
    pub notify_version: String,
    /// The store's schema version (a newer binary migrates it when the store is opened).
    pub schema_version: u32,
    /// When the snapshot's read transaction began: everything acknowledged before it is in.
    pub snapshot_at: String,
    pub committed_seq: u64,
    pub finished_at: String,
    pub store_bytes: u64,
    pub blobs: BlobsManifest,
    pub secrets_included: bool,
    /// Names the encryption key the backup's sealed values need ([`crate::crypto::Sealer::fingerprint`]).
    pub encryption_key_fingerprint: String,
    /// The data directory backed up (for the operator's information).
    pub data_dir: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlobsManifest {
    /// The blob store backed up: `local` or `s3://bucket`.
    pub store: String,
    pub files: u64,
    pub bytes: u64,
    /// Their contents are in the backup's `blobs/` folder.
    pub included: bool,
}

/// One line of `blobs.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlobEntry {
    pub path: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
}

/// The folder name of a backup whose snapshot began at `at`.
pub fn backup_name(at: DateTime<Utc>) -> String {
    format!("{BACKUP_PREFIX}{}", at.format("%Y%m%dT%H%M%S%.3fZ"))
}

/// Write a backup of `dump` (and of `blobs`, `config`'s settings, and with `options` the
/// secrets) into a new folder of `target`. `key_fingerprint` names the encryption key in force.
/// A backup that fails half-way is removed (best effort); one left behind has no `SHA256SUMS`
/// and is never restored.
pub async fn write_backup(
    dump: Dump,
    blobs: Arc<dyn ObjectStore>,
    config: &Config,
    key_fingerprint: &str,
    target: &Target,
    options: BackupOptions,
) -> Result<Manifest, BackupError> {
    let snapshot_at = DateTime::<Utc>::from_timestamp_micros(dump.header.taken_at_micros)
        .unwrap_or_else(Utc::now);
    let name = backup_name(snapshot_at);
    let folder = target.child(&name);
    if folder.exists("manifest.json").await? || folder.exists(SUMS).await? {
        return Err(BackupError::Refused(format!(
            "{} exists already",
            folder.shown()
        )));
    }
    let written = write_files(
        dump,
        blobs,
        config,
        key_fingerprint,
        &folder,
        &name,
        options,
    )
    .await;
    if written.is_err() {
        let _ = folder.remove_all().await;
    }
    let manifest = written?;
    tracing::info!(
        backup = %folder.shown(),
        store_bytes = manifest.store_bytes,
        blobs = manifest.blobs.files,
        "backup complete"
    );
    Ok(manifest)
}

async fn write_files(
    dump: Dump,
    blobs: Arc<dyn ObjectStore>,
    config: &Config,
    key_fingerprint: &str,
    folder: &Target,
    name: &str,
    options: BackupOptions,
) -> Result<Manifest, BackupError> {
    let mut sums: BTreeMap<String, String> = BTreeMap::new();
    let header = dump.header;

    let (store_sha, store_bytes) = upload_stream(folder, "store.dump", dump.stream).await?;
    sums.insert("store.dump".into(), store_sha);

    let blobs_manifest = back_up_blobs(&blobs, config, folder, options, &mut sums).await?;

    let settings = serde_json::to_vec_pretty(
        &crate::config::serialize_redacted(config)
            .map_err(|e| BackupError::Refused(format!("the settings: {e}")))?,
    )
    .map_err(|e| BackupError::Refused(format!("the settings: {e}")))?;
    put_file(folder, "settings.json", settings, &mut sums).await?;

    if options.include_secrets {
        for (file, value) in secrets_of(config)? {
            put_file(
                folder,
                &format!("secrets/{file}"),
                value.into_bytes(),
                &mut sums,
            )
            .await?;
        }
    }

    let micros_text = |m: i64| {
        DateTime::<Utc>::from_timestamp_micros(m)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        name: name.to_string(),
        notify_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_version: header.schema_version,
        snapshot_at: micros_text(header.taken_at_micros),
        committed_seq: header.committed_seq,
        finished_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        store_bytes,
        blobs: blobs_manifest,
        secrets_included: options.include_secrets,
        encryption_key_fingerprint: key_fingerprint.to_string(),
        data_dir: config.data_dir.display().to_string(),
    };
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| BackupError::Refused(format!("the manifest: {e}")))?;
    put_file(folder, "manifest.json", json, &mut sums).await?;

    // Last: its presence marks the backup complete.
    let lines: String = sums
        .iter()
        .map(|(file, sha)| format!("{sha}  {file}\n"))
        .collect();
    folder.write(SUMS, lines.into_bytes()).await?;
    Ok(manifest)
}

/// Write a small file and remember its checksum.
async fn put_file(
    folder: &Target,
    file: &str,
    bytes: Vec<u8>,
    sums: &mut BTreeMap<String, String>,
) -> Result<(), BackupError> {
    sums.insert(file.to_string(), sha256_hex(&bytes));
    folder.write(file, bytes).await
}

/// Upload a stream as the object `file`, in parts; answers its SHA-256 and length. The hash
/// runs on the blocking pool: in the server, a runtime thread spends its time on requests.
async fn upload_stream(
    folder: &Target,
    file: &str,
    mut stream: ByteStream,
) -> Result<(String, u64), BackupError> {
    let place = || format!("{}/{file}", folder.shown());
    let upload = folder
        .store()
        .put_multipart(&folder.path(file))
        .await
        .map_err(|e| BackupError::objects(place(), e))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, UPLOAD_PART);
    let mut hash = Sha256::new();
    let mut length = 0u64;
    while let Some(piece) = stream.next().await {
        let piece = match piece {
            Ok(piece) => piece,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(e);
            }
        };
        length += piece.len() as u64;
        let (h, p) = hash_on_pool(hash, piece).await?;
        hash = h;
        if let Err(e) = writer.wait_for_capacity(UPLOADS_IN_FLIGHT).await {
            let _ = writer.abort().await;
            return Err(BackupError::objects(place(), e));
        }
        writer.put(p);
    }
    writer
        .finish()
        .await
        .map_err(|e| BackupError::objects(place(), e))?;
    Ok((hex::encode(hash.finalize()), length))
}

async fn hash_on_pool(mut hash: Sha256, piece: Bytes) -> Result<(Sha256, Bytes), BackupError> {
    tokio::task::spawn_blocking(move || {
        hash.update(&piece);
        (hash, piece)
    })
    .await
    .map_err(|e| BackupError::Io(std::io::Error::other(e)))
}

/// List the blob store into `blobs.jsonl` (and copy each file with `include_blobs`).
async fn back_up_blobs(
    blobs: &Arc<dyn ObjectStore>,
    config: &Config,
    folder: &Target,
    options: BackupOptions,
    sums: &mut BTreeMap<String, String>,
) -> Result<BlobsManifest, BackupError> {
    let store_name = match config.blobs.kind {
        crate::config::BlobsKind::Local => "local".to_string(),
        crate::config::BlobsKind::S3 => format!("s3://{}", config.blobs.s3.bucket),
    };
    let mut listing = blobs.list(None);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, BackupError>>(4);
    let lines: ByteStream = Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let upload = upload_stream(folder, "blobs.jsonl", lines);
    let list = async {
        let (mut files, mut bytes) = (0u64, 0u64);
        let mut batch = Vec::with_capacity(64 << 10);
        let mut copied = BTreeMap::new();
        while let Some(meta) = listing
            .try_next()
            .await
            .map_err(|e| BackupError::objects("the blob store", e))?
        {
            if options.include_blobs {
                let got = match blobs.get(&meta.location).await {
                    Ok(got) => got.bytes().await,
                    Err(e) => Err(e),
                };
                let content = match got {
                    Ok(content) => content,
                    // Deleted since it was listed (retention): not in the backup, nor listed.
                    Err(object_store::Error::NotFound { .. }) => continue,
                    Err(e) => {
                        return Err(BackupError::objects(format!("blob {}", meta.location), e));
                    }
                };
                let file = format!("blobs/{}", meta.location);
                copied.insert(file.clone(), sha256_hex(&content));
                folder.write(&file, content.to_vec()).await?;
            }
            files += 1;
            bytes += meta.size;
            let entry = BlobEntry {
                path: meta.location.to_string(),
                size: meta.size,
                e_tag: meta.e_tag.clone(),
            };
            serde_json::to_writer(&mut batch, &entry)
                .map_err(|e| BackupError::Refused(e.to_string()))?;
            batch.push(b'\n');
            if batch.len() >= 64 << 10 {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(64 << 10));
                if tx.send(Ok(full.into())).await.is_err() {
                    break;
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.send(Ok(batch.into())).await;
        }
        drop(tx);
        Ok::<_, BackupError>((files, bytes, copied))
    };
    let (uploaded, listed) = tokio::join!(upload, list);
    let (files, bytes, copied) = listed?;
    let (sha, _) = uploaded?;
    sums.insert("blobs.jsonl".into(), sha);
    sums.extend(copied);
    Ok(BlobsManifest {
        store: store_name,
        files,
        bytes,
        included: options.include_blobs,
    })
}

/// The secrets a restore needs: the encryption key (always) and the admin secret (when there
/// is one), each as it is written in its file under the data directory.
fn secrets_of(config: &Config) -> Result<Vec<(&'static str, String)>, BackupError> {
    let from_file = |path: &std::path::Path| -> Result<Option<String>, BackupError> {
        match std::fs::read_to_string(path) {
            Ok(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BackupError::Refused(format!("{}: {e}", path.display()))),
        }
    };
    let key = if config.secrets.encryption_key.is_empty() {
        from_file(&config.encryption_key_file())?.ok_or_else(|| {
            BackupError::Refused(format!(
                "there is no encryption key at {} to put in the backup",
                config.encryption_key_file().display()
            ))
        })?
    } else {
        config.secrets.encryption_key.expose().to_string()
    };
    let mut out = vec![(crate::config::ENCRYPTION_KEY_FILE, key)];
    let admin = if config.admin.secret.is_empty() {
        from_file(&config.admin_secret_file())?
    } else {
        Some(config.admin.secret.expose().to_string())
    };
    if let Some(admin) = admin {
        out.push((crate::config::ADMIN_SECRET_FILE, admin));
    }
    Ok(out)
}

/// The scheduled `backup` job: a backup of the running store to `backup.to`, then the oldest
/// beyond `backup.keep` deleted.
pub async fn scheduled_backup(cx: &Context) -> JobOutcome {
    let settings = &cx.config.backup;
    if settings.to.trim().is_empty() {
        return Ok("backup.to is not set: no backup made".into());
    }
    let made = async {
        let target = Target::parse(&settings.to, &settings.s3, true)?;
        let dump = super::dump(&cx.store)?;
        let options = BackupOptions {
            include_blobs: settings.include_blobs,
            include_secrets: settings.include_secrets,
        };
        let manifest = write_backup(
            dump,
            cx.blobs.clone(),
            &cx.config,
            cx.sealer.fingerprint(),
            &target,
            options,
        )
        .await?;
        let pruned = target.prune(settings.keep as usize).await?;
        Ok::<_, BackupError>(format!(
            "backup {} made ({} bytes of database, {} blobs); {} old backups deleted",
            manifest.name,
            manifest.store_bytes,
            manifest.blobs.files,
            pruned.len()
        ))
    };
    made.await.map_err(Into::into)
}
