//! Derived term index of notifications (tantivy).
//!
//! redb is the source of truth; this index only exists to answer "find the
//! notifications of service S whose recipient / client reference / id is T"
//! quickly, newest first. Everything in it can be recomputed from redb, so:
//!
//! * if the on-disk layout doesn't match the schema below (older version,
//!   corruption, missing directory) [`SearchIndex::open`] throws the old files
//!   away, starts empty and reports [`SearchIndex::needs_rebuild`]; the caller
//!   then reindexes from redb and calls [`SearchIndex::mark_rebuilt`];
//! * writes are not durable per document: [`SearchIndex::upsert`] /
//!   [`SearchIndex::delete`] only buffer in the writer, and the owner calls
//!   [`SearchIndex::commit`] on a timer (a tantivy commit writes a segment and
//!   fsyncs, far too expensive to do per notification). Anything lost in a
//!   crash between commits must be re-derived from redb by the caller. Each
//!   commit records, as its payload, the last outbox sequence it reflects
//!   ([`SearchIndex::committed_through`]), so the caller can tell which
//!   changes a crash lost and which are already in.
//! * a failed write or commit (a full disk kills tantivy's indexing thread)
//!   discards the writer and what it buffered; the next operation creates a
//!   new one from the last commit, so the caller simply does that work again
//!   (the outbox still holds it) once the disk has room.
//!
//! All fields are raw (untokenised) terms, so matching is exact; the caller
//! normalises recipients before indexing and before searching.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STORED, STRING, Schema, TantivyDocument, Value,
};
use tantivy::{Index, IndexReader, IndexSettings, IndexWriter, Order, ReloadPolicy, Term};
use uuid::Uuid;

/// Memory budget of the single indexing thread (tantivy's minimum is 15 MB).
const WRITER_MEMORY_BYTES: usize = 30_000_000;

/// Marker file present while a rebuild from redb is owed (created before the
/// old files are wiped, removed by [`SearchIndex::mark_rebuilt`]). It makes an
/// interrupted reindex restart on the next open instead of leaving a
/// half-filled index that looks healthy.
const REBUILD_MARKER: &str = "REBUILD_PENDING";

const F_ID: &str = "id";
const F_SERVICE_ID: &str = "service_id";
const F_TYPE: &str = "type";
const F_RECIPIENT: &str = "recipient";
const F_REFERENCE: &str = "reference";
const F_CREATED_AT_MS: &str = "created_at_ms";

/// One document to index: everything is already normalised by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDoc {
    /// Notification id.
    pub id: Uuid,
    pub service_id: Uuid,
    /// "email" | "sms" | "letter".
    pub notification_type: String,
    /// Normalised recipient (lower-cased email, digits-only phone, or letter
    /// address line).
    pub recipient: String,
    /// Client reference, exact match.
    pub reference: Option<String>,
    /// For newest-first ordering of results.
    pub created_at_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index directory: {0}")]
    OpenDirectory(#[from] tantivy::directory::error::OpenDirectoryError),
    #[error("search index i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("search index holds an unreadable notification id: {0:?}")]
    BadStoredId(String),
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    service_id: Field,
    notification_type: Field,
    recipient: Field,
    reference: Field,
    created_at_ms: Field,
}

fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_text_field(F_ID, STRING | STORED),
        service_id: b.add_text_field(F_SERVICE_ID, STRING),
        notification_type: b.add_text_field(F_TYPE, STRING),
        recipient: b.add_text_field(F_RECIPIENT, STRING),
        reference: b.add_text_field(F_REFERENCE, STRING),
        created_at_ms: b.add_i64_field(F_CREATED_AT_MS, FAST),
    };
    (b.build(), fields)
}

/// Canonical term text of a uuid (lower-case, hyphenated).
fn uuid_text(id: &Uuid) -> String {
    id.as_hyphenated().to_string()
}

/// Derived, rebuildable index of notifications. `Send + Sync`; share it behind
/// an `Arc`.
pub struct SearchIndex {
    fields: Fields,
    index: Index,
    writer: Mutex<Writing>,
    reader: IndexReader,
    /// `None` for the in-RAM index.
    dir: Option<PathBuf>,
    needs_rebuild: AtomicBool,
}

/// The tantivy writer and the outbox sequence its last successful commit recorded.
struct Writing {
    /// `None` after a failure discarded it: the next operation creates a new one.
    writer: Option<IndexWriter>,
    through: Option<u64>,
}

