//! Sending: the one place a request to send a message becomes an accepted notification, whoever
//! asks — the public API, a row of a bulk send, or a person in the web UI.
//!
//! A send is two calls. [`admit`] charges the service's sending limits for one message and
//! returns the proof ([`Admitted`]) that [`send`] (or [`send_precompiled`]) requires, so no send
//! can skip the limits; the API admits before it parses a body, as upstream does. [`send`] then
//! applies every rule in upstream's order — the service's permission, the template, rendering,
//! the sender, who may be sent to (trial mode, team keys: [`Audience`]), phone permissions,
//! length — builds the notification and stores it with the queue row that will deliver it, in
//! one durable write ([`insert_and_queue`]).
//!
//! Bulk sends check a whole sheet at upload and then build each row with [`RowSender`], which
//! uses the same pieces ([`content`](super::content), [`Audience`], [`new_notification`],
//! [`insert_and_queue`]); a row to someone outside a trial-mode team is skipped rather than
//! refused, as upstream does.

use std::collections::HashSet;

use serde_json::{Map, Value, json};
use storage::records::{
    ApiKey, KeyType, Notification, NotificationStatus, NotificationType, Service, Template,
};
use storage::{StoreError, WriteCtx};
use uuid::Uuid;

use super::content::{self, RenderedLetter};
use super::queues::Queue;
use super::recipient_sheet::{ADDRESS_COLUMNS, SheetRow};
use super::recipients::{self, PhoneNumber};
use super::{Code, Context, DomainError, DomainResult};
use crate::templates::placeholders::normalise_key;

/// Who is sending, as the notification records it.
#[derive(Debug, Clone)]
pub struct Origin {
    /// Live, team or test: decides delivery, limits and who may be sent to.
    pub key_type: KeyType,
    /// The API key that signed the request, if one did.
    pub api_key_id: Option<Uuid>,
    /// The person who sent it from the web UI (shown as `created_by_name`).
    pub created_by_name: Option<String>,
    /// The audit event of a person's send, written in the notification's own commit (its
    /// subject becomes the notification id). `None` for the API and bulk sends (the job is
    /// audited once, not each row).
    pub audit: Option<super::accounts::Entry>,
}

impl Origin {
    /// A message sent through the API with `key`.
    pub fn api_key(key: &ApiKey) -> Origin {
        Origin {
            key_type: key.key_type,
            api_key_id: Some(key.id),
            created_by_name: None,
            audit: None,
        }
    }

    /// A message a person sent from the web UI: a live message, as upstream's one-off sends.
    pub fn person(name: &str) -> Origin {
        Origin {
            key_type: KeyType::Normal,
            api_key_id: None,
            created_by_name: Some(name.to_string()),
            audit: None,
        }
    }
}

/// Proof that one message was charged against the service's limits ([`admit`]).
#[must_use = "a send needs its admission"]
#[derive(Debug)]
pub struct Admitted(());

/// Charge the service's per-minute rate limit for one message and check today's limit for its
/// type (test keys are never limited by day).
pub fn admit(
    cx: &Context,
    service: &Service,
    key_type: KeyType,
    t: NotificationType,
) -> DomainResult<Admitted> {
    cx.limits.check_rate(service, key_type)?;
    cx.limits.check_daily(&cx.store, service, key_type, t)?;
    Ok(Admitted(()))
}

/// A recipient, already checked.
#[derive(Debug, Clone)]
pub enum Recipient {
    /// A text message: the number as given, and as validated.
    Phone { given: String, phone: PhoneNumber },
    /// An email address, as validated.
    Email(String),
    /// A letter: the address is in the personalisation (`address_line_1`…, `postcode`).
    Letter,
}

/// Check a recipient typed by a person or read from a request. The error names what is wrong
/// with it (upstream's wording, without the field name).
pub fn parse_recipient(t: NotificationType, given: &str) -> DomainResult<Recipient> {
    match t {
        NotificationType::Sms => recipients::validate_phone_number(given)
            .map(|phone| Recipient::Phone {
                given: given.to_string(),
                phone,
            })
            .map_err(|e| DomainError::invalid(e.to_string())),
        NotificationType::Email => recipients::validate_email_address(given)
            .map(Recipient::Email)
            .map_err(|e| DomainError::invalid(e.to_string())),
        NotificationType::Letter => Ok(Recipient::Letter),
    }
}

