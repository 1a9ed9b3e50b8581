//! Sent messages: `/services/{id}/notifications/{email|sms|letter}` lists a service's messages
//! of one channel, newest first, filtered by status and paged, or finds them by recipient,
//! reference or notification id through the search index; `/services/{id}/notification/
//! {notification_id}` shows one: its status in upstream's words, the message as sent, and when
//! it was created, sent and delivered.
//!
//! `/services/{id}/download-notifications.csv` gives the list (or the search's hits) as
//! upstream's CSV report.
//!
//! All need `view_activity`.

use std::collections::HashMap;
use std::sync::Arc;

use storage::records::{Notification, NotificationStatus, NotificationType, Permission};
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use web::NavItem;
use web::activity::{NotificationRow, TimelineEvent, status_is_error, status_wording};
use web::template_pages::MessagePreview;

use super::services::{InService, Section, channel_name, enter, service_layout, when};
use super::session::{Visit, visit};
use super::{PageError, ok, respond};
use crate::app::App;
use crate::domain::accounts::Need;
use crate::domain::facts::{london_date, london_timestamp};
use crate::domain::recipients;

const NEED: Need = Need::Permission(Permission::ViewActivity);

/// Messages on one page of the list.
pub const PAGE_SIZE: usize = 50;

/// How deep a search can be paged: a search's later pages cost the index more with each page
/// (it collects every hit before the page), and 200 pages of 50 is more than anyone reads.
/// The CSV download has them all.
const MAX_SEARCH_PAGE: usize = 200;

/// The status filter of the list, with upstream's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    All,
    Sending,
    Delivered,
    Failed,
}

impl StatusFilter {
    pub const ALL: [StatusFilter; 4] = [
        StatusFilter::All,
        StatusFilter::Sending,
        StatusFilter::Delivered,
        StatusFilter::Failed,
    ];

    pub fn parse(text: &str) -> StatusFilter {
        match text {
            "sending" => StatusFilter::Sending,
            "delivered" => StatusFilter::Delivered,
            "failed" => StatusFilter::Failed,
            _ => StatusFilter::All,
        }
    }

    /// In the URL (`?status=`); empty for all.
    pub fn key(self) -> &'static str {
        match self {
            StatusFilter::All => "",
            StatusFilter::Sending => "sending",
            StatusFilter::Delivered => "delivered",
            StatusFilter::Failed => "failed",
        }
    }

    fn label(self) -> &'static str {
        match self {
            StatusFilter::All => "All",
            StatusFilter::Sending => "Sending",
            StatusFilter::Delivered => "Delivered",
            StatusFilter::Failed => "Failed",
        }
    }

    pub fn keeps(self, status: NotificationStatus) -> bool {
        use NotificationStatus::*;
        match self {
            StatusFilter::All => true,
            StatusFilter::Sending => matches!(status, Created | Sending | Pending),
            StatusFilter::Delivered => matches!(status, Delivered | Sent),
            StatusFilter::Failed => status_is_error(status.as_str()),
        }
    }
}

/// What a search box's text means for the index: an email address or phone number is
/// normalised as the index stores recipients; anything else (a reference, an id) is exact.
pub fn search_term(channel: NotificationType, text: &str) -> String {
    let text = text.trim();
    match channel {
        NotificationType::Email => recipients::validate_email_address(text)
            .map(|_| recipients::normalise_email(text))
            .unwrap_or_else(|_| text.to_string()),
        NotificationType::Sms => recipients::validate_phone_number(text)
            .map(|p| p.normalised)
            .unwrap_or_else(|_| text.to_string()),
        NotificationType::Letter => text.to_lowercase(),
    }
}

/// The list's query string: `to`, `status`, `older_than`.
fn query_value(query: &HashMap<String, String>, key: &str) -> String {
    query
        .get(key)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn list_href(service_id: Uuid, channel: NotificationType, status: StatusFilter) -> String {
    Filters {
        channel,
        status,
        search: String::new(),
    }
    .href(service_id, &[])
}

fn search_label(channel: NotificationType) -> &'static str {
    match channel {
        NotificationType::Email => "Search by email address, reference or notification ID",
        NotificationType::Sms => "Search by phone number, reference or notification ID",
        NotificationType::Letter => "Search by postal address, reference or notification ID",
    }
}

