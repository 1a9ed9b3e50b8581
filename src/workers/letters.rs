//! Letter PDFs (workers.md §1.3, §1.4, §1.6): the two letter queues.
//!
//! - `letter-create-pdf` (templated letters): render the PDF, count its pages; more than 10 →
//!   `validation-failed` (`letter-too-long`, file in letters-invalid); else the PDF goes to
//!   letters-pdf under its print-day folder and `billable_units` = sheets; a test key's letter
//!   goes to test-letters, is `sending`, and a response file the appliance writes for it moves
//!   it to `delivered` by the printer's own path (nothing is printed, nothing billed).
//! - `letter-scan` (precompiled uploads, `pending-virus-check`): clamd scan when
//!   `antivirus.enabled` (virus → `virus-scan-failed`, file to `letters-scan/FAILURE/`; clamd or
//!   the blob store unavailable → retried, then `technical-failure`, file to
//!   `letters-scan/ERROR/`), then validation (failed → `validation-failed` with the code, file
//!   and its reasons in letters-invalid; passed → `created`, or `delivered` for a test key, with
//!   the address from the window as the recipient and the file in letters-pdf).
//!
//! Files are written to their new place first, then the row changes together with the queue
//! ack, then the old file is removed: a crash at any point leaves either the row still waiting
//! with its file in place (the row is handed out again) or a finished row and a stale copy that
//! the next look at the row removes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use storage::Claimed;
use storage::records::{KeyType, Notification, NotificationStatus};
use uuid::Uuid;

use crate::app::App;
use crate::domain::queues::Queue;
use crate::domain::status::{Event, StatusChange, apply_status, apply_status_with};
use crate::letters::antivirus::{Clamd, ScanVerdict};
use crate::letters::files::{Area, LetterFiles, pdf_location, scan_name};
use crate::letters::render::{LetterContent, render_letter};
use crate::letters::validate::{MAX_PAGES, Validation, validate_precompiled};

/// Sheets of paper for a duplex letter of `pages` pages.
pub fn sheets(pages: u32) -> u32 {
    pages.div_ceil(2)
}

/// The letter's file store.
pub fn files(app: &App) -> LetterFiles {
    LetterFiles::new(app.blobs.clone())
}

/// What went wrong in one attempt.
enum Failure {
    /// Try again later (clamd, the blob store or the renderer had a problem).
    Retry(String),
    /// Nothing will change on a retry: `technical-failure` now.
    Final(String),
}

/// Handle one `letter-create-pdf` row.
pub async fn create_pdf(app: Arc<App>, row: Claimed) {
    run(app, row, Queue::LetterPdf).await
}

/// Handle one `letter-scan` row.
pub async fn scan(app: Arc<App>, row: Claimed) {
    run(app, row, Queue::LetterScan).await
}

/// The status event of each letter queue.
fn event_of(queue: Queue) -> Event {
    if queue == Queue::LetterScan {
        Event::LetterScanned
    } else {
        Event::LetterRendered
    }
}

