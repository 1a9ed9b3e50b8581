//! Text-message provider shares beyond the switchboard's own rules (workers.md §7.2): saved in
//! the store so a restart keeps them, changed at run time by a person through the internal API
//! (upstream's `/provider-details`), and moved away from a provider that delivers late
//! (`switch-current-sms-provider-on-slow-delivery`).
//!
//! The switchboard ([`crate::providers::sms::switching`]) decides and notes every change; the
//! functions here save the noted changes ([`save_share_changes`], called after each failed
//! send, each scheduled move and each change by hand) and put saved shares back when the
//! appliance opens ([`restore_shares`]). Shares of providers no longer configured are kept
//! but not used; a provider new in the config starts at its configured priority.
//!
//! A provider's id in the API is derived from its configured name (a name-based uuid: SHA-256
//! of a fixed namespace and the name), so it is stable across restarts without being stored.

use chrono::Datelike;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use storage::clock::format_api_timestamp;
use storage::records::{KeyType, NotificationStatus, NotificationType, SmsProviderShare};
use storage::v7_floor;
use uuid::Uuid;

use super::facts::{day_number, london_date};
use super::{Context, DomainError, DomainResult, JobOutcome};
use crate::providers::sms::{ProviderShare, SmsProviders};
use crate::providers::{SmsSender, sms::switching::ShareChange};

/// Namespace of the providers' ids (hashed with the provider's name).
const PROVIDER_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6e6f_7469_6679_2d73_6d73_2d70_726f_7669);
/// Notifications looked at per read while checking for slow delivery.
const CHUNK: usize = 5000;
/// History rows a provider's versions route answers (upstream's limit).
const VERSIONS_LIMIT: usize = 100;

