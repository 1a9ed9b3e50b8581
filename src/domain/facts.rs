//! Billing, status and processing-time facts (workers.md §6.2, §6.3): placeholder signatures.

use std::sync::Arc;

use super::{DomainError, JobOutcome};
use crate::app::App;

pub async fn create_nightly_billing(_app: &Arc<App>) -> JobOutcome {
    Err(DomainError::Invalid("facts are not built yet".into()))
}

pub async fn update_billing_for_today(_app: &Arc<App>) -> JobOutcome {
    Err(DomainError::Invalid("facts are not built yet".into()))
}

pub async fn create_nightly_notification_status(_app: &Arc<App>) -> JobOutcome {
    Err(DomainError::Invalid("facts are not built yet".into()))
}

pub async fn save_daily_processing_time(_app: &Arc<App>) -> JobOutcome {
    Err(DomainError::Invalid("facts are not built yet".into()))
}
