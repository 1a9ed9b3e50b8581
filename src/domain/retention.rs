//! Retention (workers.md §5): how long personal data is kept, and the nightly jobs that enforce
//! it.
//!
//! - **Settings** (§5.1): a service may choose, per notification type, how many whole London
//!   days to keep; otherwise `retention.default_days`. The cut-off is London midnight (as UTC)
//!   of London today − days, so a day is either wholly kept or wholly gone, across GMT and BST.
//! - **`delete-notifications-older-than-retention`** (§5.2): notifications older than their
//!   cut-off lose their recipient and personalisation and move to history; test-key ones are
//!   deleted outright. Letters still `created`, `sending` or `pending-virus-check` may yet be
//!   printed and are never touched; letters in the completed set have their PDF deleted
//!   *before* their row is archived, so a crash between the two only leaves a row whose PDF is
//!   already gone (the next run archives it). A PDF that cannot be deleted keeps its row live
//!   for the next run: a row is never lost and a file is never orphaned.
//! - **`delete-inbound-sms`** (§5.4): received texts past the service's SMS retention move to
//!   history without their content or sender.
//! - **`remove-sms-email-jobs` / `remove-letter-jobs`** (§5.5): uploaded job files past
//!   retention are deleted and their jobs marked archived.
//!
//! Everything runs a bounded batch (`retention.batch_size` rows) per commit, so API writes keep
//! flowing through the single writer during a large purge, and every batch is idempotent
//! (history is keyed by id), so a run cut short by a crash is simply run again.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Days, Utc};
use chrono_tz::Europe::London;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use storage::codec::encode;
use storage::records::{
    DataRetention, KeyType, Notification, NotificationHistory, NotificationStatus,
    NotificationType, Service,
};
use storage::retention::{Retired, Retiring, ServiceWalk};
use storage::{Store, v7_floor};
use uuid::Uuid;

use super::letters::pdf_path;
use super::services::{rejection, require_service};
use super::{DomainError, DomainResult, JobOutcome};
use crate::domain::Context;

/// Ids are stamped by the clock that also stamps `created_at`, but not necessarily in the same
/// call: walks reach this far past a cut-off in id order and then go by `created_at`.
const ID_SLACK_MS: i64 = 60_000;
/// Letter PDFs deleted at once.
const PDF_DELETES_IN_FLIGHT: usize = 16;

// ---------------------------------------------------------------------------------------------
// Cut-offs

/// The first instant kept: London midnight (as UTC microseconds) at the start of London today
/// minus `days`. Everything created before it is past retention.
pub fn cutoff_micros(now: DateTime<Utc>, days: u32) -> i64 {
    let today = now.with_timezone(&London).date_naive();
    match today.checked_sub_days(Days::new(u64::from(days))) {
        Some(day) => super::facts::london_midnight_micros(day),
        // Further back than the calendar goes: nothing is old enough.
        None => i64::MIN,
    }
}

/// What an international text is billed at, to keep beside its history (1 is the default and
/// not kept).
fn archived_rate_multiplier(n: &Notification) -> Option<u32> {
    if n.notification_type != NotificationType::Sms || !n.international {
        return None;
    }
    super::recipients::validate_phone_number(&n.normalised_to)
        .ok()
        .map(|p| p.rate_multiplier)
        .filter(|m| *m != 1)
}

/// The exclusive id bound of a walk for rows created before `cutoff`.
fn id_bound(cutoff: i64) -> Uuid {
    v7_floor(cutoff.div_euclid(1000).saturating_add(ID_SLACK_MS))
}

/// Every service's retention choices, read once per run.
struct Retention {
    days: HashMap<(Uuid, NotificationType), u32>,
    default_days: u32,
    now: DateTime<Utc>,
}

impl Retention {
    fn load(cx: &Context) -> DomainResult<Retention> {
        let days = cx
            .store
            .read()?
            .all_data_retention()?
            .into_iter()
            .map(|r| ((r.service_id, r.notification_type), r.days_of_retention))
            .collect();
        Ok(Retention {
            days,
            default_days: cx.config.retention.default_days,
            now: cx.store.clock().now(),
        })
    }

    fn days(&self, service: Uuid, kind: NotificationType) -> u32 {
        self.days
            .get(&(service, kind))
            .copied()
            .unwrap_or(self.default_days)
    }

    fn cutoff(&self, service: Uuid, kind: NotificationType) -> i64 {
        cutoff_micros(self.now, self.days(service, kind))
    }

