//! `notify reindex`: rebuild the search index from the database (the index is derived; see the
//! README's invariants).

use std::process::ExitCode;

use storage::index::SearchIndex;

use super::{Backend, CliError};
use crate::app;
use crate::config::Config;

impl Backend {
    /// Rebuild the search index from redb; answers how many notifications it holds.
    pub async fn rebuild_index(&self) -> Result<u64, CliError> {
        match self {
            Backend::Local(cx) => {
                let index = SearchIndex::open(&app::index_dir(&cx.config))
                    .map_err(app::StartError::from)?;
                let store = cx.store.clone();
                let n =
                    tokio::task::spawn_blocking(move || storage::indexer::rebuild(&store, &index))
                        .await
                        .map_err(|e| CliError::Message(e.to_string()))??;
                Ok(n)
            }
            Backend::Remote(remote) => {
                let v = remote.post("/index/rebuild", serde_json::json!({})).await?;
                Ok(v["indexed"].as_u64().unwrap_or(0))
            }
        }
    }
}

pub async fn run(config: Config) -> Result<ExitCode, CliError> {
    let indexed = Backend::with(&config, async |backend| backend.rebuild_index().await).await?;
    say!("indexed {indexed} notifications");
    Ok(ExitCode::SUCCESS)
}
