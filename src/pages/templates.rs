//! A service's templates: the list (`/services/{id}/templates`, or `/templates/{type}` for one
//! type), one template with its preview (`/templates/{template_id}`), adding one
//! (`/templates/add-{email|sms}`), editing (`/templates/{template_id}/edit`) and deleting
//! (`/templates/{template_id}/delete`, which archives it: messages sent with it keep it), and
//! its history (`/templates/{template_id}/versions`, `/version/{n}`: who changed it and when).
//!
//! Changes go through the domain's `create_template` / `update_template` /
//! `archive_template`, which check `manage_templates` and audit.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};
use storage::records::{NotificationType, Permission, Service, Template};
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use web::template_pages::{MessagePreview, TemplateRow};
use web::{FormErrors, NavItem};

use super::services::{InService, Section, channel_name, enter, refusal, service_layout, when};
use super::session::{Visit, csrf_matches, visit};
use super::{Form, PageError, html, ok, redirect, respond};
use crate::app::App;
use crate::domain::accounts::Need;
use crate::domain::templates::{self as domain, NewTemplate, TemplateUpdate};
use crate::domain::{Code, DomainError};
use crate::templates::placeholders::Personalisation;

/// Upstream's message for a required field left empty.
const CANNOT_BE_EMPTY: &str = "Cannot be empty";

/// How `template` will look with `values` filled in (placeholders without a value show as
/// `((name))`), sent by `service` to `to` (empty: not yet known).
pub fn preview(
    service: &Service,
    template: &Template,
    values: &Map<String, Value>,
    to: &str,
) -> MessagePreview {
    let p = Personalisation::new(values);
    let mut out = MessagePreview {
        kind: template.template_type.as_str().to_string(),
        to: to.to_string(),
        ..MessagePreview::default()
    };
    let subject = template.subject.clone().unwrap_or_default();
    match template.template_type {
        NotificationType::Email => {
            out.from = service.name.clone();
            out.subject = crate::templates::email::render_email_subject(&subject, &p);
            out.html_body = crate::domain::content::email_html(template, values);
        }
        NotificationType::Sms => {
            out.text_body = crate::templates::sms::render_sms_body(&template.content, &p);
            let prefix = service.prefix_sms.then_some(service.name.as_str());
            let delivered =
                crate::templates::sms::render_sms_for_delivery(&template.content, &p, prefix);
            out.fragments = crate::templates::sms::fragment_count(&delivered);
        }
        NotificationType::Letter => {
            out.subject = crate::templates::email::render_letter_subject(&subject, &p);
            out.text_body = crate::templates::email::render_letter_body(&template.content, &p);
        }
    }
    out
}

fn kind_label(t: NotificationType) -> String {
    format!("{} template", channel_name(t))
}

/// The `{template_type}` of a URL ("email", "sms", "letter").
fn parse_kind(text: &str) -> Option<NotificationType> {
    NotificationType::parse(text)
}

// ---- list ----