/// A provider's id in the internal API.
pub fn provider_id(name: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(PROVIDER_ID_NAMESPACE.as_bytes())
        .chain_update(name.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn http_providers(cx: &Context) -> Option<&SmsProviders> {
    match &cx.providers.sms {
        SmsSender::Http(p) => Some(p),
        SmsSender::Outbox => None,
    }
}

/// Put the saved shares back on the switchboard (the appliance just opened).
pub fn restore_shares(cx: &Context) -> DomainResult<()> {
    let Some(providers) = http_providers(cx) else {
        return Ok(());
    };
    for saved in cx.store.read()?.sms_provider_shares()? {
        if providers.restore(&saved.name, saved.priority, saved.active) {
            tracing::info!(
                provider = %saved.name,
                priority = saved.priority,
                active = saved.active,
                "SMS provider share restored"
            );
        }
    }
    Ok(())
}

/// Save the switchboard's changes since the last call (each a new version of the provider's
/// share). Nothing to do most of the time.
pub async fn save_share_changes(cx: &Context) -> DomainResult<()> {
    let Some(providers) = http_providers(cx) else {
        return Ok(());
    };
    let changes = providers.take_changes();
    if changes.is_empty() {
        return Ok(());
    }
    save(cx, changes).await
}

async fn save(cx: &Context, changes: Vec<ShareChange>) -> DomainResult<()> {
    cx.store
        .write(move |ctx| {
            for c in &changes {
                let version = ctx
                    .get_sms_provider_share(&c.name)?
                    .map_or(1, |s| s.version + 1);
                ctx.put_sms_provider_share(&SmsProviderShare {
                    name: c.name.clone(),
                    priority: c.priority,
                    active: c.active,
                    version,
                    reason: Some(c.reason.clone()),
                    updated_at: ctx.now_micros(),
                    updated_by: c.by,
                })?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

/// This London month's billable text fragments per provider (upstream's
/// `current_month_billable_sms`, from the billing facts).
fn month_billable(cx: &Context) -> DomainResult<std::collections::HashMap<String, u64>> {
    let today = london_date(cx.clock().now_micros());
    let first = today.with_day0(0).unwrap_or(today);
    let mut out = std::collections::HashMap::new();
    for fact in cx
        .store
        .read()?
        .billing_facts(None, day_number(first)..=day_number(today))?
    {
        if fact.notification_type == NotificationType::Sms {
            *out.entry(fact.provider.clone()).or_default() +=
                fact.billable_units * u64::from(fact.rate_multiplier.max(1));
        }
    }
    Ok(out)
}

fn provider_json(share: &ProviderShare, saved: Option<&SmsProviderShare>, billable: u64) -> Value {
    json!({
        "id": provider_id(&share.name),
        "display_name": share.name,
        "identifier": share.name,
        "priority": share.priority,
        "notification_type": "sms",
        "active": share.active,
        "updated_at": saved.map(|s| format_api_timestamp(s.updated_at)),
        "supports_international": share.supports_international,
        "created_by_name": saved.and_then(|s| s.updated_by).map(|u| u.to_string()),
        "reason": saved.and_then(|s| s.reason.clone()),
        "current_month_billable_sms": billable,
        "resting_point": share.resting_point,
        "version": saved.map_or(0, |s| s.version),
    })
}

/// `GET /provider-details`: every configured text-message provider with its current share.
pub fn list_providers(cx: &Context) -> DomainResult<Vec<Value>> {
    let Some(providers) = http_providers(cx) else {
        return Ok(vec![]);
    };
    let saved = cx.store.read()?.sms_provider_shares()?;
    let billable = month_billable(cx)?;
    Ok(providers
        .shares()
        .iter()
        .map(|share| {
            let stored = saved.iter().find(|s| s.name == share.name);
            provider_json(
                share,
                stored,
                billable.get(&share.name).copied().unwrap_or(0),
            )
        })
        .collect())
}

fn find_provider(cx: &Context, id: Uuid) -> DomainResult<(&SmsProviders, ProviderShare)> {
    let not_found = || DomainError::not_found(format!("No provider with id {id}"));
    let providers = http_providers(cx).ok_or_else(not_found)?;
    let share = providers
        .shares()
        .into_iter()
        .find(|s| provider_id(&s.name) == id)
        .ok_or_else(not_found)?;
    Ok((providers, share))
}

/// `GET /provider-details/{id}`.
pub fn get_provider(cx: &Context, id: Uuid) -> DomainResult<Value> {
    let (_, share) = find_provider(cx, id)?;
    let saved = cx
        .store
        .read()?
        .sms_provider_shares()?
        .into_iter()
        .find(|s| s.name == share.name);
    let billable = month_billable(cx)?.get(&share.name).copied().unwrap_or(0);
    Ok(provider_json(&share, saved.as_ref(), billable))
}

/// `GET /provider-details/{id}/versions`: the provider's saved shares, newest first.
pub fn provider_versions(cx: &Context, id: Uuid) -> DomainResult<Vec<Value>> {
    let (_, share) = find_provider(cx, id)?;
    Ok(cx
        .store
        .read()?
        .sms_provider_share_history(&share.name, VERSIONS_LIMIT)?
        .iter()
        .map(|s| {
            json!({
                "id": id,
                "identifier": s.name,
                "priority": s.priority,
                "active": s.active,
                "version": s.version,
                "reason": s.reason,
                "updated_at": format_api_timestamp(s.updated_at),
                "created_by": s.updated_by,
            })
        })
        .collect())
}

/// `POST /provider-details/{id}`: upstream's fields; any other is refused by name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProviderUpdate {
    pub priority: Option<u32>,
    pub active: Option<bool>,
    pub reason: Option<String>,
    /// The person making the change (recorded with it).
    pub created_by: Option<Uuid>,
}

impl ProviderUpdate {
    /// Parse upstream's body: only `priority`, `active`, `reason` and `created_by` may be
    /// given (each other key is named: "Not permitted to be updated").
    pub fn from_json(body: &Map<String, Value>) -> DomainResult<ProviderUpdate> {
        let mut refused: Vec<String> = body
            .keys()
            .filter(|k| !["priority", "active", "reason", "created_by"].contains(&k.as_str()))
            .map(|k| format!("{k}: Not permitted to be updated"))
            .collect();
        if !refused.is_empty() {
            refused.sort();
            return Err(DomainError::Validation(refused));
        }
        serde_json::from_value(Value::Object(body.clone()))
            .map_err(|e| DomainError::invalid(format!("provider details: {e}")))
    }
}

/// Change a provider's share or switch it on or off, by hand, at run time; saved (a new
/// version) and in force at once.
// Audit: the accounts work adds the acting person (`Actor`) to domain functions and an audit
// entry for each change; this is the one place a person changes provider shares.
pub async fn update_provider(
    cx: &Context,
    id: Uuid,
    update: ProviderUpdate,
) -> DomainResult<Value> {
    if update.priority.is_some_and(|p| p > 100) {
        return Err(DomainError::invalid(
            "priority must be a whole number from 0 to 100".into(),
        ));
    }
    if let Some(user) = update.created_by
        && cx.store.read()?.get_user(user)?.is_none()
    {
        return Err(DomainError::invalid(format!(
            "created_by: no user with id {user}"
        )));
    }
    let (providers, share) = find_provider(cx, id)?;
    let reason = update
        .reason
        .clone()
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "Changed by hand".into());
    let now_ms = cx.clock().now_ms();
    providers
        .set_share(
            &share.name,
            update.priority,
            update.active,
            &reason,
            update.created_by,
            now_ms,
        )
        .map_err(DomainError::not_found)?;
    save_share_changes(cx).await?;
    get_provider(cx, id)
}

/// How slow each provider has been (for the log and the job's report).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub provider: String,
    pub total: u64,
    pub slow: u64,
}

/// Texts sent in the last `slow_delivery_window_seconds` by each configured provider (live,
/// not test-key, with a send time, `delivered`/`pending`/`sending`) and how many were slow:
/// delivered `slow_delivery_seconds` or more after being sent, or not delivered yet that long
/// after (upstream's `get_slow_text_message_delivery_reports_by_provider`).
pub fn slow_delivery_reports(cx: &Context, names: &[String]) -> DomainResult<Vec<DeliveryReport>> {
    let s = &cx.config.sms_switching;
    let now = cx.clock().now_micros();
    let since = now - (s.slow_delivery_window_seconds as i64).saturating_mul(1_000_000);
    let slow_after = (s.slow_delivery_seconds as i64).saturating_mul(1_000_000);
    let mut reports: Vec<DeliveryReport> = names
        .iter()
        .map(|n| DeliveryReport {
            provider: n.clone(),
            ..Default::default()
        })
        .collect();
    let reader = cx.store.read()?;
    let before = v7_floor(now / 1000 + 1);
    let mut after = Some(v7_floor(since / 1000));
    loop {
        let (rows, last) = reader.scan_notifications_before(after, before, CHUNK, |n| {
            n.notification_type == NotificationType::Sms
                && n.key_type != KeyType::Test
                && n.created_at >= since
                && n.sent_at.is_some()
                && matches!(
                    n.status,
                    NotificationStatus::Delivered
                        | NotificationStatus::Pending
                        | NotificationStatus::Sending
                )
        })?;
        for n in rows {
            let Some(report) = reports
                .iter_mut()
                .find(|r| Some(&r.provider) == n.sent_by.as_ref())
            else {
                continue;
            };
            let sent_at = n.sent_at.unwrap_or(n.created_at);
            let took = match n.status {
                NotificationStatus::Delivered => n.updated_at.unwrap_or(now) - sent_at,
                _ => now - sent_at,
            };
            report.total += 1;
            if took >= slow_after {
                report.slow += 1;
            }
        }
        match last {
            Some(id) => after = Some(id),
            None => break,
        }
    }
    Ok(reports)
}

/// `switch-current-sms-provider-on-slow-delivery` (every minute): a provider is slow when at
/// least `slow_delivery_percent` of its recent texts were slow; when some but not all are,
/// the first slow one loses points (see [`slow_delivery_reports`]).
pub async fn switch_on_slow_delivery(cx: &Context) -> JobOutcome {
    let Some(providers) = http_providers(cx) else {
        return Ok("no HTTP text-message providers".into());
    };
    let shares = providers.shares();
    let names: Vec<String> = shares.iter().map(|s| s.name.clone()).collect();
    let reports = slow_delivery_reports(cx, &names)?;
    let percent = u64::from(cx.config.sms_switching.slow_delivery_percent);
    let slow: Vec<bool> = reports
        .iter()
        .map(|r| r.total > 0 && r.slow * 100 >= percent * r.total)
        .collect();
    for r in reports.iter().filter(|r| r.total > 0) {
        tracing::debug!(provider = %r.provider, total = r.total, slow = r.slow, "SMS delivery times");
    }
    let moved = providers.record_slow(&slow, cx.clock().now_ms());
    save_share_changes(cx).await?;
    let summary: Vec<String> = reports
        .iter()
        .map(|r| format!("{} {}/{} slow", r.provider, r.slow, r.total))
        .collect();
    Ok(format!(
        "{}{}",
        summary.join(", "),
        if moved { "; traffic moved" } else { "" }
    ))
}

/// `tend-providers-back-to-middle`: shares drift back towards their configured priorities.
pub async fn tend_providers_back_to_middle(cx: &Context) -> JobOutcome {
    let Some(providers) = http_providers(cx) else {
        return Ok("no HTTP text-message providers".into());
    };
    providers.drift(cx.clock().now_ms());
    save_share_changes(cx).await?;
    Ok("provider shares tended".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_ids_are_stable_and_distinct() {
        assert_eq!(provider_id("mmg"), provider_id("mmg"));
        assert_ne!(provider_id("mmg"), provider_id("firetext"));
        assert_eq!(provider_id("mmg").get_version_num(), 8);
    }

    #[test]
    fn only_upstreams_fields_may_be_updated() {
        let body = json!({"priority": 30, "identifier": "x", "notification_type": "sms"});
        let err = ProviderUpdate::from_json(body.as_object().unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "identifier: Not permitted to be updated; notification_type: Not permitted to be updated"
        );
        let ok = json!({"priority": 30, "active": false, "reason": "maintenance"});
        let u = ProviderUpdate::from_json(ok.as_object().unwrap()).unwrap();
        assert_eq!((u.priority, u.active), (Some(30), Some(false)));
        let bad = json!({"priority": -1});
        assert!(ProviderUpdate::from_json(bad.as_object().unwrap()).is_err());
    }
}
