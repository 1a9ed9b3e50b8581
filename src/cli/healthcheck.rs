//! `notify healthcheck`: exit 0 when the server answers `GET /_status` with `ok` (for systemd,
//! the container's HEALTHCHECK and scripts), 1 otherwise.

use std::process::ExitCode;

use clap::Args;
use serde_json::Value;

use super::CliError;
use super::backend::{http_client, local_base_url};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// Status URL (default: http://<server.listen>/_status).
    #[arg(long)]
    pub url: Option<String>,
    /// Seconds to wait for an answer.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

pub async fn run(config: &Config, args: HealthcheckArgs) -> Result<ExitCode, CliError> {
    let HealthcheckArgs { url, timeout } = args;
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
