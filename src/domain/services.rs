//! Creating and changing services.

use serde::{Deserialize, Serialize};
use storage::records::{LetterContact, ReplyTo, Service, SmsSender};
use storage::{Store, StoreError};
use uuid::Uuid;

use serde_json::json;
use storage::records::{Membership, Permission};

use super::accounts::{Action, Actor, Entry, Need};
use super::{Context, DomainError, DomainResult, recipients};

/// Upstream's defaults for a new service.
pub const DEFAULT_RATE_LIMIT: u32 = 3000;
pub const DEFAULT_MESSAGE_LIMIT: u64 = 250_000;
pub const DEFAULT_INTERNATIONAL_SMS_LIMIT: u64 = 100;
pub const DEFAULT_LETTER_LIMIT: u64 = 20_000;
pub const DEFAULT_PERMISSIONS: &[&str] = &[
    "email",
    "sms",
    "letter",
    "international_sms",
    "international_letters",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewService {
    pub name: String,
    /// Trial mode: sends only to team members and the guest list.
    #[serde(default)]
    pub restricted: bool,
}

/// The local part of the From address: the name, lower-cased, ASCII, words joined by dots.
pub fn email_sender_local_part(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let ascii: String = name.nfkd().filter(|c| c.is_ascii()).collect();
    let mut out = String::new();
    for word in ascii
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(word);
    }
    out
}

/// A new service's record with upstream's defaults (nothing stored yet).
pub fn new_service_record(name: &str, restricted: bool, now: i64) -> DomainResult<Service> {
    let name = check_name(name)?;
    let local_part = email_sender_local_part(&name);
    if local_part.is_empty() {
        return Err(DomainError::invalid(
            "service name must contain at least one letter or digit".into(),
        ));
    }
    Ok(Service {
        id: Uuid::new_v4(),
        name,
        active: true,
        restricted,
        rate_limit: DEFAULT_RATE_LIMIT,
        email_message_limit: DEFAULT_MESSAGE_LIMIT,
        sms_message_limit: DEFAULT_MESSAGE_LIMIT,
        letter_message_limit: DEFAULT_LETTER_LIMIT,
        international_sms_message_limit: DEFAULT_INTERNATIONAL_SMS_LIMIT,
        permissions: DEFAULT_PERMISSIONS.iter().map(|p| p.to_string()).collect(),
        email_sender_local_part: local_part,
        prefix_sms: true,
        contact_link: None,
        email_reply_to: vec![],
        sms_senders: vec![],
        letter_contacts: vec![],
        guest_list: vec![],
        created_at: now,
        updated_at: None,
    })
}

/// Create a service. A person who creates one becomes its first member, with every
/// permission (as upstream); the operator's services start with no team.
pub async fn create_service(cx: &Context, actor: &Actor, new: NewService) -> DomainResult<Service> {
    actor.require(Need::SignedIn, None, None)?;
    let service = new_service_record(&new.name, new.restricted, cx.clock().now_micros())?;
    let stored = service.clone();
    let creator = actor.user().map(|u| u.id);
    let entry = Entry::new(actor, Action::ServiceCreated)
        .service(service.id)
        .subject(service.id)
        .details(json!({"name": service.name, "restricted": service.restricted}));
    cx.store
        .write(move |ctx| {
            ctx.insert_service(&stored)?;
            if let Some(user_id) = creator {
                ctx.put_membership(&Membership {
                    service_id: stored.id,
                    user_id,
                    permissions: Permission::ALL.to_vec(),
                    created_at: ctx.now_micros(),
                })?;
            }
            entry.write(ctx)
        })
        .await?;
    Ok(service)
}

/// The service, if it exists.
pub fn get_service(store: &Store, id: Uuid) -> DomainResult<Service> {
    store
        .read()?
        .get_service(id)?
        .ok_or_else(|| DomainError::not_found(format!("No service with id {id}")))
}

/// Every permission a service may hold.
pub const PERMISSIONS: &[&str] = &[
    "email",
    "sms",
    "letter",
    "international_sms",
    "international_letters",
    "sms_to_uk_landlines",
    "inbound_sms",
    "upload_letters",
    "email_auth",
];

/// A domain rejection raised inside a write operation, as the storage error that carries it
/// back out (the writer treats it as a rejection: nothing written, neighbours commit).
pub(crate) fn rejection(e: DomainError) -> StoreError {
    match e {
        DomainError::Refused {
            code: super::Code::NotFound,
            message,
        } => StoreError::NotFound(message),
        DomainError::Refused {
            code: super::Code::Conflict,
            message,
        } => StoreError::Conflict(message),
        DomainError::Store(e) => e,
        other => StoreError::Invalid(other.to_string()),
    }
}

