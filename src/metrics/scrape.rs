//! The metrics read at scrape time from what the appliance already keeps, so the hot paths
//! count nothing for them: live notifications per status (the store's status counts), status
//! entries and commit times (the writer's own counts), queue depths and their oldest due row,
//! the search index's lag and size, the store's size and health, SMS provider shares.
//!
//! [`Snapshot::take`] reads everything (blocking: store reads and file sizes), then the
//! snapshot encodes itself as a prometheus-client [`Collector`].

use std::path::Path;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use storage::records::NotificationStatus;
use storage::stats::HistogramSnapshot;

use super::histogram::SnapshotHistogram;
use crate::app::App;
use crate::domain::queues::Queue;
use crate::providers::SmsSender;
use crate::providers::sms::ProviderShare;

/// One queue's rows.
#[derive(Debug)]
struct QueueRow {
    name: String,
    ready: u64,
    leased: u64,
    /// How long the earliest due ready row has been due (0 when none is due yet).
    oldest_due_age_seconds: f64,
}

/// The values read at one scrape. Parts the store could not give (while it recovers from a
/// storage fault) are left out rather than shown as zero.
#[derive(Debug, Default)]
pub struct Snapshot {
    statuses: Option<Vec<(&'static str, u64)>>,
    entries: Vec<(&'static str, &'static str, u64)>,
    queues: Option<Vec<QueueRow>>,
    index_lag: Option<u64>,
    index_documents: u64,
    store_bytes: Option<u64>,
    index_bytes: Option<u64>,
    disk_available: Option<u64>,
    healthy: bool,
    commit_time: Option<HistogramSnapshot>,
    commit_operations: u64,
    failed_commits: u64,
    shares: Vec<ProviderShare>,
}

impl Snapshot {
    /// Read everything. Blocking: call it off the async runtime.
    pub fn take(app: &App) -> Snapshot {
        let store = &app.store;
        let stats = store.writer_stats();
        let reader = store.read().map_err(|e| {
            tracing::warn!(error = %e, "metrics: the store cannot be read; its figures are left out");
        });
        let reader = reader.ok();
        let statuses = reader
            .as_ref()
            .and_then(|r| r.status_counts().ok())
            .map(|counts| {
                NotificationStatus::ALL
                    .iter()
                    .map(|s| {
                        let n = counts.iter().find(|(c, _)| c == s).map_or(0, |(_, n)| *n);
                        (s.as_str(), n)
                    })
                    .collect()
            });
        let index_lag = reader.as_ref().and_then(|r| r.outbox_len().ok());
        let now_ms = store.clock().now_ms();
        let queues = store.queue_depths().ok().map(|depths| {
            // Every queue the appliance has, empty ones too, so each series exists from the
            // first scrape (the store lists only queues holding rows).
            let mut all: Vec<(String, u64, u64)> = Queue::ALL
                .iter()
                .map(|q| (q.name().to_string(), 0, 0))
                .collect();
            for (name, ready, leased) in depths {
                match all.iter_mut().find(|(n, _, _)| *n == name) {
                    Some(row) => *row = (name, ready, leased),
                    None => all.push((name, ready, leased)),
                }
            }
            all.into_iter()
                .map(|(name, ready, leased)| {
                    let due = store.earliest_due_ms(&name).ok().flatten();
                    let overdue_ms = due.map_or(0, |due| (now_ms - due).max(0));
                    QueueRow {
                        name,
                        ready,
                        leased,
                        oldest_due_age_seconds: overdue_ms as f64 / 1000.0,
                    }
                })
                .collect()
        });
        let data_dir = &app.config.data_dir;
        Snapshot {
            statuses,
            entries: stats
                .status_entries()
                .into_iter()
                .map(|(kind, status, n)| (kind.as_str(), status.as_str(), n))
                .collect(),
            queues,
            index_lag,
            index_documents: app.index.num_docs(),
            store_bytes: std::fs::metadata(storage::database_path(data_dir))
                .ok()
                .map(|m| m.len()),
            index_bytes: dir_size(&crate::app::index_dir(&app.config)),
            disk_available: storage::health::available_space(data_dir).ok(),
            healthy: store.health().problem().is_none(),
            commit_time: Some(stats.commit_time()),
            commit_operations: stats.operations(),
            failed_commits: stats.failed_commits(),
            shares: match &app.providers.sms {
                SmsSender::Http(providers) => providers.shares(),
                SmsSender::Outbox => Vec::new(),
            },
        }
    }
}

/// Bytes of the files under `dir` (the search index: a flat directory of segment files).
fn dir_size(dir: &Path) -> Option<u64> {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).ok()?.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => pending.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    Some(total)
}

