//! The status lifecycle of a notification after it was accepted (workers.md §1.1, §7): the one
//! place a status changes.
//!
//! Every change names its [`Event`] — what happened and where: a provider took a message, a
//! receipt came back, the timeout passed, a letter's PDF was made or its scan finished, the
//! printer sent it or answered, someone cancelled it, it came back undelivered. The transition
//! table ([`allowed`]) says which statuses each event may move a notification from and to; a
//! change the table does not allow is logged and ignored (a late receipt for a message already
//! final, a cancellation after printing). [`apply_status`] checks the table, updates the
//! notification (or, for the printer's events, its archived history row) and queues the
//! callback upstream sends for that change, all inside the caller's write, so the guard, the
//! update and the callback are one durable step.
//!
//! Callbacks, as upstream: every final status of an email or text message goes to the service's
//! delivery-status callback (receipts, timeouts, failures); a returned letter goes to its
//! returned-letter callback; other letter changes send none.

use storage::WriteCtx;
use storage::records::{
    CallbackKind, Micros, Notification, NotificationHistory, NotificationStatus, NotificationType,
};
use uuid::Uuid;

use super::callbacks;

/// What made a status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A provider accepted an email or text (the delivery worker; a test key's simulated send).
    ProviderAccepted,
    /// Delivery could not happen: the provider refused it for good, every retry failed, or the
    /// service or template is gone.
    DeliveryFailed,
    /// A text message's delivery receipt: from a provider, or a test key's simulated outcome.
    SmsReceipt,
    /// An email's delivery receipt (Amazon SES through SNS, or a test key's simulated outcome):
    /// only an email still `sending` or `pending` changes (§7.3).
    EmailReceipt,
    /// No receipt within the sending timeout (72 hours).
    Timeout,
    /// A templated letter's PDF was made (or could not be): its sheets are counted, a letter too
    /// long fails validation, a test key's letter moves on as a printed one would.
    LetterRendered,
    /// A precompiled letter's virus scan and validation finished (or gave up).
    LetterScanned,
    /// An operator asked for a failed scan to run again (`letters replay-scan-errors`).
    ScanReplayed,
    /// The print run sent the letter to the printer, or could not.
    Printed,
    /// The printer's response file: printed and posted, or not.
    PrinterResponse,
    /// A person or the service cancelled the letter before printing.
    Cancelled,
    /// A whole letter job was cancelled before printing (§8.3): upstream also marks the job's
    /// letters that failed as cancelled, so the job reads as one cancelled batch.
    LetterJobCancelled,
    /// The printer reported the letter returned undelivered.
    Returned,
}

/// Statuses of a letter the printer has (and may return).
pub fn printed(status: NotificationStatus) -> bool {
    matches!(
        status,
        NotificationStatus::Sending | NotificationStatus::Delivered
    )
}

/// The transition table: may `event` move a notification from `from` to `to`?
pub fn allowed(event: Event, from: NotificationStatus, to: NotificationStatus) -> bool {
    use NotificationStatus::*;
    match event {
        Event::ProviderAccepted => from == Created && matches!(to, Sending | Delivered | Sent),
        Event::DeliveryFailed => from == Created && to == TechnicalFailure,
        Event::SmsReceipt | Event::EmailReceipt => {
            let from_ok = match event {
                Event::EmailReceipt => matches!(from, Sending | Pending),
                _ => matches!(from, Created | Sending | Pending | Sent),
            };
            from_ok
                && matches!(
                    to,
                    Sending
                        | Pending
                        | Sent
                        | Delivered
                        | TemporaryFailure
                        | PermanentFailure
                        | TechnicalFailure
                )
        }
        Event::Timeout => matches!(from, Sending | Pending) && to == TemporaryFailure,
        Event::LetterRendered => {
            // A live letter stays `created` (its sheets counted) for the print run; a test
            // key's letter (accepted as `sending`) is answered like a printed one.
            matches!(from, Created | Sending)
                && matches!(
                    to,
                    Created | Sending | Delivered | ValidationFailed | TechnicalFailure
                )
        }
        Event::LetterScanned => {
            from == PendingVirusCheck
                && matches!(
                    to,
                    Created | Delivered | VirusScanFailed | ValidationFailed | TechnicalFailure
                )
        }
        Event::ScanReplayed => {
            matches!(from, TechnicalFailure | PendingVirusCheck) && to == PendingVirusCheck
        }
        Event::Printed => from == Created && matches!(to, Sending | TechnicalFailure),
        Event::PrinterResponse => {
            matches!(from, Created | Sending) && matches!(to, Delivered | TemporaryFailure)
        }
        Event::Cancelled => matches!(from, Created | PendingVirusCheck) && to == Cancelled,
        Event::LetterJobCancelled => {
            matches!(
                from,
                Created
                    | Cancelled
                    | VirusScanFailed
                    | ValidationFailed
                    | TechnicalFailure
                    | PendingVirusCheck
            ) && to == Cancelled
        }
        Event::Returned => printed(from) && to == ReturnedLetter,
    }
}

impl Event {
    /// Events that may also change an archived (history) row: the printer answers and returns
    /// letters long after retention may have archived them.
    fn reaches_history(self) -> bool {
        matches!(self, Event::PrinterResponse | Event::Returned)
    }
}

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
    /// An archived notification's history row was updated.
    UpdatedHistory(Box<NotificationHistory>),
    /// The table does not allow this change from the current status: logged and ignored.
    Ignored(NotificationStatus),
    NotFound,
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

/// Move notification `id` to `to` because of `event`, if the transition table allows it from
/// its current status, and queue the callback that change sends.
pub fn apply_status(
    ctx: &mut WriteCtx<'_>,
    id: Uuid,
    event: Event,
    to: NotificationStatus,
    change: StatusChange,
) -> storage::Result<Applied> {
    apply_status_with(ctx, id, event, to, change, |_| {})
}

