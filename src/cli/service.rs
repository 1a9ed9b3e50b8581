//! `notify service create|update`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Backend, CliError, JsonFlag};
use crate::admin::service_json;
use crate::config::Config;
use crate::domain::accounts::Actor;
use crate::domain::services::{self, NewService, ServiceUpdate};

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Change a service's settings (only the options given change).
    Update(ServiceUpdateArgs),
    /// Create a service and print its id.
    Create {
        #[arg(long)]
        name: String,
        /// Trial mode: only team members and the guest list receive messages.
        #[arg(long)]
        trial: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Args)]
pub struct ServiceUpdateArgs {
    #[arg(long, value_name = "SERVICE_ID")]
    pub service: Uuid,
    #[arg(long)]
    pub name: Option<String>,
    /// Trial mode on (true) or off (false).
    #[arg(long, value_name = "true|false")]
    pub trial: Option<bool>,
    /// Requests per minute per key type.
    #[arg(long)]
    pub rate_limit: Option<i64>,
    #[arg(long)]
    pub email_limit: Option<i64>,
    #[arg(long)]
    pub sms_limit: Option<i64>,
    #[arg(long)]
    pub letter_limit: Option<i64>,
    /// Where recipients of files by email can get help (a URL, email address or phone number).
    #[arg(long)]
    pub contact_link: Option<String>,
    #[command(flatten)]
    pub out: JsonFlag,
}

impl Backend {
    /// `POST /service`: the new service, as the internal API shows it.
    pub async fn create_service(&self, new: NewService) -> Result<Value, CliError> {
        match self {
            Backend::Local(cx) => Ok(service_json(
                &services::create_service(cx, &Actor::operator(), new).await?,
            )),
            Backend::Remote(remote) => remote.post("/service", json!(new)).await,
        }
    }

    /// `POST /service/{id}` with only the settings that change.
    pub async fn update_service(&self, id: Uuid, changes: Value) -> Result<Value, CliError> {
        match self {
            Backend::Local(cx) => {
                let update: ServiceUpdate = serde_json::from_value(changes)
                    .map_err(|e| CliError::Message(e.to_string()))?;
                Ok(service_json(
                    &services::update_service(cx, &Actor::operator(), id, update).await?,
                ))
            }
            Backend::Remote(remote) => remote.post(&format!("/service/{id}"), changes).await,
        }
    }
}

pub async fn run(config: Config, cmd: ServiceCommand) -> Result<ExitCode, CliError> {
    let (service, out) = match cmd {
        ServiceCommand::Create { name, trial, out } => {
            let new = NewService {
                name,
                restricted: trial,
            };
            let service =
                Backend::with(&config, async |backend| backend.create_service(new).await).await?;
            (service, out)
        }
        ServiceCommand::Update(args) => {
            let out = args.out.json;
            let (id, changes) = update_body(args);
            let service = Backend::with(&config, async |backend| {
                backend.update_service(id, changes).await
            })
            .await?;
            (service, JsonFlag { json: out })
        }
    };
    if out.json {
        say!("{service}");
    } else {
        say!("{}", service["id"].as_str().unwrap_or_default());
    }
    Ok(ExitCode::SUCCESS)
}

/// The internal API body of `service update`: only the settings given on the command line.
fn update_body(args: ServiceUpdateArgs) -> (Uuid, Value) {
    let ServiceUpdateArgs {
        service,
        name,
        trial,
        rate_limit,
        email_limit,
        sms_limit,
        letter_limit,
        contact_link,
        ..
    } = args;
    let mut body = serde_json::Map::new();
    let mut set = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            body.insert(k.to_string(), v);
        }
    };
    set("name", name.map(Value::from));
    set("restricted", trial.map(Value::from));
    set("rate_limit", rate_limit.map(Value::from));
    set("email_message_limit", email_limit.map(Value::from));
    set("sms_message_limit", sms_limit.map(Value::from));
    set("letter_message_limit", letter_limit.map(Value::from));
    set("contact_link", contact_link.map(Value::from));
    (service, Value::Object(body))
}
