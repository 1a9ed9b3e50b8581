//! One notification from one row of a bulk send, and the write that stores any new notification
//! with the queue row that will process it (shared with the public API).
//!
//! A job's rows were checked when the sheet was uploaded; [`RowSender::build`] turns a row into
//! the notification the API would have made for the same recipient and personalisation (same
//! rendering, same sender, postage and billing units), sent with the service's live key type.

use std::collections::HashSet;

use serde_json::{Map, Value};
use storage::records::{
    KeyType, Notification, NotificationStatus, NotificationType, Service, Template,
};
use storage::{StoreError, WriteCtx};
use uuid::Uuid;

use super::recipient_sheet::{ADDRESS_COLUMNS, SheetRow};
use super::recipients;
use crate::api::notifications::{
    QUEUE_DELIVER_EMAIL_JOBS, QUEUE_DELIVER_SMS_JOBS, QUEUE_LETTER_PDF,
};
use crate::api::render;
use crate::templates::placeholders::normalise_key;

/// Store a new notification and queue it, in the caller's write. A letter also gets its printer
/// reference, which the printer's files and replies name it by. Refused (writing nothing) while
/// the data directory is low on disk space.
pub fn insert_and_queue(
    ctx: &mut WriteCtx<'_>,
    n: &Notification,
    encoded: &[u8],
    queue: &str,
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
    ctx.enqueue(queue, now, n.id.as_bytes())?;
    Ok(())
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
        &render::address_lines(personalisation),
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

/// What every row of one job shares: the service, the template version, the sender.
pub struct RowSender {
    service: Service,
    template: Template,
    job_id: Option<Uuid>,
    /// SMS: the number texts come from; email: the reply-to address; letter: the contact block.
    sender: Option<String>,
    /// A trial-mode service may only send to these (normalised) recipients; `None`: anyone.
    allowed: Option<HashSet<String>>,
}

impl RowSender {
    /// `sender_id` names one of the service's SMS senders or reply-to addresses; `None` is the
    /// default. `allowed` is the trial-mode list (team members and guest list), if restricted.
    pub fn new(
        service: Service,
        template: Template,
        job_id: Option<Uuid>,
        sender_id: Option<Uuid>,
        allowed: Option<HashSet<String>>,
        default_sms_sender: String,
    ) -> Result<Self, String> {
        let unknown =
            |UnknownSender(id)| format!("sender_id {id} is not one of the service's senders");
        let sender = match template.template_type {
            NotificationType::Sms => {
                Some(sms_sender(&service, sender_id, || default_sms_sender).map_err(unknown)?)
            }
            NotificationType::Email => email_reply_to(&service, sender_id).map_err(unknown)?,
            NotificationType::Letter => letter_contact_block(&service, &template),
        };
        Ok(RowSender {
            service,
            template,
            job_id,
            sender,
            allowed,
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
    ) -> Result<Option<(Notification, &'static str)>, String> {
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
        let message = |e: crate::error::AppError| e.to_string();
        let queue = match t {
            NotificationType::Sms => {
                let phone =
                    recipients::validate_phone_number(&row.recipient).map_err(|e| e.to_string())?;
                if !self.may_send_to(&phone.normalised) {
                    return Ok(None);
                }
                let prefix = self
                    .service
                    .prefix_sms
                    .then_some(self.service.name.as_str());
                let rendered =
                    render::sms(&self.template, &personalisation, prefix).map_err(message)?;
                render::check_sms_length(&rendered.body).map_err(message)?;
                n.to = recipients::clean_recipient(&row.recipient);
                n.normalised_to = phone.normalised;
                n.international = phone.international;
                n.billable_units = rendered.fragments;
                n.body = rendered.body;
                QUEUE_DELIVER_SMS_JOBS
            }
            NotificationType::Email => {
                let email = recipients::validate_email_address(&row.recipient)
                    .map_err(|e| e.to_string())?;
                let normalised = recipients::normalise_email(&email);
                if !self.may_send_to(&normalised) {
                    return Ok(None);
                }
                let rendered = render::email(&self.template, &personalisation).map_err(message)?;
                render::check_email_length(&rendered.body).map_err(message)?;
                n.to = email;
                n.normalised_to = normalised;
                n.body = rendered.body;
                n.subject = Some(rendered.subject);
                QUEUE_DELIVER_EMAIL_JOBS
            }
            NotificationType::Letter => {
                // The letter renderer reads the address under its canonical names.
                canonical_address_keys(&mut personalisation);
                let address =
                    letter_address(&self.service, &personalisation).map_err(|e| e.to_string())?;
                let rendered =
                    render::letter(&self.template, &personalisation, self.sender.as_deref())
                        .map_err(message)?;
                n.to = address.lines.first().cloned().unwrap_or_default();
                n.normalised_to = address.lines.join("\n").to_lowercase();
                n.international = address.international;
                n.postage = Some(if address.international {
                    address
                        .postage_zone
                        .clone()
                        .unwrap_or_else(|| "rest-of-world".into())
                } else {
                    self.template
                        .postage
                        .clone()
                        .unwrap_or_else(|| "second".into())
                });
                n.body = rendered.body;
                n.subject = Some(rendered.subject);
                QUEUE_LETTER_PDF
            }
        };
        n.personalisation = Value::Object(personalisation).to_string();
        Ok(Some((n, queue)))
    }

    fn may_send_to(&self, normalised: &str) -> bool {
        self.allowed.as_ref().is_none_or(|a| a.contains(normalised))
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

/// Who a trial-mode service may send to: its team members' email addresses and mobile numbers
/// and its guest list, normalised. `None` when the service is live.
pub fn trial_mode_recipients(
    reader: &storage::Reader,
    service: &Service,
) -> storage::Result<Option<HashSet<String>>> {
    if !service.restricted {
        return Ok(None);
    }
    let mut allowed: HashSet<String> = service.guest_list.iter().cloned().collect();
    for user in reader.service_users(service.id)? {
        allowed.insert(recipients::normalise_email(&user.email_address));
        if let Some(mobile) = &user.mobile_number
            && let Ok(p) = recipients::validate_phone_number(mobile)
        {
            allowed.insert(p.normalised);
        }
    }
    Ok(Some(allowed))
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
