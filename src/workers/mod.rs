//! Background workers: every one is started from [`start`] and stopped by [`Workers::stop`].
//!
//! - [`delivery`]: emails and text messages from their queues to the providers;
//! - [`callbacks`]: calls to services' callback URLs;
//! - [`letters`]: letter PDFs, the virus scan and validation of precompiled letters;
//! - bulk sends: a job's rows into notifications ([`crate::domain::jobs::process`]);
//! - the scheduler's timer ([`crate::scheduler::run`]), when `scheduler.enabled`.
//!
//! Queue workers share one loop ([`serve_queue`]): claim what is due (as many rows as there are
//! free slots), hand each row to a task, sleep until the queue has work. Every row is finished by
//! its handler with an ack or a retry in the same write as the status change it caused.

pub mod callbacks;
pub mod delivery;
pub mod letters;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use storage::Claimed;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::app::App;
use crate::domain::queues::Queue;

/// The running workers.
pub struct Workers {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

/// Start every worker.
pub fn start(app: &Arc<App>) -> Workers {
    let (stop, rx) = watch::channel(false);
    let d = &app.config.delivery;
    let mut handles = vec![
        tokio::spawn(serve_queue(
            app.clone(),
            Queue::DeliverEmail,
            d.email_concurrency,
            rx.clone(),
            delivery::deliver,
        )),
        tokio::spawn(serve_queue(
            app.clone(),
            Queue::DeliverSms,
            d.sms_concurrency,
            rx.clone(),
            delivery::deliver,
        )),
        // Bulk sends have their own queues and slots: they never hold up an API send.
        tokio::spawn(serve_queue(
            app.clone(),
            Queue::DeliverEmailJobs,
            d.email_concurrency,
            rx.clone(),
            delivery::deliver,
        )),
        tokio::spawn(serve_queue(
            app.clone(),
            Queue::DeliverSmsJobs,
            d.sms_concurrency,
            rx.clone(),
            delivery::deliver,
        )),
        tokio::spawn(serve_queue(
            app.clone(),
            Queue::ProcessJob,
            1,
            rx.clone(),
            |app: Arc<App>, row| crate::domain::jobs::process(app.cx.clone(), row),
        )),
        tokio::spawn(serve_queue(
            app.clone(),
            Queue::Callbacks,
            app.config.callbacks.concurrency,
            rx.clone(),
            callbacks::call,
        )),
        tokio::spawn(serve_queue(
            app.clone(),
            Queue::LetterPdf,
            app.config.letters.concurrency,
            rx.clone(),
            letters::create_pdf,
        )),
        tokio::spawn(serve_queue(
            app.clone(),
            Queue::LetterScan,
            app.config.letters.concurrency,
            rx.clone(),
            letters::scan,
        )),
    ];
    if app.config.scheduler.enabled {
        handles.push(tokio::spawn(crate::scheduler::run(app.clone(), rx)));
    }
    Workers { stop, handles }
}

impl Workers {
    /// Ask every worker to stop, and wait for the work in hand to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for h in self.handles {
            let _ = h.await;
        }
    }
}

/// How long a claimed row stays leased: longer than any provider or callback timeout, so a row
/// is only handed out again when its worker died.
const LEASE_MS: i64 = 15 * 60 * 1000;
/// Longest sleep between looks at an idle queue (wake-ups normally come sooner).
const IDLE_WAIT: Duration = Duration::from_secs(5);
/// Claim failures of all queues share one log line per interval.
static CLAIM_FAILURE_LOG: storage::log_limit::LogEvery =
    storage::log_limit::LogEvery::new(Duration::from_secs(30));

/// Claim rows of `queue` and run `handle` on each, at most `concurrency` at once, until `stop`.
pub(crate) async fn serve_queue<F, Fut>(
    app: Arc<App>,
    queue: Queue,
    concurrency: usize,
    mut stop: watch::Receiver<bool>,
    handle: F,
) where
    F: Fn(Arc<App>, Claimed) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(concurrency));
    while !*stop.borrow() {
        // Wait for a free slot, then claim as many rows as there are free slots.
        let first = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stop.changed() => break,
        };
        let want = slots.available_permits() + 1;
        let claimed = match app.store.claim(queue.name(), want, LEASE_MS).await {
            Ok(rows) => rows,
            Err(e) => {
                // Every worker fails the same way while the store is unavailable: one line
                // per interval says so.
                if let Some(held_back) = CLAIM_FAILURE_LOG.ready() {
                    tracing::error!(%queue, error = %e, held_back, "cannot claim queue rows; retrying");
                }
                drop(first);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                    _ = stop.changed() => {},
                }
                continue;
            }
        };
        if claimed.is_empty() {
            drop(first);
            tokio::select! {
                r = app.store.wait_for_work(queue.name(), IDLE_WAIT) => {
                    if let Err(e) = r {
                        if let Some(held_back) = CLAIM_FAILURE_LOG.ready() {
                            tracing::error!(%queue, error = %e, held_back, "cannot look at the queue");
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
                _ = stop.changed() => {},
            }
            continue;
        }
        let mut permit = Some(first);
        for row in claimed {
            let p = match permit.take() {
                Some(p) => p,
                None => match slots.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let fut = handle(app.clone(), row);
            tokio::spawn(async move {
                fut.await;
                drop(p);
            });
        }
    }
    // Let the work in hand finish: its rows are acked or retried, never left leased.
    let _ = slots.acquire_many(concurrency as u32).await;
}
