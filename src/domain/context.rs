//! What every domain function works with, and nothing more: the store (with its clock), the
//! blob store, the configuration, the sealer for secrets at rest, the outgoing HTTP client, the
//! sending limits, the cache of services and API keys, and the delivery providers.
//!
//! `app::App` builds one when the appliance starts and hands `&Context` (or `Arc<Context>`,
//! for work that outlives a request) to the domain. Nothing here knows about HTTP requests,
//! the CLI or the workers: those layers call the domain, never the other way round.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use storage::{SharedClock, Store, StoreOptions};

use super::accounts::passwords::PasswordHasher;
use super::key_cache::KeyCache;
use super::limits::Limits;
use crate::config::{BlobsKind, Config};
use crate::crypto::{CryptoError, Sealer};
use crate::metrics::Metrics;
use crate::providers::Providers;

pub struct Context {
    pub config: Config,
    pub store: Store,
    /// Letter PDFs, precompiled uploads, job sheets, documents, zips: a local directory or S3.
    pub blobs: Arc<dyn ObjectStore>,
    pub sealer: Sealer,
    /// One client for outgoing calls (service callbacks, SNS confirmations, alerts).
    pub http: reqwest::Client,
    pub limits: Limits,
    /// Services with their unsealed API keys, for the v2 API's authentication. Domain functions
    /// that change a service or its keys forget the service here.
    pub keys: KeyCache,
    pub providers: Providers,
    /// What is counted as things happen, for `GET /metrics` (see [`crate::metrics`]).
    pub metrics: Metrics,
    /// Argon2id for people's passwords, a few at a time behind a bounded queue.
    pub passwords: PasswordHasher,
}

impl Context {
    /// Close the store (answered writes are already durable). When something still holds the
    /// context, the store closes when the last holder lets go.
    pub fn close(self: Arc<Self>) {
        match Arc::try_unwrap(self) {
            Ok(cx) => cx.store.close(),
            Err(_) => tracing::warn!(
                "closing while work still holds the context; the store closes when it finishes"
            ),
        }
    }

    /// The store's clock: what every "now" in the domain reads.
    pub fn clock(&self) -> &storage::SharedClock {
        self.store.clock()
    }
}

/// Why the context could not be built.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("storage: {0}")]
    Store(#[from] storage::StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("blob store at {path}: {message}")]
    Blobs { path: String, message: String },
    #[error("providers: {0}")]
    Providers(String),
}

/// The store's settings from the config.
pub fn store_options(config: &Config, clock: SharedClock) -> StoreOptions {
    StoreOptions {
        max_batch: config.storage.max_batch,
        cache_size: (config.storage.cache_size_mb as usize).saturating_mul(1024 * 1024),
        clock,
        low_disk: config.disk.watermark(),
    }
}

impl Context {
    /// Open the data directory's store and the blob store, and build the providers and the
    /// HTTP client of `config`. The server adds the search index and workers on top
    /// (`app::App::open`); tests and one-off commands can use this alone.
    pub fn open(config: Config, clock: SharedClock) -> Result<Context, OpenError> {
        install_tls_provider();
        let providers = Providers::from_config(&config).map_err(OpenError::Providers)?;
        Self::open_with(config, clock, providers)
    }

    /// [`Context::open`] with the providers already built from the config.
    pub fn open_with(
        config: Config,
        clock: SharedClock,
        providers: Providers,
    ) -> Result<Context, OpenError> {
        install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| OpenError::Providers(format!("HTTP client: {e}")))?;
        let store = Store::open(&config.data_dir, store_options(&config, clock))?;
        let sealer = Sealer::for_config(&config)?;
        let blobs = open_blobs(&config)?;
        let metrics = Metrics::new(config.metrics.enabled());
        let passwords = PasswordHasher::new(&config.accounts);
        let cx = Context {
            config,
            store,
            blobs,
            sealer,
            http,
            limits: Default::default(),
            keys: Default::default(),
            passwords,
            providers,
            metrics,
        };
        // Provider shares as last saved (switching, drift, a person): a restart keeps them.
        if let Err(e) = super::sms_routing::restore_shares(&cx) {
            tracing::warn!(error = %e, "saved SMS provider shares could not be read; using the configured ones");
        }
        Ok(cx)
    }
}

/// The blob store of the config: a local directory (created when missing) or an S3 bucket.
pub fn open_blobs(config: &Config) -> Result<Arc<dyn ObjectStore>, OpenError> {
    match config.blobs.kind {
        BlobsKind::Local => {
            let dir = config.blobs_dir();
            let err = |message: String| OpenError::Blobs {
                path: dir.display().to_string(),
                message,
            };
            storage::files::create_private_dir(&dir).map_err(|e| err(e.to_string()))?;
            storage::files::warn_if_not_private(&dir, "blob directory");
            Ok(Arc::new(
                LocalFileSystem::new_with_prefix(&dir).map_err(|e| err(e.to_string()))?,
            ))
        }
        BlobsKind::S3 => s3_store(&config.blobs.s3),
    }
}

/// The `[blobs.s3]` bucket. Nothing is fetched here: a wrong credential shows on first use.
pub fn s3_store(s3: &crate::config::S3Config) -> Result<Arc<dyn ObjectStore>, OpenError> {
    let mut builder = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&s3.bucket)
        .with_region(&s3.region)
        .with_allow_http(s3.allow_http)
        .with_virtual_hosted_style_request(!s3.path_style)
        // object_store's default keeps retrying for 3 minutes, holding a send's request open
        // all that time while the store is away.
        .with_retry(object_store::RetryConfig {
            retry_timeout: std::time::Duration::from_secs(s3.retry_timeout_seconds),
            ..Default::default()
        });
    if !s3.endpoint.is_empty() {
        builder = builder.with_endpoint(&s3.endpoint);
    }
    if !s3.access_key_id.is_empty() {
        builder = builder
            .with_access_key_id(&s3.access_key_id)
            .with_secret_access_key(s3.secret_access_key.expose());
    }
    let store = builder.build().map_err(|e| OpenError::Blobs {
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