impl Writing {
    fn new(writer: IndexWriter, through: Option<u64>) -> Mutex<Writing> {
        Mutex::new(Writing {
            writer: Some(writer),
            through,
        })
    }
}

/// The outbox sequence a commit's payload records (none for an index that never had one).
fn payload_sequence(index: &Index) -> Option<u64> {
    index.load_metas().ok()?.payload?.parse().ok()
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("dir", &self.dir)
            .field("needs_rebuild", &self.needs_rebuild())
            .field("num_docs", &self.num_docs())
            .finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// Open or create the index in `dir` (created if missing). `dir` must be
    /// dedicated to the index.
    ///
    /// If there is no index yet, or the stored one can't be used (different
    /// schema, incompatible format, unreadable), the tantivy files in `dir` are
    /// removed, a fresh empty index is created and [`needs_rebuild`] returns
    /// true so the caller reindexes from redb (then calls [`mark_rebuilt`]).
    /// Files that are not tantivy's are never deleted.
    ///
    /// [`needs_rebuild`]: SearchIndex::needs_rebuild
    /// [`mark_rebuilt`]: SearchIndex::mark_rebuilt
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        crate::files::create_private_dir(dir)?;
        crate::files::warn_if_not_private(dir, "search index directory");
        let (schema, fields) = build_schema();
        let marker = dir.join(REBUILD_MARKER);
        let mut needs_rebuild = marker.exists();

        let existing = {
            let directory = MmapDirectory::open(dir)?;
            if Index::exists(&directory).map_err(tantivy::TantivyError::from)? {
                match open_existing(directory, &schema) {
                    Ok(opened) => opened,
                    Err(e) => {
                        tracing::warn!(dir = %dir.display(), error = %e,
                            "search index unreadable; recreating it");
                        None
                    }
                }
            } else {
                None
            }
        };

        let (index, reader) = match existing {
            Some(opened) => opened,
            None => {
                // Record the debt first, so a crash from here until the
                // caller's reindex finishes is detected on the next open.
                write_marker(&marker)?;
                needs_rebuild = true;
                wipe_tantivy_files(dir)?;
                let index =
                    Index::create(MmapDirectory::open(dir)?, schema, IndexSettings::default())?;
                let reader = manual_reader(&index)?;
                tracing::info!(dir = %dir.display(), "created empty search index; rebuild needed");
                (index, reader)
            }
        };
        if needs_rebuild {
            tracing::info!(dir = %dir.display(), "search index needs a rebuild from redb");
        }
        let through = payload_sequence(&index);
        let writer = writer_in_background(&index)?;
        Ok(Self {
            fields,
            index,
            writer: Writing::new(writer, through),
            reader,
            dir: Some(dir.to_path_buf()),
            needs_rebuild: AtomicBool::new(needs_rebuild),
        })
    }

    /// Open an in-RAM index (for tests). Starts empty with
    /// `needs_rebuild() == false`.
    pub fn in_memory() -> Result<Self, IndexError> {
        let (schema, fields) = build_schema();
        let index = Index::create_in_ram(schema);
        let reader = manual_reader(&index)?;
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY_BYTES)?;
        Ok(Self {
            fields,
            index,
            writer: Writing::new(writer, None),
            reader,
            dir: None,
            needs_rebuild: AtomicBool::new(false),
        })
    }

    /// True when the index was (re)created empty or a previous rebuild never
    /// finished: the caller must reindex everything from redb, `commit()` and
    /// then call [`mark_rebuilt`](SearchIndex::mark_rebuilt).
    pub fn needs_rebuild(&self) -> bool {
        self.needs_rebuild.load(Ordering::Acquire)
    }

    /// Declare the reindex from redb complete: commits, then forgets the
    /// pending-rebuild marker so the next open doesn't rebuild again.
    pub fn mark_rebuilt(&self) -> Result<(), IndexError> {
        self.mark_rebuilt_through(None)
    }

    /// [`mark_rebuilt`](SearchIndex::mark_rebuilt) for a rebuild that took in
    /// every outbox change up to and including `through`: the commit records
    /// exactly that, replacing what earlier commits recorded.
    pub fn mark_rebuilt_through(&self, through: Option<u64>) -> Result<(), IndexError> {
        self.commit_with(|_| through)?;
        if let Some(dir) = &self.dir {
            match std::fs::remove_file(dir.join(REBUILD_MARKER)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.needs_rebuild.store(false, Ordering::Release);
        Ok(())
    }

    /// Add or replace (delete by id term, then add) documents. Not visible
    /// until [`commit`](SearchIndex::commit).
    pub fn upsert(&self, docs: &[IndexDoc]) -> Result<(), IndexError> {
        self.write_docs(docs, true)
    }

    /// Add documents the index cannot hold yet (new notifications): no
    /// delete by id first. A tantivy delete is looked up again in every
    /// segment at each commit, so skipping it for the common case, an
    /// insert, saves most of the indexing work. Not visible until
    /// [`commit`](SearchIndex::commit).
    pub fn add(&self, docs: &[IndexDoc]) -> Result<(), IndexError> {
        self.write_docs(docs, false)
    }

    fn write_docs(&self, docs: &[IndexDoc], replace: bool) -> Result<(), IndexError> {
        let f = self.fields;
        // Holding the lock for the whole batch keeps a concurrent commit from
        // splitting it.
        let mut writing = self.lock_writer();
        let writer = self.writer(&mut writing)?;
        let added = docs.iter().try_for_each(|d| {
            let id = uuid_text(&d.id);
            if replace {
                writer.delete_term(Term::from_field_text(f.id, &id));
            }
            let mut doc = TantivyDocument::default();
            doc.add_text(f.id, &id);
            doc.add_text(f.service_id, uuid_text(&d.service_id));
            doc.add_text(f.notification_type, &d.notification_type);
            doc.add_text(f.recipient, &d.recipient);
            if let Some(reference) = &d.reference {
                doc.add_text(f.reference, reference);
            }
            doc.add_i64(f.created_at_ms, d.created_at_ms);
            writer.add_document(doc).map(|_| ())
        });
        self.discard_on_failure(&mut writing, added)
    }

    /// Remove documents by notification id. Not visible until
    /// [`commit`](SearchIndex::commit).
    pub fn delete(&self, ids: &[Uuid]) -> Result<(), IndexError> {
        let mut writing = self.lock_writer();
        let writer = self.writer(&mut writing)?;
        for id in ids {
            writer.delete_term(Term::from_field_text(self.fields.id, &uuid_text(id)));
        }
        Ok(())
    }

    /// Remove everything (used by reindex). Not visible until
    /// [`commit`](SearchIndex::commit). Ordered like any other operation:
    /// documents upserted before `clear()` are removed, later ones are kept.
    pub fn clear(&self) -> Result<(), IndexError> {
        // A delete-all *query* rather than `delete_all_documents()`: the latter
        // drops segments but not documents still buffered in the indexing
        // thread, which would resurface at the next commit.
        let mut writing = self.lock_writer();
        let cleared = self
            .writer(&mut writing)?
            .delete_query(Box::new(AllQuery))
            .map(|_| ());
        self.discard_on_failure(&mut writing, cleared)
    }

    /// Commit the writer and reload the reader so searches see the changes.
    pub fn commit(&self) -> Result<(), IndexError> {
        self.commit_with(|through| through)
    }

    /// [`commit`](SearchIndex::commit), recording that the index now reflects
    /// every outbox change up to and including `seq`.
    pub fn commit_through(&self, seq: u64) -> Result<(), IndexError> {
        self.commit_with(|through| through.max(Some(seq)))
    }

    /// The last outbox sequence a commit recorded as reflected (kept across
    /// restarts in the commit's payload, read back when the index is opened);
    /// `None` if no commit recorded one.
    pub fn committed_through(&self) -> Option<u64> {
        self.lock_writer().through
    }

    /// Commit, recording as the outbox sequence reflected what `through`
    /// makes of the one recorded so far.
    fn commit_with(
        &self,
        through: impl FnOnce(Option<u64>) -> Option<u64>,
    ) -> Result<(), IndexError> {
        let mut writing = self.lock_writer();
        let through = through(writing.through);
        let committed = self
            .writer(&mut writing)?
            .prepare_commit()
            .and_then(|mut prepared| {
                if let Some(s) = through {
                    prepared.set_payload(&s.to_string());
                }
                prepared.commit()
            });
        self.discard_on_failure(&mut writing, committed.map(|_| ()))?;
        writing.through = through;
        // Reload while still holding the lock so reloads happen in commit
        // order.
        self.reader.reload()?;
        Ok(())
    }

    /// Exact search within one service: ids whose recipient == term OR
    /// reference == term OR id == term (term parsed as a uuid, any case),
    /// optionally restricted to one notification type; newest first (by
    /// `created_at_ms` desc), at most `limit`.
    pub fn search(
        &self,
        service_id: Uuid,
        term: &str,
        notification_type: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Uuid>, IndexError> {
        self.search_page(service_id, term, notification_type, 0, limit)
    }

    /// [`Self::search`] from the `offset`-th hit on: the pages after the first of a search
    /// with many hits (a reference shared by a whole mailing, a recipient written to daily).
    pub fn search_page(
        &self,
        service_id: Uuid,
        term: &str,
        notification_type: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Uuid>, IndexError> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        let limit = limit.min(usize::try_from(searcher.num_docs()).unwrap_or(usize::MAX));
        if term.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }

        let term_query = |field: Field, text: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, text),
                IndexRecordOption::Basic,
            ))
        };
        let mut any_of: Vec<(Occur, Box<dyn Query>)> = vec![
            (Occur::Should, term_query(f.recipient, term)),
            (Occur::Should, term_query(f.reference, term)),
        ];
        if let Ok(id) = Uuid::parse_str(term) {
            any_of.push((Occur::Should, term_query(f.id, &uuid_text(&id))));
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
            // MUST: one service never sees another's notifications.
            (
                Occur::Must,
                term_query(f.service_id, &uuid_text(&service_id)),
            ),
            (Occur::Must, Box::new(BooleanQuery::new(any_of))),
        ];
        if let Some(t) = notification_type {
            clauses.push((Occur::Must, term_query(f.notification_type, t)));
        }
        let query = BooleanQuery::new(clauses);

        let collector = TopDocs::with_limit(limit)
            .and_offset(offset)
            .order_by_fast_field::<i64>(F_CREATED_AT_MS, Order::Desc);
        let hits = searcher.search(&query, &collector)?;

        let mut ids = Vec::with_capacity(hits.len());
        let mut seen = std::collections::HashSet::with_capacity(hits.len());
        for (_created_at, address) in hits {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = doc.get_first(f.id).and_then(|v| v.as_str()).unwrap_or("");
            let id = Uuid::parse_str(text).map_err(|_| IndexError::BadStoredId(text.to_owned()))?;
            // An index written before commits recorded their outbox sequence may hold a
            // replayed insert twice.
            if seen.insert(id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Number of documents visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The notification id of every document visible to searches, as `u128`, sorted: for
    /// comparing the index with the store (`notify check`). Reads every stored document.
    pub fn all_ids(&self) -> Result<Vec<u128>, IndexError> {
        let searcher = self.reader.searcher();
        let mut ids = Vec::with_capacity(usize::try_from(searcher.num_docs()).unwrap_or(0));
        for segment in searcher.segment_readers() {
            let store = segment.get_store_reader(4)?;
            for doc in store.iter::<TantivyDocument>(segment.alive_bitset()) {
                let doc = doc?;
                let text = doc
                    .get_first(self.fields.id)
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                let id =
                    Uuid::parse_str(text).map_err(|_| IndexError::BadStoredId(text.to_owned()))?;
                ids.push(id.as_u128());
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// The writer, created anew first if a failure discarded the last one: it starts from the
    /// last commit, whose recorded outbox sequence is read back from disk.
    fn writer<'w>(&self, writing: &'w mut Writing) -> Result<&'w mut IndexWriter, IndexError> {
        if writing.writer.is_none() {
            let writer = match self.dir {
                Some(_) => writer_in_background(&self.index)?,
                None => self.index.writer_with_num_threads(1, WRITER_MEMORY_BYTES)?,
            };
            writing.through = payload_sequence(&self.index);
            tracing::info!("search index writer recreated after a failure");
            writing.writer = Some(writer);
        }
        Ok(writing.writer.as_mut().expect("set just above"))
    }

    /// After a failed write or commit the writer may be dead (tantivy's indexing thread stops
    /// at its first I/O error) or hold a half-done commit: drop it and what it buffered since
    /// the last commit. The caller redoes that work from the outbox.
    fn discard_on_failure(
        &self,
        writing: &mut Writing,
        outcome: tantivy::Result<()>,
    ) -> Result<(), IndexError> {
        if let Err(e) = outcome {
            tracing::debug!(error = %e, "search index writer discarded after a failure");
            writing.writer = None;
            return Err(e.into());
        }
        Ok(())
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writing> {
        // tantivy reports its failures as errors, so a panic while the lock
        // was held left nothing half-done on our side; keep going.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn manual_reader(index: &Index) -> tantivy::Result<IndexReader> {
    index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
}

/// Create the index writer on a short-lived thread at background CPU priority. Tantivy spawns
/// its own threads (indexing, segment updates, merges) here and they inherit that priority, so
/// index upkeep — a million deletes after a retention purge, a merge of big segments — takes
/// the CPU the API leaves over instead of delaying its answers. The index is derived data
/// that may lag; the API's latency may not.
fn writer_in_background(index: &Index) -> Result<IndexWriter, IndexError> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                lower_cpu_priority();
                index.writer_with_num_threads(1, WRITER_MEMORY_BYTES)
            })
            .join()
            .map_err(|_| {
                IndexError::Io(std::io::Error::other("creating the index writer panicked"))
            })?
            .map_err(IndexError::from)
    })
}

