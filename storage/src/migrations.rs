//! Schema migrations: how a store written by an older notify is brought up to this binary's
//! schema when it is opened.
//!
//! A store records its schema version in the `meta` table. [`STEPS`] is the ordered list of
//! changes since version 1: `STEPS[0]` takes a store from version 1 to 2, `STEPS[1]` from 2 to 3,
//! and so on, so this binary's version, [`SCHEMA_VERSION`], is one more than the number of steps.
//! [`crate::Store::open`] runs the steps a store is missing:
//!
//! - first it copies the database file beside itself, as
//!   `notify.redb.v<found>-<UTC time>.backup` (mode 0600; the log names it). It is a copy of the
//!   store exactly as the older binary left it: to go back, stop notify, put the copy back as
//!   `notify.redb` and run the older binary (redb checks the copy on first open);
//! - then each step runs in one write transaction that also records the version it produces, so
//!   a step is applied whole or not at all: a failed step leaves the store exactly as it was
//!   before that step (the steps before it stay applied, and the next open carries on from
//!   there), and `open` returns [`StoreError::Migration`] naming the step;
//! - a store whose version is newer than [`SCHEMA_VERSION`] is refused
//!   ([`StoreError::SchemaTooNew`]): an older binary never guesses at newer records.
//!
//! ## Adding a step
//!
//! Records are a format byte and bincode 2 ([`crate::codec`]), which is not self-describing: a
//! record that gains, loses or retypes a field cannot be read by the new struct, so every stored
//! record of that kind must be rewritten by a step. To add a field to, say, `User`:
//!
//! 1. copy today's `User` into `records::v1` (a `pub mod v1` in `records.rs`, named after the
//!    last version that wrote this shape) — it is only ever decoded from now on;
//! 2. change `records::User` (add the field);
//! 3. write the step's function and add it to [`STEPS`]:
//!
//!    ```text
//!    fn users_gain_platform_admin(txn: &redb::WriteTransaction) -> Result<()> {
//!        rewrite_records(txn, tables::USERS, |old: records::v1::User| records::User {
//!            id: old.id,
//!            name: old.name,
//!            // ... every old field ...
//!            platform_admin: false, // the new field's value for existing rows
//!        })?;
//!        Ok(())
//!    }
//!
//!    pub const STEPS: &[Step] = &[Step {
//!        to: 2,
//!        name: "users gain platform_admin",
//!        apply: users_gain_platform_admin,
//!    }];
//!    ```
//!
//! 4. the fixture test (`storage/tests/it/schema.rs`) opens the committed version-1 store in
//!    `fixtures/storage/v1/` with the new code: extend its checks to the new field. When a
//!    release ships with the new version, commit a fixture of it too (see that directory's
//!    README), so every later step is tested from every released version.
//!
//! A step gets the whole transaction: it may also create, fill or delete tables. It must not
//! depend on anything but the store (no clock, no config): it runs once per store, before
//! anything else.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Serialize, de::DeserializeOwned};

use crate::codec::{decode, encode};
use crate::error::{Result, StoreError};
use crate::tables::META;

/// One change to the stored layout, from version `to - 1` to `to`.
#[derive(Clone, Copy)]
pub struct Step {
    /// The version this step produces.
    pub to: u32,
    /// What it does, in a few words (named in the log and in errors).
    pub name: &'static str,
    /// Applied inside the step's write transaction; an error aborts it.
    pub apply: fn(&WriteTransaction) -> Result<()>,
}

/// Every step since version 1, in order (see the module notes).
pub const STEPS: &[Step] = &[
    Step {
        to: 2,
        name: "users gain accounts: state, password, second factor, per-service permissions",
        apply: users_gain_accounts,
    },
    Step {
        to: 3,
        name: "hourly status counts per service, counted from every stored notification",
        apply: hourly_status_counts,
    },
];

/// Version 3: live status counts per service and hour ([`crate::hourly_counts`]), which every
/// later write keeps in step, so they are counted once here from what is stored. (Hours older
/// than the nightly job keeps are pruned by its next run.)
fn hourly_status_counts(txn: &WriteTransaction) -> Result<()> {
    crate::hourly_counts::build_from_scratch(txn)
}

