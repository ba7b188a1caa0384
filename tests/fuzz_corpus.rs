//! Replays the fuzz corpora (`fuzz/corpus/load`, `fuzz/corpus/pipeline`) and
//! the reproducers of past crashes (`fuzz/regressions`, through both targets)
//! with the fuzz targets' own logic (`fuzz/src/lib.rs`): no input may panic,
//! and each must finish within a bound. The fuzzing itself is `cargo fuzz run`
//! (README, "Fuzzing").

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Per input, in a debug build. The fuzzers run with `-timeout=10` on release
/// builds; real inputs take milliseconds.
const LIMIT: Duration = Duration::from_secs(5);

/// The stack `opflow` itself compiles on (its worker thread in `cli::main`).
/// Nesting costs tens of kilobytes of stack a level in a debug build (YAML's
/// deserializer most), so a default 2 MiB thread overflows at about 33
/// levels, well below the 128 a manifest may have.
const STACK: usize = 256 << 20;

fn inputs(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(dir);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        // A folder's README (`fuzz/regressions/README.md`) is not an input.
        .filter(|path| path.is_file() && path.extension().is_none_or(|ext| ext != "md"))
        .collect();
    files.sort();
    files
}

/// Runs `target` on every input, each on its own thread so that a hang is
/// reported (and left behind) instead of stalling the suite. Returns one line
/// per failure.
fn replay(target: fn(&[u8]), files: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for path in files {
        let data = fs::read(path).unwrap();
        let (done, finished) = mpsc::channel();
        let start = Instant::now();
        thread::Builder::new()
            .stack_size(STACK)
            .spawn(move || {
                let outcome = panic::catch_unwind(|| target(&data));
                let _ = done.send(outcome);
            })
            .unwrap();
        match finished.recv_timeout(LIMIT) {
            Ok(Ok(())) if start.elapsed() <= LIMIT => {}
            Ok(Ok(())) => failures.push(format!(
                "{}: took {:.1?} (limit {LIMIT:?})",
                path.display(),
                start.elapsed()
            )),
            Ok(Err(payload)) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(non-string panic payload)".to_owned());
                failures.push(format!("{}: panicked: {message}", path.display()));
            }
            Err(_) => failures.push(format!("{}: still running after {LIMIT:?}", path.display())),
        }
    }
    failures
}

fn check(target: fn(&[u8]), dirs: &[&str]) {
    let files: Vec<PathBuf> = dirs.iter().flat_map(|dir| inputs(dir)).collect();
    assert!(!files.is_empty(), "no inputs in {dirs:?}");
    let failures = replay(target, &files);
    assert!(
        failures.is_empty(),
        "{} of {} inputs failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn load_corpus_and_regressions_do_not_panic() {
    check(targets::load, &["corpus/load", "regressions"]);
}

#[test]
fn pipeline_corpus_and_regressions_do_not_panic() {
    check(targets::pipeline, &["corpus/pipeline", "regressions"]);
}
