//! A service's settings, at the admin app's URLs: the summary (`/services/{id}/service-settings`)
//! and the pages its links lead to — the service name (`/service-settings/name`), reply-to
//! email addresses (`/service-settings/email-reply-to`), text message senders
//! (`/service-settings/sms-sender`), letter contact blocks (`/service-settings/letter-contacts`),
//! sending emails, texts or letters on or off (`/service-settings/set-{email|sms|letter}`),
//! making the service live (`/service-settings/switch-live`) and data retention per channel
//! (`/services/{id}/data-retention`).
//!
//! Who may do what is the internal API's (`admin::route_table`), checked by the same domain
//! functions, which also audit: the summary and the sender lists for members who manage the
//! service or its API keys (as upstream); changing the name and the sender entries for
//! `manage_service`; sending channels, live status and data retention for platform admins only
//! (our domain keeps what a service is allowed to do with them).
//!
//! Upstream sends a test email to a new reply-to address and waits for it to arrive before it
//! saves the address; the domain here has no such check, so an address is saved as typed (once
//! it is a valid email address).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;
use storage::records::{LetterContact, NotificationType, Permission, ReplyTo, Service, SmsSender};
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use web::settings::{
    BlankItem, NamePage, OnOffPage, RetentionFormPage, RetentionPage, SenderFormPage, SenderItem,
    SendersPage, SettingsPage, SummaryRow, SummarySection,
};
use web::{ButtonForm, Choice, FormErrors, Layout};

use super::done::Done;
use super::services::{InService, Section, enter, service_layout};
use super::session::{Visit, csrf_matches, visit};
use super::{Form, PageError, html, ok, redirect, respond};
use crate::app::App;
use crate::domain::accounts::Need;
use crate::domain::services::{
    self, LetterContactBody, ReplyToBody, ServiceUpdate, SmsSenderBody, live_entries,
};
use crate::domain::{Code, DomainError, inbound_numbers, retention};

const MANAGE: Need = Need::Permission(Permission::ManageService);

/// Upstream's bounds on a retention period chosen in the admin app.
const RETENTION_DAYS: std::ops::RangeInclusive<u32> = 3..=90;

/// Upstream's longest service name (so the email From header stays under 320 characters).
const MAX_NAME_CHARS: usize = 143;

fn settings_href(id: Uuid) -> String {
    format!("/services/{id}/service-settings")
}

fn layout(title: &str, s: &InService, errors: bool, back: Option<String>) -> Layout {
    let mut l = service_layout(title, s, Section::Settings, errors);
    l.back_link = back;
    l
}

fn status_of(errors: &FormErrors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// The posted form, when its CSRF token is the session's.
fn form_of(s: &InService, body: &[u8]) -> Result<Form, PageError> {
    let form = Form::parse(body);
    if csrf_matches(&form.get("csrf_token"), &s.session.session.csrf_token) {
        Ok(form)
    } else {
        Err(PageError::Forbidden)
    }
}

/// Let in whoever may see the settings: upstream's members who manage the service or its API
/// keys (and platform admins).
fn enter_settings(v: &Visit, service_id: &str) -> Result<InService, Box<Response>> {
    let s = enter(v, service_id, Need::Member)?;
    if s.may(MANAGE) || s.may(Need::Permission(Permission::ManageApiKeys)) {
        Ok(s)
    } else {
        Err(Box::new(PageError::Forbidden.into_response()))
    }
}

/// A domain refusal of what was typed (shown on the form), or `None` for anything else.
fn refused(e: &DomainError) -> Option<String> {
    matches!(e.code(), Code::Invalid | Code::BadRequest | Code::Conflict)
        .then(|| e.refusal().map_or_else(|| e.to_string(), str::to_string))
}

fn has(service: &Service, permission: &str) -> bool {
    service.permissions.iter().any(|p| p == permission)
}

/// Upstream's lower-case channel name: "email", "text message", "letter".
fn channel_lower(t: NotificationType) -> &'static str {
    match t {
        NotificationType::Email => "email",
        NotificationType::Sms => "text message",
        NotificationType::Letter => "letter",
    }
}

// ---- the summary ----

fn more_hint(count: usize) -> String {
    if count > 1 {
        format!("…and {} more", count - 1)
    } else {
        String::new()
    }
}

