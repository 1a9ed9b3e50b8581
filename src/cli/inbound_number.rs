//! `notify inbound-number add|list|assign|release`: the pool of numbers services receive text
//! messages on.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use super::backend::Remote;
use super::{Backend, CliError, JsonFlag};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum InboundNumberCommand {
    /// Add a number to the pool (as the provider gives it, e.g. 07700900500) and print its id.
    Add {
        number: String,
        /// The provider that receives texts for it.
        #[arg(long, default_value = crate::domain::inbound_numbers::DEFAULT_PROVIDER)]
        provider: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// List every number: id, number, provider, active, the service it is assigned to.
    List {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Give a service a number (the one given, or the oldest available); it becomes the
    /// service's default text message sender. Received texts need the service's
    /// `inbound_sms` permission too.
    Assign {
        #[arg(long, value_name = "SERVICE_ID")]
        service: uuid::Uuid,
        #[arg(long, value_name = "INBOUND_NUMBER_ID")]
        number: Option<uuid::Uuid>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Stop a service receiving texts: its number goes back to the pool (or, with --archive,
    /// is retired for good) and its `inbound_sms` permission is removed.
    Release {
        #[arg(long, value_name = "SERVICE_ID")]
        service: uuid::Uuid,
        #[arg(long)]
        archive: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
}

/// `notify inbound-number ...`: on the data directory, or through the running server.
pub async fn run(config: Config, cmd: InboundNumberCommand) -> Result<ExitCode, CliError> {
    use crate::admin::inbound_number_json;
    use crate::domain::inbound_numbers as pool;
    let answer = match Backend::open(&config)? {
        Backend::Local(cx) => {
            let result = async {
                Ok::<Value, CliError>(match &cmd {
                    InboundNumberCommand::Add {
                        number, provider, ..
                    } => {
                        let new = pool::NewInboundNumber {
                            number: number.clone(),
                            provider: Some(provider.clone()),
                        };
                        inbound_number_json(&pool::add_inbound_number(&cx, new).await?, None)
                    }
                    InboundNumberCommand::List { .. } => Value::Array(
                        pool::list_inbound_numbers(&cx)?
                            .iter()
                            .map(|(n, s)| inbound_number_json(n, s.as_ref()))
                            .collect(),
                    ),
                    InboundNumberCommand::Assign {
                        service, number, ..
                    } => {
                        let request = pool::AssignInboundNumber {
                            inbound_number_id: *number,
                        };
                        let (n, _) = pool::assign_inbound_number(&cx, *service, request).await?;
                        inbound_number_json(&n, None)
                    }
                    InboundNumberCommand::Release {
                        service, archive, ..
                    } => {
                        let request = pool::RemoveInboundSms { archive: *archive };
                        match pool::remove_inbound_sms(&cx, *service, request).await? {
                            Some(n) => inbound_number_json(&n, None),
                            None => json!({}),
                        }
                    }
                })
            }
            .await;
            cx.close();
            result?
        }
        Backend::Remote(remote) => match &cmd {
            InboundNumberCommand::Add {
                number, provider, ..
            } => {
                let body = json!({"number": number, "provider": provider});
                remote_call(&remote, "POST", "/inbound-number", body).await?
            }
            InboundNumberCommand::List { .. } => {
                remote_call(&remote, "GET", "/inbound-number", json!({})).await?
            }
            InboundNumberCommand::Assign {
                service, number, ..
            } => {
                let body = json!({"inbound_number_id": number});
                remote_call(
                    &remote,
                    "POST",
                    &format!("/inbound-number/service/{service}"),
                    body,
                )
                .await?;
                let path = format!("/inbound-number/service/{service}");
                remote_call(&remote, "GET", &path, json!({})).await?
            }
            InboundNumberCommand::Release {
                service, archive, ..
            } => {
                let body = json!({"archive": archive});
                let path = format!("/service/{service}/inbound-sms/remove");
                remote_call(&remote, "POST", &path, body).await?
            }
        },
    };
    let (InboundNumberCommand::Add { out, .. }
    | InboundNumberCommand::List { out }
    | InboundNumberCommand::Assign { out, .. }
    | InboundNumberCommand::Release { out, .. }) = &cmd;
    if out.json {
        say!("{answer}");
        return Ok(ExitCode::SUCCESS);
    }
    let line = |n: &Value| {
        let text = |k: &str| n[k].as_str().unwrap_or("-").to_string();
        let service = n["service"]["id"].as_str().unwrap_or("-").to_string();
        let active = if n["active"] == json!(false) {
            "off"
        } else {
            "active"
        };
        format!(
            "{}  {}  {}  {active}  {service}",
            text("id"),
            text("number"),
            text("provider")
        )
    };
    match cmd {
        InboundNumberCommand::List { .. } => {
            for n in answer.as_array().into_iter().flatten() {
                say!("{}", line(n));
            }
        }
        InboundNumberCommand::Add { .. } => say!("{}", answer["id"].as_str().unwrap_or("")),
        InboundNumberCommand::Assign { .. } => {
            say!("{}", answer["number"].as_str().unwrap_or(""))
        }
        InboundNumberCommand::Release { .. } => match answer["number"].as_str() {
            Some(number) => say!("released {number}"),
            None => say!("the service had no inbound number"),
        },
    }
    Ok(ExitCode::SUCCESS)
}

/// One internal-API call to the running server; answers the route's `data`.
async fn remote_call(
    remote: &Remote,
    method: &str,
    path: &str,
    body: Value,
) -> Result<Value, CliError> {
    match method {
        "GET" => remote.get(path).await,
        _ => remote.post(path, body).await,
    }
}