/// [`apply_status`], also changing other fields of the notification in the same write (a
/// scanned letter's recipient is the address read from its PDF). `edit` runs only when the
/// change is allowed, before the status is set.
pub fn apply_status_with(
    ctx: &mut WriteCtx<'_>,
    id: Uuid,
    event: Event,
    to: NotificationStatus,
    change: StatusChange,
    edit: impl FnOnce(&mut Notification),
) -> storage::Result<Applied> {
    let Some(mut n) = ctx.get_notification(id)? else {
        if event.reaches_history() {
            return apply_to_history(ctx, id, event, to);
        }
        return Ok(Applied::NotFound);
    };
    if !allowed(event, n.status, to) {
        tracing::info!(
            notification_id = %id,
            ?event,
            current = n.status.as_str(),
            new = to.as_str(),
            "status update ignored: not a change this event makes from the current status"
        );
        return Ok(Applied::Ignored(n.status));
    }
    edit(&mut n);
    n.status = to;
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
    queue_callbacks(ctx, event, &NotificationHistory::from(&n), Some(&n))?;
    Ok(Applied::Updated(Box::new(n)))
}

fn apply_to_history(
    ctx: &mut WriteCtx<'_>,
    id: Uuid,
    event: Event,
    to: NotificationStatus,
) -> storage::Result<Applied> {
    let Some(mut h) = ctx.get_notification_history(id)? else {
        return Ok(Applied::NotFound);
    };
    if !allowed(event, h.status, to) {
        tracing::info!(
            notification_id = %id,
            ?event,
            current = h.status.as_str(),
            new = to.as_str(),
            "status update of an archived notification ignored"
        );
        return Ok(Applied::Ignored(h.status));
    }
    h.status = to;
    h.updated_at = Some(ctx.now_micros());
    ctx.put_notification_history(&h)?;
    queue_callbacks(ctx, event, &h, None)?;
    Ok(Applied::UpdatedHistory(Box::new(h)))
}

/// The callbacks a change sends (see the module notes). `live` is the notification when it is
/// not archived (the delivery-status body shows its recipient and reference).
fn queue_callbacks(
    ctx: &mut WriteCtx<'_>,
    event: Event,
    h: &NotificationHistory,
    live: Option<&Notification>,
) -> storage::Result<()> {
    if event == Event::Returned {
        if let Some(cb) = ctx.get_service_callback(h.service_id, CallbackKind::ReturnedLetter)? {
            let sent_by = live.and_then(|n| n.created_by_name.as_deref());
            let body = callbacks::returned_letter_body(ctx, h, sent_by)?;
            callbacks::enqueue(ctx, &cb, body)?;
        }
        return Ok(());
    }
    if let Some(n) = live
        && is_reported(n.status)
        && n.notification_type != NotificationType::Letter
    {
        queue_delivery_status_callback(ctx, n)?;
    }
    Ok(())
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
    fn final_statuses_accept_no_receipt() {
        use NotificationStatus::*;
        for s in [Created, Sending, Pending, Sent] {
            assert!(allowed(Event::SmsReceipt, s, Delivered), "{s}");
        }
        assert!(allowed(Event::EmailReceipt, Sending, Delivered));
        assert!(!allowed(Event::EmailReceipt, Created, Delivered));
        for s in [
            Delivered,
            PermanentFailure,
            TemporaryFailure,
            TechnicalFailure,
            Cancelled,
            PendingVirusCheck,
        ] {
            assert!(!allowed(Event::SmsReceipt, s, Delivered), "{s}");
            assert!(!allowed(Event::EmailReceipt, s, Delivered), "{s}");
        }
        assert!(is_reported(Delivered));
        assert!(!is_reported(Sending));
        assert!(!is_reported(Pending));
    }

    #[test]
    fn letters_are_cancelled_only_before_printing() {
        use NotificationStatus::*;
        assert!(allowed(Event::Cancelled, Created, Cancelled));
        assert!(allowed(Event::Cancelled, PendingVirusCheck, Cancelled));
        for s in [Sending, Delivered, Cancelled, ReturnedLetter] {
            assert!(!allowed(Event::Cancelled, s, Cancelled), "{s}");
        }
    }

    #[test]
    fn only_printed_letters_come_back() {
        use NotificationStatus::*;
        for s in [Sending, Delivered] {
            assert!(allowed(Event::Returned, s, ReturnedLetter), "{s}");
        }
        for s in [
            Created,
            Cancelled,
            ValidationFailed,
            ReturnedLetter,
            TemporaryFailure,
        ] {
            assert!(!allowed(Event::Returned, s, ReturnedLetter), "{s}");
        }
    }

    #[test]
    fn each_event_reaches_only_its_own_statuses() {
        use NotificationStatus::*;
        assert!(!allowed(Event::Timeout, Sending, Delivered));
        assert!(allowed(Event::Timeout, Sending, TemporaryFailure));
        assert!(!allowed(Event::Timeout, Created, TemporaryFailure));
        assert!(!allowed(Event::ProviderAccepted, Sending, Delivered));
        assert!(!allowed(Event::Printed, PendingVirusCheck, Sending));
        assert!(allowed(Event::PrinterResponse, Sending, Delivered));
        assert!(!allowed(
            Event::PrinterResponse,
            Delivered,
            TemporaryFailure
        ));
        assert!(allowed(
            Event::ScanReplayed,
            TechnicalFailure,
            PendingVirusCheck
        ));
        assert!(!allowed(Event::ScanReplayed, Delivered, PendingVirusCheck));
    }
}
