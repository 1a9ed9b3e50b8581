//! A spreadsheet of recipients for a bulk send (workers.md §8.1), checked against its template
//! before anything is sent:
//! - headers match case-, space-, `_`- and `-`-insensitively (`Phone Number` = `phone_number`);
//! - the recipient columns the template's type needs must be there: `phone number`,
//!   `email address`, or for letters `address_line_1` and at least two more of
//!   `address_line_2`…`address_line_7`/`postcode`;
//! - every placeholder of the template must be a column, and filled in on every row (a
//!   conditional placeholder `((name??text))` may be blank);
//! - each row's recipient is checked with the same rules as the API; a bad row is reported by
//!   its spreadsheet row number (the header is row 1) and column, and the others are still read;
//! - a byte-order mark, quoted newlines and rows that are wholly blank are taken in their stride;
//!   other columns become personalisation; a `reference` column becomes the client reference.
//!
//! At most [`MAX_ROWS`] rows, as upstream.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};
use storage::records::{NotificationType, Template};

use super::recipients;
use crate::templates::placeholders::{normalise_key, placeholder_names_in};

/// The most rows one sheet may hold.
pub const MAX_ROWS: usize = 100_000;

/// The address columns of a letter sheet, by their canonical personalisation names.
pub const ADDRESS_COLUMNS: [&str; 8] = [
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "address_line_4",
    "address_line_5",
    "address_line_6",
    "address_line_7",
    "postcode",
];

/// Why a whole sheet cannot be used (row problems are [`RowError`]s instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    #[error("The file is not a CSV file we can read: {0}")]
    Unreadable(String),
    #[error("The file is empty: it needs a header row and at least one row of recipients")]
    Empty,
    #[error("The file has {rows} rows: a file can have at most {max} rows", max = MAX_ROWS)]
    TooManyRows { rows: usize },
    #[error("The file is missing the column{} {}", plural(.0), quoted(.0))]
    MissingColumns(Vec<String>),
    #[error("The file has the column{} {} more than once", plural(.0), quoted(.0))]
    DuplicateColumns(Vec<String>),
}

fn plural(v: &[String]) -> &'static str {
    if v.len() == 1 { "" } else { "s" }
}

fn quoted(v: &[String]) -> String {
    v.iter()
        .map(|c| format!("‘{c}’"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A problem with one cell, by spreadsheet row (the header is row 1) and column header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub message: String,
}

/// One usable row.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetRow {
    /// 0-based among the data rows, counting blank rows (so it maps back to the file).
    pub index: usize,
    /// The recipient as written: phone number, email address, or the address lines joined.
    pub recipient: String,
    /// Every column of the row, by its header as written.
    pub personalisation: Map<String, Value>,
    pub reference: Option<String>,
}

/// The outcome of checking a sheet: rows to send and rows in error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckedSheet {
    pub rows: Vec<SheetRow>,
    pub errors: Vec<RowError>,
    /// Headers as written in the file.
    pub headers: Vec<String>,
}

impl CheckedSheet {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty() && !self.rows.is_empty()
    }
}

/// What the recipients may be: from the service's permissions.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allowed {
    pub international_sms: bool,
    pub international_letters: bool,
}

