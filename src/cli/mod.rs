//! The `notify` command line: the clap definitions and the dispatch to one file per command
//! group.
//!
//! | file | commands |
//! | --- | --- |
//! | `serve.rs` | `serve` (the default): the server, with logging, systemd readiness and a graceful stop |
//! | `healthcheck.rs` | `healthcheck`: does the server answer `GET /_status` with `ok`? |
//! | `check_config.rs` | `check-config`: the effective settings and where each came from |
//! | `reindex.rs` | `reindex`: rebuild the search index from the database |
//! | `backup.rs` | `backup`, `restore`, `check`: the operator's backups and integrity check |
//! | `service.rs`, `api_key.rs`, `template.rs` | `service create|update`, `api-key create`, `template create`: a fresh appliance to a working key without a UI |
//! | `jobs.rs` | `jobs list|run`: the scheduled jobs |
//! | `sheet.rs` | `sheet send`: a spreadsheet of recipients sent as one job |
//! | `letters.rs` | `letters replay-scan-errors` |
//! | `backend.rs` | where those commands run: on the data directory, or through the server that holds it |
//!
//! Every command that reads or changes the appliance's data is written once, over a
//! [`backend::Backend`]: the data directory opened in this process when no server holds it, or
//! the running server's internal API (redb allows one process; see `backend.rs` for why the
//! operations are typed methods rather than one generic route call). So each works the same
//! whether or not the server is up, and prints the same thing either way.
//!
//! Logging (`log.level`, `log.format`, `RUST_LOG`-style filters) is set up for every command,
//! on standard error, so what a command prints on standard output stays machine-readable.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app;
use crate::config::{self, Overrides};
use crate::domain::DomainError;

/// `println!` that ignores a closed standard output (`notify jobs list | head`), where
/// `println!` would panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod api_key;
mod backend;
mod backup;
mod check_config;
mod healthcheck;
mod inbound_number;
mod jobs;
mod letters;
mod reindex;
mod serve;
mod service;
mod sheet;
mod template;
mod user;

pub use api_key::ApiKeyCommand;
pub use backend::Backend;
pub use jobs::JobsCommand;
pub use letters::LettersCommand;
pub use service::{ServiceCommand, ServiceUpdateArgs};
pub use sheet::SheetCommand;
pub use template::TemplateCommand;

#[derive(Debug, Parser)]
#[command(
    name = "notify",
    version,
    about = "A self-contained notifications appliance, wire-compatible with GOV.UK Notify"
)]
pub struct Cli {
    /// TOML config file (settings not in it come from NOTIFY_* variables, then defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (overrides the config's data_dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no command is given).
    Serve(serve::ServeArgs),
    /// Exit 0 if the server answers GET /_status with "ok", 1 otherwise.
    Healthcheck(healthcheck::HealthcheckArgs),
    /// Load and check the configuration as `serve` would (file, NOTIFY_* variables, defaults),
    /// then print every effective setting, secrets redacted, with where it came from. Exit 0
    /// when valid; 1 with the reason (the setting, its source, a suggestion) when not.
    CheckConfig(check_config::CheckConfigArgs),
    /// Rebuild the search index from the database.
    Reindex,
    /// A consistent backup of the data directory, while the server runs or not: the database
    /// (one snapshot), the blobs, the settings, the encryption key, a manifest and checksums.
    Backup(backup::BackupArgs),
    /// Restore a backup into an empty data directory (then the search index is rebuilt).
    Restore(backup::RestoreArgs),
    /// Verify the data directory (redb's file check, every table and record, the index against
    /// the store, sealed values, blobs), or a backup with --backup. Exit 0 when whole, 2 when
    /// problems were found (listed), 1 when it could not check.
    Check(backup::CheckArgs),
    /// Manage services.
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Manage templates.
    #[command(subcommand)]
    Template(TemplateCommand),
    /// Load-test the accept path of a running server (loopback benchmarks).
    Load(crate::loadgen::LoadArgs),
    /// The scheduled jobs (retention, billing facts, timeouts, checks).
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Letters: operator actions on the letters pipeline.
    #[command(subcommand)]
    Letters(LettersCommand),
    /// Bulk sends: a spreadsheet of recipients sent as one job.
    #[command(subcommand)]
    Sheet(SheetCommand),
    /// The pool of numbers services receive text messages on.
    #[command(subcommand, name = "inbound-number")]
    InboundNumber(inbound_number::InboundNumberCommand),
    /// People's accounts (as a platform admin would manage them).
    #[command(subcommand)]
    User(user::UserCommand),
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// A failure the CLI reports in one line and exits 1 for.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Start(#[from] app::StartError),
    #[error("{0}")]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] storage::StoreError),
    #[error("{0}")]
    Message(String),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("notify: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(app::BLOCKING_THREADS)
        .enable_all()
        .build()
        .map_err(|e| CliError::Message(format!("cannot start the async runtime: {e}")))
}

pub fn run(cli: Cli) -> Result<ExitCode, CliError> {
    // Every HTTP client (healthcheck, the server fallback, providers) needs the TLS provider.
    app::install_tls_provider();
    let listen = match &cli.command {
        Some(Command::Serve(args)) => args.listen,
        Some(Command::CheckConfig(args)) => args.listen,
        _ => None,
    };
    let overrides = Overrides {
        data_dir: cli.data_dir.clone(),
        listen,
    };
    let config = config::load(cli.config.as_deref(), &overrides)?;
    // Held to the end of the command: dropping it writes the log lines still queued.
    let _log = crate::logging::init(&config);
    match cli.command.unwrap_or_default() {
        Command::Serve(_) => serve::run(config),
        Command::Healthcheck(args) => runtime()?.block_on(healthcheck::run(&config, args)),
        // Loaded again with its layers, to say where each setting came from.
        Command::CheckConfig(args) => check_config::run(cli.config.as_deref(), &overrides, args),
        Command::Reindex => runtime()?.block_on(reindex::run(config)),
        Command::Backup(args) => runtime()?.block_on(backup::backup(config, args)),
        Command::Restore(args) => runtime()?.block_on(backup::restore(config, args)),
        Command::Check(args) => runtime()?.block_on(backup::check(config, args)),
        Command::Service(cmd) => runtime()?.block_on(service::run(config, cmd)),
        Command::ApiKey(cmd) => runtime()?.block_on(api_key::run(config, cmd)),
        Command::Template(cmd) => runtime()?.block_on(template::run(config, cmd)),
        Command::Jobs(cmd) => runtime()?.block_on(jobs::run(config, cmd)),
        Command::Sheet(cmd) => runtime()?.block_on(sheet::run(config, cmd)),
        Command::Letters(cmd) => runtime()?.block_on(letters::run(config, cmd)),
        Command::InboundNumber(cmd) => runtime()?.block_on(inbound_number::run(config, cmd)),
        Command::User(cmd) => runtime()?.block_on(user::run(config, cmd)),
        Command::Load(args) => {
            runtime()?
                .block_on(crate::loadgen::run(args))
                .map_err(CliError::Message)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

impl Default for Command {
    /// No command given: run the server.
    fn default() -> Self {
        Command::Serve(serve::ServeArgs { listen: None })
    }
}
