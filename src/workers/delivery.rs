//! Delivery of emails and text messages (workers.md §7.1, §7.4).
//!
//! A row of `deliver-email` / `deliver-sms` names a notification. The worker acts only on a
//! notification still in `created` (so a retry, a replay or a second claim after a crash never
//! sends twice), renders it, hands it to the configured provider, and records the outcome and
//! the queue ack in one durable write:
//!
//! - accepted → `sending` (or `delivered` where acceptance means delivery: the outbox, an SMTP
//!   relay with `delivered_on_accept`), `sent_at`, `sent_by`; international texts → `sent`;
//! - a retryable failure → retried `delivery.max_retries` times `delivery.retry_delay_seconds`
//!   apart, then `technical-failure`;
//! - a permanent failure, or an inactive service → `technical-failure` at once.
//!
//! Test keys never reach a provider: the message goes to `sending` and a simulated receipt moves
//! it on through the same functions real receipts use (§7.4).

use std::sync::Arc;

use serde_json::Value;
use storage::Claimed;
use storage::records::{KeyType, Notification, NotificationStatus, NotificationType, Service};
use uuid::Uuid;

use crate::app::App;
use crate::domain::queues::Queue;
use crate::domain::receipts;
use crate::domain::status::{Event, StatusChange, apply_status};
use crate::metrics::Attempt;
use crate::providers::{
    EmailAccepted, EmailSender, OutgoingEmail, OutgoingSms, SendError, SmsSender, outbox,
};
use crate::templates::email::{email_html_body, email_plain_text};
use crate::templates::placeholders::Personalisation;
use crate::templates::sms::render_sms_for_delivery;

/// Handle one claimed delivery row. Never panics on bad data: what cannot be delivered ends in
/// a failure status.
pub async fn deliver(app: Arc<App>, row: Claimed) {
    let queue: &'static str = [
        Queue::DeliverSms.name(),
        Queue::DeliverSmsJobs.name(),
        Queue::DeliverEmailJobs.name(),
    ]
    .into_iter()
    .find(|q| *q == row.queue)
    .unwrap_or(Queue::DeliverEmail.name());
    let seq = row.seq;
    let Ok(id) = Uuid::from_slice(&row.payload) else {
        tracing::error!(
            queue,
            seq,
            "delivery row without a notification id; dropped"
        );
        ack(&app, queue, seq).await;
        return;
    };
    if let Err(e) = deliver_one(&app, queue, seq, id).await {
        // A storage error: leave the row leased; it returns to the queue when the lease runs out
        // (or at the next start), and the `created` check keeps the retry harmless.
        tracing::error!(notification_id = %id, error = %e, "delivery could not record its outcome");
    }
}

async fn ack(app: &App, queue: &'static str, seq: u64) {
    if let Err(e) = app.store.write(move |ctx| ctx.ack(queue, seq)).await {
        tracing::error!(queue, seq, error = %e, "cannot ack a queue row");
    }
}

/// What a send attempt came to.
enum Outcome {
    Accepted {
        /// What acceptance means here: `delivered` for the outbox or an SMTP relay trusted to
        /// deliver, `sending` while a receipt is awaited, `sent` for international texts.
        new_status: NotificationStatus,
        sent_by: String,
        reference: Option<String>,
        outbox: Option<Box<storage::records::OutboxMessage>>,
    },
    Failed(String, SendError),
}

impl Outcome {
    /// The provider that answered (or failed).
    fn provider(&self) -> &str {
        match self {
            Outcome::Accepted { sent_by, .. } => sent_by,
            Outcome::Failed(provider, _) => provider,
        }
    }

    fn attempt(&self) -> Attempt {
        match self {
            Outcome::Accepted { .. } => Attempt::Accepted,
            Outcome::Failed(_, SendError::Retryable(_)) => Attempt::Retryable,
            Outcome::Failed(_, SendError::Permanent(_)) => Attempt::Permanent,
        }
    }
}