/// A gauge or counter with one value per label set.
fn family<L: AsRef<[(&'static str, V)]>, V: AsRef<str>>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    rows: impl IntoIterator<Item = (L, f64)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in rows {
        let labels: Vec<(&str, &str)> = labels
            .as_ref()
            .iter()
            .map(|(k, v)| (*k, v.as_ref()))
            .collect();
        let mut one = metric.encode_family(&labels)?;
        match kind {
            MetricType::Counter => one.encode_counter::<NoLabelSet, _, f64>(&value, None)?,
            _ => one.encode_gauge(&value)?,
        }
    }
    Ok(())
}

/// A gauge or counter without labels.
fn single(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    value: f64,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    match kind {
        MetricType::Counter => metric.encode_counter::<NoLabelSet, _, f64>(&value, None),
        _ => metric.encode_gauge(&value),
    }
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let e = &mut encoder;
        if let Some(statuses) = &self.statuses {
            family(
                e,
                "notify_notifications",
                "Live notifications (not yet archived by retention) per status",
                MetricType::Gauge,
                statuses.iter().map(|(s, n)| ([("status", *s)], *n as f64)),
            )?;
        }
        family(
            e,
            "notify_notification_status_entries",
            "Notifications of each type that entered each status since the server started (a \
             new notification enters its first status), counted once durably written",
            MetricType::Counter,
            self.entries
                .iter()
                .map(|(k, s, n)| ([("type", *k), ("status", *s)], *n as f64)),
        )?;
        if let Some(queues) = &self.queues {
            let rows = |f: fn(&QueueRow) -> f64| {
                queues
                    .iter()
                    .map(move |q| ([("queue", q.name.as_str())], f(q)))
            };
            family(
                e,
                "notify_queue_ready",
                "Queue rows waiting to be worked (due now or later), per queue",
                MetricType::Gauge,
                rows(|q| q.ready as f64),
            )?;
            family(
                e,
                "notify_queue_leased",
                "Queue rows a worker holds now, per queue",
                MetricType::Gauge,
                rows(|q| q.leased as f64),
            )?;
            family(
                e,
                "notify_queue_oldest_due_age_seconds",
                "How long the earliest due row of each queue has been due (0 when none is due \
                 yet): how far behind its workers are",
                MetricType::Gauge,
                rows(|q| q.oldest_due_age_seconds),
            )?;
        }
        if let Some(lag) = self.index_lag {
            single(
                e,
                "notify_search_index_lag",
                "Notification changes written to the store but not yet in the search index",
                MetricType::Gauge,
                lag as f64,
            )?;
        }
        single(
            e,
            "notify_search_index_documents",
            "Documents in the search index",
            MetricType::Gauge,
            self.index_documents as f64,
        )?;
        for (name, help, value) in [
            (
                "notify_store_size_bytes",
                "Size of the database file (notify.redb)",
                self.store_bytes,
            ),
            (
                "notify_search_index_size_bytes",
                "Size of the search index directory",
                self.index_bytes,
            ),
            (
                "notify_disk_available_bytes",
                "Free space on the data directory's filesystem",
                self.disk_available,
            ),
        ] {
            if let Some(v) = value {
                single(e, name, help, MetricType::Gauge, v as f64)?;
            }
        }
        single(
            e,
            "notify_store_healthy",
            "1 when the store takes new work; 0 while it recovers from a storage fault or the \
             disk is below the low-disk watermark",
            MetricType::Gauge,
            if self.healthy { 1.0 } else { 0.0 },
        )?;
        if let Some(h) = &self.commit_time {
            let histogram = SnapshotHistogram(h.clone());
            let metric = e.encode_descriptor(
                "notify_store_commit_duration_seconds",
                "Durable group commits of the store's writer: commit and fsync",
                None,
                histogram.metric_type(),
            )?;
            histogram.encode(metric)?;
        }
        single(
            e,
            "notify_store_commit_operations",
            "Write operations in durably committed batches",
            MetricType::Counter,
            self.commit_operations as f64,
        )?;
        single(
            e,
            "notify_store_failed_commits",
            "Batches refused whole (a storage failure; nothing in them was acknowledged)",
            MetricType::Counter,
            self.failed_commits as f64,
        )?;
        if !self.shares.is_empty() {
            family(
                e,
                "notify_sms_provider_share",
                "Current share of text messages each SMS provider gets (0-100; moves away from \
                 a failing provider, drifts back to its resting share)",
                MetricType::Gauge,
                self.shares
                    .iter()
                    .map(|s| ([("provider", s.name.as_str())], s.priority as f64)),
            )?;
            family(
                e,
                "notify_sms_provider_resting_share",
                "The configured share each SMS provider drifts back to",
                MetricType::Gauge,
                self.shares
                    .iter()
                    .map(|s| ([("provider", s.name.as_str())], s.resting_point as f64)),
            )?;
        }
        Ok(())
    }
}
