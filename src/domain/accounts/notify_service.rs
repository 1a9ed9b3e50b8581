//! The appliance's own service, as upstream's "GOV.UK Notify" service: it sends the messages
//! people's accounts need (second-factor codes, sign-in links, password resets, invitations)
//! through the same send path as everyone else's ([`crate::domain::sending`]), so they reach
//! the configured providers — or, on the embedded default, the outbox, where a developer reads
//! them without any provider. The service and its templates are created the first time one of
//! these messages is sent, with fixed ids (upstream's).

use serde_json::{Map, Value};
use storage::records::{KeyType, NotificationType, Service, Template};
use uuid::{Uuid, uuid};

use crate::domain::sending::{self, Origin, SendRequest};
use crate::domain::{Context, DomainResult};

pub const NOTIFY_SERVICE_ID: Uuid = uuid!("d6aa2c68-a2d9-4437-ab19-3ae8eb202553");
pub const NOTIFY_SERVICE_NAME: &str = "Notify";
pub const SMS_CODE_TEMPLATE_ID: Uuid = uuid!("36fb0730-6259-4da1-8a80-c8de22ad4246");
pub const EMAIL_CODE_TEMPLATE_ID: Uuid = uuid!("299726d2-dba6-42b8-8209-30e1d66ea164");
pub const PASSWORD_RESET_TEMPLATE_ID: Uuid = uuid!("474e9242-823b-4f99-813d-ed392e7f1201");
pub const INVITATION_TEMPLATE_ID: Uuid = uuid!("4f46df42-f795-4cc4-83bb-65ca312f49cc");

/// One of the account messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    SmsCode,
    EmailCode,
    PasswordReset,
    Invitation,
}

impl Message {
    const ALL: [Message; 4] = [
        Message::SmsCode,
        Message::EmailCode,
        Message::PasswordReset,
        Message::Invitation,
    ];

    fn template_id(self) -> Uuid {
        match self {
            Message::SmsCode => SMS_CODE_TEMPLATE_ID,
            Message::EmailCode => EMAIL_CODE_TEMPLATE_ID,
            Message::PasswordReset => PASSWORD_RESET_TEMPLATE_ID,
            Message::Invitation => INVITATION_TEMPLATE_ID,
        }
    }

    /// (type, name, subject, body) of the template as first created. An operator may edit
    /// them later like any template (the placeholders must stay).
    fn template(
        self,
    ) -> (
        NotificationType,
        &'static str,
        Option<&'static str>,
        &'static str,
    ) {
        match self {
            Message::SmsCode => (
                NotificationType::Sms,
                "Notify security code",
                None,
                "((verify_code)) is your Notify security code",
            ),
            Message::EmailCode => (
                NotificationType::Email,
                "Notify email security code",
                Some("Your Notify security code"),
                "Hi ((name)),\r\n\r\n((verify_code)) is your Notify security code.\r\n\r\nThe code works once and expires after ((minutes)) minutes.\r\n\r\nIf you did not try to sign in, someone may know your password: change it.",
            ),
            Message::PasswordReset => (
                NotificationType::Email,
                "Notify password reset",
                Some("Reset your Notify password"),
                "Hi ((user_name)),\r\n\r\nWe received a request to reset your password on Notify.\r\n\r\nIf you did not request this email, you can ignore it – your password has not been changed.\r\n\r\nTo reset your password, use this link:\r\n\r\n((url))",
            ),
            Message::Invitation => (
                NotificationType::Email,
                "Notify invitation",
                Some("((user_name)) has invited you to collaborate on ((service_name)) on Notify"),
                "((user_name)) has invited you to collaborate on ((service_name)) on Notify.\r\n\r\nNotify makes it easy to keep people updated by helping you send emails, text messages and letters.\r\n\r\nUse this link to accept the invitation:\r\n((url))\r\n\r\nThis invitation stops working after ((days)) days. This is to keep ((service_name)) secure.",
            ),
        }
    }
}

/// The appliance's own service, created with its templates the first time it is needed.
pub async fn ensure(cx: &Context) -> DomainResult<Service> {
    if let Some(service) = cx.store.read()?.get_service(NOTIFY_SERVICE_ID)? {
        return Ok(service);
    }
    let now = cx.clock().now_micros();
    let mut service = crate::domain::services::new_service_record(NOTIFY_SERVICE_NAME, false, now)?;
    service.id = NOTIFY_SERVICE_ID;
    // Account messages must never be held back by a daily limit meant for a team's sends.
    service.rate_limit = u32::MAX / 2;
    service.email_message_limit = u64::MAX / 2;
    service.sms_message_limit = u64::MAX / 2;
    let templates: Vec<Template> = Message::ALL
        .iter()
        .map(|m| {
            let (template_type, name, subject, content) = m.template();
            Template {
                id: m.template_id(),
                service_id: NOTIFY_SERVICE_ID,
                name: name.into(),
                template_type,
                subject: subject.map(str::to_string),
                content: content.into(),
                version: 1,
                archived: false,
                hidden: false,
                postage: None,
                letter_contact_id: None,
                created_at: now,
                updated_at: None,
                created_by: Some(super::actor::OPERATOR_ID),
            }
        })
        .collect();
    let stored = service.clone();
    cx.store
        .write(move |ctx| {
            // Two first messages at once: the second finds the service made.
            if ctx.get_service(NOTIFY_SERVICE_ID)?.is_some() {
                return Ok(());
            }
            ctx.insert_service(&stored)?;
            for t in &templates {
                ctx.put_template(t)?;
            }
            Ok(())
        })
        .await?;
    tracing::info!(service_id = %NOTIFY_SERVICE_ID, "created the appliance's own service for account messages");
    Ok(cx
        .store
        .read()?
        .get_service(NOTIFY_SERVICE_ID)?
        .unwrap_or(service))
}

/// Send an account message to `to` (an email address, or a phone number for the code) with
/// its placeholders; answers the notification id. Sent as a live message of the appliance's
/// own service, through the one send path.
pub async fn send(
    cx: &Context,
    message: Message,
    to: &str,
    personalisation: &[(&str, String)],
) -> DomainResult<Uuid> {
    let service = ensure(cx).await?;
    let (t, ..) = message.template();
    let recipient = sending::parse_recipient(t, to)?;
    let admitted = sending::admit(cx, &service, KeyType::Normal, t)?;
    let mut values = Map::new();
    for (k, v) in personalisation {
        values.insert((*k).to_string(), Value::String(v.clone()));
    }
    let origin = Origin {
        key_type: KeyType::Normal,
        api_key_id: None,
        created_by_name: None,
        audit: None,
    };
    let request = SendRequest {
        template_id: message.template_id(),
        recipient,
        personalisation: values,
        reference: None,
        sender_id: None,
        one_click_unsubscribe_url: None,
        sanitise_content_for: Vec::new(),
        root_url: cx.config.server.public_url.clone(),
    };
    let accepted = sending::send(cx, admitted, &service, &origin, request).await?;
    Ok(accepted.notification.id)
}
