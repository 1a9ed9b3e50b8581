//! Every redb table, declared in one place and named `<key>_<value>`.
//!
//! Keys that grow fast are time-ordered (uuid v7 as `u128`, or a sequence), so a group commit
//! dirties a few pages at the right-hand edge of each tree instead of one random page per insert.
//! Values are records encoded by [`crate::codec`].

use redb::{ReadTransaction, ReadableDatabase, TableDefinition, WriteTransaction};

use crate::error::Result;

type Bytes = &'static [u8];

/// The stored layout's version: one more than the number of migration steps
/// ([`crate::migrations`]), which bring an older store up to it when it is opened.
pub const SCHEMA_VERSION: u32 = crate::migrations::SCHEMA_VERSION;

pub const META: TableDefinition<&str, Bytes> = TableDefinition::new("meta_str_bytes");
pub const SERVICES: TableDefinition<u128, Bytes> = TableDefinition::new("service_id_service");
pub const USERS: TableDefinition<u128, Bytes> = TableDefinition::new("user_id_user");
/// (service id, user id): team membership.
pub const SERVICE_USERS: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("service_user_unit");
pub const API_KEYS: TableDefinition<u128, Bytes> = TableDefinition::new("api_key_id_api_key");
pub const SERVICE_API_KEYS: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("service_api_key_unit");
/// The current version of each template.
pub const TEMPLATES: TableDefinition<u128, Bytes> = TableDefinition::new("template_id_template");
/// Every version of each template, (template id, version).
pub const TEMPLATE_VERSIONS: TableDefinition<(u128, u32), Bytes> =
    TableDefinition::new("template_version_template");
pub const SERVICE_TEMPLATES: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("service_template_unit");
/// Live notifications by uuid v7 id (time-ordered).
pub const NOTIFICATIONS: TableDefinition<u128, Bytes> =
    TableDefinition::new("notification_id_notification");
/// (service id, notification id): a service's notifications, oldest to newest.
pub const SERVICE_NOTIFICATIONS: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("service_notification_unit");
pub const NOTIFICATION_HISTORY: TableDefinition<u128, Bytes> =
    TableDefinition::new("notification_id_history");
/// Live notifications per status, kept in the same transaction as every status change.
pub const STATUS_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("status_count");
/// (service id, UTC hour, type, key type, status) → how many of the service's notifications
/// created in that hour are in that status now ([`crate::hourly_counts`]).
pub const HOURLY_STATUS_COUNTS: TableDefinition<(u128, i64, &str, &str, &str), u64> =
    TableDefinition::new("service_hour_type_key_status_count");
/// Index outbox: sequence → notification id whose search document must be replaced or removed.
pub const INDEX_OUTBOX: TableDefinition<u64, u128> = TableDefinition::new("seq_notification_id");
/// Index outbox of new notifications: sequence → id of a notification just inserted, whose
/// document is added without first deleting an older one (there is none). Sequences are
/// store-wide, so the two outboxes merge into one order.
pub const INDEX_OUTBOX_NEW: TableDefinition<u64, u128> =
    TableDefinition::new("seq_new_notification_id");
/// Ready queue rows: (queue, due at ms, sequence) → queue item.
pub const QUEUE_READY: TableDefinition<(&str, i64, u64), Bytes> =
    TableDefinition::new("queue_due_seq_item");
/// Leased queue rows: (queue, sequence) → leased item (lease deadline + item).
pub const QUEUE_LEASED: TableDefinition<(&str, u64), Bytes> =
    TableDefinition::new("queue_seq_leased");
pub const JOBS: TableDefinition<u128, Bytes> = TableDefinition::new("job_id_job");
pub const SERVICE_JOBS: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("service_job_unit");
/// (job id, row number) → the notification made from that row: the key that makes processing
/// a row twice (a retry, a crash in the middle) a no-op, and a job's notifications in row order.
pub const JOB_ROWS: TableDefinition<(u128, u32), u128> =
    TableDefinition::new("job_row_notification");
pub const CONTACT_LISTS: TableDefinition<u128, Bytes> =
    TableDefinition::new("contact_list_id_contact_list");
