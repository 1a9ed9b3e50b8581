//! Complaints (an email recipient marked a message as spam, reported through the provider's
//! feedback loop), listed as upstream's `/complaint` routes do: newest first, a page at a time,
//! for every service (the operator's view) or for one; and counted over London days.

use chrono::NaiveDate;
use serde_json::{Value, json};
use storage::clock::format_api_timestamp;
use storage::records::Complaint;
use uuid::Uuid;

use super::facts::london_date;
use super::{Context, DomainResult};

/// Upstream's `PAGE_SIZE`.
pub const PAGE_SIZE: usize = 50;

/// A complaint with the name of its service.
#[derive(Debug, Clone)]
pub struct Listed {
    pub complaint: Complaint,
    pub service_name: String,
}

impl Listed {
    /// Upstream's serialised complaint.
    pub fn to_json(&self) -> Value {
        let c = &self.complaint;
        json!({
            "id": c.id,
            "notification_id": c.notification_id,
            "service_id": c.service_id,
            "service_name": self.service_name,
            "ses_feedback_id": Value::Null,
            "complaint_type": c.complaint_type,
            "complaint_date": c.complaint_date.map(format_api_timestamp),
            "created_at": format_api_timestamp(c.created_at),
        })
    }
}

/// Complaints, newest first: all of them, or only `service_id`'s.
pub fn complaints(cx: &Context, service_id: Option<Uuid>) -> DomainResult<Vec<Listed>> {
    let reader = cx.store.read()?;
    if let Some(id) = service_id {
        super::services::get_service(&cx.store, id)?;
    }
    let mut list: Vec<Complaint> = reader
        .complaints()?
        .into_iter()
        .filter(|c| service_id.is_none_or(|id| c.service_id == id))
        .collect();
    list.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)));
    let mut names = std::collections::HashMap::new();
    list.into_iter()
        .map(|complaint| {
            let name = match names.get(&complaint.service_id) {
                Some(n) => String::clone(n),
                None => {
                    let n = reader
                        .get_service(complaint.service_id)?
                        .map(|s| s.name)
                        .unwrap_or_default();
                    names.insert(complaint.service_id, n.clone());
                    n
                }
            };
            Ok(Listed {
                complaint,
                service_name: name,
            })
        })
        .collect()
}

/// How many complaints were received from `start` to `end` (London days, both included).
pub fn count_between(cx: &Context, start: NaiveDate, end: NaiveDate) -> DomainResult<usize> {
    Ok(cx
        .store
        .read()?
        .complaints()?
        .iter()
        .filter(|c| (start..=end).contains(&london_date(c.created_at)))
        .count())
}
