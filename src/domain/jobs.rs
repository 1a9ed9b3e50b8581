//! Bulk sends (workers.md §8): a spreadsheet of recipients becomes a job, and every row of the
//! job becomes exactly one notification.
//!
//! - **Upload** ([`upload_sheet`]): the sheet is checked against the template — columns, every
//!   row's recipient, placeholders, and that each row renders as the API would render it — and
//!   stored under `service-<service>-notify/<upload id>.csv` with a `.json` beside it (what
//!   upstream keeps as S3 object metadata: template, version, row count, valid, sender).
//! - **Create** ([`create_job`]): from a valid upload, `pending` (queued at once) or `scheduled`
//!   (queued for its time, at most 7 days ahead). The durable queue is the scheduler: a
//!   scheduled job's queue row is simply due at its time, so nothing polls for due jobs.
//! - **Process** ([`process`], the `process-job` queue): rows are built a chunk at a time off
//!   the writer, then each chunk is stored in one write together with its `(job, row)` links,
//!   its delivery queue rows and the job's progress. A row already linked is skipped, so a
//!   retried chunk or a crash anywhere adds nothing twice and loses nothing: on restart the
//!   leased queue row comes back and the job resumes from its recorded progress. The end is
//!   `finished all notifications created` — there is no separate self-healing pass, because no
//!   row can go missing.
//! - Job messages wait on their own delivery queues (`deliver-*-jobs`), so a big job never
//!   delays an API send, and each chunk is a short write, so API writes interleave with it.
//! - **Cancel** a scheduled job ([`cancel_job`]) or a letter job before printing
//!   ([`cancel_letter_job`], §8.3).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use storage::Claimed;
use storage::records::{Job, JobStatus, NotificationStatus, NotificationType, Template};
use uuid::Uuid;

use super::accounts::actor::Actor;
use super::accounts::audit::{Action, Entry};
use super::recipient_sheet::{self, Allowed, RowError, SheetRow};
use super::sending::{RowSender, insert_and_queue};
use super::status::{self, Event, StatusChange};
use super::{DomainError, DomainResult};
use crate::domain::Context;
use crate::domain::queues::Queue;

/// The queue of jobs waiting to be (or being) turned into notifications.
/// Rows per write: small enough that an API send's write never waits long behind one.
pub const CHUNK_ROWS: usize = 256;
/// How far ahead a job may be scheduled.
const MAX_SCHEDULE_AHEAD_MICROS: i64 = 7 * 86_400 * 1_000_000;
/// A job whose sheet cannot be read is tried again this often, this many times.
const READ_RETRY_MS: i64 = 60_000;
const READ_RETRIES: u32 = 5;

/// Where an upload's sheet is kept (upstream's CSV bucket key).
pub fn sheet_key(service_id: Uuid, id: Uuid) -> String {
    format!("service-{service_id}-notify/{id}.csv")
}

fn meta_key(service_id: Uuid, id: Uuid) -> String {
    format!("service-{service_id}-notify/{id}.json")
}

/// What is kept beside an uploaded sheet: everything a job needs to be created from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadMeta {
    pub id: Uuid,
    pub service_id: Uuid,
    pub template_id: Uuid,
    pub template_version: u32,
    pub original_file_name: String,
    pub notification_count: u32,
    pub valid: bool,
    pub sender_id: Option<Uuid>,
    pub contact_list_id: Option<Uuid>,
}

/// The outcome of an upload: its metadata and the errors of its rows (by spreadsheet row
/// number: the header is row 1).
#[derive(Debug, Clone)]
pub struct Upload {
    pub meta: UploadMeta,
    pub errors: Vec<RowError>,
}

/// A sheet to check and keep.
#[derive(Debug, Clone, Default)]
pub struct NewUpload {
    pub template_id: Uuid,
    pub original_file_name: String,
    pub sender_id: Option<Uuid>,
    /// Send to a saved contact list instead of an uploaded sheet.
    pub contact_list_id: Option<Uuid>,
}