/// The header and the data rows, each with its 0-based index among the data rows. The csv
/// reader skips blank lines; they are counted back in so row numbers match the spreadsheet.
/// The sheet as CSV: a spreadsheet (`.xlsx`, `.xlsm`, `.xls`, `.ods`, by the file name) is read
/// through calamine, first sheet only, and written out as CSV; anything else is taken as CSV.
pub fn sheet_as_csv<'a>(
    file_name: &str,
    bytes: &'a [u8],
) -> Result<std::borrow::Cow<'a, [u8]>, SheetError> {
    use calamine::Reader as _;
    let lower = file_name.to_ascii_lowercase();
    let spreadsheet = [".xlsx", ".xlsm", ".xls", ".ods"]
        .iter()
        .any(|ext| lower.ends_with(ext));
    if !spreadsheet {
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    let unreadable = |e: &dyn std::fmt::Display| {
        SheetError::Unreadable(format!(
            "{file_name} is not a spreadsheet we can read ({e})"
        ))
    };
    // calamine trusts some indexes in the file (0.31 panics on a shared-string index past the
    // table, found by fuzzing): a file that breaks the reader is a file we cannot read.
    let read = std::panic::catch_unwind(|| {
        let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
            .map_err(|e| unreadable(&e))?;
        let range = book
            .worksheet_range_at(0)
            .ok_or(SheetError::Empty)?
            .map_err(|e| unreadable(&e))?;
        let mut out = csv::Writer::from_writer(Vec::new());
        for row in range.rows() {
            out.write_record(row.iter().map(|cell| cell.to_string()))
                .map_err(|e| unreadable(&e))?;
        }
        out.into_inner().map_err(|e| unreadable(&e))
    });
    match read {
        Ok(csv) => Ok(std::borrow::Cow::Owned(csv?)),
        Err(_) => Err(unreadable(&"the file is damaged")),
    }
}

/// The header and every data row's cells as written, each row with its 0-based index among
/// the data rows (blank lines counted, as [`SheetRow::index`]): what a page shows of a sheet.
#[allow(clippy::type_complexity)]
pub fn sheet_cells(bytes: &[u8]) -> Result<(Vec<String>, Vec<(usize, Vec<String>)>), SheetError> {
    read_csv(bytes)
}

#[allow(clippy::type_complexity)]
fn read_csv(bytes: &[u8]) -> Result<(Vec<String>, Vec<(usize, Vec<String>)>), SheetError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let unreadable = |e: csv::Error| SheetError::Unreadable(e.to_string());
    let mut record = csv::StringRecord::new();
    if !reader.read_record(&mut record).map_err(unreadable)? {
        return Err(SheetError::Empty);
    }
    let headers: Vec<String> = record.iter().map(|h| h.trim().to_string()).collect();
    let mut rows = Vec::new();
    let mut index = 0usize;
    while reader.read_record(&mut record).map_err(unreadable)? {
        // Lines consumed = blank lines skipped + newlines inside quoted cells + the record's
        // own line end (the last record may have none).
        let start_line = record.position().map_or(0, |p| p.line());
        let end = reader.position();
        let inside: u64 = record.iter().map(|f| f.matches('\n').count() as u64).sum();
        let end_byte = end.byte() as usize;
        let terminated = end_byte > 0 && matches!(bytes.get(end_byte - 1), Some(b'\n' | b'\r'));
        let skipped = (end.line() - start_line).saturating_sub(inside + u64::from(terminated));
        index += skipped as usize;
        if rows.len() == MAX_ROWS {
            // Count the rest without keeping them, for the message.
            let mut rest = 1;
            while reader.read_record(&mut record).map_err(unreadable)? {
                rest += 1;
            }
            return Err(SheetError::TooManyRows {
                rows: MAX_ROWS + rest,
            });
        }
        rows.push((index, record.iter().map(str::to_string).collect()));
        index += 1;
    }
    Ok((headers, rows))
}

/// The recipient columns a template type needs, as normalised keys.
fn recipient_keys(kind: NotificationType) -> Vec<String> {
    match kind {
        NotificationType::Sms => vec![normalise_key("phone number")],
        NotificationType::Email => vec![normalise_key("email address")],
        NotificationType::Letter => ADDRESS_COLUMNS.iter().map(|c| normalise_key(c)).collect(),
    }
}

/// Check `bytes` (a CSV file) against `template`.
pub fn check_csv(
    bytes: &[u8],
    template: &Template,
    allowed: Allowed,
) -> Result<CheckedSheet, SheetError> {
    read_sheet(bytes, template, allowed, true)
}