async fn deliver_one(
    app: &Arc<App>,
    queue: &'static str,
    seq: u64,
    id: Uuid,
) -> storage::Result<()> {
    let (n, service, template) = {
        let reader = app.store.read()?;
        let Some(n) = reader.get_notification(id)? else {
            tracing::info!(notification_id = %id, "notification gone before delivery; nothing to do");
            return app
                .store
                .write(move |ctx| ctx.ack(queue, seq).map(drop))
                .await;
        };
        let service = reader.get_service(n.service_id)?;
        let template = reader.get_template_version(n.template_id, n.template_version)?;
        (n, service, template)
    };
    if n.status != NotificationStatus::Created {
        tracing::info!(notification_id = %id, status = n.status.as_str(), "already handled; skipped");
        return app
            .store
            .write(move |ctx| ctx.ack(queue, seq).map(drop))
            .await;
    }
    let (Some(service), Some(template)) = (service, template) else {
        return fail_now(app, queue, seq, id, "service or template missing").await;
    };
    if !service.active {
        return fail_now(app, queue, seq, id, "service is inactive").await;
    }
    if n.key_type == KeyType::Test {
        return simulate(app, queue, seq, &n).await;
    }
    let values = Personalisation::from_value(
        serde_json::from_str::<Value>(&n.personalisation)
            .ok()
            .as_ref(),
    );
    let now = app.store.clock().now_micros();
    let sending = std::time::Instant::now();
    let outcome = match n.notification_type {
        NotificationType::Email => {
            let email = OutgoingEmail {
                notification_id: n.id,
                from_name: service.name.clone(),
                from_address: format!(
                    "{}@{}",
                    service.email_sender_local_part,
                    app.config.email_domain()
                ),
                to: n.to.clone(),
                reply_to: n.reply_to_text.clone(),
                subject: n.subject.clone().unwrap_or_default(),
                text_body: email_plain_text(&template.content, &values, None),
                html_body: email_html_body(&template.content, &values, None),
                unsubscribe_url: match &n.one_click_unsubscribe_url {
                    Some(url) => Some(url.clone()),
                    // Rows of a job: the link is made here (no request gave a root URL).
                    None => crate::domain::unsubscribe::link_for_template(app, &n)?,
                },
            };
            send_email(app, &service, &email, now).await
        }
        NotificationType::Sms => {
            let prefix = service.prefix_sms.then_some(service.name.as_str());
            let sms = OutgoingSms {
                notification_id: n.id,
                to: n.normalised_to.clone(),
                sender: n
                    .reply_to_text
                    .clone()
                    .unwrap_or_else(|| app.config.default_sms_sender()),
                body: render_sms_for_delivery(&template.content, &values, prefix),
                international: n.international,
            };
            send_sms(app, &service, &sms, now).await
        }
        NotificationType::Letter => {
            return fail_now(
                app,
                queue,
                seq,
                id,
                "letters are not delivered by this worker",
            )
            .await;
        }
    };
    app.metrics.delivery_attempt(
        n.notification_type,
        outcome.provider(),
        outcome.attempt(),
        sending.elapsed(),
    );
    record(app, queue, seq, id, now, outcome).await
}

async fn send_email(app: &App, service: &Service, email: &OutgoingEmail, now: i64) -> Outcome {
    match &app.providers.email {
        EmailSender::Outbox => Outcome::Accepted {
            new_status: NotificationStatus::Delivered,
            sent_by: outbox::OUTBOX_PROVIDER.into(),
            reference: None,
            outbox: Some(Box::new(outbox::email_record(service.id, email, now))),
        },
        EmailSender::Smtp(smtp) => match smtp.send(email).await {
            Ok(EmailAccepted { reference }) => Outcome::Accepted {
                new_status: if app.config.smtp.delivered_on_accept {
                    NotificationStatus::Delivered
                } else {
                    NotificationStatus::Sending
                },
                sent_by: "smtp".into(),
                reference,
                outbox: None,
            },
            Err(e) => Outcome::Failed("smtp".into(), e),
        },
    }
}

async fn send_sms(app: &App, service: &Service, sms: &OutgoingSms, now: i64) -> Outcome {
    match &app.providers.sms {
        SmsSender::Outbox => Outcome::Accepted {
            new_status: NotificationStatus::Delivered,
            sent_by: outbox::OUTBOX_PROVIDER.into(),
            reference: None,
            outbox: Some(Box::new(outbox::sms_record(service.id, sms, now))),
        },
        SmsSender::Http(providers) => match providers.send(sms, now / 1000).await {
            Ok(name) => Outcome::Accepted {
                // Upstream: international texts are `sent` (no receipts expected from most
                // countries); UK texts wait in `sending` for the receipt.
                new_status: if sms.international {
                    NotificationStatus::Sent
                } else {
                    NotificationStatus::Sending
                },
                sent_by: name,
                reference: None,
                outbox: None,
            },
            Err((name, e)) => {
                // A failure may have moved traffic: save the shares so a restart keeps them.
                if let Err(save) = crate::domain::sms_routing::save_share_changes(app).await {
                    tracing::warn!(error = %save, "cannot save SMS provider shares");
                }
                Outcome::Failed(name, e)
            }
        },
    }
}

