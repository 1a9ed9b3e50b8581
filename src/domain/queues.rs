//! The durable queues, named in one place: what each holds, its name in the store, and how often
//! and how far apart its rows are retried. The API and the jobs put rows on them, the workers take
//! them off, the scheduler and the status page read their depths.

use storage::records::NotificationType;

use crate::config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queue {
    /// Emails sent through the API (or by a person), to their provider.
    DeliverEmail,
    /// Text messages sent through the API (or by a person), to their provider.
    DeliverSms,
    /// Bulk sends' emails: a queue of their own, so a 100,000-row job never stands between an
    /// API send and its provider.
    DeliverEmailJobs,
    /// Bulk sends' text messages (as above).
    DeliverSmsJobs,
    /// Templated letters waiting for their PDF.
    LetterPdf,
    /// Precompiled letters waiting for their virus scan and validation.
    LetterScan,
    /// Bulk-send jobs: their rows become notifications a chunk at a time.
    ProcessJob,
    /// Calls to services' callback URLs.
    Callbacks,
}

/// How a queue's failed rows are tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; then the row gives up.
    pub max_retries: u32,
    pub delay_ms: i64,
}

impl Queue {
    pub const ALL: [Queue; 8] = [
        Queue::DeliverEmail,
        Queue::DeliverSms,
        Queue::DeliverEmailJobs,
        Queue::DeliverSmsJobs,
        Queue::LetterPdf,
        Queue::LetterScan,
        Queue::ProcessJob,
        Queue::Callbacks,
    ];

    /// The queue's name in the store (and in logs and on the status page).
    pub const fn name(self) -> &'static str {
        match self {
            Queue::DeliverEmail => "deliver-email",
            Queue::DeliverSms => "deliver-sms",
            Queue::DeliverEmailJobs => "deliver-email-jobs",
            Queue::DeliverSmsJobs => "deliver-sms-jobs",
            Queue::LetterPdf => "letter-create-pdf",
            Queue::LetterScan => "letter-scan",
            Queue::ProcessJob => "process-job",
            Queue::Callbacks => "service-callbacks",
        }
    }

    pub fn from_name(name: &str) -> Option<Queue> {
        Queue::ALL.into_iter().find(|q| q.name() == name)
    }

    /// Where a new notification waits: letters for their PDF, emails and texts for their
    /// provider (on the bulk queues when they come from a job).
    pub fn for_new(t: NotificationType, from_job: bool) -> Queue {
        match (t, from_job) {
            (NotificationType::Email, false) => Queue::DeliverEmail,
            (NotificationType::Email, true) => Queue::DeliverEmailJobs,
            (NotificationType::Sms, false) => Queue::DeliverSms,
            (NotificationType::Sms, true) => Queue::DeliverSmsJobs,
            (NotificationType::Letter, _) => Queue::LetterPdf,
        }
    }

    /// The retry settings of the config that apply to this queue.
    pub fn retry_policy(self, config: &Config) -> RetryPolicy {
        let (max_retries, delay_seconds) = match self {
            Queue::DeliverEmail
            | Queue::DeliverSms
            | Queue::DeliverEmailJobs
            | Queue::DeliverSmsJobs => (
                config.delivery.max_retries,
                config.delivery.retry_delay_seconds,
            ),
            Queue::LetterPdf => (
                config.letters.max_retries,
                config.letters.retry_delay_seconds,
            ),
            // A job's sheet that cannot be read (the blob store is away) is tried again five
            // times a minute apart; other failures resume from the row's lease.
            Queue::ProcessJob => (5, 60),
            Queue::LetterScan => (
                config.antivirus.max_retries,
                config.antivirus.retry_delay_seconds,
            ),
            Queue::Callbacks => (
                config.callbacks.max_retries,
                config.callbacks.retry_delay_seconds,
            ),
        };
        RetryPolicy {
            max_retries,
            delay_ms: (delay_seconds as i64).saturating_mul(1000),
        }
    }
}

impl std::fmt::Display for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut names: Vec<&str> = Queue::ALL.iter().map(|q| q.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Queue::ALL.len());
        for q in Queue::ALL {
            assert_eq!(Queue::from_name(q.name()), Some(q));
        }
        assert_eq!(Queue::from_name("nope"), None);
    }

    #[test]
    fn new_notifications_wait_where_their_workers_look() {
        assert_eq!(
            Queue::for_new(NotificationType::Sms, true),
            Queue::DeliverSmsJobs
        );
        assert_eq!(
            Queue::for_new(NotificationType::Email, false),
            Queue::DeliverEmail
        );
        assert_eq!(
            Queue::for_new(NotificationType::Letter, true),
            Queue::LetterPdf
        );
    }
}
