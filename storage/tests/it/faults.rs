//! Storage faults for real, at the storage layer: a store and a search index on a small tmpfs
//! that the test fills. A failed commit makes the store unavailable (reads and writes refused
//! at once with `StoreError::Unavailable`, `health()` says why); once space is freed the writer
//! reopens the database by itself and every acknowledged write is there. The index drops a
//! writer that failed and carries on with a new one.
//!
//! Mounting needs root (or CAP_SYS_ADMIN), as CI has. Where the machine cannot mount at all,
//! each test says so on stderr and returns without checking anything.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use storage::index::{IndexDoc, SearchIndex};
use storage::records::NotificationStatus;
use storage::{Store, StoreError, StoreHealth, StoreOptions};
use uuid::Uuid;

use crate::common::notification;

struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(test: &str, size_mb: u64) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m,mode=0700")])
            .arg("tmpfs")
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED {test}: cannot mount a {size_mb} MiB tmpfs to fill (needs root or \
                     CAP_SYS_ADMIN): mount said {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED {test}: cannot run mount to make a small filesystem: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn ballast(&self) -> PathBuf {
        self.path().join("ballast")
    }

    /// Write the ballast file until the filesystem refuses more.
    fn fill(&self) {
        let mut file = std::fs::File::create(self.ballast()).unwrap();
        let chunk = vec![0x5au8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("ballast: {e}"),
            }
        }
    }

    fn free(&self) {
        std::fs::remove_file(self.ballast()).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_disk_makes_the_store_unavailable_until_space_is_freed() {
    let Some(fs) = Tmpfs::mount("a_full_disk_makes_the_store_unavailable", 16) else {
        return;
    };
    let dir = fs.path().join("data");
    let store = Store::open(
        &dir,
        StoreOptions {
            cache_size: 1 << 20,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let service = Uuid::now_v7();
    let insert = |store: &Store| {
        let n = notification(service, "07700900123", NotificationStatus::Created);
        let id = n.id;
        store
            .write_blocking(move |ctx| ctx.insert_notification(&n))
            .map(|()| id)
    };
    let mut acked: Vec<Uuid> = (0..50).map(|_| insert(&store).unwrap()).collect();

    fs.fill();
    let mut failure = None;
    for _ in 0..100_000 {
        match insert(&store) {
            Ok(id) => acked.push(id),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let failure = failure.expect("inserts kept succeeding on a full disk");
    assert!(
        matches!(failure, StoreError::Unavailable { .. }),
        "the failed batch is answered as unavailable: {failure:?}"
    );
    assert!(
        failure.to_string().contains("No space left on device"),
        "{failure}"
    );
    // Everything is refused at once now, reads too, and the store says why.
    let err = insert(&store).unwrap_err();
    assert!(err.retry_after_secs().is_some(), "{err:?}");
    let err = store
        .read()
        .err()
        .expect("reads are refused while unavailable");
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    match store.health() {
        StoreHealth::Unavailable { reason, .. } => {
            assert!(reason.contains("No space left on device"), "{reason}")
        }
        other => panic!("{other:?}"),
    }

    fs.free();
    let start = Instant::now();
    let id = loop {
        match insert(&store) {
            Ok(id) => break id,
            Err(e) => assert!(e.retry_after_secs().is_some(), "{e:?}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the store never came back after space was freed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    acked.push(id);
    assert_eq!(store.health(), StoreHealth::Ok);
    let reader = store.read().unwrap();
    for id in &acked {
        assert!(reader.get_notification(*id).unwrap().is_some(), "{id} lost");
    }
    assert_eq!(reader.notification_count().unwrap(), acked.len() as u64);
    drop(reader);
    store.close();

    // And it opens as usual afterwards.
    let store = Store::open(&dir, StoreOptions::default()).unwrap();
    assert_eq!(
        store.read().unwrap().notification_count().unwrap(),
        acked.len() as u64
    );
}

fn doc(id: Uuid, service: Uuid) -> IndexDoc {
    IndexDoc {
        id,
        service_id: service,
        notification_type: "sms".into(),
        recipient: format!("4477009{:05}", id.as_u128() % 100_000),
        reference: None,
        created_at_ms: 1,
    }
}

#[test]
fn the_index_recreates_its_writer_after_a_full_disk() {
    let Some(fs) = Tmpfs::mount("the_index_recreates_its_writer_after_a_full_disk", 16) else {
        return;
    };
    let index = Arc::new(SearchIndex::open(&fs.path().join("index")).unwrap());
    index.mark_rebuilt().unwrap();
    let service = Uuid::now_v7();
    let first: Vec<Uuid> = (0..100).map(|_| Uuid::now_v7()).collect();
    let docs: Vec<IndexDoc> = first.iter().map(|id| doc(*id, service)).collect();
    index.add(&docs).unwrap();
    index.commit_through(1).unwrap();

    fs.fill();
    // Enough documents that the segment cannot be written.
    let lost: Vec<IndexDoc> = (0..20_000).map(|_| doc(Uuid::now_v7(), service)).collect();
    let failed = index.add(&lost).and_then(|()| index.commit_through(2));
    assert!(failed.is_err(), "a commit on a full disk must fail");
    assert_eq!(
        index.committed_through(),
        Some(1),
        "the failed commit recorded nothing"
    );

    fs.free();
    let again: Vec<IndexDoc> = (0..100).map(|_| doc(Uuid::now_v7(), service)).collect();
    index.add(&again).unwrap();
    index.commit_through(3).unwrap();
    assert_eq!(index.committed_through(), Some(3));
    assert_eq!(index.num_docs(), 200, "the old documents and the new ones");
    let hit = index
        .search(service, &again[0].id.to_string(), None, 5)
        .unwrap();
    assert_eq!(hit, vec![again[0].id]);
}