/// Version 2: people sign in. Every user gains the account fields; existing users had nothing
/// to sign in with, so they become active accounts without a password (they choose one with
/// "forgotten your password", proving their email address) and with the emailed second factor
/// (a mobile number is optional). Every existing team membership gains every permission:
/// before version 2 any team member's access was the operator's.
fn users_gain_accounts(txn: &WriteTransaction) -> Result<()> {
    use crate::records::{self, AuthType, Membership, Permission, UserState};
    use crate::tables::{SERVICE_USERS, USER_SERVICES, USERS};

    let mut created = std::collections::HashMap::new();
    rewrite_records(txn, USERS, |old: records::v1::User| {
        created.insert(old.id, old.created_at);
        records::User {
            id: old.id,
            name: old.name,
            email_address: old.email_address,
            mobile_number: old.mobile_number,
            created_at: old.created_at,
            state: UserState::Active,
            platform_admin: false,
            auth_type: AuthType::Email,
            password_hash: None,
            password_changed_at: None,
            failed_login_count: 0,
            totp_secret_sealed: None,
            totp_last_step: None,
            logged_in_at: None,
            updated_at: None,
        }
    })?;
    let memberships: Vec<(u128, u128)> = {
        let links = txn.open_table(SERVICE_USERS)?;
        let mut all = Vec::new();
        for row in links.iter()? {
            all.push(row?.0.value());
        }
        all
    };
    let mut user_services = txn.open_table(USER_SERVICES)?;
    for (service, user) in memberships {
        let membership = Membership {
            service_id: uuid::Uuid::from_u128(service),
            user_id: uuid::Uuid::from_u128(user),
            permissions: Permission::ALL.to_vec(),
            created_at: created
                .get(&uuid::Uuid::from_u128(user))
                .copied()
                .unwrap_or(0),
        };
        user_services.insert((user, service), encode(&membership).as_slice())?;
    }
    Ok(())
}

/// The schema version this binary reads and writes.
pub const SCHEMA_VERSION: u32 = latest_version(STEPS);

/// The version a store reaches once every one of `steps` is applied.
pub const fn latest_version(steps: &[Step]) -> u32 {
    1 + steps.len() as u32
}

/// Where the store records its schema version.
pub(crate) const SCHEMA_KEY: &str = "schema_version";

/// Records rewritten per read-then-write round of [`rewrite_records`]: bounds its memory.
const REWRITE_CHUNK: usize = 1000;

/// The version recorded in the store, `None` for a store that never recorded one (a new file).
pub fn stored_version(db: &Database) -> Result<Option<u32>> {
    let txn = db.begin_read()?;
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(value) = meta.get(SCHEMA_KEY)? else {
        return Ok(None);
    };
    let bytes: [u8; 4] = value
        .value()
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            StoreError::Codec(format!(
                "the stored schema version is unreadable: {:?}",
                value.value()
            ))
        })?;
    Ok(Some(u32::from_le_bytes(bytes)))
}

pub(crate) fn record_version(txn: &WriteTransaction, version: u32) -> Result<()> {
    txn.open_table(META)?
        .insert(SCHEMA_KEY, version.to_le_bytes().as_slice())?;
    Ok(())
}