fn no_service(id: Uuid) -> StoreError {
    StoreError::NotFound(format!("No service with id {id}"))
}

/// The service, checked inside a write operation (it may have gone since an earlier read).
pub(crate) fn require_service(
    ctx: &storage::WriteCtx<'_>,
    id: Uuid,
) -> Result<Service, StoreError> {
    ctx.get_service(id)?.ok_or_else(|| no_service(id))
}

fn check_name(name: &str) -> DomainResult<String> {
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err(DomainError::invalid("service name cannot be empty".into()));
    }
    if name.chars().count() > 255 {
        return Err(DomainError::invalid(
            "service name must be 255 characters or fewer".into(),
        ));
    }
    Ok(name)
}

/// Read the service inside a write operation, change it with `change`, and store it (checking
/// the name is still unique when it changed) with the audit `entry`. The actor needs
/// `permission` in the service. Nothing is written when `change` refuses.
async fn modify_service<R, F>(
    cx: &Context,
    actor: &Actor,
    permission: Permission,
    id: Uuid,
    entry: Entry,
    change: F,
) -> DomainResult<(Service, R)>
where
    F: FnOnce(&mut Service) -> DomainResult<R> + Send + 'static,
    R: Send + 'static,
{
    actor.require_in(id, permission)?;
    let now = cx.clock().now_micros();
    let entry = entry.service(id);
    let out = cx
        .store
        .write(move |ctx| {
            let mut service = require_service(ctx, id)?;
            let old_name = service.name.clone();
            let r = change(&mut service).map_err(rejection)?;
            service.updated_at = Some(now);
            if service.name == old_name {
                ctx.put_service(&service)?;
            } else {
                ctx.update_service(&service)?;
            }
            entry.write(ctx)?;
            Ok((service, r))
        })
        .await?;
    // The v2 API's cached copy of the service is stale now.
    cx.keys.invalidate(id);
    Ok(out)
}

/// Deserialises a field that may be absent (outer `None`) or `null` (`Some(None)`).
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /service/{id}`: every field optional; absent fields keep their value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub restricted: Option<bool>,
    #[serde(default)]
    pub rate_limit: Option<i64>,
    #[serde(default)]
    pub email_message_limit: Option<i64>,
    #[serde(default)]
    pub sms_message_limit: Option<i64>,
    #[serde(default)]
    pub letter_message_limit: Option<i64>,
    #[serde(default)]
    pub international_sms_message_limit: Option<i64>,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    #[serde(default)]
    pub prefix_sms: Option<bool>,
    /// `null` removes the link.
    #[serde(default, deserialize_with = "nullable")]
    pub contact_link: Option<Option<String>>,
}

fn daily_limit(field: &str, value: Option<i64>) -> DomainResult<Option<u64>> {
    value
        .map(|v| {
            u64::try_from(v).map_err(|_| {
                DomainError::invalid(format!("{field} must be a whole number, 0 or more"))
            })
        })
        .transpose()
}

/// Upstream's permission checks: every name known, none twice.
pub fn check_permissions(permissions: &[String]) -> DomainResult<Vec<String>> {
    if let Some(bad) = permissions
        .iter()
        .find(|p| !PERMISSIONS.contains(&p.as_str()))
    {
        return Err(DomainError::invalid(format!(
            "Invalid Service Permission: '{bad}'"
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut duplicates: Vec<&str> = permissions
        .iter()
        .filter(|p| !seen.insert(p.as_str()))
        .map(String::as_str)
        .collect();
    duplicates.dedup();
    if !duplicates.is_empty() {
        return Err(DomainError::invalid(format!(
            "Duplicate Service Permission: ['{}']",
            duplicates.join("', '")
        )));
    }
    Ok(permissions.to_vec())
}

/// A contact link is a web page (`http(s)://`), an email address or a phone number.
pub fn check_contact_link(link: &str) -> DomainResult<String> {
    let link = link.trim();
    let invalid = || {
        DomainError::invalid(
            "contact_link must be a URL (https://...), an email address or a phone number".into(),
        )
    };
    if link.is_empty() || link.chars().count() > 255 {
        return Err(invalid());
    }
    let lower = link.to_ascii_lowercase();
    let is_url = (lower.starts_with("https://") || lower.starts_with("http://"))
        && link.split_once("://").is_some_and(|(_, rest)| {
            !rest.is_empty() && !rest.starts_with('/') && !rest.contains(char::is_whitespace)
        });
    if is_url
        || recipients::validate_email_address(link).is_ok()
        || recipients::validate_phone_number(link).is_ok()
    {
        Ok(link.to_string())
    } else {
        Err(invalid())
    }
}