pub const SERVICE_CONTACT_LISTS: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("service_contact_list");
pub const INBOUND_SMS: TableDefinition<u128, Bytes> = TableDefinition::new("inbound_id_inbound");
pub const SERVICE_INBOUND_SMS: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("service_inbound_unit");
/// (service id, callback kind) → callback settings.
pub const SERVICE_CALLBACKS: TableDefinition<(u128, &str), Bytes> =
    TableDefinition::new("service_kind_callback");
pub const LETTER_BATCHES: TableDefinition<u128, Bytes> = TableDefinition::new("batch_id_batch");
/// (London date as days since epoch, service id) → that day's billing facts for the service.
pub const BILLING_FACTS: TableDefinition<(i32, u128), Bytes> =
    TableDefinition::new("day_service_billing_facts");
/// (London date, service id) → that day's status facts for the service.
pub const STATUS_FACTS: TableDefinition<(i32, u128), Bytes> =
    TableDefinition::new("day_service_status_facts");

/// Messages kept by the local outbox sink: sequence → outbox message (newest last).
pub const OUTBOX_MESSAGES: TableDefinition<u64, Bytes> = TableDefinition::new("seq_outbox_message");
/// A provider's id for a sent message (e.g. the SES message id) → notification id.
pub const PROVIDER_REFERENCES: TableDefinition<&str, u128> =
    TableDefinition::new("provider_reference_notification_id");
/// Complaints (an email recipient marked a message as spam), by uuid v7 id.
pub const COMPLAINTS: TableDefinition<u128, Bytes> = TableDefinition::new("complaint_id_complaint");

/// Scheduled job name → its run state (last due slot, last start/finish/outcome).
pub const SCHEDULER_RUNS: TableDefinition<&str, Bytes> = TableDefinition::new("job_name_run_state");
/// Scheduled job name → the cron line its run state's last slot was counted on, so a schedule
/// changed in the config is noticed (kept apart from the run state, whose record shape is fixed).
pub const SCHEDULER_LINES: TableDefinition<&str, &str> = TableDefinition::new("job_name_cron_line");
/// (service id, notification type) → the service's data retention for that type.
pub const DATA_RETENTION: TableDefinition<(u128, &str), Bytes> =
    TableDefinition::new("service_type_data_retention");
/// Received texts past retention, without their content or sender, by uuid v7 id.
pub const INBOUND_SMS_HISTORY: TableDefinition<u128, Bytes> =
    TableDefinition::new("inbound_id_inbound_history");
/// London date (days since epoch) → that day's processing-time fact.
pub const PROCESSING_TIME_FACTS: TableDefinition<i32, Bytes> =
    TableDefinition::new("day_processing_time_fact");
/// Operator alerts by uuid v7 id (newest last).
pub const ALERTS: TableDefinition<u128, Bytes> = TableDefinition::new("alert_id_alert");
/// (service id, notification id) → a letter the printer reported as returned to sender.
pub const RETURNED_LETTERS: TableDefinition<(u128, u128), Bytes> =
    TableDefinition::new("service_notification_returned_letter");
/// Archived texts' international price multiplier (only where it is not 1): retention removes
/// the number it was worked out from, but billing facts are recomputed from history.
pub const HISTORY_RATE_MULTIPLIERS: TableDefinition<u128, u32> =
    TableDefinition::new("notification_id_rate_multiplier");
/// The printer's response file name → what it said (so a file is applied once).
pub const PRINT_RESPONSE_FILES: TableDefinition<&str, Bytes> =
    TableDefinition::new("file_name_print_response");

/// Checks that a stored value decodes as its table's record type (see [`visit_all`]).
pub type RecordCheck = fn(&[u8]) -> Result<()>;

fn decodes<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<()> {
    crate::codec::decode::<T>(bytes).map(|_| ())
}

/// Work done on every table in turn: a snapshot dump, a restore, a check. `record` is how the
/// table's values decode, for tables whose values are records.
pub trait TableVisitor {
    fn visit<K: redb::Key + 'static, V: redb::Value + 'static>(
        &mut self,
        table: TableDefinition<'static, K, V>,
        record: Option<RecordCheck>,
    ) -> Result<()>;
}