fn summary(v: &Visit, s: &InService) -> Result<Response, PageError> {
    let svc = &s.service;
    let id = s.id();
    let base = settings_href(id);
    let manage = s.may(MANAGE);
    let admin = s.may(Need::PlatformAdmin);
    let on_off = |p: &str| if has(svc, p) { "On" } else { "Off" };
    let maybe = |row: SummaryRow, allowed: bool, href: String, hidden: &str| {
        if allowed {
            row.with_action(href, "Change", hidden)
        } else {
            row
        }
    };

    let (_, settings) = retention::list_settings(&v.app.store, id)?;
    let default_days = v.app.config.retention.default_days;
    let days: Vec<(NotificationType, u32)> = NotificationType::ALL
        .iter()
        .map(|t| {
            let d = settings
                .iter()
                .find(|r| r.notification_type == *t)
                .map_or(default_days, |r| r.days_of_retention);
            (*t, d)
        })
        .collect();
    let mut retention_row = SummaryRow::new("Data retention period", "");
    retention_row.lines = if days.iter().all(|(_, d)| *d == days[0].1) {
        vec![format!("{} days", days[0].1)]
    } else {
        days.iter()
            .map(|(t, d)| format!("{} – {d} days", super::services::channel_name(*t)))
            .collect()
    };
    let general = vec![
        maybe(
            SummaryRow::new("Service name", svc.name.clone()),
            manage,
            format!("{base}/name"),
            "service name",
        ),
        maybe(
            retention_row,
            admin,
            format!("/services/{id}/data-retention"),
            "data retention",
        ),
    ];

    let reply_to = live_entries(&svc.email_reply_to);
    let mut reply_row = SummaryRow::new(
        "Reply-to email addresses",
        reply_to
            .first()
            .map_or("Not set".to_string(), |r| r.email_address.clone()),
    )
    .with_action(
        format!("{base}/email-reply-to"),
        "Manage",
        "reply-to email addresses",
    );
    reply_row.muted = reply_to.is_empty();
    reply_row.hint = more_hint(reply_to.len());
    let email = vec![
        maybe(
            SummaryRow::new("Send emails", on_off("email")),
            admin,
            format!("{base}/set-email"),
            "your settings for sending emails",
        ),
        reply_row,
    ];

    let mut sms = vec![maybe(
        SummaryRow::new("Send text messages", on_off("sms")),
        admin,
        format!("{base}/set-sms"),
        "your settings for sending text messages",
    )];
    if has(svc, "sms") {
        let senders = live_entries(&svc.sms_senders);
        let mut row = SummaryRow::new(
            "Text message sender IDs",
            senders
                .first()
                .map_or("None".to_string(), |r| r.sms_sender.clone()),
        )
        .with_action(
            format!("{base}/sms-sender"),
            "Manage",
            "text message sender IDs",
        );
        row.hint = more_hint(senders.len());
        sms.push(row);
        sms.push(SummaryRow::new(
            "Start text messages with service name",
            if svc.prefix_sms { "On" } else { "Off" },
        ));
        let number = inbound_numbers::inbound_number_for_service(&v.app, id)?;
        let mut row = SummaryRow::new("Receive text messages", on_off("inbound_sms"));
        if let Some(n) = number {
            row.hint = format!("Inbound number: {}", n.number);
        }
        sms.push(row);
    }

    let mut letter = vec![maybe(
        SummaryRow::new("Send letters", on_off("letter")),
        admin,
        format!("{base}/set-letter"),
        "your settings for sending letters",
    )];
    if has(svc, "letter") {
        let blocks = live_entries(&svc.letter_contacts);
        let mut row = SummaryRow::new("Sender addresses", "").with_action(
            format!("{base}/letter-contacts"),
            "Manage",
            "sender addresses",
        );
        row.lines = match blocks.iter().find(|b| b.is_default) {
            Some(b) => b.contact_block.lines().map(str::to_string).collect(),
            None if !blocks.is_empty() => vec!["Blank".to_string()],
            None => vec!["Not set".to_string()],
        };
        row.muted = blocks.iter().all(|b| !b.is_default);
        row.hint = more_hint(blocks.len());
        letter.push(row);
    }

    let section = |heading: &str, rows| SummarySection {
        heading: heading.to_string(),
        heading_hidden: heading == "General",
        rows,
    };
    let admin_rows = if admin {
        vec![
            SummaryRow::new("Live", if svc.restricted { "Off" } else { "On" }).with_action(
                format!("{base}/switch-live"),
                "Change",
                "service status",
            ),
        ]
    } else {
        Vec::new()
    };
    let mut page_layout = layout("Settings", s, false, None);
    page_layout.banner = v.done_banner();
    Ok(ok(&SettingsPage {
        layout: page_layout,
        sections: vec![
            section("General", general),
            section("Email settings", email),
            section("Text message settings", sms),
            section("Letter settings", letter),
        ],
        live: !svc.restricted,
        admin_rows,
    }))
}

async fn get_settings(service_id: String, v: Visit) -> Response {
    match enter_settings(&v, &service_id) {
        Ok(s) => respond(summary(&v, &s)),
        Err(r) => *r,
    }
}

// ---- the service name ----

fn name_page(s: &InService, name: &str, errors: FormErrors) -> Response {
    html(
        status_of(&errors),
        &NamePage {
            layout: layout(
                "Change your service name",
                s,
                !errors.is_empty(),
                Some(settings_href(s.id())),
            ),
            action: format!("{}/name", settings_href(s.id())),
            name: name.to_string(),
            errors,
        },
    )
}

/// Upstream's checks of a service name, before the domain's.
fn name_error(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("Enter a service name");
    }
    if name.chars().filter(|c| c.is_ascii_alphanumeric()).count() < 2 {
        return Some("Service name must include at least 2 letters or numbers");
    }
    if services::email_sender_local_part(name).is_empty() {
        return Some("Service name cannot include characters from a non-Latin alphabet");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Some("Service name cannot be longer than 143 characters");
    }
    None
}

async fn post_name(v: &Visit, s: &InService, form: &Form) -> Response {
    let name = form.get("name");
    let mut errors = FormErrors::default();
    if let Some(message) = name_error(&name) {
        errors.add("name", message);
        return name_page(s, &name, errors);
    }
    let update = ServiceUpdate {
        name: Some(name.clone()),
        ..ServiceUpdate::default()
    };
    match services::update_service(&v.app, &s.actor, s.id(), update).await {
        Ok(_) => redirect(&Done::SettingsSaved.on(&settings_href(s.id()))),
        Err(e) if e.code() == Code::Conflict => {
            errors.add(
                "name",
                "This service name is already in use - enter a unique name",
            );
            name_page(s, &name, errors)
        }
        Err(e) => match refused(&e) {
            Some(message) => {
                errors.add("name", message);
                name_page(s, &name, errors)
            }
            None => PageError::from(e).into_response(),
        },
    }
}

// ---- reply-to addresses, text message senders, letter contact blocks ----

/// Which list of sender entries a page is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ReplyTo,
    SmsSender,
    LetterContact,
}

/// One live entry as the pages show it, whatever its kind.
struct Entry {
    id: Uuid,
    text: String,
    default: bool,
    /// A text message sender that is the service's inbound number (cannot change or go).
    inbound: bool,
}

