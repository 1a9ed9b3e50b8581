//! Bulk sends in the internal API (workers.md §8). Sheets are sent as the raw request body
//! (CSV, or a spreadsheet named by `original_file_name`) or as `multipart/form-data` with a
//! `file` field.
//!
//! - `POST /service/{id}/job/upload?template_id=&original_file_name=[&sender_id=][&contact_list_id=]`:
//!   check a sheet (or a saved contact list) against a template and keep it; answers the upload
//!   id, the row count, `valid`, and every row error (row number, column, message);
//! - `POST /service/{id}/job` `{"id": upload id, "scheduled_for"?, "created_by"?}`: the job;
//! - `GET /service/{id}/job[?page=&page_size=&contact_list_id=]`: the service's jobs, newest
//!   first, with counts by status (jobs sent from a contact list are listed under that list);
//! - `GET /service/{id}/job/{job_id}`, `GET /service/{id}/job/{job_id}/notifications`;
//! - `POST /service/{id}/job/{job_id}/cancel` (scheduled jobs),
//!   `POST /service/{id}/job/{job_id}/cancel-letter-job` (§8.3);
//! - `POST|GET /service/{id}/contact-list`, `GET|DELETE /service/{id}/contact-list/{list_id}`;
//! - `GET /service/{id}/upload[?page=&page_size=]`: the uploads view — jobs, contact lists (each
//!   with its jobs grouped under it) and uploaded letters, newest first.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use storage::records::{ContactList, Job, NotificationType};
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::multipart::FormData;
use warp::reply::Response;

use super::access::Caller;
use super::{Auth, Routes, data, done, json_body, no_content, parse_body, raw_query};
use crate::app::App;
use crate::domain::Context;
use crate::domain::contact_lists::{self, NewContactList, Saved};
use crate::domain::jobs::{self, NewJob, NewUpload, Upload};
use crate::domain::recipient_sheet::RowError;
use crate::error::{AppError, json_response};

const DEFAULT_PAGE_SIZE: usize = 50;

fn query_map(raw: &str) -> HashMap<String, String> {
    form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

fn uuid_arg(q: &HashMap<String, String>, name: &str) -> Result<Option<Uuid>, AppError> {
    match q.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => Uuid::parse_str(v)
            .map(Some)
            .map_err(|_| AppError::BadRequest(format!("{name} is not a valid id: {v}"))),
    }
}

fn page_args(q: &HashMap<String, String>) -> Result<(usize, usize), AppError> {
    let number =
        |name: &str, default: usize| match q.get(name) {
            None => Ok(default),
            Some(v) => v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                AppError::BadRequest(format!("{name} must be a positive whole number"))
            }),
        };
    Ok((number("page", 1)?, number("page_size", DEFAULT_PAGE_SIZE)?))
}

/// Upstream's `links` of a page: `prev` and `next` where there are such pages.
fn page_links(path: &str, page: usize, page_size: usize, total: usize) -> Value {
    let mut links = serde_json::Map::new();
    if page > 1 {
        links.insert("prev".into(), json!(format!("{path}?page={}", page - 1)));
    }
    if page.saturating_mul(page_size) < total {
        links.insert("next".into(), json!(format!("{path}?page={}", page + 1)));
    }
    Value::Object(links)
}

/// One page of `items` with upstream's paging fields.
fn paged(items: Vec<Value>, page: usize, page_size: usize, path: &str, key: &str) -> Value {
    let total = items.len();
    let page_items: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(page_size))
        .take(page_size)
        .collect();
    let links = page_links(path, page, page_size, total);
    json!({ key: page_items, "page_size": page_size, "total": total, "links": links })
}

fn ts(micros: Option<i64>) -> Value {
    micros.map_or(Value::Null, |m| json!(format_api_timestamp(m)))
}

fn row_errors_json(errors: &[RowError]) -> Value {
    json!(
        errors
            .iter()
            .map(|e| json!({"row": e.row, "column": e.column, "message": e.message}))
            .collect::<Vec<_>>()
    )
}