/// Bring the store at `path` (open as `db`) up to the version `steps` lead to, backing the file
/// up first. Returns the backup's path when steps ran. A store that never recorded a version is
/// new and needs none.
pub(crate) fn migrate(
    db: &Database,
    path: &Path,
    steps: &[Step],
    now: DateTime<Utc>,
) -> Result<Option<PathBuf>> {
    let latest = latest_version(steps);
    let Some(found) = stored_version(db)? else {
        return Ok(None);
    };
    if found > latest {
        return Err(StoreError::SchemaTooNew {
            path: path.display().to_string(),
            found,
            supported: latest,
        });
    }
    if found == latest {
        return Ok(None);
    }
    if found == 0 {
        return Err(StoreError::Codec(format!(
            "{} records schema version 0, which no notify ever wrote",
            path.display()
        )));
    }
    let backup = back_up(path, found, now)?;
    tracing::info!(
        from = found,
        to = latest,
        backup = %backup.display(),
        "the store's schema is older than this binary's: copied {} to {} and migrating it",
        path.display(),
        backup.display(),
    );
    for (number, step) in steps.iter().enumerate().skip((found - 1) as usize) {
        let from = number as u32 + 1;
        let failed = |message: String| StoreError::Migration {
            path: path.display().to_string(),
            step: step.name.to_string(),
            from,
            to: step.to,
            message,
            backup: backup.display().to_string(),
        };
        let started = std::time::Instant::now();
        let txn = db.begin_write()?;
        // The check is cheap insurance: a step in the wrong place would record a version
        // whose records it never wrote.
        let applied = if step.to != from + 1 {
            Err(StoreError::Invalid(format!(
                "step {:?} claims version {} but takes the store from version {from}",
                step.name, step.to
            )))
        } else {
            (step.apply)(&txn).and_then(|()| record_version(&txn, step.to))
        };
        match applied {
            Ok(()) => txn.commit().map_err(|e| failed(e.to_string()))?,
            Err(e) => {
                // Nothing of the step is kept; the error is the step's, not the abort's.
                let _ = txn.abort();
                return Err(failed(e.to_string()));
            }
        }
        tracing::info!(
            from,
            to = step.to,
            step = step.name,
            ms = started.elapsed().as_millis() as u64,
            "applied schema migration step"
        );
    }
    Ok(Some(backup))
}

/// Copy the database file beside itself, owner-only, synced to disk. Never overwrites an
/// earlier backup. The copy is taken while this process holds the database open (so no other
/// writes can happen) and before any step wrote anything.
fn back_up(path: &Path, version: u32, now: DateTime<Utc>) -> Result<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "notify.redb".into());
    let stamp = now.format("%Y%m%dT%H%M%SZ");
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut attempt = 1;
    loop {
        let suffix = if attempt == 1 {
            String::new()
        } else {
            format!("-{attempt}")
        };
        let backup = dir.join(format!("{name}.v{version}-{stamp}{suffix}.backup"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut out = match options.open(&backup) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
                continue;
            }
            Err(e) => return Err(backup_failed(path, &backup, e)),
        };
        let copied = (|| {
            let mut source = std::fs::File::open(path)?;
            std::io::copy(&mut source, &mut out)?;
            out.flush()?;
            out.sync_all()?;
            // The new name must survive a crash too.
            std::fs::File::open(dir)?.sync_all()
        })();
        if let Err(e) = copied {
            drop(out);
            let _ = std::fs::remove_file(&backup);
            return Err(backup_failed(path, &backup, e));
        }
        return Ok(backup);
    }
}

fn backup_failed(path: &Path, backup: &Path, e: std::io::Error) -> StoreError {
    StoreError::MigrationBackup {
        path: path.display().to_string(),
        backup: backup.display().to_string(),
        message: e.to_string(),
    }
}