/// Give the calling thread (and the threads it spawns from now on) a background CPU priority.
pub fn lower_cpu_priority() {
    #[cfg(target_os = "linux")]
    {
        // On Linux the nice value belongs to the thread: PRIO_PROCESS with 0 is the caller.
        // Lowering one's own priority needs no privilege; failure only costs latency.
        // SAFETY: plain system call with constant arguments, no memory involved.
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, BACKGROUND_NICE) };
        if rc != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "could not lower thread priority");
        }
    }
}

/// Nice value of the index threads: a tenth of the CPU weight of normal threads when both want it.
#[cfg(target_os = "linux")]
const BACKGROUND_NICE: libc::c_int = 10;

/// Open the index stored in `directory`. `Ok(None)` if its schema isn't ours.
fn open_existing(
    directory: MmapDirectory,
    schema: &Schema,
) -> tantivy::Result<Option<(Index, IndexReader)>> {
    let index = Index::open(directory)?;
    if index.schema() != *schema {
        tracing::warn!("search index schema changed; recreating it");
        return Ok(None);
    }
    // Building the reader opens every segment, catching missing/corrupt files.
    let reader = manual_reader(&index)?;
    Ok(Some((index, reader)))
}

fn write_marker(path: &Path) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    file.sync_all()
}

