//! The data directory's files are the appliance user's alone (issue 29, finding 5): what the
//! appliance creates is owner-only, and what an operator made looser is reported at start.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use notify::app::App;
use notify::config::Config;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Log lines written while `f` runs, as text.
fn logs_of<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    (out, text)
}

#[test]
fn a_new_data_directory_is_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("new/notify-data");
    let (app, logs) =
        logs_of(|| App::open(Config::for_tests(&data), Arc::new(storage::SystemClock)).unwrap());
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(&tmp.path().join("new")), 0o700, "its new parent");
    assert_eq!(mode(&storage::database_path(&data)), 0o600, "store file");
    assert_eq!(mode(&notify::app::index_dir(&app.config)), 0o700, "index");
    assert_eq!(mode(&app.config.blobs_dir()), 0o700, "local blobs");
    assert_eq!(mode(&app.config.encryption_key_file()), 0o600, "key file");
    assert!(!logs.contains("readable by other local users"), "{logs}");
    app.shutdown();
}

#[test]
fn looser_existing_directories_are_reported_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("notify-data");
    let blobs = tmp.path().join("shared-blobs");
    for dir in [&data, &blobs] {
        std::fs::create_dir(dir).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut config = Config::for_tests(&data);
    config.blobs.path = blobs.clone();
    let (app, logs) = logs_of(|| App::open(config, Arc::new(storage::SystemClock)).unwrap());
    assert_eq!(mode(&data), 0o755, "an operator's directory is not changed");
    assert_eq!(mode(&blobs), 0o755);
    for (what, path) in [("data directory", &data), ("blob directory", &blobs)] {
        let line = logs
            .lines()
            .find(|l| l.contains(&format!("the {what} {}", path.display())))
            .unwrap_or_else(|| panic!("no warning for the {what}; logs:\n{logs}"));
        assert!(line.contains("WARN"), "{line}");
        assert!(line.contains("readable by other local users"), "{line}");
        assert!(line.contains("chmod 700"), "{line}");
    }
    // What the appliance created inside is still owner-only.
    assert_eq!(mode(&storage::database_path(&data)), 0o600);
    assert_eq!(mode(&notify::app::index_dir(&app.config)), 0o700);
    app.shutdown();
}
