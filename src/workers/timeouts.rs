//! Periodic upkeep of delivery: emails and texts still `sending`/`pending` after
//! `delivery.sending_timeout_hours` become `temporary-failure` (with the service's callback), and
//! SMS provider shares drift back towards their resting points.
//!
//! The timeout walks live notifications created before the cut-off in id order (uuid v7 ids are
//! time-ordered, so the walk never looks at younger rows), a bounded chunk per write.

use std::sync::Arc;
use std::time::Duration;

use storage::records::{NotificationStatus, NotificationType};
use tokio::sync::watch;
use uuid::Uuid;

use crate::app::App;
use crate::domain::status::{StatusChange, apply_status};
use crate::providers::SmsSender;

/// Rows looked at per write.
const CHUNK: usize = 2000;
const DRIFT_TICK: Duration = Duration::from_secs(60);

pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(app.config.delivery.timeout_check_interval_seconds.max(1));
    let mut next_timeout_check = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = tokio::time::Instant::now();
        if now >= next_timeout_check {
            match time_out_sending(&app).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "timed out notifications still sending"),
                Err(e) => tracing::error!(error = %e, "sending timeout check failed"),
            }
            next_timeout_check = now + every;
        }
        if let SmsSender::Http(p) = &app.providers.sms {
            p.drift(app.store.clock().now_ms());
        }
        let wait = DRIFT_TICK.min(next_timeout_check.saturating_duration_since(now));
        tokio::select! {
            _ = tokio::time::sleep(wait.max(Duration::from_millis(100))) => {},
            _ = stop.changed() => return,
        }
    }
}

/// The smallest uuid v7 of a millisecond: every id created before `ms` sorts below it.
pub fn v7_floor(ms: i64) -> Uuid {
    Uuid::from_u128((ms.max(0) as u128) << 80)
}

/// Move every email/text still `sending` or `pending` past the timeout to `temporary-failure`.
/// Returns how many moved.
pub async fn time_out_sending(app: &App) -> storage::Result<u64> {
    let hours = app.config.delivery.sending_timeout_hours as i64;
    let cutoff = v7_floor(app.store.clock().now_ms() - hours * 3600 * 1000);
    let mut after: Option<Uuid> = None;
    let mut moved = 0u64;
    loop {
        let (count, last) = app
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
                    apply_status(ctx, n.id, NotificationStatus::TemporaryFailure, change)?;
                    count += 1;
                }
                Ok((count, last))
            })
            .await?;
        moved += count;
        match last {
            Some(id) => after = Some(id),
            None => return Ok(moved),
        }
    }
}
