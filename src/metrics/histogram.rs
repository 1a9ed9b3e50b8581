//! Histograms for the hot paths, in prometheus-client's encoding.
//!
//! prometheus-client's own `Histogram` takes a mutex on every observation; on the accept path
//! that would serialise every request on one lock. These use [`storage::stats::Histogram`]
//! (fixed buckets of relaxed atomics, the one the store's writer uses for its commit times)
//! and encode through prometheus-client like any other metric.

use std::sync::Arc;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use storage::stats::{Histogram, HistogramSnapshot};

/// Upper bounds (seconds) of request-latency buckets: an accepted send takes ~1–5 ms (mostly
/// the durable commit); pages and the internal API up to seconds.
pub const REQUEST_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds (seconds) of scheduled-job durations: from a minute job's milliseconds to a
/// purge or print run of an hour.
pub const JOB_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0,
];

/// One histogram per value of one label, the values fixed when it is made (route classes,
/// notification types, job names): finding the histogram is an index, with no map and no lock.
/// Clones share the same histograms (one is registered, the other observes).
#[derive(Debug, Clone)]
pub struct LabelledHistograms {
    label: &'static str,
    values: Arc<[&'static str]>,
    histograms: Arc<[Histogram]>,
}

impl LabelledHistograms {
    pub fn new(
        label: &'static str,
        values: Vec<&'static str>,
        bounds: &'static [f64],
    ) -> LabelledHistograms {
        let histograms = values.iter().map(|_| Histogram::new(bounds)).collect();
        LabelledHistograms {
            label,
            values: values.into(),
            histograms,
        }
    }

    /// The histogram for the `index`-th value (as given to [`LabelledHistograms::new`]).
    pub fn at(&self, index: usize) -> Option<&Histogram> {
        self.histograms.get(index)
    }

    /// The histogram for `value`.
    pub fn of(&self, value: &str) -> Option<&Histogram> {
        let index = self.values.iter().position(|v| *v == value)?;
        self.at(index)
    }
}

impl EncodeMetric for LabelledHistograms {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (value, histogram) in self.values.iter().zip(self.histograms.iter()) {
            let labels = [(self.label, *value)];
            encode_snapshot(encoder.encode_family(&labels)?, &histogram.snapshot())?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// A histogram read at scrape time (the store's commit times).
#[derive(Debug)]
pub struct SnapshotHistogram(pub HistogramSnapshot);

impl EncodeMetric for SnapshotHistogram {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encode_snapshot(encoder, &self.0)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

fn encode_snapshot(
    mut encoder: MetricEncoder,
    snapshot: &HistogramSnapshot,
) -> Result<(), std::fmt::Error> {
    encoder.encode_histogram::<NoLabelSet>(
        snapshot.sum_seconds,
        snapshot.count,
        &snapshot.buckets,
        None,
    )
}
