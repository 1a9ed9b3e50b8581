//! `notify sheet send`: check a sheet of recipients against a template, then send it as one
//! job, now or at `--at`. On the stopped data directory the job runs when the server starts.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde_json::{Value, json};
use uuid::Uuid;

use super::backend::Body;
use super::{Backend, CliError, JsonFlag};
use crate::admin::{job_json, upload_json};
use crate::config::Config;
use crate::domain::accounts::actor::Actor;
use crate::domain::jobs::{self, NewJob, NewUpload};

#[derive(Debug, Subcommand)]
pub enum SheetCommand {
    /// Check a sheet (CSV, .xlsx or .ods) against a template, then send it as a job now or at
    /// --at. Rows with problems are listed (row number, column, what is wrong) and nothing is
    /// sent. Prints the job id.
    Send {
        #[arg(long, value_name = "SERVICE_ID")]
        service: Uuid,
        #[arg(long, value_name = "TEMPLATE_ID")]
        template: Uuid,
        /// The sheet: a header row (`phone number`, `email address` or the address lines,
        /// and a column for each placeholder), then a row per recipient.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// When to send: `2026-12-01T09:00` (London time) or RFC 3339 with an offset; at most
        /// 7 days ahead.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Only check the sheet; send nothing.
        #[arg(long)]
        check_only: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
}

impl Backend {
    /// `POST /service/{id}/job/upload`: the sheet checked and stored; answers the upload (its
    /// id, `valid`, the row count and every row error).
    pub async fn upload_sheet(
        &self,
        service: Uuid,
        template: Uuid,
        original_file_name: String,
        sheet: Vec<u8>,
    ) -> Result<Value, CliError> {
        match self {
            Backend::Local(cx) => {
                let new = NewUpload {
                    template_id: template,
                    original_file_name,
                    ..Default::default()
                };
                let upload = jobs::upload_sheet(cx, service, new, sheet.into()).await?;
                Ok(upload_json(&upload))
            }
            Backend::Remote(remote) => {
                let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair("template_id", &template.to_string())
                    .append_pair("original_file_name", &original_file_name)
                    .finish();
                let path = format!("/service/{service}/job/upload?{query}");
                remote
                    .call(reqwest::Method::POST, &path, Body::Raw(sheet))
                    .await
            }
        }
    }

    /// `POST /service/{id}/job`: a job from a valid upload, now or at `scheduled_for`.
    pub async fn create_job(
        &self,
        service: Uuid,
        upload: Uuid,
        scheduled_for: Option<DateTime<Utc>>,
    ) -> Result<Value, CliError> {
        match self {
            Backend::Local(cx) => {
                let new = NewJob {
                    id: upload,
                    scheduled_for,
                    created_by: None,
                };
                let job = jobs::create_job(cx, &Actor::operator(), service, new).await?;
                job_json(cx, &job).map_err(|e| CliError::Message(e.to_string()))
            }
            Backend::Remote(remote) => {
                let mut body = json!({ "id": upload });
                if let Some(at) = scheduled_for {
                    body["scheduled_for"] = json!(at.to_rfc3339());
                }
                remote.post(&format!("/service/{service}/job"), body).await
            }
        }
    }
}

pub async fn run(config: Config, cmd: SheetCommand) -> Result<ExitCode, CliError> {
    let SheetCommand::Send {
        service,
        template,
        file,
        at,
        check_only,
        out,
    } = cmd;
    let bytes = std::fs::read(&file)
        .map_err(|e| CliError::Message(format!("cannot read {}: {e}", file.display())))?;
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sheet.csv".into());
    let scheduled_for = at.as_deref().map(parse_send_time).transpose()?;
    let (upload, job) = Backend::with(&config, async |backend| {
        let upload = backend
            .upload_sheet(service, template, file_name.clone(), bytes)
            .await?;
        if upload["valid"] != true || check_only {
            return Ok((upload, None));
        }
        let id = upload["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| CliError::Message(format!("the upload has no id: {upload}")))?;
        let job = backend.create_job(service, id, scheduled_for).await?;
        Ok((upload, Some(job)))
    })
    .await?;
    if out.json {
        say!("{}", json!({ "upload": upload, "job": job }));
    }
    if upload["valid"] != true {
        for e in upload["errors"].as_array().into_iter().flatten() {
            eprintln!(
                "row {}{}: {}",
                e["row"],
                e["column"]
                    .as_str()
                    .filter(|c| !c.is_empty())
                    .map(|c| format!(", {c}"))
                    .unwrap_or_default(),
                e["message"].as_str().unwrap_or_default()
            );
        }
        eprintln!("notify: {file_name} has rows that cannot be sent; nothing was sent",);
        return Ok(ExitCode::FAILURE);
    }
    if !out.json {
        match &job {
            Some(job) => say!("{}", job["id"].as_str().unwrap_or_default()),
            None => say!(
                "{file_name}: {} rows, all can be sent",
                upload["notification_count"]
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--at`: a London wall-clock time, or RFC 3339 with its own offset.
fn parse_send_time(text: &str) -> Result<DateTime<Utc>, CliError> {
    use chrono::TimeZone;
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return chrono_tz::Europe::London
                .from_local_datetime(&t)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| {
                    CliError::Message(format!(
                        "{text} does not exist in London (the clocks change)"
                    ))
                });
        }
    }
    Err(CliError::Message(format!(
        "--at {text}: give a time like 2026-12-01T09:00 (London) or 2026-12-01T09:00:00Z"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_times_are_london_wall_clock_unless_they_say_otherwise() {
        let winter = parse_send_time("2026-12-01T09:00").unwrap();
        assert_eq!(winter.to_rfc3339(), "2026-12-01T09:00:00+00:00");
        let summer = parse_send_time("2026-07-01 09:00").unwrap();
        assert_eq!(summer.to_rfc3339(), "2026-07-01T08:00:00+00:00");
        let explicit = parse_send_time("2026-07-01T09:00:00+02:00").unwrap();
        assert_eq!(explicit.to_rfc3339(), "2026-07-01T07:00:00+00:00");
        // 01:30 on the spring-forward night does not exist in London.
        assert!(parse_send_time("2026-03-29T01:30").is_err());
        assert!(parse_send_time("tomorrow").is_err());
    }
}
