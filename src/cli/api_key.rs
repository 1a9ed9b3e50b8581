//! `notify api-key create`: the key is printed once, as `{name}-{service_id}-{secret}` (the
//! form the official clients parse); only a sealed copy of the secret is stored.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Backend, CliError, JsonFlag};
use crate::config::Config;
use crate::domain::accounts::Actor;
use crate::domain::api_keys::{self, NewApiKey};

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key and print it once, as `{name}-{service_id}-{secret}`.
    Create {
        #[arg(long, value_name = "SERVICE_ID")]
        service: Uuid,
        #[arg(long)]
        name: String,
        #[arg(long = "type", value_name = "normal|team|test")]
        key_type: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

impl Backend {
    /// `POST /service/{id}/api-key`: the new key, with its full key string.
    pub async fn create_api_key(&self, service: Uuid, new: NewApiKey) -> Result<Value, CliError> {
        match self {
            Backend::Local(cx) => Ok(json!(
                api_keys::create_api_key(cx, &Actor::operator(), service, new).await?
            )),
            Backend::Remote(remote) => {
                remote
                    .post(&format!("/service/{service}/api-key"), json!(new))
                    .await
            }
        }
    }
}

pub async fn run(config: Config, cmd: ApiKeyCommand) -> Result<ExitCode, CliError> {
    let ApiKeyCommand::Create {
        service,
        name,
        key_type,
        out,
    } = cmd;
    let new = NewApiKey { name, key_type };
    let key = Backend::with(&config, async |backend| {
        backend.create_api_key(service, new).await
    })
    .await?;
    if out.json {
        say!("{key}");
    } else {
        say!("{}", key["key"].as_str().unwrap_or_default());
    }
    Ok(ExitCode::SUCCESS)
}
