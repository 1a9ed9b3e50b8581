//! Sent messages: `/services/{id}/notifications/{email|sms|letter}` lists a service's messages
//! of one channel, newest first, filtered by status and paged, or finds them by recipient,
//! reference or notification id through the search index; `/services/{id}/notification/
//! {notification_id}` shows one: its status in upstream's words, the message as sent, and when
//! it was created, sent and delivered.
//!
//! Both need `view_activity`.

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
use crate::domain::recipients;

const NEED: Need = Need::Permission(Permission::ViewActivity);

/// Messages on one page of the list.
pub const PAGE_SIZE: usize = 50;

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
    let base = format!("/services/{service_id}/notifications/{}", channel.as_str());
    match status {
        StatusFilter::All => base,
        s => format!("{base}?status={}", s.key()),
    }
}

fn search_label(channel: NotificationType) -> &'static str {
    match channel {
        NotificationType::Email => "Search by email address, reference or notification ID",
        NotificationType::Sms => "Search by phone number, reference or notification ID",
        NotificationType::Letter => "Search by postal address, reference or notification ID",
    }
}

fn activity(
    v: &Visit,
    s: &InService,
    channel: NotificationType,
    query: &HashMap<String, String>,
) -> Result<Response, PageError> {
    let status = StatusFilter::parse(&query_value(query, "status"));
    let search = query_value(query, "to");
    let older_than = Uuid::parse_str(&query_value(query, "older_than")).ok();
    let reader = v.app.store.read()?;
    let mut next_href = None;
    let found: Vec<Notification> = if search.is_empty() {
        let mut page = reader.service_notifications(s.id(), older_than, PAGE_SIZE + 1, |n| {
            n.notification_type == channel && status.keeps(n.status)
        })?;
        if page.len() > PAGE_SIZE {
            page.truncate(PAGE_SIZE);
            if let Some(last) = page.last() {
                let sep = if status == StatusFilter::All {
                    '?'
                } else {
                    '&'
                };
                next_href = Some(format!(
                    "{}{sep}older_than={}",
                    list_href(s.id(), channel, status),
                    last.id
                ));
            }
        }
        page
    } else {
        let term = search_term(channel, &search);
        let ids = v
            .app
            .index
            .search(s.id(), &term, Some(channel.as_str()), PAGE_SIZE)
            .map_err(|e| PageError::Internal(e.to_string()))?;
        let mut out = Vec::new();
        for id in ids {
            // The index may lag or hold a message retention has since removed.
            if let Some(n) = reader.get_notification(id)?
                && n.service_id == s.id()
                && status.keeps(n.status)
            {
                out.push(n);
            }
        }
        out
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
    }))
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
        to: n.to.clone(),
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
    }))
}

async fn get_notification(service_id: String, notification_id: String, v: Visit) -> Response {
    let s = match enter(&v, &service_id, NEED) {
        Ok(s) => s,
        Err(r) => return *r,
    };
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
        .and(v)
        .then(get_notification);
    list.or(one).unify().boxed()
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
