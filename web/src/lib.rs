//! The web pages of the appliance: askama templates from `web/templates` and files from
//! `web/static`, both compiled into the binary so a deployment is one file.
//!
//! Pages are plain structs; the server fills them and calls `render()`.

use askama::Template;

/// Re-exported so the server's page handlers can name `Template` without their own dependency.
pub use askama;

pub mod accounts;
pub mod activity;
pub mod api_integration;
pub mod contact_lists;
pub mod dashboard;
pub mod jobs;
pub mod layout;
pub mod people;
pub mod platform_admin;
pub mod send;
pub mod settings;
pub mod sso;
pub mod template_pages;
pub use accounts::{
    AuthenticatorPage, ChoosePasswordPage, ServiceLink, SignInPage, TwoFactorPage, YourServicesPage,
};
pub use layout::{Banner, Choice, FieldError, FormErrors, Layout, NavItem, ServiceNav, UserBar};
pub use people::{
    ButtonForm, EditMemberPage, ForgotPasswordPage, InvitePage, InvitedRow, MemberRow,
    NewPasswordPage, NoticePage, PermissionMark, RegisterPage, TeamPage, UserProfilePage,
};
pub use sso::SsoRefusedPage;

/// `GET /`: what the appliance is doing right now.
#[derive(Template)]
#[template(path = "status.html")]
pub struct StatusPage {
    pub layout: Layout,
    pub version: String,
    pub schema_version: u32,
    pub uptime: String,
    pub total_notifications: u64,
    /// (status, count), only statuses with notifications.
    pub statuses: Vec<(String, u64)>,
    /// (queue, ready, leased).
    pub queues: Vec<(String, u64, u64)>,
    /// Notification changes not yet in the search index.
    pub index_lag: u64,
    pub indexed_documents: u64,
}

impl StatusPage {
    pub fn render_html(&self) -> Result<String, askama::Error> {
        self.render()
    }
}

/// `GET /d/{service_id}/{document_id}`: the recipient confirms their email address before a
/// file sent by email can be downloaded. The form posts to `action` with the key hidden.
#[derive(Template)]
#[template(path = "document_confirm.html")]
pub struct DocumentConfirmPage {
    pub layout: Layout,
    /// Where the form posts: `/d/{service_id}/{document_id}/confirm`.
    pub action: String,
    /// The document key from the link (base64url), sent back in a hidden field.
    pub key: String,
    /// What the recipient typed last time (empty on the first visit).
    pub email_address: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

impl DocumentConfirmPage {
    pub fn render_html(&self) -> Result<String, askama::Error> {
        self.render()
    }
}

/// A document link that is wrong, for a document that does not exist, or that has expired.
#[derive(Template)]
#[template(path = "document_unavailable.html")]
pub struct DocumentUnavailablePage {
    pub layout: Layout,
}

impl DocumentUnavailablePage {
    pub fn render_html(&self) -> Result<String, askama::Error> {
        self.render()
    }
}

/// One message of the outbox page.
pub struct OutboxEntry {
    pub notification_id: String,
    pub to: String,
    pub from: String,
    pub reply_to: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    pub unsubscribe_url: Option<String>,
    pub created_at: String,
}

/// `GET /outbox`: what the outbox providers kept, newest first.
#[derive(Template)]
#[template(path = "outbox.html")]
pub struct OutboxPage {
    pub layout: Layout,
    pub messages: Vec<OutboxEntry>,
    /// The `before` cursor of the next (older) page.
    pub older: Option<u64>,
}

impl OutboxPage {
    pub fn render_html(&self) -> Result<String, askama::Error> {
        self.render()
    }
}

/// One row of the scheduler page.
pub struct ScheduledJobRow {
    pub name: String,
    pub description: String,
    pub schedule: String,
    pub next_run: String,
    pub running: bool,
    pub last_finished: String,
    pub last_outcome: String,
    pub last_message: String,
}

/// `GET /scheduler`: every scheduled job, its schedule, next run and last run.
#[derive(Template)]
#[template(path = "scheduler.html")]
pub struct SchedulerPage {
    pub layout: Layout,
    pub jobs: Vec<ScheduledJobRow>,
}

impl SchedulerPage {
    pub fn render_html(&self) -> Result<String, askama::Error> {
        self.render()
    }
}

/// One alert on the alerts page.
pub struct AlertRow {
    pub kind: String,
    pub message: String,
    pub details: Vec<String>,
    pub created_at: String,
}

/// `GET /alerts`: operator alerts, newest first.
#[derive(Template)]
#[template(path = "alerts.html")]
pub struct AlertsPage {
    pub layout: Layout,
    pub alerts: Vec<AlertRow>,
}

impl AlertsPage {
    pub fn render_html(&self) -> Result<String, askama::Error> {
        self.render()
    }
}

/// A page for an error (404, 403, 500): its title in the layout, and what to do.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub message: String,
}