/// What to send, once the recipient is checked.
#[derive(Debug, Clone)]
pub struct SendRequest {
    pub template_id: Uuid,
    pub recipient: Recipient,
    pub personalisation: Map<String, Value>,
    /// The sender's own reference for the message.
    pub reference: Option<String>,
    /// The SMS sender (texts) or reply-to address (emails) chosen by id; `None`: the default.
    pub sender_id: Option<Uuid>,
    /// Emails: the `List-Unsubscribe` URL.
    pub one_click_unsubscribe_url: Option<String>,
    /// Emails: personalisation keys whose values are sanitised first.
    pub sanitise_content_for: Vec<String>,
    /// The appliance's root URL, for links to files sent by email.
    pub root_url: String,
}

/// An accepted message: the notification as stored (or, for a simulated recipient, as it
/// would have been), and the template version it was made from.
#[derive(Debug)]
pub struct Accepted {
    pub notification: Notification,
    pub template: Template,
    /// Emails: what sanitising changed (`{key: {unsanitised, sanitised}}`, maybe empty).
    pub sanitised: Value,
    /// Letters: the rendered subject and body.
    pub letter: Option<RenderedLetter>,
}

fn type_name_plural(t: NotificationType) -> &'static str {
    match t {
        NotificationType::Sms => "text messages",
        NotificationType::Email => "emails",
        NotificationType::Letter => "letters",
    }
}

/// The service may send this type of message (its permissions name the type).
pub fn check_permission(service: &Service, t: NotificationType) -> DomainResult<()> {
    if service.permissions.iter().any(|p| p == t.as_str()) {
        return Ok(());
    }
    Err(DomainError::refused(
        Code::NotAllowedToSend,
        format!("Service is not allowed to send {}", type_name_plural(t)),
    ))
}

/// A template of the service that can send this type of message now.
pub fn sendable_template(
    cx: &Context,
    service_id: Uuid,
    template_id: Uuid,
    t: NotificationType,
) -> DomainResult<Template> {
    let template = cx
        .store
        .read()?
        .get_template(template_id)?
        .filter(|tpl| tpl.service_id == service_id && !tpl.hidden)
        .ok_or_else(|| DomainError::refused(Code::TemplateNotFound, "Template not found"))?;
    if template.template_type != t {
        return Err(DomainError::refused(
            Code::TemplateWrongType,
            format!(
                "{} template is not suitable for {} notification",
                template.template_type, t
            ),
        ));
    }
    if template.archived {
        return Err(DomainError::refused(
            Code::TemplateArchived,
            "Template has been deleted",
        ));
    }
    Ok(template)
}

/// Letters are refused for team keys and from trial-mode services (403).
pub fn check_letter_allowed(service: &Service, key_type: KeyType) -> DomainResult<()> {
    check_permission(service, NotificationType::Letter)?;
    match key_type {
        KeyType::Team => Err(DomainError::refused(
            Code::LetterNotAllowed,
            "Cannot send letters with a team api key",
        )),
        KeyType::Normal if service.restricted => Err(DomainError::refused(
            Code::LetterNotAllowed,
            "Cannot send letters when service is in trial mode",
        )),
        _ => Ok(()),
    }
}

/// Who a message may go to (§3): anyone, or — for a team key, or a live key of a trial-mode
/// service — only the service's team members and its guest list. The one copy of that rule.
pub struct Audience {
    /// Normalised recipients allowed; `None`: anyone.
    allowed: Option<HashSet<String>>,
    key_type: KeyType,
}

impl Audience {
    /// The audience of a service for a key type. Reads the team only when it is restricted.
    pub fn of(
        reader: &storage::Reader,
        service: &Service,
        key_type: KeyType,
    ) -> storage::Result<Audience> {
        let restricted = match key_type {
            KeyType::Test => false,
            KeyType::Team => true,
            KeyType::Normal => service.restricted,
        };
        let allowed = if restricted {
            let mut allowed: HashSet<String> = service.guest_list.iter().cloned().collect();
            for user in reader.service_users(service.id)? {
                allowed.insert(recipients::normalise_email(&user.email_address));
                if let Some(mobile) = &user.mobile_number
                    && let Ok(p) = recipients::validate_phone_number(mobile)
                {
                    allowed.insert(p.normalised);
                }
            }
            Some(allowed)
        } else {
            None
        };
        Ok(Audience { allowed, key_type })
    }