/// Apply an update to a service record (the rules of `POST /service/{id}`).
pub fn apply_update(service: &mut Service, update: ServiceUpdate) -> DomainResult<()> {
    // Everything is checked before anything changes.
    let name = update.name.as_deref().map(check_name).transpose()?;
    let rate_limit = update
        .rate_limit
        .map(|v| {
            u32::try_from(v).ok().filter(|v| *v > 0).ok_or_else(|| {
                DomainError::invalid("rate_limit must be a whole number greater than 0".into())
            })
        })
        .transpose()?;
    let email = daily_limit("email_message_limit", update.email_message_limit)?;
    let sms = daily_limit("sms_message_limit", update.sms_message_limit)?;
    let letter = daily_limit("letter_message_limit", update.letter_message_limit)?;
    let international = daily_limit(
        "international_sms_message_limit",
        update.international_sms_message_limit,
    )?;
    let permissions = update
        .permissions
        .as_deref()
        .map(check_permissions)
        .transpose()?;
    let contact_link = match update.contact_link {
        None => None,
        Some(None) => Some(None),
        Some(Some(link)) => Some(Some(check_contact_link(&link)?)),
    };
    if let Some(v) = name {
        service.name = v;
    }
    if let Some(v) = update.restricted {
        service.restricted = v;
    }
    if let Some(v) = rate_limit {
        service.rate_limit = v;
    }
    if let Some(v) = email {
        service.email_message_limit = v;
    }
    if let Some(v) = sms {
        service.sms_message_limit = v;
    }
    if let Some(v) = letter {
        service.letter_message_limit = v;
    }
    if let Some(v) = international {
        service.international_sms_message_limit = v;
    }
    if let Some(v) = permissions {
        service.permissions = v;
    }
    if let Some(v) = update.prefix_sms {
        service.prefix_sms = v;
    }
    if let Some(v) = contact_link {
        service.contact_link = v;
    }
    Ok(())
}

/// Change a service's settings. Only the operator and platform admins may change what a
/// service is allowed (limits, permissions); a member with `manage_service` the rest.
pub async fn update_service(
    cx: &Context,
    actor: &Actor,
    id: Uuid,
    update: ServiceUpdate,
) -> DomainResult<Service> {
    let platform_only = update.restricted.is_some()
        || update.rate_limit.is_some()
        || update.email_message_limit.is_some()
        || update.sms_message_limit.is_some()
        || update.letter_message_limit.is_some()
        || update.international_sms_message_limit.is_some()
        || update.permissions.is_some();
    if platform_only {
        actor.require(Need::PlatformAdmin, Some(id), None)?;
    }
    let entry = Entry::new(actor, Action::ServiceUpdated)
        .subject(id)
        .details(serde_json::to_value(&update).unwrap_or_default());
    let (service, ()) = modify_service(cx, actor, Permission::ManageService, id, entry, move |s| {
        apply_update(s, update)
    })
    .await?;
    Ok(service)
}

/// Archive a service, as upstream does: inactive, renamed `_archived_<time>_<name>` (freeing
/// the name), every key revoked. Archiving an archived service changes nothing.
pub async fn archive_service(cx: &Context, actor: &Actor, id: Uuid) -> DomainResult<Service> {
    actor.require_in(id, Permission::ManageService)?;
    let entry = Entry::new(actor, Action::ServiceArchived)
        .service(id)
        .subject(id);
    let store = &cx.store;
    let now = store.clock().now_micros();
    let stamp = store.clock().now().format("%Y-%m-%d_%H:%M:%S").to_string();
    let service = store
        .write(move |ctx| {
            let mut service = require_service(ctx, id)?;
            if !service.active {
                return Ok(service);
            }
            let keys = ctx.service_api_keys(id)?;
            service.active = false;
            service.name = format!("_archived_{stamp}_{}", service.name);
            service.updated_at = Some(now);
            ctx.put_service(&service)?;
            for mut key in keys.into_iter().filter(|k| k.expiry_date.is_none()) {
                key.expiry_date = Some(now);
                ctx.put_api_key(&key)?;
            }
            entry.write(ctx)?;
            Ok(service)
        })
        .await?;
    cx.keys.invalidate(id);
    Ok(service)
}

// ---------------------------------------------------------------------------------------------
// Email reply-to addresses, text message senders and letter contact blocks
// ---------------------------------------------------------------------------------------------

