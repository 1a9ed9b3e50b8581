//! Recipient sheets (bulk sends and contact lists): the spreadsheet read
//! ([`recipient_sheet::sheet_as_csv`]: CSV, `.xlsx`, `.xlsm`, `.xls`, `.ods`), then the checks
//! against a template with placeholders ([`recipient_sheet::check_csv`]) and the job's read of
//! a sheet it stored ([`recipient_sheet::rows_of_checked_csv`]).
//!
//! Input: a first line `<sms|email|letter> <file name>`, then the file's bytes. Without that
//! line the whole input is a CSV for a text-message template.

use notify::domain::recipient_sheet::{self, Allowed};
use storage::records::NotificationType;

pub fn run(data: &[u8]) {
    let (kind, name, file) = header(data);
    let Ok(csv) = recipient_sheet::sheet_as_csv(name, file) else {
        return;
    };
    let template = crate::json_body::template(kind);
    for allowed in [
        Allowed::default(),
        Allowed {
            international_sms: true,
            international_letters: true,
        },
    ] {
        if let Ok(sheet) = recipient_sheet::check_csv(&csv, &template, allowed) {
            let _ = sheet.is_valid();
            let _ = recipient_sheet::rows_of_checked_csv(&csv, &template, allowed);
        }
    }
}

fn header(data: &[u8]) -> (NotificationType, &str, &[u8]) {
    let (first, rest) = crate::split_once(data, b'\n');
    let parsed = std::str::from_utf8(first).ok().and_then(|line| {
        let (kind, name) = line.split_once(' ')?;
        let kind = match kind {
            "sms" => NotificationType::Sms,
            "email" => NotificationType::Email,
            "letter" => NotificationType::Letter,
            _ => return None,
        };
        Some((kind, name))
    });
    match parsed {
        Some((kind, name)) => (kind, name, rest),
        None => (NotificationType::Sms, "people.csv", data),
    }
}
