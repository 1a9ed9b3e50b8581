//! Builds the running appliance from its config: the store, the search index and its indexer,
//! the blob store, the sealer; serves HTTP; and shuts everything down in order on a signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use storage::SharedClock;
use storage::index::SearchIndex;
use storage::indexer::Indexer;
use tokio::net::TcpListener;

use crate::config::{Config, Secret};
use crate::crypto::{CryptoError, load_or_create_secret_file};
use crate::domain::Context;
use crate::domain::context::OpenError;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("storage: {0}")]
    Store(#[from] storage::StoreError),
    #[error("search index: {0}")]
    Index(#[from] storage::index::IndexError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("scheduler: {0}")]
    Scheduler(String),
    #[error("config: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl StartError {
    /// Another process (a running server) holds the data directory: a command can ask it
    /// instead.
    pub fn is_in_use(&self) -> bool {
        matches!(
            self,
            StartError::Store(storage::StoreError::InUse(_))
                | StartError::Open(OpenError::Store(storage::StoreError::InUse(_)))
        )
    }
}

/// Threads for blocking work (local blob files, PDF rendering and validation). Few on purpose:
/// each thread that allocates gets its own glibc malloc arena, and with tokio's default of 512
/// a print run of 150,000 letters peaked at 373 MiB resident instead of 178 MiB with 8, at the
/// same speed (benches/letters.rs).
pub const BLOCKING_THREADS: usize = 8;

/// The running appliance: the domain's [`Context`] (store, blobs, config, limits, ...) and
/// what only the server needs besides (the search index and its indexer, the admin secret, the
/// scheduler). Shared as `Arc<App>` by handlers and workers; it dereferences to the context, so
/// `app.store` and `app.config` read as before, and `&app` is a `&Context` for domain calls.
pub struct App {
    /// The domain's context; clone this `Arc` for domain work that outlives a request.
    pub cx: Arc<Context>,
    pub index: Arc<SearchIndex>,
    indexer: Mutex<Option<Indexer>>,
    pub admin_secret: Secret,
    pub started: Instant,
    /// v2 tokens verified lately (see `api::auth`).
    pub tokens: crate::api::auth::VerifiedTokens,
    /// The scheduled jobs' schedules and which are running.
    pub scheduler: crate::scheduler::Scheduler,
    /// Snapshots handed out a part at a time to `notify backup` (see [`crate::backup`]).
    pub backups: Arc<crate::backup::Sessions>,
}

impl std::ops::Deref for App {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.cx
    }
}

/// The admin secret: from config, or generated once into the data directory (mode 0600) so the
/// CLI on the same machine can sign requests to a running server.
pub fn admin_secret(config: &Config) -> Result<Secret, CryptoError> {
    if !config.admin.secret.is_empty() {
        return Ok(config.admin.secret.clone());
    }
    let value = load_or_create_secret_file(&config.admin_secret_file(), || {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        hex::encode(bytes)
    })?;
    Ok(Secret::new(value))
}

pub fn index_dir(config: &Config) -> std::path::PathBuf {
    config.index_dir()
}

impl App {
    /// Open the data directory and start the background tasks that belong to storage.
    pub fn open(config: Config, clock: SharedClock) -> Result<Arc<App>, StartError> {
        let Checked {
            providers,
            scheduler,
        } = check_settings(&config)?;
        let admin_secret = admin_secret(&config)?;
        let cx = Context::open_with(config, clock, providers)?;
        Self::assemble(Arc::new(cx), scheduler, admin_secret)
    }

    /// The appliance around a context that is already open, for one-off work outside the
    /// server that needs more than the context (the CLI's `jobs`: the schedules and their
    /// running marks). Starts the indexer as [`App::open`] does; end with
    /// [`App::stop_indexer`] and let the context's owner close it.
    pub fn around(cx: Arc<Context>) -> Result<Arc<App>, StartError> {
        let scheduler = crate::scheduler::Scheduler::new(&cx.config.scheduler.jobs)
            .map_err(StartError::Scheduler)?;
        let admin_secret = admin_secret(&cx.config)?;
        Self::assemble(cx, scheduler, admin_secret)
    }

    fn assemble(
        cx: Arc<Context>,
        scheduler: crate::scheduler::Scheduler,
        admin_secret: Secret,
    ) -> Result<Arc<App>, StartError> {
        let index = Arc::new(SearchIndex::open(&index_dir(&cx.config))?);
        let indexer = Indexer::start(
            cx.store.clone(),
            index.clone(),
            cx.config.index_commit_interval(),
        )?;
        Ok(Arc::new(App {
            cx,
            index,
            indexer: Mutex::new(Some(indexer)),
            admin_secret,
            started: Instant::now(),
            tokens: Default::default(),
            scheduler,
            backups: Default::default(),
        }))
    }

    /// Stop the indexer after a last drain of what is committed.
    pub fn stop_indexer(&self) {
        if let Some(indexer) = self
            .indexer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            indexer.stop();
        }
    }

    /// Rebuild the search index from redb, through the indexer thread.
    pub async fn rebuild_index(&self) -> Result<u64, storage::StoreError> {
        // The indexer thread does the work; no lock is held across the await.
        let pending = self
            .indexer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(Indexer::rebuild);
        match pending {
            Some(fut) => fut.await,
            None => Err(storage::StoreError::Index("the indexer has stopped".into())),
        }
    }

    /// Stop background work and close the store. Writes already answered are durable.
    pub fn shutdown(self: Arc<Self>) {
        self.stop_indexer();
        match Arc::try_unwrap(self) {
            Ok(app) => app.cx.close(),
            Err(_) => tracing::warn!(
                "shutdown while requests still hold the app; the store closes when they finish"
            ),
        }
    }
}

pub use crate::domain::context::install_tls_provider;

/// What [`check_settings`] built from the config.
pub struct Checked {
    pub providers: crate::providers::Providers,
    pub scheduler: crate::scheduler::Scheduler,
}

/// The start-up checks that need neither the data directory nor the network: providers,
/// job schedules, the bank holidays file. `App::open` and `notify check-config` both make them.
pub fn check_settings(config: &Config) -> Result<Checked, StartError> {
    install_tls_provider();
    let providers =
        crate::providers::Providers::from_config(config).map_err(OpenError::Providers)?;
    let scheduler =
        crate::scheduler::Scheduler::new(&config.scheduler.jobs).map_err(StartError::Scheduler)?;
    if !config.letters.bank_holidays_file.as_os_str().is_empty() {
        let days =
            crate::domain::working_days::load_bank_holidays(&config.letters.bank_holidays_file)
                .map_err(StartError::Config)?;
        tracing::info!(days, "bank holidays loaded from letters.bank_holidays_file");
    }
    Ok(Checked {
        providers,
        scheduler,
    })
}

/// Bind the configured address (a clear error if it is taken).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

/// Serve HTTP(S) on `listener` (see [`crate::server`]) and run the background workers until
/// `shutdown` resolves, then finish in-flight requests and the work in hand. Fails before
/// serving anything when the edge cannot start (a bad certificate, the redirect address taken).
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let workers = crate::workers::start(&app);
    let served = crate::server::serve(app, listener, shutdown).await;
    workers.stop().await;
    served
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