async fn run(app: Arc<App>, row: Claimed, queue: Queue) {
    let seq = row.seq;
    let Ok(id) = Uuid::from_slice(&row.payload) else {
        tracing::error!(%queue, seq, "letter row without a notification id; dropped");
        finish(&app, queue, seq, None).await;
        return;
    };
    let n = match app.store.read().and_then(|r| r.get_notification(id)) {
        Ok(Some(n)) => n,
        Ok(None) => {
            tracing::info!(notification_id = %id, "letter gone before its PDF was made");
            finish(&app, queue, seq, None).await;
            return;
        }
        Err(e) => {
            // Leave the row leased: it comes back when the lease ends or at the next start.
            tracing::error!(notification_id = %id, error = %e, "cannot read a letter");
            return;
        }
    };
    let result = if queue == Queue::LetterPdf {
        make_templated_pdf(&app, &n, seq).await
    } else {
        scan_and_validate(&app, &n, &row).await
    };
    let failure = match result {
        Ok(()) => return,
        Err(f) => f,
    };
    let (reason, retry) = match failure {
        Failure::Retry(r) => (r, true),
        Failure::Final(r) => (r, false),
    };
    let policy = queue.retry_policy(&app.config);
    let last_attempt = !retry || row.attempts >= policy.max_retries;
    if last_attempt
        && queue == Queue::LetterScan
        && n.status == NotificationStatus::PendingVirusCheck
    {
        // Kept for the operator: `notify letters replay-errors` scans it again.
        let name = scan_name(&n);
        if let Err(e) = files(&app)
            .move_file((Area::Scan, &name), (Area::ScanError, &name))
            .await
        {
            tracing::error!(notification_id = %id, error = %e, "cannot move a letter to letters-scan/ERROR");
        }
    }
    let outcome = app
        .store
        .write(move |ctx| {
            let gave_up = if retry {
                let o = ctx.retry(queue.name(), seq, policy.delay_ms, policy.max_retries)?;
                matches!(o, storage::RetryOutcome::GaveUp { .. })
            } else {
                ctx.ack(queue.name(), seq)?;
                true
            };
            if gave_up {
                let change = StatusChange {
                    billable_units: Some(0),
                    reason: Some(reason.clone()),
                    ..Default::default()
                };
                apply_status(
                    ctx,
                    id,
                    event_of(queue),
                    NotificationStatus::TechnicalFailure,
                    change,
                )?;
            }
            Ok((gave_up, reason))
        })
        .await;
    match outcome {
        Ok((true, reason)) => {
            tracing::error!(notification_id = %id, %queue, reason, "letter failed: technical-failure");
            crate::domain::alerts::raise(
                &app,
                "letter-technical-failure",
                format!("A letter could not be processed: {reason}"),
                vec![format!("notification {id}")],
            )
            .await;
        }
        Ok((false, reason)) => {
            tracing::warn!(notification_id = %id, %queue, attempts = row.attempts + 1, reason, "letter will be retried")
        }
        Err(e) => {
            tracing::error!(notification_id = %id, error = %e, "cannot record a letter failure")
        }
    }
}

/// Ack the row, applying `status` first when given.
async fn finish(
    app: &App,
    queue: Queue,
    seq: u64,
    update: Option<(Uuid, NotificationStatus, StatusChange)>,
) -> bool {
    let result = app
        .store
        .write(move |ctx| {
            if let Some((id, status, change)) = update {
                apply_status(ctx, id, event_of(queue), status, change)?;
            }
            ctx.ack(queue.name(), seq)?;
            Ok(())
        })
        .await;
    match result {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(%queue, seq, error = %e, "cannot record a letter's outcome");
            false
        }
    }
}

fn store_error(e: impl std::fmt::Display) -> Failure {
    Failure::Retry(format!("blob store: {e}"))
}

/// The JSON kept beside an invalid letter: why it failed.
fn invalid_reasons(message: &str, invalid_pages: Option<&[u32]>, page_count: Option<u32>) -> Bytes {
    Bytes::from(
        json!({
            "validation_status": "failed",
            "message": message,
            "invalid_pages": invalid_pages,
            "page_count": page_count,
        })
        .to_string(),
    )
}

