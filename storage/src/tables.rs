//! Every redb table, declared in one place and named `<key>_<value>`.
//!
//! Keys that grow fast are time-ordered (uuid v7 as `u128`, or a sequence), so a group commit
//! dirties a few pages at the right-hand edge of each tree instead of one random page per insert.
//! Values are records encoded by [`crate::codec`].

use redb::{ReadTransaction, ReadableDatabase, TableDefinition, WriteTransaction};

use crate::error::Result;

type Bytes = &'static [u8];

/// Bumped whenever a table's key or value layout changes; checked on open.
pub const SCHEMA_VERSION: u32 = 1;

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
/// Index outbox: sequence → notification id whose search document must be refreshed.
pub const INDEX_OUTBOX: TableDefinition<u64, u128> = TableDefinition::new("seq_notification_id");
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

/// Every table open in one write transaction. Opened once per group commit, so operations in
/// the batch can borrow several tables at once without re-opening them.
pub struct Tables<'txn> {
    pub meta: redb::Table<'txn, &'static str, Bytes>,
    pub services: redb::Table<'txn, u128, Bytes>,
    pub users: redb::Table<'txn, u128, Bytes>,
    pub service_users: redb::Table<'txn, (u128, u128), ()>,
    pub api_keys: redb::Table<'txn, u128, Bytes>,
    pub service_api_keys: redb::Table<'txn, (u128, u128), ()>,
    pub templates: redb::Table<'txn, u128, Bytes>,
    pub template_versions: redb::Table<'txn, (u128, u32), Bytes>,
    pub service_templates: redb::Table<'txn, (u128, u128), ()>,
    pub notifications: redb::Table<'txn, u128, Bytes>,
    pub service_notifications: redb::Table<'txn, (u128, u128), ()>,
    pub notification_history: redb::Table<'txn, u128, Bytes>,
    pub status_counts: redb::Table<'txn, &'static str, u64>,
    pub index_outbox: redb::Table<'txn, u64, u128>,
    pub queue_ready: redb::Table<'txn, (&'static str, i64, u64), Bytes>,
    pub queue_leased: redb::Table<'txn, (&'static str, u64), Bytes>,
    pub jobs: redb::Table<'txn, u128, Bytes>,
    pub service_jobs: redb::Table<'txn, (u128, u128), ()>,
    pub job_rows: redb::Table<'txn, (u128, u32), u128>,
    pub contact_lists: redb::Table<'txn, u128, Bytes>,
    pub service_contact_lists: redb::Table<'txn, (u128, u128), ()>,
    pub inbound_sms: redb::Table<'txn, u128, Bytes>,
    pub service_inbound_sms: redb::Table<'txn, (u128, u128), ()>,
    pub service_callbacks: redb::Table<'txn, (u128, &'static str), Bytes>,
    pub letter_batches: redb::Table<'txn, u128, Bytes>,
    pub billing_facts: redb::Table<'txn, (i32, u128), Bytes>,
    pub status_facts: redb::Table<'txn, (i32, u128), Bytes>,
    pub outbox_messages: redb::Table<'txn, u64, Bytes>,
    pub provider_references: redb::Table<'txn, &'static str, u128>,
    pub complaints: redb::Table<'txn, u128, Bytes>,
    pub scheduler_runs: redb::Table<'txn, &'static str, Bytes>,
    pub data_retention: redb::Table<'txn, (u128, &'static str), Bytes>,
    pub inbound_sms_history: redb::Table<'txn, u128, Bytes>,
    pub processing_time_facts: redb::Table<'txn, i32, Bytes>,
    pub alerts: redb::Table<'txn, u128, Bytes>,
    pub history_rate_multipliers: redb::Table<'txn, u128, u32>,
    pub returned_letters: redb::Table<'txn, (u128, u128), Bytes>,
    pub print_response_files: redb::Table<'txn, &'static str, Bytes>,
}

impl<'txn> Tables<'txn> {
    pub fn open(txn: &'txn WriteTransaction) -> Result<Self> {
        Ok(Tables {
            meta: txn.open_table(META)?,
            services: txn.open_table(SERVICES)?,
            users: txn.open_table(USERS)?,
            service_users: txn.open_table(SERVICE_USERS)?,
            api_keys: txn.open_table(API_KEYS)?,
            service_api_keys: txn.open_table(SERVICE_API_KEYS)?,
            templates: txn.open_table(TEMPLATES)?,
            template_versions: txn.open_table(TEMPLATE_VERSIONS)?,
            service_templates: txn.open_table(SERVICE_TEMPLATES)?,
            notifications: txn.open_table(NOTIFICATIONS)?,
            service_notifications: txn.open_table(SERVICE_NOTIFICATIONS)?,
            notification_history: txn.open_table(NOTIFICATION_HISTORY)?,
            status_counts: txn.open_table(STATUS_COUNTS)?,
            index_outbox: txn.open_table(INDEX_OUTBOX)?,
            queue_ready: txn.open_table(QUEUE_READY)?,
            queue_leased: txn.open_table(QUEUE_LEASED)?,
            jobs: txn.open_table(JOBS)?,
            service_jobs: txn.open_table(SERVICE_JOBS)?,
            job_rows: txn.open_table(JOB_ROWS)?,
            contact_lists: txn.open_table(CONTACT_LISTS)?,
            service_contact_lists: txn.open_table(SERVICE_CONTACT_LISTS)?,
            inbound_sms: txn.open_table(INBOUND_SMS)?,
            service_inbound_sms: txn.open_table(SERVICE_INBOUND_SMS)?,
            service_callbacks: txn.open_table(SERVICE_CALLBACKS)?,
            letter_batches: txn.open_table(LETTER_BATCHES)?,
            billing_facts: txn.open_table(BILLING_FACTS)?,
            status_facts: txn.open_table(STATUS_FACTS)?,
            outbox_messages: txn.open_table(OUTBOX_MESSAGES)?,
            provider_references: txn.open_table(PROVIDER_REFERENCES)?,
            complaints: txn.open_table(COMPLAINTS)?,
            scheduler_runs: txn.open_table(SCHEDULER_RUNS)?,
            data_retention: txn.open_table(DATA_RETENTION)?,
            inbound_sms_history: txn.open_table(INBOUND_SMS_HISTORY)?,
            processing_time_facts: txn.open_table(PROCESSING_TIME_FACTS)?,
            alerts: txn.open_table(ALERTS)?,
            history_rate_multipliers: txn.open_table(HISTORY_RATE_MULTIPLIERS)?,
            returned_letters: txn.open_table(RETURNED_LETTERS)?,
            print_response_files: txn.open_table(PRINT_RESPONSE_FILES)?,
        })
    }
}

/// Opens a read snapshot. Read-only table handles are opened per call: reads are rare compared
/// with writes and redb's MVCC makes them cheap.
pub fn begin_read(db: &redb::Database) -> Result<ReadTransaction> {
    Ok(db.begin_read()?)
}