/// What reply-to addresses, text message senders and letter contact blocks share: an id, one
/// default among the live entries, and archiving instead of deleting.
pub trait SenderEntry: Clone + Send + 'static {
    /// What the entry is called in messages.
    const WHAT: &'static str;
    /// Refusal when a change would leave live entries without a default; `None` when a
    /// service may have no default (letter contact blocks: a blank block).
    const NO_DEFAULT: Option<&'static str>;
    /// Refusal to archive the default while other live entries exist.
    const ARCHIVE_DEFAULT: &'static str;
    fn id(&self) -> Uuid;
    fn is_default(&self) -> bool;
    fn set_default(&mut self, v: bool);
    fn archived(&self) -> bool;
    fn set_archived(&mut self);
    fn entries(service: &mut Service) -> &mut Vec<Self>;
    /// A rule of the kind against archiving this entry.
    fn check_archive(&self) -> DomainResult<()> {
        Ok(())
    }
}

impl SenderEntry for ReplyTo {
    const WHAT: &'static str = "email reply-to address";
    const NO_DEFAULT: Option<&'static str> =
        Some("You must have at least one reply to email address as the default.");
    const ARCHIVE_DEFAULT: &'static str =
        "You cannot delete a default email reply to address if other reply to addresses exist";
    fn id(&self) -> Uuid {
        self.id
    }
    fn is_default(&self) -> bool {
        self.is_default
    }
    fn set_default(&mut self, v: bool) {
        self.is_default = v;
    }
    fn archived(&self) -> bool {
        self.archived
    }
    fn set_archived(&mut self) {
        self.archived = true;
    }
    fn entries(service: &mut Service) -> &mut Vec<Self> {
        &mut service.email_reply_to
    }
}

impl SenderEntry for SmsSender {
    const WHAT: &'static str = "SMS sender";
    const NO_DEFAULT: Option<&'static str> =
        Some("You must have at least one SMS sender as the default.");
    const ARCHIVE_DEFAULT: &'static str = "You cannot delete a default sms sender";
    fn id(&self) -> Uuid {
        self.id
    }
    fn is_default(&self) -> bool {
        self.is_default
    }
    fn set_default(&mut self, v: bool) {
        self.is_default = v;
    }
    fn archived(&self) -> bool {
        self.archived
    }
    fn set_archived(&mut self) {
        self.archived = true;
    }
    fn entries(service: &mut Service) -> &mut Vec<Self> {
        &mut service.sms_senders
    }
    fn check_archive(&self) -> DomainResult<()> {
        if self.inbound_number {
            return Err(DomainError::invalid(
                "You cannot delete an inbound number".into(),
            ));
        }
        Ok(())
    }
}

impl SenderEntry for LetterContact {
    const WHAT: &'static str = "letter contact block";
    const NO_DEFAULT: Option<&'static str> = None;
    const ARCHIVE_DEFAULT: &'static str = "";
    fn id(&self) -> Uuid {
        self.id
    }
    fn is_default(&self) -> bool {
        self.is_default
    }
    fn set_default(&mut self, v: bool) {
        self.is_default = v;
    }
    fn archived(&self) -> bool {
        self.archived
    }
    fn set_archived(&mut self) {
        self.archived = true;
    }
    fn entries(service: &mut Service) -> &mut Vec<Self> {
        &mut service.letter_contacts
    }
}

/// The live (not archived) entries, the default first.
pub fn live_entries<T: SenderEntry>(entries: &[T]) -> Vec<T> {
    let mut live: Vec<T> = entries.iter().filter(|e| !e.archived()).cloned().collect();
    live.sort_by_key(|e| !e.is_default());
    live
}

/// One live entry, or 404.
pub fn live_entry<T: SenderEntry>(entries: &[T], service_id: Uuid, id: Uuid) -> DomainResult<T> {
    entries
        .iter()
        .find(|e| e.id() == id && !e.archived())
        .cloned()
        .ok_or_else(|| entry_not_found::<T>(service_id, id))
}

fn entry_not_found<T: SenderEntry>(service_id: Uuid, id: Uuid) -> DomainError {
    DomainError::not_found(format!(
        "No {} with id {id} for service {service_id}",
        T::WHAT
    ))
}

fn make_default<T: SenderEntry>(entries: &mut [T], id: Uuid) {
    for e in entries.iter_mut().filter(|e| !e.archived()) {
        let is_it = e.id() == id;
        e.set_default(is_it);
    }
}