async fn make_templated_pdf(app: &Arc<App>, n: &Notification, seq: u64) -> Result<(), Failure> {
    let id = n.id;
    let waiting = match n.key_type {
        KeyType::Test => n.status == NotificationStatus::Sending,
        _ => n.status == NotificationStatus::Created && n.updated_at.is_none(),
    };
    if !waiting {
        tracing::info!(notification_id = %id, status = n.status.as_str(), "letter PDF already made; skipped");
        finish(app, Queue::LetterPdf, seq, None).await;
        return Ok(());
    }
    let personalisation: Map<String, Value> =
        serde_json::from_str(&n.personalisation).unwrap_or_default();
    let raw_lines = crate::domain::content::address_lines(&personalisation);
    // The address was checked when the letter was accepted; normalise it the same way again.
    let lines = crate::domain::recipients::validate_postal_address(&raw_lines, true)
        .map(|a| a.lines)
        .unwrap_or(raw_lines);
    let date = crate::domain::facts::london_date(n.created_at);
    let (body, subject, contact) = (
        n.body.clone(),
        n.subject.clone().unwrap_or_default(),
        n.reply_to_text.clone(),
    );
    let rendered = tokio::task::spawn_blocking(move || {
        render_letter(&LetterContent {
            address_lines: &lines,
            contact_block: contact.as_deref(),
            date,
            subject: &subject,
            body: &body,
            language: Default::default(),
            logo: None,
        })
    })
    .await
    .map_err(|e| Failure::Retry(format!("the renderer stopped: {e}")))?
    .map_err(|e| Failure::Retry(format!("cannot render the letter: {e}")))?;
    let files = files(app);
    let pages = rendered.page_count;
    let (area, name) = pdf_location(n);
    if pages > MAX_PAGES {
        let invalid = names_without_folder(n);
        files
            .put(Area::Invalid, &invalid, Bytes::from(rendered.pdf))
            .await
            .map_err(store_error)?;
        files
            .put(
                Area::Invalid,
                &format!("{invalid}.json"),
                invalid_reasons("letter-too-long", None, Some(pages)),
            )
            .await
            .map_err(store_error)?;
        let change = StatusChange {
            billable_units: Some(0),
            reason: Some("letter-too-long".into()),
            ..Default::default()
        };
        finish(
            app,
            Queue::LetterPdf,
            seq,
            Some((id, NotificationStatus::ValidationFailed, change)),
        )
        .await;
        return Ok(());
    }
    files
        .put(area, &name, Bytes::from(rendered.pdf))
        .await
        .map_err(store_error)?;
    let test_key = n.key_type == KeyType::Test;
    let fake_reply = test_key && app.config.print.fake_test_key_responses;
    let status = match (test_key, fake_reply) {
        // Nothing is printed for a test key and nothing is billed (§1.6); the appliance
        // answers for the printer below, or the letter is simply delivered.
        (true, true) => NotificationStatus::Sending,
        (true, false) => NotificationStatus::Delivered,
        (false, _) => NotificationStatus::Created,
    };
    let change = StatusChange {
        billable_units: Some(if test_key { 0 } else { sheets(pages) }),
        ..Default::default()
    };
    if !finish(app, Queue::LetterPdf, seq, Some((id, status, change))).await {
        return Ok(());
    }
    tracing::debug!(notification_id = %id, pages, file = %name, "letter PDF made");
    if fake_reply {
        let reference = crate::letters::names::letter_reference(id);
        if let Err(e) =
            crate::letters::responses::fake_response_for_test_letters(app, &[reference]).await
        {
            tracing::warn!(notification_id = %id, error = %e, "no fake response for a test letter; delivered directly");
            let _ = app
                .store
                .write(move |ctx| {
                    apply_status(
                        ctx,
                        id,
                        Event::LetterRendered,
                        NotificationStatus::Delivered,
                        StatusChange::default(),
                    )
                    .map(drop)
                })
                .await;
        }
    }
    Ok(())
}

fn names_without_folder(n: &Notification) -> String {
    scan_name(n)
}

