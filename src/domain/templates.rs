//! Templates and their versions.

use serde::{Deserialize, Serialize};
use storage::Store;
use storage::records::{NotificationType, Template};
use uuid::Uuid;

use serde_json::json;
use storage::records::Permission;

use super::accounts::{Action, Actor, Entry};
use super::{Context, DomainError, DomainResult};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTemplate {
    pub template_type: String,
    pub name: String,
    #[serde(default)]
    pub subject: Option<String>,
    pub content: String,
    #[serde(default)]
    pub postage: Option<String>,
    /// Letters: the service's letter contact block printed on them (upstream's `reply_to`).
    #[serde(default)]
    pub reply_to: Option<Uuid>,
    /// Emails: carry the appliance's own one-click unsubscribe link.
    #[serde(default)]
    pub has_unsubscribe_link: Option<bool>,
    /// The author, when the operator creates a template for someone (upstream's admin app
    /// sends it); a signed-in person is always the author of their own.
    #[serde(default)]
    pub created_by: Option<Uuid>,
}

/// The author of a template version no person made (the CLI, the admin secret): the
/// appliance's operator, under the stable id every operator action is recorded with.
pub use super::accounts::OPERATOR_ID;
use super::accounts::actor::OPERATOR_NAME;

/// Who made a template version, as upstream names its author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub id: Uuid,
    pub name: String,
    /// A person's email address; the operator's id for the operator (it has no address).
    pub email_address: String,
}

/// The author of `t`: the person who made it, or the operator (also when the person's
/// account has gone).
pub fn author(store: &Store, t: &Template) -> DomainResult<Author> {
    let person = match t.created_by {
        Some(id) => store.read()?.get_user(id)?,
        None => None,
    };
    Ok(match person {
        Some(u) => Author {
            id: u.id,
            name: u.name,
            email_address: u.email_address,
        },
        None => Author {
            id: OPERATOR_ID,
            name: OPERATOR_NAME.to_string(),
            email_address: OPERATOR_ID.to_string(),
        },
    })
}

pub const POSTAGE_CLASSES: &[&str] = &["first", "second", "economy", "europe", "rest-of-world"];

pub fn parse_template_type(text: &str) -> DomainResult<NotificationType> {
    NotificationType::parse(text).ok_or_else(|| {
        DomainError::invalid(format!(
            "template_type {text} is not one of [sms, email, letter]"
        ))
    })
}

/// A template's checked fields.
struct Fields {
    name: String,
    subject: Option<String>,
    content: String,
    postage: Option<String>,
}

/// The rules every version of a template must keep: a name, content, a subject for emails and
/// letters (none for texts), a postage class for letters only (second class by default).
fn check_fields(
    template_type: NotificationType,
    name: &str,
    subject: Option<String>,
    content: String,
    postage: Option<String>,
) -> DomainResult<Fields> {
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err(DomainError::invalid("template name cannot be empty".into()));
    }
    if content.trim().is_empty() {
        return Err(DomainError::invalid(
            "template content cannot be empty".into(),
        ));
    }
    let subject = subject
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let subject = match template_type {
        NotificationType::Email | NotificationType::Letter => Some(subject.ok_or_else(|| {
            DomainError::invalid(format!("{template_type} templates need a subject"))
        })?),
        NotificationType::Sms => {
            if subject.is_some() {
                return Err(DomainError::invalid(
                    "a text message template has no subject".into(),
                ));
            }
            None
        }
    };
    let postage = match (template_type, postage) {
        (NotificationType::Letter, None) => Some("second".to_string()),
        (NotificationType::Letter, Some(p)) if POSTAGE_CLASSES.contains(&p.as_str()) => Some(p),
        (NotificationType::Letter, Some(p)) => {
            return Err(DomainError::invalid(format!(
                "postage {p} is not one of [first, second, economy, europe, rest-of-world]"
            )));
        }
        (_, Some(_)) => {
            return Err(DomainError::invalid(
                "only letter templates have postage".into(),
            ));
        }
        (_, None) => None,
    };
    Ok(Fields {
        name,
        subject,
        content,
        postage,
    })
}