impl Kind {
    /// The list's URL segment.
    fn from_list(segment: &str) -> Option<Kind> {
        match segment {
            "email-reply-to" => Some(Kind::ReplyTo),
            "sms-sender" => Some(Kind::SmsSender),
            "letter-contacts" => Some(Kind::LetterContact),
            _ => None,
        }
    }

    /// The URL segment of one entry's pages.
    fn from_item(segment: &str) -> Option<Kind> {
        match segment {
            "email-reply-to" => Some(Kind::ReplyTo),
            "sms-sender" => Some(Kind::SmsSender),
            "letter-contact" => Some(Kind::LetterContact),
            _ => None,
        }
    }

    fn list_segment(self) -> &'static str {
        match self {
            Kind::ReplyTo => "email-reply-to",
            Kind::SmsSender => "sms-sender",
            Kind::LetterContact => "letter-contacts",
        }
    }

    fn item_segment(self) -> &'static str {
        match self {
            Kind::LetterContact => "letter-contact",
            other => other.list_segment(),
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::ReplyTo => "Reply-to email addresses",
            Kind::SmsSender => "Text message sender IDs",
            Kind::LetterContact => "Sender addresses",
        }
    }

    fn add_title(self) -> &'static str {
        match self {
            Kind::ReplyTo => "Add reply-to email address",
            Kind::SmsSender => "Add text message sender ID",
            Kind::LetterContact => "Add a sender address",
        }
    }

    fn add_button(self) -> &'static str {
        match self {
            Kind::LetterContact => "Add a new address",
            other => other.add_title(),
        }
    }

    fn edit_title(self) -> &'static str {
        match self {
            Kind::ReplyTo => "Change reply-to email address",
            Kind::SmsSender => "Change text message sender ID",
            Kind::LetterContact => "Change sender address",
        }
    }

    fn field(self) -> &'static str {
        match self {
            Kind::ReplyTo => "email_address",
            Kind::SmsSender => "sms_sender",
            Kind::LetterContact => "letter_contact_block",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::ReplyTo => "Reply-to email address",
            Kind::SmsSender => "Text message sender ID",
            Kind::LetterContact => "This will appear as the sender address on your letters",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Kind::ReplyTo => {
                "This should be a shared inbox managed by your team, not your own email address"
            }
            Kind::SmsSender => {
                "Text message sender ID can only include letters, numbers, spaces, and the following characters: & . - _"
            }
            Kind::LetterContact => "10 lines maximum",
        }
    }

    fn default_label(self) -> &'static str {
        match self {
            Kind::ReplyTo => "Make this email address the default",
            Kind::SmsSender => "Make this text message sender ID the default",
            Kind::LetterContact => "Set as your default address",
        }
    }

    fn default_note(self, service: &str) -> String {
        match self {
            Kind::ReplyTo => format!("This is the default reply-to address for {service} emails"),
            Kind::SmsSender => "This is the default text message sender ID.".to_string(),
            Kind::LetterContact => format!("This is currently your default address for {service}."),
        }
    }

    fn empty_text(self) -> &'static str {
        match self {
            Kind::ReplyTo => "You have not added any reply-to email addresses yet",
            Kind::SmsSender => "You have not added any text message sender IDs yet",
            Kind::LetterContact => "You have not added any sender addresses yet",
        }
    }

    fn delete_question(self) -> &'static str {
        match self {
            Kind::ReplyTo => "Are you sure you want to delete this reply-to email address?",
            Kind::SmsSender => "Are you sure you want to delete this text message sender ID?",
            Kind::LetterContact => "Are you sure you want to delete this contact block?",
        }
    }

    fn paragraphs(self) -> Vec<String> {
        match self {
            Kind::ReplyTo => vec![
                "You need to add at least one reply-to address so recipients can reply to your messages.".into(),
                "Emails with a reply-to address are less likely to be labelled as spam, and appear more trustworthy.".into(),
            ],
            Kind::SmsSender => vec![
                "The text message sender ID tells your recipients who the message is from.".into(),
            ],
            Kind::LetterContact => vec![
                "The sender address appears at the top right of your letters.".into(),
            ],
        }
    }

    /// The service's live entries of this kind, the default first.
    fn entries(self, service: &Service) -> Vec<Entry> {
        match self {
            Kind::ReplyTo => live_entries(&service.email_reply_to)
                .into_iter()
                .map(|e| Entry {
                    id: e.id,
                    text: e.email_address,
                    default: e.is_default,
                    inbound: false,
                })
                .collect(),
            Kind::SmsSender => live_entries(&service.sms_senders)
                .into_iter()
                .map(|e| Entry {
                    id: e.id,
                    text: e.sms_sender,
                    default: e.is_default,
                    inbound: e.inbound_number,
                })
                .collect(),
            Kind::LetterContact => live_entries(&service.letter_contacts)
                .into_iter()
                .map(|e| Entry {
                    id: e.id,
                    text: e.contact_block,
                    default: e.is_default,
                    inbound: false,
                })
                .collect(),
        }
    }

    /// Upstream's checks of what was typed, before the domain's.
    fn input_error(self, text: &str) -> Option<String> {
        if text.trim().is_empty() {
            return Some(
                match self {
                    Kind::ReplyTo => "Enter an email address",
                    Kind::SmsSender => "Enter a text message sender ID",
                    Kind::LetterContact => "Enter a sender address",
                }
                .to_string(),
            );
        }
        if self == Kind::LetterContact {
            let lines = text.trim().lines().count();
            if lines > 10 {
                return Some(format!(
                    "This address is {lines} lines long - the most you can have is 10 lines"
                ));
            }
        }
        None
    }

    /// The domain's refusal of what was typed, in the page's words.
    fn refusal_text(self, message: &str) -> String {
        match self {
            Kind::ReplyTo if message.contains("not a valid email address") => {
                "Enter an email address in the correct format, like name@example.gov.uk".into()
            }
            Kind::SmsSender => message.replace("sms_sender", "Text message sender ID"),
            Kind::LetterContact => message.replace("contact_block", "Sender address"),
            _ => message.to_string(),
        }
    }

    async fn add(
        self,
        v: &Visit,
        s: &InService,
        text: String,
        is_default: Option<bool>,
    ) -> Result<(), DomainError> {
        let (cx, actor, id) = (&v.app, &s.actor, s.id());
        match self {
            Kind::ReplyTo => {
                let body = ReplyToBody {
                    email_address: Some(text),
                    is_default,
                };
                services::add_reply_to(cx, actor, id, body).await.map(drop)
            }
            Kind::SmsSender => {
                let body = SmsSenderBody {
                    sms_sender: Some(text),
                    is_default,
                };
                services::add_sms_sender(cx, actor, id, body)
                    .await
                    .map(drop)
            }
            Kind::LetterContact => {
                let body = LetterContactBody {
                    contact_block: Some(text),
                    is_default,
                };
                services::add_letter_contact(cx, actor, id, body)
                    .await
                    .map(drop)
            }
        }
    }

    async fn update(
        self,
        v: &Visit,
        s: &InService,
        entry: Uuid,
        text: Option<String>,
        is_default: Option<bool>,
    ) -> Result<(), DomainError> {
        let (cx, actor, id) = (&v.app, &s.actor, s.id());
        match self {
            Kind::ReplyTo => {
                let body = ReplyToBody {
                    email_address: text,
                    is_default,
                };
                services::update_reply_to(cx, actor, id, entry, body)
                    .await
                    .map(drop)
            }
            Kind::SmsSender => {
                let body = SmsSenderBody {
                    sms_sender: text,
                    is_default,
                };
                services::update_sms_sender(cx, actor, id, entry, body)
                    .await
                    .map(drop)
            }
            Kind::LetterContact => {
                let body = LetterContactBody {
                    contact_block: text,
                    is_default,
                };
                services::update_letter_contact(cx, actor, id, entry, body)
                    .await
                    .map(drop)
            }
        }
    }

    async fn archive(self, v: &Visit, s: &InService, entry: Uuid) -> Result<(), DomainError> {
        let (cx, actor, id) = (&v.app, &s.actor, s.id());
        match self {
            Kind::ReplyTo => services::archive_sender_entry::<ReplyTo>(cx, actor, id, entry)
                .await
                .map(drop),
            Kind::SmsSender => services::archive_sender_entry::<SmsSender>(cx, actor, id, entry)
                .await
                .map(drop),
            Kind::LetterContact => {
                services::archive_sender_entry::<LetterContact>(cx, actor, id, entry)
                    .await
                    .map(drop)
            }
        }
    }
}

