//! A service's API integration pages, at upstream's URLs: the overview with its message log
//! (`/services/{id}/api`), API keys (`/api/keys`, `/api/keys/create`, `/api/keys/revoke/{key_id}`),
//! callbacks (`/api/callbacks` and one form per kind), the guest list (`/api/guest-list`, and
//! upstream's old `/api/whitelist`) and received text messages (`/services/{id}/inbox`, also
//! `/inbound-sms`).
//!
//! Each page needs what the internal API's row for the same action needs (`manage_api_keys`;
//! creating a key needs it as a member; received texts need `view_activity`) and calls the same
//! domain function, which checks again and records the audit event. A new key's secret is in
//! the one response that creates it and nowhere else.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use storage::clock::format_api_timestamp;
use storage::records::{ApiKey, CallbackKind, KeyType, Notification, Permission};
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use web::FormErrors;
use web::api_integration::{
    ApiIntegrationPage, ApiKeysPage, ApiMessageRow, CallbackFormPage, CallbackRow, CallbacksPage,
    CreateKeyPage, GuestListPage, InboxPage, InboxRow, KeyRow, KeyTypeChoice, ListEntry,
    NewKeyPage, RevokeQuestion,
};

use super::services::{InService, Section, channel_name, enter, service_layout, when};
use super::session::{Visit, csrf_matches, visit};
use super::{Form, PageError, html, ok, redirect, respond};
use crate::app::App;
use crate::domain::accounts::Need;
use crate::domain::api_keys::{self, NewApiKey};
use crate::domain::services::{self, GuestList};
use crate::domain::{Code, DomainError, callbacks, inbound_numbers, recipients};

/// What every page here needs (the internal API's `manage_api_keys` rows).
const MANAGE: Need = Need::Permission(Permission::ManageApiKeys);
/// Creating a key: a member with the permission (platform admins only as such members).
const CREATE: Need = Need::MemberWith(Permission::ManageApiKeys);
/// Received text messages are activity.
const VIEW: Need = Need::Permission(Permission::ViewActivity);

/// The message log shows at most this many messages (upstream's 50)...
const LOG_SIZE: usize = 50;
/// ...found among at most this many of the service's newest messages, read in chunks, so a
/// service that mostly sends from spreadsheets does not make the page read every message.
const LOG_SCAN: usize = 1000;
const LOG_CHUNK: usize = 250;

/// Received text messages on one page.
const INBOX_PAGE: usize = 50;

/// The boxes the guest list form has of each kind (upstream's 5); more when more are stored.
const GUEST_LIST_BOXES: usize = 5;
/// The most boxes a posted guest list form is read for.
const GUEST_LIST_MAX: usize = 100;

/// What the token field holds when a token is set: the token itself is never shown. Posting
/// it back unchanged keeps the stored token (upstream's `dummy_bearer_token`).
const TOKEN_SET: &str = "bearer_token_set";

/// Upstream's label of a key type.
fn key_type_label(t: KeyType) -> &'static str {
    match t {
        KeyType::Normal => "Live – sends to anyone",
        KeyType::Team => "Team and guest list – limits who you can send to",
        KeyType::Test => "Test – pretends to send messages",
    }
}

fn base(s: &InService) -> String {
    format!("/services/{}/api", s.id())
}

fn entered(v: &Visit, service_id: &str, need: Need) -> Result<InService, Box<Response>> {
    enter(v, service_id, need)
}

fn checked_form(s: &InService, body: &Bytes) -> Result<Form, Box<Response>> {
    let form = Form::parse(body);
    if csrf_matches(&form.get("csrf_token"), &s.session.session.csrf_token) {
        Ok(form)
    } else {
        Err(Box::new(PageError::Forbidden.into_response()))
    }
}

