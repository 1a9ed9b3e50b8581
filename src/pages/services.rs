//! What every page of one service shares — who may see it ([`enter`]), its navigation
//! ([`service_layout`]), times as people read them ([`when`]) — and two pages: the service's
//! dashboard (`/services/{id}`) and adding a service (`/add-service`).
//!
//! A page names what it needs (any member, a permission, or sending as a member) and [`enter`]
//! asks the domain's permission check ([`Actor::require`]), so a member without the permission
//! gets the 403 page and another service's id the 404 page, exactly as the internal API answers.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use chrono_tz::Europe::London;
use storage::records::{NotificationStatus, NotificationType, Service};
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use web::{FormErrors, Layout, NavItem, ServiceNav, UserBar};

use super::session::{Visit, csrf_matches, visit};
use super::{Form, PageError, html, ok, redirect, respond};
use crate::app::App;
use crate::domain::Code;
use crate::domain::accounts::sessions::Checked;
use crate::domain::accounts::{Actor, Need};
use crate::domain::facts::london_date;
use crate::domain::{services, statistics};

/// A signed-in person on a page of one service they may see.
pub struct InService {
    pub session: Checked,
    pub actor: Actor,
    pub service: Service,
}

impl InService {
    /// Whether the person may also do `need` here (to offer the links that need it).
    pub fn may(&self, need: Need) -> bool {
        self.actor
            .require(need, Some(self.service.id), None)
            .is_ok()
    }

    pub fn id(&self) -> Uuid {
        self.service.id
    }
}

/// The error page for a domain refusal, boxed (a response is large, and most pages are let in).
pub fn refusal(e: crate::domain::DomainError) -> Box<Response> {
    Box::new(PageError::from(e).into_response())
}

/// Let the visitor in to a page of service `service_id` that needs `need`: to sign in first
/// when they are not, the 404 page for a service that is not theirs (or not there), the 403
/// page for a member without the permission.
pub fn enter(v: &Visit, service_id: &str, need: Need) -> Result<InService, Box<Response>> {
    let Some(session) = v.signed_in() else {
        return Err(Box::new(redirect("/sign-in")));
    };
    let Ok(id) = Uuid::parse_str(service_id) else {
        return Err(Box::new(PageError::NotFound.into_response()));
    };
    let actor = session.actor(v.address());
    actor.require(need, Some(id), None).map_err(refusal)?;
    let service = services::get_service(&v.app.store, id).map_err(refusal)?;
    Ok(InService {
        session,
        actor,
        service,
    })
}

/// Which part of the service a page belongs to (its navigation item is marked current).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Dashboard,
    Templates,
    Uploads,
    SentMessages,
    Team,
    Api,
    Settings,
}

/// The service navigation, with upstream's labels and URLs.
pub fn service_nav(service: &Service, current: Section) -> ServiceNav {
    let id = service.id;
    let item = |label: &str, href: String, section: Section| NavItem {
        label: label.to_string(),
        href,
        current: section == current,
    };
    ServiceNav {
        name: service.name.clone(),
        trial_mode: service.restricted,
        items: vec![
            item("Dashboard", format!("/services/{id}"), Section::Dashboard),
            item(
                "Templates",
                format!("/services/{id}/templates"),
                Section::Templates,
            ),
            item(
                "Uploads",
                format!("/services/{id}/uploads"),
                Section::Uploads,
            ),
            item(
                "Sent messages",
                format!("/services/{id}/notifications/email"),
                Section::SentMessages,
            ),
            item(
                "Team members",
                format!("/services/{id}/users"),
                Section::Team,
            ),
            item(
                "API integration",
                format!("/services/{id}/api"),
                Section::Api,
            ),
            item(
                "Settings",
                format!("/services/{id}/service-settings"),
                Section::Settings,
            ),
        ],
    }
}

/// The layout of a page of the service.
pub fn service_layout(title: &str, s: &InService, section: Section, errors: bool) -> Layout {
    let mut layout = Layout::new(title);
    layout.csrf_token = s.session.session.csrf_token.clone();
    layout.has_errors = errors;
    layout.user = Some(UserBar {
        name: s.session.person.user.name.clone(),
        platform_admin: s.session.person.user.platform_admin,
    });
    layout.service = Some(service_nav(&s.service, section));
    layout
}