fn blobs_error(e: object_store::Error) -> DomainError {
    DomainError::Blobs(e.to_string())
}

fn live_service(cx: &Context, service_id: Uuid) -> DomainResult<storage::records::Service> {
    super::services::get_service(&cx.store, service_id)
}

/// The service's template (current version), refusing deleted and hidden ones.
fn sendable_template(cx: &Context, service_id: Uuid, template_id: Uuid) -> DomainResult<Template> {
    let template = cx
        .store
        .read()?
        .get_template(template_id)?
        .filter(|t| t.service_id == service_id && !t.hidden)
        .ok_or_else(|| DomainError::not_found("Template not found".into()))?;
    if template.archived {
        return Err(DomainError::invalid("Template has been deleted".into()));
    }
    Ok(template)
}

/// The rows of a sheet checked against `template`, with every row also built the way the job
/// will build it (so a message too long or a trial-mode recipient is reported now, by row).
fn check_rows(
    bytes: &[u8],
    sender: &RowSender,
    allowed: Allowed,
) -> DomainResult<recipient_sheet::CheckedSheet> {
    let mut sheet = recipient_sheet::check_csv(bytes, sender.template(), allowed)
        .map_err(|e| DomainError::invalid(e.to_string()))?;
    let column = match sender.template().template_type {
        NotificationType::Sms => "phone number",
        NotificationType::Email => "email address",
        NotificationType::Letter => "address_line_1",
    };
    let header = sheet
        .headers
        .iter()
        .find(|h| {
            crate::templates::placeholders::normalise_key(h)
                == crate::templates::placeholders::normalise_key(column)
        })
        .cloned()
        .unwrap_or_else(|| column.to_string());
    let mut errors = Vec::new();
    for row in &sheet.rows {
        match sender.build(row, Uuid::nil(), 0) {
            Ok(Some(_)) => {}
            Ok(None) => errors.push(RowError {
                row: row.index + 2,
                column: header.clone(),
                message: "Your service is in trial mode: you can only send to members of your team and your guest list".into(),
            }),
            Err(message) => errors.push(RowError {
                row: row.index + 2,
                column: String::new(),
                message,
            }),
        }
    }
    sheet.errors.extend(errors);
    sheet.errors.sort_by_key(|e| e.row);
    Ok(sheet)
}

fn allowed_for(service: &storage::records::Service) -> Allowed {
    Allowed {
        international_sms: service.permissions.iter().any(|p| p == "international_sms"),
        international_letters: service
            .permissions
            .iter()
            .any(|p| p == "international_letters"),
    }
}

fn row_sender(
    cx: &Context,
    service: &storage::records::Service,
    template: Template,
    job_id: Option<Uuid>,
    sender_id: Option<Uuid>,
) -> DomainResult<RowSender> {
    RowSender::new(
        &cx.store.read()?,
        service.clone(),
        template,
        job_id,
        sender_id,
        cx.config.default_sms_sender(),
    )
}

/// Check a sheet (or a saved contact list) against a template and keep it for a job.
pub async fn upload_sheet(
    cx: &Context,
    service_id: Uuid,
    new: NewUpload,
    body: Bytes,
) -> DomainResult<Upload> {
    let service = live_service(cx, service_id)?;
    let template = sendable_template(cx, service_id, new.template_id)?;
    let bytes = match new.contact_list_id {
        Some(list_id) => {
            let list = super::contact_lists::get(cx, service_id, list_id)?;
            if list.template_type != template.template_type {
                return Err(DomainError::invalid(format!(
                    "The contact list holds {} recipients: it cannot be sent with a {} template",
                    list.template_type, template.template_type
                )));
            }
            cx.blobs
                .get(&Path::from(list.file_key.as_str()))
                .await
                .map_err(blobs_error)?
                .bytes()
                .await
                .map_err(blobs_error)?
        }
        None => as_csv(&new.original_file_name, body).await?,
    };
    let sender = row_sender(cx, &service, template.clone(), None, new.sender_id)?;
    let allowed = allowed_for(&service);
    let checked = {
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || check_rows(&bytes, &sender, allowed))
            .await
            .map_err(|e| DomainError::invalid(format!("the sheet could not be checked: {e}")))??
    };
    let id = Uuid::new_v4();
    let meta = UploadMeta {
        id,
        service_id,
        template_id: template.id,
        template_version: template.version,
        original_file_name: new.original_file_name,
        notification_count: checked.rows.len() as u32,
        valid: checked.is_valid(),
        sender_id: new.sender_id,
        contact_list_id: new.contact_list_id,
    };
    cx.blobs
        .put(&Path::from(sheet_key(service_id, id)), bytes.into())
        .await
        .map_err(blobs_error)?;
    let json = serde_json::to_vec(&meta).map_err(|e| DomainError::invalid(e.to_string()))?;
    cx.blobs
        .put(&Path::from(meta_key(service_id, id)), json.into())
        .await
        .map_err(blobs_error)?;
    tracing::info!(upload_id = %id, %service_id, rows = meta.notification_count, valid = meta.valid, "sheet uploaded");
    Ok(Upload {
        meta,
        errors: checked.errors,
    })
}

