//! Logging for every command: `tracing` events to standard error, as text or one JSON object
//! per line (`log.format`), filtered by `RUST_LOG` when it is set, else by `log.level` (both
//! take `tracing_subscriber::EnvFilter` directives such as `info,notify::access=off`).
//! Standard output stays for the commands' results.

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Install the process's logger once; later calls change nothing.
pub fn init(config: &Config) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_new(&config.log.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
