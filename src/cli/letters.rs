//! `notify letters replay-scan-errors`: operator actions on the letters pipeline. On the
//! stopped data directory, the letters queued wait for the server's next start.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use super::{Backend, CliError, JsonFlag};
use crate::config::Config;
use crate::domain::letters;

#[derive(Debug, Subcommand)]
pub enum LettersCommand {
    /// Scan again every upload kept in letters-scan/ERROR/ (after clamd or the blob store was
    /// down for longer than the retries lasted).
    ReplayScanErrors {
        #[command(flatten)]
        out: JsonFlag,
    },
}

impl Backend {
    /// `POST /letters/replay-scan-errors`: `{"queued": [notification ids]}`.
    pub async fn replay_scan_errors(&self) -> Result<Value, CliError> {
        match self {
            Backend::Local(cx) => {
                let queued = letters::replay_scan_errors(cx)
                    .await
                    .map_err(CliError::Message)?;
                Ok(json!({ "queued": queued }))
            }
            Backend::Remote(remote) => remote.post("/letters/replay-scan-errors", json!({})).await,
        }
    }
}

pub async fn run(config: Config, cmd: LettersCommand) -> Result<ExitCode, CliError> {
    let LettersCommand::ReplayScanErrors { out } = cmd;
    let answer = Backend::with(&config, async |backend| backend.replay_scan_errors().await).await?;
    if out.json {
        say!("{answer}");
    } else {
        let queued = answer["queued"].as_array().map_or(0, Vec::len);
        say!("{queued} letters queued for another virus scan");
    }
    Ok(ExitCode::SUCCESS)
}
