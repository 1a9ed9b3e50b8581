//! Request metrics, recorded by the HTTP edge once per request (the one place every request
//! passes with its route class and status): requests by route class and status, their
//! durations by route class, and how long accepted sends took by type.
//!
//! Cost per request: three relaxed atomic increments into fixed arrays (a counter and two
//! histogram buckets), no lock, no map, no allocation. The labels are bounded by construction:
//! five route classes times the HTTP status codes (100–999), and never an id or a raw path.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use warp::http::Method;

use super::histogram::{LabelledHistograms, REQUEST_BUCKETS};
use crate::server::routes::RouteClass;

/// Route classes in label order ([`class_index`]).
pub const CLASSES: [&str; 6] = [
    "v2",
    "page",
    "receipts",
    "sheet_upload",
    "internal",
    "service_page",
];

/// The send routes whose accepted (201) answers feed the accept-latency histogram.
pub const SEND_TYPES: [&str; 3] = ["email", "sms", "letter"];

/// HTTP status codes are three digits (100–999; `http::StatusCode` holds no others).
const FIRST_STATUS: u16 = 100;
const STATUSES: usize = 900;

/// Clones share the same counters (the edge holds one, the registry encodes them).
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    requests: RequestCounts,
    durations: LabelledHistograms,
    accepts: LabelledHistograms,
}

impl RequestMetrics {
    pub(super) fn register(registry: &mut Registry) -> RequestMetrics {
        let requests = RequestCounts::default();
        registry.register(
            "notify_http_requests",
            "HTTP requests answered, by kind of route (v2 API, pages, provider receipts, sheet \
             uploads, internal API) and status",
            requests.clone(),
        );
        let durations = LabelledHistograms::new("class", CLASSES.to_vec(), REQUEST_BUCKETS);
        registry.register(
            "notify_http_request_duration_seconds",
            "Time from a request's head to its response, by kind of route",
            durations.clone(),
        );
        let accepts = LabelledHistograms::new("type", SEND_TYPES.to_vec(), REQUEST_BUCKETS);
        registry.register(
            "notify_accept_duration_seconds",
            "Time to accept a notification (POST /v2/notifications/{email,sms,letter} \
             answered 201: checked, stored and queued durably), by type",
            accepts.clone(),
        );
        RequestMetrics {
            requests,
            durations,
            accepts,
        }
    }

    /// Count one answered request. `path` is only compared with the send routes, never kept.
    pub fn record(
        &self,
        method: &Method,
        path: &str,
        class: RouteClass,
        status: u16,
        elapsed: Duration,
    ) {
        let class = class_index(class);
        self.requests.inc(class, status);
        if let Some(h) = self.durations.at(class) {
            h.observe(elapsed);
        }
        if status == 201
            && *method == Method::POST
            && let Some(kind) = path.strip_prefix("/v2/notifications/")
            && let Some(h) = self.accepts.of(kind)
        {
            h.observe(elapsed);
        }
    }
}

/// Requests per (route class, status): one atomic each, encoded only once non-zero.
#[derive(Debug, Clone)]
struct RequestCounts(Arc<[AtomicU64]>);

impl Default for RequestCounts {
    fn default() -> Self {
        RequestCounts(
            (0..CLASSES.len() * STATUSES)
                .map(|_| AtomicU64::new(0))
                .collect(),
        )
    }
}

impl RequestCounts {
    fn inc(&self, class: usize, status: u16) {
        let Some(status) = status.checked_sub(FIRST_STATUS).map(usize::from) else {
            return;
        };
        if status < STATUSES
            && let Some(count) = self.0.get(class * STATUSES + status)
        {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl EncodeMetric for RequestCounts {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (class, counts) in CLASSES.iter().zip(self.0.chunks(STATUSES)) {
            for (offset, count) in counts.iter().enumerate() {
                let n = count.load(Ordering::Relaxed);
                if n == 0 {
                    continue;
                }
                let status = (usize::from(FIRST_STATUS) + offset).to_string();
                let labels = [("class", *class), ("status", status.as_str())];
                encoder
                    .encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
            }
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

fn class_index(class: RouteClass) -> usize {
    match class {
        RouteClass::V2 => 0,
        RouteClass::Page => 1,
        RouteClass::Receipts => 2,
        RouteClass::SheetUpload => 3,
        RouteClass::Internal => 4,
        RouteClass::ServicePage => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(registry: &Registry) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, registry).unwrap();
        out
    }

    #[test]
    fn requests_are_counted_by_route_class_and_status() {
        let mut registry = Registry::default();
        let m = RequestMetrics::register(&mut registry);
        let ms = Duration::from_millis(3);
        for _ in 0..2 {
            m.record(
                &Method::POST,
                "/v2/notifications/email",
                RouteClass::V2,
                201,
                ms,
            );
        }
        m.record(
            &Method::POST,
            "/v2/notifications/sms",
            RouteClass::V2,
            400,
            ms,
        );
        m.record(&Method::GET, "/", RouteClass::Page, 200, ms);
        let text = render(&registry);
        assert!(
            text.contains("notify_http_requests_total{class=\"v2\",status=\"201\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("notify_http_requests_total{class=\"v2\",status=\"400\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("notify_http_requests_total{class=\"page\",status=\"200\"} 1\n"),
            "{text}"
        );
        // Series that never moved are left out.
        assert!(!text.contains("class=\"receipts\",status"), "{text}");
        // Only accepted sends are accept latencies.
        assert!(
            text.contains("notify_accept_duration_seconds_count{type=\"email\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("notify_accept_duration_seconds_count{type=\"sms\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("notify_http_request_duration_seconds_count{class=\"v2\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "notify_http_request_duration_seconds_bucket{le=\"0.005\",class=\"v2\"} 3\n"
            ) || text.contains(
                "notify_http_request_duration_seconds_bucket{class=\"v2\",le=\"0.005\"} 3\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn statuses_outside_three_digits_are_not_counted_anywhere_else() {
        let counts = RequestCounts::default();
        counts.inc(0, 99);
        counts.inc(0, 1000);
        counts.inc(4, 999);
        let total: u64 = counts.0.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        assert_eq!(total, 1);
        assert_eq!(counts.0[4 * STATUSES + 899].load(Ordering::Relaxed), 1);
    }
}
