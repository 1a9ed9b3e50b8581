//! Inbound numbers (upstream's `inbound_numbers`): the pool of numbers people can text, each
//! assigned to at most one service. A received text is matched to its service through the pool
//! ([`service_for_number`]): the number must be active and assigned, and the service must hold
//! the `inbound_sms` permission, as upstream's `fetch_potential_service` checks.
//!
//! Assigning follows upstream's rule for the service's text message senders: a service with
//! exactly one sender has that sender become the number; otherwise the number is added as a
//! new sender and made the default. Releasing (upstream's `/inbound-sms/remove`) takes the
//! `inbound_sms` permission away, archives the number's senders and returns the number to the
//! pool (or, with `archive`, switches it off for good).

use serde::{Deserialize, Serialize};
use storage::records::{InboundNumber, Service, SmsSender};
use storage::{StoreError, WriteCtx};
use uuid::Uuid;

use super::services::{rejection, require_service};
use super::{Context, DomainError, DomainResult};

/// The provider a number belongs to when none is named (upstream loads MMG's numbers).
pub const DEFAULT_PROVIDER: &str = "mmg";
/// The permission that lets a service receive texts.
pub const INBOUND_SMS: &str = "inbound_sms";

/// A number's digits in international form (`07700 900500` → `447700900500`): what the pool
/// is keyed on and what a provider's `Number`/`destination` is matched against. Short codes
/// (`40604`) stay as they are.
pub fn digits_of(number: &str) -> String {
    super::receipts::normalise_number(number)
}

/// A number for the pool: an optional `+` then 3 to 15 digits (spaces ignored).
pub fn check_number(number: &str) -> DomainResult<String> {
    let compact: String = number.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = compact.strip_prefix('+').unwrap_or(&compact);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(DomainError::invalid(format!(
            "inbound number {number:?} must be a phone number (digits, optionally a leading +)"
        )));
    }
    if !(3..=15).contains(&digits.len()) {
        return Err(DomainError::invalid(format!(
            "inbound number {number:?} must have 3 to 15 digits"
        )));
    }
    Ok(compact)
}

/// A provider name: lower-case letters, digits, `-` and `_`.
pub fn check_provider(provider: &str) -> DomainResult<String> {
    let provider = provider.trim();
    let ok = !provider.is_empty()
        && provider.len() <= 50
        && provider
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        return Err(DomainError::invalid(format!(
            "provider {provider:?} must be a name like mmg or firetext"
        )));
    }
    Ok(provider.to_string())
}

/// `POST /inbound-number`: a number for the pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInboundNumber {
    pub number: String,
    /// Defaults to `mmg`.
    #[serde(default)]
    pub provider: Option<String>,
}

/// Add a number to the pool: active, assigned to nobody.
pub async fn add_inbound_number(
    cx: &Context,
    new: NewInboundNumber,
) -> DomainResult<InboundNumber> {
    let number = check_number(&new.number)?;
    let provider = check_provider(new.provider.as_deref().unwrap_or(DEFAULT_PROVIDER))?;
    let digits = digits_of(&number);
    let n = InboundNumber {
        id: Uuid::new_v4(),
        number,
        provider,
        service_id: None,
        active: true,
        created_at: cx.clock().now_micros(),
        updated_at: None,
    };
    let stored = n.clone();
    cx.store
        .write(move |ctx| ctx.insert_inbound_number(&stored, &digits))
        .await?;
    tracing::info!(inbound_number_id = %n.id, provider = %n.provider, "inbound number added to the pool");
    Ok(n)
}

/// Every number, oldest change first (upstream orders by `updated_at`), with the name of the
/// service each is assigned to.
pub fn list_inbound_numbers(cx: &Context) -> DomainResult<Vec<(InboundNumber, Option<Service>)>> {
    let reader = cx.store.read()?;
    let mut numbers = reader.inbound_numbers()?;
    numbers.sort_by_key(|n| (n.updated_at.unwrap_or(n.created_at), n.id));
    numbers
        .into_iter()
        .map(|n| {
            let service = match n.service_id {
                Some(id) => reader.get_service(id)?,
                None => None,
            };
            Ok((n, service))
        })
        .collect()
}