    fn cutoffs(&self, service: Uuid) -> Cutoffs {
        Cutoffs {
            email: self.cutoff(service, NotificationType::Email),
            sms: self.cutoff(service, NotificationType::Sms),
            letter: self.cutoff(service, NotificationType::Letter),
        }
    }
}

/// One service's cut-off per notification type.
#[derive(Debug, Clone, Copy)]
struct Cutoffs {
    email: i64,
    sms: i64,
    letter: i64,
}

impl Cutoffs {
    fn of(&self, kind: NotificationType) -> i64 {
        match kind {
            NotificationType::Email => self.email,
            NotificationType::Sms => self.sms,
            NotificationType::Letter => self.letter,
        }
    }

    /// One walk covers every type: up to the latest cut-off.
    fn id_bound(&self) -> Uuid {
        id_bound(self.email.max(self.sms).max(self.letter))
    }
}

// ---------------------------------------------------------------------------------------------
// What happens to one notification

/// The fate of one live notification in tonight's purge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposal {
    /// Within retention, or a letter that may still be printed.
    Keep,
    /// To history without personal data (after its PDF, when `delete_pdf`).
    Archive { delete_pdf: bool },
    /// Test key: gone without a trace (its PDF too, when `delete_pdf`).
    Delete { delete_pdf: bool },
}

/// Letters that may still reach the printer: never archived, PDF never deleted.
fn letter_in_pipeline(status: NotificationStatus) -> bool {
    use NotificationStatus::*;
    matches!(status, Created | Sending | PendingVirusCheck)
}

/// What tonight's purge does with `n`, given its type's cut-off.
pub fn disposal(n: &Notification, cutoff: i64) -> Disposal {
    if n.created_at >= cutoff {
        return Disposal::Keep;
    }
    let letter = n.notification_type == NotificationType::Letter;
    if n.key_type == KeyType::Test {
        // Test letters are never printed: their rows and PDFs go whatever their status.
        return Disposal::Delete { delete_pdf: letter };
    }
    if !letter {
        return Disposal::Archive { delete_pdf: false };
    }
    if letter_in_pipeline(n.status) {
        return Disposal::Keep;
    }
    // `virus-scan-failed` (and anything outside the completed set) is archived with its file
    // left alone, as upstream does.
    Disposal::Archive {
        // A letter whose journey is over loses its PDF when archived (§5.2).
        delete_pdf: super::status::is_completed(n.status),
    }
}

// ---------------------------------------------------------------------------------------------
// The nightly purge

/// How a purge runs.
#[derive(Debug, Clone, Copy)]
pub struct PurgeOptions {
    /// Rows looked at per batch (one snapshot read, PDFs deleted together).
    pub batch_size: usize,
    /// Rows removed per commit: small, so an API write waits for at most one.
    pub write_chunk: usize,
    /// Stop after this many committed batches, as a crash would (tests, benchmarks).
    pub max_batches: Option<usize>,
    /// Most rows removed a second over the whole run; `None` = no limit.
    pub max_rows_per_second: Option<u32>,
}

impl PurgeOptions {
    pub fn from_config(cx: &Context) -> PurgeOptions {
        let rate = cx.config.retention.max_rows_per_second;
        PurgeOptions {
            batch_size: cx.config.retention.batch_size.max(1),
            write_chunk: cx.config.retention.write_chunk.max(1),
            max_batches: None,
            max_rows_per_second: (rate > 0).then_some(rate),
        }
    }
}

/// Spreads a run's commits evenly at no more than a set number of rows a second. Time the run
/// spent elsewhere (planning, deleting PDFs) earns no credit, so the writer never gets a burst
/// above the rate after a slow stretch.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    rows_per_second: Option<u32>,
    /// When the next rows may go: the end of the time the rows sent so far take at the rate.
    next: Option<tokio::time::Instant>,
}

impl Pace {
    pub fn new(rows_per_second: Option<u32>) -> Pace {
        Pace {
            rows_per_second,
            next: None,
        }
    }

    /// When `rows` more may be sent, given the time is `now` (at once without a limit);
    /// counts them as sent.
    pub fn take(&mut self, now: tokio::time::Instant, rows: usize) -> tokio::time::Instant {
        let Some(rate) = self.rows_per_second else {
            return now;
        };
        let due = self.next.map_or(now, |next| next.max(now));
        self.next = Some(due + std::time::Duration::from_secs_f64(rows as f64 / f64::from(rate)));
        due
    }
}

