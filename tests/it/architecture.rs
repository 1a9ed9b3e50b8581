//! The layering rules of ARCHITECTURE.md, checked against the source so a change that breaks
//! them fails here rather than in review:
//!
//! - the domain (and the letters, templates and providers it uses) never reaches up into the
//!   layers that call it: `api`, `admin`, `http`, `cli`, `workers`, `app`;
//! - a notification's status changes in one place only, `domain/status.rs`, through its
//!   transition table; everything else asks it (`apply_status`).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Each line of code in `files`, with comments dropped: (file, line number, code).
fn code_lines(files: &[PathBuf]) -> Vec<(String, usize, String)> {
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("readable source");
        let name = file
            .strip_prefix(src())
            .unwrap_or(file)
            .display()
            .to_string();
        let all: Vec<&str> = text.lines().collect();
        for (i, &line) in all.iter().enumerate() {
            // A file's unit tests (`#[cfg(test)] mod tests { ... }`, at its end) build what they
            // check; they change no status and add no dependency of the layer.
            if line.trim() == "#[cfg(test)]"
                && all
                    .get(i + 1)
                    .is_some_and(|next| next.trim_start().starts_with("mod tests"))
            {
                break;
            }
            let code = match line.find("//") {
                Some(at) => &line[..at],
                None => line,
            };
            if !code.trim().is_empty() {
                lines.push((name.clone(), i + 1, code.to_string()));
            }
        }
    }
    lines
}

const UPPER_LAYERS: [&str; 6] = ["api", "admin", "http", "cli", "workers", "app"];

/// Does `code` name one of the upper layers as a path (`crate::api::...`, `crate::{app, ...}`)?
fn reaches_up(code: &str) -> Option<&'static str> {
    for layer in UPPER_LAYERS {
        let direct = format!("crate::{layer}");
        if let Some(at) = code.find(&direct) {
            let rest = &code[at + direct.len()..];
            if !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
                return Some(layer);
            }
        }
        if let Some(at) = code.find("crate::{") {
            let group = &code[at + "crate::{".len()..];
            let group = &group[..group.find('}').unwrap_or(group.len())];
            if group
                .split([',', ' ', ':'])
                .any(|name| name.trim() == layer)
            {
                return Some(layer);
            }
        }
    }
    None
}

#[test]
fn the_domain_never_imports_the_layers_above_it() {
    let mut files = Vec::new();
    for dir in ["domain", "letters", "templates", "providers"] {
        rust_files(&src().join(dir), &mut files);
    }
    assert!(files.len() > 20, "found only {} files", files.len());
    let offences: Vec<String> = code_lines(&files)
        .into_iter()
        .filter_map(|(file, line, code)| {
            reaches_up(&code).map(|layer| format!("{file}:{line} uses `{layer}`: {}", code.trim()))
        })
        .collect();
    assert!(
        offences.is_empty(),
        "the domain must not reach up into {UPPER_LAYERS:?}:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_layer_check_sees_every_form_of_path() {
    assert_eq!(reaches_up("use crate::api::render;"), Some("api"));
    assert_eq!(
        reaches_up("    let x = crate::app::App::open();"),
        Some("app")
    );
    assert_eq!(reaches_up("use crate::{app, domain};"), Some("app"));
    assert_eq!(reaches_up("use crate::applications::x;"), None);
    assert_eq!(reaches_up("use crate::domain::Context;"), None);
}

/// Is `code` an assignment to a notification's status (`n.status = ...`), or a notification
/// built with a status outside the send path?
fn assigns_status(code: &str) -> bool {
    let mut rest = code;
    while let Some(at) = rest.find(".status") {
        let before = &rest[..at];
        let after = rest[at + ".status".len()..].trim_start();
        let receiver = before
            .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        // Jobs have statuses of their own (`JobStatus`).
        let is_job = receiver == "job" || receiver.ends_with("_job");
        // So do invitations (`InvitationStatus`).
        let is_invitation = after
            .trim_start_matches('=')
            .trim_start()
            .starts_with("InvitationStatus::");
        if !is_job && !is_invitation && after.starts_with('=') && !after.starts_with("==") {
            return true;
        }
        rest = &rest[at + ".status".len()..];
    }
    false
}

/// A struct literal's `status: NotificationStatus::...` field (not `new_status: ...`).
fn builds_with_status(code: &str) -> bool {
    code.match_indices("status: NotificationStatus::")
        .any(|(at, _)| {
            !code[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
}

#[test]
fn statuses_change_only_through_the_transition_table() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let offences: Vec<String> = code_lines(&files)
        .into_iter()
        .filter(|(file, _, _)| file != "domain/status.rs")
        .filter_map(|(file, line, code)| {
            let literal = builds_with_status(&code)
                // A new notification is created with its first status (the send path).
                && file != "domain/sending.rs";
            (assigns_status(&code) || literal).then(|| format!("{file}:{line}: {}", code.trim()))
        })
        .collect();
    assert!(
        offences.is_empty(),
        "a notification's status may change only in domain/status.rs (apply_status):\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_status_check_sees_assignments() {
    assert!(assigns_status(
        "    n.status = NotificationStatus::Cancelled;"
    ));
    assert!(assigns_status("h.status=to;"));
    assert!(!assigns_status(
        "if n.status == NotificationStatus::Created {"
    ));
    assert!(!assigns_status("job.status = JobStatus::Cancelled;"));
    assert!(!assigns_status("i.status = InvitationStatus::Accepted;"));
    assert!(!assigns_status("let s = n.status;"));
    assert!(builds_with_status(
        "    status: NotificationStatus::Created,"
    ));
    assert!(!builds_with_status(
        "    new_status: NotificationStatus::Delivered,"
    ));
}