fn status_of(errors: &FormErrors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// A domain refusal of what a form sent (shown on the form), or `None` for any other failure.
fn refusal_message(e: &DomainError) -> Option<String> {
    matches!(e.code(), Code::Invalid | Code::BadRequest | Code::Conflict).then(|| {
        e.refusal()
            .map(str::to_string)
            .unwrap_or_else(|| e.to_string())
    })
}

/// Whether the service can receive text messages: it has upstream's `inbound_sms`
/// permission, or a number is assigned to it.
fn receives_texts(v: &Visit, s: &InService) -> Result<(bool, String), PageError> {
    let number = inbound_numbers::inbound_number_for_service(&v.app, s.id())?;
    let permitted = s
        .service
        .permissions
        .iter()
        .any(|p| p == inbound_numbers::INBOUND_SMS);
    Ok((
        permitted || number.is_some(),
        number.map(|n| n.number).unwrap_or_default(),
    ))
}

// ---- /services/{id}/api ----

fn overview(v: &Visit, s: &InService) -> Result<Response, PageError> {
    let store = &v.app.store;
    let names: HashMap<Uuid, String> = api_keys::list_api_keys(store, s.id())?
        .into_iter()
        .map(|k| (k.id, k.name))
        .collect();
    let mut sent: Vec<Notification> = Vec::new();
    {
        let reader = store.read()?;
        let mut cursor = None;
        let mut scanned = 0;
        while scanned < LOG_SCAN && sent.len() < LOG_SIZE {
            let chunk = reader.service_notifications(s.id(), cursor, LOG_CHUNK, |_| true)?;
            let Some(last) = chunk.last() else { break };
            cursor = Some(last.id);
            scanned += chunk.len();
            let no_more = chunk.len() < LOG_CHUNK;
            sent.extend(chunk.into_iter().filter(|n| n.api_key_id.is_some()));
            if no_more {
                break;
            }
        }
    }
    sent.truncate(LOG_SIZE);
    let now = store.clock().now_micros();
    let messages = sent
        .iter()
        .map(|n| {
            let mut fields = vec![("id".to_string(), n.id.to_string())];
            let mut add = |name: &str, value: Option<String>| {
                if let Some(value) = value.filter(|v| !v.is_empty()) {
                    fields.push((name.to_string(), value));
                }
            };
            add("client_reference", n.client_reference.clone());
            add(
                "notification_type",
                Some(n.notification_type.as_str().to_string()),
            );
            add("created_at", Some(format_api_timestamp(n.created_at)));
            add("updated_at", n.updated_at.map(format_api_timestamp));
            add("sent_at", n.sent_at.map(format_api_timestamp));
            add("status", Some(n.status.as_str().to_string()));
            ApiMessageRow {
                id: n.id.to_string(),
                to: n.to.clone(),
                key_name: n
                    .api_key_id
                    .and_then(|k| names.get(&k).cloned())
                    .unwrap_or_default(),
                when: when(n.created_at, now),
                fields,
                view_label: format!("View {}", channel_name(n.notification_type).to_lowercase()),
                href: format!("/services/{}/notification/{}", s.id(), n.id),
            }
        })
        .collect::<Vec<_>>();
    Ok(ok(&ApiIntegrationPage {
        layout: service_layout("API integration", s, Section::Api, false),
        service_id: s.id().to_string(),
        keys_href: format!("{}/keys", base(s)),
        guest_list_href: format!("{}/guest-list", base(s)),
        callbacks_href: format!("{}/callbacks", base(s)),
        refresh_href: base(s),
        capped: messages.len() == LOG_SIZE,
        shown_at_most: LOG_SIZE,
        messages,
    }))
}

async fn get_overview(service_id: String, v: Visit) -> Response {
    match entered(&v, &service_id, MANAGE) {
        Ok(s) => respond(overview(&v, &s)),
        Err(r) => *r,
    }
}

// ---- /services/{id}/api/keys ----

fn keys_page(v: &Visit, s: &InService, revoke: Option<Uuid>) -> Result<Response, PageError> {
    let keys = api_keys::list_api_keys(&v.app.store, s.id())?;
    let question = match revoke {
        Some(id) => {
            let key: ApiKey = api_keys::get_api_key(&v.app.store, s.id(), id)?;
            // A revoked key is only listed: there is nothing left to ask.
            key.expiry_date.is_none().then(|| RevokeQuestion {
                name: key.name.clone(),
                action: format!("{}/keys/revoke/{}", base(s), key.id),
            })
        }
        None => None,
    };
    let now = v.app.store.clock().now_micros();
    let mut layout = service_layout("API keys", s, Section::Api, false);
    layout.back_link = Some(base(s));
    Ok(ok(&ApiKeysPage {
        layout,
        keys: keys
            .iter()
            .map(|k| KeyRow {
                name: k.name.clone(),
                kind: key_type_label(k.key_type).to_string(),
                revoked: k.expiry_date.map(|t| when(t, now)),
                revoke_href: k
                    .expiry_date
                    .is_none()
                    .then(|| format!("{}/keys/revoke/{}", base(s), k.id)),
            })
            .collect(),
        create_href: s.may(CREATE).then(|| format!("{}/keys/create", base(s))),
        revoke: question,
    }))
}

async fn get_keys(service_id: String, v: Visit) -> Response {
    match entered(&v, &service_id, MANAGE) {
        Ok(s) => respond(keys_page(&v, &s, None)),
        Err(r) => *r,
    }
}

// ---- /services/{id}/api/keys/create ----

fn key_types(s: &InService, chosen: &str) -> Vec<KeyTypeChoice> {
    let letters = s.service.permissions.iter().any(|p| p == "letter");
    [KeyType::Normal, KeyType::Team, KeyType::Test]
        .into_iter()
        .map(|t| {
            let live_in_trial = t == KeyType::Normal && s.service.restricted;
            let hint = if live_in_trial {
                "Not available because your service is in trial mode"
            } else if t == KeyType::Team && letters {
                "Cannot be used to send letters"
            } else {
                ""
            };
            KeyTypeChoice {
                value: t.as_str().to_string(),
                label: key_type_label(t).to_string(),
                hint: hint.to_string(),
                checked: t.as_str() == chosen && !live_in_trial,
                disabled: live_in_trial,
            }
        })
        .collect()
}

fn create_form(s: &InService, name: &str, key_type: &str, errors: FormErrors) -> Response {
    let mut layout = service_layout("Create an API key", s, Section::Api, !errors.is_empty());
    layout.back_link = Some(format!("{}/keys", base(s)));
    html(
        status_of(&errors),
        &CreateKeyPage {
            layout,
            action: format!("{}/keys/create", base(s)),
            key_name: name.to_string(),
            key_types: key_types(s, key_type),
            errors,
        },
    )
}

async fn get_create(service_id: String, v: Visit) -> Response {
    match entered(&v, &service_id, CREATE) {
        Ok(s) => create_form(&s, "", "", FormErrors::default()),
        Err(r) => *r,
    }
}

/// The create form's own checks, with upstream's wording: a name not already used by a key
/// still in use (any case), a type, and no live key in trial mode.
fn key_form_errors(name: &str, key_type: &str, restricted: bool, keys: &[ApiKey]) -> FormErrors {
    let mut errors = FormErrors::default();
    if name.is_empty() {
        errors.add("key_name", "Enter a name for this API key");
    } else if keys
        .iter()
        .any(|k| k.expiry_date.is_none() && k.name.to_lowercase() == name.to_lowercase())
    {
        errors.add("key_name", "A key with this name already exists");
    }
    match KeyType::parse(key_type) {
        None => errors.add("key_type", "Select a type of API key"),
        Some(KeyType::Normal) if restricted => errors.add(
            "key_type",
            "Live keys are not available because your service is in trial mode",
        ),
        Some(_) => {}
    }
    errors
}

async fn post_create(service_id: String, v: Visit, body: Bytes) -> Response {
    let s = match entered(&v, &service_id, CREATE) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let form = match checked_form(&s, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let (name, key_type) = (form.get("key_name"), form.get("key_type"));
    let keys = match api_keys::list_api_keys(&v.app.store, s.id()) {
        Ok(k) => k,
        Err(e) => return PageError::from(e).into_response(),
    };
    let mut errors = key_form_errors(&name, &key_type, s.service.restricted, &keys);
    if !errors.is_empty() {
        return create_form(&s, &name, &key_type, errors);
    }
    let new = NewApiKey {
        name: name.clone(),
        key_type: key_type.clone(),
    };
    match api_keys::create_api_key(&v.app, &s.actor, s.id(), new).await {
        Ok(created) => {
            tracing::info!(service_id = %s.id(), key_id = %created.id, "API key created in a page");
            ok(&NewKeyPage {
                layout: service_layout("New API key", &s, Section::Api, false),
                key: created.key,
                keys_href: format!("{}/keys", base(&s)),
            })
        }
        Err(e) => match refusal_message(&e) {
            Some(message) => {
                errors.add("key_name", message);
                create_form(&s, &name, &key_type, errors)
            }
            None => PageError::from(e).into_response(),
        },
    }
}

// ---- /services/{id}/api/keys/revoke/{key_id} ----

async fn get_revoke(service_id: String, key_id: String, v: Visit) -> Response {
    let s = match entered(&v, &service_id, MANAGE) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match Uuid::parse_str(&key_id) {
        Ok(id) => respond(keys_page(&v, &s, Some(id))),
        Err(_) => PageError::NotFound.into_response(),
    }
}

async fn post_revoke(service_id: String, key_id: String, v: Visit, body: Bytes) -> Response {
    let s = match entered(&v, &service_id, MANAGE) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if let Err(r) = checked_form(&s, &body) {
        return *r;
    }
    let Ok(id) = Uuid::parse_str(&key_id) else {
        return PageError::NotFound.into_response();
    };
    match api_keys::revoke_api_key(&v.app, &s.actor, s.id(), id).await {
        Ok(_) => redirect(&format!("{}/keys", base(&s))),
        Err(e) => PageError::from(e).into_response(),
    }
}

// ---- /services/{id}/api/callbacks ----

/// The kinds of callback these pages set: (URL segment, kind, title, what it does).
fn callback_kind(segment: &str) -> Option<(CallbackKind, &'static str, &'static str)> {
    Some(match segment {
        "delivery-status-callback" => (
            CallbackKind::DeliveryStatus,
            "Callbacks for delivery receipts",
            "When you send an email or text message, we can tell you if Notify was able to deliver it.",
        ),
        "received-text-messages-callback" => (
            CallbackKind::InboundSms,
            "Callbacks for received text messages",
            "When you receive a text message in Notify, we can forward it to your system.",
        ),
        _ => return None,
    })
}

/// The service's callback of `kind`, if it has one.
fn existing_callback(
    v: &Visit,
    s: &InService,
    kind: CallbackKind,
) -> Result<Option<storage::records::ServiceCallback>, PageError> {
    match callbacks::get_callback(&v.app.store, s.id(), kind) {
        Ok(cb) => Ok(Some(cb)),
        Err(e) if matches!(e.code(), Code::NotFound | Code::NoResult) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn callbacks_page(v: &Visit, s: &InService) -> Result<Response, PageError> {
    let mut rows = vec![CallbackRow {
        label: "Delivery receipts".into(),
        url: existing_callback(v, s, CallbackKind::DeliveryStatus)?.map(|c| c.url),
        href: format!("{}/callbacks/delivery-status-callback", base(s)),
        hidden_text: "delivery receipts callback settings".into(),
    }];
    if receives_texts(v, s)?.0 {
        rows.push(CallbackRow {
            label: "Received text messages".into(),
            url: existing_callback(v, s, CallbackKind::InboundSms)?.map(|c| c.url),
            href: format!("{}/callbacks/received-text-messages-callback", base(s)),
            hidden_text: "received text messages callback settings".into(),
        });
    }
    let mut layout = service_layout("Callbacks", s, Section::Api, false);
    layout.back_link = Some(base(s));
    Ok(ok(&CallbacksPage { layout, rows }))
}

async fn get_callbacks(service_id: String, v: Visit) -> Response {
    match entered(&v, &service_id, MANAGE) {
        Ok(s) => respond(callbacks_page(&v, &s)),
        Err(r) => *r,
    }
}

fn callback_form(
    s: &InService,
    segment: &str,
    url: &str,
    token: &str,
    errors: FormErrors,
) -> Response {
    let Some((_, title, intro)) = callback_kind(segment) else {
        return PageError::NotFound.into_response();
    };
    let mut layout = service_layout(title, s, Section::Api, !errors.is_empty());
    layout.back_link = Some(format!("{}/callbacks", base(s)));
    html(
        status_of(&errors),
        &CallbackFormPage {
            layout,
            intro: intro.to_string(),
            action: format!("{}/callbacks/{segment}", base(s)),
            url: url.to_string(),
            bearer_token: token.to_string(),
            errors,
        },
    )
}

/// The callback pages of one kind: the service must be able to use it.
fn callback_entry(
    v: &Visit,
    service_id: &str,
    segment: &str,
) -> Result<(InService, CallbackKind), Box<Response>> {
    let s = entered(v, service_id, MANAGE)?;
    let Some((kind, _, _)) = callback_kind(segment) else {
        return Err(Box::new(PageError::NotFound.into_response()));
    };
    if kind == CallbackKind::InboundSms {
        match receives_texts(v, &s) {
            Ok((true, _)) => {}
            Ok((false, _)) => return Err(Box::new(redirect(&base(&s)))),
            Err(e) => return Err(Box::new(e.into_response())),
        }
    }
    Ok((s, kind))
}

async fn get_callback_form(service_id: String, segment: String, v: Visit) -> Response {
    let (s, kind) = match callback_entry(&v, &service_id, &segment) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match existing_callback(&v, &s, kind) {
        Ok(Some(cb)) => callback_form(&s, &segment, &cb.url, TOKEN_SET, FormErrors::default()),
        Ok(None) => callback_form(&s, &segment, "", "", FormErrors::default()),
        Err(e) => e.into_response(),
    }
}

/// The callback form's own checks, with upstream's wording.
fn callback_errors(url: &str, token: &str, allow_http: bool) -> FormErrors {
    let mut errors = FormErrors::default();
    if callbacks::check_url(url, allow_http).is_err() {
        errors.add("url", "Must be a valid https URL");
    }
    if token.is_empty() {
        errors.add("bearer_token", "Cannot be empty");
    } else if token.chars().count() < callbacks::MIN_TOKEN_LEN {
        errors.add(
            "bearer_token",
            format!(
                "The bearer token must be at least {} characters long",
                callbacks::MIN_TOKEN_LEN
            ),
        );
    }
    errors
}

async fn post_callback_form(
    service_id: String,
    segment: String,
    v: Visit,
    body: Bytes,
) -> Response {
    let (s, kind) = match callback_entry(&v, &service_id, &segment) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let form = match checked_form(&s, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let done = redirect(&format!("{}/callbacks", base(&s)));
    let existing = match existing_callback(&v, &s, kind) {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    let url = form.get("url");
    let typed_token = form.get("bearer_token");
    if url.is_empty() {
        // An empty URL removes the callback (or keeps there being none).
        if existing.is_some() {
            if let Err(e) = callbacks::delete_callback(&v.app.store, s.id(), kind).await {
                return PageError::from(e).into_response();
            }
            tracing::info!(service_id = %s.id(), kind = kind.as_str(), "service callback removed in a page");
        }
        return done;
    }
    // The stand-in posted back unchanged keeps the stored token.
    let token = match (&existing, typed_token == TOKEN_SET) {
        (Some(cb), true) => match v.app.sealer.open(&cb.bearer_token_sealed) {
            Ok(plain) => String::from_utf8_lossy(&plain).into_owned(),
            Err(e) => return PageError::Internal(e.to_string()).into_response(),
        },
        _ => typed_token.clone(),
    };
    let allow_http = v.app.config.callbacks.allow_http;
    let mut errors = callback_errors(&url, &token, allow_http);
    if !errors.is_empty() {
        return callback_form(&s, &segment, &url, &typed_token, errors);
    }
    if existing
        .as_ref()
        .is_some_and(|cb| cb.url == url && typed_token == TOKEN_SET)
    {
        return done;
    }
    match callbacks::set_callback(
        &v.app.store,
        &v.app.sealer,
        s.id(),
        kind,
        &url,
        &token,
        allow_http,
    )
    .await
    {
        Ok(_) => {
            tracing::info!(service_id = %s.id(), kind = kind.as_str(), "service callback set in a page");
            done
        }
        Err(e) => match refusal_message(&e) {
            Some(message) => {
                errors.add("url", message);
                callback_form(&s, &segment, &url, &typed_token, errors)
            }
            None => PageError::from(e).into_response(),
        },
    }
}

// ---- /services/{id}/api/guest-list ----

fn boxes(kind: &str, values: &[String], errors: &[(String, String)]) -> Vec<ListEntry> {
    let count = values.len().max(GUEST_LIST_BOXES);
    (1..=count)
        .map(|n| {
            let id = format!("{kind}-{n}");
            ListEntry {
                error: errors
                    .iter()
                    .find(|(field, _)| *field == id)
                    .map(|(_, m)| m.clone())
                    .unwrap_or_default(),
                id,
                number: n,
                value: values.get(n - 1).cloned().unwrap_or_default(),
            }
        })
        .collect()
}

fn guest_list_form(s: &InService, list: &GuestList, errors: FormErrors) -> Response {
    let mut layout = service_layout("Guest list", s, Section::Api, !errors.is_empty());
    layout.back_link = Some(base(s));
    let by_field: Vec<(String, String)> = errors
        .errors
        .iter()
        .map(|e| (e.field.clone(), e.message.clone()))
        .collect();
    html(
        status_of(&errors),
        &GuestListPage {
            layout,
            action: format!("{}/guest-list", base(s)),
            team_href: format!("/services/{}/users", s.id()),
            email_addresses: boxes("email_addresses", &list.email_addresses, &by_field),
            phone_numbers: boxes("phone_numbers", &list.phone_numbers, &by_field),
            errors,
        },
    )
}

async fn get_guest_list(service_id: String, v: Visit) -> Response {
    match entered(&v, &service_id, MANAGE) {
        Ok(s) => {
            let list = services::split_guest_list(&s.service.guest_list);
            guest_list_form(&s, &list, FormErrors::default())
        }
        Err(r) => *r,
    }
}

/// The numbered boxes of one kind as posted, in order (empty boxes kept, so errors and values
/// stay in the box they were typed in).
fn posted_boxes(form: &Form, kind: &str) -> Vec<String> {
    let mut out: Vec<String> = (1..=GUEST_LIST_MAX)
        .map(|n| form.get(&format!("{kind}-{n}")))
        .collect();
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

/// Each box checked on its own, so the error is shown where it was typed.
fn guest_list_errors(list: &GuestList) -> FormErrors {
    let mut errors = FormErrors::default();
    for (i, e) in list.email_addresses.iter().enumerate() {
        if !e.is_empty() && recipients::validate_email_address(e).is_err() {
            errors.add(
                &format!("email_addresses-{}", i + 1),
                "Enter an email address in the correct format, like name@example.gov.uk",
            );
        }
    }
    for (i, p) in list.phone_numbers.iter().enumerate() {
        if !p.is_empty()
            && let Err(e) = recipients::validate_phone_number(p)
        {
            errors.add(&format!("phone_numbers-{}", i + 1), e.to_string());
        }
    }
    errors
}

async fn post_guest_list(service_id: String, v: Visit, body: Bytes) -> Response {
    let s = match entered(&v, &service_id, MANAGE) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let form = match checked_form(&s, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let list = GuestList {
        email_addresses: posted_boxes(&form, "email_addresses"),
        phone_numbers: posted_boxes(&form, "phone_numbers"),
    };
    let mut errors = guest_list_errors(&list);
    if !errors.is_empty() {
        return guest_list_form(&s, &list, errors);
    }
    match services::set_guest_list(&v.app, &s.actor, s.id(), list.clone()).await {
        Ok(_) => redirect(&base(&s)),
        Err(e) => match refusal_message(&e) {
            Some(message) => {
                errors.add("email_addresses-1", message);
                guest_list_form(&s, &list, errors)
            }
            None => PageError::from(e).into_response(),
        },
    }
}

// ---- /services/{id}/inbox ----

fn inbox(v: &Visit, s: &InService, query: &HashMap<String, String>) -> Result<Response, PageError> {
    let (can_receive, number) = receives_texts(v, s)?;
    let title = if can_receive {
        "Received text messages"
    } else {
        "Receive text messages"
    };
    let mut layout = service_layout(title, s, Section::Dashboard, false);
    layout.back_link = Some(format!("/services/{}", s.id()));
    let older_than = query
        .get("older_than")
        .and_then(|t| Uuid::parse_str(t).ok());
    let received = if can_receive {
        v.app
            .store
            .read()?
            .service_inbound_sms(s.id(), older_than, INBOX_PAGE)?
    } else {
        Vec::new()
    };
    let now = v.app.store.clock().now_micros();
    let older_href = (received.len() == INBOX_PAGE)
        .then(|| received.last())
        .flatten()
        .map(|m| format!("/services/{}/inbox?older_than={}", s.id(), m.id));
    Ok(ok(&InboxPage {
        layout,
        can_receive,
        number,
        messages: received
            .iter()
            .map(|m| InboxRow {
                from: m.user_number.clone(),
                content: m.content.clone(),
                when: when(m.provider_date.unwrap_or(m.created_at), now),
            })
            .collect(),
        older_href,
    }))
}

async fn get_inbox(service_id: String, query: HashMap<String, String>, v: Visit) -> Response {
    match entered(&v, &service_id, VIEW) {
        Ok(s) => respond(inbox(&v, &s, &query)),
        Err(r) => *r,
    }
}

/// The API integration pages' routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let v = visit(app);
    let body = crate::server::bodies::bytes;
    let overview = warp::path!("services" / String / "api")
        .and(warp::get())
        .and(v.clone())
        .then(get_overview);
    let keys = warp::path!("services" / String / "api" / "keys")
        .and(warp::get())
        .and(v.clone())
        .then(get_keys);
    let create_get = warp::path!("services" / String / "api" / "keys" / "create")
        .and(warp::get())
        .and(v.clone())
        .then(get_create);
    let create_post = warp::path!("services" / String / "api" / "keys" / "create")
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_create);
    let revoke_get = warp::path!("services" / String / "api" / "keys" / "revoke" / String)
        .and(warp::get())
        .and(v.clone())
        .then(get_revoke);
    let revoke_post = warp::path!("services" / String / "api" / "keys" / "revoke" / String)
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_revoke);
    let callbacks = warp::path!("services" / String / "api" / "callbacks")
        .and(warp::get())
        .and(v.clone())
        .then(get_callbacks);
    let callback_get = warp::path!("services" / String / "api" / "callbacks" / String)
        .and(warp::get())
        .and(v.clone())
        .then(get_callback_form);
    let callback_post = warp::path!("services" / String / "api" / "callbacks" / String)
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_callback_form);
    // Upstream's old name of the guest list is still a URL it answers.
    let guest_list_path = warp::path!("services" / String / "api" / "guest-list")
        .or(warp::path!("services" / String / "api" / "whitelist"))
        .unify();
    let guest_list_get = guest_list_path
        .and(warp::get())
        .and(v.clone())
        .then(get_guest_list);
    let guest_list_post = guest_list_path
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_guest_list);
    let inbox = warp::path!("services" / String / "inbox")
        .or(warp::path!("services" / String / "inbound-sms"))
        .unify()
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(v)
        .then(get_inbox);
    overview
        .or(keys)
        .unify()
        .or(create_get)
        .unify()
        .or(create_post)
        .unify()
        .or(revoke_get)
        .unify()
        .boxed()
        .or(revoke_post)
        .unify()
        .or(callbacks)
        .unify()
        .or(callback_get)
        .unify()
        .or(callback_post)
        .unify()
        .or(guest_list_get)
        .unify()
        .boxed()
        .or(guest_list_post)
        .unify()
        .or(inbox)
        .unify()
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, revoked: bool) -> ApiKey {
        ApiKey {
            id: Uuid::new_v4(),
            service_id: Uuid::new_v4(),
            name: name.into(),
            key_type: KeyType::Team,
            secret_sealed: vec![],
            created_at: 0,
            expiry_date: revoked.then_some(1),
        }
    }

    #[test]
    fn the_create_form_asks_as_upstream() {
        let e = key_form_errors("", "", false, &[]);
        assert_eq!(e.on("key_name"), "Enter a name for this API key");
        assert_eq!(e.on("key_type"), "Select a type of API key");
        let keys = [key("Live one", false), key("Old", true)];
        let e = key_form_errors("live ONE", "team", false, &keys);
        assert_eq!(e.on("key_name"), "A key with this name already exists");
        assert!(key_form_errors("old", "test", false, &keys).is_empty());
        let e = key_form_errors("new", "normal", true, &keys);
        assert!(e.on("key_type").contains("trial mode"));
        assert!(key_form_errors("new", "normal", false, &keys).is_empty());
    }

    #[test]
    fn callbacks_need_an_https_url_and_a_long_enough_token() {
        let e = callback_errors("http://example.gov.uk/cb", "short", false);
        assert_eq!(e.on("url"), "Must be a valid https URL");
        assert_eq!(
            e.on("bearer_token"),
            "The bearer token must be at least 10 characters long"
        );
        assert_eq!(
            callback_errors("https://example.gov.uk", "", false).on("bearer_token"),
            "Cannot be empty"
        );
        assert!(callback_errors("https://example.gov.uk/cb", "0123456789", false).is_empty());
    }

    #[test]
    fn guest_list_errors_stay_with_their_box() {
        let list = GuestList {
            email_addresses: vec!["".into(), "not an address".into()],
            phone_numbers: vec!["07700 900123".into(), "12".into()],
        };
        let e = guest_list_errors(&list);
        let fields: Vec<_> = e.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email_addresses-2", "phone_numbers-2"]);
        let b = boxes("email_addresses", &list.email_addresses, &[]);
        assert_eq!(b.len(), GUEST_LIST_BOXES);
        assert_eq!(b[1].value, "not an address");
        assert_eq!(b[4].id, "email_addresses-5");
    }
}
