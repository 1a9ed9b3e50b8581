//! Retention (workers.md §5): placeholder signatures, filled in by the retention work.

use std::sync::Arc;

use super::{DomainError, JobOutcome};
use crate::app::App;

pub async fn delete_notifications_older_than_retention(_app: &Arc<App>) -> JobOutcome {
    Err(DomainError::Invalid("retention is not built yet".into()))
}

pub async fn delete_inbound_sms(_app: &Arc<App>) -> JobOutcome {
    Err(DomainError::Invalid("retention is not built yet".into()))
}

pub async fn remove_job_files(_app: &Arc<App>, _letters: bool) -> JobOutcome {
    Err(DomainError::Invalid("retention is not built yet".into()))
}
