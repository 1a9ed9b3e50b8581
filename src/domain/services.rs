//! Creating and changing services.

use serde::{Deserialize, Serialize};
use storage::Store;
use storage::records::Service;
use uuid::Uuid;

use super::{DomainError, DomainResult};

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

pub async fn create_service(store: &Store, new: NewService) -> DomainResult<Service> {
    let name = new.name.trim().to_string();
    if name.is_empty() {
        return Err(DomainError::Invalid("service name cannot be empty".into()));
    }
    if name.chars().count() > 255 {
        return Err(DomainError::Invalid(
            "service name must be 255 characters or fewer".into(),
        ));
    }
    let local_part = email_sender_local_part(&name);
    if local_part.is_empty() {
        return Err(DomainError::Invalid(
            "service name must contain at least one letter or digit".into(),
        ));
    }
    let service = Service {
        id: Uuid::new_v4(),
        name,
        active: true,
        restricted: new.restricted,
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
        created_at: store.clock().now_micros(),
        updated_at: None,
    };
    let stored = service.clone();
    store.write(move |ctx| ctx.insert_service(&stored)).await?;
    Ok(service)
}

/// The service, if it exists.
pub fn get_service(store: &Store, id: Uuid) -> DomainResult<Service> {
    store
        .read()?
        .get_service(id)?
        .ok_or_else(|| DomainError::NotFound(format!("No service with id {id}")))
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
}
