//! The platform admin pages: the summary (`/platform-admin`), live and trial-mode services,
//! finding services by name and people by email address, a person's account (`/users/{id}`),
//! the providers, the print runs and the printer's responses, and the audit trail — with the
//! platform admin navigation the operator pages (`/`, `/outbox`, `/scheduler`, `/alerts`)
//! share, and "run now" for a scheduled job.
//!
//! Every page here needs a signed-in platform admin (the domain's [`Need::PlatformAdmin`]):
//! nobody signed in is sent to sign in, anyone else gets the 403 page. The operator pages keep
//! their own gate ([`super::operator`]) and take their layout from [`layout`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use storage::records::{AuditEvent, AuthType, NotificationStatus, NotificationType, UserState};
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use web::platform_admin as pages;
use web::{FormErrors, Layout, NavItem, ServiceNav, UserBar};

use super::done::Done;
use super::services::{channel_plural, refusal, when};
use super::session::{Visit, csrf_matches, visit};
use super::{Form, PageError, html, ok, redirect, respond};
use crate::app::App;
use crate::domain::accounts::sessions::Checked;
use crate::domain::accounts::{Action, Actor, Entry, Need, audit};
use crate::domain::platform_admin::{self as platform, ChannelCounts};
use crate::scheduler;

/// Which platform admin page is shown (its navigation item is marked current).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Summary,
    LiveServices,
    TrialServices,
    FindServices,
    FindUsers,
    Providers,
    PrintRuns,
    Audit,
    Status,
    Outbox,
    Scheduler,
    Alerts,
}

/// The platform admin navigation.
pub fn nav(current: Section) -> ServiceNav {
    use Section::*;
    let items = [
        ("Summary", "/platform-admin", Summary),
        (
            "Live services",
            "/platform-admin/live-services",
            LiveServices,
        ),
        (
            "Trial mode services",
            "/platform-admin/trial-services",
            TrialServices,
        ),
        ("Find services", "/find-services-by-name", FindServices),
        ("Find users", "/find-users-by-email", FindUsers),
        ("Providers", "/providers", Providers),
        ("Print runs", "/platform-admin/print-runs", PrintRuns),
        ("Audit trail", "/platform-admin/audit", Audit),
        ("System status", "/", Status),
        ("Outbox", "/outbox", Outbox),
        ("Scheduled jobs", "/scheduler", Scheduler),
        ("Alerts", "/alerts", Alerts),
    ];
    ServiceNav {
        name: "Platform admin".into(),
        trial_mode: false,
        items: items
            .into_iter()
            .map(|(label, href, section)| NavItem {
                label: label.into(),
                href: href.into(),
                current: section == current,
            })
            .collect(),
    }
}

/// A platform admin page's layout: the signed-in header (none for the operator pages'
/// developer convenience, whose visitor has not signed in) and the platform admin navigation.
pub fn layout(title: &str, session: Option<&Checked>, current: Section) -> Layout {
    let mut layout = Layout::new(title);
    if let Some(s) = session {
        layout.csrf_token = s.session.csrf_token.clone();
        layout.user = Some(UserBar {
            name: s.person.user.name.clone(),
            platform_admin: s.person.user.platform_admin,
        });
    }
    layout.service = Some(nav(current));
    layout
}

/// An operator page's layout for this visit (signed in or the developer convenience).
pub fn operator_layout(v: &Visit, title: &str, current: Section) -> Layout {
    layout(title, v.signed_in().as_ref(), current)
}

/// A signed-in platform admin.
struct Admin {
    session: Checked,
    actor: Actor,
}

impl Admin {
    fn layout(&self, title: &str, current: Section) -> Layout {
        layout(title, Some(&self.session), current)
    }
}

/// Let a signed-in platform admin in: to sign in for nobody, the 403 page for anyone else.
fn enter(v: &Visit) -> Result<Admin, Box<Response>> {
    let Some(session) = v.signed_in() else {
        return Err(Box::new(redirect("/sign-in")));
    };
    let actor = session.actor(v.address());
    actor
        .require(Need::PlatformAdmin, None, None)
        .map_err(refusal)?;
    Ok(Admin { session, actor })
}

fn now(v: &Visit) -> i64 {
    v.app.store.clock().now_micros()
}

/// Upstream's plural channel name, capitalised for a table row.
fn channel_label(kind: NotificationType) -> String {
    let plural = channel_plural(kind);
    let mut chars = plural.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn count_of(today: &[(NotificationType, ChannelCounts)], kind: NotificationType) -> ChannelCounts {
    today
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, c)| *c)
        .unwrap_or_default()
}

