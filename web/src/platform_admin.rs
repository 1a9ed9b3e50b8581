//! The platform admin pages (`/platform-admin/...`, `/find-services-by-name`,
//! `/find-users-by-email`, `/users/{id}`, `/providers`, `/platform-admin/print-responses`,
//! `/platform-admin/audit`): what a platform admin sees across every service. Their navigation
//! is a [`crate::ServiceNav`] named "Platform admin", filled by the server.

use askama::Template;

use crate::{FormErrors, Layout};

/// One channel's numbers for today.
pub struct ChannelRow {
    /// "Emails", "Text messages", "Letters".
    pub label: String,
    pub requested: u64,
    pub delivered: u64,
    pub failed: u64,
}

/// Today's notifications of one channel in one status.
pub struct StatusRow {
    pub channel: String,
    pub status: String,
    pub count: u64,
}

/// `GET /platform-admin`: the platform at a glance.
#[derive(Template)]
#[template(path = "platform_admin/summary.html")]
pub struct SummaryPage {
    pub layout: Layout,
    pub live_services: usize,
    pub trial_services: usize,
    pub channels: Vec<ChannelRow>,
    pub statuses: Vec<StatusRow>,
}

/// A service in the live or trial list.
pub struct ServiceRow {
    pub id: String,
    pub name: String,
    /// Requested today per channel: emails, text messages, letters.
    pub emails: u64,
    pub texts: u64,
    pub letters: u64,
    /// Failed today, all channels.
    pub failed: u64,
}

/// `GET /platform-admin/live-services` and `/platform-admin/trial-services`.
#[derive(Template)]
#[template(path = "platform_admin/services.html")]
pub struct ServicesPage {
    pub layout: Layout,
    /// "live" or "trial mode", for the sentence under the heading.
    pub kind: String,
    pub services: Vec<ServiceRow>,
}

/// A service a search found.
pub struct FoundService {
    pub id: String,
    pub name: String,
    /// "Live", "Trial mode" or "Archived".
    pub state: String,
}

/// `GET /find-services-by-name?search=`.
#[derive(Template)]
#[template(path = "platform_admin/find_services.html")]
pub struct FindServicesPage {
    pub layout: Layout,
    pub search: String,
    /// A search was made (so "no services found" can be said).
    pub searched: bool,
    pub results: Vec<FoundService>,
}

/// A person a search found.
pub struct FoundUser {
    pub id: String,
    pub name: String,
    pub email_address: String,
}

/// `GET /find-users-by-email?search=`.
#[derive(Template)]
#[template(path = "platform_admin/find_users.html")]
pub struct FindUsersPage {
    pub layout: Layout,
    pub search: String,
    pub searched: bool,
    pub results: Vec<FoundUser>,
}

/// A link to a service.
pub struct ServiceLinkRow {
    pub id: String,
    pub name: String,
}

/// `GET /users/{user_id}`: one person's account.
#[derive(Template)]
#[template(path = "platform_admin/user.html")]
pub struct UserPage {
    pub layout: Layout,
    pub id: String,
    pub name: String,
    pub email_address: String,
    pub mobile_number: String,
    /// "Active", "Pending", "Locked", "Archived".
    pub state: String,
    pub platform_admin: bool,
    /// How they prove who they are after the password.
    pub second_factor: String,
    pub last_signed_in: String,
    pub created: String,
    pub services: Vec<ServiceLinkRow>,
    /// The account's buttons: lock or unlock, reset the second factor, archive (none once
    /// archived).
    pub actions: Vec<UserAction>,
    /// Where "archive" asks first: set on `/users/{id}/archive`, the form that archives.
    pub confirm_archive: Option<String>,
}

/// A button on a person's account page: a form that posts to `action`, or (`asks_first`) a
/// link to the page that asks "are you sure?".
pub struct UserAction {
    pub action: String,
    pub label: String,
    /// A red button (for what takes something away).
    pub warning: bool,
    pub asks_first: bool,
}

/// One text-message provider.
pub struct ProviderRow {
    pub name: String,
    /// Its share of traffic (priority).
    pub share: String,
    pub active: bool,
    pub billable_this_month: String,
    /// "3 of 40 slow" over the switching window.
    pub recent: String,
    pub updated: String,
}

/// `GET /providers`.
#[derive(Template)]
#[template(path = "platform_admin/providers.html")]
pub struct ProvidersPage {
    pub layout: Layout,
    pub email_provider: String,
    pub sms_provider: String,
    pub sms_providers: Vec<ProviderRow>,
    /// The switching window the "recent" column covers, in words.
    pub window: String,
}

/// One response file from the printer.
pub struct PrintResponseRow {
    pub name: String,
    pub processed: String,
    pub lines: u32,
    pub delivered: u32,
    pub failed: usize,
    pub unknown: usize,
}

/// A scheduled job of the letters pipeline and its last run.
pub struct PrintJobRow {
    pub name: String,
    pub description: String,
    pub next_run: String,
    pub last_finished: String,
    pub last_outcome: String,
    pub last_message: String,
}

/// `GET /platform-admin/print-runs`: the print runs and the printer's responses.
#[derive(Template)]
#[template(path = "platform_admin/print_runs.html")]
pub struct PrintRunsPage {
    pub layout: Layout,
    pub jobs: Vec<PrintJobRow>,
    pub responses: Vec<PrintResponseRow>,
}

/// One event of the audit trail.
pub struct AuditRow {
    pub when: String,
    pub action: String,
    pub actor: String,
    /// Link to the person's page, when a person did it.
    pub actor_href: String,
    pub service: String,
    pub service_href: String,
    pub subject: String,
    pub address: String,
}

/// `GET /platform-admin/audit?service=&user=`.
#[derive(Template)]
#[template(path = "platform_admin/audit.html")]
pub struct AuditPage {
    pub layout: Layout,
    pub service: String,
    pub user: String,
    /// A filter that is not an id.
    pub errors: FormErrors,
    pub events: Vec<AuditRow>,
}
