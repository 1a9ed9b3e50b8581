//! Logging for every command: `tracing` events to standard error, as text or one JSON object
//! per line (`log.format`), filtered by `RUST_LOG` when it is set, else by `log.level` (both
//! take `tracing_subscriber::EnvFilter` directives such as `info,notify::access=off`).
//! Standard output stays for the commands' results.
//!
//! Lines are written by a logging thread (tracing-appender): a request thread only formats its
//! line and hands it over, instead of taking the stderr lock for a write per line (an access
//! line per request made that a cost on the accept path). Nothing is dropped: when the thread
//! falls behind, loggers wait. Keep the returned guard alive; dropping it writes what is left.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Install the process's logger once (later calls change nothing, and return `None`).
#[must_use = "dropping the guard at once stops the logging thread"]
pub fn init(config: &Config) -> Option<WorkerGuard> {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_new(&config.log.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("notify-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = match config.log.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    installed.ok().map(|()| guard)
}