/// Visit every table, in one fixed order. **A new table is added here too**, or backups leave
/// it out: the snapshot refuses a store holding a table this list does not name, and a test
/// compares this list with the tables a new store creates.
pub fn visit_all(v: &mut impl TableVisitor) -> Result<()> {
    use crate::queue::{LeasedItem, QueueItem};
    use crate::records::*;
    v.visit(META, None)?;
    v.visit(SERVICES, Some(decodes::<Service>))?;
    v.visit(USERS, Some(decodes::<User>))?;
    v.visit(SERVICE_USERS, None)?;
    v.visit(API_KEYS, Some(decodes::<ApiKey>))?;
    v.visit(SERVICE_API_KEYS, None)?;
    v.visit(TEMPLATES, Some(decodes::<Template>))?;
    v.visit(TEMPLATE_VERSIONS, Some(decodes::<Template>))?;
    v.visit(SERVICE_TEMPLATES, None)?;
    v.visit(NOTIFICATIONS, Some(decodes::<Notification>))?;
    v.visit(SERVICE_NOTIFICATIONS, None)?;
    v.visit(NOTIFICATION_HISTORY, Some(decodes::<NotificationHistory>))?;
    v.visit(STATUS_COUNTS, None)?;
    v.visit(HOURLY_STATUS_COUNTS, None)?;
    v.visit(INDEX_OUTBOX, None)?;
    v.visit(INDEX_OUTBOX_NEW, None)?;
    v.visit(QUEUE_READY, Some(decodes::<QueueItem>))?;
    v.visit(QUEUE_LEASED, Some(decodes::<LeasedItem>))?;
    v.visit(JOBS, Some(decodes::<Job>))?;
    v.visit(SERVICE_JOBS, None)?;
    v.visit(JOB_ROWS, None)?;
    v.visit(CONTACT_LISTS, Some(decodes::<ContactList>))?;
    v.visit(SERVICE_CONTACT_LISTS, None)?;
    v.visit(INBOUND_SMS, Some(decodes::<InboundSms>))?;
    v.visit(SERVICE_INBOUND_SMS, None)?;
    v.visit(SERVICE_CALLBACKS, Some(decodes::<ServiceCallback>))?;
    v.visit(LETTER_BATCHES, Some(decodes::<LetterBatch>))?;
    v.visit(BILLING_FACTS, Some(decodes::<Vec<BillingFact>>))?;
    v.visit(STATUS_FACTS, Some(decodes::<Vec<StatusFact>>))?;
    v.visit(OUTBOX_MESSAGES, Some(decodes::<OutboxMessage>))?;
    v.visit(PROVIDER_REFERENCES, None)?;
    v.visit(COMPLAINTS, Some(decodes::<Complaint>))?;
    v.visit(SCHEDULER_RUNS, Some(decodes::<SchedulerRun>))?;
    v.visit(SCHEDULER_LINES, None)?;
    v.visit(DATA_RETENTION, Some(decodes::<DataRetention>))?;
    v.visit(INBOUND_SMS_HISTORY, Some(decodes::<InboundSmsHistory>))?;
    v.visit(PROCESSING_TIME_FACTS, Some(decodes::<ProcessingTimeFact>))?;
    v.visit(ALERTS, Some(decodes::<Alert>))?;
    v.visit(HISTORY_RATE_MULTIPLIERS, None)?;
    v.visit(RETURNED_LETTERS, Some(decodes::<ReturnedLetter>))?;
    v.visit(PRINT_RESPONSE_FILES, Some(decodes::<PrintResponseFile>))?;
    v.visit(INBOUND_NUMBERS, Some(decodes::<InboundNumber>))?;
    v.visit(INBOUND_NUMBER_IDS, None)?;
    v.visit(UNSUBSCRIBE_REQUESTS, Some(decodes::<UnsubscribeRequest>))?;
    v.visit(NOTIFICATION_UNSUBSCRIBE_REQUESTS, None)?;
    v.visit(
        UNSUBSCRIBE_REPORTS,
        Some(decodes::<UnsubscribeRequestReport>),
    )?;
    v.visit(TEMPLATE_UNSUBSCRIBE_LINKS, None)?;
    v.visit(SMS_PROVIDER_SHARES, Some(decodes::<SmsProviderShare>))?;
    v.visit(
        SMS_PROVIDER_SHARE_HISTORY,
        Some(decodes::<SmsProviderShare>),
    )?;
    v.visit(USER_SERVICES, Some(decodes::<Membership>))?;
    v.visit(SESSIONS, Some(decodes::<Session>))?;
    v.visit(USER_SESSIONS, None)?;
    v.visit(VERIFY_CODES, Some(decodes::<VerifyCode>))?;
    v.visit(LINK_TOKENS, Some(decodes::<LinkToken>))?;
    v.visit(SSO_STATES, Some(decodes::<SsoRecord>))?;
    v.visit(INVITATIONS, Some(decodes::<Invitation>))?;
    v.visit(SERVICE_INVITATIONS, None)?;
    v.visit(INVITATION_TOKENS, None)?;
    v.visit(AUDIT_EVENTS, Some(decodes::<AuditEvent>))?;
    v.visit(SERVICE_AUDIT_EVENTS, None)?;
    Ok(())
}

