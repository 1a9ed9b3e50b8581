//! The status lifecycle of a notification after it was accepted (workers.md §1.1, §7).
//!
//! Every status change after acceptance — a provider taking a message, a delivery receipt, a
//! simulated outcome, a timeout — goes through [`apply_status`], inside a write operation, so
//! the guard, the update and the service's delivery-status callback are one durable step.

use storage::WriteCtx;
use storage::records::{CallbackKind, Micros, Notification, NotificationStatus, NotificationType};
use uuid::Uuid;

use super::callbacks;

/// What a status update changes besides the status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusChange {
    pub sent_at: Option<Micros>,
    pub sent_by: Option<String>,
    pub billable_units: Option<u32>,
    /// Why it failed (kept internally, never shown to recipients).
    pub reason: Option<String>,
}

/// The outcome of [`apply_status`].
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    Updated(Box<Notification>),
    /// The current status does not accept updates (already final): logged and ignored.
    Ignored(NotificationStatus),
    NotFound,
}

/// Upstream's update guard (§1.1): a status may change only from these.
pub fn accepts_updates(current: NotificationStatus) -> bool {
    use NotificationStatus::*;
    matches!(
        current,
        Created | Sending | Pending | Sent | PendingVirusCheck
    )
}

/// The journey is over: the API shows a `completed_at`, and retention may delete a letter's PDF.
pub fn is_completed(status: NotificationStatus) -> bool {
    use NotificationStatus::*;
    matches!(
        status,
        Sent | Delivered
            | TechnicalFailure
            | TemporaryFailure
            | PermanentFailure
            | ReturnedLetter
            | Cancelled
            | ValidationFailed
    )
}

/// Statuses the service's delivery-status callback hears about: every final one. (`sending` and
/// `pending` are steps on the way; the callback reports where a message ended up.)
pub fn is_reported(status: NotificationStatus) -> bool {
    status.is_final()
}

/// Move notification `id` to `status`, if its current status accepts updates, and queue the
/// delivery-status callback when the service has one and the new status is reported.
pub fn apply_status(
    ctx: &mut WriteCtx<'_>,
    id: Uuid,
    status: NotificationStatus,
    change: StatusChange,
) -> storage::Result<Applied> {
    let Some(mut n) = ctx.get_notification(id)? else {
        return Ok(Applied::NotFound);
    };
    if !accepts_updates(n.status) {
        tracing::info!(
            notification_id = %id,
            current = n.status.as_str(),
            new = status.as_str(),
            "status update ignored: the notification is already final"
        );
        return Ok(Applied::Ignored(n.status));
    }
    n.status = status;
    n.updated_at = Some(ctx.now_micros());
    if let Some(at) = change.sent_at {
        n.sent_at = Some(at);
    }
    if let Some(by) = change.sent_by {
        n.sent_by = Some(by);
    }
    if let Some(units) = change.billable_units {
        n.billable_units = units;
    }
    if let Some(reason) = change.reason {
        n.status_reason = Some(reason);
    }
    ctx.update_notification(&n)?;
    if is_reported(status) && n.notification_type != NotificationType::Letter {
        queue_delivery_status_callback(ctx, &n)?;
    }
    Ok(Applied::Updated(Box::new(n)))
}

/// Queue the service's delivery-status callback for `n` as it is now (§7.5), if it has one.
pub fn queue_delivery_status_callback(
    ctx: &mut WriteCtx<'_>,
    n: &Notification,
) -> storage::Result<()> {
    if let Some(cb) = ctx.get_service_callback(n.service_id, CallbackKind::DeliveryStatus)? {
        let body = callbacks::delivery_status_body(n);
        callbacks::enqueue(ctx, &cb, body)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unfinished_statuses_accept_updates() {
        use NotificationStatus::*;
        for s in [Created, Sending, Pending, Sent, PendingVirusCheck] {
            assert!(accepts_updates(s), "{s}");
        }
        for s in [
            Delivered,
            PermanentFailure,
            TemporaryFailure,
            TechnicalFailure,
            Cancelled,
        ] {
            assert!(!accepts_updates(s), "{s}");
        }
        assert!(is_reported(Delivered));
        assert!(!is_reported(Sending));
        assert!(!is_reported(Pending));
    }
}