async fn scan_and_validate(app: &Arc<App>, n: &Notification, row: &Claimed) -> Result<(), Failure> {
    let (id, seq) = (n.id, row.seq);
    let files = files(app);
    let name = scan_name(n);
    if n.status != NotificationStatus::PendingVirusCheck {
        // Finished before (or cancelled): only a stale upload can be left to tidy.
        if matches!(
            n.status,
            NotificationStatus::Created
                | NotificationStatus::Delivered
                | NotificationStatus::ValidationFailed
                | NotificationStatus::Cancelled
        ) {
            files.delete(Area::Scan, &name).await.map_err(store_error)?;
        }
        finish(app, Queue::LetterScan, seq, None).await;
        return Ok(());
    }
    let Some(pdf) = files.get(Area::Scan, &name).await.map_err(store_error)? else {
        return Err(Failure::Final(format!(
            "the uploaded PDF {name} is not in letters-scan"
        )));
    };
    if app.config.antivirus.enabled {
        let av = &app.config.antivirus;
        let clamd = Clamd::new(&av.clamd, Duration::from_secs(av.timeout_seconds));
        match clamd.scan(&pdf).await {
            Ok(ScanVerdict::Clean) => {}
            Ok(ScanVerdict::Infected(signature)) => {
                files
                    .move_file((Area::Scan, &name), (Area::ScanFailure, &name))
                    .await
                    .map_err(store_error)?;
                let change = StatusChange {
                    billable_units: Some(0),
                    reason: Some(format!("virus found: {signature}")),
                    ..Default::default()
                };
                finish(
                    app,
                    Queue::LetterScan,
                    seq,
                    Some((id, NotificationStatus::VirusScanFailed, change)),
                )
                .await;
                crate::domain::alerts::raise(
                    app,
                    "letter-virus-found",
                    format!("A precompiled letter failed the virus scan ({signature})"),
                    vec![
                        format!("notification {id}"),
                        format!("letters-scan/FAILURE/{name}"),
                    ],
                )
                .await;
                return Ok(());
            }
            Err(e) => return Err(Failure::Retry(format!("virus scan: {e}"))),
        }
    }
    let allow_international = app
        .store
        .read()
        .ok()
        .and_then(|r| r.get_service(n.service_id).ok().flatten())
        .is_some_and(|s| s.permissions.iter().any(|p| p == "international_letters"));
    let bytes = pdf.clone();
    let verdict =
        tokio::task::spawn_blocking(move || validate_precompiled(&bytes, allow_international))
            .await
            .map_err(|e| Failure::Retry(format!("the validator stopped: {e}")))?;
    match verdict {
        Validation::Failed {
            message,
            invalid_pages,
            page_count,
        } => {
            files
                .put(
                    Area::Invalid,
                    &format!("{name}.json"),
                    invalid_reasons(message, invalid_pages.as_deref(), page_count),
                )
                .await
                .map_err(store_error)?;
            files
                .move_file((Area::Scan, &name), (Area::Invalid, &name))
                .await
                .map_err(store_error)?;
            let change = StatusChange {
                billable_units: Some(0),
                reason: Some(message.to_string()),
                ..Default::default()
            };
            finish(
                app,
                Queue::LetterScan,
                seq,
                Some((id, NotificationStatus::ValidationFailed, change)),
            )
            .await;
            tracing::info!(notification_id = %id, message, ?invalid_pages, "precompiled letter failed validation");
            Ok(())
        }
        Validation::Passed {
            page_count,
            address,
        } => {
            let test_key = n.key_type == KeyType::Test;
            let to = if test_key {
                NotificationStatus::Delivered
            } else {
                NotificationStatus::Created
            };
            // The recipient is the address read from the window; international addresses set
            // their postage.
            let postage = if address.international {
                Some(
                    address
                        .postage_zone
                        .clone()
                        .unwrap_or_else(|| "rest-of-world".into()),
                )
            } else {
                n.postage.clone()
            };
            // Where the file goes depends on the key type and postage, not on the new status.
            let mut placed = n.clone();
            placed.postage = postage.clone();
            let (area, target) = pdf_location(&placed);
            files.put(area, &target, pdf).await.map_err(store_error)?;
            let lines = address.lines.clone();
            let international = address.international;
            let change = StatusChange {
                billable_units: Some(sheets(page_count)),
                ..Default::default()
            };
            let stored = app
                .store
                .write(move |ctx| {
                    // The table changes only a letter still waiting for its scan (it may have
                    // been cancelled meanwhile).
                    apply_status_with(ctx, id, Event::LetterScanned, to, change, |n| {
                        if international {
                            n.international = true;
                            n.postage = postage;
                        }
                        n.to = lines.join("\n");
                        n.normalised_to = lines.join("\n").to_lowercase();
                        n.personalisation = address_personalisation(&lines);
                    })?;
                    ctx.ack(Queue::LetterScan.name(), seq)?;
                    Ok(())
                })
                .await;
            if let Err(e) = stored {
                return Err(Failure::Retry(format!("cannot record the letter: {e}")));
            }
            if let Err(e) = files.delete(Area::Scan, &name).await {
                tracing::warn!(notification_id = %id, error = %e, "cannot remove a scanned upload; left in letters-scan");
            }
            tracing::info!(notification_id = %id, page_count, file = %target, "precompiled letter passed validation");
            Ok(())
        }
    }
}

/// The address lines as the personalisation of a templated letter, so the API shows the
/// address read from the PDF (`line_1`… of §6).
fn address_personalisation(lines: &[String]) -> String {
    let mut map = Map::new();
    if let Some((last, rest)) = lines.split_last() {
        for (i, line) in rest.iter().enumerate() {
            map.insert(format!("address_line_{}", i + 1), json!(line));
        }
        map.insert("postcode".into(), json!(last));
    }
    Value::Object(map).to_string()
}