/// The name of every table [`visit_all`] visits, in its order.
pub fn all_names() -> Vec<String> {
    struct Names(Vec<String>);
    impl TableVisitor for Names {
        fn visit<K: redb::Key + 'static, V: redb::Value + 'static>(
            &mut self,
            table: TableDefinition<'static, K, V>,
            _: Option<RecordCheck>,
        ) -> Result<()> {
            self.0.push(redb::TableHandle::name(&table).to_string());
            Ok(())
        }
    }
    let mut names = Names(Vec::new());
    let _ = visit_all(&mut names);
    names.0
}
/// Inbound numbers (the pool and the numbers assigned to services) by id.
pub const INBOUND_NUMBERS: TableDefinition<u128, Bytes> =
    TableDefinition::new("inbound_number_id_inbound_number");
/// An inbound number's digits in international form (`447700900500`) → its id: what a received
/// text is matched on, and what keeps a number in the pool once.
pub const INBOUND_NUMBER_IDS: TableDefinition<&str, u128> =
    TableDefinition::new("inbound_number_digits_id");
/// (service id, request id) → a one-click unsubscribe request.
pub const UNSUBSCRIBE_REQUESTS: TableDefinition<(u128, u128), Bytes> =
    TableDefinition::new("service_request_unsubscribe_request");
/// Notification id → (service id, request id) of its unsubscribe request (one per email).
pub const NOTIFICATION_UNSUBSCRIBE_REQUESTS: TableDefinition<u128, (u128, u128)> =
    TableDefinition::new("notification_id_unsubscribe_request");
/// (service id, report id) → a batch of unsubscribe requests.
pub const UNSUBSCRIBE_REPORTS: TableDefinition<(u128, u128), Bytes> =
    TableDefinition::new("service_report_unsubscribe_report");
/// Templates whose emails carry the appliance's own one-click unsubscribe link.
pub const TEMPLATE_UNSUBSCRIBE_LINKS: TableDefinition<u128, ()> =
    TableDefinition::new("template_id_unsubscribe_link");
/// Text-message provider name → its current share of traffic.
pub const SMS_PROVIDER_SHARES: TableDefinition<&str, Bytes> =
    TableDefinition::new("sms_provider_name_share");
/// (provider name, version) → every share a provider has had.
pub const SMS_PROVIDER_SHARE_HISTORY: TableDefinition<(&str, u32), Bytes> =
    TableDefinition::new("sms_provider_name_version_share");
/// (user id, service id) → the member's permissions in that service ([`crate::records::Membership`]);
/// [`SERVICE_USERS`] is the same membership keyed the other way, for a service's team.
pub const USER_SERVICES: TableDefinition<(u128, u128), Bytes> =
    TableDefinition::new("user_service_membership");
/// SHA-256 of a session id → the session. The id itself is only in the person's cookie.
pub const SESSIONS: TableDefinition<Bytes, Bytes> = TableDefinition::new("session_hash_session");
/// (user id, session hash): a user's sessions, to sign them out everywhere.
pub const USER_SESSIONS: TableDefinition<(u128, Bytes), ()> =
    TableDefinition::new("user_session_hash_unit");