// ---- /platform-admin ----

fn summary(v: &Visit, a: &Admin) -> Result<Response, PageError> {
    let s = platform::summary(&v.app, &a.actor)?;
    let channels = s
        .today
        .iter()
        .map(|(kind, c)| pages::ChannelRow {
            label: channel_label(*kind),
            requested: c.requested,
            delivered: c.delivered,
            failed: c.failed,
        })
        .collect();
    let statuses = s
        .today_by_status
        .iter()
        .map(|(kind, status, count)| pages::StatusRow {
            channel: channel_label(*kind),
            status: status_words(*status),
            count: *count,
        })
        .collect();
    Ok(ok(&pages::SummaryPage {
        layout: a.layout("Summary", Section::Summary),
        live_services: s.live_services,
        trial_services: s.trial_services,
        channels,
        statuses,
    }))
}

/// A status as the pages say it ("temporary-failure" reads "temporary failure").
fn status_words(status: NotificationStatus) -> String {
    status.as_str().replace('-', " ")
}

// ---- /platform-admin/live-services, /platform-admin/trial-services ----

fn services(v: &Visit, a: &Admin, live: bool) -> Result<Response, PageError> {
    let rows = platform::services(&v.app, &a.actor, live)?
        .into_iter()
        .map(|r| pages::ServiceRow {
            id: r.service.id.to_string(),
            name: r.service.name,
            emails: count_of(&r.today, NotificationType::Email).requested,
            texts: count_of(&r.today, NotificationType::Sms).requested,
            letters: count_of(&r.today, NotificationType::Letter).requested,
            failed: r.today.iter().map(|(_, c)| c.failed).sum(),
        })
        .collect();
    let (title, kind, section) = if live {
        ("Live services", "live", Section::LiveServices)
    } else {
        ("Trial mode services", "trial mode", Section::TrialServices)
    };
    Ok(ok(&pages::ServicesPage {
        layout: a.layout(title, section),
        kind: kind.into(),
        services: rows,
    }))
}

// ---- /find-services-by-name, /find-users-by-email ----

fn search_of(q: &HashMap<String, String>) -> (String, bool) {
    let search = q.get("search").map(|s| s.trim().to_string());
    let searched = search.as_deref().is_some_and(|s| !s.is_empty());
    (search.unwrap_or_default(), searched)
}

fn find_services(v: &Visit, a: &Admin, q: &HashMap<String, String>) -> Result<Response, PageError> {
    let (search, searched) = search_of(q);
    let results = platform::find_services(&v.app, &a.actor, &search)?
        .into_iter()
        .map(|s| pages::FoundService {
            id: s.id.to_string(),
            state: if !s.active {
                "Archived"
            } else if s.restricted {
                "Trial mode"
            } else {
                "Live"
            }
            .into(),
            name: s.name,
        })
        .collect();
    Ok(ok(&pages::FindServicesPage {
        layout: a.layout("Find services by name", Section::FindServices),
        search,
        searched,
        results,
    }))
}

fn find_users(v: &Visit, a: &Admin, q: &HashMap<String, String>) -> Result<Response, PageError> {
    let (search, searched) = search_of(q);
    let results = platform::find_users(&v.app, &a.actor, &search)?
        .into_iter()
        .map(|u| pages::FoundUser {
            id: u.id.to_string(),
            name: u.name,
            email_address: u.email_address,
        })
        .collect();
    Ok(ok(&pages::FindUsersPage {
        layout: a.layout("Find users by email", Section::FindUsers),
        search,
        searched,
        results,
    }))
}

// ---- /users/{user_id} ----

/// The buttons of an account in `state` signing in with `auth_type`.
fn user_actions(id: Uuid, state: UserState, auth_type: AuthType) -> Vec<pages::UserAction> {
    let action = |path: &str, label: &str, warning: bool, asks_first: bool| pages::UserAction {
        action: format!("/users/{id}/{path}"),
        label: label.into(),
        warning,
        asks_first,
    };
    let mut actions = Vec::new();
    match state {
        UserState::Archived => return actions,
        UserState::Locked => actions.push(action("unlock", "Unlock account", false, false)),
        UserState::Active | UserState::Pending => {
            actions.push(action("lock", "Lock account", false, false))
        }
    }
    if auth_type != AuthType::Email {
        actions.push(action(
            "reset-second-factor",
            "Reset second factor to email",
            false,
            false,
        ));
    }
    actions.push(action("archive", "Archive user", true, true));
    actions
}

