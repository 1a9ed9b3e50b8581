//! The printer's response files (workers.md §4.1): `NOTIFY-<YYYYMMDDHHMMSS>-RSP.TXT`, one line per
//! letter, `<reference>|<status>|<page count>|<Sorted|Unsorted>[|<despatch date>]`.
//!
//! A file is parsed completely before anything changes: one malformed line refuses the whole
//! file, naming the line. Then it is applied in one write: `Sent` → `delivered`, anything else →
//! `temporary-failure` (live rows and archived ones alike, no status guard, as upstream's bulk
//! update by reference), with the file's record, so a file is never applied twice. Failed letters
//! raise an alert; a page count that disagrees with the letter's sheets is logged.

use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use storage::records::{NotificationStatus, PrintResponseFile};

use super::names::is_letter_reference;
use crate::domain::Context;
use crate::domain::status::{Applied, Event, StatusChange, apply_status};

/// One line of a response file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseLine {
    pub reference: String,
    pub sent: bool,
    pub status: String,
    pub page_count: u32,
    pub sorted: bool,
    pub despatched_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("response file {0} has an invalid name (expected NOTIFY-<YYYYMMDDHHMMSS>-RSP.TXT)")]
    BadName(String),
    #[error("response file {file} has an invalid format at line {line}: {problem}")]
    BadLine {
        file: String,
        line: usize,
        problem: String,
    },
    #[error("response file {0} has no lines")]
    Empty(String),
    #[error("response file {0} was already processed")]
    AlreadyProcessed(String),
    #[error("{0}")]
    Store(String),
}

/// The file's timestamp (UTC; the seconds are ignored: the printer once sent second "60").
pub fn file_timestamp(name: &str) -> Result<chrono::DateTime<Utc>, ResponseError> {
    let bad = || ResponseError::BadName(name.to_string());
    let upper = name.to_ascii_uppercase();
    let stamp = upper
        .strip_prefix("NOTIFY-")
        .and_then(|r| r.strip_suffix("-RSP.TXT"))
        .filter(|s| s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(bad)?;
    let minutes = NaiveDateTime::parse_from_str(&stamp[..12], "%Y%m%d%H%M").map_err(|_| bad())?;
    Ok(Utc.from_utc_datetime(&minutes))
}

/// Parse a whole file strictly.
pub fn parse(name: &str, bytes: &[u8]) -> Result<Vec<ResponseLine>, ResponseError> {
    file_timestamp(name)?;
    let text = std::str::from_utf8(bytes).map_err(|e| ResponseError::BadLine {
        file: name.to_string(),
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        problem: "not UTF-8 text".into(),
    })?;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let bad = |problem: String| ResponseError::BadLine {
            file: name.to_string(),
            line: i + 1,
            problem,
        };
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        if !(4..=5).contains(&fields.len()) {
            return Err(bad(format!(
                "{} fields, expected 4 or 5 separated by |",
                fields.len()
            )));
        }
        if !is_letter_reference(fields[0]) {
            return Err(bad(format!(
                "{:?} is not a 16-character letter reference",
                fields[0]
            )));
        }
        if fields[1].is_empty() {
            return Err(bad("the status is empty".into()));
        }
        let page_count = fields[2]
            .parse::<u32>()
            .map_err(|_| bad(format!("page count {:?} is not a number", fields[2])))?;
        let sorted = match fields[3].to_ascii_lowercase().as_str() {
            "sorted" => true,
            "unsorted" => false,
            other => return Err(bad(format!("contains unknown Sorted status {other:?}"))),
        };
        let despatched_on = match fields.get(4) {
            None | Some(&"") => None,
            Some(d) => Some(
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| bad(format!("despatch date {d:?} is not YYYY-MM-DD")))?,
            ),
        };
        out.push(ResponseLine {
            reference: fields[0].to_string(),
            sent: fields[1] == "Sent",
            status: fields[1].to_string(),
            page_count,
            sorted,
            despatched_on,
        });
    }
    if out.is_empty() {
        return Err(ResponseError::Empty(name.to_string()));
    }
    Ok(out)
}