/// (user id, code id) → a second-factor code sent by text message or email.
pub const VERIFY_CODES: TableDefinition<(u128, u128), Bytes> =
    TableDefinition::new("user_code_id_verify_code");
/// SHA-256 of a single-use link's token → what the link does (email sign-in, password reset).
pub const LINK_TOKENS: TableDefinition<Bytes, Bytes> = TableDefinition::new("token_hash_link");
/// SHA-256 of a single sign-on `state` (or of a pending session's id) → what the sign-in
/// through the identity provider still needs ([`crate::records::SsoRecord`]); 10 minutes.
pub const SSO_STATES: TableDefinition<Bytes, Bytes> = TableDefinition::new("sso_hash_record");
pub const INVITATIONS: TableDefinition<u128, Bytes> =
    TableDefinition::new("invitation_id_invitation");
/// (service id, invitation id): a service's invitations.
pub const SERVICE_INVITATIONS: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("service_invitation_unit");
/// SHA-256 of an invitation link's token → the invitation id.
pub const INVITATION_TOKENS: TableDefinition<Bytes, u128> =
    TableDefinition::new("token_hash_invitation_id");
/// The audit trail by uuid v7 id (time-ordered, append-only; removed only by its retention).
pub const AUDIT_EVENTS: TableDefinition<u128, Bytes> = TableDefinition::new("audit_id_event");
/// (service id, event id): a service's audit events.
pub const SERVICE_AUDIT_EVENTS: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("service_audit_id_unit");

/// Every table of one write transaction, each opened on first use: a group commit of
/// notification inserts touches five of the ~40 tables, and opening a table is a lookup in
/// redb's table tree (plus a root flush at commit), so opening all of them per commit was
/// ~5% of the writer's time. Operations in a batch can still borrow several tables at once.
pub struct Tables<'txn> {
    pub meta: LazyTable<'txn, &'static str, Bytes>,
    pub services: LazyTable<'txn, u128, Bytes>,
    pub users: LazyTable<'txn, u128, Bytes>,
    pub service_users: LazyTable<'txn, (u128, u128), ()>,
    pub api_keys: LazyTable<'txn, u128, Bytes>,
    pub service_api_keys: LazyTable<'txn, (u128, u128), ()>,
    pub templates: LazyTable<'txn, u128, Bytes>,
    pub template_versions: LazyTable<'txn, (u128, u32), Bytes>,
    pub service_templates: LazyTable<'txn, (u128, u128), ()>,
    pub notifications: LazyTable<'txn, u128, Bytes>,
    pub service_notifications: LazyTable<'txn, (u128, u128), ()>,
    pub notification_history: LazyTable<'txn, u128, Bytes>,
    pub status_counts: LazyTable<'txn, &'static str, u64>,
    pub hourly_status_counts:
        LazyTable<'txn, (u128, i64, &'static str, &'static str, &'static str), u64>,
    pub index_outbox: LazyTable<'txn, u64, u128>,
    pub index_outbox_new: LazyTable<'txn, u64, u128>,
    pub queue_ready: LazyTable<'txn, (&'static str, i64, u64), Bytes>,
    pub queue_leased: LazyTable<'txn, (&'static str, u64), Bytes>,
    pub jobs: LazyTable<'txn, u128, Bytes>,
    pub service_jobs: LazyTable<'txn, (u128, u128), ()>,
    pub job_rows: LazyTable<'txn, (u128, u32), u128>,
    pub contact_lists: LazyTable<'txn, u128, Bytes>,
    pub service_contact_lists: LazyTable<'txn, (u128, u128), ()>,
    pub inbound_sms: LazyTable<'txn, u128, Bytes>,
    pub service_inbound_sms: LazyTable<'txn, (u128, u128), ()>,
    pub service_callbacks: LazyTable<'txn, (u128, &'static str), Bytes>,
    pub letter_batches: LazyTable<'txn, u128, Bytes>,
    pub billing_facts: LazyTable<'txn, (i32, u128), Bytes>,
    pub status_facts: LazyTable<'txn, (i32, u128), Bytes>,
    pub outbox_messages: LazyTable<'txn, u64, Bytes>,
    pub provider_references: LazyTable<'txn, &'static str, u128>,
    pub complaints: LazyTable<'txn, u128, Bytes>,
    pub scheduler_runs: LazyTable<'txn, &'static str, Bytes>,
    pub scheduler_lines: LazyTable<'txn, &'static str, &'static str>,
    pub data_retention: LazyTable<'txn, (u128, &'static str), Bytes>,
    pub inbound_sms_history: LazyTable<'txn, u128, Bytes>,
    pub processing_time_facts: LazyTable<'txn, i32, Bytes>,
    pub alerts: LazyTable<'txn, u128, Bytes>,
    pub history_rate_multipliers: LazyTable<'txn, u128, u32>,
    pub returned_letters: LazyTable<'txn, (u128, u128), Bytes>,
    pub print_response_files: LazyTable<'txn, &'static str, Bytes>,
    pub inbound_numbers: LazyTable<'txn, u128, Bytes>,
    pub inbound_number_ids: LazyTable<'txn, &'static str, u128>,
    pub unsubscribe_requests: LazyTable<'txn, (u128, u128), Bytes>,
    pub notification_unsubscribe_requests: LazyTable<'txn, u128, (u128, u128)>,
    pub unsubscribe_reports: LazyTable<'txn, (u128, u128), Bytes>,
    pub template_unsubscribe_links: LazyTable<'txn, u128, ()>,
    pub sms_provider_shares: LazyTable<'txn, &'static str, Bytes>,
    pub sms_provider_share_history: LazyTable<'txn, (&'static str, u32), Bytes>,
    pub user_services: LazyTable<'txn, (u128, u128), Bytes>,
    pub sessions: LazyTable<'txn, Bytes, Bytes>,
    pub user_sessions: LazyTable<'txn, (u128, Bytes), ()>,
    pub verify_codes: LazyTable<'txn, (u128, u128), Bytes>,
    pub link_tokens: LazyTable<'txn, Bytes, Bytes>,
    pub sso_states: LazyTable<'txn, Bytes, Bytes>,
    pub invitations: LazyTable<'txn, u128, Bytes>,
    pub service_invitations: LazyTable<'txn, (u128, u128), ()>,
    pub invitation_tokens: LazyTable<'txn, Bytes, u128>,
    pub audit_events: LazyTable<'txn, u128, Bytes>,
    pub service_audit_events: LazyTable<'txn, (u128, u128), ()>,
}

