//! The closed list of scheduled jobs: names (upstream's task names, so operators coming from
//! GOV.UK Notify recognise them), default schedules (workers.md §6.1, Europe/London column) and
//! what each runs. The work itself lives in [`crate::domain`].
//!
//! Ordering that matters: timeouts (00:05) before billing (00:15) and status facts (00:30),
//! all before retention (03:00) removes the rows they count.

use std::sync::Arc;

use crate::app::App;
use crate::domain::{
    JobOutcome, documents, facts, inbound_numbers, monitoring, retention, sms_routing, unsubscribe,
    upkeep,
};

macro_rules! jobs {
    ($($variant:ident => $name:literal, $cron:literal, $about:literal;)*) => {
        /// Every scheduled job.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Job { $($variant),* }

        impl Job {
            pub const ALL: &'static [Job] = &[$(Job::$variant),*];

            pub fn name(self) -> &'static str {
                match self { $(Job::$variant => $name),* }
            }

            /// Six-field cron line (seconds first), Europe/London.
            pub fn default_cron(self) -> &'static str {
                match self { $(Job::$variant => $cron),* }
            }

            pub fn description(self) -> &'static str {
                match self { $(Job::$variant => $about),* }
            }

            pub fn from_name(name: &str) -> Option<Job> {
                match name { $($name => Some(Job::$variant),)* _ => None }
            }
        }
    };
}

jobs! {
    ReplayCreatedNotifications => "replay-created-notifications", "0 0,15,30,45 * * * *",
        "Queue again emails, texts and letters without a PDF still created after an hour.";
    TendProvidersBackToMiddle => "tend-providers-back-to-middle", "0 * * * * *",
        "Move text-message provider shares back towards their configured priorities.";
    TimeoutSendingNotifications => "timeout-sending-notifications", "0 5 0 * * *",
        "Emails and texts still sending after the timeout become temporary-failure.";
    CreateNightlyBilling => "create-nightly-billing", "0 15 0 * * *",
        "Recompute billing facts for the last 10 London days.";
    UpdateBillingForToday => "update-ft-billing-for-today", "0 0 * * * *",
        "Recompute today's billing facts.";
    CreateNightlyNotificationStatus => "create-nightly-notification-status", "0 30 0 * * *",
        "Recompute status facts (4 days for email and text, 10 for letters).";
    DeleteInboundSms => "delete-inbound-sms", "0 40 1 * * *",
        "Move received texts past retention to their history, without content.";
    SaveDailyProcessingTime => "save-daily-notification-processing-time", "0 0 2 * * *",
        "Record yesterday's share of API messages sent within 10 seconds.";
    DeleteNotificationsOlderThanRetention => "delete-notifications-older-than-retention", "0 0 3 * * *",
        "Archive notifications past their service's retention; delete test ones and sent letters' PDFs.";
    RemoveSmsEmailJobs => "remove-sms-email-jobs", "0 0 4 * * *",
        "Delete the uploaded files of email and text jobs past retention.";
    RemoveLetterJobs => "remove-letter-jobs", "0 20 4 * * *",
        "Delete the uploaded files of letter jobs past retention.";
    CollateLetterPdfsToBeSent => "collate-letter-pdfs-to-be-sent", "0 50 17 * * *",
        "The daily print run: letters created before 17:30 go to the printer in zips.";
    ProcessPrintResponseFiles => "process-dvla-response-files", "0 5,15,25,35,45,55 * * * *",
        "Apply the printer's response files: sent letters delivered, others temporary-failure.";
    CheckIfLettersStillPendingVirusCheck => "check-if-letters-still-pending-virus-check", "0 0,10,20,30,40,50 * * * *",
        "Scan again precompiled letters still waiting for their virus scan; alert when their upload is gone.";
    CheckIfLettersStillInCreated => "check-if-letters-still-in-created", "0 0 7 * * Mon-Fri",
        "Alert if letters created before yesterday's print deadline are still waiting.";
    RaiseAlertIfLettersStillSending => "raise-alert-if-letter-notifications-still-sending", "0 0 17 * * *",
        "Alert (production and test only) on letters still sending two DVLA working days after they went to print.";
    CheckHighFailureRatesAndTvNumbers => "check-for-services-with-high-failure-rates-or-sending-to-tv-numbers", "0 30 10 * * Mon-Fri",
        "Alert on services with many permanent failures or texts to TV drama numbers in the last day.";
    Backup => "backup", "0 0 1 * * *",
        "A backup of the running store to backup.to (none when it is unset); backups beyond backup.keep deleted.";
    SwitchProviderOnSlowDelivery => "switch-current-sms-provider-on-slow-delivery", "0 * * * * *",
        "Move text-message traffic away from a provider whose recent texts are delivered late.";
    CheckLowInboundNumbers => "check-for-low-available-inbound-sms-numbers", "0 0 9 * * Mon",
        "Alert when few inbound numbers are left in the pool to give to services.";
    ArchiveUnsubscribeRequests => "archive-unsubscribe-requests", "0 5 0 * * *",
        "Remove unsubscribe requests 7 days after their report, or 90 days when never reported.";
    RemoveExpiredDocuments => "remove-expired-documents", "0 40 4 * * *",
        "Delete files sent by email whose retention has run out.";
}