/// Apply a response file (see the module notes). Answers what it did.
pub async fn apply(
    cx: &Context,
    name: &str,
    bytes: &[u8],
) -> Result<PrintResponseFile, ResponseError> {
    let lines = parse(name, bytes)?;
    let billing_day = crate::domain::facts::day_number(crate::domain::facts::london_date(
        file_timestamp(name)?.timestamp_micros(),
    ));
    let file_name = name.to_string();
    let outcome = cx
        .store
        .write(move |ctx| {
            if ctx.get_print_response_file(&file_name)?.is_some() {
                return Ok(Err(ResponseError::AlreadyProcessed(file_name)));
            }
            let now = ctx.now_micros();
            let mut record = PrintResponseFile {
                name: file_name.clone(),
                processed_at: now,
                billing_day,
                lines: lines.len() as u32,
                delivered: 0,
                failed: Vec::new(),
                unknown: Vec::new(),
                sorted: lines.iter().filter(|l| l.sorted).count() as u32,
                unsorted: lines.iter().filter(|l| !l.sorted).count() as u32,
            };
            for line in &lines {
                let status = if line.sent {
                    NotificationStatus::Delivered
                } else {
                    NotificationStatus::TemporaryFailure
                };
                let Some(id) = ctx.notification_id_by_reference(&line.reference)? else {
                    record.unknown.push(line.reference.clone());
                    continue;
                };
                let billable = match apply_status(
                    ctx,
                    id,
                    Event::PrinterResponse,
                    status,
                    StatusChange::default(),
                )? {
                    Applied::Updated(n) => Some(n.billable_units),
                    Applied::UpdatedHistory(h) => Some(h.billable_units),
                    // Already answered for (an earlier file), or never printed: logged there.
                    Applied::Ignored(_) => None,
                    Applied::NotFound => {
                        record.unknown.push(line.reference.clone());
                        continue;
                    }
                };
                if let Some(billable) = billable
                    && line.page_count != billable
                {
                    tracing::error!(
                        notification_id = %id,
                        billable_units = billable,
                        page_count = line.page_count,
                        "the printer's page count differs from the letter's billable units"
                    );
                }
                if line.sent {
                    record.delivered += 1;
                } else {
                    record.failed.push(line.reference.clone());
                }
            }
            ctx.put_print_response_file(&record)?;
            Ok(Ok(record))
        })
        .await
        .map_err(|e| ResponseError::Store(e.to_string()))??;
    if !outcome.unknown.is_empty() {
        tracing::info!(file = name, unknown = ?outcome.unknown, "response file names letters we do not know");
    }
    if !outcome.failed.is_empty() {
        crate::domain::alerts::raise(
            cx,
            "printer-reported-failed-letters",
            format!(
                "DVLA response file {name} has {} failed letters",
                outcome.failed.len()
            ),
            outcome.failed.iter().take(50).cloned().collect(),
        )
        .await;
    }
    Ok(outcome)
}

