//! The short run for CI: each target replays its whole corpus, then runs property cases made by
//! editing corpus files (bit flips, byte changes, insertions, deletions, repeats, splices of
//! two files) or by plain random bytes, until it has run `FUZZ_CASES` cases (100,000) or for
//! `FUZZ_SECONDS` (30), whichever comes first. Cases are drawn from fixed seeds, so a run is
//! repeatable; a failing case is shrunk by proptest and written to
//! `target/fuzz-failures/<target>-<hash>` for the corpus once fixed.
//!
//! A panic in our code fails a case even when the code under test catches it (the PDF validator
//! does, to answer `unable-to-read-the-file`), as it does for the AFL++ driver; a third-party
//! parser's panic fails it only if it escapes ([`crate::panic_is_reported`]).

use std::cell::Cell;
use std::sync::Once;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// Property cases a batch runs before the time and case budgets are looked at again.
const BATCH: u32 = 500;
/// Longest random input, and longest insertion.
const MAX_NEW_BYTES: usize = 256;

thread_local! {
    static PANICKED: Cell<bool> = const { Cell::new(false) };
}

/// Notes every reported panic on this thread (caught or not), after the usual report; other
/// panics are left to unwind quietly.
fn watch_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info
                .location()
                .is_none_or(|l| crate::panic_is_reported(l.file()))
            {
                PANICKED.with(|p| p.set(true));
                previous(info);
            }
        }));
    });
}

fn budget(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One change to an input; positions are fractions of the length at the time.
#[derive(Debug, Clone)]
enum Edit {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, Vec<u8>),
    Remove(Index, usize),
    Repeat(Index, usize, u8),
    /// Put part of another corpus file here.
    Splice(Index, Index, Index, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Edit::FlipBit(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, v)| Edit::SetByte(i, v)),
        (
            any::<Index>(),
            prop::collection::vec(any::<u8>(), 1..MAX_NEW_BYTES)
        )
            .prop_map(|(i, v)| Edit::Insert(i, v)),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Edit::Remove(i, n)),
        (any::<Index>(), 1usize..32, 1u8..16).prop_map(|(i, n, k)| Edit::Repeat(i, n, k)),
        (any::<Index>(), any::<Index>(), any::<Index>(), 1usize..512)
            .prop_map(|(at, file, from, n)| Edit::Splice(at, file, from, n)),
    ]
}

fn apply(input: &mut Vec<u8>, edit: &Edit, corpus: &[(String, Vec<u8>)]) {
    let len = input.len();
    let at = |i: &Index| if len == 0 { 0 } else { i.index(len + 1) };
    match edit {
        Edit::FlipBit(i, bit) if len > 0 => input[i.index(len)] ^= 1 << bit,
        Edit::SetByte(i, v) if len > 0 => input[i.index(len)] = *v,
        Edit::FlipBit(..) | Edit::SetByte(..) => {}
        Edit::Insert(i, bytes) => {
            let p = at(i);
            input.splice(p..p, bytes.iter().copied());
        }
        Edit::Remove(i, n) => {
            let p = at(i).min(len);
            input.drain(p..(p + n).min(len));
        }
        Edit::Repeat(i, n, times) => {
            let p = at(i).min(len);
            let part = input[p..(p + n).min(len)].to_vec();
            for _ in 0..*times {
                input.splice(p..p, part.iter().copied());
            }
        }
        Edit::Splice(i, file, from, n) => {
            let other = &corpus[file.index(corpus.len())].1;
            if other.is_empty() {
                return;
            }
            let start = from.index(other.len());
            let part = &other[start..(start + n).min(other.len())];
            let p = at(i);
            input.splice(p..p, part.iter().copied());
        }
    }
}

/// A case: a corpus file with a few edits, or now and then random bytes.
fn case(corpus: &'static [(String, Vec<u8>)]) -> impl Strategy<Value = Vec<u8>> {
    let edited =
        (any::<Index>(), prop::collection::vec(edit(), 0..6)).prop_map(move |(file, edits)| {
            let mut input = corpus[file.index(corpus.len())].1.clone();
            for e in &edits {
                apply(&mut input, e, corpus);
            }
            input
        });
    prop_oneof![
        9 => edited,
        1 => prop::collection::vec(any::<u8>(), 0..MAX_NEW_BYTES),
    ]
}

/// Run `input` through the target; a panic anywhere on the way fails the case.
fn check(target: &crate::Target, input: &[u8]) -> Result<(), TestCaseError> {
    PANICKED.with(|p| p.set(false));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target(input)));
    let panicked = PANICKED.with(|p| p.replace(false));
    if outcome.is_err() || panicked {
        return Err(TestCaseError::fail("the target panicked"));
    }
    Ok(())
}

fn save_failure(name: &str, input: &[u8]) -> std::path::PathBuf {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    input.hash(&mut hasher);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-failures");
    let path = dir.join(format!("{name}-{:016x}", hasher.finish()));
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(&path, input);
    path
}

fn short_run(name: &'static str) {
    watch_panics();
    let target = crate::target(name).expect("a known target");
    let corpus: &'static [(String, Vec<u8>)] = Box::leak(crate::corpus(name).into_boxed_slice());
    assert!(!corpus.is_empty(), "{name} has a corpus");
    for (file, input) in corpus {
        if check(&target, input).is_err() {
            panic!("{name}: corpus file {file} fails");
        }
    }

    let max_cases = budget("FUZZ_CASES", 100_000);
    let max_time = Duration::from_secs(budget("FUZZ_SECONDS", 30));
    let started = Instant::now();
    let mut cases = 0u64;
    let mut batch = 0u64;
    while cases < max_cases && started.elapsed() < max_time {
        let config = Config {
            cases: BATCH,
            failure_persistence: None,
            max_shrink_iters: 2_000,
            ..Config::default()
        };
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&batch.to_le_bytes());
        seed[8..8 + name.len().min(24)].copy_from_slice(&name.as_bytes()[..name.len().min(24)]);
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
        let mut runner = TestRunner::new_with_rng(config, rng);
        match runner.run(&case(corpus), |input| check(&target, &input)) {
            Ok(()) => {}
            Err(TestError::Fail(_, input)) => {
                let path = save_failure(name, &input);
                panic!(
                    "{name}: a case panics (batch {batch}); shrunk input saved to {}",
                    path.display()
                );
            }
            Err(e) => panic!("{name}: {e}"),
        }
        cases += u64::from(BATCH);
        batch += 1;
    }
    eprintln!(
        "{name}: {} corpus files and {cases} property cases in {:.1} s",
        corpus.len(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn json_body() {
    short_run("json_body");
}

#[test]
fn jwt() {
    short_run("jwt");
}

#[test]
fn sheet() {
    short_run("sheet");
}

#[test]
fn pdf() {
    short_run("pdf");
}

#[test]
fn print_response() {
    short_run("print_response");
}

#[test]
fn sms_receipt() {
    short_run("sms_receipt");
}

#[test]
fn ses() {
    short_run("ses");
}

#[test]
fn template() {
    short_run("template");
}

#[test]
fn config() {
    short_run("config");
}

#[test]
fn every_target_has_a_test_and_a_corpus() {
    for name in crate::TARGETS {
        assert!(crate::target(name).is_some(), "{name} is known");
        assert!(crate::corpus_dir(name).is_dir(), "{name} has a corpus");
    }
    assert!(crate::target("no-such-target").is_none());
}