/// What a purge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub archived: u64,
    pub deleted: u64,
    pub pdfs_deleted: u64,
    /// PDFs that were already gone (a warning each).
    pub pdfs_missing: u64,
    /// PDFs object storage would not delete: their rows stay live for the next run.
    pub pdf_failures: u64,
    pub first_pdf_error: Option<String>,
    /// Letters past their cut-off left alone because they may still be printed.
    pub letters_kept: u64,
    /// Rows that changed between the snapshot and the commit, left for the next run.
    pub changed: u64,
    pub batches: u64,
    /// True when `max_batches` stopped the run early.
    pub interrupted: bool,
}

impl PurgeReport {
    fn summary(&self) -> String {
        let mut s = format!(
            "archived {} notifications, deleted {} test notifications, deleted {} letter PDFs",
            self.archived, self.deleted, self.pdfs_deleted
        );
        if self.pdfs_missing > 0 {
            s.push_str(&format!(" ({} already gone)", self.pdfs_missing));
        }
        if self.letters_kept > 0 {
            s.push_str(&format!(
                ", kept {} letters still in the print pipeline",
                self.letters_kept
            ));
        }
        if self.changed > 0 {
            s.push_str(&format!(
                ", {} changed during the run (left for the next)",
                self.changed
            ));
        }
        s
    }

    fn absorb(&mut self, r: Retired) {
        self.archived += r.archived;
        self.deleted += r.deleted;
        self.changed += r.changed;
    }
}

/// `delete-notifications-older-than-retention`.
pub async fn delete_notifications_older_than_retention(cx: &Context) -> JobOutcome {
    let report = purge_notifications(cx, PurgeOptions::from_config(cx)).await?;
    let summary = report.summary();
    tracing::info!(
        archived = report.archived,
        deleted = report.deleted,
        pdfs_deleted = report.pdfs_deleted,
        pdf_failures = report.pdf_failures,
        "retention purge finished"
    );
    match &report.first_pdf_error {
        Some(error) => Err(DomainError::Blobs(format!(
            "{summary}; {} letter PDFs could not be deleted, their notifications stay live for \
             the next run (first error: {error})",
            report.pdf_failures
        ))),
        None => Ok(summary),
    }
}

/// Archive or delete every notification past its service's retention, a batch per commit.
///
/// Every service is walked at once, oldest row first across all of them, each up to its own
/// latest cut-off (see [`storage::Reader::services_notifications_raw`] for why). Every row
/// looked at moves its walk on, so rows kept (or left after a failure) never stall it.
pub async fn purge_notifications(cx: &Context, options: PurgeOptions) -> DomainResult<PurgeReport> {
    let retention = Retention::load(cx)?;
    let mut cutoffs = HashMap::new();
    let mut walks = Vec::new();
    for service in cx.store.read()?.list_services()? {
        let service_cutoffs = retention.cutoffs(service.id);
        walks.push(ServiceWalk::new(service.id, service_cutoffs.id_bound()));
        cutoffs.insert(service.id, service_cutoffs);
    }
    let cutoffs = Arc::new(cutoffs);
    let mut report = PurgeReport::default();
    let mut pace = Pace::new(options.max_rows_per_second);
    // Batches run one after another (read, delete PDFs, then commits of `write_chunk` rows with
    // one queued ahead, each sent when `pace` allows): an API write waits for at most a chunk
    // or two, never a whole batch.
    loop {
        walks.retain(|walk| !walk.done);
        if walks.is_empty() {
            break;
        }
        if options
            .max_batches
            .is_some_and(|max| report.batches >= max as u64)
        {
            report.interrupted = true;
            break;
        }
        let batch;
        (batch, walks) = plan(cx, walks, cutoffs.clone(), options.batch_size).await?;
        report.letters_kept += batch.letters_kept;
        report.batches += 1;
        let rows = delete_pdfs(cx, batch.rows, &mut report).await;
        retire(cx, rows, options, &mut pace, &mut report).await?;
    }
    // Every chunk's commit was durable when it was answered: the report is true on disk.
    Ok(report)
}