/// A time as the pages show it, in London: "today at 3:04pm", "yesterday at 9:00am",
/// "7 December 2026 at 3:04pm".
pub fn when(micros: i64, now_micros: i64) -> String {
    let t = DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .with_timezone(&London);
    let time = t.format("%-I:%M%P").to_string();
    let today = london_date(now_micros);
    let day = t.date_naive();
    if day == today {
        format!("today at {time}")
    } else if today.pred_opt() == Some(day) {
        format!("yesterday at {time}")
    } else {
        format!("{} at {time}", t.format("%-d %B %Y"))
    }
}

/// Upstream's plural name of a channel: "emails", "text messages", "letters".
pub fn channel_plural(t: NotificationType) -> &'static str {
    match t {
        NotificationType::Email => "emails",
        NotificationType::Sms => "text messages",
        NotificationType::Letter => "letters",
    }
}

/// Upstream's name of a channel: "Email", "Text message", "Letter".
pub fn channel_name(t: NotificationType) -> &'static str {
    match t {
        NotificationType::Email => "Email",
        NotificationType::Sms => "Text message",
        NotificationType::Letter => "Letter",
    }
}

fn is_failure(status: NotificationStatus) -> bool {
    web::activity::status_is_error(status.as_str())
}

fn is_delivered(status: NotificationStatus) -> bool {
    matches!(
        status,
        NotificationStatus::Delivered | NotificationStatus::Sent
    )
}

/// How many recent failures the dashboard lists.
const RECENT_FAILURES: usize = 5;

// ---- /services/{id} ----

async fn get_dashboard(service_id: String, v: Visit) -> Response {
    let s = match enter(&v, &service_id, Need::Member) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    respond(dashboard(&v, &s))
}

fn dashboard(v: &Visit, s: &InService) -> Result<Response, PageError> {
    let store = &v.app.store;
    let now = store.clock().now_micros();
    let today = london_date(now);
    let from = today
        .checked_sub_days(chrono::Days::new(6))
        .unwrap_or(today);
    let facts = statistics::service_status_facts(store, s.id(), from, today)?;
    let today_number = crate::domain::facts::day_number(today);
    let totals = |only_today: bool| -> Vec<web::dashboard::ChannelTotals> {
        NotificationType::ALL
            .iter()
            .filter(|t| s.service.permissions.iter().any(|p| p == t.as_str()))
            .map(|t| {
                let mut c = web::dashboard::ChannelTotals {
                    label: channel_plural(*t).to_string(),
                    href: format!("/services/{}/notifications/{}", s.id(), t.as_str()),
                    requested: 0,
                    delivered: 0,
                    failed: 0,
                };
                for f in facts.iter().filter(|f| {
                    f.notification_type == *t && (!only_today || f.bst_date == today_number)
                }) {
                    c.requested += f.count;
                    if is_delivered(f.status) {
                        c.delivered += f.count;
                    }
                    if is_failure(f.status) {
                        c.failed += f.count;
                    }
                }
                c
            })
            .collect()
    };
    let (today_totals, week_totals) = (totals(true), totals(false));
    let mut by_status: std::collections::BTreeMap<(&str, &str), u64> = Default::default();
    for f in &facts {
        let channel = f.notification_type.as_str();
        *by_status
            .entry((
                channel,
                web::activity::status_wording(f.status.as_str(), channel),
            ))
            .or_default() += f.count;
    }
    let week_statuses = by_status
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|((channel, status), count)| web::dashboard::StatusCount {
            channel: NotificationType::parse(channel)
                .map(channel_name)
                .unwrap_or(channel)
                .to_string(),
            status: status.to_string(),
            count,
        })
        .collect();
    // Only look for failures when the facts say there are some: the walk stops at the
    // newest few, but with none to find it would read every stored message.
    let any_failed = week_totals.iter().any(|c| c.failed > 0);
    let failures =
        if any_failed && s.may(Need::Permission(storage::records::Permission::ViewActivity)) {
            recent_failures(
                v,
                s,
                now,
                crate::domain::facts::london_midnight_micros(from),
            )?
        } else {
            Vec::new()
        };
    let usage = NotificationType::ALL
        .iter()
        .filter(|t| s.service.permissions.iter().any(|p| p == t.as_str()))
        .map(|t| {
            let (sent, limit) = v.app.limits.used_today(store, &s.service, *t)?;
            Ok(web::dashboard::UsageRow {
                label: channel_plural(*t).to_string(),
                sent,
                limit,
            })
        })
        .collect::<Result<Vec<_>, crate::domain::DomainError>>()?;
    Ok(ok(&web::dashboard::DashboardPage {
        layout: service_layout("Dashboard", s, Section::Dashboard, false),
        today: today_totals,
        week: week_totals,
        week_statuses,
        failures,
        usage,
        templates_href: format!("/services/{}/templates", s.id()),
    }))
}