impl<'txn> Tables<'txn> {
    /// Handles for every table; none is opened yet.
    pub fn new(txn: &'txn WriteTransaction) -> Self {
        Tables {
            meta: LazyTable::new(txn, META),
            services: LazyTable::new(txn, SERVICES),
            users: LazyTable::new(txn, USERS),
            service_users: LazyTable::new(txn, SERVICE_USERS),
            api_keys: LazyTable::new(txn, API_KEYS),
            service_api_keys: LazyTable::new(txn, SERVICE_API_KEYS),
            templates: LazyTable::new(txn, TEMPLATES),
            template_versions: LazyTable::new(txn, TEMPLATE_VERSIONS),
            service_templates: LazyTable::new(txn, SERVICE_TEMPLATES),
            notifications: LazyTable::new(txn, NOTIFICATIONS),
            service_notifications: LazyTable::new(txn, SERVICE_NOTIFICATIONS),
            notification_history: LazyTable::new(txn, NOTIFICATION_HISTORY),
            status_counts: LazyTable::new(txn, STATUS_COUNTS),
            hourly_status_counts: LazyTable::new(txn, HOURLY_STATUS_COUNTS),
            index_outbox: LazyTable::new(txn, INDEX_OUTBOX),
            index_outbox_new: LazyTable::new(txn, INDEX_OUTBOX_NEW),
            queue_ready: LazyTable::new(txn, QUEUE_READY),
            queue_leased: LazyTable::new(txn, QUEUE_LEASED),
            jobs: LazyTable::new(txn, JOBS),
            service_jobs: LazyTable::new(txn, SERVICE_JOBS),
            job_rows: LazyTable::new(txn, JOB_ROWS),
            contact_lists: LazyTable::new(txn, CONTACT_LISTS),
            service_contact_lists: LazyTable::new(txn, SERVICE_CONTACT_LISTS),
            inbound_sms: LazyTable::new(txn, INBOUND_SMS),
            service_inbound_sms: LazyTable::new(txn, SERVICE_INBOUND_SMS),
            service_callbacks: LazyTable::new(txn, SERVICE_CALLBACKS),
            letter_batches: LazyTable::new(txn, LETTER_BATCHES),
            billing_facts: LazyTable::new(txn, BILLING_FACTS),
            status_facts: LazyTable::new(txn, STATUS_FACTS),
            outbox_messages: LazyTable::new(txn, OUTBOX_MESSAGES),
            provider_references: LazyTable::new(txn, PROVIDER_REFERENCES),
            complaints: LazyTable::new(txn, COMPLAINTS),
            scheduler_runs: LazyTable::new(txn, SCHEDULER_RUNS),
            scheduler_lines: LazyTable::new(txn, SCHEDULER_LINES),
            data_retention: LazyTable::new(txn, DATA_RETENTION),
            inbound_sms_history: LazyTable::new(txn, INBOUND_SMS_HISTORY),
            processing_time_facts: LazyTable::new(txn, PROCESSING_TIME_FACTS),
            alerts: LazyTable::new(txn, ALERTS),
            history_rate_multipliers: LazyTable::new(txn, HISTORY_RATE_MULTIPLIERS),
            returned_letters: LazyTable::new(txn, RETURNED_LETTERS),
            print_response_files: LazyTable::new(txn, PRINT_RESPONSE_FILES),
            inbound_numbers: LazyTable::new(txn, INBOUND_NUMBERS),
            inbound_number_ids: LazyTable::new(txn, INBOUND_NUMBER_IDS),
            unsubscribe_requests: LazyTable::new(txn, UNSUBSCRIBE_REQUESTS),
            notification_unsubscribe_requests: LazyTable::new(
                txn,
                NOTIFICATION_UNSUBSCRIBE_REQUESTS,
            ),
            unsubscribe_reports: LazyTable::new(txn, UNSUBSCRIBE_REPORTS),
            template_unsubscribe_links: LazyTable::new(txn, TEMPLATE_UNSUBSCRIBE_LINKS),
            sms_provider_shares: LazyTable::new(txn, SMS_PROVIDER_SHARES),
            sms_provider_share_history: LazyTable::new(txn, SMS_PROVIDER_SHARE_HISTORY),
            user_services: LazyTable::new(txn, USER_SERVICES),
            sessions: LazyTable::new(txn, SESSIONS),
            user_sessions: LazyTable::new(txn, USER_SESSIONS),
            verify_codes: LazyTable::new(txn, VERIFY_CODES),
            link_tokens: LazyTable::new(txn, LINK_TOKENS),
            sso_states: LazyTable::new(txn, SSO_STATES),
            invitations: LazyTable::new(txn, INVITATIONS),
            service_invitations: LazyTable::new(txn, SERVICE_INVITATIONS),
            invitation_tokens: LazyTable::new(txn, INVITATION_TOKENS),
            audit_events: LazyTable::new(txn, AUDIT_EVENTS),
            service_audit_events: LazyTable::new(txn, SERVICE_AUDIT_EVENTS),
        }
    }