fn list(v: &Visit, s: &InService, kind: Option<NotificationType>) -> Result<Response, PageError> {
    let templates = domain::list_templates(&v.app.store, s.id(), kind, false)?;
    let base = format!("/services/{}/templates", s.id());
    let mut filters = vec![NavItem {
        label: "All".into(),
        href: base.clone(),
        current: kind.is_none(),
    }];
    for t in NotificationType::ALL {
        filters.push(NavItem {
            label: channel_name(*t).to_string(),
            href: format!("{base}/{}", t.as_str()),
            current: kind == Some(*t),
        });
    }
    let add_links = if s.may(Need::Permission(Permission::ManageTemplates)) {
        NotificationType::ALL
            .iter()
            .map(|t| NavItem {
                label: format!("New {} template", channel_name(*t).to_lowercase()),
                href: format!("{base}/add-{}", t.as_str()),
                current: false,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(ok(&web::template_pages::TemplatesPage {
        layout: service_layout("Templates", s, Section::Templates, false),
        filters,
        templates: templates
            .iter()
            .map(|t| TemplateRow {
                href: format!("{base}/{}", t.id),
                name: t.name.clone(),
                kind: kind_label(t.template_type),
            })
            .collect(),
        add_links,
    }))
}

// ---- one template ----

fn view(v: &Visit, s: &InService, template_id: Uuid) -> Result<Response, PageError> {
    let t = domain::get_template(&v.app.store, s.id(), template_id)?;
    if t.archived || t.hidden {
        return Err(PageError::NotFound);
    }
    let base = format!("/services/{}/templates/{}", s.id(), t.id);
    let can_manage = s.may(Need::Permission(Permission::ManageTemplates));
    let can_send = s.may(Need::MemberWith(Permission::SendMessages));
    let now = v.app.store.clock().now_micros();
    Ok(ok(&web::template_pages::TemplatePage {
        layout: service_layout(&t.name, s, Section::Templates, false),
        name: t.name.clone(),
        kind: kind_label(t.template_type),
        preview: preview(&s.service, &t, &Map::new(), ""),
        send_href: can_send.then(|| format!("/services/{}/send/{}/one-off", s.id(), t.id)),
        upload_href: (can_send && t.template_type != NotificationType::Letter)
            .then(|| format!("/services/{}/send/{}/csv", s.id(), t.id)),
        upload_label: match t.template_type {
            NotificationType::Sms => "phone numbers",
            _ => "email addresses",
        }
        .to_string(),
        edit_href: can_manage.then(|| format!("{base}/edit")),
        delete_href: can_manage.then(|| format!("{base}/delete")),
        version: t.version,
        last_edited: when(t.updated_at.unwrap_or(t.created_at), now),
        versions_href: (t.version > 1).then(|| format!("{base}/versions")),
        letter_href: (t.template_type == NotificationType::Letter).then(|| base.clone()),
    }))
}

// ---- a letter template as it will print ----

enum LetterFile {
    Pdf,
    FirstPagePng,
}

/// Resolution of the first-page image on a letter template's page.
const PREVIEW_DPI: f64 = 96.0;

/// `GET /services/{id}/templates/{template_id}.pdf` and `.png` (upstream's addresses): a letter
/// template rendered as it will print, dated today, with the service's contact block and the
/// placeholders (the address lines among them) showing, as the whole PDF or its first page.
async fn letter_file(
    v: &Visit,
    s: &InService,
    template_id: &str,
    file: LetterFile,
) -> Result<Response, PageError> {
    let id = Uuid::parse_str(template_id).map_err(|_| PageError::NotFound)?;
    let t = domain::get_template(&v.app.store, s.id(), id)?;
    if t.archived || t.hidden || t.template_type != NotificationType::Letter {
        return Err(PageError::NotFound);
    }
    let empty = Map::new();
    let p = Personalisation::new(&empty);
    let subject =
        crate::templates::email::render_letter_subject(t.subject.as_deref().unwrap_or(""), &p);
    let body = crate::templates::email::render_letter_body(&t.content, &p);
    let contact = crate::domain::sending::letter_contact_block(&s.service, &t);
    let address: Vec<String> = (1..=6)
        .map(|n| format!("((address line {n}))"))
        .chain(std::iter::once("((postcode))".to_string()))
        .collect();
    let date = crate::domain::facts::london_date(v.app.store.clock().now_micros());
    let rendered = tokio::task::spawn_blocking(move || {
        let letter =
            crate::letters::render::render_letter(&crate::letters::render::LetterContent {
                address_lines: &address,
                contact_block: contact.as_deref(),
                date,
                subject: &subject,
                body: &body,
                language: Default::default(),
                logo: None,
            })
            .map_err(|e| e.to_string())?;
        match file {
            LetterFile::Pdf => Ok((letter.pdf, "application/pdf")),
            LetterFile::FirstPagePng => first_page_png(&letter.pdf).map(|png| (png, "image/png")),
        }
    })
    .await
    .map_err(|e| PageError::Internal(e.to_string()))?
    .map_err(PageError::Internal)?;
    let (bytes, mime) = rendered;
    Ok(warp::http::Response::builder()
        .header("content-type", mime)
        .header("cache-control", "no-store")
        .body(bytes.into())
        .unwrap_or_default())
}

/// A PDF's first page as a PNG.
fn first_page_png(pdf: &[u8]) -> Result<Vec<u8>, String> {
    let raster = crate::letters::raster::Rasteriser::open(pdf).map_err(|e| e.to_string())?;
    let page = raster
        .render(0, PREVIEW_DPI, &[])
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, page.width, page.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(&page.rgb)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

// ---- versions ----

/// Versions on one page of the list, as upstream.
const VERSIONS_PAGE_SIZE: usize = 25;

/// One version as upstream's history shows it: what happened, when, by whom, and the preview.
fn version_view(
    v: &Visit,
    s: &InService,
    t: &Template,
    linked: bool,
) -> Result<web::template_pages::VersionView, PageError> {
    let now = v.app.store.clock().now_micros();
    let author = domain::author(&v.app.store, t)?;
    let (what, at) = if t.version > 1 {
        let what = if t.archived { "Deleted" } else { "Edit made" };
        (what, t.updated_at.unwrap_or(t.created_at))
    } else {
        ("Created", t.created_at)
    };
    let base = format!("/services/{}/templates/{}", s.id(), t.id);
    Ok(web::template_pages::VersionView {
        heading: format!("Version {}: {}", t.version, t.name),
        href: linked.then(|| format!("{base}/version/{}", t.version)),
        hint: format!("{what} {} by {}", when(at, now), author.name),
        preview_html: web::template_pages::PreviewFragment::html(
            preview(&s.service, t, &Map::new(), ""),
            &format!("v{}", t.version),
        ),
    })
}

fn versions(
    v: &Visit,
    s: &InService,
    template_id: Uuid,
    page: usize,
) -> Result<Response, PageError> {
    let all = domain::template_versions(&v.app.store, s.id(), template_id)?;
    if all.first().is_none_or(|t| t.hidden) {
        return Err(PageError::NotFound);
    }
    let pages = all.len().div_ceil(VERSIONS_PAGE_SIZE).max(1);
    let page = page.clamp(1, pages);
    let base = format!("/services/{}/templates/{template_id}", s.id());
    let shown = all
        .iter()
        .skip((page - 1) * VERSIONS_PAGE_SIZE)
        .take(VERSIONS_PAGE_SIZE)
        .map(|t| version_view(v, s, t, true))
        .collect::<Result<Vec<_>, _>>()?;
    let href = |p: usize| format!("{base}/versions?page={p}");
    Ok(ok(&web::template_pages::TemplateVersionsPage {
        layout: service_layout("Previous versions", s, Section::Templates, false),
        back_href: base.clone(),
        versions: shown,
        previous_href: (page > 1).then(|| href(page - 1)),
        next_href: (page < pages).then(|| href(page + 1)),
    }))
}

fn one_version(
    v: &Visit,
    s: &InService,
    template_id: Uuid,
    version: u32,
) -> Result<Response, PageError> {
    let t = domain::get_template_version(&v.app.store, s.id(), template_id, version)?;
    if t.hidden {
        return Err(PageError::NotFound);
    }
    let view = version_view(v, s, &t, false)?;
    Ok(ok(&web::template_pages::TemplateVersionsPage {
        layout: service_layout(&view.heading, s, Section::Templates, false),
        back_href: format!("/services/{}/templates/{template_id}/versions", s.id()),
        versions: vec![view],
        previous_href: None,
        next_href: None,
    }))
}

async fn get_versions(
    service_id: String,
    template_id: String,
    query: std::collections::HashMap<String, String>,
    v: Visit,
) -> Response {
    let s = match enter(&v, &service_id, Need::Member) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let page = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1);
    match Uuid::parse_str(&template_id) {
        Ok(id) => respond(versions(&v, &s, id, page)),
        Err(_) => PageError::NotFound.into_response(),
    }
}

async fn get_version(service_id: String, template_id: String, version: u32, v: Visit) -> Response {
    let s = match enter(&v, &service_id, Need::Member) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match Uuid::parse_str(&template_id) {
        Ok(id) => respond(one_version(&v, &s, id, version)),
        Err(_) => PageError::NotFound.into_response(),
    }
}

async fn get_templates_part(service_id: String, part: String, v: Visit) -> Response {
    if let Some(kind) = part.strip_prefix("add-") {
        return get_add(service_id, kind.to_string(), v).await;
    }
    let s = match enter(&v, &service_id, Need::Member) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if let Some(kind) = parse_kind(&part) {
        return respond(list(&v, &s, Some(kind)));
    }
    if let Some(id) = part.strip_suffix(".pdf") {
        return respond(letter_file(&v, &s, id, LetterFile::Pdf).await);
    }
    if let Some(id) = part.strip_suffix(".png") {
        return respond(letter_file(&v, &s, id, LetterFile::FirstPagePng).await);
    }
    match Uuid::parse_str(&part) {
        Ok(id) => respond(view(&v, &s, id)),
        Err(_) => PageError::NotFound.into_response(),
    }
}

async fn get_templates(service_id: String, v: Visit) -> Response {
    match enter(&v, &service_id, Need::Member) {
        Ok(s) => respond(list(&v, &s, None)),
        Err(r) => *r,
    }
}

// ---- add and edit ----

/// What the form posted.
struct Typed {
    name: String,
    subject: String,
    content: String,
}

impl Typed {
    fn from(form: &Form) -> Typed {
        Typed {
            name: form.get("name"),
            subject: form.get("subject"),
            content: form.raw("template_content"),
        }
    }

    /// How the message being written will look (empty while there is nothing to show).
    fn preview_html(&self, s: &InService, kind: NotificationType) -> String {
        if self.content.trim().is_empty() && self.subject.trim().is_empty() {
            return String::new();
        }
        let draft = Template {
            id: Uuid::nil(),
            service_id: s.id(),
            name: self.name.clone(),
            template_type: kind,
            subject: (kind != NotificationType::Sms).then(|| self.subject.clone()),
            content: self.content.clone(),
            version: 0,
            archived: false,
            hidden: false,
            postage: None,
            letter_contact_id: None,
            created_at: 0,
            updated_at: None,
            created_by: None,
        };
        web::template_pages::PreviewFragment::html(
            preview(&s.service, &draft, &Map::new(), ""),
            "live",
        )
    }

    /// The form's own checks, with upstream's wording.
    fn errors(&self, kind: NotificationType) -> FormErrors {
        let mut errors = FormErrors::default();
        if self.name.is_empty() {
            errors.add("name", CANNOT_BE_EMPTY);
        }
        if kind != NotificationType::Sms && self.subject.is_empty() {
            errors.add("subject", CANNOT_BE_EMPTY);
        }
        if self.content.trim().is_empty() {
            errors.add("template_content", CANNOT_BE_EMPTY);
        }
        errors
    }
}

fn form_page(
    s: &InService,
    title: &str,
    action: String,
    kind: NotificationType,
    typed: &Typed,
    errors: FormErrors,
) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    html(
        status,
        &web::template_pages::TemplateFormPage {
            layout: service_layout(title, s, Section::Templates, !errors.is_empty()),
            action,
            kind: kind.as_str().to_string(),
            name: typed.name.clone(),
            subject: typed.subject.clone(),
            content: typed.content.clone(),
            preview_href: format!("/services/{}/templates/preview/{}", s.id(), kind.as_str()),
            preview_html: typed.preview_html(s, kind),
            errors,
        },
    )
}

/// `POST /services/{id}/templates/preview/{kind}`: the live preview of the template form as
/// it stands (the form posted by `static/preview.js`), as an HTML fragment.
async fn post_preview(service_id: String, kind: String, v: Visit, body: Bytes) -> Response {
    let Some(kind) = parse_kind(&kind) else {
        return PageError::NotFound.into_response();
    };
    let s = match enter(
        &v,
        &service_id,
        Need::Permission(Permission::ManageTemplates),
    ) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let form = Form::parse(&body);
    if !csrf_matches(&form.get("csrf_token"), &s.session.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    warp::Reply::into_response(warp::reply::html(Typed::from(&form).preview_html(&s, kind)))
}

fn add_title(kind: NotificationType) -> String {
    format!("New {} template", channel_name(kind).to_lowercase())
}

/// Every type is written in this form; a letter's postage starts as the service's usual
/// (second class) and its address comes from the recipient.
fn addable(kind: &str) -> Option<NotificationType> {
    parse_kind(kind)
}

async fn get_add(service_id: String, kind: String, v: Visit) -> Response {
    let Some(kind) = addable(&kind) else {
        return PageError::NotFound.into_response();
    };
    let s = match enter(
        &v,
        &service_id,
        Need::Permission(Permission::ManageTemplates),
    ) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let typed = Typed {
        name: String::new(),
        subject: String::new(),
        content: String::new(),
    };
    let action = format!("/services/{}/templates/add-{}", s.id(), kind.as_str());
    form_page(
        &s,
        &add_title(kind),
        action,
        kind,
        &typed,
        FormErrors::default(),
    )
}

/// A domain refusal of the form's values, shown against the message field.
fn refused(e: &DomainError) -> Option<String> {
    matches!(e.code(), Code::Invalid | Code::BadRequest).then(|| {
        e.refusal()
            .map(str::to_string)
            .unwrap_or_else(|| e.to_string())
    })
}

async fn post_add(service_id: String, part: String, v: Visit, body: Bytes) -> Response {
    let Some(kind) = part.strip_prefix("add-").and_then(addable) else {
        return PageError::NotFound.into_response();
    };
    let s = match enter(
        &v,
        &service_id,
        Need::Permission(Permission::ManageTemplates),
    ) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let form = Form::parse(&body);
    if !csrf_matches(&form.get("csrf_token"), &s.session.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    let typed = Typed::from(&form);
    let action = format!("/services/{}/templates/add-{}", s.id(), kind.as_str());
    if form.get("action") == "preview" {
        let errors = FormErrors::default();
        return form_page(&s, &add_title(kind), action, kind, &typed, errors);
    }
    let mut errors = typed.errors(kind);
    if !errors.is_empty() {
        return form_page(&s, &add_title(kind), action, kind, &typed, errors);
    }
    let new = NewTemplate {
        template_type: kind.as_str().to_string(),
        name: typed.name.clone(),
        subject: (kind != NotificationType::Sms).then(|| typed.subject.clone()),
        content: typed.content.clone(),
        ..NewTemplate::default()
    };
    match domain::create_template(&v.app, &s.actor, s.id(), new).await {
        Ok(t) => redirect(&format!("/services/{}/templates/{}", s.id(), t.id)),
        Err(e) => match refused(&e) {
            Some(message) => {
                errors.add("template_content", message);
                form_page(&s, &add_title(kind), action, kind, &typed, errors)
            }
            None => PageError::from(e).into_response(),
        },
    }
}

fn editable(v: &Visit, s: &InService, template_id: &str) -> Result<Template, Box<Response>> {
    let id =
        Uuid::parse_str(template_id).map_err(|_| Box::new(PageError::NotFound.into_response()))?;
    let t = domain::get_template(&v.app.store, s.id(), id).map_err(refusal)?;
    if t.archived || t.hidden {
        return Err(Box::new(PageError::NotFound.into_response()));
    }
    Ok(t)
}

async fn get_edit(service_id: String, template_id: String, v: Visit) -> Response {
    let s = match enter(
        &v,
        &service_id,
        Need::Permission(Permission::ManageTemplates),
    ) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = match editable(&v, &s, &template_id) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let typed = Typed {
        name: t.name.clone(),
        subject: t.subject.clone().unwrap_or_default(),
        content: t.content.clone(),
    };
    let action = format!("/services/{}/templates/{}/edit", s.id(), t.id);
    let title = format!("Edit {}", kind_label(t.template_type).to_lowercase());
    form_page(
        &s,
        &title,
        action,
        t.template_type,
        &typed,
        FormErrors::default(),
    )
}

async fn post_edit(service_id: String, template_id: String, v: Visit, body: Bytes) -> Response {
    let s = match enter(
        &v,
        &service_id,
        Need::Permission(Permission::ManageTemplates),
    ) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = match editable(&v, &s, &template_id) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let form = Form::parse(&body);
    if !csrf_matches(&form.get("csrf_token"), &s.session.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    let typed = Typed::from(&form);
    let kind = t.template_type;
    let action = format!("/services/{}/templates/{}/edit", s.id(), t.id);
    let title = format!("Edit {}", kind_label(kind).to_lowercase());
    if form.get("action") == "preview" {
        return form_page(&s, &title, action, kind, &typed, FormErrors::default());
    }
    let mut errors = typed.errors(kind);
    if !errors.is_empty() {
        return form_page(&s, &title, action, kind, &typed, errors);
    }
    let update = TemplateUpdate {
        name: Some(typed.name.clone()),
        subject: (kind != NotificationType::Sms).then(|| typed.subject.clone()),
        content: Some(typed.content.clone()),
        ..TemplateUpdate::default()
    };
    match domain::update_template(&v.app, &s.actor, s.id(), t.id, update).await {
        Ok(t) => redirect(&format!("/services/{}/templates/{}", s.id(), t.id)),
        Err(e) => match refused(&e) {
            Some(message) => {
                errors.add("template_content", message);
                form_page(&s, &title, action, kind, &typed, errors)
            }
            None => PageError::from(e).into_response(),
        },
    }
}

// ---- delete (archive) ----

async fn get_delete(service_id: String, template_id: String, v: Visit) -> Response {
    let s = match enter(
        &v,
        &service_id,
        Need::Permission(Permission::ManageTemplates),
    ) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = match editable(&v, &s, &template_id) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    ok(&web::template_pages::DeleteTemplatePage {
        layout: service_layout(
            &format!("Delete ‘{}’", t.name),
            &s,
            Section::Templates,
            false,
        ),
        name: t.name.clone(),
        action: format!("/services/{}/templates/{}/delete", s.id(), t.id),
    })
}

async fn post_delete(service_id: String, template_id: String, v: Visit, body: Bytes) -> Response {
    let s = match enter(
        &v,
        &service_id,
        Need::Permission(Permission::ManageTemplates),
    ) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = match editable(&v, &s, &template_id) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let form = Form::parse(&body);
    if !csrf_matches(&form.get("csrf_token"), &s.session.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    match domain::archive_template(&v.app, &s.actor, s.id(), t.id).await {
        Ok(_) => redirect(&format!("/services/{}/templates", s.id())),
        Err(e) => PageError::from(e).into_response(),
    }
}

/// The template pages' routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let v = visit(app);
    let body = crate::server::bodies::bytes;
    let list = warp::path!("services" / String / "templates")
        .and(warp::get())
        .and(v.clone())
        .then(get_templates);
    let part = warp::path!("services" / String / "templates" / String)
        .and(warp::get())
        .and(v.clone())
        .then(get_templates_part);
    let add = warp::path!("services" / String / "templates" / String)
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_add);
    let versions = warp::path!("services" / String / "templates" / String / "versions")
        .and(warp::get())
        .and(warp::query::<std::collections::HashMap<String, String>>())
        .and(v.clone())
        .then(get_versions);
    let version = warp::path!("services" / String / "templates" / String / "version" / u32)
        .and(warp::get())
        .and(v.clone())
        .then(get_version);
    let edit_get = warp::path!("services" / String / "templates" / String / "edit")
        .and(warp::get())
        .and(v.clone())
        .then(get_edit);
    let edit_post = warp::path!("services" / String / "templates" / String / "edit")
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_edit);
    let delete_get = warp::path!("services" / String / "templates" / String / "delete")
        .and(warp::get())
        .and(v.clone())
        .then(get_delete);
    let delete_post = warp::path!("services" / String / "templates" / String / "delete")
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_delete);
    let live_preview = warp::path!("services" / String / "templates" / "preview" / String)
        .and(warp::post())
        .and(v)
        .and(body())
        .then(post_preview);
    // Boxed every few routes: long unboxed chains make type-checking very slow (see http.rs).
    list.or(part)
        .unify()
        .or(add)
        .unify()
        .or(edit_get)
        .unify()
        .or(edit_post)
        .unify()
        .boxed()
        .or(delete_get)
        .unify()
        .or(delete_post)
        .unify()
        .or(versions)
        .unify()
        .or(version)
        .unify()
        .or(live_preview)
        .unify()
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_asks_for_what_each_type_needs() {
        let typed = Typed {
            name: String::new(),
            subject: String::new(),
            content: "  ".into(),
        };
        let email = typed.errors(NotificationType::Email);
        let fields: Vec<_> = email.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "subject", "template_content"]);
        let sms = typed.errors(NotificationType::Sms);
        assert!(sms.on("subject").is_empty());
        assert_eq!(sms.on("name"), CANNOT_BE_EMPTY);
        assert_eq!(addable("email"), Some(NotificationType::Email));
        assert_eq!(addable("letter"), Some(NotificationType::Letter));
        assert_eq!(addable("fax"), None);
    }

    #[test]
    fn previews_show_placeholders_until_filled_and_count_fragments() {
        let service = crate::domain::services::new_service_record("Parking", true, 0)
            .expect("a valid service record");
        let mut t = Template {
            id: Uuid::new_v4(),
            service_id: service.id,
            name: "Reminder".into(),
            template_type: NotificationType::Sms,
            subject: None,
            content: "Hello ((name)), your permit is ready.".into(),
            version: 1,
            archived: false,
            hidden: false,
            postage: None,
            letter_contact_id: None,
            created_at: 0,
            updated_at: None,
            created_by: None,
        };
        let empty = preview(&service, &t, &Map::new(), "");
        assert!(empty.text_body.contains("((name))"), "{}", empty.text_body);
        assert_eq!(empty.fragments, 1);
        let mut values = Map::new();
        values.insert("name".into(), Value::String("Ann".into()));
        let filled = preview(&service, &t, &values, "07700900123");
        assert!(filled.text_body.contains("Hello Ann"));
        assert_eq!(filled.to, "07700900123");
        t.template_type = NotificationType::Email;
        t.subject = Some("Permit for ((name))".into());
        t.content = "Dear ((name))\n\nIt is <b>ready</b>.".into();
        let email = preview(&service, &t, &values, "");
        assert_eq!(email.subject, "Permit for Ann");
        assert_eq!(email.from, "Parking");
        assert!(email.html_body.contains("Dear Ann"));
        assert!(!email.html_body.contains("<b>"), "{}", email.html_body);
    }
}