/// Pick up the response files waiting on the print transport: apply each, then archive it
/// (a refused file is archived too, after an alert naming the problem, so it is not retried
/// for ever; the operator can fix it and upload it through the internal API).
pub async fn process_waiting(cx: &Context) -> crate::domain::JobOutcome {
    let transport = super::transport::PrintTransport::from_config(&cx.config);
    let names = transport
        .list_responses()
        .await
        .map_err(|e| crate::domain::DomainError::invalid(format!("print transport: {e}")))?;
    let (mut applied, mut refused) = (0u32, 0u32);
    for name in names {
        let bytes = transport
            .read_response(&name)
            .await
            .map_err(|e| crate::domain::DomainError::invalid(format!("print transport: {e}")))?;
        match apply(cx, &name, &bytes).await {
            Ok(_) => applied += 1,
            Err(ResponseError::Store(e)) => {
                // Left where it is: the next run tries again.
                return Err(crate::domain::DomainError::invalid(format!(
                    "cannot apply {name}: {e}"
                )));
            }
            Err(e) => {
                refused += 1;
                crate::domain::alerts::raise(
                    cx,
                    "printer-response-file-refused",
                    e.to_string(),
                    vec![name.clone()],
                )
                .await;
            }
        }
        transport
            .archive_response(&name)
            .await
            .map_err(|e| crate::domain::DomainError::invalid(format!("print transport: {e}")))?;
    }
    Ok(format!(
        "response files applied: {applied}, refused: {refused}"
    ))
}

/// A response file for letters sent with a test key (§1.6): the appliance answers for the
/// printer, so test letters reach `delivered` by the same path as real ones. Named for a
/// second within the last 30 not already used by a processed file.
pub async fn fake_response_for_test_letters(
    cx: &Context,
    references: &[String],
) -> Result<PrintResponseFile, ResponseError> {
    let now = cx.store.clock().now();
    let today = now.date_naive().format("%Y-%m-%d");
    let body: String = references
        .iter()
        .map(|r| format!("{r}|Sent|0|Sorted|{today}\n"))
        .collect();
    for back in 0..30 {
        let at = now - chrono::Duration::seconds(back);
        let name = format!("NOTIFY-{}-RSP.TXT", at.format("%Y%m%d%H%M%S"));
        match apply(cx, &name, body.as_bytes()).await {
            Err(ResponseError::AlreadyProcessed(_)) => continue,
            other => return other,
        }
    }
    Err(ResponseError::Store(
        "every response file name of the last 30 seconds is taken".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "NOTIFY-20260223120160-RSP.TXT";

    #[test]
    fn parses_good_lines_and_ignores_the_seconds() {
        let text =
            "AAAAAAAAAJH3KUL1|Sent|2|Sorted|2023-02-23\nBBBBBBBBBBBBBBB2|Failed|4|unsorted\n\n";
        let lines = parse(NAME, text.as_bytes()).unwrap();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].sent && lines[0].sorted);
        assert_eq!(lines[0].despatched_on, NaiveDate::from_ymd_opt(2023, 2, 23));
        assert!(!lines[1].sent && !lines[1].sorted);
        assert_eq!(lines[1].page_count, 4);
        assert_eq!(
            file_timestamp(NAME).unwrap().to_rfc3339(),
            "2026-02-23T12:01:00+00:00"
        );
    }

    #[test]
    fn one_bad_line_refuses_the_file_and_names_the_line() {
        let cases = [
            (
                "AAAAAAAAAJH3KUL1|Sent|2|Sorted\nAAAAAAAAAJH3KUL2|Sent|2",
                2,
                "fields",
            ),
            ("AAAAAAAAAJH3KUL1|Sent|two|Sorted", 1, "page count"),
            (
                "AAAAAAAAAJH3KUL1|Sent|2|Sortish",
                1,
                "unknown Sorted status",
            ),
            ("short|Sent|2|Sorted", 1, "reference"),
            (
                "AAAAAAAAAJH3KUL1|Sent|2|Sorted|23/02/2023",
                1,
                "despatch date",
            ),
        ];
        for (text, line, words) in cases {
            match parse(NAME, text.as_bytes()) {
                Err(ResponseError::BadLine {
                    line: l, problem, ..
                }) => {
                    assert_eq!(l, line, "{text}");
                    assert!(problem.contains(words), "{problem}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(parse(NAME, b"\n"), Err(ResponseError::Empty(_))));
        assert!(matches!(
            parse("responses.txt", b"AAAAAAAAAJH3KUL1|Sent|2|Sorted"),
            Err(ResponseError::BadName(_))
        ));
    }
}