/// Retire a batch's rows in small commits so an API write never waits long behind one, with
/// the next chunk already queued so the writer never idles waiting for this task to wake. The
/// chunks' tasks belong to this run: if the run is dropped (a timeout, a shutdown), they are
/// aborted with it, so nothing of a dropped run commits after a later run has begun (a commit
/// already handed to the writer still lands whole, ahead of anything queued after it).
async fn retire(
    cx: &Context,
    rows: Vec<Retiring>,
    options: PurgeOptions,
    pace: &mut Pace,
    report: &mut PurgeReport,
) -> DomainResult<()> {
    let mut rows = rows.into_iter();
    let mut in_flight: tokio::task::JoinSet<storage::Result<Retired>> = tokio::task::JoinSet::new();
    loop {
        let chunk: Vec<Retiring> = rows.by_ref().take(options.write_chunk).collect();
        if chunk.is_empty() {
            break;
        }
        tokio::time::sleep_until(pace.take(tokio::time::Instant::now(), chunk.len())).await;
        in_flight.spawn(retire_chunk(cx.store.clone(), chunk));
        // One chunk queued ahead of the one being answered.
        if in_flight.len() > 1
            && let Some(done) = in_flight.join_next().await
        {
            report.absorb(done.map_err(stopped)??);
        }
    }
    while let Some(done) = in_flight.join_next().await {
        report.absorb(done.map_err(stopped)??);
    }
    Ok(())
}

/// Retire one chunk in deferred commits that give way to API writes: a commit stops early when
/// one is waiting, so it waits for a few rows instead of the whole chunk, and the rest of the
/// chunk goes in the next commit.
async fn retire_chunk(store: Store, mut rows: Vec<Retiring>) -> storage::Result<Retired> {
    let mut total = Retired::default();
    while !rows.is_empty() {
        let (done, rest) = store
            .write_deferred(move |ctx| {
                let (done, looked_at) = ctx.retire_notifications_yielding(&rows)?;
                let rest = rows.split_off(looked_at);
                Ok((done, rest))
            })
            .await?;
        total += done;
        rows = rest;
    }
    Ok(total)
}

/// [`plan_batch`] on a blocking thread.
async fn plan(
    cx: &Context,
    walks: Vec<ServiceWalk>,
    cutoffs: Arc<HashMap<Uuid, Cutoffs>>,
    limit: usize,
) -> DomainResult<(Batch, Vec<ServiceWalk>)> {
    let store = cx.store.clone();
    tokio::task::spawn_blocking(move || {
        let mut walks = walks;
        let batch = plan_batch(&store, &mut walks, &cutoffs, limit)?;
        Ok((batch, walks))
    })
    .await
    .map_err(stopped)?
}

/// A retention task that died (it cannot panic, but be safe) fails the run.
fn stopped(e: tokio::task::JoinError) -> DomainError {
    DomainError::Store(storage::StoreError::Io(Arc::new(std::io::Error::other(
        format!("a retention task stopped: {e}"),
    ))))
}

/// One batch as decided from a snapshot.
struct Batch {
    rows: Vec<Planned>,
    letters_kept: u64,
}

struct Planned {
    retiring: Retiring,
    /// The PDF to delete before the row goes.
    pdf: Option<Path>,
}

/// Read a batch of the oldest rows across the services' walks (moving each on) and decide
/// each row, off the writer thread: decoding and encoding history here keeps each commit to
/// moving bytes.
fn plan_batch(
    store: &Store,
    walks: &mut [ServiceWalk],
    cutoffs: &HashMap<Uuid, Cutoffs>,
    limit: usize,
) -> DomainResult<Batch> {
    let found = store.read()?.services_notifications_raw(walks, limit)?;
    let mut batch = Batch {
        rows: Vec::with_capacity(found.len()),
        letters_kept: 0,
    };
    for (n, stored) in found {
        // Every walk belongs to a service with cut-offs; a row listed under another service
        // than its own would be a broken listing, and is kept.
        let Some(cutoff) = cutoffs
            .get(&n.service_id)
            .map(|c| c.of(n.notification_type))
        else {
            continue;
        };
        let (history, delete_pdf) = match disposal(&n, cutoff) {
            Disposal::Keep => {
                if n.created_at < cutoff && n.notification_type == NotificationType::Letter {
                    batch.letters_kept += 1;
                }
                continue;
            }
            Disposal::Archive { delete_pdf } => {
                (Some(encode(&NotificationHistory::from(&n))), delete_pdf)
            }
            Disposal::Delete { delete_pdf } => (None, delete_pdf),
        };
        batch.rows.push(Planned {
            pdf: delete_pdf.then(|| pdf_path(&n)),
            retiring: Retiring {
                id: n.id,
                service_id: n.service_id,
                status: n.status,
                stored,
                history,
                rate_multiplier: archived_rate_multiplier(&n),
            },
        });
    }
    Ok(batch)
}

/// How deleting one PDF went.
enum PdfOutcome {
    Deleted,
    Missing,
    Failed(String),
}