/// The sheet as CSV (spreadsheets are converted once, here, so every stored sheet is CSV).
pub async fn as_csv(file_name: &str, body: Bytes) -> DomainResult<Bytes> {
    let name = file_name.to_string();
    tokio::task::spawn_blocking(move || {
        recipient_sheet::sheet_as_csv(&name, &body)
            .map(|csv| match csv {
                std::borrow::Cow::Borrowed(_) => body.clone(),
                std::borrow::Cow::Owned(v) => Bytes::from(v),
            })
            .map_err(|e| DomainError::invalid(e.to_string()))
    })
    .await
    .map_err(|e| DomainError::invalid(e.to_string()))?
}

async fn read_meta(cx: &Context, service_id: Uuid, id: Uuid) -> DomainResult<UploadMeta> {
    let found = match cx.blobs.get(&Path::from(meta_key(service_id, id))).await {
        Ok(found) => found.bytes().await.map_err(blobs_error)?,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(DomainError::invalid(format!(
                "No uploaded file with id {id} for this service"
            )));
        }
        Err(e) => return Err(blobs_error(e)),
    };
    serde_json::from_slice(&found)
        .map_err(|e| DomainError::invalid(format!("The upload's metadata cannot be read: {e}")))
}

/// An upload read back for its check page: what was kept, every row's problem, the rows that
/// will be sent, and the sheet's cells to show.
#[derive(Debug, Clone)]
pub struct UploadedSheet {
    pub meta: UploadMeta,
    /// By spreadsheet row number (the header is row 1).
    pub errors: Vec<RowError>,
    pub headers: Vec<String>,
    /// Every data row's cells, with its 0-based index among the data rows.
    pub cells: Vec<(usize, Vec<String>)>,
    /// The rows that will be sent, in file order.
    pub rows: Vec<SheetRow>,
}

/// An upload of the service, checked again exactly as [`upload_sheet`] checked it (the check
/// page shows it; nothing is kept between the upload and the check but the sheet itself).
pub async fn read_upload(
    cx: &Context,
    service_id: Uuid,
    upload_id: Uuid,
) -> DomainResult<UploadedSheet> {
    let meta = match read_meta(cx, service_id, upload_id).await {
        Ok(meta) => meta,
        Err(DomainError::Validation(_)) => {
            return Err(DomainError::not_found("No result found".into()));
        }
        Err(e) => return Err(e),
    };
    let service = live_service(cx, service_id)?;
    let template = sendable_template(cx, service_id, meta.template_id)?;
    let bytes = cx
        .blobs
        .get(&Path::from(sheet_key(service_id, upload_id)))
        .await
        .map_err(blobs_error)?
        .bytes()
        .await
        .map_err(blobs_error)?;
    let sender = row_sender(cx, &service, template, None, meta.sender_id)?;
    let allowed = allowed_for(&service);
    let (checked, (headers, cells)) = tokio::task::spawn_blocking(move || {
        let checked = check_rows(&bytes, &sender, allowed)?;
        let cells = recipient_sheet::sheet_cells(&bytes)
            .map_err(|e| DomainError::invalid(e.to_string()))?;
        Ok::<_, DomainError>((checked, cells))
    })
    .await
    .map_err(|e| DomainError::invalid(format!("the sheet could not be checked: {e}")))??;
    Ok(UploadedSheet {
        meta,
        errors: checked.errors,
        headers,
        cells,
        rows: checked.rows,
    })
}