/// A template's letter contact block (`reply_to`): letters only, and one of the service's live
/// contact blocks (upstream's wording for an unknown one).
pub fn check_reply_to(
    service: &storage::records::Service,
    template_type: NotificationType,
    reply_to: Option<Uuid>,
) -> DomainResult<Option<Uuid>> {
    let Some(id) = reply_to else {
        return Ok(None);
    };
    if template_type != NotificationType::Letter {
        return Err(DomainError::bad_request(format!(
            "Unable to set sender for {template_type} template"
        )));
    }
    if !service
        .letter_contacts
        .iter()
        .any(|c| c.id == id && !c.archived)
    {
        return Err(DomainError::bad_request(format!(
            "letter_contact_id {id} does not exist in database for service id {}",
            service.id
        )));
    }
    Ok(Some(id))
}

/// `has_unsubscribe_link` is for emails only (upstream's check constraint).
pub fn check_unsubscribe_link(
    template_type: NotificationType,
    on: Option<bool>,
) -> DomainResult<Option<bool>> {
    if on == Some(true) && template_type != NotificationType::Email {
        return Err(DomainError::bad_request(format!(
            "has_unsubscribe_link: {template_type} templates cannot have an unsubscribe link"
        )));
    }
    Ok(on)
}

/// Whether a template's emails carry the appliance's own one-click unsubscribe link.
pub fn has_unsubscribe_link(store: &Store, template_id: Uuid) -> DomainResult<bool> {
    Ok(store.read()?.template_has_unsubscribe_link(template_id)?)
}

/// Who a version records as its author: the person acting, or for the operator the user the
/// request names (checked to exist inside the write), else the operator's stable id.
fn version_author(actor: &Actor, named: Option<Uuid>) -> (Uuid, Option<Uuid>) {
    match (actor.user(), named) {
        (Some(u), _) => (u.id, None),
        (None, Some(named)) => (named, Some(named)),
        (None, None) => (actor.author_id(), None),
    }
}

fn check_author(ctx: &storage::WriteCtx<'_>, named: Option<Uuid>) -> storage::Result<()> {
    if let Some(user) = named
        && ctx.get_user(user)?.is_none()
    {
        return Err(storage::StoreError::Invalid(format!(
            "created_by: no user with id {user}"
        )));
    }
    Ok(())
}

/// Create a template (version 1), recording its author. Needs `manage_templates`.
pub async fn create_template(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    new: NewTemplate,
) -> DomainResult<Template> {
    actor.require_in(service_id, Permission::ManageTemplates)?;
    let store = &cx.store;
    let (created_by, named) = version_author(actor, new.created_by);
    let template_type = parse_template_type(&new.template_type)?;
    let Fields {
        name,
        subject,
        content,
        postage,
    } = check_fields(
        template_type,
        &new.name,
        new.subject,
        new.content,
        new.postage,
    )?;
    let service = super::services::get_service(store, service_id)?;
    let letter_contact_id = check_reply_to(&service, template_type, new.reply_to)?;
    let unsubscribe_link = check_unsubscribe_link(template_type, new.has_unsubscribe_link)?;
    let template = Template {
        id: Uuid::new_v4(),
        service_id,
        name,
        template_type,
        subject,
        content,
        version: 1,
        archived: false,
        hidden: false,
        postage,
        letter_contact_id,
        created_at: store.clock().now_micros(),
        updated_at: None,
        created_by: Some(created_by),
    };
    let stored = template.clone();
    let entry = Entry::new(actor, Action::TemplateCreated)
        .service(service_id)
        .subject(template.id)
        .details(json!({"name": template.name, "template_type": template.template_type.as_str(), "version": 1}));
    store
        .write(move |ctx| {
            let service = super::services::require_service(ctx, service_id)?;
            // The contact block may have been archived since it was checked.
            check_reply_to(&service, stored.template_type, stored.letter_contact_id)
                .map_err(super::services::rejection)?;
            check_author(ctx, named)?;
            ctx.put_template(&stored)?;
            if unsubscribe_link == Some(true) {
                ctx.set_template_unsubscribe_link(stored.id, true)?;
            }
            entry.write(ctx)
        })
        .await?;
    Ok(template)
}