    /// Open (and so create) every table now: used once when the store is opened, so that
    /// read transactions find every table, and so a broken table fails the open, not a write.
    pub fn open_all(txn: &'txn WriteTransaction) -> Result<Self> {
        let mut t = Tables::new(txn);
        t.meta.open()?;
        t.services.open()?;
        t.users.open()?;
        t.service_users.open()?;
        t.api_keys.open()?;
        t.service_api_keys.open()?;
        t.templates.open()?;
        t.template_versions.open()?;
        t.service_templates.open()?;
        t.notifications.open()?;
        t.service_notifications.open()?;
        t.notification_history.open()?;
        t.status_counts.open()?;
        t.hourly_status_counts.open()?;
        t.index_outbox.open()?;
        t.index_outbox_new.open()?;
        t.queue_ready.open()?;
        t.queue_leased.open()?;
        t.jobs.open()?;
        t.service_jobs.open()?;
        t.job_rows.open()?;
        t.contact_lists.open()?;
        t.service_contact_lists.open()?;
        t.inbound_sms.open()?;
        t.service_inbound_sms.open()?;
        t.service_callbacks.open()?;
        t.letter_batches.open()?;
        t.billing_facts.open()?;
        t.status_facts.open()?;
        t.outbox_messages.open()?;
        t.provider_references.open()?;
        t.complaints.open()?;
        t.scheduler_runs.open()?;
        t.scheduler_lines.open()?;
        t.data_retention.open()?;
        t.inbound_sms_history.open()?;
        t.processing_time_facts.open()?;
        t.alerts.open()?;
        t.history_rate_multipliers.open()?;
        t.returned_letters.open()?;
        t.print_response_files.open()?;
        t.inbound_numbers.open()?;
        t.inbound_number_ids.open()?;
        t.unsubscribe_requests.open()?;
        t.notification_unsubscribe_requests.open()?;
        t.unsubscribe_reports.open()?;
        t.template_unsubscribe_links.open()?;
        t.sms_provider_shares.open()?;
        t.sms_provider_share_history.open()?;
        t.user_services.open()?;
        t.sessions.open()?;
        t.user_sessions.open()?;
        t.verify_codes.open()?;
        t.link_tokens.open()?;
        t.sso_states.open()?;
        t.invitations.open()?;
        t.service_invitations.open()?;
        t.invitation_tokens.open()?;
        t.audit_events.open()?;
        t.service_audit_events.open()?;
        Ok(t)
    }
}