/// Delete the batch's letter PDFs (a few at once); return the rows that may now go: every row
/// but those whose PDF object storage would not delete.
async fn delete_pdfs(cx: &Context, rows: Vec<Planned>, report: &mut PurgeReport) -> Vec<Retiring> {
    let mut keep = Vec::with_capacity(rows.len());
    let mut pending = tokio::task::JoinSet::new();
    let mut waiting: HashMap<Uuid, Retiring> = HashMap::new();
    for planned in rows {
        let Some(path) = planned.pdf else {
            keep.push(planned.retiring);
            continue;
        };
        while pending.len() >= PDF_DELETES_IN_FLIGHT {
            take_pdf_result(pending.join_next().await, &mut waiting, &mut keep, report);
        }
        let id = planned.retiring.id;
        waiting.insert(id, planned.retiring);
        let blobs = cx.blobs.clone();
        pending.spawn(async move {
            let outcome = match blobs.delete(&path).await {
                Ok(()) => PdfOutcome::Deleted,
                Err(object_store::Error::NotFound { .. }) => PdfOutcome::Missing,
                Err(e) => PdfOutcome::Failed(e.to_string()),
            };
            (id, outcome)
        });
    }
    while let Some(joined) = pending.join_next().await {
        take_pdf_result(Some(joined), &mut waiting, &mut keep, report);
    }
    // A delete task that died (it cannot panic, but be safe): its rows stay live.
    report.pdf_failures += waiting.len() as u64;
    keep
}