    pub fn allows(&self, normalised: &str) -> bool {
        self.allowed.as_ref().is_none_or(|a| a.contains(normalised))
    }

    /// Refuse a recipient outside the audience, with upstream's message for the key type.
    pub fn check(&self, normalised: &str) -> DomainResult<()> {
        if self.allows(normalised) {
            return Ok(());
        }
        Err(DomainError::refused(
            Code::RecipientNotAllowed,
            match self.key_type {
                KeyType::Team => "Can’t send to this recipient using a team-only API key",
                _ => {
                    "Can’t send to this recipient when service is in trial mode – see https://www.notifications.service.gov.uk/trial-mode"
                }
            },
        ))
    }
}

/// Why a chosen sender cannot be used: it is not one of the service's live ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownSender(pub Uuid);

/// The number a text comes from: the chosen SMS sender, else the service's default, else the
/// appliance's.
pub fn sms_sender(
    service: &Service,
    chosen: Option<Uuid>,
    appliance_default: impl FnOnce() -> String,
) -> Result<String, UnknownSender> {
    match chosen {
        Some(id) => service
            .sms_senders
            .iter()
            .find(|s| s.id == id && !s.archived)
            .map(|s| s.sms_sender.clone())
            .ok_or(UnknownSender(id)),
        None => Ok(service
            .sms_senders
            .iter()
            .find(|s| s.is_default && !s.archived)
            .map(|s| s.sms_sender.clone())
            .unwrap_or_else(appliance_default)),
    }
}

/// The reply-to address of an email: the chosen one, else the service's default (if any).
pub fn email_reply_to(
    service: &Service,
    chosen: Option<Uuid>,
) -> Result<Option<String>, UnknownSender> {
    match chosen {
        Some(id) => service
            .email_reply_to
            .iter()
            .find(|r| r.id == id && !r.archived)
            .map(|r| Some(r.email_address.clone()))
            .ok_or(UnknownSender(id)),
        None => Ok(service
            .email_reply_to
            .iter()
            .find(|r| r.is_default && !r.archived)
            .map(|r| r.email_address.clone())),
    }
}

/// The contact block a letter of this template prints (the template's, from the service).
pub fn letter_contact_block(service: &Service, template: &Template) -> Option<String> {
    template.letter_contact_id.and_then(|id| {
        service
            .letter_contacts
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.contact_block.clone())
    })
}

/// A letter's address from its personalisation (`address_line_1`…, `postcode`), checked with
/// the service's permission for international letters.
pub fn letter_address(
    service: &Service,
    personalisation: &Map<String, Value>,
) -> Result<recipients::PostalAddress, recipients::AddressError> {
    let allow_international = service
        .permissions
        .iter()
        .any(|p| p == "international_letters");
    recipients::validate_postal_address(
        &content::address_lines(personalisation),
        allow_international,
    )
}

/// A letter's postage: its international zone, else the template's (second class by default).
pub fn letter_postage(address: &recipients::PostalAddress, template: &Template) -> String {
    if address.international {
        address
            .postage_zone
            .clone()
            .unwrap_or_else(|| "rest-of-world".into())
    } else {
        template.postage.clone().unwrap_or_else(|| "second".into())
    }
}

/// A new notification of `template` in `status`, stamped now by the store's clock; the caller
/// fills in what is particular to its type.
pub fn new_notification(
    cx: &Context,
    service_id: Uuid,
    origin: &Origin,
    template: &Template,
    personalisation: &Map<String, Value>,
    reference: Option<String>,
    status: NotificationStatus,
) -> Notification {
    Notification {
        id: cx.clock().new_id(),
        service_id,
        notification_type: template.template_type,
        template_id: template.id,
        template_version: template.version,
        api_key_id: origin.api_key_id,
        key_type: origin.key_type,
        status,
        to: String::new(),
        normalised_to: String::new(),
        personalisation: Value::Object(personalisation.clone()).to_string(),
        body: String::new(),
        subject: None,
        client_reference: reference,
        job_id: None,
        job_row_number: None,
        reply_to_text: None,
        one_click_unsubscribe_url: None,
        postage: None,
        international: false,
        billable_units: 0,
        sent_by: None,
        created_at: cx.clock().now_micros(),
        sent_at: None,
        updated_at: None,
        created_by_name: origin.created_by_name.clone(),
        status_reason: None,
    }
}

