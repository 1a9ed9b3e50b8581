//! `notify check-config`: the layers `serve` would load, its start-up checks that need neither
//! the data directory nor the network, then the effective settings and their sources
//! (`config_report`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::{CliError, JsonFlag};
use crate::app;
use crate::config::{self, Overrides};
use crate::config_report;

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// As `serve --listen` (overrides server.listen).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    #[command(flatten)]
    pub out: JsonFlag,
}

pub fn run(
    file: Option<&Path>,
    overrides: &Overrides,
    args: CheckConfigArgs,
) -> Result<ExitCode, CliError> {
    let (config, layers) = config::load_layered(file, &config::env_vars()?, overrides)?;
    app::check_settings(&config)?;
    let settings = config_report::effective_settings(&config, &layers)?;
    if args.out.json {
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
