//! Saved contact lists, at upstream's URLs: `/services/{id}/upload-contact-list` (a sheet of
//! email addresses or phone numbers, checked and saved in one step: a sheet with bad rows is
//! refused with each row's problem), `/services/{id}/contact-list/{list_id}` (the list, and
//! choosing a template to send to it: the list is copied into an upload and the person lands on
//! the usual check page, then "Send"), and `.../delete`. Saving, sending and deleting go through
//! `domain::contact_lists` and `domain::jobs`, which check and audit them.

use std::sync::Arc;

use bytes::Bytes;
use storage::records::{ContactList, NotificationType, Permission};
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::multipart::FormData;
use warp::reply::Response;
use web::contact_lists::{ContactListDeletePage, ContactListPage, ContactListUploadPage};
use web::{Choice, FormErrors};

use super::jobs::{base_name, read_form, recipient_count, uploader_name};
use super::services::{InService, Section, enter, refusal, service_layout, when};
use super::session::{Visit, csrf_matches, visit};
use super::{Form, PageError, html, ok, redirect, respond};
use crate::app::App;
use crate::domain::Code;
use crate::domain::accounts::Need;
use crate::domain::contact_lists::{self, NewContactList, Saved};
use crate::domain::jobs::{self, NewUpload};
use crate::domain::recipient_sheet;
use crate::domain::templates as domain_templates;

const SEND: Need = Need::MemberWith(Permission::SendMessages);
const SEE: Need = Need::Member;
/// How many refused rows the upload page names (the rest are counted).
const ROW_PROBLEMS_SHOWN: usize = 20;

fn upload_href(service_id: Uuid) -> String {
    format!("/services/{service_id}/upload-contact-list")
}

fn list_href(service_id: Uuid, list_id: Uuid) -> String {
    format!("/services/{service_id}/contact-list/{list_id}")
}

fn upload_page(s: &InService, file_error: Option<String>, row_problems: Vec<String>) -> Response {
    let status = if file_error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut layout = service_layout(
        "Upload an emergency contact list",
        s,
        Section::Uploads,
        file_error.is_some(),
    );
    layout.back_link = Some(format!("/services/{}/uploads", s.id()));
    html(
        status,
        &ContactListUploadPage {
            layout,
            action: upload_href(s.id()),
            file_error,
            row_problems,
        },
    )
}

async fn get_upload(service_id: String, v: Visit) -> Response {
    match enter(&v, &service_id, SEND) {
        Ok(s) => upload_page(&s, None, Vec::new()),
        Err(r) => *r,
    }
}

/// The kind of list a sheet's header row makes: a column called "email address" or "phone
/// number" (written any way upstream accepts: case, spaces, underscores, hyphens).
fn list_kind(headers: &[String]) -> Option<NotificationType> {
    let keys: Vec<String> = headers
        .iter()
        .map(|h| crate::templates::placeholders::normalise_key(h))
        .collect();
    let has = |name: &str| {
        let wanted = crate::templates::placeholders::normalise_key(name);
        keys.contains(&wanted)
    };
    match (has("email address"), has("phone number")) {
        (true, false) => Some(NotificationType::Email),
        (false, true) => Some(NotificationType::Sms),
        _ => None,
    }
}