/// Rewrite every record of `table` from its old shape `Old` to its new one `New` with
/// `convert`, in the step's transaction (see the module notes). Works through the table in
/// chunks, so memory stays bounded whatever its size. Returns how many records it rewrote; a
/// record that does not decode as `Old` fails the step, naming the table.
pub fn rewrite_records<K, Old, New>(
    txn: &WriteTransaction,
    table: TableDefinition<K, &'static [u8]>,
    mut convert: impl FnMut(Old) -> New,
) -> Result<u64>
where
    K: redb::Key + 'static,
    Old: DeserializeOwned,
    New: Serialize,
{
    let name = table.to_string();
    let mut table = txn.open_table(table)?;
    let mut after: Option<Vec<u8>> = None;
    let mut rewritten = 0u64;
    loop {
        let mut chunk: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(REWRITE_CHUNK);
        {
            let rows = match &after {
                None => table.range::<K::SelfType<'_>>(..)?,
                Some(last) => table.range::<K::SelfType<'_>>((
                    std::ops::Bound::Excluded(K::from_bytes(last)),
                    std::ops::Bound::Unbounded,
                ))?,
            };
            for row in rows.take(REWRITE_CHUNK) {
                let (key, value) = row?;
                let old: Old = decode(value.value()).map_err(|e| {
                    StoreError::Codec(format!(
                        "a record in table {name} is not in the old shape: {e}"
                    ))
                })?;
                let key = K::as_bytes(&key.value()).as_ref().to_vec();
                chunk.push((key, encode(&convert(old))));
            }
        }
        let Some((last, _)) = chunk.last() else {
            return Ok(rewritten);
        };
        let last = last.clone();
        for (key, value) in &chunk {
            table.insert(K::from_bytes(key), value.as_slice())?;
        }
        rewritten += chunk.len() as u64;
        after = Some(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde::Deserialize;

    const THINGS: TableDefinition<u128, &[u8]> = TableDefinition::new("test_thing");
    const ROWS: u128 = 2 * REWRITE_CHUNK as u128 + 500;

    /// The synthetic record as version 1 wrote it.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct ThingV1 {
        name: String,
    }

    /// The same record after it gained a field.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Thing {
        name: String,
        colour: Option<String>,
    }

    fn things_gain_a_colour(txn: &WriteTransaction) -> Result<()> {
        rewrite_records(txn, THINGS, |old: ThingV1| Thing {
            name: old.name,
            colour: None,
        })?;
        Ok(())
    }

    fn fails_after_writing(txn: &WriteTransaction) -> Result<()> {
        things_gain_a_colour(txn)?;
        txn.open_table(THINGS)?
            .insert(u128::MAX, b"junk".as_slice())?;
        Err(StoreError::Invalid("synthetic failure".into()))
    }

    const ADD_COLOUR: Step = Step {
        to: 2,
        name: "things gain a colour",
        apply: things_gain_a_colour,
    };

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap()
    }

    /// A version-1 store with [`ROWS`] things, at `dir/notify.redb`.
    fn v1_store(dir: &Path) -> (PathBuf, Database) {
        let path = dir.join("notify.redb");
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        record_version(&txn, 1).unwrap();
        {
            let mut things = txn.open_table(THINGS).unwrap();
            for i in 0..ROWS {
                let v = encode(&ThingV1 {
                    name: format!("thing {i}"),
                });
                things.insert(i, v.as_slice()).unwrap();
            }
        }
        txn.commit().unwrap();
        (path, db)
    }

    fn things<T: DeserializeOwned>(db: &impl ReadableDatabase) -> Result<Vec<T>> {
        let txn = db.begin_read()?;
        let table = txn.open_table(THINGS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            out.push(decode(row?.1.value())?);
        }
        Ok(out)
    }

    fn backups(dir: &Path) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".backup"))
            .collect();
        found.sort();
        found
    }

    #[test]
    fn this_binarys_steps_are_numbered_in_order() {
        for (i, step) in STEPS.iter().enumerate() {
            assert_eq!(step.to, i as u32 + 2, "step {:?}", step.name);
        }
        assert_eq!(SCHEMA_VERSION, crate::tables::SCHEMA_VERSION);
    }

    #[test]
    fn steps_run_after_a_backup_and_rewrite_every_record() {
        let dir = tempfile::tempdir().unwrap();
        let (path, db) = v1_store(dir.path());
        let backup = migrate(&db, &path, &[ADD_COLOUR], now())
            .unwrap()
            .expect("a step ran");
        assert_eq!(stored_version(&db).unwrap(), Some(2));
        let now_things: Vec<Thing> = things(&db).unwrap();
        assert_eq!(now_things.len() as u128, ROWS, "every chunk was rewritten");
        assert_eq!(
            now_things[1234],
            Thing {
                name: "thing 1234".into(),
                colour: None
            }
        );

        assert_eq!(backups(dir.path()), vec![backup.clone()]);
        assert_eq!(
            backup.file_name().unwrap().to_string_lossy(),
            "notify.redb.v1-20260301T093000Z.backup"
        );
        assert_eq!(crate::files::open_to_others(&backup).unwrap(), None);
        // The copy is the store as version 1 left it.
        let old = Database::create(&backup).unwrap();
        assert_eq!(stored_version(&old).unwrap(), Some(1));
        let old_things: Vec<ThingV1> = things(&old).unwrap();
        assert_eq!(old_things.len() as u128, ROWS);
        assert!(things::<Thing>(&old).is_err(), "old records need the step");

        // Opened again: nothing left to do, no second backup.
        assert_eq!(migrate(&db, &path, &[ADD_COLOUR], now()).unwrap(), None);
        assert_eq!(backups(dir.path()).len(), 1);
    }

    #[test]
    fn a_failing_step_changes_nothing_and_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (path, db) = v1_store(dir.path());
        let failing = Step {
            to: 2,
            name: "things gain a colour, then fail",
            apply: fails_after_writing,
        };
        let err = migrate(&db, &path, &[failing], now()).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, StoreError::Migration { from: 1, to: 2, .. }),
            "{err:?}"
        );
        assert!(
            message.contains("things gain a colour, then fail"),
            "{message}"
        );
        assert!(message.contains("synthetic failure"), "{message}");
        assert!(
            message.contains(".backup"),
            "says where the copy is: {message}"
        );
        assert_eq!(stored_version(&db).unwrap(), Some(1));
        let unchanged: Vec<ThingV1> = things(&db).unwrap();
        assert_eq!(
            unchanged.len() as u128,
            ROWS,
            "no junk row, no rewritten row"
        );
        assert_eq!(unchanged[7].name, "thing 7");
        // A later open tries again (a new backup: the last one stays as it was).
        let err = migrate(&db, &path, &[Step { to: 2, ..failing }], now());
        assert!(err.is_err());
        assert_eq!(backups(dir.path()).len(), 2);
    }

    #[test]
    fn a_failing_later_step_keeps_the_earlier_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (path, db) = v1_store(dir.path());
        let failing = Step {
            to: 3,
            name: "a step that fails",
            apply: |_| Err(StoreError::Invalid("synthetic failure".into())),
        };
        let err = migrate(&db, &path, &[ADD_COLOUR, failing], now()).unwrap_err();
        assert!(
            matches!(err, StoreError::Migration { from: 2, to: 3, .. }),
            "{err:?}"
        );
        assert_eq!(stored_version(&db).unwrap(), Some(2));
        assert_eq!(things::<Thing>(&db).unwrap().len() as u128, ROWS);
        // Once the step is fixed, the next open runs only what is left.
        let fixed = Step {
            to: 3,
            name: "a step that works",
            apply: |_| Ok(()),
        };
        migrate(&db, &path, &[ADD_COLOUR, fixed], now()).unwrap();
        assert_eq!(stored_version(&db).unwrap(), Some(3));
        assert_eq!(things::<Thing>(&db).unwrap().len() as u128, ROWS);
    }

    #[test]
    fn a_store_newer_than_the_binary_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (path, db) = v1_store(dir.path());
        let txn = db.begin_write().unwrap();
        record_version(&txn, 3).unwrap();
        txn.commit().unwrap();
        let err = migrate(&db, &path, &[ADD_COLOUR], now()).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::SchemaTooNew {
                    found: 3,
                    supported: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("newer"), "{message}");
        assert_eq!(stored_version(&db).unwrap(), Some(3));
        assert!(backups(dir.path()).is_empty());
    }

    #[test]
    fn a_new_store_needs_no_steps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.redb");
        let db = Database::create(&path).unwrap();
        assert_eq!(migrate(&db, &path, &[ADD_COLOUR], now()).unwrap(), None);
        assert!(backups(dir.path()).is_empty());
    }

    #[test]
    fn a_step_out_of_place_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (path, db) = v1_store(dir.path());
        let misplaced = Step {
            to: 3,
            ..ADD_COLOUR
        };
        let err = migrate(&db, &path, &[misplaced], now()).unwrap_err();
        assert!(err.to_string().contains("claims version 3"), "{err}");
        assert_eq!(stored_version(&db).unwrap(), Some(1));
    }
}