/// The rows of a sheet already checked by [`check_csv`] (a job's stored sheet), read again
/// without checking each recipient a second time: the job builds each row's recipient anyway.
pub fn rows_of_checked_csv(
    bytes: &[u8],
    template: &Template,
    allowed: Allowed,
) -> Result<Vec<SheetRow>, SheetError> {
    read_sheet(bytes, template, allowed, false).map(|s| s.rows)
}

fn read_sheet(
    bytes: &[u8],
    template: &Template,
    allowed: Allowed,
    check_recipients: bool,
) -> Result<CheckedSheet, SheetError> {
    let (headers, rows) = read_csv(bytes)?;
    let keys: Vec<String> = headers.iter().map(|h| normalise_key(h)).collect();
    let mut seen = HashSet::new();
    let mut duplicates = Vec::new();
    for (h, k) in headers.iter().zip(&keys) {
        if !k.is_empty() && !seen.insert(k.clone()) && !duplicates.contains(h) {
            duplicates.push(h.clone());
        }
    }
    if !duplicates.is_empty() {
        return Err(SheetError::DuplicateColumns(duplicates));
    }
    let column = |name: &str| keys.iter().position(|k| *k == normalise_key(name));

    // Required columns: recipient, then placeholders.
    let kind = template.template_type;
    let mut missing = Vec::new();
    match kind {
        NotificationType::Letter => {
            let present = ADDRESS_COLUMNS
                .iter()
                .filter(|c| column(c).is_some())
                .count();
            if column("address_line_1").is_none() {
                missing.push("address_line_1".to_string());
            }
            if present < 3 && column("address_line_1").is_some() {
                missing.push("address_line_2".to_string());
                if present < 2 {
                    missing.push("address_line_3".to_string());
                }
            }
        }
        NotificationType::Sms => {
            if column("phone number").is_none() {
                missing.push("phone number".to_string());
            }
        }
        NotificationType::Email => {
            if column("email address").is_none() {
                missing.push("email address".to_string());
            }
        }
    }
    let recipient_keys = recipient_keys(kind);
    let mut parts = vec![template.content.as_str()];
    if let Some(subject) = template.subject.as_deref()
        && kind != NotificationType::Sms
    {
        parts.push(subject);
    }
    // Placeholders with whether they must be filled in (a conditional one need not be).
    let mut placeholders: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for name in placeholder_names_in(&parts) {
        let key = normalise_key(&name);
        if !recipient_keys.contains(&key) {
            placeholders.insert(key, (name, true));
        }
    }
    for part in &parts {
        for conditional in conditional_names(part) {
            if let Some(entry) = placeholders.get_mut(&normalise_key(&conditional)) {
                entry.1 = entry.1 && unconditional_use(&parts, &conditional);
            }
        }
    }
    for (key, (name, _)) in &placeholders {
        if !keys.contains(key) {
            missing.push(name.clone());
        }
    }
    if !missing.is_empty() {
        return Err(SheetError::MissingColumns(missing));
    }

    let reference_column = column("reference");
    let mut checked = CheckedSheet {
        headers: headers.clone(),
        ..Default::default()
    };
    for (index, cells) in rows {
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let row_number = index + 2;
        let cell = |i: usize| cells.get(i).map(String::as_str).unwrap_or("");
        let mut personalisation = Map::new();
        for (i, header) in headers.iter().enumerate() {
            if !header.is_empty() {
                personalisation.insert(header.clone(), Value::String(cell(i).to_string()));
            }
        }
        let mut row_ok = true;
        let mut fail = |column: &str, message: String| {
            checked.errors.push(RowError {
                row: row_number,
                column: column.to_string(),
                message,
            });
        };
        let recipient = match kind {
            NotificationType::Sms => {
                let i = column("phone number").expect("checked above");
                let value = cell(i);
                match check_recipients.then(|| recipients::validate_phone_number(value)) {
                    None => {}
                    Some(Ok(p))
                        if p.international && !p.crown_dependency && !allowed.international_sms =>
                    {
                        fail(
                            &headers[i],
                            "This service cannot send text messages to international numbers"
                                .into(),
                        );
                        row_ok = false;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) if value.trim().is_empty() => {
                        fail(&headers[i], "Missing phone number".into());
                        row_ok = false;
                    }
                    Some(Err(e)) => {
                        fail(&headers[i], e.to_string());
                        row_ok = false;
                    }
                }
                value.to_string()
            }
            NotificationType::Email => {
                let i = column("email address").expect("checked above");
                let value = cell(i);
                if !check_recipients {
                    // Checked when the sheet was uploaded.
                } else if value.trim().is_empty() {
                    fail(&headers[i], "Missing email address".into());
                    row_ok = false;
                } else if let Err(e) = recipients::validate_email_address(value) {
                    fail(&headers[i], e.to_string());
                    row_ok = false;
                }
                value.to_string()
            }
            NotificationType::Letter => {
                let lines: Vec<String> = ADDRESS_COLUMNS
                    .iter()
                    .map(|c| column(c).map(|i| cell(i).to_string()).unwrap_or_default())
                    .collect();
                let first = column("address_line_1").expect("checked above");
                if let Some(Err(e)) = check_recipients.then(|| {
                    recipients::validate_postal_address(&lines, allowed.international_letters)
                }) {
                    fail(&headers[first], e.to_string());
                    row_ok = false;
                }
                lines
                    .iter()
                    .filter(|l| !l.trim().is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        };
        for (key, (name, required)) in &placeholders {
            let i = keys.iter().position(|k| k == key).expect("checked above");
            if *required && cell(i).trim().is_empty() {
                fail(&headers[i], format!("Missing {name}"));
                row_ok = false;
            }
        }
        if row_ok {
            checked.rows.push(SheetRow {
                index,
                recipient,
                personalisation,
                reference: reference_column
                    .map(|i| cell(i).trim().to_string())
                    .filter(|r| !r.is_empty()),
            });
        }
    }
    if checked.rows.is_empty() && checked.errors.is_empty() {
        return Err(SheetError::Empty);
    }
    Ok(checked)
}

/// Names used as `((name??text))` in `text`.
fn conditional_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("((") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("))") else { break };
        if let Some((name, _)) = after[..end].split_once("??") {
            out.push(name.trim().to_string());
        }
        rest = &after[end + 2..];
    }
    out
}

