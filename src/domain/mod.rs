//! Rules shared by the public API, the internal API, the CLI and the workers. Handlers and
//! commands call these functions; nothing here knows about HTTP.

pub mod accounts;
pub mod alerts;
pub mod api_keys;
pub mod callbacks;
pub mod complaints;
pub mod contact_lists;
pub mod content;
pub mod context;
pub mod documents;
pub mod error;
pub mod facts;
pub mod inbound_numbers;
pub mod jobs;
pub mod key_cache;
pub mod letters;
pub mod limits;
pub mod monitoring;
pub mod platform_admin;
pub mod queues;
pub mod receipts;
pub mod recipient_sheet;
pub mod recipients;
pub mod retention;
pub mod returned_letters;
pub mod sending;
pub mod services;
pub mod sms_routing;
pub mod statistics;
pub mod status;
pub mod templates;
pub mod unsubscribe;
pub mod upkeep;
pub mod working_days;

pub use context::Context;
pub use error::{Code, DomainError, DomainResult};

/// What a scheduled job reports when it finishes: a one-line summary for `notify jobs list`
/// ("archived 1200 notifications"), or why it failed.
pub type JobOutcome = DomainResult<String>;
