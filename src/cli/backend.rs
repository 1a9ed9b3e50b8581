//! Where a command runs: on the data directory in this process, or through the server that
//! holds it.
//!
//! redb lets one process open the database. A command therefore first tries to open the data
//! directory ([`Context::open`], after the server's own start-up checks); when a running server
//! holds it, the command asks that server instead, through its internal API on
//! `server.listen`, signed with the admin secret (`admin.secret`, or the generated
//! `<data_dir>/admin-secret`). Use the same `--data-dir` / `--config` as the server.
//!
//! Each operation a command needs is one method on [`Backend`] (`create_service`,
//! `upload_sheet`, `run_scheduled_job`, ...), written next to the command that uses it, with
//! its two arms side by side: the domain function on the local context, or the internal-API
//! route that calls the same domain function in the server. Both answer the route's JSON (the
//! local arm uses the same `admin::*_json` serialisers), so the command prints the same thing
//! either way.
//!
//! Why typed methods rather than one generic "call this route", run in-process by the warp
//! filter when local: the in-process route would need the whole server (`App`, with its index
//! and admin-token check) even for `service create`, would buffer every answer in memory (a
//! backup streams gigabytes), and would hide from the reader which domain function a command
//! ends in. A method per operation keeps that visible and lets the local arm use only what it
//! needs.

use std::sync::Arc;

use serde_json::Value;
use storage::SystemClock;

use super::CliError;
use crate::app::{self, StartError};
use crate::config::{Config, Secret};
use crate::domain::Context;
use crate::domain::context::OpenError;

/// The data directory, opened here, or the server that holds it.
pub enum Backend {
    /// No server holds the data directory: domain functions on a context opened here. Work
    /// that queues deliveries waits for the server's next start.
    Local(Arc<Context>),
    /// A server holds it: the same operations through its internal API.
    Remote(Remote),
}

impl Backend {
    /// Open the data directory, or find the server that holds it.
    pub fn open(config: &Config) -> Result<Backend, CliError> {
        // The server's start-up checks first (providers, schedules, bank holidays), so a
        // command on a misconfigured appliance says what is wrong rather than half-working.
        let checked = app::check_settings(config)?;
        match Context::open_with(config.clone(), Arc::new(SystemClock), checked.providers) {
            Ok(cx) => Ok(Backend::Local(Arc::new(cx))),
            Err(OpenError::Store(storage::StoreError::InUse(dir))) => {
                tracing::debug!(%dir, "the data directory is in use; asking the server");
                Ok(Backend::Remote(Remote::new(config)?))
            }
            Err(e) => Err(StartError::from(e).into()),
        }
    }

    /// Close the data directory (answered writes are already durable).
    pub fn close(self) {
        if let Backend::Local(cx) = self {
            cx.close();
        }
    }

    /// Open a backend, run `work` on it, and close it however `work` ends.
    pub async fn with<T>(
        config: &Config,
        work: impl AsyncFnOnce(&Backend) -> Result<T, CliError>,
    ) -> Result<T, CliError> {
        let backend = Backend::open(config)?;
        let result = work(&backend).await;
        backend.close();
        result
    }
}

/// The running server's internal API, as the CLI on the same machine reaches it.
#[derive(Clone)]
pub struct Remote {
    base_url: String,
    client_id: String,
    secret: Secret,
    http: reqwest::Client,
}

/// What a request to the running server carries.
pub enum Body {
    /// No body (GET).
    None,
    Json(Value),
    /// Bytes sent as they are (a sheet).
    Raw(Vec<u8>),
}

impl Remote {
    fn new(config: &Config) -> Result<Remote, CliError> {
        let secret = app::admin_secret(config).map_err(StartError::from)?;
        Ok(Remote {
            base_url: local_base_url(config),
            client_id: config.admin.client_id.clone(),
            secret,
            // A big sheet takes a while to check.
            http: http_client(config, 300)?,
        })
    }

    /// A fresh admin token (they are short-lived).
    fn token(&self) -> String {
        crate::auth::sign_admin_token(
            &self.client_id,
            self.secret.expose(),
            chrono::Utc::now().timestamp(),
        )
    }

    /// `GET path`; answers the route's `data`.
    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.call(reqwest::Method::GET, path, Body::None).await
    }

    /// `POST path` with a JSON body; answers the route's `data`.
    pub async fn post(&self, path: &str, body: Value) -> Result<Value, CliError> {
        self.call(reqwest::Method::POST, path, Body::Json(body))
            .await
    }

    /// Call the internal API, signed with the admin secret; answers its `data`, or the error's
    /// message as a [`CliError`].
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Body,
    ) -> Result<Value, CliError> {
        let resp = self.send(method, path, body).await?;
        let url = format!("{}{path}", self.base_url);
        let status = resp.status();
        let v: Value = resp
            .json()
            .await
            .map_err(|e| CliError::Message(format!("{url}: unexpected answer: {e}")))?;
        if !status.is_success() {
            return Err(CliError::Message(error_message(&v)));
        }
        Ok(v["data"].clone())
    }

    /// Send a request; the response is the caller's to read (a stream, for a backup).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Body,
    ) -> Result<reqwest::Response, CliError> {
        let url = format!("{}{path}", self.base_url);
        let req = self.http.request(method, &url);
        let req = match body {
            Body::None => req,
            Body::Json(body) => req.json(&body),
            Body::Raw(bytes) => req.body(bytes),
        };
        req.bearer_auth(self.token()).send().await.map_err(|e| {
            CliError::Message(format!(
                "the data directory is in use, but the server at {url} did not answer: {e}"
            ))
        })
    }
}

/// The message of an internal-API error answer.
pub fn error_message(answer: &Value) -> String {
    answer["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| answer.to_string())
}

/// The address a local client should use to reach the configured listener.
pub fn local_base_url(config: &Config) -> String {
    crate::server::local::base_url(config)
}

pub fn http_client(config: &Config, timeout_secs: u64) -> Result<reqwest::Client, CliError> {
    crate::server::local::client(config, timeout_secs).map_err(CliError::Message)
}
