//! The daily print run (workers.md §3, the zips-over-SFTP era): every letter waiting to be
//! printed goes to the printer in zips, and only letters in a zip the printer's side confirmed
//! become `sending`.
//!
//! 1. The deadline is 17:30 London today (or yesterday when run before 17:30, so a re-run after
//!    midnight finishes the evening's run). Letters `created`, normal key, with a PDF
//!    (`billable_units > 0`), created before it — stragglers from earlier days included — are
//!    read from a snapshot a chunk at a time into compact keys (tens of bytes a letter; no cap).
//! 2. Ordered by postage (first, second, economy, europe, rest-of-world), service, created_at;
//!    a zip ends before it would pass `print.max_zip_bytes` or `print.max_letters_per_zip`, and
//!    when the service or postage changes. Its name hashes its files' keys, so a re-run names the
//!    same set of files the same way.
//! 3. Each zip is written to a work file one PDF at a time (never the whole zip in memory),
//!    handed to the transport (retried), and only then recorded by a `zips_sent` marker beside
//!    the PDFs, after which its letters move to `sending` with `sent_at`/`sent_by`. A zip that
//!    still fails after its retries moves its letters to `technical-failure` and alerts.
//! 4. A re-run first reads the run day's markers: letters already in a confirmed zip (a crash
//!    after the upload) are only marked `sending`, never sent again.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::London;
use futures_util::StreamExt;
use sha2::{Digest, Sha512};
use storage::records::{KeyType, NotificationStatus, NotificationType};
use uuid::Uuid;

use super::files::{Area, LetterFiles};
use super::names::{foldered_pdf_file_name, letter_reference, postage_code, print_deadline};
use super::transport::PrintTransport;
use crate::domain::Context;
use crate::domain::status::{Event, StatusChange, apply_status};
use crate::domain::{DomainError, JobOutcome, alerts};

/// Letters read from the snapshot per chunk, and letters changed per write.
const CHUNK: usize = 10_000;
const WRITE_CHUNK: usize = 1000;
/// PDFs fetched ahead of the zip writer.
const PREFETCH: usize = 4;

/// Postage in print order.
const POSTAGE_ORDER: [&str; 5] = ["first", "second", "economy", "europe", "rest-of-world"];

/// The run's London date and its deadline (UTC micros): 17:30 today, or yesterday before 17:30.
pub fn print_run_deadline(now_micros: i64) -> (NaiveDate, i64) {
    let now = Utc
        .timestamp_micros(now_micros)
        .single()
        .unwrap_or_default()
        .with_timezone(&London);
    let mut day = now.date_naive();
    if now.time() < print_deadline() {
        day = day.pred_opt().unwrap_or(day);
    }
    let deadline = London
        .from_local_datetime(&day.and_time(print_deadline()))
        .earliest()
        .map(|t| t.timestamp_micros())
        .unwrap_or(now_micros);
    (day, deadline)
}

/// One letter to print, as small as the sort needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Waiting {
    postage_rank: u8,
    service_id: Uuid,
    created_at: i64,
    id: Uuid,
}

impl Waiting {
    fn postage(&self) -> &'static str {
        POSTAGE_ORDER[self.postage_rank as usize]
    }

    /// The PDF's key inside letters-pdf (`<print day>/NOTIFY....PDF`).
    fn key(&self) -> String {
        foldered_pdf_file_name(&letter_reference(self.id), self.postage(), self.created_at)
    }
}

fn postage_rank(postage: Option<&str>) -> u8 {
    let p = postage.unwrap_or("second");
    POSTAGE_ORDER.iter().position(|x| *x == p).unwrap_or(1) as u8
}

