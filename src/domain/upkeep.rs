//! Delivery upkeep run by the scheduler:
//! - `timeout-sending-notifications`: emails and texts still `sending`/`pending` after
//!   `delivery.sending_timeout_hours` become `temporary-failure`, with the service's callback;
//! - `replay-created-notifications`: emails and texts still `created` after an hour (and not
//!   waiting in a delivery queue, e.g. for a retry) are queued again, and so are letters still
//!   without their PDF (§1.3's safety net). Delivery acts only on a notification still
//!   `created`, and the PDF step only on a letter without a PDF, so a replay never sends twice.
//!
//! (`tend-providers-back-to-middle` is in [`super::sms_routing`], with the other moves of
//! text-message provider shares.)
//!
//! Both walks go through live notifications in id order (uuid v7 ids are time-ordered, so they
//! never look at rows younger than their cut-off), a bounded chunk at a time.

use storage::records::{KeyType, NotificationStatus, NotificationType};
use storage::v7_floor;
use uuid::Uuid;

use super::JobOutcome;
use super::status::{Event, StatusChange, apply_status};
use crate::domain::Context;
use crate::domain::queues::Queue;

/// Rows looked at per chunk.
const CHUNK: usize = 2000;
const HOUR_MS: i64 = 3600 * 1000;
/// Replay looks back this far: older `created` rows are left to the operator.
const REPLAY_WINDOW_MS: i64 = 7 * 24 * HOUR_MS;

/// Move every email/text still `sending` or `pending` past the timeout to `temporary-failure`.
pub async fn timeout_sending_notifications(cx: &Context) -> JobOutcome {
    let hours = cx.config.delivery.sending_timeout_hours as i64;
    let cutoff = v7_floor(cx.store.clock().now_ms() - hours * HOUR_MS);
    let mut after: Option<Uuid> = None;
    let mut moved = 0u64;
    loop {
        let (count, last) = cx
            .store
            .write(move |ctx| {
                let (stuck, last) = ctx.scan_notifications(after, cutoff, CHUNK, |n| {
                    n.notification_type != NotificationType::Letter
                        && matches!(
                            n.status,
                            NotificationStatus::Sending | NotificationStatus::Pending
                        )
                })?;
                let mut count = 0u64;
                for n in stuck {
                    let change = StatusChange {
                        reason: Some("no delivery receipt within the sending timeout".into()),
                        ..Default::default()
                    };
                    apply_status(
                        ctx,
                        n.id,
                        Event::Timeout,
                        NotificationStatus::TemporaryFailure,
                        change,
                    )?;
                    count += 1;
                }
                Ok((count, last))
            })
            .await?;
        moved += count;
        match last {
            Some(id) => after = Some(id),
            None => return Ok(format!("notifications timed out: {moved}")),
        }
    }
}

/// Queue again every email/text still `created` between 7 days and 1 hour old that no delivery
/// queue row is waiting for.
pub async fn replay_created_notifications(cx: &Context) -> JobOutcome {
    let now = cx.store.clock().now_ms();
    let before = v7_floor(now - HOUR_MS);
    let mut after = Some(v7_floor(now - REPLAY_WINDOW_MS));
    let reader = cx.store.read()?;
    let mut waiting = reader.queue_payloads(Queue::DeliverEmail.name())?;
    waiting.extend(reader.queue_payloads(Queue::DeliverSms.name())?);
    waiting.extend(reader.queue_payloads(Queue::DeliverEmailJobs.name())?);
    waiting.extend(reader.queue_payloads(Queue::DeliverSmsJobs.name())?);
    waiting.extend(reader.queue_payloads(Queue::LetterPdf.name())?);
    let mut replayed = 0u64;
    loop {
        let (stuck, last) = reader.scan_notifications_before(after, before, CHUNK, |n| {
            // A letter is stuck only while it has no PDF (`updated_at` is set when it gets one).
            let waiting_for_work = match n.notification_type {
                NotificationType::Letter => n.updated_at.is_none() && n.key_type != KeyType::Test,
                _ => true,
            };
            n.status == NotificationStatus::Created
                && waiting_for_work
                && !waiting.contains(n.id.as_bytes().as_slice())
        })?;
        if !stuck.is_empty() {
            let ids: Vec<(Uuid, NotificationType, bool)> = stuck
                .iter()
                .map(|n| (n.id, n.notification_type, n.job_id.is_some()))
                .collect();
            replayed += cx
                .store
                .write(move |ctx| {
                    let mut queued = 0u64;
                    let now = ctx.now_ms();
                    for (id, kind, from_job) in ids {
                        // Still created now (the snapshot may be a moment old)?
                        let still = ctx
                            .get_notification(id)?
                            .is_some_and(|n| n.status == NotificationStatus::Created);
                        if still {
                            let queue = match (kind, from_job) {
                                (NotificationType::Letter, _) => Queue::LetterPdf.name(),
                                (NotificationType::Sms, false) => Queue::DeliverSms.name(),
                                (NotificationType::Sms, true) => Queue::DeliverSmsJobs.name(),
                                (_, false) => Queue::DeliverEmail.name(),
                                (_, true) => Queue::DeliverEmailJobs.name(),
                            };
                            ctx.enqueue(queue, now, id.as_bytes())?;
                            queued += 1;
                        }
                    }
                    Ok(queued)
                })
                .await?;
        }
        match last {
            Some(id) => after = Some(id),
            None => break,
        }
    }
    if replayed > 0 {
        tracing::warn!(replayed, "queued again notifications stuck in created");
    }
    Ok(format!("notifications queued again: {replayed}"))
}
