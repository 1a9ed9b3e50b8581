//! What a platform admin sees across every service (the admin app's platform admin pages):
//! how many services are live and in trial mode, today's notifications by channel and status,
//! each service's counts for today, finding a service by part of its name and a person by part
//! of their email address, a person's services, the printer's response files, and the audit
//! trail filtered by service or person. Every function needs a platform admin; all only read.

use std::collections::BTreeMap;

use storage::records::{
    AuditEvent, NotificationStatus, NotificationType, PrintResponseFile, Service, StatusFact, User,
};
use uuid::Uuid;

use super::accounts::{Actor, Need, audit};
use super::facts::{london_date, status_facts_from_hourly_counts};
use super::sms_routing::{self, DeliveryReport};
use super::{DomainError, DomainResult};
use crate::domain::Context;

/// Results a search shows at most.
pub const SEARCH_LIMIT: usize = 100;

/// One channel's notifications: requested, and how many of those were delivered or failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelCounts {
    pub requested: u64,
    pub delivered: u64,
    pub failed: u64,
}

/// Statuses upstream counts as failed.
pub fn is_failure(status: NotificationStatus) -> bool {
    use NotificationStatus::*;
    matches!(
        status,
        TechnicalFailure | TemporaryFailure | PermanentFailure | ValidationFailed | VirusScanFailed
    )
}

fn is_delivered(status: NotificationStatus) -> bool {
    matches!(
        status,
        NotificationStatus::Delivered | NotificationStatus::Sent
    )
}

/// Counts per channel, in [`NotificationType::ALL`]'s order (email, text message, letter).
fn channel_counts(facts: &[StatusFact]) -> Vec<(NotificationType, ChannelCounts)> {
    NotificationType::ALL
        .iter()
        .map(|kind| {
            let mut c = ChannelCounts::default();
            for f in facts.iter().filter(|f| f.notification_type == *kind) {
                c.requested += f.count;
                if is_delivered(f.status) {
                    c.delivered += f.count;
                }
                if is_failure(f.status) {
                    c.failed += f.count;
                }
            }
            (*kind, c)
        })
        .collect()
}

/// The platform at a glance.
#[derive(Debug, Clone)]
pub struct Summary {
    pub live_services: usize,
    pub trial_services: usize,
    /// Today's (London) notifications per channel.
    pub today: Vec<(NotificationType, ChannelCounts)>,
    /// Today's notifications per channel and status (statuses with none left out).
    pub today_by_status: Vec<(NotificationType, NotificationStatus, u64)>,
}

fn today_facts(cx: &Context) -> DomainResult<BTreeMap<Uuid, Vec<StatusFact>>> {
    let today = london_date(cx.clock().now_micros());
    status_facts_from_hourly_counts(&cx.store.read()?, None, today)
}

fn live(s: &Service) -> bool {
    s.active && !s.restricted
}

fn trial(s: &Service) -> bool {
    s.active && s.restricted
}

pub fn summary(cx: &Context, actor: &Actor) -> DomainResult<Summary> {
    actor.require(Need::PlatformAdmin, None, None)?;
    let services = cx.store.read()?.list_services()?;
    let facts: Vec<StatusFact> = today_facts(cx)?.into_values().flatten().collect();
    let mut by_status: BTreeMap<(usize, &str), (NotificationType, NotificationStatus, u64)> =
        BTreeMap::new();
    for f in &facts {
        let order = NotificationType::ALL
            .iter()
            .position(|k| *k == f.notification_type)
            .unwrap_or(0);
        by_status
            .entry((order, f.status.as_str()))
            .or_insert((f.notification_type, f.status, 0))
            .2 += f.count;
    }
    Ok(Summary {
        live_services: services.iter().filter(|s| live(s)).count(),
        trial_services: services.iter().filter(|s| trial(s)).count(),
        today: channel_counts(&facts),
        today_by_status: by_status.into_values().collect(),
    })
}

/// A service in the live or trial list, with its notifications today.
#[derive(Debug, Clone)]
pub struct ServiceRow {
    pub service: Service,
    pub today: Vec<(NotificationType, ChannelCounts)>,
}