/// `POST /service/{id}/template/{template_id}`: every field optional; absent fields keep their
/// value. `archived: true` archives the template.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateUpdate {
    /// Accepted only when it is the template's own type: a type never changes.
    #[serde(default)]
    pub template_type: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub postage: Option<String>,
    #[serde(default)]
    pub archived: Option<bool>,
    /// The user making the change (a known user), recorded on the new version.
    #[serde(default)]
    pub created_by: Option<Uuid>,
    /// Letters: the letter contact block (upstream's `reply_to`); `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    pub reply_to: Option<Option<Uuid>>,
    /// Emails: carry the appliance's own one-click unsubscribe link (not versioned).
    #[serde(default)]
    pub has_unsubscribe_link: Option<bool>,
}

/// A field that may be absent (outer `None`) or `null` (`Some(None)`).
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn template_not_found(service_id: Uuid, id: Uuid) -> String {
    format!("No template with id {id} for service {service_id}")
}

/// The next version of `current` after `update`, or `None` when nothing would change.
pub fn next_version(
    current: &Template,
    update: TemplateUpdate,
    now: i64,
) -> DomainResult<Option<Template>> {
    if current.hidden {
        return Err(DomainError::invalid(format!(
            "template {} cannot be changed",
            current.id
        )));
    }
    if let Some(t) = &update.template_type
        && parse_template_type(t)? != current.template_type
    {
        return Err(DomainError::invalid(format!(
            "template_type cannot be changed (this is a {} template)",
            current.template_type
        )));
    }
    let archived = update.archived.unwrap_or(current.archived);
    if current.archived {
        let only_archiving = update.name.is_none()
            && update.subject.is_none()
            && update.content.is_none()
            && update.postage.is_none()
            && update.reply_to.is_none()
            && archived;
        if only_archiving {
            return Ok(None);
        }
        return Err(DomainError::invalid(format!(
            "Template {} has been archived and cannot be changed",
            current.id
        )));
    }
    let fields = check_fields(
        current.template_type,
        update.name.as_deref().unwrap_or(&current.name),
        update.subject.or_else(|| current.subject.clone()),
        update.content.unwrap_or_else(|| current.content.clone()),
        update.postage.or_else(|| current.postage.clone()),
    )?;
    let letter_contact_id = match update.reply_to {
        Some(Some(_)) if current.template_type != NotificationType::Letter => {
            return Err(DomainError::bad_request(format!(
                "Unable to set sender for {} template",
                current.template_type
            )));
        }
        Some(id) => id,
        None => current.letter_contact_id,
    };
    let unchanged = fields.name == current.name
        && fields.subject == current.subject
        && fields.content == current.content
        && fields.postage == current.postage
        && letter_contact_id == current.letter_contact_id
        && archived == current.archived;
    if unchanged {
        return Ok(None);
    }
    Ok(Some(Template {
        name: fields.name,
        subject: fields.subject,
        content: fields.content,
        postage: fields.postage,
        letter_contact_id,
        archived,
        version: current.version + 1,
        updated_at: Some(now),
        created_by: update.created_by,
        ..current.clone()
    }))
}