pub fn upload_json(u: &Upload) -> Value {
    json!({
        "id": u.meta.id,
        "template_id": u.meta.template_id,
        "template_version": u.meta.template_version,
        "original_file_name": u.meta.original_file_name,
        "notification_count": u.meta.notification_count,
        "valid": u.meta.valid,
        "sender_id": u.meta.sender_id,
        "contact_list_id": u.meta.contact_list_id,
        "errors": row_errors_json(&u.errors),
    })
}

pub fn job_json(cx: &Context, job: &Job) -> Result<Value, AppError> {
    let template = cx
        .store
        .read()?
        .get_template_version(job.template_id, job.template_version)?;
    let statistics: Vec<Value> = jobs::job_statistics(cx, job)?
        .into_iter()
        .map(|(status, count)| json!({"status": status, "count": count}))
        .collect();
    Ok(json!({
        "id": job.id,
        "service": job.service_id,
        "template": job.template_id,
        "template_version": job.template_version,
        "template_name": template.as_ref().map(|t| t.name.clone()),
        "template_type": template.as_ref().map(|t| t.template_type.as_str()),
        "original_file_name": job.original_file_name,
        "notification_count": job.notification_count,
        "rows_processed": job.notifications_sent,
        "job_status": job.status.as_str(),
        "created_at": format_api_timestamp(job.created_at),
        "scheduled_for": ts(job.scheduled_for),
        "processing_started": ts(job.processing_started),
        "processing_finished": ts(job.processing_finished),
        "contact_list_id": job.contact_list_id,
        "sender_id": job.sender_id,
        "created_by": job.created_by.map(|id| json!({"id": id})),
        "archived": job.archived,
        "statistics": statistics,
    }))
}

fn contact_list_json(app: &App, list: &ContactList) -> Result<Value, AppError> {
    let jobs = jobs::service_jobs(app, list.service_id, Some(list.id))?;
    let week_ago = app.store.clock().now_micros() - 7 * 86_400_000_000;
    Ok(json!({
        "id": list.id,
        "service_id": list.service_id,
        "original_file_name": list.original_file_name,
        "row_count": list.row_count,
        "template_type": list.template_type.as_str(),
        "created_at": format_api_timestamp(list.created_at),
        "created_by": list.created_by.map(|id| json!({"id": id})),
        "has_jobs": !jobs.is_empty(),
        "recent_job_count": jobs.iter().filter(|j| j.created_at >= week_ago).count(),
    }))
}

/// A sheet sent as the body or as the `file` field of a form, with the form's file name.
enum Sheet {
    Raw(Bytes),
    Form(FormData),
}

async fn read_sheet(sheet: Sheet) -> Result<(Bytes, Option<String>), AppError> {
    match sheet {
        Sheet::Raw(b) => Ok((b, None)),
        Sheet::Form(mut form) => {
            let bad = |e: warp::Error| AppError::BadRequest(format!("Invalid form: {e}"));
            while let Some(part) = form.try_next().await.map_err(bad)? {
                if part.name() != "file" {
                    continue;
                }
                let name = part.filename().map(str::to_string);
                let mut buf = BytesMut::new();
                let mut stream = part.stream();
                while let Some(chunk) = stream.try_next().await.map_err(bad)? {
                    use bytes::Buf;
                    buf.extend_from_slice(chunk.chunk());
                }
                return Ok((buf.freeze(), name));
            }
            Err(AppError::BadRequest(
                "The form has no file: send the sheet in a field named file".into(),
            ))
        }
    }
}