/// Add `entry` to the list. `is_default` absent: default when there is no live default yet.
pub fn add_entry<T: SenderEntry>(
    entries: &mut Vec<T>,
    mut entry: T,
    is_default: Option<bool>,
) -> DomainResult<T> {
    let has_default = entries.iter().any(|e| !e.archived() && e.is_default());
    let is_default = is_default.unwrap_or(!has_default);
    if !is_default
        && !has_default
        && let Some(message) = T::NO_DEFAULT
    {
        return Err(DomainError::invalid(message.into()));
    }
    entry.set_default(false);
    let id = entry.id();
    entries.push(entry);
    if is_default {
        make_default(entries, id);
    }
    Ok(entries.last().cloned().expect("just pushed"))
}

/// Change a live entry with `change`; `is_default` absent keeps it as it is.
pub fn update_entry<T: SenderEntry>(
    entries: &mut [T],
    service_id: Uuid,
    id: Uuid,
    is_default: Option<bool>,
    change: impl FnOnce(&mut T) -> DomainResult<()>,
) -> DomainResult<T> {
    let entry = entries
        .iter_mut()
        .find(|e| e.id() == id && !e.archived())
        .ok_or_else(|| entry_not_found::<T>(service_id, id))?;
    if is_default == Some(false)
        && entry.is_default()
        && let Some(message) = T::NO_DEFAULT
    {
        return Err(DomainError::invalid(message.into()));
    }
    change(entry)?;
    match is_default {
        Some(true) => make_default(entries, id),
        Some(false) => entry.set_default(false),
        None => {}
    }
    live_entry(entries, service_id, id)
}

/// Archive a live entry. The default may go only when it is the last live entry (or the kind
/// allows no default).
pub fn archive_entry<T: SenderEntry>(
    entries: &mut [T],
    service_id: Uuid,
    id: Uuid,
) -> DomainResult<T> {
    let others = entries
        .iter()
        .filter(|e| !e.archived() && e.id() != id)
        .count();
    let entry = entries
        .iter_mut()
        .find(|e| e.id() == id && !e.archived())
        .ok_or_else(|| entry_not_found::<T>(service_id, id))?;
    entry.check_archive()?;
    if entry.is_default() && others > 0 && T::NO_DEFAULT.is_some() {
        return Err(DomainError::invalid(T::ARCHIVE_DEFAULT.into()));
    }
    entry.set_archived();
    entry.set_default(false);
    Ok(entry.clone())
}

/// Body of the reply-to routes (add: `email_address` required).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyToBody {
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub is_default: Option<bool>,
}

/// Body of the SMS sender routes (add: `sms_sender` required).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSenderBody {
    #[serde(default)]
    pub sms_sender: Option<String>,
    #[serde(default)]
    pub is_default: Option<bool>,
}

/// Body of the letter contact routes (add: `contact_block` required).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LetterContactBody {
    #[serde(default)]
    pub contact_block: Option<String>,
    #[serde(default)]
    pub is_default: Option<bool>,
}

fn required(field: &str, value: Option<String>) -> DomainResult<String> {
    value.ok_or_else(|| DomainError::invalid(format!("{field} is a required property")))
}

pub fn check_reply_to(address: &str) -> DomainResult<String> {
    recipients::validate_email_address(address)
        .map_err(|_| DomainError::invalid("email_address is not a valid email address".into()))
}

/// A text message sender: 3 to 11 letters, digits and `&.-_ ` (with a letter), or a phone
/// number of 3 to 15 digits (an optional leading `+`).
pub fn check_sms_sender(sender: &str) -> DomainResult<String> {
    let sender = sender.trim();
    let digits = sender.strip_prefix('+').unwrap_or(sender);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        if !(3..=15).contains(&digits.len()) {
            return Err(DomainError::invalid(
                "sms_sender must be a phone number of 3 to 15 digits".into(),
            ));
        }
        return Ok(sender.to_string());
    }
    let n = sender.chars().count();
    if n < 3 {
        return Err(DomainError::invalid(
            "sms_sender must be 3 characters or more".into(),
        ));
    }
    if n > 11 {
        return Err(DomainError::invalid(
            "sms_sender must be 11 characters or fewer".into(),
        ));
    }
    if !sender
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " &.-_".contains(c))
    {
        return Err(DomainError::invalid(
            "sms_sender must use only letters, numbers, spaces and & . - _".into(),
        ));
    }
    Ok(sender.to_string())
}

/// A letter contact block: 1 to 10 lines, 1000 characters at most.
pub fn check_contact_block(block: &str) -> DomainResult<String> {
    let block = block.trim();
    if block.is_empty() {
        return Err(DomainError::invalid("contact_block cannot be empty".into()));
    }
    if block.lines().count() > 10 {
        return Err(DomainError::invalid(
            "contact_block must be 10 lines or fewer".into(),
        ));
    }
    if block.chars().count() > 1000 {
        return Err(DomainError::invalid(
            "contact_block must be 1000 characters or fewer".into(),
        ));
    }
    Ok(block.to_string())
}