impl Job {
    /// Jobs that run every minute log at debug level, so the log shows what matters.
    pub fn is_routine(self) -> bool {
        matches!(
            self,
            Job::TendProvidersBackToMiddle | Job::SwitchProviderOnSlowDelivery
        )
    }

    pub async fn run(self, app: &Arc<App>) -> JobOutcome {
        match self {
            Job::ReplayCreatedNotifications => upkeep::replay_created_notifications(&app.cx).await,
            Job::TendProvidersBackToMiddle => {
                sms_routing::tend_providers_back_to_middle(&app.cx).await
            }
            Job::TimeoutSendingNotifications => {
                upkeep::timeout_sending_notifications(&app.cx).await
            }
            Job::CreateNightlyBilling => facts::create_nightly_billing(&app.cx).await,
            Job::UpdateBillingForToday => facts::update_billing_for_today(&app.cx).await,
            Job::CreateNightlyNotificationStatus => {
                facts::create_nightly_notification_status(&app.cx).await
            }
            Job::DeleteInboundSms => retention::delete_inbound_sms(&app.cx).await,
            Job::SaveDailyProcessingTime => facts::save_daily_processing_time(&app.cx).await,
            Job::DeleteNotificationsOlderThanRetention => {
                retention::delete_notifications_older_than_retention(&app.cx).await
            }
            Job::RemoveSmsEmailJobs => retention::remove_job_files(&app.cx, false).await,
            Job::RemoveLetterJobs => retention::remove_job_files(&app.cx, true).await,
            Job::CollateLetterPdfsToBeSent => {
                crate::letters::print_run::collate_letter_pdfs_to_be_sent(&app.cx).await
            }
            Job::ProcessPrintResponseFiles => {
                crate::letters::responses::process_waiting(&app.cx).await
            }
            Job::CheckIfLettersStillPendingVirusCheck => {
                monitoring::check_if_letters_still_pending_virus_check(&app.cx).await
            }
            Job::CheckIfLettersStillInCreated => {
                monitoring::check_if_letters_still_in_created(&app.cx).await
            }
            Job::RaiseAlertIfLettersStillSending => {
                monitoring::check_letters_still_sending(&app.cx).await
            }
            Job::CheckHighFailureRatesAndTvNumbers => {
                monitoring::check_high_failure_rates_and_tv_numbers(&app.cx).await
            }
            Job::Backup => crate::backup::scheduled_backup(&app.cx).await,
            Job::SwitchProviderOnSlowDelivery => {
                sms_routing::switch_on_slow_delivery(&app.cx).await
            }
            Job::CheckLowInboundNumbers => {
                inbound_numbers::check_for_low_available_inbound_sms_numbers(&app.cx).await
            }
            Job::ArchiveUnsubscribeRequests => {
                unsubscribe::archive_unsubscribe_requests(&app.cx).await
            }
            Job::RemoveExpiredDocuments => documents::remove_expired_documents(&app.cx).await,
        }
    }
}
