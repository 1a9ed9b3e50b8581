//! The configuration (`notify.toml` and `NOTIFY_*` variables), loaded through
//! [`notify::config::load_from`], the function `notify serve` and every CLI command call.
//!
//! Input: one byte for the layer (`f`: the rest is the TOML file; `e`: the rest is environment
//! variables, one `NAME=value` a line; any other byte: the file up to a NUL byte, then the
//! variables).

use std::path::PathBuf;

use notify::config::{Overrides, load_from};

/// A scratch file the target writes each input to (the loader reads a path).
pub struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("notify.toml");
        Fixture { _dir: dir, path }
    }

    pub fn run(&self, data: &[u8]) {
        let Some((&layer, rest)) = data.split_first() else {
            return;
        };
        let (file, env) = match layer {
            b'f' => (Some(rest), &[][..]),
            b'e' => (None, rest),
            _ => match rest.iter().position(|&b| b == 0) {
                Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
                None => (Some(rest), &[][..]),
            },
        };
        if let Some(file) = file {
            std::fs::write(&self.path, file).expect("the scratch file is writable");
        }
        let env: Vec<(String, String)> = String::from_utf8_lossy(env)
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let path = file.map(|_| self.path.as_path());
        if let Err(e) = load_from(path, &env, &Overrides::default()) {
            let _ = e.to_string();
        }
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}
