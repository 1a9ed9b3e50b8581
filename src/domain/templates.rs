//! Templates and their versions.

use serde::{Deserialize, Serialize};
use storage::Store;
use storage::records::{NotificationType, Template};
use uuid::Uuid;

use super::{DomainError, DomainResult};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTemplate {
    pub template_type: String,
    pub name: String,
    #[serde(default)]
    pub subject: Option<String>,
    pub content: String,
    #[serde(default)]
    pub postage: Option<String>,
}

pub const POSTAGE_CLASSES: &[&str] = &["first", "second", "economy", "europe", "rest-of-world"];

pub fn parse_template_type(text: &str) -> DomainResult<NotificationType> {
    NotificationType::parse(text).ok_or_else(|| {
        DomainError::Invalid(format!(
            "template_type {text} is not one of [sms, email, letter]"
        ))
    })
}

pub async fn create_template(
    store: &Store,
    service_id: Uuid,
    new: NewTemplate,
) -> DomainResult<Template> {
    let template_type = parse_template_type(&new.template_type)?;
    let name = new.name.trim().to_string();
    if name.is_empty() {
        return Err(DomainError::Invalid("template name cannot be empty".into()));
    }
    if new.content.trim().is_empty() {
        return Err(DomainError::Invalid(
            "template content cannot be empty".into(),
        ));
    }
    let subject = new
        .subject
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let subject = match template_type {
        NotificationType::Email | NotificationType::Letter => Some(subject.ok_or_else(|| {
            DomainError::Invalid(format!("{template_type} templates need a subject"))
        })?),
        NotificationType::Sms => {
            if subject.is_some() {
                return Err(DomainError::Invalid(
                    "a text message template has no subject".into(),
                ));
            }
            None
        }
    };
    let postage = match (template_type, new.postage) {
        (NotificationType::Letter, None) => Some("second".to_string()),
        (NotificationType::Letter, Some(p)) if POSTAGE_CLASSES.contains(&p.as_str()) => Some(p),
        (NotificationType::Letter, Some(p)) => {
            return Err(DomainError::Invalid(format!(
                "postage {p} is not one of [first, second, economy, europe, rest-of-world]"
            )));
        }
        (_, Some(_)) => {
            return Err(DomainError::Invalid(
                "only letter templates have postage".into(),
            ));
        }
        (_, None) => None,
    };
    super::services::get_service(store, service_id)?;
    let template = Template {
        id: Uuid::new_v4(),
        service_id,
        name,
        template_type,
        subject,
        content: new.content,
        version: 1,
        archived: false,
        hidden: false,
        postage,
        letter_contact_id: None,
        created_at: store.clock().now_micros(),
        updated_at: None,
        created_by: None,
    };
    let stored = template.clone();
    store
        .write(move |ctx| {
            if ctx.get_service(service_id)?.is_none() {
                return Err(storage::StoreError::NotFound(format!(
                    "No service with id {service_id}"
                )));
            }
            ctx.put_template(&stored)
        })
        .await?;
    Ok(template)
}

/// Name of the hidden template precompiled letters are sent with.
pub const PRECOMPILED_TEMPLATE_NAME: &str = "Pre-compiled PDF";

/// The service's hidden precompiled-letter template, created on first use. Found and created
/// inside one write operation, so concurrent first letters share one template.
pub async fn precompiled_template(store: &Store, service_id: Uuid) -> DomainResult<Template> {
    let now = store.clock().now_micros();
    let template = store
        .write(move |ctx| {
            if let Some(t) = ctx
                .service_templates(service_id)?
                .into_iter()
                .find(|t| t.hidden && t.name == PRECOMPILED_TEMPLATE_NAME)
            {
                return Ok(t);
            }
            let t = Template {
                id: Uuid::new_v4(),
                service_id,
                name: PRECOMPILED_TEMPLATE_NAME.to_string(),
                template_type: NotificationType::Letter,
                subject: Some(PRECOMPILED_TEMPLATE_NAME.to_string()),
                content: String::new(),
                version: 1,
                archived: false,
                hidden: true,
                postage: Some("second".to_string()),
                letter_contact_id: None,
                created_at: now,
                updated_at: None,
                created_by: None,
            };
            ctx.put_template(&t)?;
            Ok(t)
        })
        .await?;
    Ok(template)
}