/// A static asset by its path under `/static/`: (bytes, content type).
pub fn asset(path: &str) -> Option<(&'static [u8], &'static str)> {
    match path {
        "style.css" => Some((
            include_bytes!("../static/style.css"),
            "text/css; charset=utf-8",
        )),
        "favicon.svg" => Some((include_bytes!("../static/favicon.svg"), "image/svg+xml")),
        "preview.js" => Some((
            include_bytes!("../static/preview.js"),
            "text/javascript; charset=utf-8",
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_page_renders_and_escapes() {
        let page = StatusPage {
            layout: Layout::new("Status"),
            version: "1.2.3".into(),
            schema_version: 1,
            uptime: "5s".into(),
            total_notifications: 3,
            statuses: vec![("created".into(), 2), ("<b>".into(), 1)],
            queues: vec![("deliver-email".into(), 7, 1)],
            index_lag: 0,
            indexed_documents: 3,
        };
        let html = page.render_html().unwrap();
        assert!(html.contains("1.2.3"));
        assert!(html.contains("deliver-email"));
        assert!(html.contains("&#60;b&#62;") || html.contains("&lt;b&gt;"));
        assert!(!html.contains("<b>"));
    }

    #[test]
    fn document_pages_render_and_escape() {
        let page = DocumentConfirmPage {
            layout: Layout::new("Confirm your email address"),
            action: "/d/a/b/confirm".into(),
            key: "k-_\"x".into(),
            email_address: "<me>@example.com".into(),
            error: Some("This is not the email address the file was sent to".into()),
        };
        let html = page.render_html().unwrap();
        assert!(html.contains(r#"action="/d/a/b/confirm""#));
        assert!(html.contains("This is not the email address the file was sent to"));
        assert!(!html.contains("<me>"));
        assert!(!html.contains(r#"k-_"x"#));
        let first = DocumentConfirmPage {
            error: None,
            ..page
        };
        assert!(!first.render_html().unwrap().contains("There is a problem"));
        let gone = DocumentUnavailablePage {
            layout: Layout::new("No longer available"),
        }
        .render_html()
        .unwrap();
        assert!(gone.contains("no longer available"));
    }

    #[test]
    fn scheduler_and_alerts_pages_render_and_escape() {
        let page = SchedulerPage {
            layout: Layout::new("Scheduled jobs"),
            jobs: vec![ScheduledJobRow {
                name: "delete-notifications-older-than-retention".into(),
                description: "Archive".into(),
                schedule: "0 0 3 * * *".into(),
                next_run: "2026-11-23 03:00:00 GMT".into(),
                running: false,
                last_finished: String::new(),
                last_outcome: "failed".into(),
                last_message: "<disk>".into(),
            }],
        };
        let html = page.render_html().unwrap();
        assert!(html.contains("delete-notifications-older-than-retention"));
        assert!(html.contains("2026-11-23 03:00:00 GMT"));
        assert!(!html.contains("<disk>"));
        let alerts = AlertsPage {
            layout: Layout::new("Alerts"),
            alerts: vec![AlertRow {
                kind: "letters-still-created".into(),
                message: "3 letters".into(),
                details: vec!["<ref>".into()],
                created_at: "2026-11-22T07:00:00.000000Z".into(),
            }],
        };
        let html = alerts.render_html().unwrap();
        assert!(html.contains("letters-still-created"));
        assert!(!html.contains("<ref>"));
        assert!(
            AlertsPage {
                layout: Layout::new("Alerts"),
                alerts: vec![]
            }
            .render_html()
            .unwrap()
            .contains("No alerts")
        );
    }

    #[test]
    fn assets_are_embedded() {
        let (css, mime) = asset("style.css").unwrap();
        assert!(!css.is_empty());
        assert!(mime.starts_with("text/css"));
        assert!(asset("../Cargo.toml").is_none());
    }
}
