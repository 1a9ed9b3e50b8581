//! Fuzz targets for every parser of outside input, each calling the entry points the server
//! itself calls (the HTTP handlers' and workers' functions), never a copy of them.
//!
//! A target is a function of one byte string that must never panic, abort or hang: whatever
//! the bytes, the parser answers with a value or an error. Two drivers run them:
//! - `src/bin/notify-fuzz.rs`: coverage-guided, with AFL++ (`cargo afl`), for the long runs
//!   (`tests/fuzz/run.sh`);
//! - `src/short_run.rs` (the crate's tests, part of `cargo test --workspace`): every corpus file,
//!   then property cases (proptest) made by editing corpus files, for CI.
//!
//! Corpora live in `fixtures/fuzz/<target>/`, one file per input; inputs that once broke a
//! parser are kept there (named `crash-*`) so every run replays them.

use std::path::PathBuf;

pub mod config;
pub mod json_body;
pub mod jwt;
pub mod pdf;
pub mod print_response;
pub mod ses;
pub mod sheet;
pub mod sms_receipt;
pub mod template;

/// One fuzz target, ready to run: it owns whatever it set up (a store for `jwt`, a scratch
/// file for `config`), released when dropped.
pub type Target = Box<dyn Fn(&[u8])>;

/// Every target's name, as used on the command line and for its corpus directory.
pub const TARGETS: &[&str] = &[
    "json_body",
    "jwt",
    "sheet",
    "pdf",
    "print_response",
    "sms_receipt",
    "ses",
    "template",
    "config",
];

/// The named target, set up.
pub fn target(name: &str) -> Option<Target> {
    Some(match name {
        "json_body" => Box::new(json_body::run),
        "jwt" => {
            let fixture = jwt::Fixture::new();
            Box::new(move |data| fixture.run(data))
        }
        "sheet" => Box::new(sheet::run),
        "pdf" => Box::new(pdf::run),
        "print_response" => Box::new(print_response::run),
        "sms_receipt" => Box::new(sms_receipt::run),
        "ses" => Box::new(ses::run),
        "template" => Box::new(template::run),
        "config" => {
            let fixture = config::Fixture::new();
            Box::new(move |data| fixture.run(data))
        }
        _ => return None,
    })
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// `fixtures/fuzz/<target>/`: the target's corpus (and where its crash inputs are kept).
pub fn corpus_dir(name: &str) -> PathBuf {
    fixtures().join("fuzz").join(name)
}

/// Every directory a target's inputs are seeded from: its corpus, and fixtures the other tests
/// use where they are inputs of the same kind (the letter PDFs).
pub fn corpus_dirs(name: &str) -> Vec<PathBuf> {
    let mut dirs = vec![corpus_dir(name)];
    if name == "pdf" {
        dirs.push(fixtures().join("letters"));
    }
    dirs
}

/// Every input of a target's corpus directories (`README.md` files aside), sorted by name.
pub fn corpus(name: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in corpus_dirs(name) {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if file_name == "README.md" || !entry.path().is_file() {
                continue;
            }
            if let Ok(bytes) = std::fs::read(entry.path()) {
                out.push((file_name, bytes));
            }
        }
    }
    out.sort();
    out
}

/// Whether a panic raised at `file` (its location) is a bug to report even when something
/// catches it. Panics in our code (and in the standard library on our behalf) always are. A
/// third-party crate's own panic is reported only if it escapes the target: the server contains
/// those of the parsers it does not trust (lopdf's, calamine's) where it calls them, and one
/// that escapes is a crash all the same.
pub fn panic_is_reported(file: &str) -> bool {
    !(file.contains("/.cargo/registry/") || file.contains("/.cargo/git/"))
}

/// Split `data` at the first `sep`: (before, after). Without it, all of `data` is the second
/// part, so a target's structured inputs degrade to "just the payload".
pub(crate) fn split_once(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[], data),
    }
}

/// A fixed "now" (a Friday noon, London), so every run of an input does the same.
pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2026, 11, 20, 12, 0, 0)
        .single()
        .expect("a valid time")
}

#[cfg(test)]
mod short_run;
