//! Is a store whole? The storage half of `notify check`:
//!
//! - [`check_file`]: redb's own check of a closed store file (every page's checksum, the
//!   allocator state);
//! - [`Snapshot::check`]: every table walked in one read transaction, every row read, every
//!   record decoded, and the notifications' secondary rows (per-service listing, status counts)
//!   compared with the notifications themselves, and the hourly status counts with the
//!   live and archived rows;
//! - [`compare_index`]: the search index against the store — the same notifications, allowing
//!   for changes still in the index outbox.
//!
//! Each reports problems as sentences for a person; none changes anything (except that redb
//! repairs a file it finds damaged, as opening it would).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition, TableHandle};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Store;
use crate::codec::decode;
use crate::error::Result;
use crate::index::SearchIndex;
use crate::records::{Notification, NotificationHistory};
use crate::snapshot::Snapshot;
use crate::tables::{
    self, HOURLY_STATUS_COUNTS, INDEX_OUTBOX, INDEX_OUTBOX_NEW, NOTIFICATION_HISTORY,
    NOTIFICATIONS, RecordCheck, SERVICE_NOTIFICATIONS, STATUS_COUNTS, TableVisitor,
};

/// Problems of one kind listed in full; beyond this only counted.
const EXAMPLES: usize = 10;

/// What [`Snapshot::check`] found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoreCheck {
    /// Rows per table.
    pub tables: BTreeMap<String, u64>,
    pub notifications: u64,
    /// Every problem found, as a sentence; empty when the store is whole.
    pub problems: Vec<String>,
}

/// What [`compare_index`] found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndexCheck {
    pub documents: u64,
    pub notifications: u64,
    /// Changes still in the index outbox (the index catches up with them).
    pub pending: u64,
    /// Notifications the index lacks, and documents of notifications the store no longer has.
    pub missing: u64,
    pub extra: u64,
    /// The index is marked for a rebuild from the store (new, damaged, or a rebuild cut short).
    pub needs_rebuild: bool,
    pub problems: Vec<String>,
}