fn list_href(s: &InService, kind: Kind) -> String {
    format!("{}/{}", settings_href(s.id()), kind.list_segment())
}

fn item_href(s: &InService, kind: Kind, id: Uuid, action: &str) -> String {
    format!(
        "{}/{}/{id}/{action}",
        settings_href(s.id()),
        kind.item_segment()
    )
}

fn senders_page(s: &InService, kind: Kind) -> Response {
    let manage = s.may(MANAGE);
    let entries = kind.entries(&s.service);
    let blank = (kind == Kind::LetterContact && !entries.is_empty()).then(|| {
        let default = entries.iter().all(|e| !e.default);
        BlankItem {
            default,
            make_default: (manage && !default).then(|| ButtonForm {
                action: format!(
                    "{}/letter-contact/make-blank-default",
                    settings_href(s.id())
                ),
                button: "Make default".into(),
                class: String::new(),
            }),
        }
    });
    let items = entries
        .iter()
        .map(|e| SenderItem {
            lines: e.text.lines().map(str::to_string).collect(),
            default: e.default,
            hint: if e.inbound {
                "This phone number receives replies and cannot be changed".into()
            } else {
                String::new()
            },
            change_href: manage.then(|| item_href(s, kind, e.id, "edit")),
        })
        .collect();
    ok(&SendersPage {
        layout: layout(kind.title(), s, false, Some(settings_href(s.id()))),
        empty_text: kind.empty_text().into(),
        blank,
        items,
        add: manage.then(|| {
            (
                format!("{}/{}/add", settings_href(s.id()), kind.item_segment()),
                kind.add_button().to_string(),
            )
        }),
        paragraphs: kind.paragraphs(),
    })
}

/// What a sender form shows: the typed text and the checkbox's state.
struct Typed {
    text: String,
    default_ticked: bool,
}

impl Typed {
    fn from(kind: Kind, form: &Form) -> Typed {
        let text = if kind == Kind::LetterContact {
            // A contact block keeps its lines; CRLF from browsers becomes LF.
            form.raw(kind.field()).replace("\r\n", "\n")
        } else {
            form.get(kind.field())
        };
        Typed {
            text,
            default_ticked: form.has("is_default"),
        }
    }
}

fn add_page(s: &InService, kind: Kind, typed: &Typed, errors: FormErrors) -> Response {
    // The first reply-to address or sender is the default without asking (as upstream).
    let first = kind.entries(&s.service).is_empty();
    html(
        status_of(&errors),
        &SenderFormPage {
            layout: layout(
                kind.add_title(),
                s,
                !errors.is_empty(),
                Some(list_href(s, kind)),
            ),
            action: format!("{}/{}/add", settings_href(s.id()), kind.item_segment()),
            field: kind.field().into(),
            label: kind.label().into(),
            hint: kind.hint().into(),
            value: typed.text.clone(),
            multiline: kind == Kind::LetterContact,
            read_only: false,
            default_choice: (!first).then(|| Choice {
                value: "y".into(),
                label: kind.default_label().into(),
                hint: String::new(),
                checked: typed.default_ticked,
            }),
            default_note: String::new(),
            button: "Add".into(),
            delete_href: None,
            confirm_delete: None,
            errors,
        },
    )
}

