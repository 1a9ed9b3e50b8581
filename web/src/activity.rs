//! Sent messages: the list of a service's messages of one channel (`/services/{id}/
//! notifications/{email|sms|letter}`) with a search box and a status filter, and one
//! message's page (`/services/{id}/notification/{notification_id}`).

use askama::Template;

use crate::template_pages::MessagePreview;
use crate::{Layout, NavItem};

/// Upstream's words for a message's status, by channel (`format_notification_status`):
/// "Delivering", "Delivered", "Email address does not exist"... Statuses it has no words for
/// show as they are.
pub fn status_wording<'a>(status: &'a str, channel: &str) -> &'a str {
    match (channel, status) {
        (_, "failed") if channel != "letter" => "Failed",
        (_, "technical-failure") => "Technical failure",
        (_, "validation-failed") if channel != "email" => "Validation failed",
        ("email", "temporary-failure") => "Inbox not accepting messages right now",
        ("email", "permanent-failure") => "Email address does not exist",
        ("email", "delivered" | "sent") => "Delivered",
        ("email", "sending" | "created") => "Delivering",
        ("sms", "temporary-failure") => "Phone not accepting messages right now",
        ("sms", "permanent-failure") => "Not delivered",
        ("sms", "delivered") => "Delivered",
        ("sms", "sending" | "created" | "pending") => "Delivering",
        ("sms", "sent") => "Sent to an international number",
        ("letter", "permanent-failure") => "Permanent failure",
        ("letter", "virus-scan-failed") => "Virus detected",
        ("letter", "cancelled") => "Cancelled",
        ("letter", "returned-letter") => "Returned",
        ("letter", _) => "Sent",
        _ => status,
    }
}

/// Whether upstream shows the status as an error (red).
pub fn status_is_error(status: &str) -> bool {
    matches!(
        status,
        "failed"
            | "technical-failure"
            | "temporary-failure"
            | "permanent-failure"
            | "validation-failed"
            | "virus-scan-failed"
    )
}

/// One message in the list.
#[derive(Debug, Clone)]
pub struct NotificationRow {
    pub href: String,
    pub recipient: String,
    pub template_name: String,
    pub status: String,
    pub error: bool,
    pub when: String,
}

/// `GET /services/{id}/notifications/{channel}`.
#[derive(Template)]
#[template(path = "service/activity.html")]
pub struct ActivityPage {
    pub layout: Layout,
    /// Emails, Text messages, Letters.
    pub channels: Vec<NavItem>,
    /// All, Sending, Delivered, Failed.
    pub statuses: Vec<NavItem>,
    /// Where the search form goes (the page itself).
    pub action: String,
    /// The status filter the search keeps.
    pub status: String,
    /// What was searched for (empty: the newest messages).
    pub search: String,
    /// The search box's label: "Search by email address, reference or notification ID".
    pub search_label: String,
    pub rows: Vec<NotificationRow>,
    /// The next (older) page.
    pub next_href: Option<String>,
    /// The page before, for a search's later pages.
    pub previous_href: Option<String>,
    /// These messages as a CSV file (upstream's "Download this report").
    pub download_href: String,
}

/// One moment of a message's life.
#[derive(Debug, Clone)]
pub struct TimelineEvent {
    pub label: String,
    pub when: String,
}

/// `GET /services/{id}/notification/{notification_id}`.
#[derive(Template)]
#[template(path = "service/notification.html")]
pub struct NotificationPage {
    pub layout: Layout,
    pub template_name: String,
    pub template_href: String,
    pub recipient: String,
    pub status: String,
    pub error: bool,
    pub sent_by: String,
    pub reference: String,
    pub preview: MessagePreview,
    pub timeline: Vec<TimelineEvent>,
    /// A letter: its PDF, as the printer gets it.
    pub pdf_href: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_worded_as_upstream() {
        assert_eq!(status_wording("created", "email"), "Delivering");
        assert_eq!(status_wording("sending", "sms"), "Delivering");
        assert_eq!(status_wording("delivered", "email"), "Delivered");
        assert_eq!(
            status_wording("permanent-failure", "email"),
            "Email address does not exist"
        );
        assert_eq!(status_wording("permanent-failure", "sms"), "Not delivered");
        assert_eq!(
            status_wording("temporary-failure", "sms"),
            "Phone not accepting messages right now"
        );
        assert_eq!(
            status_wording("sent", "sms"),
            "Sent to an international number"
        );
        assert_eq!(
            status_wording("technical-failure", "letter"),
            "Technical failure"
        );
        assert_eq!(status_wording("something-new", "email"), "something-new");
        assert!(status_is_error("permanent-failure"));
        assert!(!status_is_error("delivered"));
    }

    #[test]
    fn activity_page_keeps_the_search_and_escapes_rows() {
        let html = ActivityPage {
            layout: Layout::new("Sent messages"),
            channels: vec![],
            statuses: vec![],
            action: "/services/s/notifications/email".into(),
            status: "failed".into(),
            search: "ann@example.com".into(),
            search_label: "Search by email address, reference or notification ID".into(),
            rows: vec![NotificationRow {
                href: "/services/s/notification/n".into(),
                recipient: "<ann>".into(),
                template_name: "Reminder".into(),
                status: "Delivered".into(),
                error: false,
                when: "today at 1:00pm".into(),
            }],
            next_href: Some("/services/s/notifications/email?older_than=n".into()),
            previous_href: None,
            download_href: "/services/s/download-notifications.csv?message_type=email".into(),
        }
        .render()
        .unwrap();
        assert!(html.contains(r#"value="ann@example.com""#));
        assert!(html.contains(r#"name="status" value="failed""#));
        assert!(!html.contains("<ann>"));
        assert!(html.contains("Next page"));
        assert!(!html.contains("Previous page"));
        assert!(html.contains("Download this report (CSV)"));
    }
}