fn is_available(n: &InboundNumber) -> bool {
    n.active && n.service_id.is_none()
}

/// Numbers that can be assigned: active and assigned to nobody, oldest first.
pub fn available_inbound_numbers(cx: &Context) -> DomainResult<Vec<InboundNumber>> {
    let mut numbers: Vec<InboundNumber> = cx
        .store
        .read()?
        .inbound_numbers()?
        .into_iter()
        .filter(is_available)
        .collect();
    numbers.sort_by_key(|n| (n.created_at, n.id));
    Ok(numbers)
}

/// The number assigned to a service, if any (active or not).
pub fn inbound_number_for_service(
    cx: &Context,
    service_id: Uuid,
) -> DomainResult<Option<InboundNumber>> {
    Ok(cx
        .store
        .read()?
        .inbound_numbers()?
        .into_iter()
        .find(|n| n.service_id == Some(service_id)))
}

/// `POST /inbound-number/service/{id}`: which number to assign; none: the oldest available.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignInboundNumber {
    #[serde(default)]
    pub inbound_number_id: Option<Uuid>,
}

/// The sender list after a number is assigned, by upstream's rule: the only live sender becomes
/// the number; otherwise the number is added and made the default.
pub fn senders_with_number(senders: &mut Vec<SmsSender>, number: &str) -> SmsSender {
    let live: Vec<usize> = (0..senders.len())
        .filter(|&i| !senders[i].archived)
        .collect();
    if let [only] = live[..] {
        let sender = &mut senders[only];
        sender.sms_sender = number.to_string();
        sender.inbound_number = true;
        sender.is_default = true;
        return sender.clone();
    }
    for s in senders.iter_mut() {
        s.is_default = false;
    }
    let sender = SmsSender {
        id: Uuid::new_v4(),
        sms_sender: number.to_string(),
        is_default: true,
        archived: false,
        inbound_number: true,
    };
    senders.push(sender.clone());
    sender
}

fn refuse(message: String) -> StoreError {
    rejection(DomainError::bad_request(message))
}

/// The number to give `service_id`, checked inside the write.
fn pick_number(
    ctx: &WriteCtx<'_>,
    service_id: Uuid,
    wanted: Option<Uuid>,
) -> Result<InboundNumber, StoreError> {
    let all = ctx.inbound_numbers()?;
    if let Some(held) = all.iter().find(|n| n.service_id == Some(service_id)) {
        return Err(refuse(format!(
            "Service {service_id} already has inbound number {}",
            held.number
        )));
    }
    match wanted {
        Some(id) => all
            .into_iter()
            .find(|n| n.id == id && is_available(n))
            .ok_or_else(|| refuse(format!("Inbound number: {id} is not available"))),
        None => all
            .into_iter()
            .filter(is_available)
            .min_by_key(|n| (n.created_at, n.id))
            .ok_or_else(|| refuse("There are no available inbound numbers".into())),
    }
}

/// Assign a number to a service (the chosen one, or the oldest available) and make it the
/// service's default text message sender. Answers the sender, as upstream does. The
/// `inbound_sms` permission is a separate setting (upstream's admin app switches it on after).
pub async fn assign_inbound_number(
    cx: &Context,
    service_id: Uuid,
    request: AssignInboundNumber,
) -> DomainResult<(InboundNumber, SmsSender)> {
    let now = cx.clock().now_micros();
    let out = cx
        .store
        .write(move |ctx| {
            let mut service = require_service(ctx, service_id)?;
            let mut number = pick_number(ctx, service_id, request.inbound_number_id)?;
            number.service_id = Some(service_id);
            number.updated_at = Some(now);
            ctx.put_inbound_number(&number)?;
            let sender = senders_with_number(&mut service.sms_senders, &number.number);
            service.updated_at = Some(now);
            ctx.put_service(&service)?;
            Ok((number, sender))
        })
        .await?;
    cx.keys.invalidate(service_id);
    tracing::info!(%service_id, inbound_number_id = %out.0.id, "inbound number assigned");
    Ok(out)
}

