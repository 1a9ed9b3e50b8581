//! What the store counts about its own work, for monitoring (the server's `/metrics`): commit
//! times, operations per commit, failed commits, and notifications entering each status by
//! type. Lock-free: the writer adds a few relaxed atomic increments per commit (never per
//! operation), and readers take a snapshot whenever they like.
//!
//! [`Histogram`] is also what the server uses on its own hot path (request latencies): fixed
//! buckets of atomics, where a mutex-guarded histogram would serialise every request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::records::{NotificationStatus, NotificationType};

const TYPES: usize = NotificationType::ALL.len();
const STATUSES: usize = NotificationStatus::ALL.len();

/// Upper bounds (seconds) of the commit-time buckets: a durable commit is an fsync, from
/// ~100 µs on a fast SSD to seconds on a struggling disk.
pub const COMMIT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// A histogram of durations with fixed bucket bounds, updated with relaxed atomics only.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds in seconds, ascending (the text format's `le`).
    bounds: &'static [f64],
    /// The same bounds in nanoseconds, for the comparison on the hot path.
    bounds_nanos: Box<[u64]>,
    /// One count per bound, plus one for values above the last bound.
    counts: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
}

/// A histogram's values at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound in seconds, observations in this bucket alone)`, ascending; the last
    /// bound is `f64::INFINITY`.
    pub buckets: Vec<(f64, u64)>,
    /// Every observation (the sum of the buckets, so the two always agree).
    pub count: u64,
    pub sum_seconds: f64,
}

impl Histogram {
    /// `bounds`: ascending upper bounds in seconds.
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            bounds_nanos: bounds.iter().map(|b| (b * 1e9) as u64).collect(),
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = self
            .bounds_nanos
            .iter()
            .position(|&bound| nanos <= bound)
            .unwrap_or(self.bounds_nanos.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.counts.iter().map(|c| c.load(Ordering::Relaxed)))
            .collect();
        HistogramSnapshot {
            count: buckets.iter().map(|(_, n)| n).sum(),
            buckets,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// Notifications that entered each status in one batch (plain numbers: the batch belongs to
/// the writer thread alone).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BatchEntries([[u32; STATUSES]; TYPES]);

impl BatchEntries {
    pub(crate) fn entered(&mut self, kind: NotificationType, status: NotificationStatus) {
        self.0[kind as usize][status as usize] += 1;
    }
}

/// The writer's counts since the store was opened.
#[derive(Debug)]
pub struct WriterStats {
    commit_time: Histogram,
    operations: AtomicU64,
    failed_commits: AtomicU64,
    entered: [[AtomicU64; STATUSES]; TYPES],
}

impl Default for WriterStats {
    fn default() -> Self {
        WriterStats {
            commit_time: Histogram::new(COMMIT_BUCKETS),
            operations: AtomicU64::new(0),
            failed_commits: AtomicU64::new(0),
            entered: Default::default(),
        }
    }
}

impl WriterStats {
    /// A durable commit of `operations` operations that took `took` (the commit and its fsync),
    /// and the status entries its operations made.
    pub(crate) fn committed(&self, took: Duration, operations: usize, entries: &BatchEntries) {
        self.commit_time.observe(took);
        self.operations
            .fetch_add(operations as u64, Ordering::Relaxed);
        for (kind, row) in entries.0.iter().enumerate() {
            for (status, &n) in row.iter().enumerate() {
                if n > 0 {
                    self.entered[kind][status].fetch_add(u64::from(n), Ordering::Relaxed);
                }
            }
        }
    }

    /// A batch whose commit failed: nothing in it was written.
    pub(crate) fn failed(&self) {
        self.failed_commits.fetch_add(1, Ordering::Relaxed);
    }

    /// Durations of durable commits (transaction commit and fsync).
    pub fn commit_time(&self) -> HistogramSnapshot {
        self.commit_time.snapshot()
    }

    /// Operations in committed batches.
    pub fn operations(&self) -> u64 {
        self.operations.load(Ordering::Relaxed)
    }

    /// Batches refused whole (a storage failure, a panicking operation).
    pub fn failed_commits(&self) -> u64 {
        self.failed_commits.load(Ordering::Relaxed)
    }

    /// How many notifications of each type entered each status (a new notification enters its
    /// first status), counted once their commit was durable. Every pair, zeros included.
    pub fn status_entries(&self) -> Vec<(NotificationType, NotificationStatus, u64)> {
        let mut out = Vec::with_capacity(TYPES * STATUSES);
        for &kind in NotificationType::ALL {
            for &status in NotificationStatus::ALL {
                let n = self.entered[kind as usize][status as usize].load(Ordering::Relaxed);
                out.push((kind, status, n));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let h = Histogram::new(&[0.001, 0.01]);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(1));
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_secs(3));
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![(0.001, 2), (0.01, 1), (f64::INFINITY, 1)]);
        assert_eq!(s.count, 4);
        assert!((s.sum_seconds - 3.0065).abs() < 1e-9, "{}", s.sum_seconds);
    }

    #[test]
    fn entries_are_counted_per_type_and_status_once_committed() {
        let stats = WriterStats::default();
        let mut batch = BatchEntries::default();
        batch.entered(NotificationType::Sms, NotificationStatus::Created);
        batch.entered(NotificationType::Sms, NotificationStatus::Created);
        batch.entered(NotificationType::Email, NotificationStatus::Delivered);
        stats.committed(Duration::from_millis(2), 3, &batch);
        stats.failed();
        let entries = stats.status_entries();
        assert_eq!(entries.len(), TYPES * STATUSES);
        let count = |k, s| {
            entries
                .iter()
                .find(|(kind, status, _)| *kind == k && *status == s)
                .unwrap()
                .2
        };
        assert_eq!(count(NotificationType::Sms, NotificationStatus::Created), 2);
        assert_eq!(
            count(NotificationType::Email, NotificationStatus::Delivered),
            1
        );
        assert_eq!(
            count(NotificationType::Letter, NotificationStatus::Created),
            0
        );
        assert_eq!(stats.operations(), 3);
        assert_eq!(stats.failed_commits(), 1);
        assert_eq!(stats.commit_time().count, 1);
    }
}
