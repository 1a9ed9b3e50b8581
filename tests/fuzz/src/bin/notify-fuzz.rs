//! The coverage-guided driver: `notify-fuzz <target>` under `cargo afl fuzz` (see
//! `tests/fuzz/run.sh`). The target is set up once, before AFL++'s fork server starts (the
//! `jwt` target's store is opened and seeded only once), then runs in persistent mode.
//!
//! A panic that escapes the target is a crash; so is a panic in our own code even where it is
//! caught (the PDF validator turns panics into `unable-to-read-the-file`): it is still a bug.
//! A third-party parser's panic that the server contains is not ([`notify_fuzz::panic_is_reported`]).

use std::panic::AssertUnwindSafe;

fn run(target: &AssertUnwindSafe<notify_fuzz::Target>, data: &[u8]) {
    (target.0)(data)
}

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = notify_fuzz::target(&name) else {
        eprintln!(
            "usage: notify-fuzz <target>, one of: {}",
            notify_fuzz::TARGETS.join(", ")
        );
        std::process::exit(2);
    };
    std::panic::set_hook(Box::new(|info| {
        if info
            .location()
            .is_none_or(|l| notify_fuzz::panic_is_reported(l.file()))
        {
            eprintln!("{info}");
            std::process::abort();
        }
    }));
    // No hook of afl's own: it would abort on the contained panics too. A panic that escapes
    // the target still aborts (afl's loop turns it into a crash).
    // The targets keep no state between inputs that a panic could leave half-changed.
    let target = AssertUnwindSafe(target);
    afl::fuzz_nohook!(|data: &[u8]| run(&target, data));
}