/// What the list shows: one channel's messages, kept by status, all of them or a search's hits.
#[derive(Debug, Clone)]
pub struct Filters {
    pub channel: NotificationType,
    pub status: StatusFilter,
    /// What was typed in the search box (empty: no search).
    pub search: String,
}

impl Filters {
    fn from_query(channel: NotificationType, query: &HashMap<String, String>) -> Filters {
        Filters {
            channel,
            status: StatusFilter::parse(&query_value(query, "status")),
            search: query_value(query, "to"),
        }
    }

    fn query(&self, extra: &[(&str, &str)]) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if self.status != StatusFilter::All {
            q.append_pair("status", self.status.key());
        }
        if !self.search.is_empty() {
            q.append_pair("to", &self.search);
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        q.finish()
    }

    /// The list's own URL with these filters (and `extra`, e.g. the page).
    fn href(&self, service_id: Uuid, extra: &[(&str, &str)]) -> String {
        let base = format!(
            "/services/{service_id}/notifications/{}",
            self.channel.as_str()
        );
        match self.query(extra) {
            q if q.is_empty() => base,
            q => format!("{base}?{q}"),
        }
    }

    /// The same messages as a CSV file (upstream's URL, with the search kept).
    fn download_href(&self, service_id: Uuid) -> String {
        format!(
            "/services/{service_id}/download-notifications.csv?{}",
            self.query(&[("message_type", self.channel.as_str())])
        )
    }
}

/// Where a page of the list starts: the newest messages are paged by the last id shown (a
/// key range, so page 1,000 costs what page 1 does); a search's hits by their position.
#[derive(Debug, Clone, Copy)]
enum Start {
    OlderThan(Option<Uuid>),
    Hit(usize),
}

/// Up to `size` messages of the list from `from` on, and whether more follow.
fn listing(
    app: &App,
    reader: &storage::Reader,
    service_id: Uuid,
    f: &Filters,
    from: Start,
    size: usize,
) -> Result<(Vec<Notification>, bool), PageError> {
    match from {
        Start::OlderThan(older_than) => {
            let mut page = reader.service_notifications(service_id, older_than, size + 1, |n| {
                n.notification_type == f.channel && f.status.keeps(n.status)
            })?;
            let more = page.len() > size;
            page.truncate(size);
            Ok((page, more))
        }
        Start::Hit(offset) => {
            let term = search_term(f.channel, &f.search);
            let mut ids = app
                .index
                .search_page(
                    service_id,
                    &term,
                    Some(f.channel.as_str()),
                    offset,
                    size + 1,
                )
                .map_err(|e| PageError::Internal(e.to_string()))?;
            let more = ids.len() > size;
            ids.truncate(size);
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                // The index may lag or hold a message retention has since removed.
                if let Some(n) = reader.get_notification(id)?
                    && n.service_id == service_id
                    && f.status.keeps(n.status)
                {
                    out.push(n);
                }
            }
            Ok((out, more))
        }
    }
}