fn take_pdf_result(
    joined: Option<Result<(Uuid, PdfOutcome), tokio::task::JoinError>>,
    waiting: &mut HashMap<Uuid, Retiring>,
    keep: &mut Vec<Retiring>,
    report: &mut PurgeReport,
) {
    let Some(Ok((id, outcome))) = joined else {
        return;
    };
    let Some(row) = waiting.remove(&id) else {
        return;
    };
    match outcome {
        PdfOutcome::Deleted => {
            report.pdfs_deleted += 1;
            keep.push(row);
        }
        PdfOutcome::Missing => {
            tracing::warn!(notification_id = %id, "letter PDF already gone; archiving the letter");
            report.pdfs_missing += 1;
            keep.push(row);
        }
        PdfOutcome::Failed(error) => {
            tracing::error!(
                notification_id = %id,
                %error,
                "could not delete a letter PDF; the letter stays live for the next run"
            );
            report.pdf_failures += 1;
            report.first_pdf_error.get_or_insert(error);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Received texts

/// `delete-inbound-sms`: received texts past the service's SMS retention (else the default)
/// move to history without content or sender, a batch per commit.
pub async fn delete_inbound_sms(cx: &Context) -> JobOutcome {
    let retention = Retention::load(cx)?;
    let batch = cx.config.retention.batch_size.max(1);
    let mut moved = 0u64;
    for service in cx.store.read()?.list_services()? {
        let cutoff = retention.cutoff(service.id, NotificationType::Sms);
        let (bound, service_id) = (id_bound(cutoff), service.id);
        let mut after = None;
        loop {
            let (count, last) = cx
                .store
                .write(move |ctx| ctx.retire_inbound_sms(service_id, after, bound, cutoff, batch))
                .await?;
            moved += count;
            match last {
                Some(id) => after = Some(id),
                None => break,
            }
        }
    }
    tracing::info!(moved, "received texts past retention moved to history");
    Ok(format!("moved {moved} received texts to history"))
}

// ---------------------------------------------------------------------------------------------
// Job files

/// `remove-sms-email-jobs` (`letters` false) and `remove-letter-jobs` (`letters` true): delete
/// the uploaded file of every job past its template type's retention (measured from when it was
/// scheduled for, else created) and mark the job archived. A missing file is fine; a file object
/// storage will not delete leaves its job for the next run.
pub async fn remove_job_files(cx: &Context, letters: bool) -> JobOutcome {
    let retention = Retention::load(cx)?;
    let chunk = cx.config.retention.batch_size.max(1);
    let mut kinds: HashMap<Uuid, Option<NotificationType>> = HashMap::new();
    let (mut archived, mut failures) = (0u64, 0u64);
    let mut first_error = None;
    let mut after = None;
    loop {
        let (expired, last) = expired_jobs(cx, &retention, &mut kinds, letters, after, chunk)?;
        let Some(last) = last else { break };
        after = Some(last);
        let mut done = Vec::new();
        for (id, file_key) in expired {
            // The upload's metadata beside the sheet goes with it.
            let meta = file_key
                .strip_suffix(".csv")
                .map(|stem| format!("{stem}.json"));
            let deleted = match delete_object(cx, &file_key).await {
                Ok(()) => match meta {
                    Some(meta) => delete_object(cx, &meta).await,
                    None => Ok(()),
                },
                Err(e) => Err(e),
            };
            match deleted {
                Ok(()) => done.push(id),
                Err(e) => {
                    tracing::error!(job_id = %id, error = %e, "could not delete a job file");
                    failures += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
        if done.is_empty() {
            continue;
        }
        archived += done.len() as u64;
        cx.store
            .write(move |ctx| {
                for id in done {
                    ctx.archive_job(id)?;
                }
                Ok(())
            })
            .await?;
    }
    let kind = if letters { "letter" } else { "email and text" };
    let summary = format!("removed the files of {archived} {kind} jobs");
    match first_error {
        Some(e) => Err(DomainError::Blobs(format!(
            "{summary}; {failures} could not be deleted and stay for the next run (first error: {e})"
        ))),
        None => Ok(summary),
    }
}

/// Expired jobs' (id, file key), and the last job id looked at.
type ExpiredJobs = (Vec<(Uuid, String)>, Option<Uuid>);

/// A chunk of jobs after `after`: the (id, file key) of those of the wanted kind that are past
/// retention and not yet archived, and the last id looked at.
fn expired_jobs(
    cx: &Context,
    retention: &Retention,
    kinds: &mut HashMap<Uuid, Option<NotificationType>>,
    letters: bool,
    after: Option<Uuid>,
    chunk: usize,
) -> DomainResult<ExpiredJobs> {
    let reader = cx.store.read()?;
    let jobs = reader.jobs_after(after, chunk)?;
    let last = jobs.last().map(|j| j.id);
    let mut expired = Vec::new();
    for job in jobs.into_iter().filter(|j| !j.archived) {
        let kind = match kinds.get(&job.template_id) {
            Some(kind) => *kind,
            None => {
                let kind = reader
                    .get_template(job.template_id)?
                    .map(|t| t.template_type);
                kinds.insert(job.template_id, kind);
                kind
            }
        };
        let Some(kind) = kind else {
            tracing::warn!(job_id = %job.id, "the job's template is gone; its file is kept");
            continue;
        };
        let from = job.scheduled_for.unwrap_or(job.created_at);
        if (kind == NotificationType::Letter) == letters
            && from < retention.cutoff(job.service_id, kind)
        {
            expired.push((job.id, job.file_key));
        }
    }
    Ok((expired, last))
}

/// Delete an object; one that is already gone is fine.
async fn delete_object(cx: &Context, key: &str) -> Result<(), String> {
    let path = Path::parse(key).map_err(|e| format!("bad file key {key:?}: {e}"))?;
    match cx.blobs.delete(&path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Settings (internal API)

/// Shortest and longest retention a service may choose.
pub const MIN_DAYS: i64 = 1;
pub const MAX_DAYS: i64 = 36_500;

/// A setting as the internal API shows it (upstream's fields).
pub fn setting_json(r: &DataRetention, service: &Service) -> Value {
    json!({
        "id": r.id,
        "service_id": r.service_id,
        "service_name": service.name,
        "notification_type": r.notification_type.as_str(),
        "days_of_retention": r.days_of_retention,
        "created_at": format_api_timestamp(r.created_at),
        "updated_at": r.updated_at.map(format_api_timestamp),
    })
}

/// The notification type of a request, with upstream's wording when it is wrong.
pub fn parse_type(value: Option<&Value>) -> DomainResult<NotificationType> {
    let Some(value) = value else {
        return Err(DomainError::invalid(
            "notification_type is a required property".into(),
        ));
    };
    value
        .as_str()
        .and_then(NotificationType::parse)
        .ok_or_else(|| {
            let shown = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            DomainError::invalid(format!(
                "notification_type {shown} is not one of [sms, letter, email]"
            ))
        })
}

/// Days of retention: a whole number from [`MIN_DAYS`] to [`MAX_DAYS`].
pub fn parse_days(value: Option<&Value>) -> DomainResult<u32> {
    let Some(value) = value else {
        return Err(DomainError::invalid(
            "days_of_retention is a required property".into(),
        ));
    };
    let Some(days) = value.as_i64() else {
        return Err(DomainError::invalid(format!(
            "days_of_retention {value} is not of type integer"
        )));
    };
    if days < MIN_DAYS {
        return Err(DomainError::invalid(format!(
            "days_of_retention {days} is less than the minimum of {MIN_DAYS}"
        )));
    }
    if days > MAX_DAYS {
        return Err(DomainError::invalid(format!(
            "days_of_retention {days} is greater than the maximum of {MAX_DAYS}"
        )));
    }
    Ok(days as u32)
}

/// The service and its settings, oldest first.
pub fn list_settings(
    store: &Store,
    service_id: Uuid,
) -> DomainResult<(Service, Vec<DataRetention>)> {
    let service = super::services::get_service(store, service_id)?;
    let mut settings = store.read()?.service_data_retention(service_id)?;
    settings.sort_by_key(|r| r.created_at);
    Ok((service, settings))
}

/// The service's setting for one type, if it has one.
pub fn setting_for_type(
    store: &Store,
    service_id: Uuid,
    kind: NotificationType,
) -> DomainResult<(Service, Option<DataRetention>)> {
    let (service, settings) = list_settings(store, service_id)?;
    let found = settings.into_iter().find(|r| r.notification_type == kind);
    Ok((service, found))
}

/// One of the service's settings by id.
pub fn setting_by_id(
    store: &Store,
    service_id: Uuid,
    id: Uuid,
) -> DomainResult<(Service, DataRetention)> {
    let (service, settings) = list_settings(store, service_id)?;
    match settings.into_iter().find(|r| r.id == id) {
        Some(r) => Ok((service, r)),
        None => Err(not_found(service_id, id)),
    }
}

fn not_found(service_id: Uuid, id: Uuid) -> DomainError {
    DomainError::not_found(format!(
        "The service data retention for id: {id} was not found for service: {service_id}"
    ))
}

/// Add a setting from a request body (`notification_type`, `days_of_retention`); one per type.
pub async fn create_setting(
    store: &Store,
    service_id: Uuid,
    body: &Value,
) -> DomainResult<(Service, DataRetention)> {
    let kind = parse_type(body.get("notification_type"))?;
    let days = parse_days(body.get("days_of_retention"))?;
    let created = store
        .write(move |ctx| {
            let service = require_service(ctx, service_id)?;
            if ctx.get_data_retention(service_id, kind)?.is_some() {
                return Err(rejection(DomainError::conflict(format!(
                    "Service already has data retention for {kind} notification type"
                ))));
            }
            let setting = DataRetention {
                id: ctx.new_id(),
                service_id,
                notification_type: kind,
                days_of_retention: days,
                created_at: ctx.now_micros(),
                updated_at: None,
            };
            ctx.put_data_retention(&setting)?;
            Ok((service, setting))
        })
        .await?;
    tracing::info!(%service_id, notification_type = %kind, days, "data retention set");
    Ok(created)
}

/// Change a setting's days from a request body (`days_of_retention`).
pub async fn update_setting(
    store: &Store,
    service_id: Uuid,
    id: Uuid,
    body: &Value,
) -> DomainResult<()> {
    let days = parse_days(body.get("days_of_retention"))?;
    store
        .write(move |ctx| {
            require_service(ctx, service_id)?;
            let Some(mut setting) = ctx
                .service_data_retention(service_id)?
                .into_iter()
                .find(|r| r.id == id)
            else {
                return Err(rejection(not_found(service_id, id)));
            };
            setting.days_of_retention = days;
            setting.updated_at = Some(ctx.now_micros());
            ctx.put_data_retention(&setting)
        })
        .await?;
    tracing::info!(%service_id, retention_id = %id, days, "data retention changed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn cutoff(now: &str, days: u32) -> DateTime<Utc> {
        let micros = cutoff_micros(at(now), days);
        Utc.timestamp_micros(micros).unwrap()
    }

    #[test]
    fn cutoffs_are_london_midnights() {
        // Summer: midnight BST is 23:00 UTC the day before.
        assert_eq!(
            cutoff("2024-06-17T12:00:00Z", 7),
            at("2024-06-09T23:00:00Z")
        );
        // 23:30 UTC in summer is already tomorrow in London.
        assert_eq!(
            cutoff("2024-06-10T23:30:00Z", 7),
            at("2024-06-03T23:00:00Z")
        );
        // Winter: midnight GMT is midnight UTC.
        assert_eq!(
            cutoff("2024-12-10T12:00:00Z", 3),
            at("2024-12-07T00:00:00Z")
        );
    }

    #[test]
    fn cutoffs_across_clock_changes() {
        // Clocks went back on 27 Oct 2024: today is GMT, the cut-off day was BST.
        assert_eq!(
            cutoff("2024-10-28T10:00:00Z", 7),
            at("2024-10-20T23:00:00Z")
        );
        // Clocks went forward on 31 Mar 2024: today is BST, the cut-off day was GMT.
        assert_eq!(
            cutoff("2024-04-02T10:00:00Z", 7),
            at("2024-03-26T00:00:00Z")
        );
        // The change day itself starts at midnight GMT.
        assert_eq!(
            cutoff("2024-04-07T10:00:00Z", 7),
            at("2024-03-31T00:00:00Z")
        );
        assert_eq!(
            cutoff("2024-11-03T10:00:00Z", 7),
            at("2024-10-26T23:00:00Z")
        );
    }

    #[test]
    fn absurd_retention_keeps_everything() {
        assert_eq!(
            cutoff_micros(at("2024-06-17T12:00:00Z"), u32::MAX),
            i64::MIN
        );
    }

    fn letter(status: NotificationStatus, key_type: KeyType, created_at: i64) -> Notification {
        Notification {
            id: Uuid::nil(),
            service_id: Uuid::nil(),
            notification_type: NotificationType::Letter,
            template_id: Uuid::nil(),
            template_version: 1,
            api_key_id: None,
            key_type,
            status,
            to: "A Person".into(),
            normalised_to: "a person".into(),
            personalisation: "{}".into(),
            body: String::new(),
            subject: None,
            client_reference: None,
            job_id: None,
            job_row_number: None,
            reply_to_text: None,
            one_click_unsubscribe_url: None,
            postage: Some("second".into()),
            international: false,
            billable_units: 1,
            sent_by: None,
            created_at,
            sent_at: None,
            updated_at: None,
            created_by_name: None,
            status_reason: None,
        }
    }

    #[test]
    fn letters_in_the_pipeline_are_never_touched() {
        use NotificationStatus::*;
        for s in [Created, Sending, PendingVirusCheck] {
            assert_eq!(disposal(&letter(s, KeyType::Normal, 0), 10), Disposal::Keep);
        }
        for s in [
            Delivered,
            ReturnedLetter,
            Cancelled,
            ValidationFailed,
            TechnicalFailure,
        ] {
            assert_eq!(
                disposal(&letter(s, KeyType::Team, 0), 10),
                Disposal::Archive { delete_pdf: true }
            );
        }
        assert_eq!(
            disposal(&letter(VirusScanFailed, KeyType::Normal, 0), 10),
            Disposal::Archive { delete_pdf: false }
        );
        assert_eq!(
            disposal(&letter(Created, KeyType::Test, 0), 10),
            Disposal::Delete { delete_pdf: true }
        );
        // Within retention: kept whatever it is.
        assert_eq!(
            disposal(&letter(Delivered, KeyType::Test, 10), 10),
            Disposal::Keep
        );
    }

    #[test]
    fn days_are_validated_with_clear_messages() {
        let msg = |v: Value| match parse_days(Some(&v)) {
            Err(DomainError::Refused {
                code: crate::domain::Code::Invalid,
                message,
            }) => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(parse_days(Some(&json!(30))).unwrap(), 30);
        assert_eq!(
            msg(json!(0)),
            "days_of_retention 0 is less than the minimum of 1"
        );
        assert_eq!(
            msg(json!("7")),
            "days_of_retention \"7\" is not of type integer"
        );
        assert_eq!(
            msg(json!(2.5)),
            "days_of_retention 2.5 is not of type integer"
        );
        assert!(
            matches!(parse_type(Some(&json!("fax"))), Err(DomainError::Refused { code: crate::domain::Code::Invalid, message: m }) if m == "notification_type fax is not one of [sms, letter, email]")
        );
    }

    #[test]
    fn a_paced_purge_sends_each_chunk_once_the_rows_before_it_are_done_at_the_rate() {
        let ms = std::time::Duration::from_millis;
        let start = tokio::time::Instant::now();
        let mut pace = Pace::new(Some(1000));
        assert_eq!(pace.take(start, 250), start);
        assert_eq!(pace.take(start, 250), start + ms(250));
        assert_eq!(pace.take(start + ms(100), 500), start + ms(500));
        // Two seconds spent elsewhere earn no burst: the next rows wait their full share.
        assert_eq!(pace.take(start + ms(3000), 100), start + ms(3000));
        assert_eq!(pace.take(start + ms(3000), 100), start + ms(3100));

        let mut unpaced = Pace::new(None);
        assert_eq!(unpaced.take(start, 1_000_000), start);
        assert_eq!(unpaced.take(start + ms(5), 250), start + ms(5));
    }
}