/// `POST /inbound-number/service/{id}/off`: switch off the service's number (it stays
/// assigned; texts to it are dropped).
pub async fn switch_off_for_service(cx: &Context, service_id: Uuid) -> DomainResult<()> {
    let now = cx.clock().now_micros();
    cx.store
        .write(move |ctx| {
            let Some(mut number) = ctx
                .inbound_numbers()?
                .into_iter()
                .find(|n| n.service_id == Some(service_id))
            else {
                return Err(StoreError::NotFound(format!(
                    "Service {service_id} has no inbound number"
                )));
            };
            number.active = false;
            number.updated_at = Some(now);
            ctx.put_inbound_number(&number)
        })
        .await?;
    tracing::info!(%service_id, "inbound number switched off");
    Ok(())
}

/// `POST /service/{id}/inbound-sms/remove`: `archive` true retires the number for good.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveInboundSms {
    pub archive: bool,
}

/// Stop a service receiving texts: the `inbound_sms` permission goes, its inbound-number senders
/// are archived (the next live sender becomes the default), and its number goes back to the
/// pool, or with `archive` is switched off and kept out of it. Answers the number it had.
pub async fn remove_inbound_sms(
    cx: &Context,
    service_id: Uuid,
    request: RemoveInboundSms,
) -> DomainResult<Option<InboundNumber>> {
    let now = cx.clock().now_micros();
    let released = cx
        .store
        .write(move |ctx| {
            let mut service = require_service(ctx, service_id)?;
            service.permissions.retain(|p| p != INBOUND_SMS);
            let mut lost_default = false;
            for s in service.sms_senders.iter_mut() {
                if s.inbound_number && !s.archived {
                    lost_default |= s.is_default;
                    s.archived = true;
                    s.is_default = false;
                }
            }
            if lost_default && let Some(next) = service.sms_senders.iter_mut().find(|s| !s.archived)
            {
                next.is_default = true;
            }
            service.updated_at = Some(now);
            ctx.put_service(&service)?;
            let held = ctx
                .inbound_numbers()?
                .into_iter()
                .find(|n| n.service_id == Some(service_id) && n.active);
            let Some(mut number) = held else {
                return Ok(None);
            };
            number.service_id = None;
            number.active = !request.archive;
            number.updated_at = Some(now);
            ctx.put_inbound_number(&number)?;
            Ok(Some(number))
        })
        .await?;
    cx.keys.invalidate(service_id);
    tracing::info!(%service_id, archive = request.archive, "inbound texts switched off for a service");
    Ok(released)
}

/// Why a received text has no service to go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unrouted {
    /// No active number in the pool is assigned to a service.
    NotAssociated,
    /// The service may not receive texts (no `inbound_sms` permission, or archived).
    NotAllowed(Uuid),
}

/// The service a text sent to `number` belongs to.
pub fn service_for_number(cx: &Context, number: &str) -> DomainResult<Result<Service, Unrouted>> {
    let reader = cx.store.read()?;
    let Some(n) = reader
        .inbound_number_by_digits(&digits_of(number))?
        .filter(|n| n.active)
    else {
        return Ok(Err(Unrouted::NotAssociated));
    };
    let Some(service) = n
        .service_id
        .map(|id| reader.get_service(id))
        .transpose()?
        .flatten()
    else {
        return Ok(Err(Unrouted::NotAssociated));
    };
    if !service.active || !service.permissions.iter().any(|p| p == INBOUND_SMS) {
        return Ok(Err(Unrouted::NotAllowed(service.id)));
    }
    Ok(Ok(service))
}

