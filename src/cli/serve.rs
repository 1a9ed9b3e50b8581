//! `notify serve` (the default command): the server, until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use storage::SystemClock;

use super::{CliError, runtime};
use crate::app::{self, App};
use crate::config::Config;
use crate::systemd;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides server.listen).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

pub fn run(config: Config) -> Result<ExitCode, CliError> {
    let runtime = runtime()?;
    let served = runtime.block_on(serve(config));
    // Tasks cut short by the stop's grace period are not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    served?;
    Ok(ExitCode::SUCCESS)
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
