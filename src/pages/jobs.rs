//! Sending from a spreadsheet, as upstream's admin app does it:
//! - `/services/{id}/send/{template_id}/csv`: "Upload a list of email addresses" (a CSV, ODS or
//!   Excel file), with an example of the columns the template needs
//!   (`/services/{id}/send/{template_id}.csv` downloads it);
//! - the upload is checked and kept by the domain ([`jobs::upload_sheet`], the same call as the
//!   internal API's upload), then `/services/{id}/{template_id}/check/{upload_id}` shows every
//!   bad row against its cell (or what is wrong with the columns) with "Upload your file
//!   again", or the first message's preview with "Send 20 emails" and a time to send at;
//! - `/services/{id}/start-job/{upload_id}` creates the job ([`jobs::create_job`]);
//! - `/services/{id}/uploads` lists the jobs (`/services/{id}/jobs` sends there, as upstream),
//!   `/services/{id}/jobs/{job_id}` shows one job's progress and messages, and
//!   `/services/{id}/jobs/{job_id}/cancel` asks before a scheduled job is cancelled.
//!
//! Uploading, checking, starting and cancelling need the `send_messages` permission; seeing
//! jobs needs membership of the service. The pages work without JavaScript: the job page has a
//! "Refresh" link while it is still sending.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use chrono::{DateTime, Duration, Timelike, Utc};
use chrono_tz::Europe::London;
use futures_util::TryStreamExt;
use storage::records::{Job, JobStatus, NotificationType, Permission, Template};
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{StatusCode, header};
use warp::multipart::FormData;
use warp::reply::{Reply, Response};
use web::Choice;
use web::jobs::{
    CancelJobPage, CheckPage, ContactListRow, JobMessage, JobPage, JobRow, SheetCell, SheetLine,
    SheetProblem, UploadPage, UploadedLetterRow, UploadsPage,
};

use super::send::{placeholders_to_ask, sendable};
use super::services::{InService, Section, channel_plural, enter, refusal, service_layout, when};
use super::session::{Visit, csrf_matches, visit};
use super::templates::preview;
use super::{Form, PageError, html, ok, redirect, respond};
use crate::app::App;
use crate::domain::accounts::Need;
use crate::domain::jobs::{self, NewJob, NewUpload, UploadedSheet};
use crate::domain::recipient_sheet::{self, Allowed, MAX_ROWS, RowError, SheetError};
use crate::domain::{Code, DomainError};
use crate::templates::placeholders::normalise_key;

const SEND: Need = Need::MemberWith(Permission::SendMessages);
const SEE: Need = Need::Member;
/// Rows of a sheet shown on the check page, messages on a job's page, jobs on the uploads page.
const ROWS_SHOWN: usize = 50;
/// How many days ahead the check page offers to schedule a job (the domain allows 7).
const SCHEDULE_DAYS: i64 = 4;
const TRIAL_MODE_PREFIX: &str = "Your service is in trial mode";

fn upload_action(s: &InService, t: &Template) -> String {
    format!("/services/{}/send/{}/csv", s.id(), t.id)
}

fn check_href(s: &InService, template_id: Uuid, upload_id: Uuid) -> String {
    format!("/services/{}/{template_id}/check/{upload_id}", s.id())
}

fn job_href(service_id: Uuid, job_id: Uuid) -> String {
    format!("/services/{service_id}/jobs/{job_id}")
}

/// The recipient column of a template type, as upstream names it.
fn recipient_column(kind: NotificationType) -> &'static str {
    match kind {
        NotificationType::Sms => "phone number",
        NotificationType::Email => "email address",
        NotificationType::Letter => "address line 1",
    }
}

/// "1 email address", "3 phone numbers", "2 addresses".
pub(super) fn recipient_count(n: usize, kind: NotificationType) -> String {
    let (one, many) = match kind {
        NotificationType::Sms => ("phone number", "phone numbers"),
        NotificationType::Email => ("email address", "email addresses"),
        NotificationType::Letter => ("address", "addresses"),
    };
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "1 email", "20 text messages".
fn message_count(n: u64, kind: NotificationType) -> String {
    let plural = channel_plural(kind);
    if n == 1 {
        format!("1 {}", plural.trim_end_matches('s'))
    } else {
        format!("{n} {plural}")
    }
}

/// ‘a’, ‘b’ and ‘c’.
fn quoted_list(items: &[String], conjunction: &str) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("‘{i}’")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} {conjunction} {last}", rest.join(", ")),
    }
}

// ---- the upload form ----

fn example_row(t: &Template) -> (Vec<String>, Vec<String>) {
    let names = placeholders_to_ask(t);
    let mut headers = vec![recipient_column(t.template_type).to_string()];
    let mut values = vec![
        match t.template_type {
            NotificationType::Sms => "07700 900321",
            _ => "test@example.com",
        }
        .to_string(),
    ];
    for name in names {
        headers.push(name);
        values.push("example".into());
    }
    (headers, values)
}

