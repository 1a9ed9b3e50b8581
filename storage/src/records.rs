//! Plain stored records. They hold data, not rules: validation and lifecycle live in the server's
//! `domain` module. Timestamps are microseconds since the Unix epoch (UTC) so the API's six
//! fractional digits round-trip exactly.
//!
//! Records are encoded field by field with no names ([`crate::codec`]): changing a stored
//! struct's fields needs a migration step that rewrites its table, with the old struct kept in
//! a `records::v<N>` module to decode the old rows (see [`crate::migrations`]).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub type Micros = i64;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// The three channels.
    NotificationType { Email => "email", Sms => "sms", Letter => "letter" }
);

string_enum!(
    /// `normal` is called "live" in the docs; `team` is "team and guest list".
    KeyType { Normal => "normal", Team => "team", Test => "test" }
);

string_enum!(
    /// Every status a notification can hold (internal names; the v2 API maps some for letters).
    NotificationStatus {
        Created => "created",
        Sending => "sending",
        Pending => "pending",
        Sent => "sent",
        Delivered => "delivered",
        PermanentFailure => "permanent-failure",
        TemporaryFailure => "temporary-failure",
        TechnicalFailure => "technical-failure",
        PendingVirusCheck => "pending-virus-check",
        VirusScanFailed => "virus-scan-failed",
        ValidationFailed => "validation-failed",
        Cancelled => "cancelled",
        ReturnedLetter => "returned-letter",
    }
);