/// Letters waiting to be printed before `deadline`, sorted in print order.
fn waiting_letters(cx: &Context, deadline: i64) -> storage::Result<Vec<Waiting>> {
    let reader = cx.store.read()?;
    let before = storage::v7_floor(deadline.div_euclid(1000) + 1);
    let mut after = None;
    let mut out = Vec::new();
    loop {
        let (found, last) = reader.scan_notifications_before(after, before, CHUNK, |n| {
            n.notification_type == NotificationType::Letter
                && n.status == NotificationStatus::Created
                && n.key_type == KeyType::Normal
                && n.billable_units > 0
                && n.created_at < deadline
        })?;
        out.extend(found.into_iter().map(|n| Waiting {
            postage_rank: postage_rank(n.postage.as_deref()),
            service_id: n.service_id,
            created_at: n.created_at,
            id: n.id,
        }));
        match last {
            Some(id) => after = Some(id),
            None => break,
        }
    }
    out.sort();
    Ok(out)
}

/// One zip's worth of letters.
struct Batch {
    postage_rank: u8,
    service_id: Uuid,
    /// Number within its postage, from 1.
    number: u32,
    letters: Vec<(Uuid, String)>,
    bytes: u64,
}

impl Batch {
    /// `NOTIFY.<date>.<postage>.<NNN>.<hash>.<service_id>.<organisation_id>.ZIP` (§3.3). The
    /// appliance has no organisations: the nil id stands in for one.
    fn zip_name(&self, day: NaiveDate) -> String {
        let mut hasher = Sha512::new();
        for (_, key) in &self.letters {
            hasher.update(key.as_bytes());
        }
        let hash = base64::engine::general_purpose::URL_SAFE.encode(hasher.finalize());
        format!(
            "NOTIFY.{}.{}.{:03}.{}.{}.{}.ZIP",
            day.format("%Y-%m-%d"),
            postage_code(POSTAGE_ORDER[self.postage_rank as usize]),
            self.number,
            &hash[..20],
            self.service_id,
            Uuid::nil()
        )
    }
}

/// The marker of a confirmed zip, beside the PDFs: `<day>/zips_sent/<zip>.TXT`.
fn marker_name(day: NaiveDate, zip: &str) -> String {
    format!("{}/zips_sent/{zip}.TXT", day.format("%Y-%m-%d"))
}

/// Keys of every PDF in a zip already confirmed for this run day.
async fn already_sent(files: &LetterFiles, day: NaiveDate) -> Result<HashSet<String>, DomainError> {
    let folder = format!("{}/zips_sent", day.format("%Y-%m-%d"));
    let mut keys = HashSet::new();
    for name in files
        .list_folder(Area::LettersPdf, &folder)
        .await
        .map_err(blobs)?
    {
        let Some(bytes) = files
            .get(Area::LettersPdf, &format!("{folder}/{name}"))
            .await
            .map_err(blobs)?
        else {
            continue;
        };
        let listed: Vec<String> = serde_json::from_slice(&bytes).map_err(|e| {
            DomainError::invalid(format!(
                "zips_sent marker {folder}/{name} is not a JSON list: {e}"
            ))
        })?;
        keys.extend(listed);
    }
    Ok(keys)
}

fn blobs(e: impl std::fmt::Display) -> DomainError {
    DomainError::Blobs(e.to_string())
}

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub zips: u32,
    pub printed: u64,
    pub resumed: u64,
    pub missing_pdf: u64,
    pub failed: u64,
}

/// The scheduled job `collate-letter-pdfs-to-be-sent`.
pub async fn collate_letter_pdfs_to_be_sent(cx: &Arc<Context>) -> JobOutcome {
    let r = run(cx).await;
    cx.metrics.print_run(r.as_ref().ok());
    let r = r?;
    let message = format!(
        "letters sent to print: {} in {} zips; already sent: {}; PDF missing: {}; failed: {}",
        r.printed, r.zips, r.resumed, r.missing_pdf, r.failed
    );
    if r.failed > 0 {
        return Err(DomainError::invalid(message));
    }
    Ok(message)
}

