//! Metrics for operators: `GET /metrics` in the Prometheus text format (0.0.4), behind the
//! bearer token `metrics.bearer_token` ([`endpoint`]).
//!
//! Built on `prometheus-client` (the Prometheus project's Rust client): its registry is a plain
//! value, so each running appliance (and each test server in one test process) has its own
//! metrics, and nothing is global; it has no default features (no protobuf, no HTTP server,
//! nothing that pulls aws-lc). Two kinds of metric:
//!
//! - **Counted as things happen** ([`Metrics`], held by the domain's `Context`): requests, the
//!   accept latency, delivery attempts and errors, scheduled job runs, print runs.
//!   Hot paths only touch atomics ([`histogram`], [`requests`]).
//! - **Read at scrape time** ([`scrape`]) from what the store and the providers already keep:
//!   notifications by status, queue depths and the oldest due row, index lag, store size, the
//!   writer's commit times and status entries, SMS provider shares. Nothing on the hot path
//!   counts these.
//!
//! Every metric, with its labels:
//!
//! | metric | labels | what |
//! | --- | --- | --- |
//! | `notify_build_info` | `version`, `schema_version` | 1 |
//! | `notify_start_time_seconds` | | when the process started (Unix time) |
//! | `notify_http_requests_total` | `class`, `status` | requests answered, by kind of route |
//! | `notify_http_request_duration_seconds` | `class` | request durations by kind of route |
//! | `notify_accept_duration_seconds` | `type` | accepted sends (201), head to answer |
//! | `notify_notifications` | `status` | live notifications per status |
//! | `notify_notification_status_entries_total` | `type`, `status` | notifications that entered each status |
//! | `notify_queue_ready`, `notify_queue_leased` | `queue` | queue rows waiting / being worked |
//! | `notify_queue_oldest_due_age_seconds` | `queue` | how long the earliest due row is overdue |
//! | `notify_search_index_lag` | | notification changes not yet in the search index |
//! | `notify_search_index_documents` | | documents in the search index |
//! | `notify_store_size_bytes`, `notify_search_index_size_bytes` | | on disk |
//! | `notify_disk_available_bytes` | | free space on the data directory's filesystem |
//! | `notify_store_healthy` | | 1, or 0 while the store recovers or the disk is low |
//! | `notify_store_commit_duration_seconds` | | durable commits (commit + fsync) |
//! | `notify_store_commit_operations_total` | | operations in committed batches |
//! | `notify_store_failed_commits_total` | | batches refused whole (storage failures) |
//! | `notify_delivery_attempts_total` | `type`, `provider` | sends handed to a provider |
//! | `notify_delivery_errors_total` | `type`, `provider`, `kind` | of those, failed (`retryable`, `permanent`) |
//! | `notify_provider_send_duration_seconds` | `type`, `provider` | how long provider sends took |
//! | `notify_sms_provider_share` | `provider` | current share of text messages (0–100) |
//! | `notify_sms_provider_resting_share` | `provider` | the configured share it drifts back to |
//! | `notify_scheduler_job_runs_total` | `job` | finished runs |
//! | `notify_scheduler_job_failures_total` | `job` | failed runs |
//! | `notify_scheduler_job_duration_seconds` | `job` | run durations |
//! | `notify_scheduler_job_last_success_time_seconds` | `job` | when a run last succeeded (Unix time; 0 = not since start) |
//! | `notify_print_runs_total` | `outcome` | print runs: `ok`, `failed` (a zip failed), `error` |
//! | `notify_print_run_letters_total` | `result` | `printed`, `resumed`, `missing_pdf`, `failed` |
//! | `notify_print_run_zips_total` | | zips handed to the printer |

pub mod endpoint;
pub mod histogram;
pub mod requests;
pub mod scrape;

use std::time::{Duration, SystemTime};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use storage::records::NotificationType;

use crate::letters::print_run::RunReport;
use histogram::{JOB_BUCKETS, LabelledHistograms};
use requests::RequestMetrics;