impl NotificationStatus {
    /// Final statuses: nothing moves a notification out of them (except a returned letter).
    pub fn is_final(self) -> bool {
        use NotificationStatus::*;
        matches!(
            self,
            Delivered
                | PermanentFailure
                | TemporaryFailure
                | TechnicalFailure
                | VirusScanFailed
                | ValidationFailed
                | Cancelled
                | ReturnedLetter
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub id: Uuid,
    pub name: String,
    /// False once archived: its keys stop working.
    pub active: bool,
    /// Trial mode: only team members and the guest list receive messages.
    pub restricted: bool,
    /// Requests per minute per key type.
    pub rate_limit: u32,
    pub email_message_limit: u64,
    pub sms_message_limit: u64,
    pub letter_message_limit: u64,
    pub international_sms_message_limit: u64,
    /// `email`, `sms`, `letter`, `international_sms`, `international_letters`, ...
    pub permissions: Vec<String>,
    pub email_sender_local_part: String,
    pub prefix_sms: bool,
    pub contact_link: Option<String>,
    pub email_reply_to: Vec<ReplyTo>,
    pub sms_senders: Vec<SmsSender>,
    pub letter_contacts: Vec<LetterContact>,
    /// Guest list: email addresses and phone numbers (normalised) allowed in trial/team mode.
    pub guest_list: Vec<String>,
    pub created_at: Micros,
    pub updated_at: Option<Micros>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyTo {
    pub id: Uuid,
    pub email_address: String,
    pub is_default: bool,
    pub archived: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmsSender {
    pub id: Uuid,
    pub sms_sender: String,
    pub is_default: bool,
    pub archived: bool,
    pub inbound_number: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LetterContact {
    pub id: Uuid,
    pub contact_block: String,
    pub is_default: bool,
    pub archived: bool,
}

string_enum!(
    /// Where an account stands. `pending`: created, no password chosen yet (a first
    /// administrator made by the CLI, say); `active`: may sign in; `locked`: too many failed
    /// attempts, or locked by an administrator (a password reset or `notify user unlock` opens
    /// it again); `archived`: gone for good (removed from every service, cannot sign in).
    UserState { Pending => "pending", Active => "active", Locked => "locked", Archived => "archived" }
);

string_enum!(
    /// How a person proves the second factor at sign-in: a code by text message, a link by
    /// email (upstream's `sms_auth`, `email_auth`), or an authenticator app (TOTP).
    AuthType { Sms => "sms_auth", Email => "email_auth", Totp => "totp_auth" }
);

string_enum!(
    /// What a team member may do in one service (the admin app's names). Platform admins may
    /// do everything, and members may always see the service itself.
    Permission {
        ViewActivity => "view_activity",
        SendMessages => "send_messages",
        ManageTemplates => "manage_templates",
        ManageService => "manage_service",
        ManageApiKeys => "manage_api_keys",
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub name: String,
    pub email_address: String,
    pub mobile_number: Option<String>,
    pub created_at: Micros,
    pub state: UserState,
    pub platform_admin: bool,
    pub auth_type: AuthType,
    /// The password as an Argon2id PHC string; `None` until the person chooses one.
    pub password_hash: Option<String>,
    pub password_changed_at: Option<Micros>,
    /// Failed passwords and codes since the last successful sign-in.
    pub failed_login_count: u32,
    /// The authenticator app's secret, sealed with the appliance's encryption key; `None`
    /// until the person enrols one.
    pub totp_secret_sealed: Option<Vec<u8>>,
    /// The last 30-second step whose authenticator code was accepted: a code works once.
    pub totp_last_step: Option<u64>,
    pub logged_in_at: Option<Micros>,
    pub updated_at: Option<Micros>,
}

/// Records as older schema versions wrote them: only decoded, by migration steps.
pub mod v1 {
    use serde::{Deserialize, Serialize};
    use uuid::Uuid;

    use super::Micros;

    /// A user as version 1 stored it (a team member for trial mode, nothing to sign in with).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct User {
        pub id: Uuid,
        pub name: String,
        pub email_address: String,
        pub mobile_number: Option<String>,
        pub created_at: Micros,
    }
}

/// What one team member may do in one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    pub service_id: Uuid,
    pub user_id: Uuid,
    pub permissions: Vec<Permission>,
    pub created_at: Micros,
}

/// A signed-in browser (or one half way through signing in). Stored under a hash of its id:
/// the id itself is only ever in the person's cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub user_id: Uuid,
    /// How the second factor was proved; `None` while the person has passed only the password
    /// (such a session opens nothing but the second-factor pages).
    pub second_factor: Option<String>,
    pub created_at: Micros,
    /// Last request seen (kept to the minute: the idle timeout's clock).
    pub last_seen_at: Micros,
    /// The token every form of this session must post back.
    pub csrf_token: String,
    /// Where the person came from, for the sign-in audit event and "signed in elsewhere".
    pub address: Option<String>,
}

string_enum!(
    /// A code sent for the second factor: by text message or by email.
    CodeKind { Sms => "sms", Email => "email" }
);

/// A second-factor code sent to a person; only a hash of the code is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyCode {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: CodeKind,
    /// SHA-256 of the code salted with the id.
    pub code_hash: Vec<u8>,
    pub created_at: Micros,
    pub expires_at: Micros,
    pub used: bool,
}

string_enum!(
    /// What a single-use link does: finish signing in by email, choose a new password, or a
    /// first sign-in link printed by `notify user create`.
    LinkPurpose { EmailSignIn => "email-sign-in", PasswordReset => "password-reset", FirstSignIn => "first-sign-in" }
);

/// A single-use link sent to (or printed for) a person; stored under a hash of its token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkToken {
    pub purpose: LinkPurpose,
    pub user_id: Uuid,
    pub created_at: Micros,
    pub expires_at: Micros,
    pub used_at: Option<Micros>,
}

/// Single sign-on (OpenID Connect) state kept between our redirect to the identity provider
/// and its redirect back, stored under a SHA-256 (see `sso`). Short-lived and single use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SsoRecord {
    /// A sign-in sent to the identity provider, under the hash of its `state`: the ID token's
    /// expected nonce and the PKCE verifier the code exchange needs.
    Attempt {
        nonce: String,
        pkce_verifier: String,
        expires_at: Micros,
    },
    /// A pending session (our second factor still to come) that a sign-in through the
    /// identity provider started, under the session's hash: the sign-in is audited as SSO.
    PendingSession {
        provider: String,
        expires_at: Micros,
    },
}

impl SsoRecord {
    pub fn expires_at(&self) -> Micros {
        match self {
            SsoRecord::Attempt { expires_at, .. }
            | SsoRecord::PendingSession { expires_at, .. } => *expires_at,
        }
    }
}

string_enum!(
    InvitationStatus { Pending => "pending", Accepted => "accepted", Cancelled => "cancelled" }
);