pub async fn add_reply_to(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    body: ReplyToBody,
) -> DomainResult<ReplyTo> {
    let email_address = check_reply_to(&required("email_address", body.email_address)?)?;
    let entry = ReplyTo {
        id: Uuid::new_v4(),
        email_address,
        is_default: false,
        archived: false,
    };
    let audit = sender_entry(actor, Action::SenderAdded, "reply_to", entry.id);
    let (_, added) = modify_service(
        cx,
        actor,
        Permission::ManageService,
        service_id,
        audit,
        move |s| add_entry(&mut s.email_reply_to, entry, body.is_default),
    )
    .await?;
    Ok(added)
}

pub async fn update_reply_to(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    id: Uuid,
    body: ReplyToBody,
) -> DomainResult<ReplyTo> {
    let address = body
        .email_address
        .as_deref()
        .map(check_reply_to)
        .transpose()?;
    let audit = sender_entry(actor, Action::SenderChanged, "reply_to", id);
    let (_, updated) = modify_service(
        cx,
        actor,
        Permission::ManageService,
        service_id,
        audit,
        move |s| {
            update_entry(
                &mut s.email_reply_to,
                service_id,
                id,
                body.is_default,
                |e| {
                    if let Some(a) = address {
                        e.email_address = a;
                    }
                    Ok(())
                },
            )
        },
    )
    .await?;
    Ok(updated)
}

pub async fn add_sms_sender(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    body: SmsSenderBody,
) -> DomainResult<SmsSender> {
    let sms_sender = check_sms_sender(&required("sms_sender", body.sms_sender)?)?;
    let entry = SmsSender {
        id: Uuid::new_v4(),
        sms_sender,
        is_default: false,
        archived: false,
        inbound_number: false,
    };
    let audit = sender_entry(actor, Action::SenderAdded, "sms_sender", entry.id);
    let (_, added) = modify_service(
        cx,
        actor,
        Permission::ManageService,
        service_id,
        audit,
        move |s| add_entry(&mut s.sms_senders, entry, body.is_default),
    )
    .await?;
    Ok(added)
}

pub async fn update_sms_sender(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    id: Uuid,
    body: SmsSenderBody,
) -> DomainResult<SmsSender> {
    let sender = body
        .sms_sender
        .as_deref()
        .map(check_sms_sender)
        .transpose()?;
    let audit = sender_entry(actor, Action::SenderChanged, "sms_sender", id);
    let (_, updated) = modify_service(
        cx,
        actor,
        Permission::ManageService,
        service_id,
        audit,
        move |s| {
            update_entry(&mut s.sms_senders, service_id, id, body.is_default, |e| {
                if let Some(v) = sender {
                    if e.inbound_number && v != e.sms_sender {
                        return Err(DomainError::invalid(format!(
                            "You can not change the inbound number for service {service_id}"
                        )));
                    }
                    e.sms_sender = v;
                }
                Ok(())
            })
        },
    )
    .await?;
    Ok(updated)
}

pub async fn add_letter_contact(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    body: LetterContactBody,
) -> DomainResult<LetterContact> {
    let contact_block = check_contact_block(&required("contact_block", body.contact_block)?)?;
    let entry = LetterContact {
        id: Uuid::new_v4(),
        contact_block,
        is_default: false,
        archived: false,
    };
    let audit = sender_entry(actor, Action::SenderAdded, "letter_contact", entry.id);
    let (_, added) = modify_service(
        cx,
        actor,
        Permission::ManageService,
        service_id,
        audit,
        move |s| add_entry(&mut s.letter_contacts, entry, body.is_default),
    )
    .await?;
    Ok(added)
}

pub async fn update_letter_contact(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    id: Uuid,
    body: LetterContactBody,
) -> DomainResult<LetterContact> {
    let block = body
        .contact_block
        .as_deref()
        .map(check_contact_block)
        .transpose()?;
    let audit = sender_entry(actor, Action::SenderChanged, "letter_contact", id);
    let (_, updated) = modify_service(
        cx,
        actor,
        Permission::ManageService,
        service_id,
        audit,
        move |s| {
            update_entry(
                &mut s.letter_contacts,
                service_id,
                id,
                body.is_default,
                |e| {
                    if let Some(v) = block {
                        e.contact_block = v;
                    }
                    Ok(())
                },
            )
        },
    )
    .await?;
    Ok(updated)
}