pub use endpoint::route;

/// Upper bounds (seconds) of provider send durations: the outbox answers in microseconds, an
/// SMTP relay or SMS provider in tens of milliseconds to seconds, a hung one at the timeout.
const SEND_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How a provider send ended, for [`Metrics::delivery_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Accepted,
    /// Failed; worth retrying.
    Retryable,
    /// Failed for good.
    Permanent,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    r#type: &'static str,
    provider: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryErrorLabels {
    r#type: &'static str,
    provider: String,
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

/// The metrics counted as things happen, and the registry they are encoded from.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Request metrics, kept only while the endpoint is on (`metrics.bearer_token` set).
    requests: Option<RequestMetrics>,
    delivery_attempts: Family<DeliveryLabels, Counter>,
    delivery_errors: Family<DeliveryErrorLabels, Counter>,
    send_durations: Family<DeliveryLabels, Histogram, fn() -> Histogram>,
    job_runs: Family<JobLabels, Counter>,
    job_failures: Family<JobLabels, Counter>,
    job_durations: LabelledHistograms,
    job_last_success: Family<JobLabels, Gauge<f64, AtomicU64>>,
    print_runs: Family<OutcomeLabels, Counter>,
    print_letters: Family<ResultLabels, Counter>,
    print_zips: Counter,
}

impl Metrics {
    /// `serve_requests`: keep request metrics (the endpoint is on). Scheduled jobs and print run
    /// outcomes start at zero, so their series exist from the
    /// first scrape.
    pub fn new(serve_requests: bool) -> Metrics {
        let mut registry = Registry::default();
        registry.register(
            "notify_build",
            "The running version and the store's schema version",
            Info::new([
                ("version", crate::status::VERSION.to_string()),
                (
                    "schema_version",
                    storage::tables::SCHEMA_VERSION.to_string(),
                ),
            ]),
        );
        let started = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        registry.register(
            "notify_start_time_seconds",
            "When this process started, in seconds since the Unix epoch",
            ConstGauge::new(started),
        );
        let requests = serve_requests.then(|| RequestMetrics::register(&mut registry));

        let delivery_attempts = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "notify_delivery_attempts",
            "Emails and text messages handed to a provider, by type and provider",
            delivery_attempts.clone(),
        );
        let delivery_errors = Family::<DeliveryErrorLabels, Counter>::default();
        registry.register(
            "notify_delivery_errors",
            "Provider sends that failed, by type, provider and kind (retryable: tried again \
             later; permanent: the message fails)",
            delivery_errors.clone(),
        );
        let send_durations: Family<DeliveryLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(SEND_BUCKETS.iter().copied()));
        registry.register(
            "notify_provider_send_duration_seconds",
            "How long handing an email or text message to a provider took (answered or failed), \
             by type and provider",
            send_durations.clone(),
        );

        let jobs: Vec<&'static str> = crate::scheduler::Job::ALL
            .iter()
            .map(|j| j.name())
            .collect();
        let job_runs = Family::<JobLabels, Counter>::default();
        let job_failures = Family::<JobLabels, Counter>::default();
        let job_last_success = Family::<JobLabels, Gauge<f64, AtomicU64>>::default();
        for &job in &jobs {
            let _ = job_last_success.get_or_create(&JobLabels { job });
            let _ = job_runs.get_or_create(&JobLabels { job });
            let _ = job_failures.get_or_create(&JobLabels { job });
        }
        registry.register(
            "notify_scheduler_job_runs",
            "Scheduled job runs finished (by the timer or by hand), by job",
            job_runs.clone(),
        );
        registry.register(
            "notify_scheduler_job_failures",
            "Scheduled job runs that failed, by job",
            job_failures.clone(),
        );
        let job_durations = LabelledHistograms::new("job", jobs, JOB_BUCKETS);
        registry.register(
            "notify_scheduler_job_duration_seconds",
            "How long scheduled job runs took, by job",
            job_durations.clone(),
        );
        registry.register(
            "notify_scheduler_job_last_success_time_seconds",
            "When each scheduled job last finished without failing, in seconds since the Unix \
             epoch by the appliance's clock (0: not since this process started)",
            job_last_success.clone(),
        );

        let print_runs = Family::<OutcomeLabels, Counter>::default();
        for outcome in ["ok", "failed", "error"] {
            let _ = print_runs.get_or_create(&OutcomeLabels { outcome });
        }
        registry.register(
            "notify_print_runs",
            "Print runs by outcome: ok; failed (a zip could not be handed over, its letters \
             failed); error (the run stopped)",
            print_runs.clone(),
        );
        let print_letters = Family::<ResultLabels, Counter>::default();
        for result in ["printed", "resumed", "missing_pdf", "failed"] {
            let _ = print_letters.get_or_create(&ResultLabels { result });
        }
        registry.register(
            "notify_print_run_letters",
            "Letters the print runs handled: printed (sent in a zip), resumed (in a zip a \
             previous run sent), missing_pdf (skipped), failed (their zip failed)",
            print_letters.clone(),
        );
        let print_zips = Counter::default();
        registry.register(
            "notify_print_run_zips",
            "Zips the print runs handed to the printer",
            print_zips.clone(),
        );

        Metrics {
            registry,
            requests,
            delivery_attempts,
            delivery_errors,
            send_durations,
            job_runs,
            job_failures,
            job_durations,
            job_last_success,
            print_runs,
            print_letters,
            print_zips,
        }
    }

    /// The request metrics, when they are kept.
    pub fn requests(&self) -> Option<&RequestMetrics> {
        self.requests.as_ref()
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// One send handed to `provider` (the outbox, `smtp`, an SMS provider's name), which took
    /// `took`. Provider names come from the configuration, so the label set stays bounded.
    pub fn delivery_attempt(
        &self,
        kind: NotificationType,
        provider: &str,
        outcome: Attempt,
        took: Duration,
    ) {
        let provider = match provider {
            // The SMS providers refused before choosing one (none may take the message).
            "" => "none",
            name => name,
        };
        let kind = kind.as_str();
        let labels = DeliveryLabels {
            r#type: kind,
            provider: provider.to_string(),
        };
        self.delivery_attempts.get_or_create(&labels).inc();
        self.send_durations
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        let error = match outcome {
            Attempt::Accepted => return,
            Attempt::Retryable => "retryable",
            Attempt::Permanent => "permanent",
        };
        self.delivery_errors
            .get_or_create(&DeliveryErrorLabels {
                r#type: kind,
                provider: provider.to_string(),
                kind: error,
            })
            .inc();
    }

    /// A scheduled job's run finished at `finished_micros` (the appliance's clock).
    pub fn job_finished(&self, job: &'static str, ok: bool, took: Duration, finished_micros: i64) {
        self.job_runs.get_or_create(&JobLabels { job }).inc();
        if ok {
            self.job_last_success
                .get_or_create(&JobLabels { job })
                .set(finished_micros as f64 / 1e6);
        } else {
            self.job_failures.get_or_create(&JobLabels { job }).inc();
        }
        if let Some(h) = self.job_durations.of(job) {
            h.observe(took);
        }
    }

    /// A print run finished: with its report, or stopped by an error (`None`).
    pub fn print_run(&self, report: Option<&RunReport>) {
        let outcome = match report {
            None => "error",
            Some(r) if r.failed > 0 => "failed",
            Some(_) => "ok",
        };
        self.print_runs
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        let Some(r) = report else {
            return;
        };
        for (result, n) in [
            ("printed", r.printed),
            ("resumed", r.resumed),
            ("missing_pdf", r.missing_pdf),
            ("failed", r.failed),
        ] {
            self.print_letters
                .get_or_create(&ResultLabels { result })
                .inc_by(n);
        }
        self.print_zips.inc_by(r.zips as u64);
    }
}