/// An invitation to join a service with the permissions the inviter chose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: Uuid,
    pub service_id: Uuid,
    pub email_address: String,
    /// Who invited: a user id, or the operator's id.
    pub from_user: Uuid,
    pub permissions: Vec<Permission>,
    pub auth_type: AuthType,
    pub status: InvitationStatus,
    pub created_at: Micros,
    pub expires_at: Micros,
    /// SHA-256 of the link's token.
    pub token_hash: Vec<u8>,
}

/// One entry of the audit trail: who did what, to which service, when, from where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// uuid v7: the events' order.
    pub id: Uuid,
    pub created_at: Micros,
    /// `user`, `operator`, `api_key` or `system`.
    pub actor_kind: String,
    /// The user's or API key's id (the operator's stable id for the operator).
    pub actor_id: Option<Uuid>,
    /// The actor's name when the event was written (a person's name, a key's name).
    pub actor_name: String,
    /// What happened, e.g. `api_key.created`, `user.signed_in`, `sign_in.failed`.
    pub action: String,
    pub service_id: Option<Uuid>,
    /// What it happened to (a key id, a template id, a user id...).
    pub subject_id: Option<String>,
    /// Where the request came from.
    pub address: Option<String>,
    /// More about it, as a JSON object.
    pub details: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub service_id: Uuid,
    pub name: String,
    pub key_type: KeyType,
    /// The secret, sealed with the appliance's encryption key (never stored in clear).
    pub secret_sealed: Vec<u8>,
    pub created_at: Micros,
    /// Set when revoked.
    pub expiry_date: Option<Micros>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub id: Uuid,
    pub service_id: Uuid,
    pub name: String,
    pub template_type: NotificationType,
    pub subject: Option<String>,
    pub content: String,
    pub version: u32,
    pub archived: bool,
    pub hidden: bool,
    /// Letters: `first`, `second`, `economy`, `europe`, `rest-of-world`.
    pub postage: Option<String>,
    pub letter_contact_id: Option<Uuid>,
    pub created_at: Micros,
    pub updated_at: Option<Micros>,
    pub created_by: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: Uuid,
    pub service_id: Uuid,
    pub notification_type: NotificationType,
    pub template_id: Uuid,
    pub template_version: u32,
    pub api_key_id: Option<Uuid>,
    pub key_type: KeyType,
    pub status: NotificationStatus,
    /// The recipient as given (email address, phone number, or first address line).
    pub to: String,
    /// Lower-cased email or digits-only phone: what search and guest lists compare.
    pub normalised_to: String,
    /// Personalisation as a JSON object string.
    pub personalisation: String,
    /// The rendered body and subject as accepted (what the API returns and providers send).
    pub body: String,
    pub subject: Option<String>,
    pub client_reference: Option<String>,
    pub job_id: Option<Uuid>,
    pub job_row_number: Option<u32>,
    pub reply_to_text: Option<String>,
    pub one_click_unsubscribe_url: Option<String>,
    pub postage: Option<String>,
    pub international: bool,
    pub billable_units: u32,
    pub sent_by: Option<String>,
    pub created_at: Micros,
    pub sent_at: Option<Micros>,
    pub updated_at: Option<Micros>,
    pub created_by_name: Option<String>,
    /// Free-form failure detail (e.g. a letter validation code), never shown to recipients.
    pub status_reason: Option<String>,
}

/// What survives retention: the notification without personal data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationHistory {
    pub id: Uuid,
    pub service_id: Uuid,
    pub notification_type: NotificationType,
    pub template_id: Uuid,
    pub template_version: u32,
    pub api_key_id: Option<Uuid>,
    pub key_type: KeyType,
    pub status: NotificationStatus,
    pub client_reference: Option<String>,
    pub job_id: Option<Uuid>,
    pub job_row_number: Option<u32>,
    pub postage: Option<String>,
    pub international: bool,
    pub billable_units: u32,
    pub sent_by: Option<String>,
    pub created_at: Micros,
    pub sent_at: Option<Micros>,
    pub updated_at: Option<Micros>,
}