/// Send one email, text message or templated letter (see the module notes for the order of
/// the rules). Precompiled letters go through [`send_precompiled`].
pub async fn send(
    cx: &Context,
    _admitted: Admitted,
    service: &Service,
    origin: &Origin,
    request: SendRequest,
) -> DomainResult<Accepted> {
    match request.recipient.clone() {
        Recipient::Phone { given, phone } => {
            send_sms(cx, service, origin, (given, phone), request).await
        }
        Recipient::Email(email) => send_email(cx, service, origin, email, request).await,
        Recipient::Letter => send_letter(cx, service, origin, request).await,
    }
}

async fn send_sms(
    cx: &Context,
    service: &Service,
    origin: &Origin,
    (given, phone): (String, PhoneNumber),
    request: SendRequest,
) -> DomainResult<Accepted> {
    check_permission(service, NotificationType::Sms)?;
    let template = sendable_template(cx, service.id, request.template_id, NotificationType::Sms)?;
    let rendered = content::sms(
        &template,
        &request.personalisation,
        service.prefix_sms.then_some(service.name.as_str()),
    )?;
    let from_number = sms_sender(service, request.sender_id, || {
        cx.config.default_sms_sender()
    })
    .map_err(|unknown| {
        DomainError::refused(
            Code::UnknownSender,
            format!(
                "sms_sender_id {} does not exist in database for service id {}",
                unknown.0, service.id
            ),
        )
    })?;
    Audience::of(&cx.store.read()?, service, origin.key_type)?.check(&phone.normalised)?;
    recipients::check_phone_permissions(&phone, &service.permissions)
        .map_err(content::phone_permission_error)?;
    content::check_sms_length(&rendered.body)?;

    let mut n = new_notification(
        cx,
        service.id,
        origin,
        &template,
        &request.personalisation,
        request.reference,
        NotificationStatus::Created,
    );
    n.to = recipients::clean_recipient(&given);
    n.normalised_to = phone.normalised.clone();
    n.international = phone.international;
    n.billable_units = rendered.fragments;
    n.body = rendered.body;
    n.reply_to_text = Some(from_number);
    if !recipients::is_simulated_phone(&phone.normalised) {
        store_and_queue(cx, origin, &n, Queue::DeliverSms).await?;
    }
    Ok(Accepted {
        notification: n,
        template,
        sanitised: json!({}),
        letter: None,
    })
}

async fn send_email(
    cx: &Context,
    service: &Service,
    origin: &Origin,
    email: String,
    request: SendRequest,
) -> DomainResult<Accepted> {
    let mut personalisation = request.personalisation;
    check_permission(service, NotificationType::Email)?;
    let sanitised =
        content::sanitise_personalisation(&mut personalisation, &request.sanitise_content_for);
    let template = sendable_template(cx, service.id, request.template_id, NotificationType::Email)?;
    let normalised = recipients::normalise_email(&email);
    if content::has_file_upload(&personalisation) {
        attach_files(
            cx,
            service,
            origin,
            &template,
            &request.root_url,
            &mut personalisation,
            &normalised,
        )
        .await?;
    }
    let rendered = content::email(&template, &personalisation)?;
    let reply_to = email_reply_to(service, request.sender_id).map_err(|unknown| {
        DomainError::refused(
            Code::UnknownSender,
            format!(
                "email_reply_to_id {} does not exist in database for service id {}",
                unknown.0, service.id
            ),
        )
    })?;
    Audience::of(&cx.store.read()?, service, origin.key_type)?.check(&normalised)?;
    content::check_email_length(&rendered.body)?;

    let mut n = new_notification(
        cx,
        service.id,
        origin,
        &template,
        &personalisation,
        request.reference,
        NotificationStatus::Created,
    );
    n.to = email;
    n.normalised_to = normalised.clone();
    n.body = rendered.body;
    n.subject = Some(rendered.subject);
    n.reply_to_text = reply_to;
    // The client's own unsubscribe URL wins; else the appliance's link when the template has
    // one (upstream's `get_unsubscribe_link_for_headers`).
    n.one_click_unsubscribe_url = match request.one_click_unsubscribe_url {
        Some(url) => Some(url),
        None if super::templates::has_unsubscribe_link(&cx.store, template.id)? => Some(
            super::unsubscribe::unsubscribe_link(cx, &request.root_url, n.id, &n.to),
        ),
        None => None,
    };
    if !recipients::is_simulated_email(&normalised) {
        store_and_queue(cx, origin, &n, Queue::DeliverEmail).await?;
    }
    Ok(Accepted {
        notification: n,
        template,
        sanitised,
        letter: None,
    })
}

