//! Builds the running appliance from its config: the store, the search index and its indexer,
//! the blob store, the sealer; serves HTTP; and shuts everything down in order on a signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use storage::index::SearchIndex;
use storage::indexer::Indexer;
use storage::{SharedClock, Store, StoreOptions};
use tokio::net::TcpListener;

use crate::config::{BlobsKind, Config, Secret};
use crate::crypto::{CryptoError, Sealer, load_or_create_secret_file};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("storage: {0}")]
    Store(#[from] storage::StoreError),
    #[error("search index: {0}")]
    Index(#[from] storage::index::IndexError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("blob store at {path}: {message}")]
    Blobs { path: String, message: String },
    #[error("providers: {0}")]
    Providers(String),
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

/// Threads for blocking work (local blob files, PDF rendering and validation). Few on purpose:
/// each thread that allocates gets its own glibc malloc arena, and with tokio's default of 512
/// a print run of 150,000 letters peaked at 373 MiB resident instead of 178 MiB with 8, at the
/// same speed (benches/letters.rs).
pub const BLOCKING_THREADS: usize = 8;

/// Everything a request handler or worker may need. Shared as `Arc<App>`.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub index: Arc<SearchIndex>,
    indexer: Mutex<Option<Indexer>>,
    pub sealer: Sealer,
    pub blobs: Arc<dyn ObjectStore>,
    pub admin_secret: Secret,
    pub started: Instant,
    /// Services and unsealed key secrets for v2 authentication.
    pub keys: crate::api::auth::KeyCache,
    pub limits: crate::domain::limits::Limits,
    /// The delivery providers of the config.
    pub providers: crate::providers::Providers,
    /// One HTTP client for outgoing calls (service callbacks, SNS confirmations, alerts).
    pub http: reqwest::Client,
    /// The scheduled jobs' schedules and which are running.
    pub scheduler: crate::scheduler::Scheduler,
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

pub fn store_options(config: &Config, clock: SharedClock) -> StoreOptions {
    StoreOptions {
        max_batch: config.storage.max_batch,
        cache_size: (config.storage.cache_size_mb as usize).saturating_mul(1024 * 1024),
        clock,
    }
}

pub fn index_dir(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("index")
}

impl App {
    /// Open the data directory and start the background tasks that belong to storage.
    pub fn open(config: Config, clock: SharedClock) -> Result<Arc<App>, StartError> {
        install_tls_provider();
        let providers =
            crate::providers::Providers::from_config(&config).map_err(StartError::Providers)?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| StartError::Providers(format!("HTTP client: {e}")))?;
        let scheduler = crate::scheduler::Scheduler::new(&config.scheduler.jobs)
            .map_err(StartError::Scheduler)?;
        if !config.letters.bank_holidays_file.as_os_str().is_empty() {
            let days =
                crate::domain::working_days::load_bank_holidays(&config.letters.bank_holidays_file)
                    .map_err(StartError::Config)?;
            tracing::info!(days, "bank holidays loaded from letters.bank_holidays_file");
        }
        let store = Store::open(&config.data_dir, store_options(&config, clock))?;
        let index = Arc::new(SearchIndex::open(&index_dir(&config))?);
        let indexer = Indexer::start(store.clone(), index.clone(), config.index_commit_interval())?;
        let sealer = Sealer::for_config(&config)?;
        let admin_secret = admin_secret(&config)?;
        let blobs: Arc<dyn ObjectStore> = match config.blobs.kind {
            BlobsKind::Local => {
                let dir = config.blobs_dir();
                let err = |message: String| StartError::Blobs {
                    path: dir.display().to_string(),
                    message,
                };
                std::fs::create_dir_all(&dir).map_err(|e| err(e.to_string()))?;
                Arc::new(LocalFileSystem::new_with_prefix(&dir).map_err(|e| err(e.to_string()))?)
            }
            BlobsKind::S3 => s3_store(&config.blobs.s3)?,
        };
        Ok(Arc::new(App {
            config,
            store,
            index,
            indexer: Mutex::new(Some(indexer)),
            sealer,
            blobs,
            admin_secret,
            started: Instant::now(),
            keys: Default::default(),
            limits: Default::default(),
            providers,
            http,
            scheduler,
        }))
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
        if let Some(indexer) = self
            .indexer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            indexer.stop();
        }
        match Arc::try_unwrap(self) {
            Ok(app) => app.store.close(),
            Err(_) => tracing::warn!(
                "shutdown while requests still hold the app; the store closes when they finish"
            ),
        }
    }
}

/// The `[blobs.s3]` bucket. Nothing is fetched here: a wrong credential shows on first use.
fn s3_store(s3: &crate::config::S3Config) -> Result<Arc<dyn ObjectStore>, StartError> {
    let mut builder = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&s3.bucket)
        .with_region(&s3.region)
        .with_allow_http(s3.allow_http)
        .with_virtual_hosted_style_request(!s3.path_style);
    if !s3.endpoint.is_empty() {
        builder = builder.with_endpoint(&s3.endpoint);
    }
    if !s3.access_key_id.is_empty() {
        builder = builder
            .with_access_key_id(&s3.access_key_id)
            .with_secret_access_key(s3.secret_access_key.expose());
    }
    let store = builder.build().map_err(|e| StartError::Blobs {
        path: format!("s3://{}", s3.bucket),
        message: e.to_string(),
    })?;
    Ok(Arc::new(store))
}

/// rustls needs one crypto provider for the whole process (ring: pure Rust to build, no
/// aws-lc). Installing twice is harmless.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
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