/// The audit entry of a change to a reply-to address, SMS sender or letter contact block.
fn sender_entry(actor: &Actor, action: Action, kind: &str, id: Uuid) -> Entry {
    Entry::new(actor, action)
        .subject(id)
        .details(json!({"kind": kind}))
}

/// Archive a reply-to address, SMS sender or letter contact block of the service.
pub async fn archive_sender_entry<T: SenderEntry>(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    id: Uuid,
) -> DomainResult<T> {
    let audit = sender_entry(actor, Action::SenderArchived, T::WHAT, id);
    let (_, archived) = modify_service(
        cx,
        actor,
        Permission::ManageService,
        service_id,
        audit,
        move |s| archive_entry(T::entries(s), service_id, id),
    )
    .await?;
    Ok(archived)
}

// ---------------------------------------------------------------------------------------------
// Guest list
// ---------------------------------------------------------------------------------------------

/// The guest list as upstream's internal API carries it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestList {
    #[serde(default)]
    pub email_addresses: Vec<String>,
    #[serde(default)]
    pub phone_numbers: Vec<String>,
}

/// Validate and normalise a guest list into the stored form: lower-cased email addresses and
/// phone numbers in E.164 without `+`, each once, blank entries dropped.
pub fn normalise_guest_list(list: &GuestList) -> DomainResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |v: String| {
        if !out.contains(&v) {
            out.push(v);
        }
    };
    for raw in list.email_addresses.iter().filter(|e| !e.trim().is_empty()) {
        let valid = recipients::validate_email_address(raw).map_err(|_| {
            DomainError::invalid(format!(
                "Invalid guest list: {} is not a valid email address",
                raw.trim()
            ))
        })?;
        push(recipients::normalise_email(&valid));
    }
    for raw in list.phone_numbers.iter().filter(|p| !p.trim().is_empty()) {
        let phone = recipients::validate_phone_number(raw).map_err(|e| {
            DomainError::invalid(format!(
                "Invalid guest list: {} is not a valid phone number ({e})",
                raw.trim()
            ))
        })?;
        push(phone.normalised);
    }
    Ok(out)
}

/// The stored guest list split back into email addresses and phone numbers.
pub fn split_guest_list(entries: &[String]) -> GuestList {
    let (email_addresses, phone_numbers) = entries.iter().cloned().partition(|e| e.contains('@'));
    GuestList {
        email_addresses,
        phone_numbers,
    }
}

