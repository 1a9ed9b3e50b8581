//! `notify backup`, `notify restore`, `notify check`: the operator's backups (the format and
//! its guarantees are in [`crate::backup`]).
//!
//! - `backup` runs over a [`Backend`]: with the server stopped it snapshots the data directory
//!   itself; while the server runs it pulls the server's snapshot through the internal API
//!   (`/backup/snapshot`), so sends go on being accepted meanwhile. Blobs, settings and
//!   secrets are read here either way (they are plain files the server does not lock).
//! - `restore` needs no backend: it only ever writes into an empty data directory, which no
//!   server can be holding.
//! - `check` runs redb's own file check first when no server holds the store, then walks the
//!   store (here, or in the server). Exit code: 0 whole, 2 problems found, 1 could not check.

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use serde_json::{Value, json};
use storage::snapshot::DumpHeader;

use super::backend::{Body, Remote, error_message};
use super::{Backend, CliError, JsonFlag};
use crate::backup::{
    BackupError, BackupOptions, ByteStream, CheckReport, Dump, Manifest, RestoreOptions, Target,
};
use crate::config::Config;

/// Exit code of `notify check` when it found problems (1 is "could not check").
pub const CHECK_PROBLEMS: u8 = 2;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to put the backup: a directory (created if missing), or s3://bucket/prefix
    /// (reached with [backup.s3]). A new folder notify-backup-<time> is made inside it.
    #[arg(
        value_name = "DIR",
        required_unless_present = "to",
        conflicts_with = "to"
    )]
    pub dir: Option<String>,
    /// The same as DIR.
    #[arg(long, value_name = "DIR")]
    pub to: Option<String>,
    /// List the blob store's files without copying them (right when blobs are in S3).
    #[arg(long)]
    pub no_blobs: bool,
    /// Leave out the encryption key and admin secret (then keep them safe apart: a restore
    /// needs the key to read API keys and callback tokens).
    #[arg(long)]
    pub no_secrets: bool,
    /// Afterwards keep only the newest N complete backups there (delete older ones).
    #[arg(long, value_name = "N")]
    pub keep: Option<u32>,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup folder, or a directory (or s3://bucket/prefix) holding backups: the newest
    /// complete one is restored.
    #[arg(
        value_name = "DIR",
        required_unless_present = "from",
        conflicts_with = "from"
    )]
    pub dir: Option<String>,
    /// The same as DIR.
    #[arg(long, value_name = "DIR")]
    pub from: Option<String>,
    /// The backed-up appliance's encryption key file, for a backup made with --no-secrets.
    #[arg(long, value_name = "FILE")]
    pub encryption_key_file: Option<std::path::PathBuf>,
    /// Its admin secret file (optional: without one the restored server makes a new one).
    #[arg(long, value_name = "FILE")]
    pub admin_secret_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check a backup instead of the data directory: every file against SHA256SUMS.
    #[arg(long, value_name = "DIR")]
    pub backup: Option<String>,
    #[command(flatten)]
    pub out: JsonFlag,
}

fn backup_error(e: BackupError) -> CliError {
    CliError::Message(e.to_string())
}