/// A job to create from an upload.
#[derive(Debug, Clone, Default)]
pub struct NewJob {
    /// The upload's id, which becomes the job's.
    pub id: Uuid,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
}

/// Create a job from a valid upload (§8.1): `scheduled` when it has a time, else `pending`
/// and queued at once. Audited (`job.sent`) in the same write.
pub async fn create_job(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    new: NewJob,
) -> DomainResult<Job> {
    let service = live_service(cx, service_id)?;
    if !service.active {
        return Err(DomainError::forbidden(
            "Create job is not allowed: service is inactive".into(),
        ));
    }
    let meta = read_meta(cx, service_id, new.id).await?;
    let template = cx
        .store
        .read()?
        .get_template(meta.template_id)?
        .filter(|t| t.service_id == service_id)
        .ok_or_else(|| DomainError::not_found("Template not found".into()))?;
    if template.template_type == NotificationType::Letter && service.restricted {
        return Err(DomainError::forbidden(
            "Create letter job is not allowed for service in trial mode".into(),
        ));
    }
    if !meta.valid {
        return Err(DomainError::invalid(
            "File is not valid, can't create job".into(),
        ));
    }
    if template.archived {
        return Err(DomainError::invalid("Template has been deleted".into()));
    }
    let now = cx.store.clock().now_micros();
    let scheduled_for = new.scheduled_for.map(|t| t.timestamp_micros());
    if let Some(at) = scheduled_for {
        if at < now {
            return Err(DomainError::invalid("Date cannot be in the past".into()));
        }
        if at > now + MAX_SCHEDULE_AHEAD_MICROS {
            return Err(DomainError::invalid(
                "Date cannot be more than 7 days in the future".into(),
            ));
        }
    }
    let job = Job {
        id: meta.id,
        service_id,
        template_id: meta.template_id,
        template_version: meta.template_version,
        original_file_name: meta.original_file_name,
        file_key: sheet_key(service_id, meta.id),
        notification_count: meta.notification_count,
        notifications_sent: 0,
        status: if scheduled_for.is_some() {
            JobStatus::Scheduled
        } else {
            JobStatus::Pending
        },
        scheduled_for,
        contact_list_id: meta.contact_list_id,
        created_at: now,
        processing_started: None,
        processing_finished: None,
        archived: false,
        sender_id: meta.sender_id,
        created_by: new.created_by,
    };
    let stored = job.clone();
    let entry = Entry::new(actor, Action::JobSent)
        .service(service_id)
        .subject(job.id)
        .details(serde_json::json!({
            "original_file_name": job.original_file_name,
            "template_id": job.template_id,
            "notification_count": job.notification_count,
            "scheduled_for": job.scheduled_for.map(storage::clock::format_api_timestamp),
            "contact_list_id": job.contact_list_id,
        }));
    cx.store
        .write(move |ctx| {
            if ctx.get_job(stored.id)?.is_some() {
                return Err(storage::StoreError::Conflict(format!(
                    "A job for upload {} already exists",
                    stored.id
                )));
            }
            ctx.put_job(&stored)?;
            let due = stored
                .scheduled_for
                .map_or(ctx.now_ms(), |at| at.div_euclid(1000));
            ctx.enqueue(Queue::ProcessJob.name(), due, stored.id.as_bytes())?;
            entry.write(ctx)
        })
        .await?;
    tracing::info!(job_id = %job.id, %service_id, status = %job.status, rows = job.notification_count, "job created");
    Ok(job)
}

