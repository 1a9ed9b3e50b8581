//! What providers tell us after sending (workers.md §7.3): delivery receipts, complaints and
//! received text messages. The HTTP side (each provider's format) is in [`crate::receipts`];
//! these functions apply the outcome durably.

use storage::Store;
use storage::records::{
    CallbackKind, Complaint, InboundSms, Micros, NotificationStatus, NotificationType,
};
use uuid::Uuid;

use super::inbound_numbers::Unrouted;
use super::status::{Applied, Event, StatusChange, apply_status};
use super::{Context, DomainResult, callbacks};

/// Apply a text message receipt to notification `id`. `decide` maps the current status to the
/// new one (Firetext's answer depends on whether the message is `pending`). The §1.1 guard
/// applies; the delivery-status callback is queued for final statuses.
pub async fn apply_sms_receipt(
    store: &Store,
    id: Uuid,
    decide: impl FnOnce(NotificationStatus) -> NotificationStatus + Send + 'static,
) -> DomainResult<Applied> {
    Ok(store
        .write(move |ctx| {
            let Some(n) = ctx.get_notification(id)? else {
                return Ok(Applied::NotFound);
            };
            let status = decide(n.status);
            apply_status(ctx, id, Event::SmsReceipt, status, StatusChange::default())
        })
        .await?)
}

/// Apply an email receipt (e.g. Amazon SES) found by the provider's message id (the transition
/// table lets only an email in `sending` or `pending` change, §7.3).
pub async fn apply_email_receipt(
    store: &Store,
    reference: &str,
    status: NotificationStatus,
) -> DomainResult<Applied> {
    let reference = reference.to_string();
    Ok(store
        .write(move |ctx| {
            let Some(id) = ctx.notification_id_by_reference(&reference)? else {
                return Ok(Applied::NotFound);
            };
            let Some(n) = ctx.get_notification(id)? else {
                return Ok(Applied::NotFound);
            };
            if n.notification_type != NotificationType::Email {
                return Ok(Applied::Ignored(n.status));
            }
            apply_status(
                ctx,
                id,
                Event::EmailReceipt,
                status,
                StatusChange::default(),
            )
        })
        .await?)
}

/// Record a complaint about the email with provider message id `reference` and queue the
/// service's complaint callback. `None` when no live email has that reference.
pub async fn record_complaint(
    store: &Store,
    reference: &str,
    complaint_type: Option<String>,
    complaint_date: Option<Micros>,
) -> DomainResult<Option<Complaint>> {
    let reference = reference.to_string();
    Ok(store
        .write(move |ctx| {
            let Some(id) = ctx.notification_id_by_reference(&reference)? else {
                return Ok(None);
            };
            let Some(n) = ctx.get_notification(id)? else {
                return Ok(None);
            };
            let complaint = Complaint {
                id: ctx.new_id(),
                notification_id: id,
                service_id: n.service_id,
                complaint_type,
                complaint_date,
                created_at: ctx.now_micros(),
            };
            ctx.insert_complaint(&complaint)?;
            if let Some(cb) = ctx.get_service_callback(n.service_id, CallbackKind::Complaint)? {
                callbacks::enqueue(ctx, &cb, callbacks::complaint_body(&complaint, &n))?;
            }
            Ok(Some(complaint))
        })
        .await?)
}

/// A text message a provider received for one of our numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundText {
    /// Our number the message was sent to (as the provider gives it).
    pub notify_number: String,
    /// The sender's number.
    pub user_number: String,
    pub content: String,
    pub provider: String,
    pub provider_reference: Option<String>,
    pub provider_date: Option<Micros>,
}

/// Digits of a UK-style number in international form: `07700 900123` and `+447700900123` both
/// give `447700900123`.
pub fn normalise_number(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix('0') {
        Some(rest) if !rest.starts_with('0') => format!("44{rest}"),
        _ => digits.trim_start_matches("00").to_string(),
    }
}

/// What became of a received text.
#[derive(Debug)]
pub enum Received {
    /// Stored for its service (and its inbound-SMS callback queued).
    Stored(InboundSms),
    /// Dropped: no service to give it to (see [`Unrouted`]).
    Dropped(Unrouted),
}

/// Store a received text for the service that owns the number it was sent to (through the
/// inbound-number pool), and queue the service's inbound-SMS callback. A number no service
/// owns, a switched-off number, or a service without the `inbound_sms` permission drops the
/// text (the provider is still told it arrived: the fault is ours, as upstream answers).
pub async fn receive_inbound_sms(cx: &Context, text: InboundText) -> DomainResult<Received> {
    let service = match super::inbound_numbers::service_for_number(cx, &text.notify_number)? {
        Ok(service) => service,
        Err(why) => return Ok(Received::Dropped(why)),
    };
    let service_id = service.id;
    // The number as the pool holds it (upstream stores the service's inbound number).
    let notify_number = cx
        .store
        .read()?
        .inbound_number_by_digits(&super::inbound_numbers::digits_of(&text.notify_number))?
        .map_or(text.notify_number.clone(), |n| n.number);
    Ok(cx
        .store
        .write(move |ctx| {
            let m = InboundSms {
                id: ctx.new_id(),
                service_id,
                user_number: normalise_number(&text.user_number),
                notify_number,
                content: text.content,
                provider: text.provider,
                provider_reference: text.provider_reference,
                provider_date: text.provider_date,
                created_at: ctx.now_micros(),
            };
            ctx.insert_inbound_sms(&m)?;
            if let Some(cb) = ctx.get_service_callback(service_id, CallbackKind::InboundSms)? {
                callbacks::enqueue(ctx, &cb, callbacks::inbound_sms_body(&m))?;
            }
            Ok(Received::Stored(m))
        })
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_normalise_to_international_digits() {
        assert_eq!(normalise_number("07700 900123"), "447700900123");
        assert_eq!(normalise_number("+44 7700 900123"), "447700900123");
        assert_eq!(normalise_number("447700900123"), "447700900123");
        assert_eq!(normalise_number("0033 1 23"), "33123");
    }
}
