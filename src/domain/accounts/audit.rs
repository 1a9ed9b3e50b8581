//! The audit trail: what people (and the operator, API keys, the appliance) did. A domain
//! function makes an [`Entry`] before its write and calls [`Entry::write`] inside it, so the
//! event is committed with the change it records or not at all. Listed per service and
//! platform-wide, newest first; removed only by its own retention (`audit.retention_days`,
//! the `delete-audit-events-older-than-retention` job).

use serde_json::{Value, json};
use storage::WriteCtx;
use storage::clock::format_api_timestamp;
use storage::records::AuditEvent;
use uuid::Uuid;

use super::actor::Actor;
use crate::domain::{Context, DomainResult, JobOutcome};

/// What happened, as the trail names it (stable: people filter and alert on these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ServiceCreated,
    ServiceUpdated,
    ServiceArchived,
    GuestListChanged,
    SenderAdded,
    SenderChanged,
    SenderArchived,
    ApiKeyCreated,
    ApiKeyRevoked,
    TemplateCreated,
    TemplateChanged,
    TemplateArchived,
    NotificationSent,
    JobSent,
    JobCancelled,
    ContactListSaved,
    ContactListDeleted,
    LetterCancelled,
    CallbackChanged,
    CallbackRemoved,
    DataRetentionChanged,
    MemberAdded,
    MemberRemoved,
    PermissionsChanged,
    InvitationSent,
    InvitationCancelled,
    InvitationAccepted,
    UserCreated,
    UserUpdated,
    UserLocked,
    UserUnlocked,
    UserArchived,
    SecondFactorReset,
    SecondFactorChanged,
    PasswordChanged,
    PasswordResetRequested,
    SignedIn,
    SignInFailed,
    LockedOut,
    SignedOut,
    SignedOutEverywhere,
    ScheduledJobRun,
    PrintResponsesApplied,
    ReturnedLettersRecorded,
    ScanErrorsReplayed,
    IndexRebuilt,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        use Action::*;
        match self {
            ServiceCreated => "service.created",
            ServiceUpdated => "service.updated",
            ServiceArchived => "service.archived",
            GuestListChanged => "service.guest_list_changed",
            SenderAdded => "sender.added",
            SenderChanged => "sender.changed",
            SenderArchived => "sender.archived",
            ApiKeyCreated => "api_key.created",
            ApiKeyRevoked => "api_key.revoked",
            TemplateCreated => "template.created",
            TemplateChanged => "template.changed",
            TemplateArchived => "template.archived",
            NotificationSent => "notification.sent",
            JobSent => "job.sent",
            JobCancelled => "job.cancelled",
            ContactListSaved => "contact_list.saved",
            ContactListDeleted => "contact_list.deleted",
            LetterCancelled => "letter.cancelled",
            CallbackChanged => "callback.changed",
            CallbackRemoved => "callback.removed",
            DataRetentionChanged => "data_retention.changed",
            MemberAdded => "team.member_added",
            MemberRemoved => "team.member_removed",
            PermissionsChanged => "team.permissions_changed",
            InvitationSent => "invitation.sent",
            InvitationCancelled => "invitation.cancelled",
            InvitationAccepted => "invitation.accepted",
            UserCreated => "user.created",
            UserUpdated => "user.updated",
            UserLocked => "user.locked",
            UserUnlocked => "user.unlocked",
            UserArchived => "user.archived",
            SecondFactorReset => "user.second_factor_reset",
            SecondFactorChanged => "user.second_factor_changed",
            PasswordChanged => "user.password_changed",
            PasswordResetRequested => "user.password_reset_requested",
            SignedIn => "session.signed_in",
            SignInFailed => "session.sign_in_failed",
            LockedOut => "session.locked_out",
            SignedOut => "session.signed_out",
            SignedOutEverywhere => "session.signed_out_everywhere",
            ScheduledJobRun => "scheduler.job_run",
            PrintResponsesApplied => "letters.print_responses_applied",
            ReturnedLettersRecorded => "letters.returned_recorded",
            ScanErrorsReplayed => "letters.scan_errors_replayed",
            IndexRebuilt => "index.rebuilt",
        }
    }
}

