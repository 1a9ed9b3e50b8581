//! What is wrong with the store right now, if anything, and the open database readers use.
//!
//! Two conditions, both answered as "try again later" (HTTP 503 with `Retry-After`) and shown
//! by `/_status` as `degraded`:
//!
//! - a **storage fault**: redb reported an I/O error (a full disk, a failing device) and, as
//!   redb requires, the writer closed the database and reopens it with back-off
//!   ([`crate::recovery`]). Meanwhile every read and write is refused at once with
//!   [`StoreError::Unavailable`];
//! - **low disk space**: free space on the data directory's filesystem is below the
//!   [`LowDiskWatermark`]. New work (a new notification) is refused with
//!   [`StoreError::LowDiskSpace`] *before* the disk is full, so that work already accepted
//!   (deliveries, status updates, callbacks) can still finish.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use redb::Database;

use crate::error::{Result, StoreError};

/// Below how much free space on the data directory's filesystem new work is refused: the
/// smaller of `min_free_bytes` and `min_free_percent` of the filesystem's size (so a small
/// volume is held to a share of its size, a large one to a fixed amount). Either at 0 turns
/// the check off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LowDiskWatermark {
    pub min_free_bytes: u64,
    pub min_free_percent: u8,
}

impl Default for LowDiskWatermark {
    /// 1 GiB or 5%, whichever is smaller.
    fn default() -> Self {
        LowDiskWatermark {
            min_free_bytes: 1 << 30,
            min_free_percent: 5,
        }
    }
}

impl LowDiskWatermark {
    pub const OFF: LowDiskWatermark = LowDiskWatermark {
        min_free_bytes: 0,
        min_free_percent: 0,
    };

    /// The free bytes below which new work is refused on a filesystem of `total` bytes.
    pub fn threshold(&self, total: u64) -> u64 {
        let share = (u128::from(total) * u128::from(self.min_free_percent.min(100)) / 100) as u64;
        self.min_free_bytes.min(share)
    }

    fn is_off(&self) -> bool {
        self.min_free_bytes == 0 || self.min_free_percent == 0
    }
}

/// Free bytes (for an unprivileged user) on the filesystem holding `path`.
pub fn available_space(path: &Path) -> std::io::Result<u64> {
    fs4::statvfs(path).map(|s| s.available_space())
}

/// The store's condition, for `/_status` and the status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreHealth {
    Ok,
    /// A storage fault; the database is being reopened.
    Unavailable {
        reason: String,
        for_secs: u64,
    },
    /// Free space is below the watermark: new notifications are refused.
    LowDiskSpace {
        free_bytes: u64,
        min_free_bytes: u64,
    },
}

impl StoreHealth {
    /// What is wrong, in a sentence for operators; `None` when all is well.
    pub fn problem(&self) -> Option<String> {
        match self {
            StoreHealth::Ok => None,
            StoreHealth::Unavailable { reason, for_secs } => Some(format!(
                "storage unavailable for {for_secs} s after a storage failure ({reason}); \
                 the database is being reopened, reads and writes are refused meanwhile"
            )),
            StoreHealth::LowDiskSpace {
                free_bytes,
                min_free_bytes,
            } => Some(format!(
                "low disk space: {} MiB free on the data directory's filesystem, below the {} MiB \
                 watermark; new notifications are refused until space is freed",
                free_bytes >> 20,
                min_free_bytes.div_ceil(1 << 20)
            )),
        }
    }
}

/// How long a low-disk refusal tells the client to wait.
pub const LOW_DISK_RETRY_SECS: u64 = 30;
/// How often free space is looked at (a `statvfs`), at most.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// The store's shared condition: set by the writer, read by everyone.
pub(crate) struct Health {
    dir: PathBuf,
    watermark: LowDiskWatermark,
    /// Fast check for [`Health::fault`].
    faulted: AtomicBool,
    fault: Mutex<Option<Fault>>,
    space: Mutex<SpaceSample>,
}

struct Fault {
    reason: String,
    since: Instant,
    /// When the writer next tries to reopen the database.
    retry_at: Instant,
}

#[derive(Default)]
struct SpaceSample {
    at: Option<Instant>,
    free: u64,
    threshold: u64,
}

