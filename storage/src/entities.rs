//! Typed reads and writes of the stored records, for write operations ([`WriteCtx`]) and read
//! snapshots ([`Reader`]). Each write keeps its secondary tables in step in the same transaction:
//! a notification insert also writes the per-service listing row, the status count and the index
//! outbox entry.

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, ReadableTableMetadata};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::codec::{decode, encode};
use crate::error::{Result, StoreError};
use crate::records::*;
use crate::tables::*;
use crate::writer::WriteCtx;

pub(crate) fn get_by_id<T: DeserializeOwned>(
    table: &impl ReadableTable<u128, &'static [u8]>,
    id: Uuid,
) -> Result<Option<T>> {
    match table.get(id.as_u128())? {
        Some(v) => Ok(Some(decode(v.value())?)),
        None => Ok(None),
    }
}

/// A service's callback setting of one kind.
fn callback_of(
    table: &impl ReadableTable<(u128, &'static str), &'static [u8]>,
    service_id: Uuid,
    kind: CallbackKind,
) -> Result<Option<ServiceCallback>> {
    match table.get((service_id.as_u128(), kind.as_str()))? {
        Some(v) => Ok(Some(decode(v.value())?)),
        None => Ok(None),
    }
}

/// Records keyed (service, child) in a link table, resolved through the child's own table.
fn children_of<T: DeserializeOwned>(
    links: &impl ReadableTable<(u128, u128), ()>,
    records: &impl ReadableTable<u128, &'static [u8]>,
    service_id: Uuid,
) -> Result<Vec<T>> {
    let s = service_id.as_u128();
    let mut out = Vec::new();
    for row in links.range((s, 0)..=(s, u128::MAX))? {
        let (k, _) = row?;
        if let Some(rec) = get_by_id(records, Uuid::from_u128(k.value().1))? {
            out.push(rec);
        }
    }
    Ok(out)
}

/// A service's records through its link table, newest first (uuid v7 ids are time-ordered),
/// strictly older than `older_than` when given, keeping those `keep` accepts, at most `limit`.
/// Walks backwards, so a page costs what it returns plus what the filter skips.
fn newest_children<T: DeserializeOwned>(
    links: &impl ReadableTable<(u128, u128), ()>,
    records: &impl ReadableTable<u128, &'static [u8]>,
    service_id: Uuid,
    older_than: Option<Uuid>,
    limit: usize,
    mut keep: impl FnMut(&T) -> bool,
) -> Result<Vec<T>> {
    let s = service_id.as_u128();
    let upper = match older_than {
        Some(id) => std::ops::Bound::Excluded((s, id.as_u128())),
        None => std::ops::Bound::Included((s, u128::MAX)),
    };
    let mut out = Vec::new();
    for row in links
        .range::<(u128, u128)>((std::ops::Bound::Included((s, 0)), upper))?
        .rev()
    {
        if out.len() >= limit {
            break;
        }
        let (k, _) = row?;
        if let Some(record) = get_by_id::<T>(records, Uuid::from_u128(k.value().1))?
            && keep(&record)
        {
            out.push(record);
        }
    }
    Ok(out)
}

impl WriteCtx<'_> {
    pub fn get_service(&self, id: Uuid) -> Result<Option<Service>> {
        get_by_id(&*self.tables.services, id)
    }

    /// Insert a new service; names are unique (case-insensitive), as upstream.
    pub fn insert_service(&mut self, service: &Service) -> Result<()> {
        let wanted = service.name.trim().to_lowercase();
        for row in self.tables.services.iter()? {
            let (_, v) = row?;
            let existing: Service = decode(v.value())?;
            if existing.name.trim().to_lowercase() == wanted {
                return Err(StoreError::Conflict(format!(
                    "a service named '{}' already exists ({})",
                    existing.name, existing.id
                )));
            }
        }
        if self.tables.services.get(service.id.as_u128())?.is_some() {
            return Err(StoreError::Conflict(format!(
                "service {} exists",
                service.id
            )));
        }
        self.put_service(service)
    }

    pub fn put_service(&mut self, service: &Service) -> Result<()> {
        self.tables
            .services
            .insert(service.id.as_u128(), encode(service).as_slice())?;
        Ok(())
    }

    pub fn get_user(&self, id: Uuid) -> Result<Option<User>> {
        get_by_id(&*self.tables.users, id)
    }

    pub fn put_user(&mut self, user: &User) -> Result<()> {
        self.tables
            .users
            .insert(user.id.as_u128(), encode(user).as_slice())?;
        Ok(())
    }

    pub fn get_api_key(&self, id: Uuid) -> Result<Option<ApiKey>> {
        get_by_id(&*self.tables.api_keys, id)
    }

    pub fn put_api_key(&mut self, key: &ApiKey) -> Result<()> {
        self.tables
            .api_keys
            .insert(key.id.as_u128(), encode(key).as_slice())?;
        self.tables
            .service_api_keys
            .insert((key.service_id.as_u128(), key.id.as_u128()), ())?;
        Ok(())
    }

    pub fn get_template(&self, id: Uuid) -> Result<Option<Template>> {
        get_by_id(&*self.tables.templates, id)
    }

    /// Store a template version: the current row, the version history and the service link.
    /// The service's templates (current versions).
    pub fn service_templates(&self, service_id: Uuid) -> Result<Vec<Template>> {
        children_of(
            &*self.tables.service_templates,
            &*self.tables.templates,
            service_id,
        )
    }

    pub fn put_template(&mut self, template: &Template) -> Result<()> {
        let bytes = encode(template);
        let id = template.id.as_u128();
        if self
            .tables
            .template_versions
            .get((id, template.version))?
            .is_some()
        {
            return Err(StoreError::Conflict(format!(
                "template {} already has a version {}",
                template.id, template.version
            )));
        }
        self.tables.templates.insert(id, bytes.as_slice())?;
        self.tables
            .template_versions
            .insert((id, template.version), bytes.as_slice())?;
        self.tables
            .service_templates
            .insert((template.service_id.as_u128(), id), ())?;
        Ok(())
    }

    pub fn get_notification(&self, id: Uuid) -> Result<Option<Notification>> {
        get_by_id(&*self.tables.notifications, id)
    }

    /// Insert a new notification with its listing row, status count and index outbox entry.
    pub fn insert_notification(&mut self, n: &Notification) -> Result<()> {
        self.insert_encoded_notification(n, &encode(n))
    }

    /// [`WriteCtx::insert_notification`] with the record already encoded (by
    /// [`crate::codec::encode`]) on the caller's thread, so the single writer thread spends
    /// its time on the trees rather than on serialisation.
    pub fn insert_encoded_notification(&mut self, n: &Notification, encoded: &[u8]) -> Result<()> {
        let id = n.id.as_u128();
        // Insert first and put the old row back on a clash: one tree walk on the hot path
        // instead of a lookup plus an insert.
        let previous = self
            .tables
            .notifications
            .insert(id, encoded)?
            .map(|old| old.value().to_vec());
        if let Some(old) = previous {
            self.tables.notifications.insert(id, old.as_slice())?;
            return Err(StoreError::Conflict(format!(
                "notification {} exists",
                n.id
            )));
        }
        self.tables
            .service_notifications
            .insert((n.service_id.as_u128(), id), ())?;
        self.bump_status(n.status.as_str(), 1);
        self.bump_hourly(hourly_key(n, n.status), 1);
        self.status_entered(n.notification_type, n.status);
        let seq = self.next_seq();
        self.tables.index_outbox_new.insert(seq, id)?;
        Ok(())
    }

    /// Replace a stored notification (status changes and the like), keeping counts and the
    /// index in step.
    pub fn update_notification(&mut self, n: &Notification) -> Result<()> {
        let Some(old) = self.get_notification(n.id)? else {
            return Err(StoreError::NotFound(format!("notification {}", n.id)));
        };
        self.tables
            .notifications
            .insert(n.id.as_u128(), encode(n).as_slice())?;
        if old.status != n.status {
            self.bump_status(old.status.as_str(), -1);
            self.bump_status(n.status.as_str(), 1);
            self.status_entered(n.notification_type, n.status);
        }
        let (was, is) = (hourly_key(&old, old.status), hourly_key(n, n.status));
        if was != is {
            self.bump_hourly(was, -1);
            self.bump_hourly(is, 1);
        }
        // Most updates are status changes, which the search document does not hold: re-index
        // only when a searched field changed (a letter's address read from its PDF, say).
        if crate::indexer::search_fields_differ(&old, n) {
            self.outbox(n.id)?;
        }
        Ok(())
    }

    /// Remove a live notification (retention); the index drops it on its next drain.
    pub fn delete_notification(&mut self, id: Uuid) -> Result<Option<Notification>> {
        let Some(old) = self.get_notification(id)? else {
            return Ok(None);
        };
        self.tables.notifications.remove(id.as_u128())?;
        self.tables
            .service_notifications
            .remove((old.service_id.as_u128(), id.as_u128()))?;
        self.bump_status(old.status.as_str(), -1);
        self.bump_hourly(hourly_key(&old, old.status), -1);
        self.outbox(id)?;
        Ok(Some(old))
    }

    /// Store a received text message (ids are uuid v7: time-ordered).
    pub fn insert_inbound_sms(&mut self, m: &InboundSms) -> Result<()> {
        self.tables
            .inbound_sms
            .insert(m.id.as_u128(), encode(m).as_slice())?;
        self.tables
            .service_inbound_sms
            .insert((m.service_id.as_u128(), m.id.as_u128()), ())?;
        Ok(())
    }

    /// Store an archived notification's record. Its hourly status count follows: a status
    /// change moves it; a record new to both tables (written straight to history, as a restore
    /// of old data might) is counted; one whose live row is still there is already counted.
    pub fn put_notification_history(&mut self, h: &NotificationHistory) -> Result<()> {
        let id = h.id.as_u128();
        let old: Option<NotificationHistory> = match self.tables.notification_history.get(id)? {
            Some(v) => Some(decode(v.value())?),
            None => None,
        };
        let key = |r: &NotificationHistory, status| {
            crate::hourly_counts::key_of(
                r.service_id,
                r.created_at,
                r.notification_type,
                r.key_type,
                status,
            )
        };
        match old {
            Some(old) => {
                let (was, is) = (key(&old, old.status), key(h, h.status));
                if was != is {
                    self.bump_hourly(was, -1);
                    self.bump_hourly(is, 1);
                }
            }
            None if self.tables.notifications.get(id)?.is_none() => {
                self.bump_hourly(key(h, h.status), 1);
            }
            None => {}
        }
        self.tables
            .notification_history
            .insert(h.id.as_u128(), encode(h).as_slice())?;
        Ok(())
    }

    /// Keep a message in the local outbox sink, dropping the oldest beyond `keep`.
    pub fn insert_outbox_message(&mut self, m: &OutboxMessage, keep: u64) -> Result<u64> {
        let seq = self.next_seq();
        self.tables
            .outbox_messages
            .insert(seq, encode(m).as_slice())?;
        let len = self.tables.outbox_messages.len()?;
        for _ in keep..len {
            self.tables.outbox_messages.pop_first()?;
        }
        Ok(seq)
    }

    /// Remember a provider's id for a notification (receipts look it up).
    pub fn put_provider_reference(&mut self, reference: &str, id: Uuid) -> Result<()> {
        self.tables
            .provider_references
            .insert(reference, id.as_u128())?;
        Ok(())
    }

    pub fn notification_id_by_reference(&self, reference: &str) -> Result<Option<Uuid>> {
        Ok(self
            .tables
            .provider_references
            .get(reference)?
            .map(|v| Uuid::from_u128(v.value())))
    }

    pub fn insert_complaint(&mut self, c: &Complaint) -> Result<()> {
        self.tables
            .complaints
            .insert(c.id.as_u128(), encode(c).as_slice())?;
        Ok(())
    }

    pub fn get_service_callback(
        &self,
        service_id: Uuid,
        kind: CallbackKind,
    ) -> Result<Option<ServiceCallback>> {
        callback_of(&*self.tables.service_callbacks, service_id, kind)
    }

    pub fn put_service_callback(&mut self, c: &ServiceCallback) -> Result<()> {
        self.tables.service_callbacks.insert(
            (c.service_id.as_u128(), c.kind.as_str()),
            encode(c).as_slice(),
        )?;
        Ok(())
    }

    pub fn delete_service_callback(
        &mut self,
        service_id: Uuid,
        kind: CallbackKind,
    ) -> Result<bool> {
        Ok(self
            .tables
            .service_callbacks
            .remove((service_id.as_u128(), kind.as_str()))?
            .is_some())
    }

    /// Live notifications with ids (uuid v7, so creation order) from `after` (exclusive), at
    /// most `limit`, that `keep` accepts; also the last id looked at, to resume from.
    pub fn scan_notifications(
        &self,
        after: Option<Uuid>,
        before: Uuid,
        limit: usize,
        mut keep: impl FnMut(&Notification) -> bool,
    ) -> Result<(Vec<Notification>, Option<Uuid>)> {
        let lower = match after {
            Some(id) => std::ops::Bound::Excluded(id.as_u128()),
            None => std::ops::Bound::Unbounded,
        };
        let mut out = Vec::new();
        let mut last = None;
        for row in self
            .tables
            .notifications
            .range::<u128>((lower, std::ops::Bound::Excluded(before.as_u128())))?
            .take(limit)
        {
            let (k, v) = row?;
            last = Some(Uuid::from_u128(k.value()));
            let n: Notification = decode(v.value())?;
            if keep(&n) {
                out.push(n);
            }
        }
        Ok((out, last))
    }

    fn outbox(&mut self, id: Uuid) -> Result<()> {
        let seq = self.next_seq();
        self.tables.index_outbox.insert(seq, id.as_u128())?;
        Ok(())
    }

    /// Forget outbox entries (of both outboxes) up to and including `seq` (the indexer has
    /// committed them).
    pub fn remove_outbox_through(&mut self, seq: u64) -> Result<usize> {
        let mut removed = 0;
        let mut count = |_: u64, _: u128| {
            removed += 1;
            false
        };
        self.tables.index_outbox.retain_in(..=seq, &mut count)?;
        self.tables.index_outbox_new.retain_in(..=seq, &mut count)?;
        Ok(removed)
    }
}