fn recent_failures(
    v: &Visit,
    s: &InService,
    now: i64,
    since: i64,
) -> Result<Vec<web::dashboard::FailureRow>, PageError> {
    let reader = v.app.store.read()?;
    let failed = reader.service_notifications(s.id(), None, RECENT_FAILURES, |n| {
        n.created_at >= since && is_failure(n.status)
    })?;
    let mut rows = Vec::new();
    for n in failed {
        let template_name = reader
            .get_template(n.template_id)?
            .map(|t| t.name)
            .unwrap_or_default();
        let channel = n.notification_type.as_str();
        rows.push(web::dashboard::FailureRow {
            href: format!("/services/{}/notification/{}", s.id(), n.id),
            recipient: n.to.clone(),
            template_name,
            status: web::activity::status_wording(n.status.as_str(), channel).to_string(),
            when: when(n.created_at, now),
        });
    }
    Ok(rows)
}

// ---- /add-service ----

fn signed_in_layout(title: &str, s: &Checked, errors: bool) -> Layout {
    let mut layout = Layout::new(title);
    layout.csrf_token = s.session.csrf_token.clone();
    layout.has_errors = errors;
    layout.user = Some(UserBar {
        name: s.person.user.name.clone(),
        platform_admin: s.person.user.platform_admin,
    });
    layout
}

fn add_service_page(s: &Checked, name: &str, errors: FormErrors) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    html(
        status,
        &web::dashboard::AddServicePage {
            layout: signed_in_layout("Enter a service name", s, !errors.is_empty()),
            name: name.to_string(),
            errors,
        },
    )
}

async fn get_add_service(v: Visit) -> Response {
    match v.signed_in() {
        Some(s) => add_service_page(&s, "", FormErrors::default()),
        None => redirect("/sign-in"),
    }
}

async fn post_add_service(v: Visit, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let Some(s) = v.signed_in() else {
        return redirect("/sign-in");
    };
    if !csrf_matches(&form.get("csrf_token"), &s.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    let name = form.get("name");
    let mut errors = FormErrors::default();
    if name.is_empty() {
        errors.add("name", "Enter a service name");
        return add_service_page(&s, &name, errors);
    }
    let new = services::NewService {
        name: name.clone(),
        restricted: true,
    };
    match services::create_service(&v.app, &s.actor(v.address()), new).await {
        Ok(service) => redirect(&format!("/services/{}", service.id)),
        Err(e) if matches!(e.code(), Code::Invalid | Code::Conflict | Code::BadRequest) => {
            errors.add(
                "name",
                e.refusal().unwrap_or("Enter a different service name"),
            );
            add_service_page(&s, &name, errors)
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

/// The dashboard's and add-service's routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let v = visit(app);
    let body = crate::server::bodies::bytes;
    let dashboard = warp::path!("services" / String)
        .and(warp::get())
        .and(v.clone())
        .then(get_dashboard);
    let dashboard_alias = warp::path!("services" / String / "dashboard")
        .and(warp::get())
        .and(v.clone())
        .then(get_dashboard);
    let add_get = warp::path!("add-service")
        .and(warp::get())
        .and(v.clone())
        .then(get_add_service);
    let add_post = warp::path!("add-service")
        .and(warp::post())
        .and(v)
        .and(body())
        .then(post_add_service);
    dashboard
        .or(dashboard_alias)
        .unify()
        .or(add_get)
        .unify()
        .or(add_post)
        .unify()
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_people_say_them_in_london() {
        // 2026-07-01 12:00 UTC is 1:00pm in London (summer time).
        let noon = 1_782_907_200_000_000i64;
        assert_eq!(when(noon, noon), "today at 1:00pm");
        let day = 86_400_000_000i64;
        assert_eq!(when(noon - day, noon), "yesterday at 1:00pm");
        assert_eq!(when(noon - 3 * day, noon), "28 June 2026 at 1:00pm");
    }

    #[test]
    fn the_navigation_marks_the_current_section() {
        let service =
            services::new_service_record("Parking", true, 0).expect("a valid service record");
        let nav = service_nav(&service, Section::Templates);
        let current: Vec<_> = nav.items.iter().filter(|i| i.current).collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0].label, "Templates");
        assert!(nav.trial_mode);
        assert_eq!(nav.items[0].href, format!("/services/{}", service.id));
    }
}