async fn post_add(v: &Visit, s: &InService, kind: Kind, form: &Form) -> Response {
    let typed = Typed::from(kind, form);
    let mut errors = FormErrors::default();
    if let Some(message) = kind.input_error(&typed.text) {
        errors.add(kind.field(), message);
        return add_page(s, kind, &typed, errors);
    }
    let first = kind.entries(&s.service).is_empty();
    let is_default = (!first).then_some(typed.default_ticked);
    match kind.add(v, s, typed.text.clone(), is_default).await {
        Ok(()) => redirect(&list_href(s, kind)),
        Err(e) => match refused(&e) {
            Some(message) => {
                errors.add(kind.field(), kind.refusal_text(&message));
                add_page(s, kind, &typed, errors)
            }
            None => PageError::from(e).into_response(),
        },
    }
}

fn find_entry(s: &InService, kind: Kind, entry: &str) -> Result<Entry, PageError> {
    let id = Uuid::parse_str(entry).map_err(|_| PageError::NotFound)?;
    kind.entries(&s.service)
        .into_iter()
        .find(|e| e.id == id)
        .ok_or(PageError::NotFound)
}

fn edit_page(
    s: &InService,
    kind: Kind,
    entry: &Entry,
    typed: &Typed,
    confirm_delete: bool,
    errors: FormErrors,
) -> Response {
    let deletable = !entry.inbound && (!entry.default || kind == Kind::LetterContact);
    html(
        status_of(&errors),
        &SenderFormPage {
            layout: layout(
                kind.edit_title(),
                s,
                !errors.is_empty(),
                Some(list_href(s, kind)),
            ),
            action: item_href(s, kind, entry.id, "edit"),
            field: kind.field().into(),
            label: kind.label().into(),
            hint: if entry.inbound {
                "This phone number receives replies and cannot be changed".into()
            } else {
                kind.hint().into()
            },
            value: typed.text.clone(),
            multiline: kind == Kind::LetterContact,
            read_only: entry.inbound,
            default_choice: (!entry.default).then(|| Choice {
                value: "y".into(),
                label: kind.default_label().into(),
                hint: String::new(),
                checked: typed.default_ticked,
            }),
            default_note: if entry.default {
                kind.default_note(&s.service.name)
            } else {
                String::new()
            },
            button: "Save".into(),
            delete_href: deletable.then(|| item_href(s, kind, entry.id, "delete")),
            confirm_delete: (confirm_delete && deletable).then(|| {
                (
                    kind.delete_question().to_string(),
                    ButtonForm {
                        action: item_href(s, kind, entry.id, "delete"),
                        button: "Yes, delete".into(),
                        class: "button--warning".into(),
                    },
                )
            }),
            errors,
        },
    )
}

async fn post_edit(v: &Visit, s: &InService, kind: Kind, entry: Entry, form: &Form) -> Response {
    let mut typed = Typed::from(kind, form);
    let mut errors = FormErrors::default();
    if entry.inbound {
        // Only whether it is the default can change.
        typed.text = entry.text.clone();
    } else if let Some(message) = kind.input_error(&typed.text) {
        errors.add(kind.field(), message);
        return edit_page(s, kind, &entry, &typed, false, errors);
    }
    // Ticking the box makes it the default; the default stays so until another is chosen.
    let is_default = (!entry.default && typed.default_ticked).then_some(true);
    let text = (!entry.inbound).then(|| typed.text.clone());
    match kind.update(v, s, entry.id, text, is_default).await {
        Ok(()) => redirect(&list_href(s, kind)),
        Err(e) => match refused(&e) {
            Some(message) => {
                errors.add(kind.field(), kind.refusal_text(&message));
                edit_page(s, kind, &entry, &typed, false, errors)
            }
            None => PageError::from(e).into_response(),
        },
    }
}

async fn post_delete(v: &Visit, s: &InService, kind: Kind, entry: Entry) -> Response {
    match kind.archive(v, s, entry.id).await {
        Ok(()) => redirect(&list_href(s, kind)),
        Err(e) => match refused(&e) {
            Some(message) => {
                let mut errors = FormErrors::default();
                errors.add(kind.field(), kind.refusal_text(&message));
                let typed = Typed {
                    text: entry.text.clone(),
                    default_ticked: false,
                };
                edit_page(s, kind, &entry, &typed, false, errors)
            }
            None => PageError::from(e).into_response(),
        },
    }
}

async fn post_blank_default(v: &Visit, s: &InService) -> Response {
    let default = Kind::LetterContact
        .entries(&s.service)
        .into_iter()
        .find(|e| e.default);
    if let Some(e) = default
        && let Err(e) = Kind::LetterContact
            .update(v, s, e.id, None, Some(false))
            .await
    {
        return PageError::from(e).into_response();
    }
    redirect(&list_href(s, Kind::LetterContact))
}

// ---- on or off: sending a channel, live ----

fn on_off_choices(on: Option<bool>) -> Vec<Choice> {
    [("True", "On", true), ("False", "Off", false)]
        .iter()
        .map(|(value, label, is_on)| Choice {
            value: (*value).into(),
            label: (*label).into(),
            hint: String::new(),
            checked: on == Some(*is_on),
        })
        .collect()
}

fn on_off_page(
    s: &InService,
    title: &str,
    action: String,
    on: Option<bool>,
    errors: FormErrors,
) -> Response {
    html(
        status_of(&errors),
        &OnOffPage {
            layout: layout(title, s, !errors.is_empty(), Some(settings_href(s.id()))),
            action,
            choices: on_off_choices(on),
            errors,
        },
    )
}

fn chosen(form: &Form) -> Option<bool> {
    match form.get("enabled").as_str() {
        "True" => Some(true),
        "False" => Some(false),
        _ => None,
    }
}