/// One print run (see the module notes).
pub async fn run(cx: &Arc<Context>) -> Result<RunReport, DomainError> {
    let (day, deadline) = print_run_deadline(cx.store.clock().now_micros());
    let files = LetterFiles::new(cx.blobs.clone());
    let transport = PrintTransport::from_config(&cx.config);
    let sent = already_sent(&files, day).await?;
    let reader_app = cx.clone();
    let letters = tokio::task::spawn_blocking(move || waiting_letters(&reader_app, deadline))
        .await
        .map_err(|e| DomainError::invalid(format!("the print run's read stopped: {e}")))??;
    let work = cx.config.data_dir.join("print").join("work");
    tokio::fs::create_dir_all(&work)
        .await
        .map_err(|e| DomainError::invalid(format!("cannot create {}: {e}", work.display())))?;

    let mut report = RunReport::default();
    let mut resumed = Vec::new();
    let mut batch: Option<Batch> = None;
    let mut numbers = [0u32; POSTAGE_ORDER.len()];
    let limits = (
        cx.config.print.max_zip_bytes,
        cx.config.print.max_letters_per_zip,
    );
    for letter in letters {
        let key = letter.key();
        if sent.contains(&key) {
            resumed.push(letter.id);
            continue;
        }
        let Some(size) = files.size(Area::LettersPdf, &key).await.map_err(blobs)? else {
            // Stays `created`; the 07:00 check reports it if it is still there tomorrow.
            tracing::warn!(notification_id = %letter.id, key, "letter PDF missing at the print run; skipped");
            report.missing_pdf += 1;
            continue;
        };
        let starts_new = batch.as_ref().is_none_or(|b| {
            b.service_id != letter.service_id
                || b.postage_rank != letter.postage_rank
                || b.letters.len() >= limits.1
                || b.bytes + size > limits.0
        });
        if starts_new {
            if let Some(full) = batch.take() {
                send_batch(cx, &files, &transport, &work, day, full, &mut report).await?;
            }
            let rank = letter.postage_rank as usize;
            numbers[rank] += 1;
            batch = Some(Batch {
                postage_rank: letter.postage_rank,
                service_id: letter.service_id,
                number: numbers[rank],
                letters: Vec::new(),
                bytes: 0,
            });
        }
        if let Some(b) = batch.as_mut() {
            b.letters.push((letter.id, key));
            b.bytes += size;
        }
    }
    if let Some(last) = batch.take() {
        send_batch(cx, &files, &transport, &work, day, last, &mut report).await?;
    }
    report.resumed = resumed.len() as u64;
    mark(cx, resumed, NotificationStatus::Sending, None).await?;
    Ok(report)
}