/// "A", "B", ... "Z", "AA": a spreadsheet's column letters.
fn column_letter(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn upload_page(s: &InService, t: &Template, file_error: Option<String>) -> Response {
    let title =
        format!("Upload a list of {}", recipient_count(2, t.template_type)).replacen("2 ", "", 1);
    let mut layout = service_layout(&title, s, Section::Templates, file_error.is_some());
    layout.back_link = Some(format!("/services/{}/send/{}/one-off", s.id(), t.id));
    let (example_headers, example_row) = example_row(t);
    let status = if file_error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    html(
        status,
        &UploadPage {
            layout,
            action: upload_action(s, t),
            example_columns: (0..example_headers.len()).map(column_letter).collect(),
            example_headers,
            example_row,
            example_href: format!("/services/{}/send/{}.csv", s.id(), t.id),
            template_name: t.name.clone(),
            preview: preview(&s.service, t, &serde_json::Map::new(), ""),
            file_error,
        },
    )
}

async fn get_upload(service_id: String, template_id: String, v: Visit) -> Response {
    let s = match enter(&v, &service_id, SEND) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match sendable(&v, &s, &template_id) {
        Ok(t) => upload_page(&s, &t, None),
        Err(r) => *r,
    }
}

/// `/services/{id}/send/{template_id}.csv`: the example as a file.
async fn get_example(service_id: String, file: String, v: Visit) -> Response {
    let s = match enter(&v, &service_id, SEND) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Some(template_id) = file.strip_suffix(".csv") else {
        return PageError::NotFound.into_response();
    };
    let t = match sendable(&v, &s, template_id) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let (headers, values) = example_row(&t);
    let mut out = csv::Writer::from_writer(Vec::new());
    let written = out
        .write_record(&headers)
        .and_then(|_| out.write_record(&values));
    let body = match written
        .map_err(|e| e.to_string())
        .and_then(|_| out.into_inner().map_err(|e| e.to_string()))
    {
        Ok(body) => body,
        Err(e) => return PageError::Internal(e).into_response(),
    };
    // The file name is the template's, kept to characters every browser takes in a header.
    let name: String = t
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " -_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut r = warp::reply::with_status(body, StatusCode::OK).into_response();
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// A posted upload form: its CSRF token and the file (name and bytes).
#[derive(Default)]
pub(super) struct PostedFile {
    pub csrf_token: String,
    pub file_name: String,
    pub body: Bytes,
}

/// The file's own name, whatever path a browser sent with it.
pub(super) fn base_name(file_name: &str) -> String {
    file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The name of the person who uploaded something, or "a team member".
pub(super) fn uploader_name(v: &Visit, user_id: Option<Uuid>) -> String {
    user_id
        .and_then(|id| crate::domain::accounts::users::get_user(&v.app, id).ok())
        .map(|u| u.name)
        .unwrap_or_else(|| "a team member".into())
}

pub(super) async fn read_form(mut form: FormData) -> Result<PostedFile, warp::Error> {
    let mut out = PostedFile::default();
    while let Some(part) = form.try_next().await? {
        let name = part.name().to_string();
        let file_name = part.filename().map(str::to_string);
        let mut buf = BytesMut::new();
        let mut stream = part.stream();
        while let Some(chunk) = stream.try_next().await? {
            buf.extend_from_slice(chunk.chunk());
        }
        match name.as_str() {
            "csrf_token" => out.csrf_token = String::from_utf8_lossy(&buf).trim().to_string(),
            "file" => {
                out.file_name = file_name.unwrap_or_default();
                out.body = buf.freeze();
            }
            _ => {}
        }
    }
    Ok(out)
}

async fn post_upload(
    service_id: String,
    template_id: String,
    v: Visit,
    form: FormData,
) -> Response {
    let s = match enter(&v, &service_id, SEND) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = match sendable(&v, &s, &template_id) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let Ok(posted) = read_form(form).await else {
        return upload_page(
            &s,
            &t,
            Some("The file could not be uploaded: try again".into()),
        );
    };
    if !csrf_matches(&posted.csrf_token, &s.session.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    if posted.file_name.is_empty() || posted.body.is_empty() {
        return upload_page(&s, &t, Some("You need to choose a file to upload".into()));
    }
    let file_name = base_name(&posted.file_name);
    let new = NewUpload {
        template_id: t.id,
        original_file_name: file_name.clone(),
        sender_id: None,
        contact_list_id: None,
    };
    match jobs::upload_sheet(&v.app, s.id(), new, posted.body.clone()).await {
        Ok(upload) => redirect(&check_href(&s, t.id, upload.meta.id)),
        Err(e) if e.code() == Code::Invalid => {
            sheet_refused(&s, &t, &file_name, posted.body, e).await
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

/// The page for a sheet the domain would not keep: which of its columns or rows is wrong, in
/// upstream's words (the domain's check is run again for the reason: this is the rare path).
async fn sheet_refused(
    s: &InService,
    t: &Template,
    file_name: &str,
    body: Bytes,
    refused: DomainError,
) -> Response {
    let unreadable = || {
        upload_page(
            s,
            t,
            Some(format!(
                "Could not read {file_name}. Try using a different file format."
            )),
        )
    };
    let Ok(csv) = jobs::as_csv(file_name, body).await else {
        return unreadable();
    };
    let allowed = Allowed {
        international_sms: true,
        international_letters: true,
    };
    let problem = match recipient_sheet::check_csv(&csv, t, allowed) {
        Err(SheetError::Unreadable(_)) => return unreadable(),
        Err(e) => {
            let headers = recipient_sheet::sheet_cells(&csv)
                .map(|(h, _)| h)
                .unwrap_or_default();
            column_problem(&e, t.template_type, &headers)
        }
        // Refused for something else (the template was deleted meanwhile...): said plainly.
        Ok(_) => SheetProblem {
            title: format!("There’s a problem with {file_name}"),
            paragraphs: vec![refused.refusal().unwrap_or_default().to_string()],
            to_fix: Vec::new(),
        },
    };
    let (headers, cells) = recipient_sheet::sheet_cells(&csv).unwrap_or_default();
    let lines = cells
        .iter()
        .take(ROWS_SHOWN)
        .map(|(index, row)| SheetLine {
            number: index + 2,
            cells: (0..headers.len())
                .map(|i| SheetCell {
                    value: row.get(i).cloned().unwrap_or_default(),
                    error: String::new(),
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let note = if cells.len() > ROWS_SHOWN {
        format!("Only showing the first {ROWS_SHOWN} rows")
    } else {
        String::new()
    };
    check_page_with_problem(s, t, file_name, problem, headers, lines, note)
}

/// What is wrong with a sheet's columns (or its rows as a whole), in upstream's words.
fn column_problem(e: &SheetError, kind: NotificationType, headers: &[String]) -> SheetProblem {
    let columns_problem = "There’s a problem with your column names".to_string();
    match e {
        SheetError::Empty => SheetProblem {
            title: "Your file is missing some rows".into(),
            paragraphs: vec!["It needs at least one row of data.".into()],
            to_fix: Vec::new(),
        },
        SheetError::TooManyRows { rows } => SheetProblem {
            title: "Your file has too many rows".into(),
            paragraphs: vec![format!(
                "Notify can process up to {} rows at once. Your file has {} rows.",
                thousands(MAX_ROWS as u64),
                thousands(*rows as u64)
            )],
            to_fix: Vec::new(),
        },
        SheetError::DuplicateColumns(columns) => SheetProblem {
            title: columns_problem,
            paragraphs: vec![
                format!(
                    "We found more than one column called {}.",
                    quoted_list(columns, "or")
                ),
                "Delete or rename one of these columns and try again.".into(),
            ],
            to_fix: Vec::new(),
        },
        SheetError::MissingColumns(columns) => {
            let recipient_missing = columns.iter().any(|c| {
                let k = normalise_key(c);
                k == normalise_key("phone number")
                    || k == normalise_key("email address")
                    || k.starts_with(&normalise_key("address_line"))
            });
            if recipient_missing {
                let needs = if kind == NotificationType::Letter {
                    "Your file needs at least 3 address columns, for example ‘address line 1’, ‘address line 2’ and ‘address line 3’.".to_string()
                } else {
                    format!(
                        "Your file needs a column called ‘{}’.",
                        recipient_column(kind)
                    )
                };
                let has: Vec<String> = headers.iter().filter(|h| !h.is_empty()).cloned().collect();
                let now = match has.len() {
                    0 => "Right now it has no columns.".to_string(),
                    1 => format!(
                        "Right now it has one column, called {}.",
                        quoted_list(&has, "and")
                    ),
                    _ => format!(
                        "Right now it has columns called {}.",
                        quoted_list(&has, "and")
                    ),
                };
                SheetProblem {
                    title: columns_problem,
                    paragraphs: vec![needs, now],
                    to_fix: Vec::new(),
                }
            } else {
                let called = if columns.len() == 1 {
                    "a column called"
                } else {
                    "columns called"
                };
                SheetProblem {
                    title: "Your column names need to match the double brackets in your template"
                        .into(),
                    paragraphs: vec![format!(
                        "Your file is missing {called} {}.",
                        quoted_list(columns, "and")
                    )],
                    to_fix: Vec::new(),
                }
            }
        }
        SheetError::Unreadable(why) => SheetProblem {
            title: "Notify could not read your file".into(),
            paragraphs: vec![why.clone()],
            to_fix: Vec::new(),
        },
    }
}

/// 100000 → "100,000".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn check_page_with_problem(
    s: &InService,
    t: &Template,
    file_name: &str,
    problem: SheetProblem,
    headers: Vec<String>,
    lines: Vec<SheetLine>,
    table_note: String,
) -> Response {
    let mut layout = service_layout("Error", s, Section::Templates, false);
    layout.back_link = Some(upload_action(s, t));
    html(
        StatusCode::BAD_REQUEST,
        &CheckPage {
            layout,
            file_name: file_name.to_string(),
            problem: Some(problem),
            upload_action: upload_action(s, t),
            file_error: None,
            headers,
            lines,
            table_note,
            preview: Some(preview(&s.service, t, &serde_json::Map::new(), "")),
            template_name: t.name.clone(),
            start_action: String::new(),
            times: Vec::new(),
            button: String::new(),
            error: None,
        },
    )
}

// ---- the check page ----

/// What to fix, by kind of row error, in upstream's words ("fix 2 email addresses", "enter
/// missing data in 1 row").
fn to_fix(errors: &[RowError], kind: NotificationType, recipient_header: &str) -> Vec<String> {
    let rows_where = |f: &dyn Fn(&RowError) -> bool| {
        let mut rows: Vec<usize> = errors.iter().filter(|e| f(e)).map(|e| e.row).collect();
        rows.dedup();
        rows.len()
    };
    let bad_recipients =
        rows_where(&|e: &RowError| !e.column.is_empty() && e.column == recipient_header);
    let missing = rows_where(&|e: &RowError| {
        e.column != recipient_header && e.message.starts_with("Missing ")
    });
    let too_long =
        rows_where(&|e: &RowError| e.column.is_empty() && e.message.contains("too long"));
    let other = rows_where(&|e: &RowError| {
        e.column != recipient_header
            && !e.message.starts_with("Missing ")
            && !(e.column.is_empty() && e.message.contains("too long"))
    });
    let rows = |n: usize| {
        if n == 1 {
            "1 row".to_string()
        } else {
            format!("{n} rows")
        }
    };
    let mut out = Vec::new();
    if bad_recipients > 0 {
        out.push(format!("fix {}", recipient_count(bad_recipients, kind)));
    }
    if missing > 0 {
        out.push(format!("enter missing data in {}", rows(missing)));
    }
    if too_long > 0 {
        out.push(if too_long == 1 {
            "shorten the message in 1 row".to_string()
        } else {
            format!("shorten the messages in {too_long} rows")
        });
    }
    if other > 0 {
        out.push(format!("fix the problems in {}", rows(other)));
    }
    out
}

/// The sheet's rows as the table shows them: each cell with its error.
fn lines_of(
    sheet: &UploadedSheet,
    only_errors: bool,
    previewed: Option<usize>,
) -> (Vec<SheetLine>, usize) {
    let mut by_row: BTreeMap<usize, Vec<&RowError>> = BTreeMap::new();
    for e in &sheet.errors {
        by_row.entry(e.row).or_default().push(e);
    }
    let mut all = Vec::new();
    for (index, row) in &sheet.cells {
        let number = index + 2;
        let errors = by_row.get(&number).cloned().unwrap_or_default();
        if only_errors && errors.is_empty() {
            continue;
        }
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let mut row_errors = Vec::new();
        let cells = (0..sheet.headers.len())
            .map(|i| {
                let header = &sheet.headers[i];
                let error = errors
                    .iter()
                    .filter(|e| !e.column.is_empty() && &e.column == header)
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
                    .join(". ");
                SheetCell {
                    value: row.get(i).cloned().unwrap_or_default(),
                    error,
                }
            })
            .collect();
        for e in &errors {
            if e.column.is_empty() || !sheet.headers.contains(&e.column) {
                row_errors.push(e.message.clone());
            }
        }
        all.push(SheetLine {
            number,
            cells,
            row_error: row_errors.join(". "),
            previewed: previewed == Some(number),
            href: String::new(),
        });
    }
    let total = all.len();
    all.truncate(ROWS_SHOWN);
    (all, total)
}

/// The times a job can be sent at: now, then each hour of the next few days, in London time.
fn schedule_times(now_micros: i64, chosen: &str) -> Vec<Choice> {
    let mut out = vec![Choice {
        value: String::new(),
        label: "Now".into(),
        hint: String::new(),
        checked: chosen.is_empty(),
    }];
    let now = DateTime::<Utc>::from_timestamp_micros(now_micros).unwrap_or_default();
    let Some(first) = (now + Duration::hours(1))
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
    else {
        return out;
    };
    let today = now.with_timezone(&London).date_naive();
    for h in 0..(SCHEDULE_DAYS * 24) {
        let at = first + Duration::hours(h);
        let local = at.with_timezone(&London);
        let day = match (local.date_naive() - today).num_days() {
            0 => "Today".to_string(),
            1 => "Tomorrow".to_string(),
            _ => local.format("%A").to_string(),
        };
        let value = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        out.push(Choice {
            checked: value == chosen,
            value,
            label: format!("{day} at {}", local.format("%-I%P")),
            hint: String::new(),
        });
    }
    out
}

/// The check page of an upload: its problems, or the preview and the send button.
async fn check(
    v: &Visit,
    s: &InService,
    t: &Template,
    upload_id: Uuid,
    chosen_time: &str,
    error: Option<String>,
) -> Result<Response, PageError> {
    // Sent already: its job's page.
    if jobs::get_job(&v.app, s.id(), upload_id).is_ok() {
        return Ok(redirect(&job_href(s.id(), upload_id)));
    }
    let sheet = jobs::read_upload(&v.app, s.id(), upload_id).await?;
    if sheet.meta.template_id != t.id {
        return Err(PageError::NotFound);
    }
    let kind = t.template_type;
    let file_name = sheet.meta.original_file_name.clone();
    let recipient_header = sheet
        .headers
        .iter()
        .find(|h| normalise_key(h) == normalise_key(recipient_column(kind)))
        .cloned()
        .unwrap_or_default();
    if !sheet.errors.is_empty() {
        let (lines, total) = lines_of(&sheet, true, None);
        let trial_only = sheet
            .errors
            .iter()
            .all(|e| e.message.starts_with(TRIAL_MODE_PREFIX));
        let problem = if trial_only {
            let n = total;
            let label = recipient_column(kind);
            let plural = match (n, kind) {
                (1, _) => label.to_string(),
                (_, NotificationType::Email) => format!("{label}es"),
                _ => format!("{label}s"),
            };
            SheetProblem {
                title: format!(
                    "You cannot send to {} {plural}",
                    if n == 1 { "this" } else { "these" }
                ),
                paragraphs: vec![
                    "In trial mode you can only send to yourself and members of your team".into(),
                ],
                to_fix: Vec::new(),
            }
        } else {
            let fix = to_fix(&sheet.errors, kind, &recipient_header);
            if fix.len() == 1 {
                SheetProblem {
                    title: format!("There’s a problem with {file_name}"),
                    paragraphs: vec![format!("You need to {}.", fix[0])],
                    to_fix: Vec::new(),
                }
            } else {
                SheetProblem {
                    title: format!("There are some problems with {file_name}"),
                    paragraphs: Vec::new(),
                    to_fix: fix,
                }
            }
        };
        let note = if total > lines.len() {
            format!("Only showing the first {} rows with errors", lines.len())
        } else {
            "Only showing rows with errors".to_string()
        };
        return Ok(check_page_with_problem(
            s,
            t,
            &file_name,
            problem,
            sheet.headers.clone(),
            lines,
            note,
        ));
    }
    let count = sheet.rows.len() as u64;
    // Today's limit, as upstream checks it before offering to send.
    let (used, limit) = v.app.limits.used_today(&v.app.store, &s.service, kind)?;
    if used + count > limit {
        let remaining = limit.saturating_sub(used);
        let mut paragraphs = vec![format!(
            "You can only send {} per day{}.",
            message_count(limit, kind),
            if s.service.restricted {
                " in trial mode"
            } else {
                ""
            }
        )];
        let contains = format!(
            "‘{file_name}’ contains {}.",
            recipient_count(count as usize, kind)
        );
        paragraphs.push(if remaining != limit {
            format!(
                "You can still send {} today, but {contains}",
                message_count(remaining, kind)
            )
        } else {
            contains
        });
        let (lines, _) = lines_of(&sheet, false, None);
        let note = if sheet.rows.len() > ROWS_SHOWN {
            format!("Only showing the first {ROWS_SHOWN} rows")
        } else {
            String::new()
        };
        return Ok(check_page_with_problem(
            s,
            t,
            &file_name,
            SheetProblem {
                title: "Too many recipients".into(),
                paragraphs,
                to_fix: Vec::new(),
            },
            sheet.headers.clone(),
            lines,
            note,
        ));
    }
    let first = sheet.rows.first();
    let previewed = first.map(|r| r.index + 2);
    let (lines, total) = lines_of(&sheet, false, previewed);
    let mut layout = service_layout(
        &format!("Preview of {}", t.name),
        s,
        Section::Templates,
        error.is_some(),
    );
    layout.back_link = Some(upload_action(s, t));
    let now = v.app.store.clock().now_micros();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(html(
        status,
        &CheckPage {
            layout,
            file_name,
            problem: None,
            upload_action: upload_action(s, t),
            file_error: None,
            headers: sheet.headers.clone(),
            table_note: if total > lines.len() {
                format!("Only showing the first {} rows", lines.len())
            } else {
                String::new()
            },
            lines,
            preview: first.map(|r| preview(&s.service, t, &r.personalisation, &r.recipient)),
            template_name: t.name.clone(),
            start_action: format!("/services/{}/start-job/{upload_id}", s.id()),
            times: schedule_times(now, chosen_time),
            button: format!("Send {}", message_count(count, kind)),
            error,
        },
    ))
}

async fn get_check(
    service_id: String,
    template_id: String,
    upload_id: String,
    v: Visit,
) -> Response {
    let s = match enter(&v, &service_id, SEND) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = match sendable(&v, &s, &template_id) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let Ok(upload_id) = Uuid::parse_str(&upload_id) else {
        return PageError::NotFound.into_response();
    };
    respond(check(&v, &s, &t, upload_id, "", None).await)
}

async fn post_start(service_id: String, upload_id: String, v: Visit, body: Bytes) -> Response {
    let s = match enter(&v, &service_id, SEND) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Ok(upload_id) = Uuid::parse_str(&upload_id) else {
        return PageError::NotFound.into_response();
    };
    let form = Form::parse(&body);
    if !csrf_matches(&form.get("csrf_token"), &s.session.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    let chosen = form.get("scheduled_for");
    let scheduled_for = if chosen.is_empty() {
        None
    } else {
        match DateTime::parse_from_rfc3339(&chosen) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => return PageError::NotFound.into_response(),
        }
    };
    let new = NewJob {
        id: upload_id,
        scheduled_for,
        created_by: Some(s.session.person.user.id),
    };
    match jobs::create_job(&v.app, &s.actor, s.id(), new).await {
        Ok(job) => redirect(&job_href(s.id(), job.id)),
        // Started already (a second click): its page.
        Err(e) if e.code() == Code::Conflict => redirect(&job_href(s.id(), upload_id)),
        // Refused for what the person can fix (a time now past...): said on the check page.
        Err(e) if e.code() == Code::Invalid => {
            let message = e.refusal().unwrap_or_default().to_string();
            let template = jobs::read_upload(&v.app, s.id(), upload_id)
                .await
                .map(|u| u.meta.template_id);
            let t = match template {
                Ok(id) => match sendable(&v, &s, &id.to_string()) {
                    Ok(t) => t,
                    Err(r) => return *r,
                },
                Err(e) => return PageError::from(e).into_response(),
            };
            respond(check(&v, &s, &t, upload_id, &chosen, Some(message)).await)
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

// ---- jobs ----

/// Counts of a job's messages: delivering, delivered, failed.
fn counts(by_status: &BTreeMap<&'static str, u64>) -> (u64, u64, u64) {
    let (mut sending, mut delivered, mut failed) = (0, 0, 0);
    for (status, n) in by_status {
        if matches!(*status, "delivered" | "sent") {
            delivered += n;
        } else if web::activity::status_is_error(status) {
            failed += n;
        } else {
            sending += n;
        }
    }
    (sending, delivered, failed)
}

/// The names of templates, looked up once per page.
struct TemplateNames<'a> {
    v: &'a Visit,
    service_id: Uuid,
    known: HashMap<Uuid, (String, NotificationType)>,
}

impl TemplateNames<'_> {
    fn of(&mut self, id: Uuid) -> (String, NotificationType) {
        let (v, service_id) = (self.v, self.service_id);
        self.known
            .entry(id)
            .or_insert_with(|| {
                crate::domain::templates::get_template(&v.app.store, service_id, id)
                    .map(|t| (t.name, t.template_type))
                    .unwrap_or((String::new(), NotificationType::Email))
            })
            .clone()
    }
}

fn page_number(q: &HashMap<String, String>) -> usize {
    q.get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

async fn get_jobs(service_id: String, v: Visit) -> Response {
    let s = match enter(&v, &service_id, SEE) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    redirect(&format!("/services/{}/uploads", s.id()))
}

async fn get_uploads(service_id: String, q: HashMap<String, String>, v: Visit) -> Response {
    let s = match enter(&v, &service_id, SEE) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    respond(uploads(&v, &s, page_number(&q)))
}

fn uploads(v: &Visit, s: &InService, page: usize) -> Result<Response, PageError> {
    let mut all: Vec<Job> = jobs::service_jobs(&v.app, s.id(), None)?
        .into_iter()
        .filter(|j| j.status != JobStatus::Cancelled && !j.archived)
        .collect();
    // Scheduled jobs first, soonest first; then the rest, newest first (as listed).
    all.sort_by_key(|j| match (j.status, j.scheduled_for) {
        (JobStatus::Scheduled, Some(at)) => (0, at),
        _ => (1, 0),
    });
    let now = v.app.store.clock().now_micros();
    let may_send = s.may(SEND);
    let mut names = TemplateNames {
        v,
        service_id: s.id(),
        known: HashMap::new(),
    };
    let start = (page - 1).saturating_mul(ROWS_SHOWN);
    let mut rows = Vec::new();
    for j in all.iter().skip(start).take(ROWS_SHOWN) {
        let (template_name, kind) = names.of(j.template_id);
        let scheduled = j.status == JobStatus::Scheduled;
        let (sending, delivered, failed) = if scheduled {
            (0, 0, 0)
        } else {
            counts(&jobs::job_statistics(&v.app, j)?)
        };
        let hint = match (scheduled, j.scheduled_for) {
            (true, Some(at)) => format!("Sending {}", when(at, now)),
            (_, at) => format!("Sent {}", when(at.unwrap_or(j.created_at), now)),
        };
        rows.push(JobRow {
            href: job_href(s.id(), j.id),
            file_name: j.original_file_name.clone(),
            template_name,
            hint,
            scheduled,
            waiting: format!(
                "{} waiting to send",
                message_count(u64::from(j.notification_count), kind)
            ),
            sending,
            delivered,
            failed,
            cancel_href: (scheduled && may_send)
                .then(|| format!("{}/cancel", job_href(s.id(), j.id))),
        });
    }
    // Contact lists and uploaded letters on the first page only (the pages page the jobs).
    let (contact_lists, letters) = if page == 1 {
        let lists = crate::domain::contact_lists::list(&v.app, s.id())?
            .into_iter()
            .map(|l| ContactListRow {
                href: format!("/services/{}/contact-list/{}", s.id(), l.id),
                hint: format!("Uploaded {}", when(l.created_at, now)),
                count: recipient_count(l.row_count as usize, l.template_type),
                file_name: l.original_file_name,
            })
            .collect();
        let letters = jobs::uploaded_letters(&v.app, s.id(), ROWS_SHOWN)?
            .into_iter()
            .map(|n| UploadedLetterRow {
                href: format!("/services/{}/notification/{}", s.id(), n.id),
                name: n
                    .client_reference
                    .clone()
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| "Letter".into()),
                recipient: n.to.lines().next().unwrap_or_default().to_string(),
                hint: format!("Uploaded {}", when(n.created_at, now)),
                status: web::activity::status_wording(n.status.as_str(), "letter").to_string(),
            })
            .collect();
        (lists, letters)
    } else {
        (Vec::new(), Vec::new())
    };
    let base = format!("/services/{}/uploads", s.id());
    Ok(ok(&UploadsPage {
        layout: service_layout("Uploads", s, Section::Uploads, false),
        contact_list_upload_href: may_send
            .then(|| format!("/services/{}/upload-contact-list", s.id())),
        contact_lists,
        letters,
        jobs: rows,
        previous_href: (page > 1).then(|| format!("{base}?page={}", page - 1)),
        next_href: (all.len() > start + ROWS_SHOWN).then(|| format!("{base}?page={}", page + 1)),
    }))
}

/// The job of the URL, if it is this service's and not cancelled (a cancelled job's page is
/// gone, as upstream).
fn job_of(v: &Visit, s: &InService, job_id: &str) -> Result<Job, PageError> {
    let id = Uuid::parse_str(job_id).map_err(|_| PageError::NotFound)?;
    let job = jobs::get_job(&v.app, s.id(), id)?;
    if job.status == JobStatus::Cancelled {
        return Err(PageError::NotFound);
    }
    Ok(job)
}

async fn get_job(
    service_id: String,
    job_id: String,
    q: HashMap<String, String>,
    v: Visit,
) -> Response {
    let s = match enter(&v, &service_id, SEE) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    respond(job_page(&v, &s, &job_id, page_number(&q)))
}

fn job_page(v: &Visit, s: &InService, job_id: &str, page: usize) -> Result<Response, PageError> {
    let job = job_of(v, s, job_id)?;
    let now = v.app.store.clock().now_micros();
    let mut names = TemplateNames {
        v,
        service_id: s.id(),
        known: HashMap::new(),
    };
    let (template_name, kind) = names.of(job.template_id);
    let who = uploader_name(v, job.created_by);
    let on = |micros: i64| {
        let w = when(micros, now);
        if w.starts_with(|c: char| c.is_ascii_digit()) {
            format!("on {w}")
        } else {
            w
        }
    };
    let scheduled = job.status == JobStatus::Scheduled;
    let status_line = if scheduled {
        format!("Uploaded by {who} {}", on(job.created_at))
    } else {
        format!(
            "Sent by {who} {}",
            on(job.processing_started.unwrap_or(job.created_at))
        )
    };
    let limit_error = (job.status == JobStatus::SendingLimitsExceeded).then(|| {
        let (_, limit) = v
            .app
            .limits
            .used_today(&v.app.store, &s.service, kind)
            .unwrap_or((0, 0));
        format!(
            "Notify cannot send these messages because you have reached your daily limit. You can only send {} per day.",
            message_count(limit, kind)
        )
    });
    let path = job_href(s.id(), job.id);
    let mut layout = service_layout(&job.original_file_name, s, Section::Uploads, false);
    layout.back_link = Some(format!("/services/{}/uploads", s.id()));
    if scheduled {
        return Ok(ok(&JobPage {
            layout,
            status_line,
            limit_error,
            scheduled: Some(format!(
                "Sending ‘{template_name}’ {}",
                job.scheduled_for
                    .map(|at| when(at, now))
                    .unwrap_or_default()
            )),
            cancel_href: s.may(SEND).then(|| format!("{path}/cancel")),
            template_name,
            total: u64::from(job.notification_count),
            sending: 0,
            delivered: 0,
            failed: 0,
            in_progress: false,
            progress: String::new(),
            messages: Vec::new(),
            refresh_href: path,
            next_href: None,
            previous_href: None,
        }));
    }
    let (sending, delivered, failed) = counts(&jobs::job_statistics(&v.app, &job)?);
    let creating = matches!(job.status, JobStatus::Pending | JobStatus::InProgress);
    let progress = if creating {
        let done =
            u64::from(job.notifications_sent) * 100 / u64::from(job.notification_count.max(1));
        format!("Report is {done}% complete…")
    } else if sending > 0 {
        "Messages are still being delivered.".to_string()
    } else {
        String::new()
    };
    let start = (page - 1).saturating_mul(ROWS_SHOWN);
    let (total_rows, rows) = jobs::job_notifications(&v.app, &job, start, ROWS_SHOWN)?;
    let messages = rows
        .into_iter()
        .map(|r| {
            let status = r.status.as_str();
            JobMessage {
                href: format!("/services/{}/notification/{}", s.id(), r.id),
                to: r.to,
                row: r.row as usize + 2,
                status: web::activity::status_wording(status, r.notification_type.as_str())
                    .to_string(),
                error: web::activity::status_is_error(status),
            }
        })
        .collect();
    Ok(ok(&JobPage {
        layout,
        status_line,
        limit_error,
        scheduled: None,
        cancel_href: None,
        template_name,
        total: u64::from(job.notification_count),
        sending,
        delivered,
        failed,
        in_progress: creating || sending > 0,
        progress,
        messages,
        refresh_href: if page > 1 {
            format!("{path}?page={page}")
        } else {
            path.clone()
        },
        previous_href: (page > 1).then(|| format!("{path}?page={}", page - 1)),
        next_href: (total_rows as usize > start + ROWS_SHOWN)
            .then(|| format!("{path}?page={}", page + 1)),
    }))
}

async fn get_cancel(service_id: String, job_id: String, v: Visit) -> Response {
    let s = match enter(&v, &service_id, SEND) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let job = match job_of(&v, &s, &job_id) {
        Ok(j) => j,
        Err(e) => return e.into_response(),
    };
    let path = job_href(s.id(), job.id);
    if job.status != JobStatus::Scheduled {
        return redirect(&path);
    }
    let mut layout = service_layout(
        "Are you sure you want to cancel sending these messages?",
        &s,
        Section::Uploads,
        false,
    );
    layout.back_link = Some(path.clone());
    ok(&CancelJobPage {
        question: layout.title.clone(),
        layout,
        action: format!("{path}/cancel"),
        job_href: path,
    })
}

async fn post_cancel(service_id: String, job_id: String, v: Visit, body: Bytes) -> Response {
    let s = match enter(&v, &service_id, SEND) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let form = Form::parse(&body);
    if !csrf_matches(&form.get("csrf_token"), &s.session.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    let Ok(id) = Uuid::parse_str(&job_id) else {
        return PageError::NotFound.into_response();
    };
    match jobs::cancel_job(&v.app, &s.actor, s.id(), id).await {
        Ok(_) => redirect(&format!("/services/{}/uploads", s.id())),
        // Started meanwhile (or not scheduled): its page says how it is going.
        Err(e) if e.code() == Code::NotFound && jobs::get_job(&v.app, s.id(), id).is_ok() => {
            redirect(&job_href(s.id(), id))
        }
        Err(e) => *refusal(e),
    }
}

/// The routes of sending from a spreadsheet and of jobs.
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let v = visit(app);
    let body = crate::server::bodies::bytes;
    let query = warp::query::<HashMap<String, String>>;
    let upload_get = warp::path!("services" / String / "send" / String / "csv")
        .and(warp::get())
        .and(v.clone())
        .then(get_upload);
    let upload_post = warp::path!("services" / String / "send" / String / "csv")
        .and(warp::post())
        .and(v.clone())
        // The edge enforces the sheet upload limit (`server.bodies.sheet_upload_kib`).
        .and(warp::multipart::form().max_length(None))
        .then(post_upload);
    let example = warp::path!("services" / String / "send" / String)
        .and(warp::get())
        .and(v.clone())
        .then(get_example);
    let check_get = warp::path!("services" / String / String / "check" / String)
        .and(warp::get())
        .and(v.clone())
        .then(get_check);
    let start = warp::path!("services" / String / "start-job" / String)
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_start);
    let jobs_list = warp::path!("services" / String / "jobs")
        .and(warp::get())
        .and(v.clone())
        .then(get_jobs);
    let uploads_list = warp::path!("services" / String / "uploads")
        .and(warp::get())
        .and(query())
        .and(v.clone())
        .then(get_uploads);
    let job = warp::path!("services" / String / "jobs" / String)
        .and(warp::get())
        .and(query())
        .and(v.clone())
        .then(get_job);
    let cancel_get = warp::path!("services" / String / "jobs" / String / "cancel")
        .and(warp::get())
        .and(v.clone())
        .then(get_cancel);
    let cancel_post = warp::path!("services" / String / "jobs" / String / "cancel")
        .and(warp::post())
        .and(v)
        .and(body())
        .then(post_cancel);
    upload_get
        .or(upload_post)
        .unify()
        .or(example)
        .unify()
        .or(check_get)
        .unify()
        .or(start)
        .unify()
        .boxed()
        .or(jobs_list)
        .unify()
        .or(uploads_list)
        .unify()
        .or(job)
        .unify()
        .or(cancel_get)
        .unify()
        .or(cancel_post)
        .unify()
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording_follows_upstream() {
        assert_eq!(
            recipient_count(1, NotificationType::Email),
            "1 email address"
        );
        assert_eq!(
            recipient_count(3, NotificationType::Email),
            "3 email addresses"
        );
        assert_eq!(recipient_count(2, NotificationType::Sms), "2 phone numbers");
        assert_eq!(message_count(1, NotificationType::Email), "1 email");
        assert_eq!(message_count(20, NotificationType::Sms), "20 text messages");
        assert_eq!(quoted_list(&["a".into()], "and"), "‘a’");
        assert_eq!(
            quoted_list(&["a".into(), "b".into(), "c".into()], "and"),
            "‘a’, ‘b’ and ‘c’"
        );
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
    }

    #[test]
    fn row_errors_are_summed_up_by_kind() {
        let e = |row: usize, column: &str, message: &str| RowError {
            row,
            column: column.into(),
            message: message.into(),
        };
        let errors = [
            e(3, "email address", "Not a valid email address"),
            e(5, "email address", "Not a valid email address"),
            e(5, "name", "Missing name"),
            e(
                7,
                "",
                "Content for template has a character count greater than the limit: too long",
            ),
        ];
        assert_eq!(
            to_fix(&errors, NotificationType::Email, "email address"),
            [
                "fix 2 email addresses",
                "enter missing data in 1 row",
                "shorten the message in 1 row"
            ]
        );
    }

    #[test]
    fn missing_columns_are_said_as_upstream_says_them() {
        let p = column_problem(
            &SheetError::MissingColumns(vec!["name".into()]),
            NotificationType::Email,
            &["email address".into()],
        );
        assert_eq!(
            p.title,
            "Your column names need to match the double brackets in your template"
        );
        assert_eq!(
            p.paragraphs,
            ["Your file is missing a column called ‘name’."]
        );
        let p = column_problem(
            &SheetError::MissingColumns(vec!["email address".into()]),
            NotificationType::Email,
            &["mail".into(), "name".into()],
        );
        assert_eq!(p.title, "There’s a problem with your column names");
        assert_eq!(
            p.paragraphs,
            [
                "Your file needs a column called ‘email address’.",
                "Right now it has columns called ‘mail’ and ‘name’."
            ]
        );
    }

    #[test]
    fn times_start_now_then_each_hour() {
        // 2026-12-07 15:40 UTC (London is on GMT in December).
        let now = 1_796_656_800_000_000 + 20 * 60 * 1_000_000;
        let times = schedule_times(now, "");
        assert_eq!(times[0].label, "Now");
        assert!(times[0].checked);
        assert_eq!(times.len(), 1 + 4 * 24);
        assert!(times[1].value.ends_with(":00:00Z"), "{}", times[1].value);
        assert!(
            times[1].label.starts_with("Today at "),
            "{}",
            times[1].label
        );
    }
}