impl Backend {
    /// A backup of the store into a new folder of `target`.
    pub async fn backup(
        &self,
        config: &Config,
        target: &Target,
        options: BackupOptions,
    ) -> Result<Manifest, CliError> {
        let blobs = crate::domain::context::open_blobs(config)
            .map_err(|e| CliError::Message(format!("the blob store: {e}")))?;
        let (dump, fingerprint) = match self {
            Backend::Local(cx) => (
                crate::backup::dump(&cx.store).map_err(backup_error)?,
                cx.sealer.fingerprint().to_string(),
            ),
            Backend::Remote(remote) => {
                let v = remote.post("/backup/snapshot", json!({})).await?;
                let header: DumpHeader = serde_json::from_value(v["header"].clone())
                    .map_err(|e| CliError::Message(format!("the server's snapshot: {e}")))?;
                let id = v["id"].as_str().unwrap_or_default().to_string();
                let fingerprint = v["encryption_key_fingerprint"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let stream = remote_parts(remote.clone(), id);
                (Dump { header, stream }, fingerprint)
            }
        };
        crate::backup::write_backup(dump, blobs, config, &fingerprint, target, options)
            .await
            .map_err(backup_error)
    }

    /// `notify check` of the store, its index, sealed values and blobs.
    pub async fn check(&self) -> Result<CheckReport, CliError> {
        match self {
            Backend::Local(cx) => {
                let index = storage::index::SearchIndex::open(&cx.config.index_dir())
                    .map_err(crate::app::StartError::from)?;
                crate::backup::check(
                    &cx.store,
                    &std::sync::Arc::new(index),
                    &cx.blobs,
                    Some(&cx.sealer),
                )
                .await
                .map_err(backup_error)
            }
            Backend::Remote(remote) => {
                let v = remote.post("/check", json!({})).await?;
                serde_json::from_value(v)
                    .map_err(|e| CliError::Message(format!("the server's check: {e}")))
            }
        }
    }
}

/// The server's snapshot `id`, pulled a part at a time, in order.
fn remote_parts(remote: Remote, id: String) -> ByteStream {
    let first = (remote, id, 0u64, false);
    Box::pin(futures_util::stream::try_unfold(
        first,
        |(remote, id, n, done)| async move {
            if done {
                return Ok(None);
            }
            let path = format!("/backup/snapshot/{id}/{n}");
            let resp = remote
                .send(reqwest::Method::GET, &path, Body::None)
                .await
                .map_err(|e| BackupError::Refused(e.to_string()))?;
            if !resp.status().is_success() {
                let answer: Value = resp.json().await.unwrap_or_default();
                return Err(BackupError::Refused(format!(
                    "the server's snapshot: {}",
                    error_message(&answer)
                )));
            }
            let last = resp
                .headers()
                .get(crate::admin::LAST_PART_HEADER)
                .is_some_and(|v| v.as_bytes() == b"true");
            let bytes = resp.bytes().await.map_err(|e| {
                BackupError::Refused(format!("the server's snapshot, part {n}: {e}"))
            })?;
            Ok(Some((bytes, (remote, id, n + 1, last))))
        },
    ))
}

pub async fn backup(config: Config, args: BackupArgs) -> Result<ExitCode, CliError> {
    let to = args.dir.or(args.to).unwrap_or_default();
    let target = Target::parse(&to, &config.backup.s3, true).map_err(backup_error)?;
    let options = BackupOptions {
        include_blobs: config.backup.include_blobs && !args.no_blobs,
        include_secrets: config.backup.include_secrets && !args.no_secrets,
    };
    let started = Instant::now();
    let manifest = Backend::with(&config, async |backend| {
        backend.backup(&config, &target, options).await
    })
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let pruned = match args.keep {
        Some(keep) => target
            .prune(keep.max(1) as usize)
            .await
            .map_err(backup_error)?,
        None => Vec::new(),
    };
    if args.out.json {
        say!(
            "{}",
            json!({ "manifest": manifest, "folder": target.child(&manifest.name).shown(), "seconds": seconds, "deleted": pruned })
        );
        return Ok(ExitCode::SUCCESS);
    }
    say!(
        "backup {} made in {seconds:.1}s: snapshot of {} (committed sequence {}), {} bytes of database, {} blobs {}, secrets {}",
        target.child(&manifest.name).shown(),
        manifest.snapshot_at,
        manifest.committed_seq,
        manifest.store_bytes,
        manifest.blobs.files,
        if manifest.blobs.included {
            "copied"
        } else {
            "listed"
        },
        if manifest.secrets_included {
            "included"
        } else {
            "left out (keep the encryption key safe apart)"
        },
    );
    for name in pruned {
        say!("deleted old backup {name}");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(config: Config, args: RestoreArgs) -> Result<ExitCode, CliError> {
    let from = args.dir.or(args.from).unwrap_or_default();
    let target = Target::parse(&from, &config.backup.s3, false).map_err(backup_error)?;
    let options = RestoreOptions {
        encryption_key_file: args.encryption_key_file,
        admin_secret_file: args.admin_secret_file,
    };
    let report = crate::backup::restore(&target, &config, &options)
        .await
        .map_err(backup_error)?;
    if args.out.json {
        say!("{}", json!(report));
    } else {
        say!(
            "restored {} into {}: {} rows in {} tables, {} blobs copied, {} notifications indexed, encryption key from {}",
            report.backup,
            config.data_dir.display(),
            report.rows,
            report.tables.len(),
            report.blobs_copied,
            report.indexed,
            report.key_from
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn check(config: Config, args: CheckArgs) -> Result<ExitCode, CliError> {
    if let Some(backup) = args.backup {
        let target = Target::parse(&backup, &config.backup.s3, false).map_err(backup_error)?;
        let verified = crate::backup::verify_backup(&target)
            .await
            .map_err(backup_error)?;
        if args.out.json {
            say!("{}", json!(verified));
        } else if verified.problems.is_empty() {
            say!(
                "backup {}: whole ({} files match SHA256SUMS)",
                verified.backup,
                verified.files
            );
        } else {
            say!(
                "backup {}: {} problems",
                verified.backup,
                verified.problems.len()
            );
            for p in &verified.problems {
                say!("  - {p}");
            }
        }
        return Ok(exit_for(verified.problems.is_empty()));
    }

    let db_path = storage::database_path(&config.data_dir);
    if !db_path.exists() {
        return Err(CliError::Message(format!(
            "there is no store at {} (is --data-dir right?)",
            db_path.display()
        )));
    }
    // redb's file check needs the file to itself; a running server holds it.
    let file_intact = match storage::check::check_file(&db_path) {
        Ok(intact) => Some(intact),
        Err(storage::StoreError::InUse(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let mut report = Backend::with(&config, async |backend| backend.check().await).await?;
    report.file_intact = file_intact;
    let problems = report.problems();
    if args.out.json {
        say!("{}", json!({ "report": report, "problems": problems }));
        return Ok(exit_for(problems.is_empty()));
    }
    say!("data directory {}", report.data_dir);
    say!(
        "  database file: {}",
        match report.file_intact {
            Some(true) => "intact (redb's check)",
            Some(false) => "damaged, repaired by redb",
            None => "held by the running server (checked through it)",
        }
    );
    say!(
        "  tables: {} rows in {} tables; {} notifications",
        report.store.tables.values().sum::<u64>(),
        report.store.tables.len(),
        report.store.notifications
    );
    say!(
        "  search index: {} documents, {} changes still to apply",
        report.index.documents,
        report.index.pending
    );
    say!(
        "  sealed values: {} checked, {} unreadable",
        report.sealed.checked,
        report.sealed.unreadable
    );
    say!(
        "  blobs: {} in the blob store, {} referred to, {} missing",
        report.blobs.listed,
        report.blobs.referenced,
        report.blobs.missing
    );
    if problems.is_empty() {
        say!("whole");
    } else {
        say!("{} problems:", problems.len());
        for p in &problems {
            say!("  - {p}");
        }
    }
    Ok(exit_for(problems.is_empty()))
}

fn exit_for(whole: bool) -> ExitCode {
    if whole {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(CHECK_PROBLEMS)
    }
}
