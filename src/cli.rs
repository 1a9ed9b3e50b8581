//! The `notify` command line: `serve` (the default), `healthcheck`, `reindex`, `jobs` (the
//! scheduled jobs), and the bootstrap commands that take a fresh appliance to a working API key
//! without a UI.
//!
//! Bootstrap commands open the data directory directly when no server is running. When a server
//! holds it (redb allows one writer process), they send the same request to that server's
//! internal API instead, signed with the admin secret from the config or the data directory —
//! so they work the same whether or not the server is up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use storage::{Store, SystemClock};

use crate::admin::{service_json, template_json};
use crate::app::{self, App};
use crate::config::{self, Config, Overrides};
use crate::config_report;
use crate::domain::accounts::Actor;
use crate::domain::context::OpenError;
use crate::domain::{Context, DomainError, api_keys, services, templates};
use crate::systemd;

/// `println!` that ignores a closed standard output (`notify jobs list | head`), where
/// `println!` would panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

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
    Serve {
        /// Address to listen on (overrides server.listen).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Exit 0 if the server answers GET /_status with "ok", 1 otherwise.
    Healthcheck {
        /// Status URL (default: http://<server.listen>/_status).
        #[arg(long)]
        url: Option<String>,
        /// Seconds to wait for an answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// Load and check the configuration as `serve` would (file, NOTIFY_* variables, defaults),
    /// then print every effective setting, secrets redacted, with where it came from. Exit 0
    /// when valid; 1 with the reason (the setting, its source, a suggestion) when not.
    CheckConfig {
        /// As `serve --listen` (overrides server.listen).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Rebuild the search index from the database.
    Reindex,
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
    InboundNumber(InboundNumberCommand),
    /// People's accounts (as a platform admin would manage them).
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account and print a one-time sign-in link for its person (it lets them
    /// choose a password and signs them in).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// May do everything in every service.
        #[arg(long)]
        platform_admin: bool,
        /// For codes by text message (with `--auth-type sms_auth`).
        #[arg(long)]
        mobile: Option<String>,
        /// How they prove the second factor: email_auth (the default), sms_auth or totp_auth.
        #[arg(long, value_name = "email_auth|sms_auth|totp_auth")]
        auth_type: Option<String>,
    },
    /// List every account: id, email address, state, name.
    List {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Lock an account (by id or email address): its sessions end and it cannot sign in.
    Lock { user: String },
    /// Unlock an account, resetting its failed sign-in count.
    Unlock { user: String },
    /// Lost phone or authenticator: back to codes by email, sessions ended.
    #[command(name = "reset-2fa")]
    Reset2fa { user: String },
}

#[derive(Debug, Subcommand)]
pub enum InboundNumberCommand {
    /// Add a number to the pool (as the provider gives it, e.g. 07700900500) and print its id.
    Add {
        number: String,
        /// The provider that receives texts for it.
        #[arg(long, default_value = crate::domain::inbound_numbers::DEFAULT_PROVIDER)]
        provider: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// List every number: id, number, provider, active, the service it is assigned to.
    List {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Give a service a number (the one given, or the oldest available); it becomes the
    /// service's default text message sender. Received texts need the service's
    /// `inbound_sms` permission too.
    Assign {
        #[arg(long, value_name = "SERVICE_ID")]
        service: uuid::Uuid,
        #[arg(long, value_name = "INBOUND_NUMBER_ID")]
        number: Option<uuid::Uuid>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Stop a service receiving texts: its number goes back to the pool (or, with --archive,
    /// is retired for good) and its `inbound_sms` permission is removed.
    Release {
        #[arg(long, value_name = "SERVICE_ID")]
        service: uuid::Uuid,
        #[arg(long)]
        archive: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum SheetCommand {
    /// Check a sheet (CSV, .xlsx or .ods) against a template, then send it as a job now or at
    /// --at. Rows with problems are listed (row number, column, what is wrong) and nothing is
    /// sent. Prints the job id.
    Send {
        #[arg(long, value_name = "SERVICE_ID")]
        service: uuid::Uuid,
        #[arg(long, value_name = "TEMPLATE_ID")]
        template: uuid::Uuid,
        /// The sheet: a header row (`phone number`, `email address` or the address lines,
        /// and a column for each placeholder), then a row per recipient.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// When to send: `2026-12-01T09:00` (London time) or RFC 3339 with an offset; at most
        /// 7 days ahead.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Only check the sheet; send nothing.
        #[arg(long)]
        check_only: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum LettersCommand {
    /// Scan again every upload kept in letters-scan/ERROR/ (after clamd or the blob store was
    /// down for longer than the retries lasted).
    ReplayScanErrors {
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Every scheduled job with its schedule, next run and last run.
    List {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Run one job now and wait for it to finish.
    Run {
        /// The job's name, as `notify jobs list` shows it.
        name: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServiceUpdateArgs {
    #[arg(long, value_name = "SERVICE_ID")]
    pub service: uuid::Uuid,
    #[arg(long)]
    pub name: Option<String>,
    /// Trial mode on (true) or off (false).
    #[arg(long, value_name = "true|false")]
    pub trial: Option<bool>,
    /// Requests per minute per key type.
    #[arg(long)]
    pub rate_limit: Option<i64>,
    #[arg(long)]
    pub email_limit: Option<i64>,
    #[arg(long)]
    pub sms_limit: Option<i64>,
    #[arg(long)]
    pub letter_limit: Option<i64>,
    /// Where recipients of files by email can get help (a URL, email address or phone number).
    #[arg(long)]
    pub contact_link: Option<String>,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Change a service's settings (only the options given change).
    Update(ServiceUpdateArgs),
    /// Create a service and print its id.
    Create {
        #[arg(long)]
        name: String,
        /// Trial mode: only team members and the guest list receive messages.
        #[arg(long)]
        trial: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key and print it once, as `{name}-{service_id}-{secret}`.
    Create {
        #[arg(long, value_name = "SERVICE_ID")]
        service: uuid::Uuid,
        #[arg(long)]
        name: String,
        #[arg(long = "type", value_name = "normal|team|test")]
        key_type: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// Create a template and print its id.
    Create {
        #[arg(long, value_name = "SERVICE_ID")]
        service: uuid::Uuid,
        #[arg(long = "type", value_name = "email|sms|letter")]
        template_type: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        subject: Option<String>,
        /// File holding the template body (`-` for standard input).
        #[arg(long, value_name = "FILE")]
        body_file: PathBuf,
        /// Letters: first, second, economy, europe or rest-of-world.
        #[arg(long)]
        postage: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
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
        Some(Command::Serve { listen } | Command::CheckConfig { listen, .. }) => *listen,
        _ => None,
    };
    let overrides = Overrides {
        data_dir: cli.data_dir.clone(),
        listen,
    };
    let config = config::load(cli.config.as_deref(), &overrides)?;
    // Held to the end of the command: dropping it writes the log lines still queued.
    let _log = crate::logging::init(&config);
    match cli.command.unwrap_or(Command::Serve { listen: None }) {
        Command::Serve { .. } => {
            let runtime = runtime()?;
            let served = runtime.block_on(serve(config));
            // Tasks cut short by the stop's grace period are not waited for.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            served?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Healthcheck { url, timeout } => {
            runtime()?.block_on(healthcheck(&config, url, timeout))
        }
        // Loaded again with its layers, to say where each setting came from.
        Command::CheckConfig { out, .. } => {
            check_config(cli.config.as_deref(), &overrides, out.json)
        }
        Command::Reindex => runtime()?.block_on(reindex(config)),
        Command::Service(cmd) => runtime()?.block_on(bootstrap(config, Bootstrap::Service(cmd))),
        Command::ApiKey(cmd) => runtime()?.block_on(bootstrap(config, Bootstrap::ApiKey(cmd))),
        Command::Template(cmd) => runtime()?.block_on(bootstrap(config, Bootstrap::Template(cmd))),
        Command::Jobs(cmd) => runtime()?.block_on(jobs(config, cmd)),
        Command::Sheet(cmd) => runtime()?.block_on(sheet(config, cmd)),
        Command::Letters(cmd) => runtime()?.block_on(letters(config, cmd)),
        Command::InboundNumber(cmd) => runtime()?.block_on(inbound_number(config, cmd)),
        Command::User(cmd) => runtime()?.block_on(user(config, cmd)),
        Command::Load(args) => {
            runtime()?
                .block_on(crate::loadgen::run(args))
                .map_err(CliError::Message)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(config: Config) -> Result<(), CliError> {
    tracing::info!(?config, "starting");
    systemd::status("opening the data directory");
    let listener = app::bind(config.server.listen).await?;
    let addr = listener.local_addr().unwrap_or(config.server.listen);
    let app = App::open(config, Arc::new(SystemClock))?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let shutdown = async move {
        app::shutdown_signal().await;
        systemd::stopping("stopping: finishing requests and work in hand");
        let _ = stop_tx.send(());
    };
    // Ready once the server task runs: the store, the index and the listener are up.
    let server = tokio::spawn(app::serve(app.clone(), listener, shutdown));
    let watchdog = systemd::start_watchdog(&app);
    systemd::ready(&format!("serving on {addr}"));
    let served = systemd::finish_within(server, stop_rx, systemd::STOP_GRACE).await;
    if let Some(watchdog) = watchdog {
        // Awaited, so its handle on the app is gone before the store closes.
        watchdog.abort();
        let _ = watchdog.await;
    }
    app.shutdown();
    // `None`: the stop's grace period ran out; what was left is logged.
    Ok(served.unwrap_or(Ok(()))?)
}

/// `notify check-config`: the layers `serve` would load, its start-up checks that need neither
/// the data directory nor the network, then the effective settings and their sources.
fn check_config(
    file: Option<&std::path::Path>,
    overrides: &Overrides,
    json: bool,
) -> Result<ExitCode, CliError> {
    let (config, layers) = config::load_layered(file, &config::env_vars()?, overrides)?;
    app::check_settings(&config)?;
    let settings = config_report::effective_settings(&config, &layers)?;
    if json {
        say!("{}", config_report::render_json(&settings));
    } else {
        match file {
            Some(path) => say!("# notify: effective settings from {}", path.display()),
            None => say!("# notify: effective settings (no --config file)"),
        }
        say!(
            "# each overrides the one before: default, file, env NOTIFY_*, flag; secrets redacted"
        );
        say!("{}", config_report::render_text(&settings).trim_end());
    }
    eprintln!("notify: the configuration is valid");
    Ok(ExitCode::SUCCESS)
}

/// The address a local client should use to reach the configured listener.
fn local_base_url(config: &Config) -> String {
    crate::server::local::base_url(config)
}

fn http_client(config: &Config, timeout_secs: u64) -> Result<reqwest::Client, CliError> {
    crate::server::local::client(config, timeout_secs).map_err(CliError::Message)
}

async fn healthcheck(
    config: &Config,
    url: Option<String>,
    timeout: u64,
) -> Result<ExitCode, CliError> {
    let url = url.unwrap_or_else(|| format!("{}/_status", local_base_url(config)));
    let answer = async {
        let resp = http_client(config, timeout)?
            .get(&url)
            .send()
            .await
            .map_err(|e| CliError::Message(format!("{url}: {e}")))?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .map_err(|e| CliError::Message(format!("{url}: not a status answer: {e}")))?;
        Ok::<_, CliError>((status, body))
    };
    match answer.await {
        Ok((status, body)) if status.is_success() && body["status"] == "ok" => {
            say!("ok {}", body["version"].as_str().unwrap_or(""));
            Ok(ExitCode::SUCCESS)
        }
        Ok((status, body)) => {
            eprintln!("notify: {url} answered {status}: {body}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("notify: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn reindex(config: Config) -> Result<ExitCode, CliError> {
    let outcome = match Store::open(
        &config.data_dir,
        crate::domain::context::store_options(&config, Arc::new(SystemClock)),
    ) {
        Ok(store) => {
            let index = storage::index::SearchIndex::open(&app::index_dir(&config))
                .map_err(app::StartError::from)?;
            let s = store.clone();
            let n = tokio::task::spawn_blocking(move || storage::indexer::rebuild(&s, &index))
                .await
                .map_err(|e| CliError::Message(e.to_string()))??;
            store.close();
            n
        }
        Err(storage::StoreError::InUse(_)) => {
            let v = remote(&config, "POST", "/index/rebuild", json!({})).await?;
            v["indexed"].as_u64().unwrap_or(0)
        }
        Err(e) => return Err(e.into()),
    };
    say!("indexed {outcome} notifications");
    Ok(ExitCode::SUCCESS)
}

/// Send one internal-API request to the running server.
async fn remote(config: &Config, method: &str, path: &str, body: Value) -> Result<Value, CliError> {
    remote_with(config, method, path, RemoteBody::Json(body)).await
}

/// What a request to the running server carries.
enum RemoteBody {
    Json(Value),
    /// A sheet, sent as it is.
    Raw(Vec<u8>),
}

/// Call the running server's internal API, signed with the admin secret; answers its `data`.
async fn remote_with(
    config: &Config,
    method: &str,
    path: &str,
    body: RemoteBody,
) -> Result<Value, CliError> {
    let secret = app::admin_secret(config).map_err(app::StartError::from)?;
    let token = crate::auth::sign_admin_token(
        &config.admin.client_id,
        secret.expose(),
        chrono::Utc::now().timestamp(),
    );
    let url = format!("{}{}", local_base_url(config), path);
    // A big sheet takes a while to check.
    let client = http_client(config, 300)?;
    let req = match (method, body) {
        ("POST", RemoteBody::Json(body)) => client.post(&url).json(&body),
        ("POST", RemoteBody::Raw(bytes)) => client.post(&url).body(bytes),
        _ => client.get(&url),
    };
    let resp = req.bearer_auth(token).send().await.map_err(|e| {
        CliError::Message(format!(
            "the data directory is in use, but the server at {url} did not answer: {e}"
        ))
    })?;
    let status = resp.status();
    let v: Value = resp
        .json()
        .await
        .map_err(|e| CliError::Message(format!("{url}: unexpected answer: {e}")))?;
    if !status.is_success() {
        let message = v["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        return Err(CliError::Message(message));
    }
    Ok(v["data"].clone())
}

/// `notify jobs ...`: on the running server when there is one, otherwise on the data directory.
async fn jobs(config: Config, cmd: JobsCommand) -> Result<ExitCode, CliError> {
    let answer = match App::open(config.clone(), Arc::new(SystemClock)) {
        Ok(app) => {
            let result = match &cmd {
                JobsCommand::List { .. } => crate::scheduler::list(&app).map(|j| json!(j)),
                JobsCommand::Run { name, .. } => crate::scheduler::run_now(&app, name)
                    .await
                    .map(|r| json!(r)),
            };
            app.shutdown();
            result.map_err(|e| CliError::Message(e.to_string()))?
        }
        Err(e) if e.is_in_use() => match &cmd {
            JobsCommand::List { .. } => {
                remote(&config, "GET", "/scheduler/jobs", json!({})).await?
            }
            JobsCommand::Run { name, .. } => {
                let path = format!("/scheduler/jobs/{name}/run");
                remote(&config, "POST", &path, json!({})).await?
            }
        },
        Err(e) => return Err(e.into()),
    };
    let (JobsCommand::List { out } | JobsCommand::Run { out, .. }) = &cmd;
    if out.json {
        say!("{answer}");
        return Ok(ExitCode::SUCCESS);
    }
    match cmd {
        JobsCommand::List { .. } => {
            for j in answer.as_array().into_iter().flatten() {
                let text = |k: &str| j[k].as_str().unwrap_or("-").to_string();
                say!(
                    "{:<70} {:<22} next {:<24} last {} {}",
                    text("name"),
                    text("schedule"),
                    text("next_run"),
                    text("last_outcome"),
                    text("last_finished"),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Run { name, .. } => {
            let message = answer["message"].as_str().unwrap_or_default();
            if answer["ok"].as_bool() == Some(true) {
                say!("{name}: {message}");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("notify: {name} failed: {message}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

/// `--at`: a London wall-clock time, or RFC 3339 with its own offset.
fn parse_send_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, CliError> {
    use chrono::TimeZone;
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return chrono_tz::Europe::London
                .from_local_datetime(&t)
                .earliest()
                .map(|t| t.with_timezone(&chrono::Utc))
                .ok_or_else(|| {
                    CliError::Message(format!(
                        "{text} does not exist in London (the clocks change)"
                    ))
                });
        }
    }
    Err(CliError::Message(format!(
        "--at {text}: give a time like 2026-12-01T09:00 (London) or 2026-12-01T09:00:00Z"
    )))
}

/// `notify sheet send`: directly on the data directory when no server holds it (the job then
/// runs when the server starts), otherwise through the running server.
async fn sheet(config: Config, cmd: SheetCommand) -> Result<ExitCode, CliError> {
    let SheetCommand::Send {
        service,
        template,
        file,
        at,
        check_only,
        out,
    } = cmd;
    let bytes = std::fs::read(&file)
        .map_err(|e| CliError::Message(format!("cannot read {}: {e}", file.display())))?;
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sheet.csv".into());
    let scheduled_for = at.as_deref().map(parse_send_time).transpose()?;
    let (upload, job) = match App::open(config.clone(), Arc::new(SystemClock)) {
        Ok(app) => {
            let result = sheet_direct(
                &app,
                service,
                template,
                file_name.clone(),
                bytes,
                scheduled_for,
                check_only,
            )
            .await;
            app.shutdown();
            result?
        }
        Err(e) if e.is_in_use() => {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("template_id", &template.to_string())
                .append_pair("original_file_name", &file_name)
                .finish();
            let upload = remote_with(
                &config,
                "POST",
                &format!("/service/{service}/job/upload?{query}"),
                RemoteBody::Raw(bytes),
            )
            .await?;
            let job = if upload["valid"] == true && !check_only {
                let mut body = json!({ "id": upload["id"] });
                if let Some(at) = scheduled_for {
                    body["scheduled_for"] = json!(at.to_rfc3339());
                }
                Some(remote(&config, "POST", &format!("/service/{service}/job"), body).await?)
            } else {
                None
            };
            (upload, job)
        }
        Err(e) => return Err(e.into()),
    };
    if out.json {
        say!("{}", json!({ "upload": upload, "job": job }));
    }
    if upload["valid"] != true {
        for e in upload["errors"].as_array().into_iter().flatten() {
            eprintln!(
                "row {}{}: {}",
                e["row"],
                e["column"]
                    .as_str()
                    .filter(|c| !c.is_empty())
                    .map(|c| format!(", {c}"))
                    .unwrap_or_default(),
                e["message"].as_str().unwrap_or_default()
            );
        }
        eprintln!("notify: {file_name} has rows that cannot be sent; nothing was sent",);
        return Ok(ExitCode::FAILURE);
    }
    if !out.json {
        match &job {
            Some(job) => say!("{}", job["id"].as_str().unwrap_or_default()),
            None => say!(
                "{file_name}: {} rows, all can be sent",
                upload["notification_count"]
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn sheet_direct(
    app: &Arc<App>,
    service: uuid::Uuid,
    template: uuid::Uuid,
    original_file_name: String,
    bytes: Vec<u8>,
    scheduled_for: Option<chrono::DateTime<chrono::Utc>>,
    check_only: bool,
) -> Result<(Value, Option<Value>), CliError> {
    use crate::domain::jobs;
    let upload = jobs::upload_sheet(
        app,
        service,
        jobs::NewUpload {
            template_id: template,
            original_file_name,
            ..Default::default()
        },
        bytes.into(),
    )
    .await?;
    let upload_json = crate::admin::upload_json(&upload);
    if !upload.meta.valid || check_only {
        return Ok((upload_json, None));
    }
    let job = jobs::create_job(
        app,
        service,
        jobs::NewJob {
            id: upload.meta.id,
            scheduled_for,
            created_by: None,
        },
    )
    .await?;
    let job_json =
        crate::admin::job_json(app, &job).map_err(|e| CliError::Message(e.to_string()))?;
    Ok((upload_json, Some(job_json)))
}

/// `notify letters ...`: on the running server when there is one, otherwise on the data
/// directory (the letters queued then wait for the next start of the server).
async fn letters(config: Config, cmd: LettersCommand) -> Result<ExitCode, CliError> {
    let LettersCommand::ReplayScanErrors { out } = cmd;
    let answer = match App::open(config.clone(), Arc::new(SystemClock)) {
        Ok(app) => {
            let result = crate::domain::letters::replay_scan_errors(&app).await;
            app.shutdown();
            json!({ "queued": result.map_err(CliError::Message)? })
        }
        Err(e) if e.is_in_use() => {
            remote(&config, "POST", "/letters/replay-scan-errors", json!({})).await?
        }
        Err(e) => return Err(e.into()),
    };
    if out.json {
        say!("{answer}");
    } else {
        let queued = answer["queued"].as_array().map_or(0, Vec::len);
        say!("{queued} letters queued for another virus scan");
    }
    Ok(ExitCode::SUCCESS)
}

/// `notify inbound-number ...`: on the data directory, or through the running server.
async fn inbound_number(config: Config, cmd: InboundNumberCommand) -> Result<ExitCode, CliError> {
    use crate::admin::inbound_number_json;
    use crate::domain::inbound_numbers as pool;
    let answer = match Context::open(config.clone(), Arc::new(SystemClock)) {
        Ok(cx) => {
            let cx = Arc::new(cx);
            let result = async {
                Ok::<Value, CliError>(match &cmd {
                    InboundNumberCommand::Add {
                        number, provider, ..
                    } => {
                        let new = pool::NewInboundNumber {
                            number: number.clone(),
                            provider: Some(provider.clone()),
                        };
                        inbound_number_json(&pool::add_inbound_number(&cx, new).await?, None)
                    }
                    InboundNumberCommand::List { .. } => Value::Array(
                        pool::list_inbound_numbers(&cx)?
                            .iter()
                            .map(|(n, s)| inbound_number_json(n, s.as_ref()))
                            .collect(),
                    ),
                    InboundNumberCommand::Assign {
                        service, number, ..
                    } => {
                        let request = pool::AssignInboundNumber {
                            inbound_number_id: *number,
                        };
                        let (n, _) = pool::assign_inbound_number(&cx, *service, request).await?;
                        inbound_number_json(&n, None)
                    }
                    InboundNumberCommand::Release {
                        service, archive, ..
                    } => {
                        let request = pool::RemoveInboundSms { archive: *archive };
                        match pool::remove_inbound_sms(&cx, *service, request).await? {
                            Some(n) => inbound_number_json(&n, None),
                            None => json!({}),
                        }
                    }
                })
            }
            .await;
            cx.close();
            result?
        }
        Err(OpenError::Store(storage::StoreError::InUse(_))) => match &cmd {
            InboundNumberCommand::Add {
                number, provider, ..
            } => {
                let body = json!({"number": number, "provider": provider});
                remote(&config, "POST", "/inbound-number", body).await?
            }
            InboundNumberCommand::List { .. } => {
                remote(&config, "GET", "/inbound-number", json!({})).await?
            }
            InboundNumberCommand::Assign {
                service, number, ..
            } => {
                let body = json!({"inbound_number_id": number});
                remote(
                    &config,
                    "POST",
                    &format!("/inbound-number/service/{service}"),
                    body,
                )
                .await?;
                let path = format!("/inbound-number/service/{service}");
                remote(&config, "GET", &path, json!({})).await?
            }
            InboundNumberCommand::Release {
                service, archive, ..
            } => {
                let body = json!({"archive": archive});
                let path = format!("/service/{service}/inbound-sms/remove");
                remote(&config, "POST", &path, body).await?
            }
        },
        Err(e) => return Err(app::StartError::from(e).into()),
    };
    let (InboundNumberCommand::Add { out, .. }
    | InboundNumberCommand::List { out }
    | InboundNumberCommand::Assign { out, .. }
    | InboundNumberCommand::Release { out, .. }) = &cmd;
    if out.json {
        say!("{answer}");
        return Ok(ExitCode::SUCCESS);
    }
    let line = |n: &Value| {
        let text = |k: &str| n[k].as_str().unwrap_or("-").to_string();
        let service = n["service"]["id"].as_str().unwrap_or("-").to_string();
        let active = if n["active"] == json!(false) {
            "off"
        } else {
            "active"
        };
        format!(
            "{}  {}  {}  {active}  {service}",
            text("id"),
            text("number"),
            text("provider")
        )
    };
    match cmd {
        InboundNumberCommand::List { .. } => {
            for n in answer.as_array().into_iter().flatten() {
                say!("{}", line(n));
            }
        }
        InboundNumberCommand::Add { .. } => say!("{}", answer["id"].as_str().unwrap_or("")),
        InboundNumberCommand::Assign { .. } => {
            say!("{}", answer["number"].as_str().unwrap_or(""))
        }
        InboundNumberCommand::Release { .. } => match answer["number"].as_str() {
            Some(number) => say!("released {number}"),
            None => say!("the service had no inbound number"),
        },
    }
    Ok(ExitCode::SUCCESS)
}

/// `notify user ...`: on the data directory, or through the running server's internal API.
async fn user(config: Config, cmd: UserCommand) -> Result<ExitCode, CliError> {
    use crate::domain::accounts::users::{self, NewUser, Standing};
    let standing = |cmd: &UserCommand| match cmd {
        UserCommand::Lock { user } => Some((user.clone(), Standing::Lock, "lock")),
        UserCommand::Unlock { user } => Some((user.clone(), Standing::Unlock, "unlock")),
        UserCommand::Reset2fa { user } => Some((
            user.clone(),
            Standing::ResetSecondFactor,
            "reset-second-factor",
        )),
        _ => None,
    };
    let new_user = |email: String, name: String, platform_admin, mobile, auth_type| NewUser {
        name,
        email_address: email,
        mobile_number: mobile,
        platform_admin,
        auth_type,
        password: None,
    };
    let public_url = config
        .server
        .public_url
        .trim()
        .trim_end_matches('/')
        .to_string();
    let root = if public_url.is_empty() {
        local_base_url(&config)
    } else {
        public_url
    };
    let lines: Vec<String> = match Context::open(config.clone(), Arc::new(SystemClock)) {
        Ok(cx) => {
            let cx = Arc::new(cx);
            let operator = &Actor::operator();
            let result = async {
                let find = |who: &str| -> Result<storage::records::User, CliError> {
                    match uuid::Uuid::parse_str(who) {
                        Ok(id) => Ok(users::get_user(&cx, id)?),
                        Err(_) => users::find_by_email(&cx, who)?.ok_or_else(|| {
                            CliError::Message(format!("no account with email address {who}"))
                        }),
                    }
                };
                Ok::<_, CliError>(match cmd {
                    UserCommand::Create {
                        email,
                        name,
                        platform_admin,
                        mobile,
                        auth_type,
                    } => {
                        let new = new_user(email, name, platform_admin, mobile, auth_type);
                        let u = users::create_user(&cx, operator, new).await?;
                        let token = users::first_sign_in_link(&cx, operator, u.id).await?;
                        vec![format!("{root}/first-sign-in/{token}")]
                    }
                    UserCommand::List { out } => {
                        let all = users::list_users(&cx, operator)?;
                        if out.json {
                            let list: Result<Vec<Value>, _> =
                                all.iter().map(|u| users::user_json(&cx, u)).collect();
                            vec![Value::Array(list?).to_string()]
                        } else {
                            all.iter()
                                .map(|u| {
                                    format!(
                                        "{}\t{}\t{}\t{}",
                                        u.id,
                                        u.email_address,
                                        u.state.as_str(),
                                        u.name
                                    )
                                })
                                .collect()
                        }
                    }
                    other => {
                        let Some((who, change, _)) = standing(&other) else {
                            return Err(CliError::Message(format!("{other:?}: not a change")));
                        };
                        let u = find(&who)?;
                        let u = users::change_standing(&cx, operator, u.id, change).await?;
                        vec![format!("{}\t{}", u.id, u.state.as_str())]
                    }
                })
            }
            .await;
            cx.close();
            result?
        }
        Err(OpenError::Store(storage::StoreError::InUse(_))) => {
            let all = remote(&config, "GET", "/user", json!({})).await?;
            let all = all.as_array().cloned().unwrap_or_default();
            let find = |who: &str| {
                all.iter()
                    .find(|u| u["id"] == who || u["email_address"] == who)
                    .and_then(|u| u["id"].as_str().map(str::to_string))
                    .ok_or_else(|| CliError::Message(format!("no account {who}")))
            };
            match cmd {
                UserCommand::Create {
                    email,
                    name,
                    platform_admin,
                    mobile,
                    auth_type,
                } => {
                    let new = new_user(email, name, platform_admin, mobile, auth_type);
                    let u = remote(&config, "POST", "/user", json!(new)).await?;
                    let id = u["id"].as_str().unwrap_or_default();
                    let path = format!("/user/{id}/first-sign-in-link");
                    let link = remote(&config, "POST", &path, json!({})).await?;
                    vec![link["url"].as_str().unwrap_or_default().to_string()]
                }
                UserCommand::List { out } if out.json => {
                    vec![Value::Array(all.clone()).to_string()]
                }
                UserCommand::List { .. } => all
                    .iter()
                    .map(|u| {
                        let f = |k: &str| u[k].as_str().unwrap_or_default().to_string();
                        format!(
                            "{}\t{}\t{}\t{}",
                            f("id"),
                            f("email_address"),
                            f("state"),
                            f("name")
                        )
                    })
                    .collect(),
                other => {
                    let Some((who, _, path)) = standing(&other) else {
                        return Err(CliError::Message(format!("{other:?}: not a change")));
                    };
                    let id = find(&who)?;
                    let u =
                        remote(&config, "POST", &format!("/user/{id}/{path}"), json!({})).await?;
                    vec![format!("{id}\t{}", u["state"].as_str().unwrap_or_default())]
                }
            }
        }
        Err(e) => return Err(app::StartError::from(e).into()),
    };
    for line in lines {
        say!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

enum Bootstrap {
    Service(ServiceCommand),
    ApiKey(ApiKeyCommand),
    Template(TemplateCommand),
}

/// What a bootstrap command prints: the JSON for `--json`, the single value otherwise.
struct Printed {
    json: Value,
    plain: String,
}

async fn bootstrap(config: Config, cmd: Bootstrap) -> Result<ExitCode, CliError> {
    let json_out = match &cmd {
        Bootstrap::Service(ServiceCommand::Create { out, .. })
        | Bootstrap::Service(ServiceCommand::Update(ServiceUpdateArgs { out, .. }))
        | Bootstrap::ApiKey(ApiKeyCommand::Create { out, .. })
        | Bootstrap::Template(TemplateCommand::Create { out, .. }) => out.json,
    };
    let printed = match Context::open(config.clone(), Arc::new(SystemClock)) {
        Ok(cx) => {
            let cx = Arc::new(cx);
            let result = bootstrap_direct(&cx, cmd).await;
            cx.close();
            result?
        }
        Err(OpenError::Store(storage::StoreError::InUse(_))) => {
            bootstrap_remote(&config, cmd).await?
        }
        Err(e) => return Err(app::StartError::from(e).into()),
    };
    if json_out {
        say!("{}", printed.json);
    } else {
        say!("{}", printed.plain);
    }
    Ok(ExitCode::SUCCESS)
}

fn read_body_file(path: &PathBuf) -> Result<String, CliError> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| CliError::Message(format!("reading the body from standard input: {e}")))?;
        return Ok(s);
    }
    std::fs::read_to_string(path)
        .map_err(|e| CliError::Message(format!("cannot read body file {}: {e}", path.display())))
}

fn new_template(
    template_type: String,
    name: String,
    subject: Option<String>,
    body_file: &PathBuf,
    postage: Option<String>,
) -> Result<templates::NewTemplate, CliError> {
    Ok(templates::NewTemplate {
        template_type,
        name,
        subject,
        content: read_body_file(body_file)?,
        postage,
        reply_to: None,
        has_unsubscribe_link: None,
        created_by: None,
    })
}

async fn bootstrap_direct(cx: &Context, cmd: Bootstrap) -> Result<Printed, CliError> {
    // The CLI on the data directory acts as the operator.
    let operator = &Actor::operator();
    Ok(match cmd {
        Bootstrap::Service(ServiceCommand::Create { name, trial, .. }) => {
            let s = services::create_service(
                cx,
                operator,
                services::NewService {
                    name,
                    restricted: trial,
                },
            )
            .await?;
            Printed {
                plain: s.id.to_string(),
                json: service_json(&s),
            }
        }
        Bootstrap::Service(ServiceCommand::Update(args)) => {
            let (id, body) = service_update_body(args);
            let update: services::ServiceUpdate =
                serde_json::from_value(body).map_err(|e| CliError::Message(e.to_string()))?;
            let s = services::update_service(cx, operator, id, update).await?;
            Printed {
                plain: s.id.to_string(),
                json: service_json(&s),
            }
        }
        Bootstrap::ApiKey(ApiKeyCommand::Create {
            service,
            name,
            key_type,
            ..
        }) => {
            let k = api_keys::create_api_key(
                cx,
                operator,
                service,
                api_keys::NewApiKey { name, key_type },
            )
            .await?;
            Printed {
                plain: k.key.clone(),
                json: json!(k),
            }
        }
        Bootstrap::Template(TemplateCommand::Create {
            service,
            template_type,
            name,
            subject,
            body_file,
            postage,
            ..
        }) => {
            let new = new_template(template_type, name, subject, &body_file, postage)?;
            let t = templates::create_template(cx, operator, service, new).await?;
            Printed {
                plain: t.id.to_string(),
                json: template_json(&t),
            }
        }
    })
}

async fn bootstrap_remote(config: &Config, cmd: Bootstrap) -> Result<Printed, CliError> {
    let (path, body, plain_field) = match cmd {
        Bootstrap::Service(ServiceCommand::Update(args)) => {
            let (id, body) = service_update_body(args);
            (format!("/service/{id}"), body, "id")
        }
        Bootstrap::Service(ServiceCommand::Create { name, trial, .. }) => (
            "/service".to_string(),
            json!(services::NewService {
                name,
                restricted: trial
            }),
            "id",
        ),
        Bootstrap::ApiKey(ApiKeyCommand::Create {
            service,
            name,
            key_type,
            ..
        }) => (
            format!("/service/{service}/api-key"),
            json!(api_keys::NewApiKey { name, key_type }),
            "key",
        ),
        Bootstrap::Template(TemplateCommand::Create {
            service,
            template_type,
            name,
            subject,
            body_file,
            postage,
            ..
        }) => (
            format!("/service/{service}/template"),
            json!(new_template(
                template_type,
                name,
                subject,
                &body_file,
                postage
            )?),
            "id",
        ),
    };
    let v = remote(config, "POST", &path, body).await?;
    Ok(Printed {
        plain: v[plain_field].as_str().unwrap_or_default().to_string(),
        json: v,
    })
}

/// The internal API body of `service update`: only the settings given on the command line.
fn service_update_body(args: ServiceUpdateArgs) -> (uuid::Uuid, Value) {
    let ServiceUpdateArgs {
        service,
        name,
        trial,
        rate_limit,
        email_limit,
        sms_limit,
        letter_limit,
        contact_link,
        ..
    } = args;
    let mut body = serde_json::Map::new();
    let mut set = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            body.insert(k.to_string(), v);
        }
    };
    set("name", name.map(Value::from));
    set("restricted", trial.map(Value::from));
    set("rate_limit", rate_limit.map(Value::from));
    set("email_message_limit", email_limit.map(Value::from));
    set("sms_message_limit", sms_limit.map(Value::from));
    set("letter_message_limit", letter_limit.map(Value::from));
    set("contact_link", contact_link.map(Value::from));
    (service, Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_times_are_london_wall_clock_unless_they_say_otherwise() {
        let winter = parse_send_time("2026-12-01T09:00").unwrap();
        assert_eq!(winter.to_rfc3339(), "2026-12-01T09:00:00+00:00");
        let summer = parse_send_time("2026-07-01 09:00").unwrap();
        assert_eq!(summer.to_rfc3339(), "2026-07-01T08:00:00+00:00");
        let explicit = parse_send_time("2026-07-01T09:00:00+02:00").unwrap();
        assert_eq!(explicit.to_rfc3339(), "2026-07-01T07:00:00+00:00");
        // 01:30 on the spring-forward night does not exist in London.
        assert!(parse_send_time("2026-03-29T01:30").is_err());
        assert!(parse_send_time("tomorrow").is_err());
    }
}
