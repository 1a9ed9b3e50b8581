//! Snapshots, dumps and checks: a dump of the v1 fixture loads into a new store holding the
//! same rows; every table a store has is in the dump; a damaged or cut-short dump is refused
//! and leaves nothing; the check finds damaged records, wrong secondary rows and an index out
//! of step with the store.

use std::path::Path;

use redb::{ReadableDatabase, ReadableTable, TableHandle};
use storage::check::{self, compare_index};
use storage::index::SearchIndex;
use storage::records::NotificationStatus;
use storage::snapshot;
use storage::{Store, StoreOptions};
use uuid::Uuid;

use crate::common::{notification, open_store, temp_dir};

fn fixture_copy() -> tempfile::TempDir {
    let dir = temp_dir();
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/storage/v1/notify.redb");
    std::fs::copy(&from, storage::database_path(dir.path())).unwrap();
    dir
}

/// The dump bytes after the header (which holds the time the snapshot was taken).
fn rows_of(dump: &[u8]) -> &[u8] {
    let len = u32::from_le_bytes(dump[12..16].try_into().unwrap()) as usize;
    &dump[16 + len..]
}

#[test]
fn every_table_of_a_store_is_in_the_dump() {
    let dir = temp_dir();
    open_store(dir.path()).close();
    let db = redb::Database::open(storage::database_path(dir.path())).unwrap();
    let mut made: Vec<String> = db
        .begin_read()
        .unwrap()
        .list_tables()
        .unwrap()
        .map(|t| t.name().to_string())
        .collect();
    let mut listed = storage::tables::all_names();
    made.sort();
    listed.sort();
    assert_eq!(made, listed, "tables::visit_all must name every table");
}

#[test]
fn a_dump_loads_into_a_store_with_the_same_rows() {
    let dir = fixture_copy();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let snap = store.snapshot().unwrap();
    let mut dump = Vec::new();
    let summary = snap.write_to(&mut dump).unwrap();
    assert!(summary.rows > 20, "{summary:?}");
    assert_eq!(summary.tables.len(), storage::tables::all_names().len());
    assert_eq!(
        summary.tables["notification_id_notification"],
        store.read().unwrap().notification_count().unwrap()
    );
    let header = snap.header().clone();
    assert_eq!(header.schema_version, storage::tables::SCHEMA_VERSION);
    drop(snap);

    let restored = temp_dir();
    let (read_header, loaded) =
        snapshot::load(&dump[..], &storage::database_path(restored.path())).unwrap();
    assert_eq!(read_header, header);
    assert_eq!(loaded, summary);

    // The new store dumps to the same rows, byte for byte, and checks whole.
    let copy = Store::open(restored.path(), StoreOptions::default()).unwrap();
    let snap = copy.snapshot().unwrap();
    let mut again = Vec::new();
    snap.write_to(&mut again).unwrap();
    assert_eq!(rows_of(&again), rows_of(&dump));
    let checked = snap.check().unwrap();
    assert!(checked.problems.is_empty(), "{:?}", checked.problems);
    assert_eq!(checked.tables, summary.tables);
}

#[test]
fn a_cut_or_damaged_dump_is_refused_and_leaves_nothing() {
    let dir = fixture_copy();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let mut dump = Vec::new();
    store.snapshot().unwrap().write_to(&mut dump).unwrap();

    let target = temp_dir();
    let path = storage::database_path(target.path());
    for cut in [dump.len() - 9, dump.len() / 2, 20] {
        let err = snapshot::load(&dump[..cut], &path).unwrap_err();
        assert!(err.to_string().contains("damaged or incomplete"), "{err}");
        assert!(!path.exists(), "a refused dump leaves no store file");
    }
    let mut flipped = dump.clone();
    let at = flipped.len() - 30;
    flipped[at] ^= 0xff;
    assert!(snapshot::load(&flipped[..], &path).is_err());
    assert!(!path.exists());
    let err = snapshot::load(&b"not a dump at all"[..], &path).unwrap_err();
    assert!(err.to_string().contains("not a notify dump"), "{err}");
    // And a store is never overwritten.
    std::fs::write(&path, b"x").unwrap();
    assert!(snapshot::load(&dump[..], &path).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), b"x");
}

#[test]
fn the_check_finds_damaged_records_and_wrong_counts() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    let service = Uuid::now_v7();
    for i in 0..5 {
        let n = notification(
            service,
            &format!("0770090{i:04}"),
            NotificationStatus::Created,
        );
        store
            .write_blocking(move |ctx| ctx.insert_notification(&n))
            .unwrap();
    }
    let fine = store.snapshot().unwrap().check().unwrap();
    assert!(fine.problems.is_empty(), "{:?}", fine.problems);
    assert_eq!(fine.notifications, 5);
    store.close();
    assert!(check::check_file(&storage::database_path(dir.path())).unwrap());

    // Damage it behind the store's back: a record that does not decode, a count that lies.
    {
        let db = redb::Database::open(storage::database_path(dir.path())).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(storage::tables::SERVICES).unwrap();
            t.insert(7u128, [1u8, 0xff, 0xff].as_slice()).unwrap();
            let mut counts = txn.open_table(storage::tables::STATUS_COUNTS).unwrap();
            counts.insert("created", 9u64).unwrap();
            let mut listing = txn
                .open_table(storage::tables::SERVICE_NOTIFICATIONS)
                .unwrap();
            let first = listing.first().unwrap().unwrap().0.value();
            listing.remove(first).unwrap();
        }
        txn.commit().unwrap();
    }
    let store = open_store(dir.path());
    let found = store.snapshot().unwrap().check().unwrap();
    let all = found.problems.join("\n");
    assert!(
        all.contains("table service_id_service: row 1 cannot be decoded"),
        "{all}"
    );
    assert!(
        all.contains("5 notifications are created, but the status count says 9"),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "service {service} has 5 notifications but its listing has 4 rows"
        )),
        "{all}"
    );
}

#[test]
fn the_check_finds_an_index_out_of_step() {
    let dir = temp_dir();
    let store = open_store(dir.path());
    let service = Uuid::now_v7();
    let mut ids = Vec::new();
    for i in 0..4 {
        let n = notification(
            service,
            &format!("0770090{i:04}"),
            NotificationStatus::Created,
        );
        ids.push(n.id);
        store
            .write_blocking(move |ctx| ctx.insert_notification(&n))
            .unwrap();
    }
    let index = SearchIndex::open(&dir.path().join("index")).unwrap();
    storage::indexer::rebuild(&store, &index).unwrap();
    let snap = store.snapshot().unwrap();
    let fine = compare_index(&store, &snap, &index).unwrap();
    assert!(fine.problems.is_empty(), "{:?}", fine.problems);
    assert_eq!((fine.documents, fine.notifications), (4, 4));
    drop(snap);

    // The index loses a document without the store knowing: reported, by id.
    index.delete(&[ids[2]]).unwrap();
    index.commit().unwrap();
    let snap = store.snapshot().unwrap();
    let found = compare_index(&store, &snap, &index).unwrap();
    assert_eq!(found.missing, 1);
    assert!(
        found.problems[0].contains(&format!(
            "notification {} is not in the search index",
            ids[2]
        )),
        "{:?}",
        found.problems
    );
}