fn activity(
    v: &Visit,
    s: &InService,
    channel: NotificationType,
    query: &HashMap<String, String>,
) -> Result<Response, PageError> {
    let filters = Filters::from_query(channel, query);
    let status = filters.status;
    let search = filters.search.clone();
    let reader = v.app.store.read()?;
    let mut next_href = None;
    let mut previous_href = None;
    let found: Vec<Notification> = if search.is_empty() {
        let older_than = Uuid::parse_str(&query_value(query, "older_than")).ok();
        let (page, more) = listing(
            &v.app,
            &reader,
            s.id(),
            &filters,
            Start::OlderThan(older_than),
            PAGE_SIZE,
        )?;
        if more && let Some(last) = page.last() {
            next_href = Some(filters.href(s.id(), &[("older_than", &last.id.to_string())]));
        }
        page
    } else {
        let page_no = query_value(query, "page")
            .parse::<usize>()
            .ok()
            .filter(|p| (1..=MAX_SEARCH_PAGE).contains(p))
            .unwrap_or(1);
        let (page, more) = listing(
            &v.app,
            &reader,
            s.id(),
            &filters,
            Start::Hit((page_no - 1) * PAGE_SIZE),
            PAGE_SIZE,
        )?;
        if more && page_no < MAX_SEARCH_PAGE {
            next_href = Some(filters.href(s.id(), &[("page", &(page_no + 1).to_string())]));
        }
        if page_no > 1 {
            previous_href = Some(filters.href(s.id(), &[("page", &(page_no - 1).to_string())]));
        }
        page
    };
    let now = v.app.store.clock().now_micros();
    let mut names: HashMap<Uuid, String> = HashMap::new();
    let mut rows = Vec::with_capacity(found.len());
    for n in &found {
        if let std::collections::hash_map::Entry::Vacant(e) = names.entry(n.template_id) {
            let name = reader
                .get_template(n.template_id)?
                .map(|t| t.name)
                .unwrap_or_default();
            e.insert(name);
        }
        rows.push(NotificationRow {
            href: format!("/services/{}/notification/{}", s.id(), n.id),
            recipient: n.to.clone(),
            template_name: names.get(&n.template_id).cloned().unwrap_or_default(),
            status: status_wording(n.status.as_str(), channel.as_str()).to_string(),
            error: status_is_error(n.status.as_str()),
            when: when(n.created_at, now),
        });
    }
    let channels = NotificationType::ALL
        .iter()
        .map(|t| NavItem {
            label: match t {
                NotificationType::Email => "Emails",
                NotificationType::Sms => "Text messages",
                NotificationType::Letter => "Letters",
            }
            .to_string(),
            href: list_href(s.id(), *t, StatusFilter::All),
            current: *t == channel,
        })
        .collect();
    let statuses = StatusFilter::ALL
        .iter()
        .map(|f| NavItem {
            label: f.label().to_string(),
            href: list_href(s.id(), channel, *f),
            current: *f == status,
        })
        .collect();
    let title = match channel {
        NotificationType::Email => "Emails",
        NotificationType::Sms => "Text messages",
        NotificationType::Letter => "Letters",
    };
    Ok(ok(&web::activity::ActivityPage {
        layout: service_layout(title, s, Section::SentMessages, false),
        channels,
        statuses,
        action: format!("/services/{}/notifications/{}", s.id(), channel.as_str()),
        status: status.key().to_string(),
        search,
        search_label: search_label(channel).to_string(),
        rows,
        next_href,
        previous_href,
        download_href: filters.download_href(s.id()),
    }))
}

/// Messages read per store transaction while writing a CSV file.
const CSV_CHUNK: usize = 5_000;