/// Replace the service's guest list.
pub async fn set_guest_list(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    list: GuestList,
) -> DomainResult<GuestList> {
    let entries = normalise_guest_list(&list)?;
    let audit = Entry::new(actor, Action::GuestListChanged)
        .subject(service_id)
        .details(json!({"entries": entries.len()}));
    let (service, ()) = modify_service(
        cx,
        actor,
        Permission::ManageApiKeys,
        service_id,
        audit,
        move |s| {
            s.guest_list = entries;
            Ok(())
        },
    )
    .await?;
    Ok(split_guest_list(&service.guest_list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_local_part_is_ascii_words_joined_by_dots() {
        for (name, want) in [
            ("Test Service", "test.service"),
            ("  Café  & Co. ", "cafe.co"),
            ("HMRC: Tax-Credits", "hmrc.tax.credits"),
            ("!!!", ""),
        ] {
            assert_eq!(email_sender_local_part(name), want, "{name}");
        }
    }

    fn reply_to(address: &str) -> ReplyTo {
        ReplyTo {
            id: Uuid::new_v4(),
            email_address: address.into(),
            is_default: false,
            archived: false,
        }
    }

    #[test]
    fn reply_tos_keep_exactly_one_default() {
        let sid = Uuid::new_v4();
        let mut list = vec![];
        let e = add_entry(&mut list, reply_to("a@example.com"), Some(false)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "You must have at least one reply to email address as the default."
        );
        let a = add_entry(&mut list, reply_to("a@example.com"), None).unwrap();
        assert!(a.is_default, "the first becomes the default");
        let b = add_entry(&mut list, reply_to("b@example.com"), None).unwrap();
        assert!(!b.is_default);
        let b = add_entry(&mut list, reply_to("c@example.com"), Some(true)).unwrap();
        let defaults: Vec<_> = list.iter().filter(|e| e.is_default).collect();
        assert_eq!(defaults.len(), 1);
        assert_eq!(defaults[0].id, b.id);
        assert!(update_entry(&mut list, sid, b.id, Some(false), |_| Ok(())).is_err());
        let e = archive_entry(&mut list, sid, b.id).unwrap_err();
        assert!(e.to_string().starts_with("You cannot delete a default"));
        update_entry(&mut list, sid, a.id, Some(true), |_| Ok(())).unwrap();
        archive_entry(&mut list, sid, b.id).unwrap();
        assert_eq!(
            archive_entry(&mut list, sid, b.id)
                .map_err(|e| e.code())
                .err(),
            Some(super::super::Code::NotFound)
        );
        let live = live_entries(&list);
        assert_eq!(live.len(), 2);
        assert_eq!(live[0].id, a.id, "default first");
    }

    #[test]
    fn letter_contacts_may_have_no_default() {
        let sid = Uuid::new_v4();
        let mut list = vec![];
        let block = |b: &str| LetterContact {
            id: Uuid::new_v4(),
            contact_block: b.into(),
            is_default: false,
            archived: false,
        };
        let a = add_entry(&mut list, block("A"), Some(false)).unwrap();
        assert!(!a.is_default);
        let b = add_entry(&mut list, block("B"), Some(true)).unwrap();
        let b = update_entry(&mut list, sid, b.id, Some(false), |_| Ok(())).unwrap();
        assert!(!b.is_default);
        archive_entry(&mut list, sid, a.id).unwrap();
    }

    #[test]
    fn permissions_are_checked_like_upstream() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_permissions(&p(&["email", "sms", "email_auth"])).is_ok());
        assert_eq!(
            check_permissions(&p(&["email", "fax"]))
                .unwrap_err()
                .to_string(),
            "Invalid Service Permission: 'fax'"
        );
        assert_eq!(
            check_permissions(&p(&["sms", "email", "sms"]))
                .unwrap_err()
                .to_string(),
            "Duplicate Service Permission: ['sms']"
        );
    }

    #[test]
    fn senders_and_contact_links_are_checked() {
        assert!(check_sms_sender("GOVUK").is_ok());
        assert!(check_sms_sender("+447700900123").is_ok());
        assert!(check_sms_sender("AB").is_err());
        assert!(check_sms_sender("TWELVE CHARS").is_err());
        assert!(check_sms_sender("caf\u{e9}").is_err());
        assert!(check_contact_link("https://example.gov.uk/help").is_ok());
        assert!(check_contact_link("help@example.gov.uk").is_ok());
        assert!(check_contact_link("020 7946 0000").is_ok());
        assert!(check_contact_link("ftp://example.com").is_err());
        assert!(check_contact_block(&"line\n".repeat(11)).is_err());
    }

    #[test]
    fn guest_lists_are_normalised() {
        let list = GuestList {
            email_addresses: vec![
                "Ann@Example.COM".into(),
                " ".into(),
                "ann@example.com".into(),
            ],
            phone_numbers: vec!["07700 900123".into()],
        };
        let stored = normalise_guest_list(&list).unwrap();
        assert_eq!(stored, vec!["ann@example.com", "447700900123"]);
        assert_eq!(
            split_guest_list(&stored),
            GuestList {
                email_addresses: vec!["ann@example.com".into()],
                phone_numbers: vec!["447700900123".into()],
            }
        );
        let bad = GuestList {
            phone_numbers: vec!["123".into()],
            ..Default::default()
        };
        assert!(
            normalise_guest_list(&bad)
                .unwrap_err()
                .to_string()
                .starts_with("Invalid guest list: 123 is not a valid phone number")
        );
    }

    #[test]
    fn updates_check_everything_before_changing_anything() {
        let mut s = Service {
            id: Uuid::new_v4(),
            name: "A".into(),
            active: true,
            restricted: false,
            rate_limit: 3000,
            email_message_limit: 1,
            sms_message_limit: 1,
            letter_message_limit: 1,
            international_sms_message_limit: 1,
            permissions: vec![],
            email_sender_local_part: "a".into(),
            prefix_sms: true,
            contact_link: Some("https://x.gov.uk".into()),
            email_reply_to: vec![],
            sms_senders: vec![],
            letter_contacts: vec![],
            guest_list: vec![],
            created_at: 0,
            updated_at: None,
        };
        let before = s.clone();
        let bad = ServiceUpdate {
            name: Some("B".into()),
            rate_limit: Some(0),
            ..Default::default()
        };
        assert!(apply_update(&mut s, bad).is_err());
        assert_eq!(s, before);
        let update: ServiceUpdate = serde_json::from_str(
            r#"{"restricted": true, "sms_message_limit": 5, "contact_link": null, "permissions": ["sms"]}"#,
        )
        .unwrap();
        apply_update(&mut s, update).unwrap();
        assert!(s.restricted);
        assert_eq!(s.sms_message_limit, 5);
        assert_eq!(s.contact_link, None);
        assert_eq!(s.permissions, vec!["sms"]);
        assert_eq!(s.name, "A");
    }
}
