//! The service manager's side of `notify serve`: systemd's readiness protocol (`Type=notify`
//! in `packaging/notify.service`) and the bound on a graceful stop.
//!
//! - `READY=1` once the store, the search index and the listener are up, so `systemctl start`
//!   returns (and units ordered after this one start) only when requests can be answered;
//! - `STATUS=` lines that `systemctl status notify` shows (what it is doing now);
//! - `WATCHDOG=1` every half `WatchdogSec=` while the runtime runs tasks and the database answers
//!   a read, only when systemd asked for it (`$WATCHDOG_USEC`); a hung process is restarted;
//! - `STOPPING=1` when a stop begins; the stop then takes at most [`STOP_GRACE`].
//!
//! Without `$NOTIFY_SOCKET` (not started by systemd) every call here does nothing. Messages go
//! through the `sd-notify` crate; a failure to send one is logged, never fatal.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::task::JoinHandle;

use crate::app::App;

/// How long a stop may spend finishing requests and work in hand before the rest is left (leased
/// queue rows return to their queues at the next start; answered writes are already durable).
/// `TimeoutStopSec=` in `packaging/notify.service` leaves room after it to close the store.
pub const STOP_GRACE: Duration = Duration::from_secs(30);

/// Logs the first failure to reach systemd only, so a broken socket does not flood the log.
static SEND_FAILED: AtomicBool = AtomicBool::new(false);

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states)
        && !SEND_FAILED.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(error = %e, "cannot send a notification to systemd ($NOTIFY_SOCKET)");
    }
}

/// `STATUS=`: one line for `systemctl status`.
pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// `READY=1` with a status line: the service is up.
pub fn ready(text: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(text)]);
}

/// `STOPPING=1`: a stop has begun.
pub fn stopping(text: &str) {
    send(&[NotifyState::Stopping, NotifyState::Status(text)]);
}

/// How often to ping systemd's watchdog: half of `$WATCHDOG_USEC` (the margin systemd's
/// documentation recommends), or `None` when no watchdog is set for this process.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .filter(|timeout| !timeout.is_zero())
        .map(|timeout| timeout / 2)
}

/// Starts the watchdog task when systemd asked for one. It pings only while the async runtime
/// runs it and the database answers a read (what `GET /_status` checks), so a wedged runtime or
/// store stops the pings and systemd restarts the service. Abort the handle when stopping.
pub fn start_watchdog(app: &Arc<App>) -> Option<JoinHandle<()>> {
    let interval = watchdog_interval()?;
    tracing::info!(
        interval_ms = interval.as_millis() as u64,
        "systemd watchdog enabled"
    );
    let app = app.clone();
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match app.store.read().and_then(|r| r.notification_count()) {
                Ok(_) => send(&[NotifyState::Watchdog]),
                Err(e) => tracing::error!(
                    error = %e,
                    "the database cannot be read; not pinging systemd's watchdog"
                ),
            }
        }
    }))
}

/// Waits for the server task. Once `stop_requested` fires, waits at most `grace` more
/// ([`STOP_GRACE`] when serving); past that the rest of the work is left (logged), so a stop
/// ends before systemd's `TimeoutStopSec=` sends SIGKILL.
pub async fn finish_within<T>(
    server: JoinHandle<T>,
    stop_requested: tokio::sync::oneshot::Receiver<()>,
    grace: Duration,
) -> Option<T> {
    tokio::pin!(server);
    tokio::select! {
        done = &mut server => return done.ok(),
        _ = stop_requested => {},
    }
    if let Ok(done) = tokio::time::timeout(grace, &mut server).await {
        return done.ok();
    }
    tracing::warn!(
        grace_ms = grace.as_millis() as u64,
        "stopping took longer than the grace period; leaving the rest (leased queue rows \
         return to their queues at the next start)"
    );
    server.abort();
    let _ = server.await;
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dropped when the task owning it is dropped (finished or cancelled).
    struct Dropped(Arc<AtomicBool>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn a_stop_that_outlasts_the_grace_period_is_cut_short() {
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = Dropped(dropped.clone());
        // Work in hand that never finishes.
        let server = tokio::spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        let (stop, stop_requested) = tokio::sync::oneshot::channel();
        stop.send(()).unwrap();
        finish_within(server, stop_requested, Duration::from_millis(50)).await;
        assert!(
            dropped.load(Ordering::SeqCst),
            "the server task was not cancelled"
        );
    }

    #[tokio::test]
    async fn a_server_that_ends_by_itself_is_not_waited_on_further() {
        let (_stop, stop_requested) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async {});
        // Returns although no stop was requested and the grace period is an hour (the bound
        // only turns a hang into a failure).
        let waited = tokio::time::timeout(
            Duration::from_secs(600),
            finish_within(server, stop_requested, Duration::from_secs(3600)),
        )
        .await;
        assert!(waited.is_ok(), "waited for a stop that was never requested");
    }

    /// The unit's stop timeout must leave time after the grace period to close the store.
    #[test]
    fn unit_stop_timeout_leaves_room_after_the_grace_period() {
        let unit = include_str!("../packaging/notify.service");
        let seconds: u64 = unit
            .lines()
            .find_map(|l| l.trim().strip_prefix("TimeoutStopSec="))
            .and_then(|v| v.trim().strip_suffix('s'))
            .and_then(|v| v.parse().ok())
            .expect("TimeoutStopSec=<n>s in packaging/notify.service");
        assert!(
            seconds >= STOP_GRACE.as_secs() + 10,
            "TimeoutStopSec={seconds}s, grace {STOP_GRACE:?}"
        );
        assert!(unit.contains("\nType=notify\n"), "the unit is Type=notify");
        assert!(
            unit.contains("\nWatchdogSec="),
            "the unit sets WatchdogSec="
        );
    }
}
