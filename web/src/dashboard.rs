//! A service's dashboard (`/services/{id}`): what it sent today and in the last 7 days by
//! channel and status, its recent failures and its use of today's limits; and the form that
//! adds a service (`/add-service`).

use askama::Template;

use crate::{FormErrors, Layout};

/// One channel's counts over a period.
#[derive(Debug, Clone)]
pub struct ChannelTotals {
    /// "emails", "text messages", "letters".
    pub label: String,
    /// Where its messages are listed (`/services/{id}/notifications/email`).
    pub href: String,
    pub requested: u64,
    pub delivered: u64,
    pub failed: u64,
}

/// A count as people read it: `250000` → `250,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl ChannelTotals {
    pub fn requested_text(&self) -> String {
        thousands(self.requested)
    }

    pub fn delivered_text(&self) -> String {
        thousands(self.delivered)
    }

    pub fn failed_text(&self) -> String {
        thousands(self.failed)
    }
}

/// How many messages of one channel ended in one status.
#[derive(Debug, Clone)]
pub struct StatusCount {
    pub channel: String,
    pub status: String,
    pub count: u64,
}

/// A message that failed, with a link to its page.
#[derive(Debug, Clone)]
pub struct FailureRow {
    pub href: String,
    pub recipient: String,
    pub template_name: String,
    pub status: String,
    pub when: String,
}

/// Today's use of one daily limit.
#[derive(Debug, Clone)]
pub struct UsageRow {
    pub label: String,
    pub sent: u64,
    pub limit: u64,
}

impl UsageRow {
    pub fn sent_text(&self) -> String {
        thousands(self.sent)
    }

    pub fn limit_text(&self) -> String {
        thousands(self.limit)
    }

    pub fn remaining_text(&self) -> String {
        thousands(self.limit.saturating_sub(self.sent))
    }
}

/// `GET /services/{id}`.
#[derive(Template)]
#[template(path = "service/dashboard.html")]
pub struct DashboardPage {
    pub layout: Layout,
    pub today: Vec<ChannelTotals>,
    pub week: Vec<ChannelTotals>,
    /// The last 7 days by channel and status (statuses with messages only).
    pub week_statuses: Vec<StatusCount>,
    pub failures: Vec<FailureRow>,
    pub usage: Vec<UsageRow>,
    pub templates_href: String,
}

/// `GET /add-service`: name a new service (the person becomes its first member).
#[derive(Template)]
#[template(path = "service/add_service.html")]
pub struct AddServicePage {
    pub layout: Layout,
    pub name: String,
    pub errors: FormErrors,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_in_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(250_000), "250,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn dashboard_shows_counts_usage_and_failures_escaped() {
        let html = DashboardPage {
            layout: Layout::new("Dashboard"),
            today: vec![ChannelTotals {
                label: "emails".into(),
                href: "/services/s/notifications/email".into(),
                requested: 12,
                delivered: 10,
                failed: 2,
            }],
            week: vec![],
            week_statuses: vec![StatusCount {
                channel: "Email".into(),
                status: "Delivered".into(),
                count: 10,
            }],
            failures: vec![FailureRow {
                href: "/services/s/notification/n".into(),
                recipient: "<x>@example.com".into(),
                template_name: "Reminder".into(),
                status: "Email address does not exist".into(),
                when: "today".into(),
            }],
            usage: vec![UsageRow {
                label: "emails".into(),
                sent: 12,
                limit: 1000,
            }],
            templates_href: "/services/s/templates".into(),
        }
        .render()
        .unwrap();
        assert!(html.contains("12"));
        assert!(html.contains("988"), "{html}");
        assert!(html.contains("Email address does not exist"));
        assert!(!html.contains("<x>"));
    }
}