/// A table of a write transaction that is opened the first time it is used.
pub struct LazyTable<'txn, K: redb::Key + 'static, V: redb::Value + 'static> {
    txn: &'txn WriteTransaction,
    definition: TableDefinition<'static, K, V>,
    table: std::cell::OnceCell<redb::Table<'txn, K, V>>,
}

impl<'txn, K: redb::Key + 'static, V: redb::Value + 'static> LazyTable<'txn, K, V> {
    fn new(txn: &'txn WriteTransaction, definition: TableDefinition<'static, K, V>) -> Self {
        LazyTable {
            txn,
            definition,
            table: std::cell::OnceCell::new(),
        }
    }

    /// The open table, opening it now if need be; the error is redb's.
    pub fn open(&mut self) -> Result<&mut redb::Table<'txn, K, V>> {
        if self.table.get().is_none() {
            let table = self.txn.open_table(self.definition)?;
            let _ = self.table.set(table);
        }
        Ok(self.table.get_mut().expect("set just above"))
    }
}

impl<'txn, K: redb::Key + 'static, V: redb::Value + 'static> std::ops::Deref
    for LazyTable<'txn, K, V>
{
    type Target = redb::Table<'txn, K, V>;

    fn deref(&self) -> &Self::Target {
        // Every table was opened (created) when the store was opened, so this fails only if
        // the file itself is broken. Operations run under the writer's panic guard, which
        // turns that into an error for the batch.
        self.table.get_or_init(|| {
            self.txn
                .open_table(self.definition)
                .unwrap_or_else(|e| panic!("table {} cannot be opened: {e}", self.definition))
        })
    }
}

impl<K: redb::Key + 'static, V: redb::Value + 'static> std::ops::DerefMut for LazyTable<'_, K, V> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        let _ = std::ops::Deref::deref(self);
        self.table.get_mut().expect("opened by deref")
    }
}

/// Opens a read snapshot. Read-only table handles are opened per call: reads are rare compared
/// with writes and redb's MVCC makes them cheap.
pub fn begin_read(db: &redb::Database) -> Result<ReadTransaction> {
    Ok(db.begin_read()?)
}

#[cfg(test)]
mod tests {
    /// Every table defined in this file is visited by [`super::visit_all`], so backups, restores
    /// and checks know it. A store creates some tables only on first use (the scheduler's cron
    /// lines), which a freshly opened store does not show; hence a look at the definitions.
    #[test]
    fn every_table_defined_here_is_visited() {
        let marker = concat!("TableDefinition", "::new(\"");
        let source = include_str!("tables.rs");
        let visited = super::all_names();
        let defined: Vec<&str> = source
            .split(marker)
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(defined.len() > 30, "{defined:?}");
        for name in defined {
            assert!(
                visited.iter().any(|v| v == name),
                "table {name} is not in visit_all"
            );
        }
    }
}