async fn post_upload(service_id: String, v: Visit, form: FormData) -> Response {
    let s = match enter(&v, &service_id, SEND) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Ok(posted) = read_form(form).await else {
        return upload_page(
            &s,
            Some("The file could not be uploaded: try again".into()),
            Vec::new(),
        );
    };
    if !csrf_matches(&posted.csrf_token, &s.session.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    if posted.file_name.is_empty() || posted.body.is_empty() {
        return upload_page(
            &s,
            Some("You need to choose a file to upload".into()),
            Vec::new(),
        );
    }
    let file_name = base_name(&posted.file_name);
    let unreadable = || {
        upload_page(
            &s,
            Some(format!(
                "Could not read {file_name}. Try using a different file format."
            )),
            Vec::new(),
        )
    };
    let Ok(csv) = jobs::as_csv(&file_name, posted.body.clone()).await else {
        return unreadable();
    };
    let Ok((headers, _)) = recipient_sheet::sheet_cells(&csv) else {
        return unreadable();
    };
    let Some(kind) = list_kind(&headers) else {
        return upload_page(
            &s,
            Some(format!(
                "Your file needs a column called ‘email address’ or ‘phone number’. Right now it has columns called {}.",
                headers
                    .iter()
                    .map(|h| format!("‘{h}’"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Vec::new(),
        );
    };
    let new = NewContactList {
        original_file_name: file_name.clone(),
        template_type: kind,
        created_by: Some(s.session.person.user.id),
    };
    match contact_lists::save(&v.app, &s.actor, s.id(), new, posted.body.clone()).await {
        Ok(Saved::List(list)) => redirect(&list_href(s.id(), list.id)),
        Ok(Saved::Invalid(errors)) => {
            let mut problems: Vec<String> = errors
                .iter()
                .take(ROW_PROBLEMS_SHOWN)
                .map(|e| format!("Row {}: {}", e.row, e.message))
                .collect();
            if errors.len() > ROW_PROBLEMS_SHOWN {
                problems.push(format!(
                    "and {} more rows",
                    errors.len() - ROW_PROBLEMS_SHOWN
                ));
            }
            upload_page(
                &s,
                Some(format!(
                    "There’s a problem with {file_name}: you need to fix {}",
                    recipient_count(errors.len(), kind)
                )),
                problems,
            )
        }
        Err(e) if e.code() == Code::Invalid => upload_page(
            &s,
            Some(e.refusal().unwrap_or_default().to_string()),
            Vec::new(),
        ),
        Err(e) => PageError::from(e).into_response(),
    }
}

fn list_of(v: &Visit, s: &InService, list_id: &str) -> Result<ContactList, PageError> {
    let id = Uuid::parse_str(list_id).map_err(|_| PageError::NotFound)?;
    Ok(contact_lists::get(&v.app, s.id(), id)?)
}

fn list_page(
    v: &Visit,
    s: &InService,
    list: &ContactList,
    chosen: &str,
    errors: FormErrors,
) -> Result<Response, PageError> {
    let now = v.app.store.clock().now_micros();
    let who = uploader_name(v, list.created_by);
    let may_send = s.may(SEND);
    let templates: Vec<Choice> = if may_send {
        domain_templates::list_templates(&v.app.store, s.id(), Some(list.template_type), false)?
            .into_iter()
            .map(|t| Choice {
                checked: t.id.to_string() == chosen,
                value: t.id.to_string(),
                label: t.name,
                hint: String::new(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let kind_name = match list.template_type {
        NotificationType::Sms => "text message",
        _ => "email",
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut layout = service_layout(
        &list.original_file_name,
        s,
        Section::Uploads,
        !errors.is_empty(),
    );
    layout.back_link = Some(format!("/services/{}/uploads", s.id()));
    Ok(html(
        status,
        &ContactListPage {
            layout,
            uploaded: format!("Uploaded by {who} {}", when(list.created_at, now)),
            count: recipient_count(list.row_count as usize, list.template_type),
            send_action: may_send.then(|| format!("{}/send", list_href(s.id(), list.id))),
            no_templates: templates.is_empty().then(|| {
                format!(
                    "You need a {kind_name} template to send to this list. Add one in Templates."
                )
            }),
            templates,
            errors,
            delete_href: may_send.then(|| format!("{}/delete", list_href(s.id(), list.id))),
        },
    ))
}

async fn get_list(service_id: String, list_id: String, v: Visit) -> Response {
    let s = match enter(&v, &service_id, SEE) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    respond(
        list_of(&v, &s, &list_id).and_then(|l| list_page(&v, &s, &l, "", FormErrors::default())),
    )
}

/// A template chosen for the list: the list becomes an upload, checked against the template
/// like any sheet, and the person lands on its check page.
async fn post_send(service_id: String, list_id: String, v: Visit, body: Bytes) -> Response {
    let s = match enter(&v, &service_id, SEND) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let form = Form::parse(&body);
    if !csrf_matches(&form.get("csrf_token"), &s.session.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    let list = match list_of(&v, &s, &list_id) {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let chosen = form.get("template_id");
    let Ok(template_id) = Uuid::parse_str(&chosen) else {
        let mut errors = FormErrors::default();
        errors.add("template_id", "Select a template");
        return respond(list_page(&v, &s, &list, "", errors));
    };
    let new = NewUpload {
        template_id,
        original_file_name: list.original_file_name.clone(),
        sender_id: None,
        contact_list_id: Some(list.id),
    };
    match jobs::upload_sheet(&v.app, s.id(), new, Bytes::new()).await {
        Ok(upload) => redirect(&format!(
            "/services/{}/{template_id}/check/{}",
            s.id(),
            upload.meta.id
        )),
        Err(e) if e.code() == Code::Invalid => {
            let mut errors = FormErrors::default();
            errors.add("template_id", e.refusal().unwrap_or_default().to_string());
            respond(list_page(&v, &s, &list, &chosen, errors))
        }
        Err(e) => *refusal(e),
    }
}

async fn get_delete(service_id: String, list_id: String, v: Visit) -> Response {
    let s = match enter(&v, &service_id, SEND) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let list = match list_of(&v, &s, &list_id) {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let href = list_href(s.id(), list.id);
    ok(&ContactListDeletePage {
        layout: service_layout("Delete contact list", &s, Section::Uploads, false),
        question: format!(
            "Are you sure you want to delete ‘{}’?",
            list.original_file_name
        ),
        action: format!("{href}/delete"),
        back_href: href,
    })
}

async fn post_delete(service_id: String, list_id: String, v: Visit, body: Bytes) -> Response {
    let s = match enter(&v, &service_id, SEND) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let form = Form::parse(&body);
    if !csrf_matches(&form.get("csrf_token"), &s.session.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    let list = match list_of(&v, &s, &list_id) {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    match contact_lists::delete(&v.app, &s.actor, s.id(), list.id).await {
        Ok(()) => redirect(&format!("/services/{}/uploads", s.id())),
        Err(e) => *refusal(e),
    }
}

/// The contact list pages' routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let v = visit(app);
    let body = crate::server::bodies::bytes;
    let upload_get = warp::path!("services" / String / "upload-contact-list")
        .and(warp::get())
        .and(v.clone())
        .then(get_upload);
    let upload_post = warp::path!("services" / String / "upload-contact-list")
        .and(warp::post())
        .and(v.clone())
        // The edge enforces `server.bodies.sheet_upload_kib`.
        .and(warp::multipart::form().max_length(None))
        .then(post_upload);
    let list = warp::path!("services" / String / "contact-list" / String)
        .and(warp::get())
        .and(v.clone())
        .then(get_list);
    let send = warp::path!("services" / String / "contact-list" / String / "send")
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_send);
    let delete_get = warp::path!("services" / String / "contact-list" / String / "delete")
        .and(warp::get())
        .and(v.clone())
        .then(get_delete);
    let delete_post = warp::path!("services" / String / "contact-list" / String / "delete")
        .and(warp::post())
        .and(v)
        .and(body())
        .then(post_delete);
    upload_get
        .or(upload_post)
        .unify()
        .or(list)
        .unify()
        .or(send)
        .unify()
        .boxed()
        .or(delete_get)
        .unify()
        .or(delete_post)
        .unify()
        .boxed()
}