/// Live services (`live`), or those in trial mode, by name; archived services are in neither.
pub fn services(cx: &Context, actor: &Actor, live_ones: bool) -> DomainResult<Vec<ServiceRow>> {
    actor.require(Need::PlatformAdmin, None, None)?;
    let mut services: Vec<Service> = cx
        .store
        .read()?
        .list_services()?
        .into_iter()
        .filter(|s| if live_ones { live(s) } else { trial(s) })
        .collect();
    services.sort_by_key(|s| (s.name.to_lowercase(), s.id));
    let facts = today_facts(cx)?;
    Ok(services
        .into_iter()
        .map(|service| ServiceRow {
            today: channel_counts(facts.get(&service.id).map(Vec::as_slice).unwrap_or(&[])),
            service,
        })
        .collect())
}

/// Services whose name contains `search` (ignoring case), or whose id it is; archived ones
/// too. At most [`SEARCH_LIMIT`], by name.
pub fn find_services(cx: &Context, actor: &Actor, search: &str) -> DomainResult<Vec<Service>> {
    actor.require(Need::PlatformAdmin, None, None)?;
    let wanted = search.trim().to_lowercase();
    if wanted.is_empty() {
        return Ok(vec![]);
    }
    let id = Uuid::parse_str(&wanted).ok();
    let mut found: Vec<Service> = cx
        .store
        .read()?
        .list_services()?
        .into_iter()
        .filter(|s| Some(s.id) == id || s.name.to_lowercase().contains(&wanted))
        .collect();
    found.sort_by_key(|s| (s.name.to_lowercase(), s.id));
    found.truncate(SEARCH_LIMIT);
    Ok(found)
}

/// People whose email address contains `search` (ignoring case). At most [`SEARCH_LIMIT`],
/// by name.
pub fn find_users(cx: &Context, actor: &Actor, search: &str) -> DomainResult<Vec<User>> {
    actor.require(Need::PlatformAdmin, None, None)?;
    let wanted = search.trim().to_lowercase();
    if wanted.is_empty() {
        return Ok(vec![]);
    }
    let mut found: Vec<User> = cx
        .store
        .read()?
        .all_users()?
        .into_iter()
        .filter(|u| u.email_address.to_lowercase().contains(&wanted))
        .collect();
    found.sort_by_key(|u| (u.name.to_lowercase(), u.id));
    found.truncate(SEARCH_LIMIT);
    Ok(found)
}

/// A person and the services they are a member of (by name).
#[derive(Debug, Clone)]
pub struct UserDetail {
    pub user: User,
    pub services: Vec<Service>,
}

pub fn user_detail(cx: &Context, actor: &Actor, id: Uuid) -> DomainResult<UserDetail> {
    actor.require(Need::PlatformAdmin, None, None)?;
    let reader = cx.store.read()?;
    let user = reader
        .get_user(id)?
        .ok_or_else(|| DomainError::not_found(format!("No user with id {id}")))?;
    let mut services = Vec::new();
    for m in reader.user_memberships(id)? {
        if let Some(s) = reader.get_service(m.service_id)? {
            services.push(s);
        }
    }
    services.sort_by_key(|s| (s.name.to_lowercase(), s.id));
    Ok(UserDetail { user, services })
}

/// The printer's response files applied, newest first, at most `limit`.
pub fn print_responses(
    cx: &Context,
    actor: &Actor,
    limit: usize,
) -> DomainResult<Vec<PrintResponseFile>> {
    actor.require(Need::PlatformAdmin, None, None)?;
    let mut files = cx.store.read()?.print_response_files()?;
    files.sort_by(|a, b| (b.processed_at, &b.name).cmp(&(a.processed_at, &a.name)));
    files.truncate(limit);
    Ok(files)
}

/// Every service's name by id (the audit trail names the services its events concern).
pub fn service_names(cx: &Context, actor: &Actor) -> DomainResult<BTreeMap<Uuid, String>> {
    actor.require(Need::PlatformAdmin, None, None)?;
    Ok(cx
        .store
        .read()?
        .list_services()?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect())
}