/// Whether `name` is also used as a plain `((name))` somewhere (then it must be filled in).
fn unconditional_use(parts: &[&str], name: &str) -> bool {
    let wanted = normalise_key(name);
    parts.iter().any(|p| {
        let mut rest = *p;
        while let Some(start) = rest.find("((") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("))") else { break };
            let body = &after[..end];
            if !body.contains("??") && normalise_key(body) == wanted {
                return true;
            }
            rest = &after[end + 2..];
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn template(kind: NotificationType, subject: Option<&str>, content: &str) -> Template {
        Template {
            id: Uuid::nil(),
            service_id: Uuid::nil(),
            name: "t".into(),
            template_type: kind,
            subject: subject.map(str::to_string),
            content: content.into(),
            version: 1,
            archived: false,
            hidden: false,
            postage: None,
            letter_contact_id: None,
            created_at: 0,
            updated_at: None,
            created_by: None,
        }
    }

    fn sms() -> Template {
        template(
            NotificationType::Sms,
            None,
            "Hello ((name)), ref ((Case Number))",
        )
    }

    fn check(csv: &str, t: &Template) -> Result<CheckedSheet, SheetError> {
        check_csv(csv.as_bytes(), t, Allowed::default())
    }

    #[test]
    fn headers_match_whatever_their_case_and_spacing() {
        let sheet = check(
            "Phone_Number,NAME,case-number,extra\n07700900123,Ann,42,x\n",
            &sms(),
        )
        .unwrap();
        assert!(sheet.is_valid(), "{sheet:?}");
        assert_eq!(sheet.rows[0].recipient, "07700900123");
        assert_eq!(sheet.rows[0].personalisation["NAME"], "Ann");
        assert_eq!(sheet.rows[0].personalisation["extra"], "x");
    }

    #[test]
    fn a_missing_column_is_named() {
        let err = check("phone number,name\n07700900123,Ann\n", &sms()).unwrap_err();
        assert_eq!(err, SheetError::MissingColumns(vec!["Case Number".into()]));
        assert_eq!(
            err.to_string(),
            "The file is missing the column ‘Case Number’"
        );
        let err = check("name,case number\nAnn,1\n", &sms()).unwrap_err();
        assert_eq!(err, SheetError::MissingColumns(vec!["phone number".into()]));
        let email = template(NotificationType::Email, Some("About ((topic))"), "Hi");
        let err = check("email address\na@example.com\n", &email).unwrap_err();
        assert_eq!(err, SheetError::MissingColumns(vec!["topic".into()]));
        let letter = template(NotificationType::Letter, Some("Hi"), "Body");
        let err = check("address_line_1,postcode\nA,SW1A 1AA\n", &letter).unwrap_err();
        assert_eq!(
            err,
            SheetError::MissingColumns(vec!["address_line_2".into()])
        );
        let err = check(
            "Phone number,phone_number,name,case number\n1,2,3,4\n",
            &sms(),
        )
        .unwrap_err();
        assert!(matches!(err, SheetError::DuplicateColumns(_)), "{err:?}");
    }

    #[test]
    fn bad_rows_are_reported_by_row_and_column_and_the_rest_are_read() {
        let csv = "phone number,name,case number\n\
                   07700900123,Ann,1\n\
                   12345,Bob,2\n\
                   07700900124,,3\n\
                   ,Dan,4\n\
                   +33612345678,Eve,5\n\
                   07700900125,Fay,6\n";
        let sheet = check(csv, &sms()).unwrap();
        assert_eq!(sheet.rows.len(), 2);
        assert_eq!(sheet.rows[1].index, 5);
        let errors: Vec<(usize, &str, &str)> = sheet
            .errors
            .iter()
            .map(|e| (e.row, e.column.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            errors,
            vec![
                (3, "phone number", "Not enough digits"),
                (4, "name", "Missing name"),
                (5, "phone number", "Missing phone number"),
                (
                    6,
                    "phone number",
                    "This service cannot send text messages to international numbers"
                ),
            ]
        );
        assert!(!sheet.is_valid());
        // Allowed to send abroad, the French number is fine.
        let sheet = check_csv(
            csv.as_bytes(),
            &sms(),
            Allowed {
                international_sms: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(sheet.rows.len(), 3);
    }

    #[test]
    fn bom_quoted_newlines_unicode_and_blank_rows_are_read() {
        let csv = "\u{FEFF}email address,name,reference\r\n\
                   zoe@example.com,\"Zoë\nO’Brien\",ref-1\r\n\
                   ,,\r\n\
                   \r\n\
                   bob@example.com,Bob,\r\n";
        let email = template(NotificationType::Email, Some("Hi ((name))"), "Body");
        let sheet = check(csv, &email).unwrap();
        assert!(sheet.is_valid(), "{sheet:?}");
        assert_eq!(sheet.headers[0], "email address");
        assert_eq!(sheet.rows.len(), 2);
        assert_eq!(sheet.rows[0].personalisation["name"], "Zoë\nO’Brien");
        assert_eq!(sheet.rows[0].reference.as_deref(), Some("ref-1"));
        assert_eq!(sheet.rows[1].reference, None);
        assert_eq!(
            sheet.rows[1].index, 3,
            "blank rows still count for row numbers"
        );
    }

    #[test]
    fn extra_columns_are_carried_and_a_stored_sheet_reads_without_rechecking() {
        let t = template(NotificationType::Sms, None, "Hi ((name))");
        let csv = "phone number,name,shoe size\n07700900123,Ann,5\n";
        let sheet = check(csv, &t).unwrap();
        assert_eq!(sheet.rows[0].personalisation["shoe size"], "5");
        // A stored sheet was checked when it was uploaded: reading it again skips the
        // recipient checks (the job checks each recipient as it builds the row).
        let rows = rows_of_checked_csv(
            "phone number,name\nnot checked again,Ann\n".as_bytes(),
            &t,
            Allowed::default(),
        )
        .unwrap();
        assert_eq!(rows[0].recipient, "not checked again");
    }

    #[test]
    fn a_csv_passes_through_and_a_broken_spreadsheet_is_named() {
        let csv = b"phone number\n07700900123\n";
        assert!(matches!(
            sheet_as_csv("people.csv", csv),
            Ok(std::borrow::Cow::Borrowed(_))
        ));
        let err = sheet_as_csv("People.XLSX", b"not a zip").unwrap_err();
        assert!(err.to_string().contains("People.XLSX"), "{err}");
    }

    /// Found by fuzzing (`fixtures/fuzz/sheet/crash-*`): files that made calamine panic are
    /// unreadable files, not a panic in the upload.
    #[test]
    fn spreadsheets_that_break_the_reader_are_unreadable() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fuzz/sheet");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("crash-") {
                continue;
            }
            // The fuzz input's first line names the file (`sms people.xlsx`).
            let input = std::fs::read(&path).unwrap();
            let newline = input.iter().position(|&b| b == b'\n').unwrap();
            let file_name = String::from_utf8_lossy(&input[..newline]);
            let file_name = file_name.split_once(' ').unwrap().1.to_string();
            let err = sheet_as_csv(&file_name, &input[newline + 1..]).unwrap_err();
            assert!(
                err.to_string().contains("is not a spreadsheet we can read"),
                "{name}: {err}"
            );
            seen += 1;
        }
        assert!(seen > 0, "the crash inputs are there");
    }

    #[test]
    fn letters_need_a_real_address() {
        let letter = template(NotificationType::Letter, Some("Hi ((name))"), "Body");
        let csv = "address line 1,address line 2,address line 3,postcode,name\n\
                   A Person,1 High Street,Town,SW1A 1AA,Ann\n\
                   A Person,1 High Street,Town,not a postcode,Bob\n";
        let sheet = check(csv, &letter).unwrap();
        assert_eq!(sheet.rows.len(), 1);
        assert_eq!(
            sheet.rows[0].recipient,
            "A Person\n1 High Street\nTown\nSW1A 1AA"
        );
        assert_eq!(sheet.errors.len(), 1);
        assert_eq!(sheet.errors[0].row, 3);
        assert_eq!(sheet.errors[0].column, "address line 1");
    }

    #[test]
    fn conditional_placeholders_may_be_blank() {
        let t = template(NotificationType::Sms, None, "Hi((extra?? and more))");
        let sheet = check("phone number,extra\n07700900123,\n", &t).unwrap();
        assert!(sheet.is_valid(), "{sheet:?}");
        let t = template(
            NotificationType::Sms,
            None,
            "((extra)) ((extra?? and more))",
        );
        let sheet = check("phone number,extra\n07700900123,\n", &t).unwrap();
        assert_eq!(sheet.errors.len(), 1);
    }

    #[test]
    fn empty_and_oversized_files_are_refused() {
        assert_eq!(check("", &sms()).unwrap_err(), SheetError::Empty);
        assert_eq!(
            check("phone number,name,case number\n,,\n", &sms()).unwrap_err(),
            SheetError::Empty
        );
        let mut big = String::from("phone number,name,case number\n");
        for _ in 0..MAX_ROWS + 2 {
            big.push_str("07700900123,Ann,1\n");
        }
        let err = check(&big, &sms()).unwrap_err();
        assert_eq!(err, SheetError::TooManyRows { rows: MAX_ROWS + 2 });
        assert_eq!(
            err.to_string(),
            "The file has 100002 rows: a file can have at most 100000 rows"
        );
    }
}
