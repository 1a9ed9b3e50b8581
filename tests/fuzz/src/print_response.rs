//! The printer's response files ([`responses::parse`], what both the SFTP/folder pick-up and
//! `POST /letters/print-responses` call): the file name's timestamp and every line.
//!
//! Input: a first line with the file name, then the file's content. Without a name line the
//! whole input is the content of a well-named file.

use notify::letters::responses;

pub fn run(data: &[u8]) {
    let (name, content) = crate::split_once(data, b'\n');
    let name = match std::str::from_utf8(name) {
        Ok(name) if !name.is_empty() => name,
        _ => "NOTIFY-20261120170000-RSP.TXT",
    };
    let _ = responses::file_timestamp(name);
    if let Ok(lines) = responses::parse(name, content) {
        assert!(!lines.is_empty(), "a parsed file has lines");
    }
}