/// Record the outcome of a send and finish the queue row, in one write.
async fn record(
    app: &App,
    queue: &'static str,
    seq: u64,
    id: Uuid,
    now: i64,
    outcome: Outcome,
) -> storage::Result<()> {
    let keep = app.config.outbox.keep;
    let delay_ms = (app.config.delivery.retry_delay_seconds * 1000) as i64;
    let max_retries = app.config.delivery.max_retries;
    match outcome {
        Outcome::Accepted {
            new_status,
            sent_by,
            reference,
            outbox,
        } => {
            app.store
                .write(move |ctx| {
                    if let Some(m) = &outbox {
                        ctx.insert_outbox_message(m, keep)?;
                    }
                    if let Some(r) = &reference {
                        ctx.put_provider_reference(r, id)?;
                    }
                    let change = StatusChange {
                        sent_at: Some(now),
                        sent_by: Some(sent_by),
                        ..Default::default()
                    };
                    apply_status(ctx, id, Event::ProviderAccepted, new_status, change)?;
                    ctx.ack(queue, seq)?;
                    Ok(())
                })
                .await
        }
        Outcome::Failed(provider, SendError::Permanent(reason)) => {
            tracing::warn!(notification_id = %id, provider, %reason, "provider rejected the message");
            fail_now(app, queue, seq, id, &reason).await
        }
        Outcome::Failed(provider, SendError::Retryable(reason)) => {
            let outcome = app
                .store
                .write(move |ctx| {
                    let outcome = ctx.retry(queue, seq, delay_ms, max_retries)?;
                    if let storage::RetryOutcome::GaveUp { .. } = outcome {
                        let change = StatusChange {
                            reason: Some(format!("gave up after {max_retries} retries: {reason}")),
                            ..Default::default()
                        };
                        apply_status(
                            ctx,
                            id,
                            Event::DeliveryFailed,
                            NotificationStatus::TechnicalFailure,
                            change,
                        )?;
                    }
                    Ok(outcome)
                })
                .await?;
            match outcome {
                storage::RetryOutcome::GaveUp { attempts, .. } => tracing::error!(
                    notification_id = %id, provider, attempts,
                    "delivery failed after every retry: technical-failure"
                ),
                storage::RetryOutcome::Scheduled { attempts, .. } => tracing::warn!(
                    notification_id = %id, provider, attempts, "send failed; will retry"
                ),
                storage::RetryOutcome::NotLeased => {}
            }
            Ok(())
        }
    }
}

async fn fail_now(
    app: &App,
    queue: &'static str,
    seq: u64,
    id: Uuid,
    reason: &str,
) -> storage::Result<()> {
    let reason = reason.to_string();
    tracing::error!(notification_id = %id, %reason, "technical-failure");
    app.store
        .write(move |ctx| {
            let change = StatusChange {
                reason: Some(reason),
                ..Default::default()
            };
            apply_status(
                ctx,
                id,
                Event::DeliveryFailed,
                NotificationStatus::TechnicalFailure,
                change,
            )?;
            ctx.ack(queue, seq)?;
            Ok(())
        })
        .await
}

/// The outcome a test-key message simulates, from its recipient (§7.4).
pub fn simulated_outcome(n: &Notification) -> NotificationStatus {
    match n.notification_type {
        NotificationType::Sms if n.normalised_to.ends_with("7700900003") => {
            NotificationStatus::TemporaryFailure
        }
        NotificationType::Sms if n.normalised_to.ends_with("7700900002") => {
            NotificationStatus::PermanentFailure
        }
        NotificationType::Email if n.normalised_to == "temp-fail@simulator.notify" => {
            NotificationStatus::TemporaryFailure
        }
        NotificationType::Email if n.normalised_to == "perm-fail@simulator.notify" => {
            NotificationStatus::PermanentFailure
        }
        _ => NotificationStatus::Delivered,
    }
}

/// Test key: `sending` now, then the simulated receipt through the receipt functions.
async fn simulate(
    app: &App,
    queue: &'static str,
    seq: u64,
    n: &Notification,
) -> storage::Result<()> {
    let id = n.id;
    let now = app.store.clock().now_micros();
    let is_email = n.notification_type == NotificationType::Email;
    let sent_by = if is_email {
        app.providers.email_sender_name().to_string()
    } else {
        app.providers.sms_test_sender()
    };
    // Email receipts find their message by the provider's reference, as SES receipts do.
    let reference = is_email.then(|| Uuid::new_v4().to_string());
    let stored_reference = reference.clone();
    app.store
        .write(move |ctx| {
            if let Some(r) = &stored_reference {
                ctx.put_provider_reference(r, id)?;
            }
            let change = StatusChange {
                sent_at: Some(now),
                sent_by: Some(sent_by),
                ..Default::default()
            };
            apply_status(
                ctx,
                id,
                Event::ProviderAccepted,
                NotificationStatus::Sending,
                change,
            )?;
            ctx.ack(queue, seq)?;
            Ok(())
        })
        .await?;
    let outcome = simulated_outcome(n);
    let applied = match reference {
        Some(r) => receipts::apply_email_receipt(&app.store, &r, outcome).await,
        None => receipts::apply_sms_receipt(&app.store, id, move |_| outcome).await,
    };
    if let Err(e) = applied {
        tracing::error!(notification_id = %id, error = %e, "simulated receipt failed");
    }
    Ok(())
}