impl From<&Notification> for NotificationHistory {
    fn from(n: &Notification) -> Self {
        NotificationHistory {
            id: n.id,
            service_id: n.service_id,
            notification_type: n.notification_type,
            template_id: n.template_id,
            template_version: n.template_version,
            api_key_id: n.api_key_id,
            key_type: n.key_type,
            status: n.status,
            client_reference: n.client_reference.clone(),
            job_id: n.job_id,
            job_row_number: n.job_row_number,
            postage: n.postage.clone(),
            international: n.international,
            billable_units: n.billable_units,
            sent_by: n.sent_by.clone(),
            created_at: n.created_at,
            sent_at: n.sent_at,
            updated_at: n.updated_at,
        }
    }
}

string_enum!(
    JobStatus {
        Pending => "pending",
        Scheduled => "scheduled",
        InProgress => "in progress",
        Finished => "finished",
        Cancelled => "cancelled",
        SendingLimitsExceeded => "sending limits exceeded",
        Error => "error",
        FinishedAllNotificationsCreated => "finished all notifications created",
        ReadyToSend => "ready to send",
        SentToDvla => "sent to dvla",
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: Uuid,
    pub service_id: Uuid,
    pub template_id: Uuid,
    pub template_version: u32,
    pub original_file_name: String,
    /// Object-store key of the uploaded sheet.
    pub file_key: String,
    pub notification_count: u32,
    /// Rows processed so far (each is a notification, or skipped for a trial-mode service);
    /// processing resumes from here after a crash.
    pub notifications_sent: u32,
    pub status: JobStatus,
    pub scheduled_for: Option<Micros>,
    pub contact_list_id: Option<Uuid>,
    pub created_at: Micros,
    pub processing_started: Option<Micros>,
    pub processing_finished: Option<Micros>,
    pub archived: bool,
    /// The SMS sender or email reply-to chosen for the job (else the service's default).
    pub sender_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
}

/// A saved sheet of recipients (workers.md §8.1) that jobs can be sent from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactList {
    pub id: Uuid,
    pub service_id: Uuid,
    pub original_file_name: String,
    pub row_count: u32,
    /// `email` or `sms`: the recipient column the sheet holds.
    pub template_type: NotificationType,
    /// Object-store key of the sheet.
    pub file_key: String,
    pub created_by: Option<Uuid>,
    pub created_at: Micros,
    pub archived: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundSms {
    pub id: Uuid,
    pub service_id: Uuid,
    pub user_number: String,
    pub notify_number: String,
    pub content: String,
    pub provider: String,
    pub provider_reference: Option<String>,
    pub provider_date: Option<Micros>,
    pub created_at: Micros,
}

string_enum!(
    CallbackKind {
        DeliveryStatus => "delivery_status",
        Complaint => "complaint",
        InboundSms => "inbound_sms",
        ReturnedLetter => "returned_letter",
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceCallback {
    pub id: Uuid,
    pub service_id: Uuid,
    pub kind: CallbackKind,
    pub url: String,
    /// Sealed like API key secrets.
    pub bearer_token_sealed: Vec<u8>,
    pub created_at: Micros,
    pub updated_at: Option<Micros>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LetterBatch {
    pub id: Uuid,
    /// The zip's file name (stable for a re-run of the same letters).
    pub zip_name: String,
    pub postage: String,
    pub notification_ids: Vec<Uuid>,
    pub size_bytes: u64,
    pub created_at: Micros,
    /// Set once the printer has confirmed the upload (the `zips_sent` marker).
    pub sent_at: Option<Micros>,
    pub attempts: u32,
}

/// One row of the daily billing facts (§6.2 of workers.md): what a service sent on one London
/// day with one template at one price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BillingFact {
    /// London-local date as days since 1970-01-01.
    pub bst_date: i32,
    pub service_id: Uuid,
    pub template_id: Uuid,
    pub notification_type: NotificationType,
    /// Who sent them: the provider for texts and emails, `dvla` for letters.
    pub provider: String,
    /// International price multiplier of texts (1 in the UK); 0 for email.
    pub rate_multiplier: u32,
    pub international: bool,
    /// `first`, `second`, `economy`, `europe`, `rest-of-world`, or `none` for texts and email.
    pub postage: String,
    /// Price in pounds: per text fragment, or per letter of this many sheets and postage.
    pub rate: f64,
    /// Text fragments, or sheets of paper; 0 for email.
    pub billable_units: u64,
    pub notifications_sent: u64,
}

/// One row of the daily status facts (§6.3 of workers.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusFact {
    pub bst_date: i32,
    pub service_id: Uuid,
    pub template_id: Uuid,
    pub job_id: Option<Uuid>,
    pub notification_type: NotificationType,
    pub key_type: KeyType,
    pub status: NotificationStatus,
    pub count: u64,
}

/// A message kept by the local outbox sink instead of being sent: exactly what a provider would
/// have received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub notification_id: Uuid,
    pub service_id: Uuid,
    pub notification_type: NotificationType,
    pub to: String,
    /// `"Name" <address>` for email, the sender name or number for text messages.
    pub from: String,
    pub reply_to: Option<String>,
    pub subject: Option<String>,
    /// The plain-text body (email) or the message as sent (text).
    pub body: String,
    pub html: Option<String>,
    pub unsubscribe_url: Option<String>,
    pub created_at: Micros,
}

/// A recipient reported an email as spam (through a provider's complaint notification).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Complaint {
    pub id: Uuid,
    pub notification_id: Uuid,
    pub service_id: Uuid,
    /// E.g. `abuse`, as the provider reported it.
    pub complaint_type: Option<String>,
    pub complaint_date: Option<Micros>,
    pub created_at: Micros,
}