fn user_page(
    v: &Visit,
    a: &Admin,
    user_id: &str,
    confirm_archive: bool,
) -> Result<Response, PageError> {
    let id = Uuid::parse_str(user_id).map_err(|_| PageError::NotFound)?;
    let detail = platform::user_detail(&v.app, &a.actor, id)?;
    let u = detail.user;
    let now = now(v);
    let mut layout = a.layout(&u.name, Section::FindUsers);
    layout.back_link = Some("/find-users-by-email".into());
    layout.banner = v.done_banner();
    // Nobody locks or archives themselves (the domain refuses it too).
    let actions = if a.actor.id() == Some(u.id) {
        Vec::new()
    } else {
        user_actions(u.id, u.state, u.auth_type)
    };
    let confirm_archive =
        (confirm_archive && !actions.is_empty()).then(|| format!("/users/{}/archive", u.id));
    Ok(ok(&pages::UserPage {
        layout,
        id: u.id.to_string(),
        email_address: u.email_address,
        mobile_number: u.mobile_number.unwrap_or_default(),
        state: match u.state {
            UserState::Active => "Active",
            UserState::Pending => "Pending: has not chosen a password yet",
            UserState::Locked => "Locked",
            UserState::Archived => "Archived",
        }
        .into(),
        platform_admin: u.platform_admin,
        second_factor: match u.auth_type {
            AuthType::Sms => "Text message code",
            AuthType::Email => "Email code",
            AuthType::Totp => "Authenticator app",
        }
        .into(),
        last_signed_in: u
            .logged_in_at
            .map_or_else(|| "Never".into(), |t| when(t, now)),
        created: when(u.created_at, now),
        services: detail
            .services
            .into_iter()
            .map(|s| pages::ServiceLinkRow {
                id: s.id.to_string(),
                name: s.name,
            })
            .collect(),
        name: u.name,
        actions,
        confirm_archive,
    }))
}

