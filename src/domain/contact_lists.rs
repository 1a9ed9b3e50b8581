//! Saved contact lists (workers.md §8.1): a sheet of email addresses or phone numbers a service
//! keeps (an emergency contact list) and sends jobs from. The sheet is checked for its
//! recipient column when saved; a job sent from it is checked again against its template.
//! Deleting a list archives it and removes its file; jobs already sent from it keep their own
//! copy of the sheet.

use bytes::Bytes;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use storage::records::{ContactList, NotificationType, Template};
use uuid::Uuid;

use super::accounts::actor::Actor;
use super::accounts::audit::{Action, Entry};
use super::recipient_sheet::{self, Allowed, RowError};
use super::{DomainError, DomainResult};
use crate::domain::Context;

/// Where a contact list's sheet is kept.
pub fn list_key(service_id: Uuid, id: Uuid) -> String {
    format!("service-{service_id}-contact-list/{id}.csv")
}

/// A contact list to save.
#[derive(Debug, Clone)]
pub struct NewContactList {
    pub original_file_name: String,
    pub template_type: NotificationType,
    pub created_by: Option<Uuid>,
}

/// A saved list, or the rows that stopped it being saved.
pub enum Saved {
    List(ContactList),
    Invalid(Vec<RowError>),
}

/// A template that asks only for the recipient, to check a list's sheet with.
fn recipient_only_template(service_id: Uuid, kind: NotificationType) -> Template {
    Template {
        id: Uuid::nil(),
        service_id,
        name: "contact list".into(),
        template_type: kind,
        subject: (kind == NotificationType::Email).then(|| "contact list".to_string()),
        content: "contact list".into(),
        version: 1,
        archived: false,
        hidden: true,
        postage: None,
        letter_contact_id: None,
        created_at: 0,
        updated_at: None,
        created_by: None,
    }
}

/// Check and save a contact list (audited: `contact_list.saved`).
pub async fn save(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    new: NewContactList,
    body: Bytes,
) -> DomainResult<Saved> {
    let service = super::services::get_service(&cx.store, service_id)?;
    if new.template_type == NotificationType::Letter {
        return Err(DomainError::invalid(
            "A contact list holds email addresses or phone numbers, not postal addresses".into(),
        ));
    }
    let body = super::jobs::as_csv(&new.original_file_name, body).await?;
    let template = recipient_only_template(service_id, new.template_type);
    let allowed = Allowed {
        international_sms: service.permissions.iter().any(|p| p == "international_sms"),
        international_letters: false,
    };
    let checked = {
        let body = body.clone();
        tokio::task::spawn_blocking(move || recipient_sheet::check_csv(&body, &template, allowed))
            .await
            .map_err(|e| DomainError::invalid(e.to_string()))?
            .map_err(|e| DomainError::invalid(e.to_string()))?
    };
    if !checked.is_valid() {
        return Ok(Saved::Invalid(checked.errors));
    }
    let id = Uuid::new_v4();
    let list = ContactList {
        id,
        service_id,
        original_file_name: new.original_file_name,
        row_count: checked.rows.len() as u32,
        template_type: new.template_type,
        file_key: list_key(service_id, id),
        created_by: new.created_by,
        created_at: cx.store.clock().now_micros(),
        archived: false,
    };
    cx.blobs
        .put(&Path::from(list.file_key.as_str()), body.into())
        .await?;
    let stored = list.clone();
    let entry = Entry::new(actor, Action::ContactListSaved)
        .service(service_id)
        .subject(id)
        .details(serde_json::json!({
            "original_file_name": list.original_file_name,
            "template_type": list.template_type.as_str(),
            "row_count": list.row_count,
        }));
    cx.store
        .write(move |ctx| {
            ctx.put_contact_list(&stored)?;
            entry.write(ctx)
        })
        .await?;
    tracing::info!(contact_list_id = %id, %service_id, rows = list.row_count, "contact list saved");
    Ok(Saved::List(list))
}

/// A live (not deleted) list of the service.
pub fn get(cx: &Context, service_id: Uuid, id: Uuid) -> DomainResult<ContactList> {
    cx.store
        .read()?
        .get_contact_list(id)?
        .filter(|l| l.service_id == service_id && !l.archived)
        .ok_or_else(|| DomainError::not_found("No result found".into()))
}

/// The service's live lists, newest first.
pub fn list(cx: &Context, service_id: Uuid) -> DomainResult<Vec<ContactList>> {
    super::services::get_service(&cx.store, service_id)?;
    let mut lists: Vec<ContactList> = cx
        .store
        .read()?
        .service_contact_lists(service_id)?
        .into_iter()
        .filter(|l| !l.archived)
        .collect();
    lists.sort_by_key(|l| std::cmp::Reverse(l.created_at));
    Ok(lists)
}

/// Delete a list: its file goes, the record stays archived so jobs sent from it still name it
/// (audited: `contact_list.deleted`).
pub async fn delete(cx: &Context, actor: &Actor, service_id: Uuid, id: Uuid) -> DomainResult<()> {
    let list = get(cx, service_id, id)?;
    let entry = Entry::new(actor, Action::ContactListDeleted)
        .service(service_id)
        .subject(id)
        .details(serde_json::json!({"original_file_name": list.original_file_name}));
    match cx.blobs.delete(&Path::from(list.file_key.as_str())).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    cx.store
        .write(move |ctx| {
            if let Some(mut list) = ctx.get_contact_list(id)? {
                list.archived = true;
                ctx.put_contact_list(&list)?;
            }
            entry.write(ctx)
        })
        .await?;
    tracing::info!(contact_list_id = %id, %service_id, "contact list deleted");
    Ok(())
}