/// Change a template: a new version (version + 1) when anything changes; earlier versions stay
/// readable. An update that changes nothing answers the current version.
pub async fn update_template(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    template_id: Uuid,
    mut update: TemplateUpdate,
) -> DomainResult<Template> {
    actor.require_in(service_id, Permission::ManageTemplates)?;
    let store = &cx.store;
    super::services::get_service(store, service_id)?;
    let now = store.clock().now_micros();
    let (created_by, named) = version_author(actor, update.created_by);
    update.created_by = Some(created_by);
    let archiving = update.archived == Some(true);
    let mut entry = Entry::new(actor, Action::TemplateChanged)
        .service(service_id)
        .subject(template_id);
    let template = store
        .write(move |ctx| {
            let service = super::services::require_service(ctx, service_id)?;
            let current = ctx
                .get_template(template_id)?
                .filter(|t| t.service_id == service_id)
                .ok_or_else(|| {
                    storage::StoreError::NotFound(template_not_found(service_id, template_id))
                })?;
            let unsubscribe_link =
                check_unsubscribe_link(current.template_type, update.has_unsubscribe_link)
                    .map_err(super::services::rejection)?;
            if let Some(Some(id)) = update.reply_to {
                check_reply_to(&service, current.template_type, Some(id))
                    .map_err(super::services::rejection)?;
            }
            if let Some(on) = unsubscribe_link {
                ctx.set_template_unsubscribe_link(template_id, on)?;
            }
            check_author(ctx, named)?;
            let next = next_version(&current, update, now).map_err(super::services::rejection)?;
            match next {
                Some(next) => {
                    ctx.put_template(&next)?;
                    if archiving && next.archived && !current.archived {
                        entry = entry.action(Action::TemplateArchived);
                    }
                    entry
                        .details(json!({"name": next.name, "version": next.version}))
                        .write(ctx)?;
                    Ok(next)
                }
                None => Ok(current),
            }
        })
        .await?;
    Ok(template)
}

/// Archive a template (a new version with `archived` set; sending with it is refused).
pub async fn archive_template(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    template_id: Uuid,
) -> DomainResult<Template> {
    let update = TemplateUpdate {
        archived: Some(true),
        ..Default::default()
    };
    update_template(cx, actor, service_id, template_id, update).await
}

/// The service's visible templates (current versions), by name then type; archived ones only
/// when asked for, and only of `template_type` when given.
pub fn list_templates(
    store: &Store,
    service_id: Uuid,
    template_type: Option<NotificationType>,
    include_archived: bool,
) -> DomainResult<Vec<Template>> {
    super::services::get_service(store, service_id)?;
    let reader = store.read()?;
    let mut list: Vec<Template> = reader
        .service_templates(service_id)?
        .into_iter()
        .filter(|t| !t.hidden && (include_archived || !t.archived))
        .filter(|t| template_type.is_none_or(|w| t.template_type == w))
        .collect();
    list.sort_by_key(|t| (t.name.to_lowercase(), t.template_type.as_str()));
    Ok(list)
}

/// The current version of one of the service's templates.
pub fn get_template(store: &Store, service_id: Uuid, template_id: Uuid) -> DomainResult<Template> {
    super::services::get_service(store, service_id)?;
    store
        .read()?
        .get_template(template_id)?
        .filter(|t| t.service_id == service_id)
        .ok_or_else(|| DomainError::not_found(template_not_found(service_id, template_id)))
}

/// One version of one of the service's templates.
pub fn get_template_version(
    store: &Store,
    service_id: Uuid,
    template_id: Uuid,
    version: u32,
) -> DomainResult<Template> {
    get_template(store, service_id, template_id)?;
    store
        .read()?
        .get_template_version(template_id, version)?
        .ok_or_else(|| {
            DomainError::not_found(format!("Template {template_id} has no version {version}"))
        })
}

/// Every version of one of the service's templates, newest first.
pub fn template_versions(
    store: &Store,
    service_id: Uuid,
    template_id: Uuid,
) -> DomainResult<Vec<Template>> {
    get_template(store, service_id, template_id)?;
    let mut versions = store.read()?.template_versions(template_id)?;
    versions.reverse();
    Ok(versions)
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