/// How far back a person filter looks for their events (the newest this many events).
pub const AUDIT_SCAN: usize = 500;

/// Audit events newest first, at most `limit`: of one service when `service_id` is given;
/// only those a person did or that concern them when `user_id` is given (looked for among the
/// newest [`AUDIT_SCAN`] events of the platform, or of the service).
pub fn audit_events(
    cx: &Context,
    actor: &Actor,
    service_id: Option<Uuid>,
    user_id: Option<Uuid>,
    limit: usize,
) -> DomainResult<Vec<AuditEvent>> {
    actor.require(Need::PlatformAdmin, None, None)?;
    let Some(user) = user_id else {
        return audit::list(cx, service_id, None, limit);
    };
    let subject = user.to_string();
    let mut events = audit::list(cx, service_id, None, AUDIT_SCAN)?;
    events
        .retain(|e| e.actor_id == Some(user) || e.subject_id.as_deref() == Some(subject.as_str()));
    events.truncate(limit);
    Ok(events)
}

/// Who delivers each channel, and how the text-message providers are doing.
#[derive(Debug, Clone)]
pub struct Providers {
    /// The email provider in words ("SMTP relay mail.example.com:587", "Outbox").
    pub email: String,
    pub sms: String,
    /// Each configured HTTP text-message provider as the internal API shows it.
    pub sms_providers: Vec<serde_json::Value>,
    /// Each one's slow deliveries over the switching window.
    pub recent: Vec<DeliveryReport>,
    pub window_seconds: u64,
}

pub fn providers(cx: &Context, actor: &Actor) -> DomainResult<Providers> {
    use crate::config::{EmailProviderKind, SmsProviderKind};
    actor.require(Need::PlatformAdmin, None, None)?;
    let email = match cx.config.providers.email {
        EmailProviderKind::Outbox => "Outbox (kept on this machine, not sent)".to_string(),
        EmailProviderKind::Smtp => {
            format!("SMTP relay {}:{}", cx.config.smtp.host, cx.config.smtp.port)
        }
    };
    let sms = match cx.config.providers.sms {
        SmsProviderKind::Outbox => "Outbox (kept on this machine, not sent)".to_string(),
        SmsProviderKind::Http => "HTTP providers, shared by priority".to_string(),
    };
    let sms_providers = sms_routing::list_providers(cx)?;
    let names: Vec<String> = sms_providers
        .iter()
        .filter_map(|p| p["identifier"].as_str().map(str::to_string))
        .collect();
    let recent = sms_routing::slow_delivery_reports(cx, &names)?;
    Ok(Providers {
        email,
        sms,
        sms_providers,
        recent,
        window_seconds: cx.config.sms_switching.slow_delivery_window_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(kind: NotificationType, status: NotificationStatus, count: u64) -> StatusFact {
        StatusFact {
            bst_date: 0,
            service_id: Uuid::nil(),
            template_id: Uuid::nil(),
            job_id: None,
            notification_type: kind,
            key_type: storage::records::KeyType::Normal,
            status,
            count,
        }
    }

    #[test]
    fn channel_counts_add_requested_delivered_and_failed() {
        let facts = [
            fact(NotificationType::Email, NotificationStatus::Delivered, 3),
            fact(
                NotificationType::Email,
                NotificationStatus::PermanentFailure,
                1,
            ),
            fact(NotificationType::Email, NotificationStatus::Created, 2),
            fact(NotificationType::Sms, NotificationStatus::Sent, 4),
        ];
        let counts = channel_counts(&facts);
        assert_eq!(counts.len(), NotificationType::ALL.len());
        let email = counts
            .iter()
            .find(|(k, _)| *k == NotificationType::Email)
            .unwrap()
            .1;
        assert_eq!(
            email,
            ChannelCounts {
                requested: 6,
                delivered: 3,
                failed: 1
            }
        );
        let letter = counts
            .iter()
            .find(|(k, _)| *k == NotificationType::Letter)
            .unwrap()
            .1;
        assert_eq!(letter, ChannelCounts::default());
    }
}