/// The run state of one scheduled job, kept so a restart can tell what it missed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SchedulerRun {
    pub name: String,
    /// The latest schedule slot handled (run, or folded into a catch-up run).
    pub last_due: Option<Micros>,
    pub last_started: Option<Micros>,
    pub last_finished: Option<Micros>,
    /// True from start to finish: still true after a restart means the run was interrupted.
    pub running: bool,
    /// `ok`, `failed` or `interrupted`.
    pub last_outcome: Option<String>,
    /// What the run reported (counts) or why it failed.
    pub last_message: Option<String>,
    pub runs: u64,
    pub failures: u64,
}

/// A service's retention for one notification type (`days_of_retention` whole London days).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataRetention {
    pub id: Uuid,
    pub service_id: Uuid,
    pub notification_type: NotificationType,
    pub days_of_retention: u32,
    pub created_at: Micros,
    pub updated_at: Option<Micros>,
}

/// What is kept of a received text after retention: no content, no sender number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundSmsHistory {
    pub id: Uuid,
    pub service_id: Uuid,
    pub notify_number: String,
    pub provider: String,
    pub provider_reference: Option<String>,
    pub provider_date: Option<Micros>,
    pub created_at: Micros,
}

impl From<&InboundSms> for InboundSmsHistory {
    fn from(m: &InboundSms) -> Self {
        InboundSmsHistory {
            id: m.id,
            service_id: m.service_id,
            notify_number: m.notify_number.clone(),
            provider: m.provider.clone(),
            provider_reference: m.provider_reference.clone(),
            provider_date: m.provider_date,
            created_at: m.created_at,
        }
    }
}

/// How many API messages of a London day were sent within 10 seconds of acceptance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessingTimeFact {
    pub bst_date: i32,
    pub messages_total: u64,
    pub messages_within_10_secs: u64,
}

/// A letter the printer reported as returned to sender (undeliverable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnedLetter {
    pub notification_id: Uuid,
    pub service_id: Uuid,
    /// When the return was reported to us (the first report, if it came more than once).
    pub reported_at: Micros,
}

/// A response file from the printer, as applied (each file name is applied once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrintResponseFile {
    pub name: String,
    pub processed_at: Micros,
    /// The London date of the file's timestamp (days since 1970-01-01): its billing day.
    pub billing_day: i32,
    pub lines: u32,
    pub delivered: u32,
    /// References of letters the printer reported as not sent.
    pub failed: Vec<String>,
    /// References that name no letter we know.
    pub unknown: Vec<String>,
    pub sorted: u32,
    pub unsorted: u32,
}

