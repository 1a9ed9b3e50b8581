//! `notify user create|list|lock|unlock|reset-2fa`: people's accounts, as a platform admin
//! would manage them. `user create` prints a one-time sign-in link for the new person.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use super::backend::{Remote, local_base_url};
use super::{Backend, CliError, JsonFlag};
use crate::config::Config;
use crate::domain::accounts::Actor;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account and print a one-time sign-in link for its person (it lets them
    /// choose a password and signs them in).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// May do everything in every service.
        #[arg(long)]
        platform_admin: bool,
        /// For codes by text message (with `--auth-type sms_auth`).
        #[arg(long)]
        mobile: Option<String>,
        /// How they prove the second factor: email_auth (the default), sms_auth or totp_auth.
        #[arg(long, value_name = "email_auth|sms_auth|totp_auth")]
        auth_type: Option<String>,
    },
    /// List every account: id, email address, state, name.
    List {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Lock an account (by id or email address): its sessions end and it cannot sign in.
    Lock { user: String },
    /// Unlock an account, resetting its failed sign-in count.
    Unlock { user: String },
    /// Lost phone or authenticator: back to codes by email, sessions ended.
    #[command(name = "reset-2fa")]
    Reset2fa { user: String },
}

/// `notify user ...`: on the data directory, or through the running server's internal API.
pub async fn run(config: Config, cmd: UserCommand) -> Result<ExitCode, CliError> {
    use crate::domain::accounts::users::{self, NewUser, Standing};
    let standing = |cmd: &UserCommand| match cmd {
        UserCommand::Lock { user } => Some((user.clone(), Standing::Lock, "lock")),
        UserCommand::Unlock { user } => Some((user.clone(), Standing::Unlock, "unlock")),
        UserCommand::Reset2fa { user } => Some((
            user.clone(),
            Standing::ResetSecondFactor,
            "reset-second-factor",
        )),
        _ => None,
    };
    let new_user = |email: String, name: String, platform_admin, mobile, auth_type| NewUser {
        name,
        email_address: email,
        mobile_number: mobile,
        platform_admin,
        auth_type,
        password: None,
    };
    let public_url = config
        .server
        .public_url
        .trim()
        .trim_end_matches('/')
        .to_string();
    let root = if public_url.is_empty() {
        local_base_url(&config)
    } else {
        public_url
    };
    let lines: Vec<String> = match Backend::open(&config)? {
        Backend::Local(cx) => {
            let operator = &Actor::operator();
            let result = async {
                let find = |who: &str| -> Result<storage::records::User, CliError> {
                    match uuid::Uuid::parse_str(who) {
                        Ok(id) => Ok(users::get_user(&cx, id)?),
                        Err(_) => users::find_by_email(&cx, who)?.ok_or_else(|| {
                            CliError::Message(format!("no account with email address {who}"))
                        }),
                    }
                };
                Ok::<_, CliError>(match cmd {
                    UserCommand::Create {
                        email,
                        name,
                        platform_admin,
                        mobile,
                        auth_type,
                    } => {
                        let new = new_user(email, name, platform_admin, mobile, auth_type);
                        let u = users::create_user(&cx, operator, new).await?;
                        let token = users::first_sign_in_link(&cx, operator, u.id).await?;
                        vec![format!("{root}/first-sign-in/{token}")]
                    }
                    UserCommand::List { out } => {
                        let all = users::list_users(&cx, operator)?;
                        if out.json {
                            let list: Result<Vec<Value>, _> =
                                all.iter().map(|u| users::user_json(&cx, u)).collect();
                            vec![Value::Array(list?).to_string()]
                        } else {
                            all.iter()
                                .map(|u| {
                                    format!(
                                        "{}\t{}\t{}\t{}",
                                        u.id,
                                        u.email_address,
                                        u.state.as_str(),
                                        u.name
                                    )
                                })
                                .collect()
                        }
                    }
                    other => {
                        let Some((who, change, _)) = standing(&other) else {
                            return Err(CliError::Message(format!("{other:?}: not a change")));
                        };
                        let u = find(&who)?;
                        let u = users::change_standing(&cx, operator, u.id, change).await?;
                        vec![format!("{}\t{}", u.id, u.state.as_str())]
                    }
                })
            }
            .await;
            cx.close();
            result?
        }
        Backend::Remote(remote) => {
            let all = remote_call(&remote, "GET", "/user", json!({})).await?;
            let all = all.as_array().cloned().unwrap_or_default();
            let find = |who: &str| {
                all.iter()
                    .find(|u| u["id"] == who || u["email_address"] == who)
                    .and_then(|u| u["id"].as_str().map(str::to_string))
                    .ok_or_else(|| CliError::Message(format!("no account {who}")))
            };
            match cmd {
                UserCommand::Create {
                    email,
                    name,
                    platform_admin,
                    mobile,
                    auth_type,
                } => {
                    let new = new_user(email, name, platform_admin, mobile, auth_type);
                    let u = remote_call(&remote, "POST", "/user", json!(new)).await?;
                    let id = u["id"].as_str().unwrap_or_default();
                    let path = format!("/user/{id}/first-sign-in-link");
                    let link = remote_call(&remote, "POST", &path, json!({})).await?;
                    vec![link["url"].as_str().unwrap_or_default().to_string()]
                }
                UserCommand::List { out } if out.json => {
                    vec![Value::Array(all.clone()).to_string()]
                }
                UserCommand::List { .. } => all
                    .iter()
                    .map(|u| {
                        let f = |k: &str| u[k].as_str().unwrap_or_default().to_string();
                        format!(
                            "{}\t{}\t{}\t{}",
                            f("id"),
                            f("email_address"),
                            f("state"),
                            f("name")
                        )
                    })
                    .collect(),
                other => {
                    let Some((who, _, path)) = standing(&other) else {
                        return Err(CliError::Message(format!("{other:?}: not a change")));
                    };
                    let id = find(&who)?;
                    let u = remote_call(&remote, "POST", &format!("/user/{id}/{path}"), json!({}))
                        .await?;
                    vec![format!("{id}\t{}", u["state"].as_str().unwrap_or_default())]
                }
            }
        }
    };
    for line in lines {
        say!("{line}");
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