impl Health {
    pub(crate) fn new(dir: &Path, watermark: LowDiskWatermark) -> Health {
        Health {
            dir: dir.to_path_buf(),
            watermark,
            faulted: AtomicBool::new(false),
            fault: Mutex::new(None),
            space: Mutex::new(SpaceSample::default()),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn set_fault(&self, reason: String, retry_at: Instant) {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = Some(Fault {
            reason,
            since: Instant::now(),
            retry_at,
        });
        self.faulted.store(true, Ordering::Release);
    }

    pub(crate) fn set_retry_at(&self, retry_at: Instant) {
        if let Some(fault) = self
            .fault
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            fault.retry_at = retry_at;
        }
    }

    pub(crate) fn clear_fault(&self) {
        self.faulted.store(false, Ordering::Release);
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The error every read and write gets while the database is being reopened.
    pub(crate) fn unavailable(&self) -> StoreError {
        let fault = self.fault.lock().unwrap_or_else(|p| p.into_inner());
        let (reason, retry_at) = match fault.as_ref() {
            Some(f) => (f.reason.clone(), f.retry_at),
            None => ("the database is closed".to_string(), Instant::now()),
        };
        let wait = retry_at.saturating_duration_since(Instant::now());
        StoreError::Unavailable {
            reason,
            retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
        }
    }

    /// Free bytes and the threshold, looked up at most once a [`SAMPLE_EVERY`]. `None` when the
    /// watermark is off or the filesystem cannot be asked (then nothing is refused).
    fn space(&self) -> Option<(u64, u64)> {
        if self.watermark.is_off() {
            return None;
        }
        let mut sample = self.space.lock().unwrap_or_else(|p| p.into_inner());
        if sample.at.is_none_or(|at| at.elapsed() >= SAMPLE_EVERY) {
            match fs4::statvfs(&self.dir) {
                Ok(stats) => {
                    sample.free = stats.available_space();
                    sample.threshold = self.watermark.threshold(stats.total_space());
                }
                Err(e) => {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "cannot read the free space of the data directory's filesystem");
                    sample.free = u64::MAX;
                }
            }
            sample.at = Some(Instant::now());
        }
        Some((sample.free, sample.threshold))
    }

    /// Refuse new work (a new notification) while the store is unavailable or low on space.
    pub(crate) fn check_new_work(&self) -> Result<()> {
        if self.faulted.load(Ordering::Acquire) {
            return Err(self.unavailable());
        }
        match self.space() {
            Some((free, threshold)) if free < threshold => Err(StoreError::LowDiskSpace {
                free_bytes: free,
                min_free_bytes: threshold,
            }),
            _ => Ok(()),
        }
    }

    pub(crate) fn status(&self) -> StoreHealth {
        if let Some(f) = self
            .fault
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            return StoreHealth::Unavailable {
                reason: f.reason.clone(),
                for_secs: f.since.elapsed().as_secs(),
            };
        }
        match self.space() {
            Some((free, threshold)) if free < threshold => StoreHealth::LowDiskSpace {
                free_bytes: free,
                min_free_bytes: threshold,
            },
            _ => StoreHealth::Ok,
        }
    }
}

/// The open database, shared by readers and the writer. Empty while the writer reopens it
/// after a storage fault: readers then get [`StoreError::Unavailable`] at once.
pub(crate) struct DbSlot {
    db: RwLock<Option<Arc<Database>>>,
}

impl DbSlot {
    pub(crate) fn new(db: Arc<Database>) -> DbSlot {
        DbSlot {
            db: RwLock::new(Some(db)),
        }
    }

    pub(crate) fn get(&self, health: &Health) -> Result<Arc<Database>> {
        self.db
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| health.unavailable())
    }

    pub(crate) fn set(&self, db: Option<Arc<Database>>) {
        *self.db.write().unwrap_or_else(|p| p.into_inner()) = db;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_is_the_smaller_of_its_two_limits() {
        let w = LowDiskWatermark::default();
        let gib = 1u64 << 30;
        assert_eq!(w.threshold(64 << 20), (64 << 20) / 20, "a small volume: 5%");
        assert_eq!(w.threshold(1000 * gib), gib, "a large one: 1 GiB");
        assert_eq!(LowDiskWatermark::OFF.threshold(1000 * gib), 0);
        let bytes_only = LowDiskWatermark {
            min_free_bytes: 10,
            min_free_percent: 0,
        };
        assert!(bytes_only.is_off(), "either limit at 0 turns it off");
    }

    #[test]
    fn new_work_is_refused_below_the_watermark_and_while_faulted() {
        let dir = tempfile::tempdir().unwrap();
        let ok = Health::new(dir.path(), LowDiskWatermark::OFF);
        assert!(ok.check_new_work().is_ok());
        assert_eq!(ok.status(), StoreHealth::Ok);

        // Asking for more free space than any filesystem has.
        let full = Health::new(
            dir.path(),
            LowDiskWatermark {
                min_free_bytes: u64::MAX,
                min_free_percent: 100,
            },
        );
        let err = full.check_new_work().unwrap_err();
        assert!(matches!(err, StoreError::LowDiskSpace { .. }), "{err:?}");
        assert_eq!(err.retry_after_secs(), Some(LOW_DISK_RETRY_SECS));
        let problem = full.status().problem().unwrap();
        assert!(problem.contains("low disk space"), "{problem}");

        ok.set_fault(
            "No space left on device".into(),
            Instant::now() + Duration::from_secs(3),
        );
        let err = ok.check_new_work().unwrap_err();
        match &err {
            StoreError::Unavailable {
                reason,
                retry_after_secs,
            } => {
                assert_eq!(reason, "No space left on device");
                assert!((1..=3).contains(retry_after_secs), "{retry_after_secs}");
            }
            other => panic!("{other:?}"),
        }
        assert!(ok.status().problem().unwrap().contains("No space left"));
        ok.clear_fault();
        assert!(ok.check_new_work().is_ok());
    }
}