async fn upload(
    service_id: Uuid,
    raw_query: String,
    sheet: Sheet,
    app: Caller,
) -> Result<Response, AppError> {
    let q = query_map(&raw_query);
    let template_id = uuid_arg(&q, "template_id")?
        .ok_or_else(|| AppError::BadRequest("template_id is required".into()))?;
    let (body, form_name) = read_sheet(sheet).await?;
    let original_file_name = q
        .get("original_file_name")
        .cloned()
        .or(form_name)
        .unwrap_or_else(|| "upload.csv".into());
    let new = NewUpload {
        template_id,
        original_file_name,
        sender_id: uuid_arg(&q, "sender_id")?,
        contact_list_id: uuid_arg(&q, "contact_list_id")?,
    };
    let upload = jobs::upload_sheet(&app, service_id, new, body).await?;
    Ok(data(StatusCode::CREATED, upload_json(&upload)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateJob {
    id: Uuid,
    #[serde(default)]
    scheduled_for: Option<String>,
    #[serde(default)]
    created_by: Option<Uuid>,
}

/// `2026-12-01T09:00:00`, with or without fractions and a zone (no zone: UTC, as upstream).
fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, AppError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    Err(AppError::BadRequest(format!(
        "scheduled_for is not a date and time: {text}"
    )))
}

async fn create(service_id: Uuid, body: Bytes, app: Caller) -> Result<Response, AppError> {
    let req: CreateJob = parse_body(&body)?;
    let scheduled_for = req
        .scheduled_for
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(parse_time)
        .transpose()?;
    let job = jobs::create_job(
        &app,
        &app.actor,
        service_id,
        NewJob {
            id: req.id,
            scheduled_for,
            created_by: req.created_by,
        },
    )
    .await?;
    Ok(data(StatusCode::CREATED, job_json(&app, &job)?))
}

fn list(service_id: Uuid, raw_query: &str, app: &App) -> Result<Response, AppError> {
    let q = query_map(raw_query);
    let (page, page_size) = page_args(&q)?;
    let found = jobs::service_jobs(app, service_id, uuid_arg(&q, "contact_list_id")?)?;
    let items = found
        .iter()
        .map(|j| job_json(app, j))
        .collect::<Result<Vec<_>, _>>()?;
    let path = format!("/service/{service_id}/job");
    Ok(json_response(
        StatusCode::OK,
        &paged(items, page, page_size, &path, "data"),
    ))
}

fn one(service_id: Uuid, job_id: Uuid, app: &App) -> Result<Response, AppError> {
    let job = jobs::get_job(app, service_id, job_id)?;
    Ok(data(StatusCode::OK, job_json(app, &job)?))
}

fn notifications(
    service_id: Uuid,
    job_id: Uuid,
    raw_query: &str,
    app: &App,
) -> Result<Response, AppError> {
    let q = query_map(raw_query);
    let (page, page_size) = page_args(&q)?;
    let job = jobs::get_job(app, service_id, job_id)?;
    let reader = app.store.read()?;
    let total = reader.job_row_count(job.id)? as usize;
    // Rows are keyed by row number: skip to the page by walking the links, not the rows.
    let links = reader.job_rows(job.id, 0, page.saturating_mul(page_size))?;
    let root = crate::api::root_url(app, None, crate::server::Scheme::Http);
    let mut items = Vec::new();
    for (_, id) in links.iter().skip((page - 1) * page_size) {
        if let Some(n) = reader.get_notification(*id)? {
            items.push(crate::api::notifications::notification_json(
                &n,
                &root,
                &app.config.sending,
            ));
        } else if let Some(h) = reader.get_notification_history(*id)? {
            items.push(json!({
                "id": h.id,
                "job_row_number": h.job_row_number,
                "status": h.status.as_str(),
                "created_at": format_api_timestamp(h.created_at),
                "archived": true,
            }));
        }
    }
    let path = format!("/service/{service_id}/job/{job_id}/notifications");
    let links = page_links(&path, page, page_size, total);
    Ok(json_response(
        StatusCode::OK,
        &json!({"notifications": items, "page_size": page_size, "total": total, "links": links}),
    ))
}

async fn cancel(service_id: Uuid, job_id: Uuid, app: Caller) -> Result<Response, AppError> {
    let job = jobs::cancel_job(&app, &app.actor, service_id, job_id).await?;
    Ok(data(StatusCode::OK, job_json(&app, &job)?))
}

async fn cancel_letters(service_id: Uuid, job_id: Uuid, app: Caller) -> Result<Response, AppError> {
    let cancelled = jobs::cancel_letter_job(&app, &app.actor, service_id, job_id).await?;
    Ok(json_response(StatusCode::OK, &json!(cancelled)))
}

async fn save_list(
    service_id: Uuid,
    raw_query: String,
    sheet: Sheet,
    app: Caller,
) -> Result<Response, AppError> {
    let q = query_map(&raw_query);
    let template_type = q
        .get("template_type")
        .and_then(|t| NotificationType::parse(t))
        .ok_or_else(|| AppError::BadRequest("template_type must be email or sms".into()))?;
    let (body, form_name) = read_sheet(sheet).await?;
    let new = NewContactList {
        original_file_name: q
            .get("original_file_name")
            .cloned()
            .or(form_name)
            .unwrap_or_else(|| "contact-list.csv".into()),
        template_type,
        created_by: uuid_arg(&q, "created_by")?,
    };
    match contact_lists::save(&app, &app.actor, service_id, new, body).await? {
        Saved::List(list) => Ok(data(StatusCode::CREATED, contact_list_json(&app, &list)?)),
        Saved::Invalid(errors) => Ok(json_response(
            StatusCode::BAD_REQUEST,
            &json!({
                "result": "error",
                "message": "The contact list has rows that cannot be used",
                "errors": row_errors_json(&errors),
            }),
        )),
    }
}

fn lists(service_id: Uuid, app: &App) -> Result<Response, AppError> {
    let items = contact_lists::list(app, service_id)?
        .iter()
        .map(|l| contact_list_json(app, l))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(data(StatusCode::OK, json!(items)))
}

fn one_list(service_id: Uuid, id: Uuid, app: &App) -> Result<Response, AppError> {
    let list = contact_lists::get(app, service_id, id)?;
    Ok(data(StatusCode::OK, contact_list_json(app, &list)?))
}

/// The uploads view: jobs not sent from a list, each contact list (its jobs grouped under it),
/// and letters uploaded as PDFs, newest first.
fn uploads(service_id: Uuid, raw_query: &str, app: &App) -> Result<Response, AppError> {
    let q = query_map(raw_query);
    let (page, page_size) = page_args(&q)?;
    let mut entries: Vec<(i64, Value)> = Vec::new();
    for job in jobs::service_jobs(app, service_id, None)? {
        let mut j = job_json(app, &job)?;
        j["upload_type"] = json!("job");
        entries.push((job.scheduled_for.unwrap_or(job.created_at), j));
    }
    for list in contact_lists::list(app, service_id)? {
        let mut l = contact_list_json(app, &list)?;
        l["upload_type"] = json!("contact_list");
        l["jobs"] = json!(
            jobs::service_jobs(app, service_id, Some(list.id))?
                .iter()
                .map(|j| job_json(app, j))
                .collect::<Result<Vec<_>, _>>()?
        );
        entries.push((list.created_at, l));
    }
    for n in jobs::uploaded_letters(app, service_id, usize::MAX)? {
        entries.push((
            n.created_at,
            json!({
                "id": n.id,
                "upload_type": "letter",
                "original_file_name": n.client_reference,
                "recipient": n.to,
                "status": n.status.as_str(),
                "created_at": format_api_timestamp(n.created_at),
                "notification_count": 1,
            }),
        ));
    }
    entries.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let items = entries.into_iter().map(|(_, v)| v).collect();
    let path = format!("/service/{service_id}/upload");
    Ok(json_response(
        StatusCode::OK,
        &paged(items, page, page_size, &path, "data"),
    ))
}

/// A sheet from a form, or else from the raw body.
fn sheet() -> impl Filter<Extract = (Sheet,), Error = warp::Rejection> + Clone {
    warp::multipart::form()
        // The edge enforces `server.bodies.sheet_upload_kib` (100 MiB by default).
        .max_length(None)
        .map(Sheet::Form)
        .or(crate::server::bodies::bytes().map(Sheet::Raw))
        .unify()
        // No body at all (sending to a saved contact list needs none).
        .or(warp::header::optional::<String>("content-length")
            .and(warp::header::optional::<String>("transfer-encoding"))
            .and_then(
                |length: Option<String>, chunked: Option<String>| async move {
                    match (length, chunked) {
                        (None, None) => Ok(Sheet::Raw(Bytes::new())),
                        _ => Err(warp::reject()),
                    }
                },
            ))
        .unify()
}

pub fn routes(auth: Auth) -> Routes {
    let upload = warp::path!("service" / Uuid / "job" / "upload")
        .and(warp::post())
        .and(auth.clone())
        .and(raw_query())
        .and(sheet())
        .and_then(|sid, app, q, sheet| async move { done(upload(sid, q, sheet, app).await) });
    let create = warp::path!("service" / Uuid / "job")
        .and(warp::post())
        .and(auth.clone())
        .and(json_body())
        .and_then(|sid, app, body| async move { done(create(sid, body, app).await) });
    let list = warp::path!("service" / Uuid / "job")
        .and(warp::get())
        .and(raw_query())
        .and(auth.clone())
        .and_then(|sid, q: String, app: Caller| async move { done(list(sid, &q, &app)) });
    let one = warp::path!("service" / Uuid / "job" / Uuid)
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid, jid, app: Caller| async move { done(one(sid, jid, &app)) });
    let notes = warp::path!("service" / Uuid / "job" / Uuid / "notifications")
        .and(warp::get())
        .and(raw_query())
        .and(auth.clone())
        .and_then(|sid, jid, q: String, app: Caller| async move {
            done(notifications(sid, jid, &q, &app))
        });
    let cancel = warp::path!("service" / Uuid / "job" / Uuid / "cancel")
        .and(warp::post())
        .and(auth.clone())
        .and_then(|sid, jid, app| async move { done(cancel(sid, jid, app).await) });
    let cancel_letters = warp::path!("service" / Uuid / "job" / Uuid / "cancel-letter-job")
        .and(warp::post())
        .and(auth.clone())
        .and_then(|sid, jid, app| async move { done(cancel_letters(sid, jid, app).await) });
    let save_list = warp::path!("service" / Uuid / "contact-list")
        .and(warp::post())
        .and(auth.clone())
        .and(raw_query())
        .and(sheet())
        .and_then(|sid, app, q, sheet| async move { done(save_list(sid, q, sheet, app).await) });
    let lists = warp::path!("service" / Uuid / "contact-list")
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid, app: Caller| async move { done(lists(sid, &app)) });
    let one_list = warp::path!("service" / Uuid / "contact-list" / Uuid)
        .and(warp::get())
        .and(auth.clone())
        .and_then(|sid, id, app: Caller| async move { done(one_list(sid, id, &app)) });
    let delete_list = warp::path!("service" / Uuid / "contact-list" / Uuid)
        .and(warp::delete())
        .and(auth.clone())
        .and_then(|sid, id, app: Caller| async move {
            done(
                contact_lists::delete(&app, &app.actor, sid, id)
                    .await
                    .map(|()| no_content())
                    .map_err(AppError::from),
            )
        });
    let uploads = warp::path!("service" / Uuid / "upload")
        .and(warp::get())
        .and(raw_query())
        .and(auth)
        .and_then(|sid, q: String, app: Caller| async move { done(uploads(sid, &q, &app)) });
    upload
        .or(create)
        .unify()
        .or(list)
        .unify()
        .or(one)
        .unify()
        .or(notes)
        .unify()
        .or(cancel)
        .unify()
        .or(cancel_letters)
        .unify()
        .or(save_list)
        .unify()
        .or(lists)
        .unify()
        .or(one_list)
        .unify()
        .or(delete_list)
        .unify()
        .or(uploads)
        .unify()
        .boxed()
}