/// An event on its way into the trail: everything but its id and time, which the write that
/// carries it gives (so the event sorts with the commit that made the change).
#[derive(Debug, Clone)]
pub struct Entry {
    action: Action,
    actor_kind: &'static str,
    actor_id: Option<Uuid>,
    actor_name: String,
    address: Option<String>,
    service_id: Option<Uuid>,
    subject_id: Option<String>,
    details: Value,
}

impl Entry {
    pub fn new(actor: &Actor, action: Action) -> Entry {
        Entry {
            action,
            actor_kind: actor.kind(),
            actor_id: actor.id(),
            actor_name: actor.name(),
            address: actor.address.map(|a| a.to_string()),
            service_id: None,
            subject_id: None,
            details: json!({}),
        }
    }

    /// The same entry, recording another action (decided inside the write).
    pub fn action(mut self, action: Action) -> Entry {
        self.action = action;
        self
    }

    pub fn service(mut self, id: Uuid) -> Entry {
        self.service_id = Some(id);
        self
    }

    pub fn subject(mut self, id: impl ToString) -> Entry {
        self.subject_id = Some(id.to_string());
        self
    }

    /// More about it (never personal data beyond names and email addresses of team members,
    /// never secrets).
    pub fn details(mut self, details: Value) -> Entry {
        self.details = details;
        self
    }

    /// The service this entry concerns, once it is known inside the write.
    pub fn set_service(&mut self, id: Uuid) {
        self.service_id = Some(id);
    }

    pub fn set_subject(&mut self, id: impl ToString) {
        self.subject_id = Some(id.to_string());
    }

    /// Append it, in the write that makes the change.
    pub fn write(&self, ctx: &mut WriteCtx<'_>) -> storage::Result<()> {
        ctx.append_audit_event(&AuditEvent {
            id: ctx.new_id(),
            created_at: ctx.now_micros(),
            actor_kind: self.actor_kind.to_string(),
            actor_id: self.actor_id,
            actor_name: self.actor_name.clone(),
            action: self.action.as_str().to_string(),
            service_id: self.service_id,
            subject_id: self.subject_id.clone(),
            address: self.address.clone(),
            details: self.details.to_string(),
        })
    }
}

/// Record an event on its own (for actions whose change is elsewhere, or which change nothing
/// stored: a failed sign-in, a run of a scheduled job).
pub async fn record(cx: &Context, entry: Entry) -> DomainResult<()> {
    cx.store.write(move |ctx| entry.write(ctx)).await?;
    Ok(())
}

/// Events newest first, older than `before` when given: one service's, or every event
/// (platform-wide) when `service_id` is `None`. At most 500 a page.
pub fn list(
    cx: &Context,
    service_id: Option<Uuid>,
    before: Option<Uuid>,
    limit: usize,
) -> DomainResult<Vec<AuditEvent>> {
    Ok(cx
        .store
        .read()?
        .audit_events(service_id, before, limit.clamp(1, 500))?)
}

/// An event as the internal API shows it.
pub fn event_json(e: &AuditEvent) -> Value {
    json!({
        "id": e.id,
        "created_at": format_api_timestamp(e.created_at),
        "action": e.action,
        "actor": {"kind": e.actor_kind, "id": e.actor_id, "name": e.actor_name},
        "service_id": e.service_id,
        "subject_id": e.subject_id,
        "address": e.address,
        "details": serde_json::from_str::<Value>(&e.details).unwrap_or(Value::Null),
    })
}

/// Events removed a commit at a time by the retention job.
const PURGE_CHUNK: usize = 1000;

/// `delete-audit-events-older-than-retention`: remove events older than `audit.retention_days`.
pub async fn delete_events_older_than_retention(cx: &Context) -> JobOutcome {
    let days = i64::from(cx.config.audit.retention_days);
    let cutoff_ms = cx.clock().now().timestamp_millis() - days * 86_400_000;
    let floor = storage::v7_floor(cutoff_ms);
    let mut removed = 0usize;
    loop {
        let n = cx
            .store
            .write_deferred(move |ctx| ctx.purge_audit_events_before(floor, PURGE_CHUNK))
            .await?;
        removed += n;
        if n < PURGE_CHUNK {
            break;
        }
    }
    Ok(format!(
        "removed {removed} audit events older than {days} days"
    ))
}