/// Letters the service uploaded as PDFs (precompiled, not sent from a job), newest first, at
/// most `limit` of them.
pub fn uploaded_letters(
    cx: &Context,
    service_id: Uuid,
    limit: usize,
) -> DomainResult<Vec<storage::records::Notification>> {
    let reader = cx.store.read()?;
    let precompiled: std::collections::HashSet<Uuid> = reader
        .service_templates(service_id)?
        .into_iter()
        .filter(|t| t.hidden && t.template_type == NotificationType::Letter)
        .map(|t| t.id)
        .collect();
    if precompiled.is_empty() {
        return Ok(Vec::new());
    }
    Ok(reader.service_notifications(service_id, None, limit, |n| {
        n.notification_type == NotificationType::Letter
            && n.job_id.is_none()
            && precompiled.contains(&n.template_id)
    })?)
}

/// A job of the service.
pub fn get_job(cx: &Context, service_id: Uuid, job_id: Uuid) -> DomainResult<Job> {
    cx.store
        .read()?
        .get_job(job_id)?
        .filter(|j| j.service_id == service_id)
        .ok_or_else(|| DomainError::not_found("No result found".into()))
}

/// Cancel a job still waiting for its time (audited: `job.cancelled`).
pub async fn cancel_job(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    job_id: Uuid,
) -> DomainResult<Job> {
    let entry = Entry::new(actor, Action::JobCancelled)
        .service(service_id)
        .subject(job_id);
    let job = cx
        .store
        .write(move |ctx| {
            let job = ctx
                .get_job(job_id)?
                .filter(|j| j.service_id == service_id && j.status == JobStatus::Scheduled)
                .ok_or_else(|| storage::StoreError::NotFound("No result found".into()))?;
            let mut job = job;
            job.status = JobStatus::Cancelled;
            ctx.put_job(&job)?;
            entry
                .clone()
                .details(serde_json::json!({"original_file_name": job.original_file_name}))
                .write(ctx)?;
            Ok(job)
        })
        .await?;
    tracing::info!(job_id = %job_id, %service_id, "scheduled job cancelled");
    Ok(job)
}

const TOO_LATE_FOR_JOB: &str =
    "It\u{2019}s too late to cancel sending, these letters have already been sent.";

/// Cancel every letter of a letter job before printing starts (§8.3). Answers how many
/// letters were cancelled (audited: `job.cancelled`).
pub async fn cancel_letter_job(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    job_id: Uuid,
) -> DomainResult<u64> {
    use NotificationStatus::Cancelled;
    let job = get_job(cx, service_id, job_id)?;
    let template = cx
        .store
        .read()?
        .get_template(job.template_id)?
        .ok_or_else(|| DomainError::not_found("Template not found".into()))?;
    if template.template_type != NotificationType::Letter {
        return Err(DomainError::invalid(
            "Only letter jobs can be cancelled through this endpoint. This is not a letter job."
                .into(),
        ));
    }
    if job.status != JobStatus::FinishedAllNotificationsCreated {
        return Err(DomainError::invalid(
            "We are still processing these letters, please try again in 5 minutes.".into(),
        ));
    }
    let now = cx.store.clock().now_micros();
    if super::letters::too_late_to_cancel(job.created_at, now) {
        return Err(DomainError::invalid(TOO_LATE_FOR_JOB.into()));
    }
    let ids: Vec<Uuid> = cx
        .store
        .read()?
        .job_rows(job_id, 0, usize::MAX)?
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    let entry = Entry::new(actor, Action::JobCancelled)
        .service(service_id)
        .subject(job_id)
        .details(
            serde_json::json!({"original_file_name": job.original_file_name, "letters": ids.len()}),
        );
    let cancelled = cx
        .store
        .write(move |ctx| {
            for id in &ids {
                match ctx.get_notification(*id)? {
                    Some(n) if status::allowed(Event::LetterJobCancelled, n.status, Cancelled) => {}
                    // Archived or moved on: part of the job has gone to the printer.
                    _ => return Ok(None),
                }
            }
            let nothing_billed = StatusChange {
                billable_units: Some(0),
                ..Default::default()
            };
            for id in &ids {
                status::apply_status(
                    ctx,
                    *id,
                    Event::LetterJobCancelled,
                    Cancelled,
                    nothing_billed.clone(),
                )?;
            }
            let Some(mut job) = ctx.get_job(job_id)? else {
                return Ok(None);
            };
            job.status = JobStatus::Cancelled;
            ctx.put_job(&job)?;
            entry.write(ctx)?;
            Ok(Some(ids.len() as u64))
        })
        .await?
        .ok_or_else(|| DomainError::invalid(TOO_LATE_FOR_JOB.into()))?;
    tracing::info!(%job_id, %service_id, cancelled, "letter job cancelled");
    Ok(cancelled)
}