/// Whether `name` is a file tantivy creates in an index directory: meta and
/// lock files, atomic-write temporaries, or `<segment uuid>.<ext>` files.
fn is_tantivy_file(name: &str) -> bool {
    if matches!(
        name,
        "meta.json" | ".managed.json" | ".tantivy-meta.lock" | ".tantivy-writer.lock"
    ) || name.starts_with(".tmp")
    {
        return true;
    }
    let bytes = name.as_bytes();
    bytes.len() > 33 && bytes[..32].iter().all(u8::is_ascii_hexdigit) && bytes[32] == b'.'
}

/// Remove tantivy's files from `dir`, leaving anything else alone.
fn wipe_tantivy_files(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_tantivy_file(name) || !entry.file_type()?.is_file() {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(
        id: Uuid,
        service: Uuid,
        ty: &str,
        recipient: &str,
        reference: Option<&str>,
        at: i64,
    ) -> IndexDoc {
        IndexDoc {
            id,
            service_id: service,
            notification_type: ty.to_owned(),
            recipient: recipient.to_owned(),
            reference: reference.map(str::to_owned),
            created_at_ms: at,
        }
    }

    fn idx() -> SearchIndex {
        SearchIndex::in_memory().expect("in-memory index")
    }

    #[test]
    fn is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SearchIndex>();
    }

    #[test]
    fn search_pages_run_newest_first_without_overlap() {
        let idx = idx();
        let svc = Uuid::new_v4();
        let ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
        let docs: Vec<IndexDoc> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| doc(*id, svc, "sms", "447700900123", None, i as i64))
            .collect();
        idx.upsert(&docs).unwrap();
        idx.commit().unwrap();
        let page = |offset| {
            idx.search_page(svc, "447700900123", Some("sms"), offset, 2)
                .unwrap()
        };
        assert_eq!(page(0), vec![ids[4], ids[3]]);
        assert_eq!(page(2), vec![ids[2], ids[1]]);
        assert_eq!(page(4), vec![ids[0]]);
        assert!(page(6).is_empty());
    }

    #[test]
    fn search_by_recipient_reference_and_id() {
        let idx = idx();
        let svc = Uuid::new_v4();
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        idx.upsert(&[
            doc(a, svc, "email", "jo@example.com", Some("ref-1"), 10),
            doc(b, svc, "sms", "447700900123", None, 20),
        ])
        .unwrap();
        assert_eq!(idx.num_docs(), 0, "not visible before commit");
        assert!(
            idx.search(svc, "jo@example.com", None, 10)
                .unwrap()
                .is_empty()
        );
        idx.commit().unwrap();
        assert_eq!(idx.num_docs(), 2);

        assert_eq!(
            idx.search(svc, "jo@example.com", None, 10).unwrap(),
            vec![a]
        );
        assert_eq!(idx.search(svc, "447700900123", None, 10).unwrap(), vec![b]);
        assert_eq!(idx.search(svc, "ref-1", None, 10).unwrap(), vec![a]);
        // id, in any case / format uuid accepts
        assert_eq!(idx.search(svc, &a.to_string(), None, 10).unwrap(), vec![a]);
        assert_eq!(
            idx.search(svc, &b.to_string().to_uppercase(), None, 10)
                .unwrap(),
            vec![b]
        );
        assert_eq!(
            idx.search(svc, &b.simple().to_string(), None, 10).unwrap(),
            vec![b]
        );
        // exact only: no prefix, no case folding of the recipient
        assert!(idx.search(svc, "jo@example", None, 10).unwrap().is_empty());
        assert!(
            idx.search(svc, "JO@EXAMPLE.COM", None, 10)
                .unwrap()
                .is_empty()
        );
        assert!(idx.search(svc, "ref", None, 10).unwrap().is_empty());
        assert!(idx.search(svc, "", None, 10).unwrap().is_empty());
        assert!(
            idx.search(svc, "jo@example.com", None, 0)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn other_services_are_never_returned() {
        let idx = idx();
        let mine = Uuid::new_v4();
        let theirs = Uuid::new_v4();
        let m = Uuid::new_v4();
        let t = Uuid::new_v4();
        idx.upsert(&[
            doc(m, mine, "email", "same@example.com", Some("shared-ref"), 1),
            doc(
                t,
                theirs,
                "email",
                "same@example.com",
                Some("shared-ref"),
                2,
            ),
        ])
        .unwrap();
        idx.commit().unwrap();

        assert_eq!(
            idx.search(mine, "same@example.com", None, 10).unwrap(),
            vec![m]
        );
        assert_eq!(
            idx.search(theirs, "same@example.com", None, 10).unwrap(),
            vec![t]
        );
        assert_eq!(idx.search(mine, "shared-ref", None, 10).unwrap(), vec![m]);
        // even by exact id
        assert!(
            idx.search(mine, &t.to_string(), None, 10)
                .unwrap()
                .is_empty()
        );
        assert!(
            idx.search(Uuid::new_v4(), "same@example.com", None, 10)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn type_filter() {
        let idx = idx();
        let svc = Uuid::new_v4();
        let e = Uuid::new_v4();
        let s = Uuid::new_v4();
        idx.upsert(&[
            doc(e, svc, "email", "x", Some("r"), 1),
            doc(s, svc, "sms", "y", Some("r"), 2),
        ])
        .unwrap();
        idx.commit().unwrap();

        assert_eq!(idx.search(svc, "r", None, 10).unwrap(), vec![s, e]);
        assert_eq!(idx.search(svc, "r", Some("email"), 10).unwrap(), vec![e]);
        assert_eq!(idx.search(svc, "r", Some("sms"), 10).unwrap(), vec![s]);
        assert!(idx.search(svc, "r", Some("letter"), 10).unwrap().is_empty());
        assert_eq!(
            idx.search(svc, &e.to_string(), Some("email"), 10).unwrap(),
            vec![e]
        );
        assert!(
            idx.search(svc, &e.to_string(), Some("sms"), 10)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn newest_first_and_limit() {
        let idx = idx();
        let svc = Uuid::new_v4();
        // Insert out of order, across two commits (two segments).
        let times = [300_i64, 100, 500, -5, 200, 400];
        let ids: Vec<Uuid> = times.iter().map(|_| Uuid::new_v4()).collect();
        let docs: Vec<IndexDoc> = ids
            .iter()
            .zip(times)
            .map(|(id, at)| doc(*id, svc, "sms", "07700900000", None, at))
            .collect();
        idx.upsert(&docs[..3]).unwrap();
        idx.commit().unwrap();
        idx.upsert(&docs[3..]).unwrap();
        idx.commit().unwrap();

        let mut expected: Vec<(i64, Uuid)> =
            times.iter().copied().zip(ids.iter().copied()).collect();
        expected.sort_by_key(|e| std::cmp::Reverse(e.0));
        let expected: Vec<Uuid> = expected.into_iter().map(|(_, id)| id).collect();

        assert_eq!(idx.search(svc, "07700900000", None, 100).unwrap(), expected);
        assert_eq!(
            idx.search(svc, "07700900000", None, 3).unwrap(),
            expected[..3].to_vec()
        );
        assert_eq!(
            idx.search(svc, "07700900000", None, 1).unwrap(),
            expected[..1].to_vec()
        );
        assert_eq!(
            idx.search(svc, "07700900000", None, usize::MAX).unwrap(),
            expected
        );
    }

    #[test]
    fn upsert_same_id_twice_leaves_one_doc() {
        let idx = idx();
        let svc = Uuid::new_v4();
        let id = Uuid::new_v4();
        idx.upsert(&[doc(id, svc, "email", "old@example.com", Some("a"), 1)])
            .unwrap();
        idx.commit().unwrap();
        idx.upsert(&[doc(id, svc, "email", "new@example.com", Some("b"), 2)])
            .unwrap();
        idx.commit().unwrap();
        assert_eq!(idx.num_docs(), 1);
        assert!(
            idx.search(svc, "old@example.com", None, 10)
                .unwrap()
                .is_empty()
        );
        assert!(idx.search(svc, "a", None, 10).unwrap().is_empty());
        assert_eq!(
            idx.search(svc, "new@example.com", None, 10).unwrap(),
            vec![id]
        );
        assert_eq!(
            idx.search(svc, &id.to_string(), None, 10).unwrap(),
            vec![id]
        );

        // Twice in the same batch: the later one wins.
        idx.upsert(&[
            doc(id, svc, "email", "first@example.com", None, 3),
            doc(id, svc, "email", "second@example.com", None, 4),
        ])
        .unwrap();
        idx.commit().unwrap();
        assert_eq!(idx.num_docs(), 1);
        assert!(
            idx.search(svc, "first@example.com", None, 10)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            idx.search(svc, "second@example.com", None, 10).unwrap(),
            vec![id]
        );
    }

    #[test]
    fn delete_removes_only_given_ids() {
        let idx = idx();
        let svc = Uuid::new_v4();
        let keep = Uuid::new_v4();
        let gone = Uuid::new_v4();
        idx.upsert(&[
            doc(keep, svc, "letter", "1 high street", None, 1),
            doc(gone, svc, "letter", "1 high street", None, 2),
        ])
        .unwrap();
        idx.commit().unwrap();
        idx.delete(&[gone, Uuid::new_v4()]).unwrap();
        assert_eq!(idx.num_docs(), 2, "not visible before commit");
        idx.commit().unwrap();
        assert_eq!(idx.num_docs(), 1);
        assert_eq!(
            idx.search(svc, "1 high street", None, 10).unwrap(),
            vec![keep]
        );
        assert!(
            idx.search(svc, &gone.to_string(), None, 10)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn clear_removes_everything_before_it() {
        let idx = idx();
        let svc = Uuid::new_v4();
        let committed = Uuid::new_v4();
        let pending = Uuid::new_v4();
        let after = Uuid::new_v4();
        idx.upsert(&[doc(committed, svc, "sms", "1", None, 1)])
            .unwrap();
        idx.commit().unwrap();
        idx.upsert(&[doc(pending, svc, "sms", "1", None, 2)])
            .unwrap();
        idx.clear().unwrap();
        assert_eq!(idx.num_docs(), 1, "not visible before commit");
        idx.commit().unwrap();
        assert_eq!(idx.num_docs(), 0);
        assert!(idx.search(svc, "1", None, 10).unwrap().is_empty());

        // reindex pattern: clear, upsert, commit
        idx.upsert(&[doc(committed, svc, "sms", "1", None, 1)])
            .unwrap();
        idx.clear().unwrap();
        idx.upsert(&[doc(after, svc, "sms", "1", None, 3)]).unwrap();
        idx.commit().unwrap();
        assert_eq!(idx.num_docs(), 1);
        assert_eq!(idx.search(svc, "1", None, 10).unwrap(), vec![after]);
    }

    #[test]
    fn reopen_from_disk_keeps_committed_docs() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nested").join("index");
        let svc = Uuid::new_v4();
        let a = Uuid::new_v4();
        let uncommitted = Uuid::new_v4();
        {
            let idx = SearchIndex::open(&dir).unwrap();
            assert!(
                idx.needs_rebuild(),
                "brand-new index must be filled from redb"
            );
            idx.upsert(&[doc(a, svc, "email", "a@example.com", Some("r1"), 5)])
                .unwrap();
            idx.mark_rebuilt().unwrap();
            assert!(!idx.needs_rebuild());
            idx.upsert(&[doc(uncommitted, svc, "email", "a@example.com", None, 6)])
                .unwrap();
        }
        let idx = SearchIndex::open(&dir).unwrap();
        assert!(!idx.needs_rebuild());
        assert_eq!(idx.num_docs(), 1);
        assert_eq!(idx.search(svc, "a@example.com", None, 10).unwrap(), vec![a]);
        assert_eq!(idx.search(svc, "r1", Some("email"), 10).unwrap(), vec![a]);

        // Still writable after reopening.
        idx.delete(&[a]).unwrap();
        idx.commit().unwrap();
        assert_eq!(idx.num_docs(), 0);
    }

    #[test]
    fn unfinished_rebuild_is_reported_again() {
        let tmp = tempfile::tempdir().unwrap();
        let svc = Uuid::new_v4();
        {
            let idx = SearchIndex::open(tmp.path()).unwrap();
            assert!(idx.needs_rebuild());
            idx.upsert(&[doc(Uuid::new_v4(), svc, "sms", "1", None, 1)])
                .unwrap();
            idx.commit().unwrap(); // partial reindex, then "crash"
        }
        let idx = SearchIndex::open(tmp.path()).unwrap();
        assert!(idx.needs_rebuild());
        assert_eq!(
            idx.num_docs(),
            1,
            "existing data kept; caller clears and reindexes"
        );
        idx.mark_rebuilt().unwrap();
        drop(idx);
        assert!(!SearchIndex::open(tmp.path()).unwrap().needs_rebuild());
    }

    #[test]
    fn schema_mismatch_wipes_and_requests_rebuild() {
        let tmp = tempfile::tempdir().unwrap();
        // An "older layout": a different schema in the same directory.
        {
            let mut b = Schema::builder();
            let old = b.add_text_field("recipient", STRING | STORED);
            let index = Index::create_in_dir(tmp.path(), b.build()).unwrap();
            let mut w: IndexWriter = index
                .writer_with_num_threads(1, WRITER_MEMORY_BYTES)
                .unwrap();
            let mut d = TantivyDocument::default();
            d.add_text(old, "legacy");
            w.add_document(d).unwrap();
            w.commit().unwrap();
        }
        std::fs::write(tmp.path().join("unrelated.txt"), b"keep me").unwrap();

        let idx = SearchIndex::open(tmp.path()).unwrap();
        assert!(idx.needs_rebuild());
        assert_eq!(idx.num_docs(), 0);
        assert_eq!(
            std::fs::read(tmp.path().join("unrelated.txt")).unwrap(),
            b"keep me"
        );

        let svc = Uuid::new_v4();
        let id = Uuid::new_v4();
        idx.upsert(&[doc(id, svc, "sms", "447700900001", None, 1)])
            .unwrap();
        idx.mark_rebuilt().unwrap();
        drop(idx);

        let idx = SearchIndex::open(tmp.path()).unwrap();
        assert!(!idx.needs_rebuild());
        assert_eq!(idx.search(svc, "447700900001", None, 10).unwrap(), vec![id]);
    }

    #[test]
    fn corrupt_meta_is_recreated() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let idx = SearchIndex::open(tmp.path()).unwrap();
            idx.upsert(&[doc(Uuid::new_v4(), Uuid::new_v4(), "sms", "1", None, 1)])
                .unwrap();
            idx.mark_rebuilt().unwrap();
        }
        std::fs::write(tmp.path().join("meta.json"), b"{ not json").unwrap();
        let idx = SearchIndex::open(tmp.path()).unwrap();
        assert!(idx.needs_rebuild());
        assert_eq!(idx.num_docs(), 0);
    }

    #[test]
    fn tantivy_file_names() {
        assert!(is_tantivy_file("meta.json"));
        assert!(is_tantivy_file(".managed.json"));
        assert!(is_tantivy_file(".tantivy-writer.lock"));
        assert!(is_tantivy_file(".tmpAbC123"));
        assert!(is_tantivy_file("0123456789abcdef0123456789abcdef.idx"));
        assert!(is_tantivy_file("0123456789abcdef0123456789abcdef.12.del"));
        assert!(!is_tantivy_file("notify.redb"));
        assert!(!is_tantivy_file(REBUILD_MARKER));
        assert!(!is_tantivy_file("0123456789abcdef0123456789abcdef"));
    }
}
