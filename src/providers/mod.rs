//! Delivery providers: where an email or a text message goes once a delivery worker has it.
//!
//! - [`outbox`]: the local sink of the embedded default — messages are recorded in redb and shown
//!   at `/outbox`; nothing leaves the machine;
//! - [`smtp`]: email through an SMTP relay (lettre, rustls);
//! - [`sms`]: text messages through HTTP providers (MMG, Firetext, a generic webhook) with
//!   weighted choice and error-driven switching.
//!
//! Providers only send. Statuses, retries and callbacks are the delivery worker's business
//! ([`crate::workers::delivery`]); a provider says whether a failure is worth retrying.

pub mod outbox;
pub mod sms;
pub mod smtp;

use uuid::Uuid;

/// Why a send did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: connection refused, timeout, 5xx, throttling.
    #[error("{0}")]
    Retryable(String),
    /// Will never succeed as it is: the provider rejected the message or the recipient.
    #[error("{0}")]
    Permanent(String),
}

/// An email ready for a provider: everything rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingEmail {
    pub notification_id: Uuid,
    /// Display name of the From address (the service name).
    pub from_name: String,
    /// `<local part>@<configured domain>`.
    pub from_address: String,
    pub to: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    /// Sets `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 8058 one-click).
    pub unsubscribe_url: Option<String>,
}

/// A text message ready for a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingSms {
    pub notification_id: Uuid,
    /// The recipient in international format without `+`, e.g. `447700900123`.
    pub to: String,
    /// The sender shown on the phone (a name like `GOVUK` or a number).
    pub sender: String,
    /// The body as sent: prefix applied, characters downgraded to what SMS carries.
    pub body: String,
    pub international: bool,
}

/// What a provider said when it took an email.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmailAccepted {
    /// The provider's id for the message (receipts refer to it), when it gave one.
    pub reference: Option<String>,
}

/// Where emails go, as configured (`providers.email`).
pub enum EmailSender {
    Outbox,
    Smtp(smtp::SmtpProvider),
}

/// Where text messages go, as configured (`providers.sms`).
pub enum SmsSender {
    Outbox,
    Http(sms::SmsProviders),
}

/// The configured providers, built once at start-up.
pub struct Providers {
    pub email: EmailSender,
    pub sms: SmsSender,
}

impl Providers {
    /// Err = a message for the operator naming what is wrong.
    pub fn from_config(config: &crate::config::Config) -> Result<Providers, String> {
        use crate::config::{EmailProviderKind, SmsProviderKind};
        let email = match config.providers.email {
            EmailProviderKind::Outbox => EmailSender::Outbox,
            EmailProviderKind::Smtp => EmailSender::Smtp(
                smtp::SmtpProvider::new(&config.smtp).map_err(|e| format!("smtp: {e}"))?,
            ),
        };
        let sms = match config.providers.sms {
            SmsProviderKind::Outbox => SmsSender::Outbox,
            SmsProviderKind::Http => SmsSender::Http(
                sms::SmsProviders::new(&config.sms_providers, &config.sms_switching)
                    .map_err(|e| format!("sms_providers: {e}"))?,
            ),
        };
        Ok(Providers { email, sms })
    }

    /// The name test-key messages are marked as sent by (what a live message would show).
    pub fn sms_test_sender(&self) -> String {
        match &self.sms {
            SmsSender::Outbox => outbox::OUTBOX_PROVIDER.into(),
            SmsSender::Http(p) => p
                .shares()
                .first()
                .map(|s| s.name.clone())
                .unwrap_or_else(|| outbox::OUTBOX_PROVIDER.into()),
        }
    }

    pub fn email_sender_name(&self) -> &'static str {
        match &self.email {
            EmailSender::Outbox => outbox::OUTBOX_PROVIDER,
            EmailSender::Smtp(_) => "smtp",
        }
    }
}