/// The job's notifications counted by status (live and archived rows alike).
pub fn job_statistics(cx: &Context, job: &Job) -> DomainResult<BTreeMap<&'static str, u64>> {
    let reader = cx.store.read()?;
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut from = 0u32;
    loop {
        let rows = reader.job_rows(job.id, from, 4096)?;
        let Some((last, _)) = rows.last() else { break };
        from = last.saturating_add(1);
        for (_, id) in &rows {
            let status = match reader.get_notification(*id)? {
                Some(n) => n.status,
                None => match reader.get_notification_history(*id)? {
                    Some(h) => h.status,
                    None => continue,
                },
            };
            *counts.entry(status.as_str()).or_default() += 1;
        }
        if rows.len() < 4096 || last == &u32::MAX {
            break;
        }
    }
    Ok(counts)
}

/// One row of a job as its page lists it (`to` is empty once retention has removed it).
#[derive(Debug, Clone)]
pub struct JobRowNotification {
    /// 0-based among the sheet's data rows.
    pub row: u32,
    pub id: Uuid,
    pub to: String,
    pub status: NotificationStatus,
    pub notification_type: NotificationType,
}

/// The job's notifications in row order, `skip` rows in, at most `limit`, with how many there
/// are in all.
pub fn job_notifications(
    cx: &Context,
    job: &Job,
    skip: usize,
    limit: usize,
) -> DomainResult<(u64, Vec<JobRowNotification>)> {
    let reader = cx.store.read()?;
    let total = reader.job_row_count(job.id)?;
    // Rows are keyed by row number, not position: walk the links to the page.
    let links = reader.job_rows(job.id, 0, skip.saturating_add(limit))?;
    let mut out = Vec::with_capacity(limit);
    for (row, id) in links.into_iter().skip(skip) {
        if let Some(n) = reader.get_notification(id)? {
            out.push(JobRowNotification {
                row,
                id,
                to: n.to,
                status: n.status,
                notification_type: n.notification_type,
            });
        } else if let Some(h) = reader.get_notification_history(id)? {
            out.push(JobRowNotification {
                row,
                id,
                to: String::new(),
                status: h.status,
                notification_type: h.notification_type,
            });
        }
    }
    Ok((total, out))
}

/// Handle one `process-job` queue row: turn the job's remaining rows into notifications.
pub async fn process(cx: Arc<Context>, row: Claimed) {
    let seq = row.seq;
    let Ok(job_id) = Uuid::from_slice(&row.payload) else {
        tracing::error!(seq, "process-job row without a job id; dropped");
        finish_row(&cx, seq).await;
        return;
    };
    match process_job(&cx, job_id, seq).await {
        Ok(()) => {}
        Err(DomainError::Blobs(e)) => {
            tracing::error!(%job_id, error = %e, "cannot read the job's sheet; trying again later");
            let retried = cx
                .store
                .write(move |ctx| {
                    ctx.retry(Queue::ProcessJob.name(), seq, READ_RETRY_MS, READ_RETRIES)
                })
                .await;
            if let Ok(storage::RetryOutcome::GaveUp { .. }) = retried {
                fail_job(&cx, job_id, &format!("its file cannot be read: {e}")).await;
            }
        }
        // A storage error: the row stays leased and comes back when the lease runs out (or at
        // the next start); rows already stored are skipped then.
        Err(e) => tracing::error!(%job_id, error = %e, "job processing stopped; it will resume"),
    }
}