/// Something an operator must look at (a failed job, letters the printer has not confirmed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: Uuid,
    /// A stable name for the kind of problem, e.g. `letters-still-sending`.
    pub kind: String,
    pub message: String,
    /// Supporting detail: references, counts, service ids.
    pub details: Vec<String>,
    pub created_at: Micros,
}

/// A number people can text a service on (upstream's `inbound_numbers`): in the pool until it
/// is assigned to a service; `active` false once switched off (or archived with its service).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundNumber {
    pub id: Uuid,
    /// As the provider gives it, e.g. `07700900500` (unique in the pool).
    pub number: String,
    /// Which provider receives texts for it, e.g. `mmg`.
    pub provider: String,
    pub service_id: Option<Uuid>,
    pub active: bool,
    pub created_at: Micros,
    pub updated_at: Option<Micros>,
}

/// A recipient asked to stop getting a service's emails, through the one-click unsubscribe
/// link the appliance put in an email's `List-Unsubscribe` header (RFC 8058).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnsubscribeRequest {
    pub id: Uuid,
    pub service_id: Uuid,
    pub notification_id: Uuid,
    pub template_id: Uuid,
    pub template_version: u32,
    /// The address the email was sent to (personal data: removed with the request).
    pub email_address: String,
    pub created_at: Micros,
    /// The report it was batched into, once the service made one.
    pub report_id: Option<Uuid>,
}

/// A batch of a service's unsubscribe requests it downloads and marks processed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnsubscribeRequestReport {
    pub id: Uuid,
    pub service_id: Uuid,
    pub created_at: Micros,
    /// The oldest and newest request in the batch.
    pub earliest_timestamp: Micros,
    pub latest_timestamp: Micros,
    pub processed_by_service_at: Option<Micros>,
    pub count: u64,
}

/// A text-message provider's share of traffic as last set (by switching, drift or a person),
/// so it survives a restart. One row per configured provider name, plus its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmsProviderShare {
    pub name: String,
    /// 0–100.
    pub priority: u32,
    /// False: the provider gets no traffic.
    pub active: bool,
    /// One more for every change (the history's key).
    pub version: u32,
    pub reason: Option<String>,
    pub updated_at: Micros,
    /// The person who made a change by hand; `None` for the appliance's own switching.
    pub updated_by: Option<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode};

    #[test]
    fn string_enums_round_trip_their_wire_names() {
        for s in NotificationStatus::ALL {
            assert_eq!(NotificationStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(
            NotificationStatus::parse("pending-virus-check"),
            Some(NotificationStatus::PendingVirusCheck)
        );
        assert_eq!(JobStatus::parse("in progress"), Some(JobStatus::InProgress));
        assert_eq!(KeyType::parse("live"), None);
    }

    #[test]
    fn every_record_kind_encodes_and_decodes() {
        let id = Uuid::now_v7();
        let n = Notification {
            id,
            service_id: Uuid::new_v4(),
            notification_type: NotificationType::Sms,
            template_id: Uuid::new_v4(),
            template_version: 3,
            api_key_id: None,
            key_type: KeyType::Team,
            status: NotificationStatus::Created,
            to: "07700 900123".into(),
            normalised_to: "447700900123".into(),
            personalisation: "{\"name\":\"Ann\"}".into(),
            body: "Hello Ann".into(),
            subject: None,
            client_reference: Some("ref".into()),
            job_id: None,
            job_row_number: Some(4),
            reply_to_text: None,
            one_click_unsubscribe_url: None,
            postage: None,
            international: false,
            billable_units: 1,
            sent_by: None,
            created_at: 1,
            sent_at: None,
            updated_at: None,
            created_by_name: None,
            status_reason: None,
        };
        assert_eq!(decode::<Notification>(&encode(&n)).unwrap(), n);
        let h = NotificationHistory::from(&n);
        assert_eq!(decode::<NotificationHistory>(&encode(&h)).unwrap(), h);
        let b = LetterBatch {
            id,
            zip_name: "NOTIFY.2026-11-22.001.ZIP".into(),
            postage: "second".into(),
            notification_ids: vec![id],
            size_bytes: 10,
            created_at: 5,
            sent_at: None,
            attempts: 0,
        };
        assert_eq!(decode::<LetterBatch>(&encode(&b)).unwrap(), b);
    }
}