/// The channel of `set-{channel}`.
fn channel_of(part: &str) -> Option<NotificationType> {
    part.strip_prefix("set-").and_then(NotificationType::parse)
}

fn channel_title(t: NotificationType) -> String {
    format!("Send {}", super::services::channel_plural(t))
}

async fn post_channel(v: &Visit, s: &InService, t: NotificationType, form: &Form) -> Response {
    let action = format!("{}/set-{}", settings_href(s.id()), t.as_str());
    let Some(on) = chosen(form) else {
        let mut errors = FormErrors::default();
        errors.add("enabled", "Select on or off");
        return on_off_page(s, &channel_title(t), action, None, errors);
    };
    let mut permissions: Vec<String> = s
        .service
        .permissions
        .iter()
        .filter(|p| p.as_str() != t.as_str())
        .cloned()
        .collect();
    if on {
        permissions.push(t.as_str().to_string());
    }
    let update = ServiceUpdate {
        permissions: Some(permissions),
        ..ServiceUpdate::default()
    };
    match services::update_service(&v.app, &s.actor, s.id(), update).await {
        Ok(_) => redirect(&Done::SettingsSaved.on(&settings_href(s.id()))),
        Err(e) => PageError::from(e).into_response(),
    }
}

async fn post_live(v: &Visit, s: &InService, form: &Form) -> Response {
    let Some(on) = chosen(form) else {
        let mut errors = FormErrors::default();
        errors.add("enabled", "Select on or off");
        let action = format!("{}/switch-live", settings_href(s.id()));
        return on_off_page(s, "Make service live", action, None, errors);
    };
    let update = ServiceUpdate {
        restricted: Some(!on),
        ..ServiceUpdate::default()
    };
    match services::update_service(&v.app, &s.actor, s.id(), update).await {
        Ok(_) => redirect(&Done::SettingsSaved.on(&settings_href(s.id()))),
        Err(e) => PageError::from(e).into_response(),
    }
}

// ---- routes under /service-settings ----

async fn get_part(service_id: String, part: String, v: Visit) -> Response {
    if let Some(kind) = Kind::from_list(&part) {
        return match enter_settings(&v, &service_id) {
            Ok(s) => senders_page(&s, kind),
            Err(r) => *r,
        };
    }
    let need = if part == "name" {
        MANAGE
    } else {
        Need::PlatformAdmin
    };
    if part != "name" && part != "switch-live" && channel_of(&part).is_none() {
        return PageError::NotFound.into_response();
    }
    let s = match enter(&v, &service_id, need) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let base = settings_href(s.id());
    if part == "name" {
        return name_page(&s, &s.service.name, FormErrors::default());
    }
    if part == "switch-live" {
        if !s.service.active {
            return PageError::Forbidden.into_response();
        }
        let live = !s.service.restricted;
        return on_off_page(
            &s,
            "Make service live",
            format!("{base}/switch-live"),
            Some(live),
            FormErrors::default(),
        );
    }
    match channel_of(&part) {
        Some(t) => on_off_page(
            &s,
            &channel_title(t),
            format!("{base}/{part}"),
            Some(has(&s.service, t.as_str())),
            FormErrors::default(),
        ),
        None => PageError::NotFound.into_response(),
    }
}