async fn finish_row(cx: &Context, seq: u64) {
    if let Err(e) = cx
        .store
        .write(move |ctx| ctx.ack(Queue::ProcessJob.name(), seq).map(drop))
        .await
    {
        tracing::error!(seq, error = %e, "cannot ack a process-job row");
    }
}

/// Mark a job `error` and raise an alert: an operator must look at it.
async fn fail_job(cx: &Context, job_id: Uuid, why: &str) {
    let why = why.to_string();
    let message = format!("Job {job_id} stopped: {why}");
    let result = cx
        .store
        .write(move |ctx| {
            if let Some(mut job) = ctx.get_job(job_id)? {
                job.status = JobStatus::Error;
                job.processing_finished = Some(ctx.now_micros());
                ctx.put_job(&job)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = result {
        tracing::error!(%job_id, error = %e, "cannot mark a job failed");
    }
    super::alerts::raise(cx, "process-job", message, vec![]).await;
}

/// Set the job's status (and when processing ended) and finish its queue row, in one write.
async fn end_job(cx: &Context, job_id: Uuid, seq: u64, status: JobStatus) -> DomainResult<()> {
    cx.store
        .write(move |ctx| {
            if let Some(mut job) = ctx.get_job(job_id)? {
                job.status = status;
                job.processing_finished = Some(ctx.now_micros());
                ctx.put_job(&job)?;
            }
            ctx.ack(Queue::ProcessJob.name(), seq)?;
            Ok(())
        })
        .await?;
    tracing::info!(%job_id, status = %status, "job ended");
    Ok(())
}

async fn process_job(cx: &Context, job_id: Uuid, seq: u64) -> DomainResult<()> {
    let Some(job) = cx.store.read()?.get_job(job_id)? else {
        finish_row(cx, seq).await;
        return Ok(());
    };
    let resuming = match job.status {
        JobStatus::Pending | JobStatus::Scheduled => false,
        JobStatus::InProgress | JobStatus::Error => true,
        // Cancelled, finished or refused: nothing to do.
        _ => {
            finish_row(cx, seq).await;
            return Ok(());
        }
    };
    let service = live_service(cx, job.service_id)?;
    if !service.active {
        return end_job(cx, job_id, seq, JobStatus::Cancelled).await;
    }
    let Some(template) = cx
        .store
        .read()?
        .get_template_version(job.template_id, job.template_version)?
    else {
        fail_job(cx, job_id, "its template version is missing").await;
        finish_row(cx, seq).await;
        return Ok(());
    };
    let kind = template.template_type;
    if !resuming
        && !cx
            .limits
            .fits_daily(&cx.store, &service, kind, u64::from(job.notification_count))?
    {
        return end_job(cx, job_id, seq, JobStatus::SendingLimitsExceeded).await;
    }
    cx.store
        .write(move |ctx| {
            if let Some(mut job) = ctx.get_job(job_id)? {
                job.status = JobStatus::InProgress;
                job.processing_started.get_or_insert(ctx.now_micros());
                ctx.put_job(&job)?;
            }
            Ok(())
        })
        .await?;
    let bytes = cx
        .blobs
        .get(&Path::from(job.file_key.as_str()))
        .await
        .map_err(blobs_error)?
        .bytes()
        .await
        .map_err(blobs_error)?;
    let sender = Arc::new(row_sender(
        cx,
        &service,
        template.clone(),
        Some(job_id),
        job.sender_id,
    )?);
    let allowed = allowed_for(&service);
    let rows = {
        let template = template.clone();
        tokio::task::spawn_blocking(move || {
            recipient_sheet::rows_of_checked_csv(&bytes, &template, allowed)
        })
        .await
        .map_err(|e| DomainError::invalid(e.to_string()))?
    };
    let rows = match rows {
        Ok(rows) => Arc::new(rows),
        Err(e) => {
            fail_job(cx, job_id, &format!("its sheet no longer reads: {e}")).await;
            finish_row(cx, seq).await;
            return Ok(());
        }
    };
    let start = (job.notifications_sent as usize).min(rows.len());
    if resuming {
        tracing::info!(%job_id, from_row = start, rows = rows.len(), "job resumes");
    }
    let mut next = start;
    let build = |from: usize| {
        let (rows, sender, clock) = (rows.clone(), sender.clone(), cx.store.clock().clone());
        tokio::task::spawn_blocking(move || build_chunk(&rows, from, &sender, &*clock))
    };
    let mut pending = (next < rows.len()).then(|| build(next));
    while let Some(building) = pending.take() {
        let chunk = building
            .await
            .map_err(|e| DomainError::invalid(e.to_string()))?;
        let end = (next + CHUNK_ROWS).min(rows.len());
        // Build the next chunk while this one is written.
        if end < rows.len() {
            pending = Some(build(end));
        }
        store_chunk(cx, (job.service_id, job_id), kind, chunk, end as u32).await?;
        next = end;
    }
    end_job(cx, job_id, seq, JobStatus::FinishedAllNotificationsCreated).await
}

/// One row's notification, ready to store.
struct BuiltRow {
    row: u32,
    notification: storage::records::Notification,
    encoded: Vec<u8>,
    queue: super::queues::Queue,
}

fn build_chunk(
    rows: &[SheetRow],
    from: usize,
    sender: &RowSender,
    clock: &dyn storage::Clock,
) -> Vec<BuiltRow> {
    let end = (from + CHUNK_ROWS).min(rows.len());
    let mut out = Vec::with_capacity(end - from);
    for row in &rows[from..end] {
        let now = clock.now_micros();
        match sender.build(row, storage::clock::v7_at_micros(now), now) {
            Ok(Some((n, queue))) => out.push(BuiltRow {
                row: row.index as u32,
                encoded: storage::codec::encode(&n),
                notification: n,
                queue,
            }),
            // A trial-mode service's row to someone outside its team: skipped, as upstream.
            Ok(None) => {}
            // The upload check builds every row, so this means the sheet changed underneath.
            Err(e) => {
                tracing::error!(row = row.index, error = %e, "a job row cannot be sent; skipped")
            }
        }
    }
    out
}

/// Store a chunk of rows, their links and queue rows, and the job's progress, in one write.
async fn store_chunk(
    cx: &Context,
    (service_id, job_id): (Uuid, Uuid),
    kind: NotificationType,
    chunk: Vec<BuiltRow>,
    progress: u32,
) -> DomainResult<()> {
    let (stored, international) = cx
        .store
        .write(move |ctx| {
            let (mut stored, mut international) = (0u64, 0u64);
            for b in &chunk {
                if ctx.job_row_notification(job_id, b.row)?.is_some() {
                    continue;
                }
                insert_and_queue(ctx, &b.notification, &b.encoded, b.queue)?;
                ctx.link_job_row(job_id, b.row, b.notification.id)?;
                stored += 1;
                international +=
                    u64::from(b.notification.international && kind == NotificationType::Sms);
            }
            if let Some(mut job) = ctx.get_job(job_id)? {
                job.notifications_sent = job.notifications_sent.max(progress);
                ctx.put_job(&job)?;
            }
            Ok((stored, international))
        })
        .await?;
    cx.limits
        .record_sent_many(service_id, kind, stored, international);
    Ok(())
}

/// A job read back for listings: newest first; jobs sent from a contact list only when asked
/// for by that list.
pub fn service_jobs(
    cx: &Context,
    service_id: Uuid,
    contact_list_id: Option<Uuid>,
) -> DomainResult<Vec<Job>> {
    super::services::get_service(&cx.store, service_id)?;
    let mut jobs: Vec<Job> = cx
        .store
        .read()?
        .service_jobs(service_id)?
        .into_iter()
        .filter(|j| j.contact_list_id == contact_list_id)
        .collect();
    jobs.sort_by_key(|j| std::cmp::Reverse(j.created_at));
    Ok(jobs)
}