/// The pool's figures for the low-pool check: (available, total).
pub fn pool_counts(cx: &Context) -> DomainResult<(usize, usize)> {
    let all = cx.store.read()?.inbound_numbers()?;
    Ok((all.iter().filter(|n| is_available(n)).count(), all.len()))
}

/// `check-for-low-available-inbound-sms-numbers`: alert when the pool runs low (at most
/// `inbound_numbers.low_pool_threshold` available). Nothing to say for an empty pool: the
/// appliance does not use inbound numbers.
pub async fn check_for_low_available_inbound_sms_numbers(cx: &Context) -> super::JobOutcome {
    let (available, total) = pool_counts(cx)?;
    let threshold = cx.config.inbound_numbers.low_pool_threshold as usize;
    tracing::info!(available, total, "available inbound numbers");
    if total == 0 || available > threshold {
        return Ok(format!("{available} of {total} inbound numbers available"));
    }
    super::alerts::raise(
        cx,
        "low-available-inbound-sms-numbers",
        format!(
            "There are only {available} inbound SMS numbers currently available for services. \
             Request more from the provider and add them with `notify inbound-number add`."
        ),
        vec![
            format!("available: {available}"),
            format!("in the pool: {total}"),
        ],
    )
    .await;
    Ok(format!(
        "{available} of {total} inbound numbers available: alert raised"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(name: &str, is_default: bool, archived: bool) -> SmsSender {
        SmsSender {
            id: Uuid::new_v4(),
            sms_sender: name.into(),
            is_default,
            archived,
            inbound_number: false,
        }
    }

    #[test]
    fn numbers_are_digits_with_an_optional_plus() {
        assert_eq!(check_number(" 07700 900500 ").unwrap(), "07700900500");
        assert_eq!(check_number("+447700900500").unwrap(), "+447700900500");
        assert_eq!(check_number("40604").unwrap(), "40604");
        assert!(check_number("12").is_err());
        assert!(check_number("0770090050a").is_err());
        assert!(check_number("").is_err());
        assert!(check_number("1234567890123456").is_err());
        assert_eq!(digits_of("07700900500"), "447700900500");
        assert_eq!(digits_of("+44 7700 900500"), "447700900500");
        assert_eq!(digits_of("40604"), "40604");
    }

    #[test]
    fn providers_are_plain_names() {
        assert_eq!(check_provider("mmg").unwrap(), "mmg");
        assert_eq!(check_provider(" fire_text-2 ").unwrap(), "fire_text-2");
        assert!(check_provider("MMG").is_err());
        assert!(check_provider("").is_err());
        assert!(check_provider("a b").is_err());
    }

    #[test]
    fn the_only_sender_becomes_the_number() {
        let mut senders = vec![sender("GOVUK", true, false), sender("OLD", false, true)];
        let s = senders_with_number(&mut senders, "07700900500");
        assert_eq!(senders.len(), 2);
        assert_eq!(s.id, senders[0].id);
        assert_eq!(senders[0].sms_sender, "07700900500");
        assert!(senders[0].inbound_number && senders[0].is_default);
    }

    #[test]
    fn with_none_or_several_senders_the_number_is_added_as_the_default() {
        let mut none = vec![];
        let s = senders_with_number(&mut none, "07700900500");
        assert_eq!(none.len(), 1);
        assert!(s.is_default && s.inbound_number);

        let mut two = vec![sender("GOVUK", true, false), sender("OTHER", false, false)];
        let s = senders_with_number(&mut two, "07700900500");
        assert_eq!(two.len(), 3);
        assert_eq!(two.iter().filter(|x| x.is_default).count(), 1);
        assert_eq!(two[2].id, s.id);
        assert!(two[2].is_default);
        assert_eq!(two[0].sms_sender, "GOVUK");
    }
}