async fn send_batch(
    cx: &Arc<Context>,
    files: &LetterFiles,
    transport: &PrintTransport,
    work: &Path,
    day: NaiveDate,
    batch: Batch,
    report: &mut RunReport,
) -> Result<(), DomainError> {
    let zip = batch.zip_name(day);
    let ids: Vec<Uuid> = batch.letters.iter().map(|(id, _)| *id).collect();
    let keys: Vec<String> = batch.letters.iter().map(|(_, k)| k.clone()).collect();
    let local = work.join(&zip);
    let config = &cx.config.print;
    let mut attempt = 0;
    let outcome = loop {
        let result = match write_zip(files, &batch, &local).await {
            Ok(()) => transport
                .upload(&local, &zip)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match result {
            Ok(size) => break Ok(size),
            Err(e) if attempt < config.upload_retries => {
                attempt += 1;
                tracing::warn!(zip, attempt, error = %e, "print upload failed; will retry");
                tokio::time::sleep(Duration::from_secs(config.retry_delay_seconds)).await;
            }
            Err(e) => break Err(e),
        }
    };
    let _ = tokio::fs::remove_file(&local).await;
    match outcome {
        Ok(size) => {
            let marker = serde_json::to_vec(&keys).unwrap_or_default();
            files
                .put(
                    Area::LettersPdf,
                    &marker_name(day, &zip),
                    Bytes::from(marker),
                )
                .await
                .map_err(blobs)?;
            let count = ids.len() as u64;
            mark(cx, ids, NotificationStatus::Sending, None).await?;
            report.zips += 1;
            report.printed += count;
            tracing::info!(
                zip,
                letters = count,
                bytes = size,
                "zip sent to the printer"
            );
        }
        Err(e) => {
            let count = ids.len() as u64;
            let reason = format!("print upload of {zip} failed: {e}");
            mark(
                cx,
                ids,
                NotificationStatus::TechnicalFailure,
                Some(reason.clone()),
            )
            .await?;
            report.failed += count;
            alerts::raise(
                cx,
                "print-upload-failed",
                format!("{count} letters could not be sent to the printer: {reason}"),
                keys.into_iter().take(50).collect(),
            )
            .await;
        }
    }
    Ok(())
}

/// Write the batch's zip to `path`: entries are the bare PDF names, stored (PDFs are already
/// compressed). PDFs are fetched a few ahead while a blocking thread writes.
async fn write_zip(files: &LetterFiles, batch: &Batch, path: &Path) -> Result<(), String> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<(String, Bytes)>(PREFETCH);
    let target: PathBuf = path.to_path_buf();
    let writer = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let file = std::fs::File::create(&target)
            .map_err(|e| format!("cannot create {}: {e}", target.display()))?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, bytes) in rx {
            zip.start_file(name, options).map_err(|e| e.to_string())?;
            zip.write_all(&bytes).map_err(|e| e.to_string())?;
        }
        let mut inner = zip.finish().map_err(|e| e.to_string())?;
        inner.flush().map_err(|e| e.to_string())?;
        inner
            .get_ref()
            .sync_all()
            .map_err(|e| format!("cannot write {}: {e}", target.display()))
    });
    let keys: Vec<String> = batch.letters.iter().map(|(_, key)| key.clone()).collect();
    let files = files.clone();
    let mut fetches = futures_util::stream::iter(keys.into_iter().map(move |key| {
        let files = files.clone();
        async move {
            let bytes = files.get(Area::LettersPdf, &key).await;
            (key, bytes)
        }
    }))
    .buffered(PREFETCH);
    let mut fetch_error = None;
    while let Some((key, got)) = fetches.next().await {
        let bytes = match got {
            Ok(Some(b)) => b,
            Ok(None) => {
                fetch_error = Some(format!("{key} disappeared before it was zipped"));
                break;
            }
            Err(e) => {
                fetch_error = Some(format!("cannot read {key}: {e}"));
                break;
            }
        };
        let bare = key.rsplit('/').next().unwrap_or(&key).to_string();
        if tx.send((bare, bytes)).is_err() {
            break;
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| format!("the zip writer stopped: {e}"))?;
    match fetch_error {
        Some(e) => Err(e),
        None => written,
    }
}