async fn post_part(service_id: String, part: String, v: Visit, body: Bytes) -> Response {
    let need = if part == "name" {
        MANAGE
    } else {
        Need::PlatformAdmin
    };
    if part != "name" && part != "switch-live" && channel_of(&part).is_none() {
        return PageError::NotFound.into_response();
    }
    let s = match enter(&v, &service_id, need) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let form = match form_of(&s, &body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    if part == "name" {
        return post_name(&v, &s, &form).await;
    }
    if part == "switch-live" {
        if !s.service.active {
            return PageError::Forbidden.into_response();
        }
        return post_live(&v, &s, &form).await;
    }
    match channel_of(&part) {
        Some(t) => post_channel(&v, &s, t, &form).await,
        None => PageError::NotFound.into_response(),
    }
}

async fn get_add(service_id: String, part: String, action: String, v: Visit) -> Response {
    let Some(kind) = Kind::from_item(&part).filter(|_| action == "add") else {
        return PageError::NotFound.into_response();
    };
    match enter(&v, &service_id, MANAGE) {
        Ok(s) => add_page(
            &s,
            kind,
            &Typed {
                text: String::new(),
                default_ticked: false,
            },
            FormErrors::default(),
        ),
        Err(r) => *r,
    }
}

async fn post_add_or_blank(
    service_id: String,
    part: String,
    action: String,
    v: Visit,
    body: Bytes,
) -> Response {
    let kind = Kind::from_item(&part);
    let blank = kind == Some(Kind::LetterContact) && action == "make-blank-default";
    if kind.is_none() || (action != "add" && !blank) {
        return PageError::NotFound.into_response();
    }
    let s = match enter(&v, &service_id, MANAGE) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let form = match form_of(&s, &body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    match kind {
        Some(_) if blank => post_blank_default(&v, &s).await,
        Some(kind) => post_add(&v, &s, kind, &form).await,
        None => PageError::NotFound.into_response(),
    }
}

/// A page of one entry: the kind, the person (who must manage the service) and the entry.
fn enter_entry(
    v: &Visit,
    service_id: &str,
    part: &str,
    entry: &str,
    action: &str,
) -> Result<(Kind, InService, Entry), Box<Response>> {
    let kind = Kind::from_item(part)
        .filter(|_| action == "edit" || action == "delete")
        .ok_or_else(|| Box::new(PageError::NotFound.into_response()))?;
    let s = enter(v, service_id, MANAGE)?;
    let entry = find_entry(&s, kind, entry).map_err(|e| Box::new(e.into_response()))?;
    Ok((kind, s, entry))
}

async fn get_entry(
    service_id: String,
    part: String,
    entry: String,
    action: String,
    v: Visit,
) -> Response {
    match enter_entry(&v, &service_id, &part, &entry, &action) {
        Ok((kind, s, entry)) => {
            let typed = Typed {
                text: entry.text.clone(),
                default_ticked: entry.default,
            };
            edit_page(
                &s,
                kind,
                &entry,
                &typed,
                action == "delete",
                FormErrors::default(),
            )
        }
        Err(r) => *r,
    }
}

async fn post_entry(
    service_id: String,
    part: String,
    entry: String,
    action: String,
    v: Visit,
    body: Bytes,
) -> Response {
    let (kind, s, entry) = match enter_entry(&v, &service_id, &part, &entry, &action) {
        Ok(found) => found,
        Err(r) => return *r,
    };
    let form = match form_of(&s, &body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    if action == "delete" {
        post_delete(&v, &s, kind, entry).await
    } else {
        post_edit(&v, &s, kind, entry, &form).await
    }
}

// ---- data retention (platform admins) ----

fn retention_href(id: Uuid) -> String {
    format!("/services/{id}/data-retention")
}

fn retention_list(v: &Visit, s: &InService) -> Result<Response, PageError> {
    let (_, settings) = retention::list_settings(&v.app.store, s.id())?;
    let rows = settings
        .iter()
        .map(|r| {
            SummaryRow::new(
                super::services::channel_name(r.notification_type),
                format!("{} days", r.days_of_retention),
            )
            .with_action(
                format!("{}/{}/edit", retention_href(s.id()), r.id),
                "Change",
                &format!(
                    "{} data retention setting",
                    channel_lower(r.notification_type)
                ),
            )
        })
        .collect();
    Ok(ok(&RetentionPage {
        layout: layout("Data retention", s, false, Some(settings_href(s.id()))),
        default_days: v.app.config.retention.default_days,
        rows,
        add_href: format!("{}/add", retention_href(s.id())),
    }))
}

async fn get_retention(service_id: String, v: Visit) -> Response {
    match enter(&v, &service_id, Need::PlatformAdmin) {
        Ok(s) => respond(retention_list(&v, &s)),
        Err(r) => *r,
    }
}

fn type_choices(chosen: &str) -> Vec<Choice> {
    [("email", "Email"), ("sms", "SMS"), ("letter", "Letter")]
        .iter()
        .map(|(value, label)| Choice {
            value: (*value).into(),
            label: (*label).into(),
            hint: String::new(),
            checked: chosen == *value,
        })
        .collect()
}

/// Upstream's check of a number of days.
fn days_of(text: &str) -> Result<u32, &'static str> {
    if text.is_empty() {
        return Err("Enter a number of days");
    }
    let days: u32 = text
        .parse()
        .map_err(|_| "The number of days must be a whole number")?;
    if RETENTION_DAYS.contains(&days) {
        Ok(days)
    } else {
        Err("The number of days must be between 3 and 90")
    }
}

fn retention_form(
    s: &InService,
    title: String,
    action: String,
    types: Vec<Choice>,
    days: &str,
    errors: FormErrors,
) -> Response {
    let button = if types.is_empty() { "Save" } else { "Add" };
    html(
        status_of(&errors),
        &RetentionFormPage {
            layout: layout(&title, s, !errors.is_empty(), Some(retention_href(s.id()))),
            action,
            types,
            days: days.to_string(),
            button: button.into(),
            errors,
        },
    )
}

async fn get_retention_add(service_id: String, v: Visit) -> Response {
    match enter(&v, &service_id, Need::PlatformAdmin) {
        Ok(s) => retention_form(
            &s,
            "Set data retention".into(),
            format!("{}/add", retention_href(s.id())),
            type_choices(""),
            "",
            FormErrors::default(),
        ),
        Err(r) => *r,
    }
}

async fn post_retention_add(service_id: String, v: Visit, body: Bytes) -> Response {
    let s = match enter(&v, &service_id, Need::PlatformAdmin) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let form = match form_of(&s, &body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let (kind, days_text) = (form.get("notification_type"), form.get("days_of_retention"));
    let action = format!("{}/add", retention_href(s.id()));
    let mut errors = FormErrors::default();
    let parsed = NotificationType::parse(&kind);
    if parsed.is_none() {
        errors.add("notification_type", "Select a type of notification");
    }
    let days = days_of(&days_text);
    if let Err(message) = days {
        errors.add("days_of_retention", message);
    }
    let show = |errors| {
        retention_form(
            &s,
            "Set data retention".into(),
            action.clone(),
            type_choices(&kind),
            &days_text,
            errors,
        )
    };
    let (Some(t), Ok(days)) = (parsed, days) else {
        return show(errors);
    };
    let body = json!({"notification_type": t.as_str(), "days_of_retention": days});
    match retention::create_setting(&v.app.store, s.id(), &body).await {
        Ok(_) => redirect(&retention_href(s.id())),
        Err(e) => match refused(&e) {
            Some(message) => {
                errors.add("notification_type", message);
                show(errors)
            }
            None => PageError::from(e).into_response(),
        },
    }
}

fn retention_setting(
    v: &Visit,
    service_id: &str,
    retention_id: &str,
    action: &str,
) -> Result<(InService, storage::records::DataRetention), Box<Response>> {
    let not_found = || Box::new(PageError::NotFound.into_response());
    if action != "edit" {
        return Err(not_found());
    }
    let s = enter(v, service_id, Need::PlatformAdmin)?;
    let id = Uuid::parse_str(retention_id).map_err(|_| not_found())?;
    let (_, setting) = retention::setting_by_id(&v.app.store, s.id(), id)
        .map_err(|e| Box::new(PageError::from(e).into_response()))?;
    Ok((s, setting))
}

fn edit_retention_title(t: NotificationType) -> String {
    format!("Set {} data retention", channel_lower(t))
}

async fn get_retention_edit(
    service_id: String,
    retention_id: String,
    action: String,
    v: Visit,
) -> Response {
    match retention_setting(&v, &service_id, &retention_id, &action) {
        Ok((s, r)) => retention_form(
            &s,
            edit_retention_title(r.notification_type),
            format!("{}/{}/edit", retention_href(s.id()), r.id),
            Vec::new(),
            &r.days_of_retention.to_string(),
            FormErrors::default(),
        ),
        Err(r) => *r,
    }
}

async fn post_retention_edit(
    service_id: String,
    retention_id: String,
    action: String,
    v: Visit,
    body: Bytes,
) -> Response {
    let (s, r) = match retention_setting(&v, &service_id, &retention_id, &action) {
        Ok(found) => found,
        Err(resp) => return *resp,
    };
    let form = match form_of(&s, &body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let days_text = form.get("days_of_retention");
    let show = |errors| {
        retention_form(
            &s,
            edit_retention_title(r.notification_type),
            format!("{}/{}/edit", retention_href(s.id()), r.id),
            Vec::new(),
            &days_text,
            errors,
        )
    };
    let days = match days_of(&days_text) {
        Ok(d) => d,
        Err(message) => {
            let mut errors = FormErrors::default();
            errors.add("days_of_retention", message);
            return show(errors);
        }
    };
    let body = json!({ "days_of_retention": days });
    match retention::update_setting(&v.app.store, s.id(), r.id, &body).await {
        Ok(()) => redirect(&retention_href(s.id())),
        Err(e) => PageError::from(e).into_response(),
    }
}

/// The settings pages' routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let v = visit(app);
    let body = crate::server::bodies::bytes;
    let summary = warp::path!("services" / String / "service-settings")
        .and(warp::get())
        .and(v.clone())
        .then(get_settings);
    let part_get = warp::path!("services" / String / "service-settings" / String)
        .and(warp::get())
        .and(v.clone())
        .then(get_part);
    let part_post = warp::path!("services" / String / "service-settings" / String)
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_part);
    let add_get = warp::path!("services" / String / "service-settings" / String / String)
        .and(warp::get())
        .and(v.clone())
        .then(get_add);
    let add_post = warp::path!("services" / String / "service-settings" / String / String)
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_add_or_blank);
    let entry_get =
        warp::path!("services" / String / "service-settings" / String / String / String)
            .and(warp::get())
            .and(v.clone())
            .then(get_entry);
    let entry_post =
        warp::path!("services" / String / "service-settings" / String / String / String)
            .and(warp::post())
            .and(v.clone())
            .and(body())
            .then(post_entry);
    let retention_get = warp::path!("services" / String / "data-retention")
        .and(warp::get())
        .and(v.clone())
        .then(get_retention);
    let retention_add_get = warp::path!("services" / String / "data-retention" / "add")
        .and(warp::get())
        .and(v.clone())
        .then(get_retention_add);
    let retention_add_post = warp::path!("services" / String / "data-retention" / "add")
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_retention_add);
    let retention_edit_get = warp::path!("services" / String / "data-retention" / String / String)
        .and(warp::get())
        .and(v.clone())
        .then(get_retention_edit);
    let retention_edit_post = warp::path!("services" / String / "data-retention" / String / String)
        .and(warp::post())
        .and(v)
        .and(body())
        .then(post_retention_edit);
    summary
        .or(part_get)
        .unify()
        .or(part_post)
        .unify()
        .or(add_get)
        .unify()
        .or(add_post)
        .unify()
        .or(entry_get)
        .unify()
        .boxed()
        .or(entry_post)
        .unify()
        .or(retention_get)
        .unify()
        .or(retention_add_get)
        .unify()
        .or(retention_add_post)
        .unify()
        .or(retention_edit_get)
        .unify()
        .or(retention_edit_post)
        .unify()
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_with_upstreams_words() {
        assert_eq!(name_error(""), Some("Enter a service name"));
        assert_eq!(
            name_error("A"),
            Some("Service name must include at least 2 letters or numbers")
        );
        assert_eq!(
            name_error(&"a".repeat(144)),
            Some("Service name cannot be longer than 143 characters")
        );
        assert_eq!(name_error("Parking permits"), None);
    }

    #[test]
    fn retention_is_3_to_90_whole_days() {
        assert_eq!(days_of("3"), Ok(3));
        assert_eq!(days_of("90"), Ok(90));
        assert!(days_of("2").is_err());
        assert!(days_of("91").is_err());
        assert_eq!(
            days_of("seven"),
            Err("The number of days must be a whole number")
        );
        assert_eq!(days_of(""), Err("Enter a number of days"));
    }

    #[test]
    fn contact_blocks_are_10_lines_at_most() {
        let eleven = ["line"; 11].join("\n");
        assert_eq!(
            Kind::LetterContact.input_error(&eleven).as_deref(),
            Some("This address is 11 lines long - the most you can have is 10 lines")
        );
        assert_eq!(
            Kind::LetterContact.input_error(&["line"; 10].join("\n")),
            None
        );
        assert_eq!(
            Kind::ReplyTo.input_error("  ").as_deref(),
            Some("Enter an email address")
        );
    }

    #[test]
    fn urls_name_the_kind_as_upstream() {
        for kind in [Kind::ReplyTo, Kind::SmsSender, Kind::LetterContact] {
            assert_eq!(Kind::from_list(kind.list_segment()), Some(kind));
            assert_eq!(Kind::from_item(kind.item_segment()), Some(kind));
        }
        assert_eq!(channel_of("set-sms"), Some(NotificationType::Sms));
        assert_eq!(channel_of("name"), None);
    }
}
