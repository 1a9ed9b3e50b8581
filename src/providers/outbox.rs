//! The outbox sink: the embedded default's "provider". Nothing leaves the machine; each message
//! is recorded exactly as a provider would have received it, in the same durable write that
//! marks it delivered, and listed at `/outbox` (web) and `GET /outbox/messages` (internal API).

use storage::records::{NotificationType, OutboxMessage};
use uuid::Uuid;

use super::{OutgoingEmail, OutgoingSms};

/// `sent_by` of messages kept by the outbox.
pub const OUTBOX_PROVIDER: &str = "outbox";

pub fn email_record(service_id: Uuid, email: &OutgoingEmail, now: i64) -> OutboxMessage {
    OutboxMessage {
        notification_id: email.notification_id,
        service_id,
        notification_type: NotificationType::Email,
        to: email.to.clone(),
        from: format!("\"{}\" <{}>", email.from_name, email.from_address),
        reply_to: email.reply_to.clone(),
        subject: Some(email.subject.clone()),
        body: email.text_body.clone(),
        html: Some(email.html_body.clone()),
        unsubscribe_url: email.unsubscribe_url.clone(),
        created_at: now,
    }
}

pub fn sms_record(service_id: Uuid, sms: &OutgoingSms, now: i64) -> OutboxMessage {
    OutboxMessage {
        notification_id: sms.notification_id,
        service_id,
        notification_type: NotificationType::Sms,
        to: sms.to.clone(),
        from: sms.sender.clone(),
        reply_to: None,
        subject: None,
        body: sms.body.clone(),
        html: None,
        unsubscribe_url: None,
        created_at: now,
    }
}