/// Files sent by email (§5.2): refused unless the service has contact details; otherwise the
/// message and recipient are checked first (uploads stood in for by their future link text), as
/// upstream uploads only then, so a refused request stores no file; then each file is stored
/// and its personalisation value becomes the link.
async fn attach_files(
    cx: &Context,
    service: &Service,
    origin: &Origin,
    template: &Template,
    root_url: &str,
    personalisation: &mut Map<String, Value>,
    normalised: &str,
) -> DomainResult<()> {
    if service.contact_link.is_none() {
        return Err(DomainError::refused(
            Code::FilesNotSetUp,
            format!(
                "Send files by email has not been set up - add contact details for your service at {root_url}services/{}/service-settings/send-files-by-email",
                service.id
            ),
        ));
    }
    let probe: Map<String, Value> = personalisation
        .iter()
        .map(|(k, v)| match v.as_object() {
            Some(o) if o.contains_key("file") => (k.clone(), json!("file-link")),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    content::email(template, &probe)?;
    Audience::of(&cx.store.read()?, service, origin.key_type)?.check(normalised)?;
    super::documents::attach_documents(
        cx,
        service,
        root_url,
        personalisation,
        normalised,
        recipients::is_simulated_email(normalised),
    )
    .await
    .map_err(|e| match e {
        super::documents::DocumentError::Rejected(m) => {
            DomainError::refused(Code::DocumentRejected, m)
        }
        // document-download's answer when its scanner is down.
        super::documents::DocumentError::Antivirus(_) => {
            DomainError::refused(Code::Unavailable, "Antivirus API error")
        }
        other => DomainError::files_unavailable("a file sent by email", other),
    })
}

async fn send_letter(
    cx: &Context,
    service: &Service,
    origin: &Origin,
    request: SendRequest,
) -> DomainResult<Accepted> {
    check_permission(service, NotificationType::Letter)?;
    let template = sendable_template(
        cx,
        service.id,
        request.template_id,
        NotificationType::Letter,
    )?;
    let contact_block = letter_contact_block(service, &template);
    let rendered = content::letter(
        &template,
        &request.personalisation,
        contact_block.as_deref(),
    )?;
    check_letter_allowed(service, origin.key_type)?;
    let address = letter_address(service, &request.personalisation)
        .map_err(|e| DomainError::Validation(vec![e.to_string()]))?;
    let test_key = origin.key_type == KeyType::Test;
    let mut n = new_notification(
        cx,
        service.id,
        origin,
        &template,
        &request.personalisation,
        request.reference,
        if test_key {
            NotificationStatus::Sending
        } else {
            NotificationStatus::Created
        },
    );
    n.to = address.lines.first().cloned().unwrap_or_default();
    n.normalised_to = address.lines.join("\n").to_lowercase();
    n.international = address.international;
    n.body = rendered.body.clone();
    n.subject = Some(rendered.subject.clone());
    // The contact block printed on the letter, as it was when the letter was sent.
    n.reply_to_text = contact_block;
    n.postage = Some(letter_postage(&address, &template));
    store_and_queue(cx, origin, &n, Queue::LetterPdf).await?;
    Ok(Accepted {
        notification: n,
        template,
        sanitised: json!({}),
        letter: Some(rendered),
    })
}

/// A precompiled letter: the PDF as given (base64, decoded leniently as upstream does).
#[derive(Debug, Clone)]
pub struct PrecompiledRequest {
    pub reference: String,
    /// The PDF, base64-encoded.
    pub content: String,
    /// `first`, `second` or `economy`; `None`: the service's precompiled template's.
    pub postage: Option<String>,
}

/// Accept a precompiled letter: it waits in `pending-virus-check` for its scan and
/// validation, which decide its recipient and final postage.
pub async fn send_precompiled(
    cx: &Context,
    _admitted: Admitted,
    service: &Service,
    origin: &Origin,
    request: PrecompiledRequest,
) -> DomainResult<Accepted> {
    check_letter_allowed(service, origin.key_type)?;
    let pdf = content::decode_lenient_base64(&request.content).ok_or_else(|| {
        DomainError::refused(
            Code::UndecodableContent,
            "Cannot decode letter content (invalid base64 encoding)",
        )
    })?;
    let template = super::templates::precompiled_template(&cx.store, service.id).await?;
    let postage = request
        .postage
        .unwrap_or_else(|| template.postage.clone().unwrap_or_else(|| "second".into()));
    let personalisation: Map<String, Value> =
        [("address_line_1".to_string(), json!("Provided as PDF"))]
            .into_iter()
            .collect();
    let mut n = new_notification(
        cx,
        service.id,
        origin,
        &template,
        &personalisation,
        Some(request.reference),
        NotificationStatus::PendingVirusCheck,
    );
    n.to = "Provided as PDF".into();
    n.normalised_to = "provided as pdf".into();
    n.subject = Some("Pre-compiled PDF".into());
    n.postage = Some(postage);
    // The original goes to the scan area before the notification exists, so a stored
    // notification always has its file; a crash between the two leaves only an orphan file.
    let name = crate::letters::files::scan_name(&n);
    crate::letters::files::LetterFiles::new(cx.blobs.clone())
        .put(crate::letters::files::Area::Scan, &name, pdf.into())
        .await
        .map_err(|e| DomainError::files_unavailable("a precompiled letter", e))?;
    store_and_queue(cx, origin, &n, Queue::LetterScan).await?;
    Ok(Accepted {
        notification: n,
        template,
        sanitised: json!({}),
        letter: None,
    })
}

/// Store a notification and the queue row that will process it, in one durable commit, and
/// count it against today's limit.
async fn store_and_queue(
    cx: &Context,
    origin: &Origin,
    n: &Notification,
    queue: Queue,
) -> DomainResult<()> {
    let count_daily = n.key_type != KeyType::Test;
    let (service_id, t) = (n.service_id, n.notification_type);
    let international = n.international && t == NotificationType::Sms;
    let encoded = storage::codec::encode(n);
    let stored = n.clone();
    let audit = origin.audit.clone().map(|e| e.subject(n.id));
    cx.store
        .write(move |ctx| {
            insert_and_queue(ctx, &stored, &encoded, queue)?;
            match &audit {
                Some(e) => e.write(ctx),
                None => Ok(()),
            }
        })
        .await?;
    if count_daily {
        cx.limits.record_sent(service_id, t, international);
    }
    Ok(())
}

/// Store a new notification and queue it, in the caller's write. A letter also gets its printer
/// reference, which the printer's files and replies name it by. Refused (writing nothing) while
/// the data directory is low on disk space.
pub fn insert_and_queue(
    ctx: &mut WriteCtx<'_>,
    n: &Notification,
    encoded: &[u8],
    queue: Queue,
) -> storage::Result<()> {
    // Below the low-disk watermark new notifications wait; accepted ones still finish.
    ctx.check_space_for_new_work()?;
    ctx.insert_encoded_notification(n, encoded)?;
    if n.notification_type == NotificationType::Letter {
        let reference = crate::letters::names::letter_reference(n.id);
        if ctx.notification_id_by_reference(&reference)?.is_some() {
            return Err(StoreError::Conflict(format!(
                "letter reference {reference} is already taken"
            )));
        }
        ctx.put_provider_reference(&reference, n.id)?;
    }
    let now = ctx.now_ms();
    ctx.enqueue(queue.name(), now, n.id.as_bytes())?;
    Ok(())
}

/// A message a person sends to one recipient (upstream's one-off send): `to` is an email
/// address or phone number, or ignored for a letter (the address is in the personalisation).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneOff {
    pub template_id: Uuid,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub personalisation: Map<String, Value>,
    #[serde(default)]
    pub sender_id: Option<Uuid>,
    /// Upstream's admin app names the sender; a person is always the sender of their own.
    #[serde(default)]
    pub created_by: Option<Uuid>,
}

/// Send one message as a person (or the operator): a live message of the service, under the
/// service's limits, recorded with the sender's name and audited in the same commit. Needs
/// `send_messages` as a member of the service.
pub async fn send_one_off(
    cx: &Context,
    actor: &super::accounts::Actor,
    service_id: Uuid,
    one_off: OneOff,
    root_url: &str,
) -> DomainResult<Accepted> {
    use super::accounts::{Action, Entry, Need};
    use storage::records::Permission;
    actor.require(
        Need::MemberWith(Permission::SendMessages),
        Some(service_id),
        None,
    )?;
    let service = super::services::get_service(&cx.store, service_id)?;
    if !service.active {
        return Err(DomainError::forbidden("Service is inactive".into()));
    }
    let template = cx
        .store
        .read()?
        .get_template(one_off.template_id)?
        .filter(|t| t.service_id == service_id && !t.hidden)
        .ok_or_else(|| DomainError::refused(Code::TemplateNotFound, "Template not found"))?;
    let t = template.template_type;
    let recipient = parse_recipient(t, &one_off.to)?;
    let name = match (actor.user(), one_off.created_by) {
        (Some(u), _) => u.name.clone(),
        (None, Some(id)) => super::accounts::users::get_user(cx, id)?.name,
        (None, None) => actor.name(),
    };
    let mut origin = Origin::person(&name);
    origin.audit = Some(
        Entry::new(actor, Action::NotificationSent)
            .service(service_id)
            .details(json!({"template_id": template.id, "notification_type": t.as_str()})),
    );
    let admitted = admit(cx, &service, KeyType::Normal, t)?;
    let request = SendRequest {
        template_id: template.id,
        recipient,
        personalisation: one_off.personalisation,
        reference: None,
        sender_id: one_off.sender_id,
        one_click_unsubscribe_url: None,
        sanitise_content_for: Vec::new(),
        root_url: root_url.to_string(),
    };
    send(cx, admitted, &service, &origin, request).await
}

/// What every row of one job shares: the service, the template version, the sender, and who
/// may be sent to.
pub struct RowSender {
    service: Service,
    template: Template,
    job_id: Option<Uuid>,
    /// SMS: the number texts come from; email: the reply-to address; letter: the contact block.
    sender: Option<String>,
    audience: Audience,
}

impl RowSender {
    /// `sender_id` names one of the service's SMS senders or reply-to addresses; `None` is the
    /// default. Rows are sent with the service's live key type.
    pub fn new(
        reader: &storage::Reader,
        service: Service,
        template: Template,
        job_id: Option<Uuid>,
        sender_id: Option<Uuid>,
        default_sms_sender: String,
    ) -> DomainResult<Self> {
        let unknown = |UnknownSender(id)| {
            DomainError::refused(
                Code::UnknownSender,
                format!("sender_id {id} is not one of the service's senders"),
            )
        };
        let sender = match template.template_type {
            NotificationType::Sms => {
                Some(sms_sender(&service, sender_id, || default_sms_sender).map_err(unknown)?)
            }
            NotificationType::Email => email_reply_to(&service, sender_id).map_err(unknown)?,
            NotificationType::Letter => letter_contact_block(&service, &template),
        };
        let audience = Audience::of(reader, &service, KeyType::Normal)?;
        Ok(RowSender {
            service,
            template,
            job_id,
            sender,
            audience,
        })
    }

    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The notification for `row`, stamped `id` and `now`, with the queue that processes it.
    /// `Ok(None)`: a trial-mode service's row to someone outside the team, skipped as upstream
    /// does. `Err`: why the row cannot be sent (the upload check reports these per row).
    pub fn build(
        &self,
        row: &SheetRow,
        id: Uuid,
        now_micros: i64,
    ) -> Result<Option<(Notification, Queue)>, String> {
        let t = self.template.template_type;
        let mut personalisation = row.personalisation.clone();
        let mut n = Notification {
            id,
            service_id: self.service.id,
            notification_type: t,
            template_id: self.template.id,
            template_version: self.template.version,
            api_key_id: None,
            key_type: KeyType::Normal,
            status: NotificationStatus::Created,
            to: String::new(),
            normalised_to: String::new(),
            personalisation: String::new(),
            body: String::new(),
            subject: None,
            client_reference: row.reference.clone().filter(|r| !r.is_empty()),
            job_id: self.job_id,
            job_row_number: Some(row.index as u32),
            reply_to_text: self.sender.clone(),
            one_click_unsubscribe_url: None,
            postage: None,
            international: false,
            billable_units: 0,
            sent_by: None,
            created_at: now_micros,
            sent_at: None,
            updated_at: None,
            created_by_name: None,
            status_reason: None,
        };
        let message = |e: DomainError| e.to_string();
        match t {
            NotificationType::Sms => {
                let phone =
                    recipients::validate_phone_number(&row.recipient).map_err(|e| e.to_string())?;
                if !self.audience.allows(&phone.normalised) {
                    return Ok(None);
                }
                let prefix = self
                    .service
                    .prefix_sms
                    .then_some(self.service.name.as_str());
                let rendered =
                    content::sms(&self.template, &personalisation, prefix).map_err(message)?;
                content::check_sms_length(&rendered.body).map_err(message)?;
                n.to = recipients::clean_recipient(&row.recipient);
                n.normalised_to = phone.normalised;
                n.international = phone.international;
                n.billable_units = rendered.fragments;
                n.body = rendered.body;
            }
            NotificationType::Email => {
                let email = recipients::validate_email_address(&row.recipient)
                    .map_err(|e| e.to_string())?;
                let normalised = recipients::normalise_email(&email);
                if !self.audience.allows(&normalised) {
                    return Ok(None);
                }
                let rendered = content::email(&self.template, &personalisation).map_err(message)?;
                content::check_email_length(&rendered.body).map_err(message)?;
                n.to = email;
                n.normalised_to = normalised;
                n.body = rendered.body;
                n.subject = Some(rendered.subject);
            }
            NotificationType::Letter => {
                // The letter renderer reads the address under its canonical names.
                canonical_address_keys(&mut personalisation);
                let address =
                    letter_address(&self.service, &personalisation).map_err(|e| e.to_string())?;
                let rendered =
                    content::letter(&self.template, &personalisation, self.sender.as_deref())
                        .map_err(message)?;
                n.to = address.lines.first().cloned().unwrap_or_default();
                n.normalised_to = address.lines.join("\n").to_lowercase();
                n.international = address.international;
                n.postage = Some(letter_postage(&address, &self.template));
                n.body = rendered.body;
                n.subject = Some(rendered.subject);
            }
        }
        n.personalisation = Value::Object(personalisation).to_string();
        Ok(Some((n, Queue::for_new(t, true))))
    }
}

/// Rename the address columns of a sheet (`Address Line 1`, `POSTCODE`) to their canonical
/// personalisation names.
fn canonical_address_keys(p: &mut Map<String, Value>) {
    let renames: Vec<(String, &str)> = p
        .keys()
        .filter_map(|k| {
            let nk = normalise_key(k);
            ADDRESS_COLUMNS
                .iter()
                .find(|c| normalise_key(c) == nk && k.as_str() != **c)
                .map(|c| (k.clone(), *c))
        })
        .collect();
    for (from, to) in renames {
        if let Some(v) = p.remove(&from) {
            p.insert(to.to_string(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_columns_take_their_canonical_names() {
        let mut p = Map::new();
        p.insert("Address Line 1".into(), Value::String("A Person".into()));
        p.insert("POSTCODE".into(), Value::String("SW1A 1AA".into()));
        p.insert("name".into(), Value::String("Ann".into()));
        canonical_address_keys(&mut p);
        assert_eq!(p["address_line_1"], "A Person");
        assert_eq!(p["postcode"], "SW1A 1AA");
        assert_eq!(p["name"], "Ann");
        assert!(!p.contains_key("Address Line 1"));
    }
}