/// The list's messages as upstream's CSV report: every page of them (a service keeps only its
/// retention period's messages), read a chunk at a time so no read transaction stays open
/// long. Columns and status wording as upstream's "Download this report".
pub fn notifications_csv(app: &App, service_id: Uuid, f: &Filters) -> Result<Vec<u8>, PageError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| PageError::Internal(e.to_string());
    out.write_record([
        "Recipient",
        "Reference",
        "Template",
        "Type",
        "Sent by",
        "Sent by email",
        "Job",
        "Status",
        "Time",
        "API key name",
    ])
    .map_err(csv_err)?;
    let mut templates: HashMap<Uuid, String> = HashMap::new();
    let mut jobs: HashMap<Uuid, String> = HashMap::new();
    let mut keys: HashMap<Uuid, String> = HashMap::new();
    let mut from = if f.search.is_empty() {
        Start::OlderThan(None)
    } else {
        Start::Hit(0)
    };
    loop {
        let reader = app.store.read()?;
        let (chunk, more) = listing(app, &reader, service_id, f, from, CSV_CHUNK)?;
        for n in &chunk {
            if let std::collections::hash_map::Entry::Vacant(slot) = templates.entry(n.template_id)
            {
                let name = reader.get_template(n.template_id)?.map(|t| t.name);
                slot.insert(name.unwrap_or_default());
            }
            if let Some(job_id) = n.job_id
                && !jobs.contains_key(&job_id)
            {
                let name = reader.get_job(job_id)?.map(|j| j.original_file_name);
                jobs.insert(job_id, name.unwrap_or_default());
            }
            if let Some(key_id) = n.api_key_id
                && !keys.contains_key(&key_id)
            {
                let name = reader.get_api_key(key_id)?.map(|k| k.name);
                keys.insert(key_id, name.unwrap_or_default());
            }
            let lookup = |names: &HashMap<Uuid, String>, id: Option<Uuid>| {
                id.and_then(|id| names.get(&id).cloned())
                    .unwrap_or_default()
            };
            out.write_record([
                // A letter's recipient is its whole address: upstream gives its first line.
                n.to.lines()
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .trim_end_matches([' ', ','])
                    .to_string(),
                n.client_reference.clone().unwrap_or_default(),
                lookup(&templates, Some(n.template_id)),
                n.notification_type.as_str().to_string(),
                n.created_by_name.clone().unwrap_or_default(),
                String::new(),
                lookup(&jobs, n.job_id),
                csv_status(n.notification_type, n.status).to_string(),
                london_timestamp(n.created_at),
                lookup(&keys, n.api_key_id),
            ])
            .map_err(csv_err)?;
        }
        match (from, chunk.last()) {
            (Start::OlderThan(_), Some(last)) if more => from = Start::OlderThan(Some(last.id)),
            (Start::Hit(offset), _) if more => from = Start::Hit(offset + CSV_CHUNK),
            _ => break,
        }
    }
    out.into_inner()
        .map_err(|e| PageError::Internal(e.to_string()))
}

/// A status in the words of upstream's CSV report (its API's `formatted_status`).
fn csv_status(channel: NotificationType, status: NotificationStatus) -> &'static str {
    use NotificationStatus::*;
    match (channel, status) {
        (NotificationType::Letter, TechnicalFailure) => "Technical failure",
        (NotificationType::Letter, PermanentFailure) => "Permanent failure",
        (NotificationType::Letter, Sending | Created) => "Accepted",
        (NotificationType::Letter, Delivered) => "Received",
        (NotificationType::Letter, ReturnedLetter) => "Returned",
        (NotificationType::Letter, other) => other.as_str(),
        (_, TechnicalFailure) => "Technical failure",
        (_, Delivered) => "Delivered",
        (_, Sending | Created) => "Sending",
        (NotificationType::Email, TemporaryFailure) => "Inbox not accepting messages right now",
        (NotificationType::Email, PermanentFailure) => "Email address doesn’t exist",
        (NotificationType::Email, Sent) => "Delivered",
        (NotificationType::Sms, TemporaryFailure) => "Phone not accepting messages right now",
        (NotificationType::Sms, PermanentFailure) => "Phone number doesn’t exist",
        (NotificationType::Sms, Sent) => "Sent internationally",
        (_, other) => other.as_str(),
    }
}

/// A file name's characters a `Content-Disposition` header can carry as they are.
fn header_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

async fn get_download(service_id: String, query: HashMap<String, String>, v: Visit) -> Response {
    let s = match enter(&v, &service_id, NEED) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Some(channel) = NotificationType::parse(&query_value(&query, "message_type")) else {
        return PageError::NotFound.into_response();
    };
    let filters = Filters::from_query(channel, &query);
    let app = v.app.clone();
    let id = s.id();
    // A big service's report reads many chunks: off the async threads.
    let made = tokio::task::spawn_blocking(move || notifications_csv(&app, id, &filters))
        .await
        .unwrap_or_else(|e| Err(PageError::Internal(e.to_string())));
    let bytes = match made {
        Ok(bytes) => bytes,
        Err(e) => return e.into_response(),
    };
    let today = london_date(v.app.store.clock().now_micros());
    let file_name = header_safe(&format!(
        "{today} - {} - {} report.csv",
        channel.as_str(),
        s.service.name
    ));
    let mut response = Response::new(bytes.into());
    let headers = response.headers_mut();
    headers.insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) =
        warp::http::HeaderValue::from_str(&format!("inline; filename=\"{file_name}\""))
    {
        headers.insert(warp::http::header::CONTENT_DISPOSITION, value);
    }
    response
}