/// POST /users/{id}/{lock|unlock|reset-second-factor|archive}: change an account's standing
/// (the domain checks the platform admin and records it), then show the account again.
async fn post_standing(user_id: String, change: String, v: Visit, body: Bytes) -> Response {
    use crate::domain::accounts::users::{self, Standing};
    let a = match enter(&v) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let (Ok(id), Some((standing, done))) = (
        Uuid::parse_str(&user_id),
        match change.as_str() {
            "lock" => Some((Standing::Lock, Done::AccountLocked)),
            "unlock" => Some((Standing::Unlock, Done::AccountUnlocked)),
            "reset-second-factor" => Some((Standing::ResetSecondFactor, Done::SecondFactorReset)),
            "archive" => Some((Standing::Archive, Done::AccountArchived)),
            _ => None,
        },
    ) else {
        return PageError::NotFound.into_response();
    };
    let form = Form::parse(&body);
    if !csrf_matches(&form.get("csrf_token"), &a.session.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    match users::change_standing(&v.app, &a.actor, id, standing).await {
        Ok(_) => redirect(&done.on(&format!("/users/{id}"))),
        // Archived already (another tab): the page says so.
        Err(e) if e.code() == crate::domain::Code::Invalid => redirect(&format!("/users/{id}")),
        Err(e) => PageError::from(e).into_response(),
    }
}

// ---- /providers ----

fn providers(v: &Visit, a: &Admin) -> Result<Response, PageError> {
    let p = platform::providers(&v.app, &a.actor)?;
    let now = now(v);
    let sms_providers = p
        .sms_providers
        .iter()
        .map(|json| {
            let name = json["identifier"].as_str().unwrap_or_default().to_string();
            let recent = p
                .recent
                .iter()
                .find(|r| r.provider == name)
                .map_or_else(String::new, |r| format!("{} of {} slow", r.slow, r.total));
            let updated = json["updated_at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map_or_else(|| "Never".to_string(), |t| when(t.timestamp_micros(), now));
            pages::ProviderRow {
                share: json["priority"].to_string(),
                active: json["active"].as_bool().unwrap_or(false),
                billable_this_month: json["current_month_billable_sms"].to_string(),
                recent,
                updated,
                name,
            }
        })
        .collect();
    Ok(ok(&pages::ProvidersPage {
        layout: a.layout("Providers", Section::Providers),
        email_provider: p.email,
        sms_provider: p.sms,
        sms_providers,
        window: minutes(p.window_seconds),
    }))
}

fn minutes(seconds: u64) -> String {
    match seconds {
        60 => "last minute".into(),
        s if s % 60 == 0 => format!("last {} minutes", s / 60),
        s => format!("last {s} seconds"),
    }
}

// ---- /platform-admin/print-runs ----

/// Responses listed at most.
const PRINT_RESPONSES: usize = 100;

fn print_runs(v: &Visit, a: &Admin) -> Result<Response, PageError> {
    let jobs = scheduler::list(&v.app)
        .map_err(|e| PageError::Internal(e.to_string()))?
        .into_iter()
        .filter(|j| j.name.contains("letter") || j.name.contains("dvla"))
        .map(|j| pages::PrintJobRow {
            name: j.name.to_string(),
            description: j.description.to_string(),
            next_run: j.next_run.unwrap_or_default(),
            last_finished: if j.running {
                "Running now".into()
            } else {
                j.last_finished.unwrap_or_default()
            },
            last_outcome: j.last_outcome.unwrap_or_default(),
            last_message: j.last_message.unwrap_or_default(),
        })
        .collect();
    let now = now(v);
    let responses = platform::print_responses(&v.app, &a.actor, PRINT_RESPONSES)?
        .into_iter()
        .map(|f| pages::PrintResponseRow {
            processed: when(f.processed_at, now),
            lines: f.lines,
            delivered: f.delivered,
            failed: f.failed.len(),
            unknown: f.unknown.len(),
            name: f.name,
        })
        .collect();
    Ok(ok(&pages::PrintRunsPage {
        layout: a.layout("Print runs", Section::PrintRuns),
        jobs,
        responses,
    }))
}

// ---- /platform-admin/audit ----

/// Events the audit page shows at most.
const AUDIT_PAGE: usize = 200;

fn audit_page(v: &Visit, a: &Admin, q: &HashMap<String, String>) -> Result<Response, PageError> {
    let field = |name: &str| {
        q.get(name)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let (service, user) = (field("service"), field("user"));
    let mut errors = FormErrors::default();
    let parse = |value: &str, name: &str, errors: &mut FormErrors, what: &str| {
        if value.is_empty() {
            return None;
        }
        let id = Uuid::parse_str(value).ok();
        if id.is_none() {
            errors.add(
                name,
                format!("Enter a {what} ID, like 0f8fad5b-d9cb-469f-a165-70867728950e"),
            );
        }
        id
    };
    let service_id = parse(&service, "service", &mut errors, "service");
    let user_id = parse(&user, "user", &mut errors, "user");
    let events = if errors.is_empty() {
        platform::audit_events(&v.app, &a.actor, service_id, user_id, AUDIT_PAGE)?
    } else {
        vec![]
    };
    let names = platform::service_names(&v.app, &a.actor)?;
    let now = now(v);
    let events = events.iter().map(|e| audit_row(e, &names, now)).collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut layout = a.layout("Audit trail", Section::Audit);
    layout.has_errors = !errors.is_empty();
    Ok(html(
        status,
        &pages::AuditPage {
            layout,
            service,
            user,
            errors,
            events,
        },
    ))
}

fn audit_row(e: &AuditEvent, names: &BTreeMap<Uuid, String>, now: i64) -> pages::AuditRow {
    let person = e.actor_kind == "user";
    pages::AuditRow {
        when: when(e.created_at, now),
        action: e.action.clone(),
        actor: if e.actor_name.is_empty() {
            e.actor_kind.clone()
        } else {
            e.actor_name.clone()
        },
        actor_href: match e.actor_id {
            Some(id) if person => format!("/users/{id}"),
            _ => String::new(),
        },
        service: e
            .service_id
            .map(|id| names.get(&id).cloned().unwrap_or_else(|| id.to_string()))
            .unwrap_or_default(),
        service_href: e
            .service_id
            .filter(|id| names.contains_key(id))
            .map(|id| format!("/services/{id}"))
            .unwrap_or_default(),
        subject: e.subject_id.clone().unwrap_or_default(),
        address: e.address.clone().unwrap_or_default(),
    }
}

// ---- POST /scheduler/{name}/run ----

/// Run a scheduled job now (as `notify jobs run NAME` does), record who did, and show the
/// scheduler page with the outcome in its table.
async fn run_job(name: String, v: Visit, body: Bytes) -> Response {
    let a = match enter(&v) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let form = Form::parse(&body);
    if !csrf_matches(&form.get("csrf_token"), &a.session.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    let report = match scheduler::run_now(&v.app, &name).await {
        Ok(report) => report,
        Err(scheduler::SchedulerError::UnknownJob(_)) => {
            return PageError::NotFound.into_response();
        }
        Err(scheduler::SchedulerError::AlreadyRunning(_)) => {
            return redirect(&format!("/scheduler?running={name}"));
        }
        Err(e) => return PageError::Internal(e.to_string()).into_response(),
    };
    let entry = Entry::new(&a.actor, Action::ScheduledJobRun)
        .subject(&name)
        .details(serde_json::json!({ "outcome": report }));
    if let Err(e) = audit::record(&v.app, entry).await {
        return PageError::from(e).into_response();
    }
    redirect(&format!("/scheduler?ran={name}"))
}

/// A platform admin page's handler: let the platform admin in, then build the page.
fn admitted(v: &Visit, page: impl FnOnce(&Admin) -> Result<Response, PageError>) -> Response {
    match enter(v) {
        Ok(a) => respond(page(&a)),
        Err(r) => *r,
    }
}

/// The platform admin pages' routes (the operator pages have theirs where their data is).
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let v = visit(app);
    let query = warp::query::<HashMap<String, String>>;
    let summary_route = warp::path!("platform-admin")
        .and(warp::get())
        .and(v.clone())
        .map(|v: Visit| admitted(&v, |a| summary(&v, a)));
    let live = warp::path!("platform-admin" / "live-services")
        .and(warp::get())
        .and(v.clone())
        .map(|v: Visit| admitted(&v, |a| services(&v, a, true)));
    let trial = warp::path!("platform-admin" / "trial-services")
        .and(warp::get())
        .and(v.clone())
        .map(|v: Visit| admitted(&v, |a| services(&v, a, false)));
    let find_services_route = warp::path!("find-services-by-name")
        .and(warp::get())
        .and(v.clone())
        .and(query())
        .map(|v: Visit, q: HashMap<String, String>| admitted(&v, |a| find_services(&v, a, &q)));
    let find_users_route = warp::path!("find-users-by-email")
        .and(warp::get())
        .and(v.clone())
        .and(query())
        .map(|v: Visit, q: HashMap<String, String>| admitted(&v, |a| find_users(&v, a, &q)));
    let user = warp::path!("users" / String)
        .and(warp::get())
        .and(v.clone())
        .map(|id: String, v: Visit| admitted(&v, |a| user_page(&v, a, &id, false)));
    let confirm_archive = warp::path!("users" / String / "archive")
        .and(warp::get())
        .and(v.clone())
        .map(|id: String, v: Visit| admitted(&v, |a| user_page(&v, a, &id, true)));
    let standing = warp::path!("users" / String / String)
        .and(warp::post())
        .and(v.clone())
        .and(crate::server::bodies::bytes())
        .then(post_standing);
    let providers_route = warp::path!("providers")
        .and(warp::get())
        .and(v.clone())
        .map(|v: Visit| admitted(&v, |a| providers(&v, a)));
    let providers_alias = warp::path!("platform-admin" / "providers")
        .and(warp::get())
        .map(|| redirect("/providers"));
    let print = warp::path!("platform-admin" / "print-runs")
        .and(warp::get())
        .and(v.clone())
        .map(|v: Visit| admitted(&v, |a| print_runs(&v, a)));
    let audit_route = warp::path!("platform-admin" / "audit")
        .and(warp::get())
        .and(v.clone())
        .and(query())
        .map(|v: Visit, q: HashMap<String, String>| admitted(&v, |a| audit_page(&v, a, &q)));
    let run = warp::path!("scheduler" / String / "run")
        .and(warp::post())
        .and(v)
        .and(crate::server::bodies::bytes())
        .then(run_job);
    summary_route
        .or(live)
        .unify()
        .or(trial)
        .unify()
        .or(find_services_route)
        .unify()
        .or(find_users_route)
        .unify()
        .or(user)
        .unify()
        .boxed()
        .or(confirm_archive)
        .unify()
        .or(standing)
        .unify()
        .boxed()
        .or(providers_route)
        .unify()
        .or(providers_alias)
        .unify()
        .or(print)
        .unify()
        .or(audit_route)
        .unify()
        .or(run)
        .unify()
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_navigation_marks_the_current_page_only() {
        let n = nav(Section::FindUsers);
        assert_eq!(n.name, "Platform admin");
        let current: Vec<_> = n.items.iter().filter(|i| i.current).collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0].href, "/find-users-by-email");
    }

    #[test]
    fn channels_and_windows_read_as_words() {
        assert_eq!(channel_label(NotificationType::Sms), "Text messages");
        assert_eq!(minutes(900), "last 15 minutes");
        assert_eq!(minutes(90), "last 90 seconds");
        assert_eq!(
            status_words(NotificationStatus::TemporaryFailure),
            "temporary failure"
        );
    }
}
