//! Owner-only files and directories.
//!
//! The data directory holds every recipient and personalisation, so what notify creates there
//! is for its own user alone: directories 0700, files 0600 (the secret files already were).
//! Directories and files that already exist are left as the operator made them (a shared
//! mount point, say), but [`warn_if_not_private`] says so at start, naming the path.

use std::io;
use std::path::Path;

/// Create `dir` and any missing parents, each owner-only (0700). Existing ones are not changed.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Create the empty file `path` owner-only (0600) if it does not exist; an existing file is
/// neither changed nor truncated.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The permission bits of `path` when its group or other users may use it (e.g. `0o755`),
/// `None` when it is owner-only (or on a platform without Unix modes).
pub fn open_to_others(path: &Path) -> io::Result<Option<u32>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        Ok((mode & 0o077 != 0).then_some(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(None)
    }
}

/// Log a warning naming `path` (`what` says what it is) when other local users may read or
/// enter it. Returns whether it warned.
pub fn warn_if_not_private(path: &Path, what: &str) -> bool {
    match open_to_others(path) {
        Ok(Some(mode)) => {
            let fix = if path.is_dir() {
                "chmod 700"
            } else {
                "chmod 600"
            };
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "the {what} {} is readable by other local users (mode {mode:o}): it holds \
                 recipients and personalisation; restrict it with `{fix} {}`",
                path.display(),
                path.display(),
            );
            true
        }
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the permissions of the {what}");
            false
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_directories_and_files_are_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("f");
        create_private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(open_to_others(&dir).unwrap(), None);
        assert_eq!(open_to_others(&file).unwrap(), None);
        assert!(!warn_if_not_private(&dir, "test directory"));
    }

    #[test]
    fn existing_ones_are_left_alone_and_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("shared");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let file = dir.join("f");
        std::fs::write(&file, b"kept").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();

        create_private_dir(&dir).unwrap();
        create_private_file(&file).unwrap();
        assert_eq!(mode(&dir), 0o755, "an operator's directory is not changed");
        assert_eq!(mode(&file), 0o644);
        assert_eq!(std::fs::read(&file).unwrap(), b"kept", "nor truncated");
        assert_eq!(open_to_others(&dir).unwrap(), Some(0o755));
        assert_eq!(open_to_others(&file).unwrap(), Some(0o644));
        assert!(warn_if_not_private(&dir, "test directory"));
    }
}