async fn get_activity(
    service_id: String,
    channel: String,
    query: HashMap<String, String>,
    v: Visit,
) -> Response {
    let s = match enter(&v, &service_id, NEED) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match NotificationType::parse(&channel) {
        Some(channel) => respond(activity(&v, &s, channel, &query)),
        None => PageError::NotFound.into_response(),
    }
}

/// A message's timeline: created, sent to the provider, and its final status.
pub fn timeline(n: &Notification, now: i64) -> Vec<TimelineEvent> {
    let mut events = vec![TimelineEvent {
        label: "Created".into(),
        when: when(n.created_at, now),
    }];
    if let Some(sent) = n.sent_at {
        events.push(TimelineEvent {
            label: "Sent".into(),
            when: when(sent, now),
        });
    }
    if n.status.is_final()
        && let Some(at) = n.updated_at
    {
        events.push(TimelineEvent {
            label: status_wording(n.status.as_str(), n.notification_type.as_str()).to_string(),
            when: when(at, now),
        });
    }
    events
}

fn notification(v: &Visit, s: &InService, id: Uuid) -> Result<Response, PageError> {
    let reader = v.app.store.read()?;
    let n = reader
        .get_notification(id)?
        .filter(|n| n.service_id == s.id())
        .ok_or(PageError::NotFound)?;
    let template_name = reader
        .get_template(n.template_id)?
        .map(|t| t.name)
        .unwrap_or_default();
    let channel = n.notification_type.as_str();
    let preview = MessagePreview {
        kind: channel.to_string(),
        from: if n.notification_type == NotificationType::Email {
            s.service.name.clone()
        } else {
            String::new()
        },
        // A letter is shown with its whole address, as printed (the record's `to` is line 1).
        to: if n.notification_type == NotificationType::Letter {
            let p: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&n.personalisation).unwrap_or_default();
            let lines = crate::domain::content::address_lines(&p);
            if lines.is_empty() {
                n.to.clone()
            } else {
                lines.join("\n")
            }
        } else {
            n.to.clone()
        },
        subject: n.subject.clone().unwrap_or_default(),
        html_body: String::new(),
        text_body: n.body.clone(),
        fragments: n.billable_units.max(1),
    };
    let now = v.app.store.clock().now_micros();
    Ok(ok(&web::activity::NotificationPage {
        layout: service_layout(
            channel_name(n.notification_type),
            s,
            Section::SentMessages,
            false,
        ),
        template_name,
        template_href: format!("/services/{}/templates/{}", s.id(), n.template_id),
        recipient: n.to.clone(),
        status: status_wording(n.status.as_str(), channel).to_string(),
        error: status_is_error(n.status.as_str()),
        sent_by: n.created_by_name.clone().unwrap_or_default(),
        reference: n.client_reference.clone().unwrap_or_default(),
        preview,
        timeline: timeline(&n, now),
        pdf_href: has_pdf(&n).then(|| format!("/services/{}/notification/{}.pdf", s.id(), n.id)),
    }))
}

/// A letter whose PDF was made (or is being made): not one refused by the virus scan or
/// failed before its PDF existed.
fn has_pdf(n: &Notification) -> bool {
    n.notification_type == NotificationType::Letter
        && !matches!(
            n.status,
            NotificationStatus::VirusScanFailed
                | NotificationStatus::TechnicalFailure
                | NotificationStatus::PendingVirusCheck
                | NotificationStatus::ValidationFailed
        )
}