/// Move letters to `status` in chunks (`sending` gets `sent_at`/`sent_by`).
async fn mark(
    cx: &Context,
    ids: Vec<Uuid>,
    status: NotificationStatus,
    reason: Option<String>,
) -> Result<(), DomainError> {
    let provider = cx.config.print.provider_name.clone();
    for chunk in ids.chunks(WRITE_CHUNK) {
        let chunk = chunk.to_vec();
        let (provider, reason) = (provider.clone(), reason.clone());
        cx.store
            .write(move |ctx| {
                let now = ctx.now_micros();
                for id in chunk {
                    let change = if status == NotificationStatus::Sending {
                        StatusChange {
                            sent_at: Some(now),
                            sent_by: Some(provider.clone()),
                            ..Default::default()
                        }
                    } else {
                        StatusChange {
                            reason: reason.clone(),
                            ..Default::default()
                        }
                    };
                    apply_status(ctx, id, Event::Printed, status, change)?;
                }
                Ok(())
            })
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_micros()
    }

    #[test]
    fn the_deadline_is_half_past_five_london_today_or_yesterday() {
        let (day, deadline) = print_run_deadline(micros("2026-11-30T17:50:00Z"));
        assert_eq!(day.to_string(), "2026-11-30");
        assert_eq!(deadline, micros("2026-11-30T17:30:00Z"));
        // Just after midnight: the evening's run.
        let (day, deadline) = print_run_deadline(micros("2026-12-01T00:30:00Z"));
        assert_eq!(day.to_string(), "2026-11-30");
        assert_eq!(deadline, micros("2026-11-30T17:30:00Z"));
        // Summer: 17:30 BST is 16:30 UTC.
        let (_, deadline) = print_run_deadline(micros("2026-07-01T16:50:00Z"));
        assert_eq!(deadline, micros("2026-07-01T16:30:00Z"));
        // 17:29 London is still yesterday's run.
        let (day, _) = print_run_deadline(micros("2026-07-01T16:29:00Z"));
        assert_eq!(day.to_string(), "2026-06-30");
        // The clock-change week: Saturday 28 March 2026 is GMT, Sunday 29 March is BST, and
        // Sunday 25 October is GMT again.
        assert_eq!(
            print_run_deadline(micros("2026-03-28T17:50:00Z")).1,
            micros("2026-03-28T17:30:00Z")
        );
        assert_eq!(
            print_run_deadline(micros("2026-03-29T16:50:00Z")).1,
            micros("2026-03-29T16:30:00Z")
        );
        assert_eq!(
            print_run_deadline(micros("2026-10-24T16:50:00Z")).1,
            micros("2026-10-24T16:30:00Z")
        );
        assert_eq!(
            print_run_deadline(micros("2026-10-25T17:50:00Z")).1,
            micros("2026-10-25T17:30:00Z")
        );
    }

    #[test]
    fn zip_names_are_stable_and_follow_the_pattern() {
        let service = Uuid::parse_str("6ad1e3b2-1f4a-4c3f-9d8e-0a1b2c3d4e5f").unwrap();
        let batch = Batch {
            postage_rank: 0,
            service_id: service,
            number: 3,
            letters: vec![(
                Uuid::nil(),
                "2026-11-30/NOTIFY.AAAAAAAAAAAAAAAA.D.1.C.20261130100000.PDF".into(),
            )],
            bytes: 1,
        };
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let name = batch.zip_name(day);
        assert_eq!(name, batch.zip_name(day));
        let parts: Vec<&str> = name.split('.').collect();
        assert_eq!(&parts[..4], &["NOTIFY", "2026-11-30", "1", "003"]);
        assert_eq!(parts[4].len(), 20);
        assert_eq!(parts[5], service.to_string());
        assert_eq!(parts[7], "ZIP");
    }

    #[test]
    fn print_order_is_postage_then_service_then_time() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let mut letters = [
            Waiting {
                postage_rank: postage_rank(Some("second")),
                service_id: a,
                created_at: 1,
                id: Uuid::from_u128(10),
            },
            Waiting {
                postage_rank: postage_rank(Some("rest-of-world")),
                service_id: a,
                created_at: 0,
                id: Uuid::from_u128(11),
            },
            Waiting {
                postage_rank: postage_rank(Some("first")),
                service_id: b,
                created_at: 0,
                id: Uuid::from_u128(12),
            },
            Waiting {
                postage_rank: postage_rank(Some("first")),
                service_id: a,
                created_at: 5,
                id: Uuid::from_u128(13),
            },
            Waiting {
                postage_rank: postage_rank(Some("economy")),
                service_id: a,
                created_at: 0,
                id: Uuid::from_u128(14),
            },
        ];
        letters.sort();
        let order: Vec<u128> = letters.iter().map(|w| w.id.as_u128()).collect();
        assert_eq!(order, vec![13, 12, 10, 14, 11]);
    }
}