/// redb's integrity check of the store file at `path`: `Ok(true)` when every page checks out,
/// `Ok(false)` when it did not but redb repaired it, an error when it cannot be repaired. The
/// store must not be open (a running server holds it).
pub fn check_file(path: &Path) -> Result<bool> {
    let mut db = match Database::builder().open(path) {
        Ok(db) => db,
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
            return Err(crate::StoreError::InUse(
                path.parent().unwrap_or(path).display().to_string(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(db.check_integrity()?)
}

/// Counts problems of one kind, keeping the first few sentences.
struct Findings<'a> {
    out: &'a mut Vec<String>,
    kind: &'static str,
    count: u64,
}

impl<'a> Findings<'a> {
    fn new(out: &'a mut Vec<String>, kind: &'static str) -> Self {
        Findings {
            out,
            kind,
            count: 0,
        }
    }

    fn add(&mut self, sentence: impl FnOnce() -> String) {
        self.count += 1;
        if self.count <= EXAMPLES as u64 {
            self.out.push(sentence());
        }
    }

    fn finish(self) -> u64 {
        if self.count > EXAMPLES as u64 {
            self.out.push(format!(
                "... {} more {} (first {EXAMPLES} above)",
                self.count - EXAMPLES as u64,
                self.kind
            ));
        }
        self.count
    }
}

impl Snapshot {
    /// Walk the whole snapshot; see the module notes.
    pub fn check(&self) -> Result<StoreCheck> {
        let mut report = StoreCheck::default();
        let mut walk = Walk {
            snapshot: self,
            tables: BTreeMap::new(),
            problems: Vec::new(),
        };
        tables::visit_all(&mut walk)?;
        report.tables = walk.tables;
        report.problems = walk.problems;
        self.check_notifications(&mut report)?;
        Ok(report)
    }

    /// Notifications decode, and their listing rows and status counts agree with them.
    fn check_notifications(&self, report: &mut StoreCheck) -> Result<()> {
        let mut by_status: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut by_service: HashMap<u128, u64> = HashMap::new();
        let mut recount = crate::hourly_counts::Recount::default();
        let mut bad = Findings::new(&mut report.problems, "unreadable notifications");
        for row in self.txn.open_table(NOTIFICATIONS)?.iter()? {
            let (k, v) = row?;
            match decode::<Notification>(v.value()) {
                Ok(n) => {
                    recount.add_live(&n);
                    report.notifications += 1;
                    *by_status.entry(n.status.as_str()).or_default() += 1;
                    *by_service.entry(n.service_id.as_u128()).or_default() += 1;
                }
                Err(e) => {
                    let id = Uuid::from_u128(k.value());
                    bad.add(|| format!("notification {id} cannot be read: {e}"));
                }
            }
        }
        bad.finish();

        let mut listed: HashMap<u128, u64> = HashMap::new();
        for row in self.txn.open_table(SERVICE_NOTIFICATIONS)?.iter()? {
            *listed.entry(row?.0.value().0).or_default() += 1;
        }
        let mut listing = Findings::new(&mut report.problems, "services with a wrong listing");
        let services: HashSet<u128> = by_service.keys().chain(listed.keys()).copied().collect();
        for service in services {
            let (has, shown) = (
                by_service.get(&service).copied().unwrap_or(0),
                listed.get(&service).copied().unwrap_or(0),
            );
            if has != shown {
                let service = Uuid::from_u128(service);
                listing.add(|| {
                    format!(
                        "service {service} has {has} notifications but its listing has {shown} rows"
                    )
                });
            }
        }
        listing.finish();

        let mut counted: BTreeMap<String, u64> = BTreeMap::new();
        for row in self.txn.open_table(STATUS_COUNTS)?.iter()? {
            let (k, v) = row?;
            counted.insert(k.value().to_string(), v.value());
        }
        let mut counts = Findings::new(&mut report.problems, "wrong status counts");
        let statuses: HashSet<String> = by_status
            .keys()
            .map(|s| s.to_string())
            .chain(counted.keys().cloned())
            .collect();
        for status in statuses {
            let has = by_status.get(status.as_str()).copied().unwrap_or(0);
            let says = counted.get(&status).copied().unwrap_or(0);
            if has != says {
                counts.add(|| {
                    format!("{has} notifications are {status}, but the status count says {says}")
                });
            }
        }
        counts.finish();
        self.check_hourly_counts(report, recount)
    }

    /// The hourly status counts agree with the rows, for the hours from the last prune's cut
    /// on (the nightly job prunes older ones).
    fn check_hourly_counts(
        &self,
        report: &mut StoreCheck,
        mut recount: crate::hourly_counts::Recount,
    ) -> Result<()> {
        let live = self.txn.open_table(NOTIFICATIONS)?;
        for row in self.txn.open_table(NOTIFICATION_HISTORY)?.iter()? {
            let (id, bytes) = row?;
            // An unreadable archived row is reported by the table walk.
            if let Ok(h) = decode::<NotificationHistory>(bytes.value()) {
                let also_live = live.get(id.value())?.is_some();
                recount.add_archived(&h, also_live);
            }
        }
        let mut stored: BTreeMap<_, i64> = BTreeMap::new();
        for row in self.txn.open_table(HOURLY_STATUS_COUNTS)?.iter()? {
            let (k, v) = row?;
            let (service, hour, kind, key, status) = k.value();
            stored.insert(
                (
                    service,
                    hour,
                    kind.to_string(),
                    key.to_string(),
                    status.to_string(),
                ),
                v.value() as i64,
            );
        }
        let meta = self.txn.open_table(tables::META)?;
        let from_hour = crate::hourly_counts::pruned_before(&meta)?.unwrap_or(i64::MIN);
        let expected: BTreeMap<_, i64> = recount
            .counts
            .into_iter()
            .filter(|(k, _)| k.1 >= from_hour)
            .map(|(k, v)| {
                let key = (
                    k.0,
                    k.1,
                    k.2.as_str().to_string(),
                    k.3.as_str().to_string(),
                    k.4.as_str().to_string(),
                );
                (key, v)
            })
            .collect();
        let mut wrong = Findings::new(&mut report.problems, "wrong hourly status counts");
        let keys: std::collections::BTreeSet<_> =
            stored.keys().chain(expected.keys()).cloned().collect();
        for key in keys {
            let has = expected.get(&key).copied().unwrap_or(0);
            let says = stored.get(&key).copied().unwrap_or(0);
            if has != says {
                let (service, hour, kind, _, status) = &key;
                let service = Uuid::from_u128(*service);
                wrong.add(|| {
                    format!(
                        "service {service} has {has} {kind} notifications created in hour {hour} that are {status}, but the hourly count says {says}"
                    )
                });
            }
        }
        wrong.finish();
        Ok(())
    }

    /// Ids of notifications with a change in the index outbox after `through`.
    fn pending_outbox(&self, through: Option<u64>) -> Result<HashSet<u128>> {
        let after = through.map_or(0, |t| t + 1);
        let mut pending = HashSet::new();
        for table in [INDEX_OUTBOX, INDEX_OUTBOX_NEW] {
            for row in self.txn.open_table(table)?.range(after..)? {
                pending.insert(row?.1.value());
            }
        }
        Ok(pending)
    }
}

/// Reads every row of every table, decoding records.
struct Walk<'s> {
    snapshot: &'s Snapshot,
    tables: BTreeMap<String, u64>,
    problems: Vec<String>,
}

impl TableVisitor for Walk<'_> {
    fn visit<K: redb::Key + 'static, V: redb::Value + 'static>(
        &mut self,
        table: TableDefinition<'static, K, V>,
        record: Option<RecordCheck>,
    ) -> Result<()> {
        let name = table.name().to_string();
        let t = match self.snapshot.txn.open_table(table) {
            Ok(t) => t,
            Err(e) => {
                self.problems
                    .push(format!("table {name} cannot be opened: {e}"));
                return Ok(());
            }
        };
        // Notifications are decoded by `check_notifications`, which also counts them.
        let record = record.filter(|_| name != NOTIFICATIONS.name());
        let mut rows = 0u64;
        let mut bad = Findings::new(&mut self.problems, "unreadable records");
        for row in t.iter()? {
            let (_, v) = match row {
                Ok(row) => row,
                Err(e) => {
                    bad.add(|| format!("table {name}: a row cannot be read: {e}"));
                    break;
                }
            };
            rows += 1;
            if let Some(check) = record
                && let Err(e) = check(V::as_bytes(&v.value()).as_ref())
            {
                bad.add(|| format!("table {name}: row {rows} cannot be decoded: {e}"));
            }
        }
        bad.finish();
        self.tables.insert(name, rows);
        Ok(())
    }
}

/// Compare the search index with the store: every live notification has a document and every
/// document a live notification, except those with a change still in the index outbox. With a
/// server running, both move while this runs; a difference is confirmed against a fresh read
/// of the store before it is reported.
pub fn compare_index(
    store: &Store,
    snapshot: &Snapshot,
    index: &SearchIndex,
) -> Result<IndexCheck> {
    let mut report = IndexCheck {
        needs_rebuild: index.needs_rebuild(),
        ..Default::default()
    };
    let through = index.committed_through();
    let ids = index
        .all_ids()
        .map_err(|e| crate::StoreError::Index(e.to_string()))?;
    report.documents = ids.len() as u64;
    let pending = snapshot.pending_outbox(through)?;
    report.pending = pending.len() as u64;

    let mut missing = Vec::new();
    let mut extra = Vec::new();
    let mut docs = ids.iter().copied().peekable();
    for row in snapshot.txn.open_table(NOTIFICATIONS)?.iter()? {
        let id = row?.0.value();
        report.notifications += 1;
        while let Some(doc) = docs.next_if(|d| *d < id) {
            extra.push(doc);
        }
        if docs.next_if_eq(&id).is_none() {
            missing.push(id);
        }
    }
    extra.extend(docs);
    // Changes the indexer has not applied yet are not problems.
    missing.retain(|id| !pending.contains(id));
    extra.retain(|id| !pending.contains(id));
    // Nor is what changed since the snapshot: a notification archived meanwhile (its document
    // goes), or one created meanwhile (its document came).
    let now = store.read()?;
    missing.retain(|id| matches!(now.get_notification(Uuid::from_u128(*id)), Ok(Some(_))));
    extra.retain(|id| !matches!(now.get_notification(Uuid::from_u128(*id)), Ok(Some(_))));

    let mut m = Findings::new(&mut report.problems, "notifications missing from the index");
    for id in &missing {
        let id = Uuid::from_u128(*id);
        m.add(|| format!("notification {id} is not in the search index"));
    }
    report.missing = m.finish();
    let mut x = Findings::new(
        &mut report.problems,
        "index documents without a notification",
    );
    for id in &extra {
        let id = Uuid::from_u128(*id);
        x.add(|| format!("the search index has notification {id}, which the store does not"));
    }
    report.extra = x.finish();
    if report.needs_rebuild {
        report
            .problems
            .push("the search index is marked for a rebuild from the store".into());
    }
    Ok(report)
}