/// `/notification/{id}.pdf`: the letter's PDF (404 until it has been made).
async fn letter_pdf(v: &Visit, s: &InService, id: Uuid) -> Result<Response, PageError> {
    let n = v
        .app
        .store
        .read()?
        .get_notification(id)?
        .filter(|n| n.service_id == s.id() && has_pdf(n))
        .ok_or(PageError::NotFound)?;
    let pdf = crate::domain::letters::read_pdf(&v.app, &n)
        .await
        .ok_or(PageError::NotFound)?;
    let mut response = Response::new(pdf.into());
    response.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("application/pdf"),
    );
    Ok(response)
}

async fn get_notification(service_id: String, notification_id: String, v: Visit) -> Response {
    let s = match enter(&v, &service_id, NEED) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if let Some(id) = notification_id.strip_suffix(".pdf") {
        return match Uuid::parse_str(id) {
            Ok(id) => respond(letter_pdf(&v, &s, id).await),
            Err(_) => PageError::NotFound.into_response(),
        };
    }
    match Uuid::parse_str(&notification_id) {
        Ok(id) => respond(notification(&v, &s, id)),
        Err(_) => PageError::NotFound.into_response(),
    }
}

/// The sent-messages pages' routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let v = visit(app);
    let list = warp::path!("services" / String / "notifications" / String)
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(v.clone())
        .then(get_activity);
    let one = warp::path!("services" / String / "notification" / String)
        .and(warp::get())
        .and(v.clone())
        .then(get_notification);
    let download = warp::path!("services" / String / "download-notifications.csv")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(v)
        .then(get_download);
    list.or(one).unify().or(download).unify().boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters_group_statuses_as_upstream() {
        use NotificationStatus::*;
        assert!(StatusFilter::Sending.keeps(Created));
        assert!(!StatusFilter::Sending.keeps(Delivered));
        assert!(StatusFilter::Delivered.keeps(Sent));
        assert!(StatusFilter::Failed.keeps(PermanentFailure));
        assert!(StatusFilter::Failed.keeps(TechnicalFailure));
        assert!(!StatusFilter::Failed.keeps(Delivered));
        assert!(StatusFilter::All.keeps(Cancelled));
        for f in StatusFilter::ALL {
            assert_eq!(StatusFilter::parse(f.key()), f);
        }
    }

    #[test]
    fn search_terms_are_normalised_as_the_index_stores_recipients() {
        assert_eq!(
            search_term(NotificationType::Email, " Ann@Example.com "),
            "ann@example.com"
        );
        assert_eq!(
            search_term(NotificationType::Sms, "07700 900 123"),
            "447700900123"
        );
        assert_eq!(search_term(NotificationType::Email, "ref-42"), "ref-42");
    }

    #[test]
    fn the_timeline_has_what_happened() {
        let day = 86_400_000_000i64;
        let mut n = Notification {
            id: Uuid::now_v7(),
            service_id: Uuid::new_v4(),
            notification_type: NotificationType::Email,
            template_id: Uuid::new_v4(),
            template_version: 1,
            api_key_id: None,
            key_type: storage::records::KeyType::Normal,
            status: NotificationStatus::Sending,
            to: "ann@example.com".into(),
            normalised_to: "ann@example.com".into(),
            personalisation: String::new(),
            body: "Hello".into(),
            subject: Some("Hi".into()),
            client_reference: None,
            job_id: None,
            job_row_number: None,
            reply_to_text: None,
            one_click_unsubscribe_url: None,
            postage: None,
            international: false,
            billable_units: 0,
            sent_by: None,
            created_at: 100 * day,
            sent_at: Some(100 * day + 1_000_000),
            updated_at: Some(100 * day + 1_000_000),
            created_by_name: Some("Ann".into()),
            status_reason: None,
        };
        let labels = |n: &Notification| -> Vec<String> {
            timeline(n, 100 * day)
                .into_iter()
                .map(|e| e.label)
                .collect()
        };
        assert_eq!(labels(&n), ["Created", "Sent"]);
        n.status = NotificationStatus::Delivered;
        assert_eq!(labels(&n), ["Created", "Sent", "Delivered"]);
    }
}
