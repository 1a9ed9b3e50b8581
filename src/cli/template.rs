//! `notify template create`.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Backend, CliError, JsonFlag};
use crate::admin::template_json;
use crate::config::Config;
use crate::domain::accounts::Actor;
use crate::domain::templates::{self, NewTemplate};

#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// Create a template and print its id.
    Create {
        #[arg(long, value_name = "SERVICE_ID")]
        service: Uuid,
        #[arg(long = "type", value_name = "email|sms|letter")]
        template_type: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        subject: Option<String>,
        /// File holding the template body (`-` for standard input).
        #[arg(long, value_name = "FILE")]
        body_file: std::path::PathBuf,
        /// Letters: first, second, economy, europe or rest-of-world.
        #[arg(long)]
        postage: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

impl Backend {
    /// `POST /service/{id}/template`: the new template, as the internal API shows it.
    pub async fn create_template(
        &self,
        service: Uuid,
        new: NewTemplate,
    ) -> Result<Value, CliError> {
        match self {
            Backend::Local(cx) => Ok(template_json(
                &templates::create_template(cx, &Actor::operator(), service, new).await?,
            )),
            Backend::Remote(remote) => {
                remote
                    .post(&format!("/service/{service}/template"), json!(new))
                    .await
            }
        }
    }
}

pub async fn run(config: Config, cmd: TemplateCommand) -> Result<ExitCode, CliError> {
    let TemplateCommand::Create {
        service,
        template_type,
        name,
        subject,
        body_file,
        postage,
        out,
    } = cmd;
    let new = NewTemplate {
        template_type,
        name,
        subject,
        content: read_body_file(&body_file)?,
        postage,
        ..Default::default()
    };
    let template = Backend::with(&config, async |backend| {
        backend.create_template(service, new).await
    })
    .await?;
    if out.json {
        say!("{template}");
    } else {
        say!("{}", template["id"].as_str().unwrap_or_default());
    }
    Ok(ExitCode::SUCCESS)
}

fn read_body_file(path: &Path) -> Result<String, CliError> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| CliError::Message(format!("reading the body from standard input: {e}")))?;
        return Ok(s);
    }
    std::fs::read_to_string(path)
        .map_err(|e| CliError::Message(format!("cannot read body file {}: {e}", path.display())))
}