/// One row of the index outboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Store-wide sequence: the order the changes were made in.
    pub seq: u64,
    pub id: Uuid,
    /// The notification was inserted by this change, so the index cannot hold it yet (unless
    /// an earlier drain took it in and committed; the index's committed sequence says).
    pub new: bool,
}

/// A consistent read snapshot.
pub struct Reader {
    txn: ReadTransaction,
}

fn hourly_key(
    n: &Notification,
    status: NotificationStatus,
) -> Option<crate::hourly_counts::CountKey> {
    crate::hourly_counts::key_of(
        n.service_id,
        n.created_at,
        n.notification_type,
        n.key_type,
        status,
    )
}

impl Reader {
    pub(crate) fn new(txn: ReadTransaction) -> Self {
        Reader { txn }
    }

    pub(crate) fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: redb::TableDefinition<K, V>,
    ) -> Result<ReadOnlyTable<K, V>> {
        Ok(self.txn.open_table(def)?)
    }

    pub fn get_service(&self, id: Uuid) -> Result<Option<Service>> {
        get_by_id(&self.table(SERVICES)?, id)
    }

    /// The outbox sink's messages, newest first, older than `before` (a sequence) when given.
    pub fn outbox_messages(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, OutboxMessage)>> {
        let table = self.table(OUTBOX_MESSAGES)?;
        let upper = before.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        for row in table.range(..upper)?.rev().take(limit) {
            let (k, v) = row?;
            out.push((k.value(), decode(v.value())?));
        }
        Ok(out)
    }

    pub fn get_service_callback(
        &self,
        service_id: Uuid,
        kind: CallbackKind,
    ) -> Result<Option<ServiceCallback>> {
        callback_of(&self.table(SERVICE_CALLBACKS)?, service_id, kind)
    }

    pub fn complaints(&self) -> Result<Vec<Complaint>> {
        let mut out = Vec::new();
        for row in self.table(COMPLAINTS)?.iter()? {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    pub fn list_services(&self) -> Result<Vec<Service>> {
        let t = self.table(SERVICES)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    pub fn get_user(&self, id: Uuid) -> Result<Option<User>> {
        get_by_id(&self.table(USERS)?, id)
    }

    pub fn service_users(&self, service_id: Uuid) -> Result<Vec<User>> {
        children_of(&self.table(SERVICE_USERS)?, &self.table(USERS)?, service_id)
    }

    pub fn get_api_key(&self, id: Uuid) -> Result<Option<ApiKey>> {
        get_by_id(&self.table(API_KEYS)?, id)
    }

    pub fn service_api_keys(&self, service_id: Uuid) -> Result<Vec<ApiKey>> {
        children_of(
            &self.table(SERVICE_API_KEYS)?,
            &self.table(API_KEYS)?,
            service_id,
        )
    }

    pub fn get_template(&self, id: Uuid) -> Result<Option<Template>> {
        get_by_id(&self.table(TEMPLATES)?, id)
    }

    pub fn get_template_version(&self, id: Uuid, version: u32) -> Result<Option<Template>> {
        match self
            .table(TEMPLATE_VERSIONS)?
            .get((id.as_u128(), version))?
        {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn service_templates(&self, service_id: Uuid) -> Result<Vec<Template>> {
        children_of(
            &self.table(SERVICE_TEMPLATES)?,
            &self.table(TEMPLATES)?,
            service_id,
        )
    }

    pub fn get_notification(&self, id: Uuid) -> Result<Option<Notification>> {
        get_by_id(&self.table(NOTIFICATIONS)?, id)
    }

    /// The notification a provider's (or the printer's) reference names.
    pub fn notification_id_by_reference(&self, reference: &str) -> Result<Option<Uuid>> {
        Ok(self
            .table(PROVIDER_REFERENCES)?
            .get(reference)?
            .map(|v| Uuid::from_u128(v.value())))
    }

    /// A service's notifications, newest first, strictly older than `older_than` when given,
    /// keeping those `keep` accepts, at most `limit`. Walks the per-service listing backwards,
    /// so a page costs what it returns (plus what the filter skips).
    pub fn service_notifications(
        &self,
        service_id: Uuid,
        older_than: Option<Uuid>,
        limit: usize,
        keep: impl FnMut(&Notification) -> bool,
    ) -> Result<Vec<Notification>> {
        newest_children(
            &self.table(SERVICE_NOTIFICATIONS)?,
            &self.table(NOTIFICATIONS)?,
            service_id,
            older_than,
            limit,
            keep,
        )
    }

    /// Count a service's live notifications created at or after `since_micros` that `keep`
    /// accepts. Ids are uuid v7, so the time bound is a key range: only today's rows are read.
    pub fn count_service_notifications_since(
        &self,
        service_id: Uuid,
        since_micros: i64,
        mut keep: impl FnMut(&Notification) -> bool,
    ) -> Result<u64> {
        let links = self.table(SERVICE_NOTIFICATIONS)?;
        let records = self.table(NOTIFICATIONS)?;
        let s = service_id.as_u128();
        let lower = (since_micros.max(0) as u128 / 1000) << 80;
        let mut count = 0;
        for row in links.range((s, lower)..=(s, u128::MAX))? {
            let (k, _) = row?;
            if let Some(n) = get_by_id::<Notification>(&records, Uuid::from_u128(k.value().1))?
                && n.created_at >= since_micros
                && keep(&n)
            {
                count += 1;
            }
        }
        Ok(count)
    }

    pub fn get_inbound_sms(&self, id: Uuid) -> Result<Option<InboundSms>> {
        get_by_id(&self.table(INBOUND_SMS)?, id)
    }

    /// A service's received texts, newest first, strictly older than `older_than` (ids are
    /// uuid v7, so id order is time order), at most `limit`.
    pub fn service_inbound_sms(
        &self,
        service_id: Uuid,
        older_than: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<InboundSms>> {
        newest_children(
            &self.table(SERVICE_INBOUND_SMS)?,
            &self.table(INBOUND_SMS)?,
            service_id,
            older_than,
            limit,
            |_| true,
        )
    }

    /// Live notifications in id (time) order after `after`, at most `limit`: for rebuilds and
    /// other whole-table walks in bounded chunks.
    pub fn notifications_after(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Notification>> {
        let t = self.table(NOTIFICATIONS)?;
        let range = match after {
            Some(id) => t.range((id.as_u128() + 1)..)?,
            None => t.range(0u128..)?,
        };
        let mut out = Vec::new();
        for row in range.take(limit) {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    pub fn notification_count(&self) -> Result<u64> {
        Ok(self.table(NOTIFICATIONS)?.len()?)
    }

    /// Live notifications per status.
    pub fn status_counts(&self) -> Result<Vec<(NotificationStatus, u64)>> {
        let t = self.table(STATUS_COUNTS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            if let Some(status) = NotificationStatus::parse(k.value())
                && v.value() > 0
            {
                out.push((status, v.value()));
            }
        }
        Ok(out)
    }

    /// Entries of both index outboxes merged in sequence order, at most `limit`.
    pub fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        let changed = self.table(INDEX_OUTBOX)?;
        let inserted = self.table(INDEX_OUTBOX_NEW)?;
        let entry = |row: std::result::Result<_, redb::StorageError>, new: bool| {
            let (k, v): (redb::AccessGuard<u64>, redb::AccessGuard<u128>) = row?;
            Ok::<_, StoreError>(OutboxEntry {
                seq: k.value(),
                id: Uuid::from_u128(v.value()),
                new,
            })
        };
        let mut changed = changed.iter()?.map(|row| entry(row, false)).peekable();
        let mut inserted = inserted.iter()?.map(|row| entry(row, true)).peekable();
        let mut out = Vec::new();
        while out.len() < limit {
            let take_changed = match (changed.peek(), inserted.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                // An error is taken at once, whichever side it is on.
                (Some(Err(_)), _) => true,
                (_, Some(Err(_))) => false,
                (Some(Ok(a)), Some(Ok(b))) => a.seq < b.seq,
            };
            let next = if take_changed {
                changed.next()
            } else {
                inserted.next()
            };
            if let Some(e) = next {
                out.push(e?);
            }
        }
        Ok(out)
    }

    /// How many notification changes the search index has not taken in yet.
    pub fn outbox_len(&self) -> Result<u64> {
        Ok(self.table(INDEX_OUTBOX)?.len()? + self.table(INDEX_OUTBOX_NEW)?.len()?)
    }

    /// The highest outbox sequence written so far.
    pub fn outbox_last_seq(&self) -> Result<Option<u64>> {
        let last = |t: ReadOnlyTable<u64, u128>| -> Result<Option<u64>> {
            Ok(t.last()?.map(|(k, _)| k.value()))
        };
        Ok(last(self.table(INDEX_OUTBOX)?)?.max(last(self.table(INDEX_OUTBOX_NEW)?)?))
    }
}

// Internal (admin) API: changing services, keys, team members and template versions.

impl WriteCtx<'_> {
    /// Replace an existing service. Its name must stay unique (case-insensitive) among the
    /// other services, as [`WriteCtx::insert_service`] requires of a new one.
    pub fn update_service(&mut self, service: &Service) -> Result<()> {
        if self.get_service(service.id)?.is_none() {
            return Err(StoreError::NotFound(format!(
                "No service with id {}",
                service.id
            )));
        }
        let wanted = service.name.trim().to_lowercase();
        for row in self.tables.services.iter()? {
            let (_, v) = row?;
            let existing: Service = decode(v.value())?;
            if existing.id != service.id && existing.name.trim().to_lowercase() == wanted {
                return Err(StoreError::Conflict(format!(
                    "a service named '{}' already exists ({})",
                    existing.name, existing.id
                )));
            }
        }
        self.put_service(service)
    }

    /// The service's API keys, revoked ones included.
    pub fn service_api_keys(&self, service_id: Uuid) -> Result<Vec<ApiKey>> {
        children_of(
            &*self.tables.service_api_keys,
            &*self.tables.api_keys,
            service_id,
        )
    }

    /// The first user `matches` accepts (a scan: users are few).
    pub fn find_user(&self, mut matches: impl FnMut(&User) -> bool) -> Result<Option<User>> {
        for row in self.tables.users.iter()? {
            let (_, v) = row?;
            let user: User = decode(v.value())?;
            if matches(&user) {
                return Ok(Some(user));
            }
        }
        Ok(None)
    }

    /// Ids of the service's team members.
    pub fn service_user_ids(&self, service_id: Uuid) -> Result<Vec<Uuid>> {
        let s = service_id.as_u128();
        let mut out = Vec::new();
        for row in self.tables.service_users.range((s, 0)..=(s, u128::MAX))? {
            out.push(Uuid::from_u128(row?.0.value().1));
        }
        Ok(out)
    }

    /// Remove a team membership and its permissions; false when there was none.
    pub fn remove_service_user(&mut self, service_id: Uuid, user_id: Uuid) -> Result<bool> {
        self.tables
            .user_services
            .remove((user_id.as_u128(), service_id.as_u128()))?;
        Ok(self
            .tables
            .service_users
            .remove((service_id.as_u128(), user_id.as_u128()))?
            .is_some())
    }
}

impl Reader {
    /// Every stored version of a template, oldest first.
    pub fn template_versions(&self, id: Uuid) -> Result<Vec<Template>> {
        let t = self.table(TEMPLATE_VERSIONS)?;
        let k = id.as_u128();
        let mut out = Vec::new();
        for row in t.range((k, 0)..=(k, u32::MAX))? {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }
}
