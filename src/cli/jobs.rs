//! `notify jobs list|run`: the scheduled jobs (retention, billing facts, timeouts, checks).
//! A run on the stopped data directory is recorded like one the server makes, so the server
//! does not repeat it.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use super::{Backend, CliError, JsonFlag};
use crate::app::App;
use crate::config::Config;
use crate::scheduler;

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

impl Backend {
    /// `GET /scheduler/jobs`: every job, its schedule, next run and last run.
    pub async fn scheduled_jobs(&self) -> Result<Value, CliError> {
        match self {
            Backend::Local(cx) => {
                let app = App::around(cx.clone())?;
                let jobs = scheduler::list(&app);
                app.stop_indexer();
                Ok(json!(jobs.map_err(|e| CliError::Message(e.to_string()))?))
            }
            Backend::Remote(remote) => remote.get("/scheduler/jobs").await,
        }
    }

    /// `POST /scheduler/jobs/{name}/run`: run one job now; answers its report.
    pub async fn run_scheduled_job(&self, name: &str) -> Result<Value, CliError> {
        match self {
            Backend::Local(cx) => {
                // The scheduler runs jobs on the server's App (its schedules and running marks).
                let app = App::around(cx.clone())?;
                let report = scheduler::run_now(&app, name).await;
                app.stop_indexer();
                Ok(json!(report.map_err(|e| CliError::Message(e.to_string()))?))
            }
            Backend::Remote(remote) => {
                remote
                    .post(&format!("/scheduler/jobs/{name}/run"), json!({}))
                    .await
            }
        }
    }
}

pub async fn run(config: Config, cmd: JobsCommand) -> Result<ExitCode, CliError> {
    match cmd {
        JobsCommand::List { out } => {
            let jobs =
                Backend::with(&config, async |backend| backend.scheduled_jobs().await).await?;
            if out.json {
                say!("{jobs}");
                return Ok(ExitCode::SUCCESS);
            }
            for j in jobs.as_array().into_iter().flatten() {
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
        JobsCommand::Run { name, out } => {
            let report = Backend::with(&config, async |backend| {
                backend.run_scheduled_job(&name).await
            })
            .await?;
            if out.json {
                say!("{report}");
                return Ok(ExitCode::SUCCESS);
            }
            let message = report["message"].as_str().unwrap_or_default();
            if report["ok"].as_bool() == Some(true) {
                say!("{name}: {message}");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("notify: {name} failed: {message}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
