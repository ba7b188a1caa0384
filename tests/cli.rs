//! End-to-end tests of the `opflow` binary: exit codes, manifest discovery, the
//! output formats of every command, unreadable inputs, and a large manifest.
//!
//! Each test runs the real binary in its own scratch folder under the system's
//! temporary directory; the folder is removed when the test ends (pass or fail).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

// ---------------------------------------------------------------- helpers

/// The example manifests, read at compile time so tests do not depend on the
/// working directory.
const EXAMPLE_TOML: &str = include_str!("../examples/scraping/operations.toml");
const EXAMPLE_YAML: &str = include_str!("../examples/scraping/operations.yaml");

/// A scratch folder, unique per test and per run, removed on drop.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "opflow-cli-{name}-{}-{nanos}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&path, contents).unwrap();
        path
    }

    fn remove(&self, relative: &str) {
        fs::remove_file(self.path(relative)).unwrap();
    }

    /// Run `opflow ARGS...` in this folder.
    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    /// Run `opflow ARGS...` in this folder, with these environment variables.
    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_opflow"))
            .args(args)
            .current_dir(&self.dir)
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .output()
            .expect("run opflow");
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        };
        assert!(
            run.code != 101 && !run.stderr.contains("panicked"),
            "opflow {args:?} panicked:\n{}",
            run.stderr
        );
        run
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// A scratch folder holding the example as `operations.toml`.
fn example() -> Scratch {
    let scratch = Scratch::new("example");
    scratch.write("operations.toml", EXAMPLE_TOML);
    scratch
}

/// Five schema errors, written so that the validator's order (nested first)
/// differs from their order in the file.
const MULTI_SCHEMA_JSON: &str = r#"{
  "version": 1,
  "colour": "red",
  "operations": [
    { "name": "a", "call": "pkg.mod:a", "retries": "3" },
    { "name": "b", "call": "pkg.mod:b", "async": "yes", "priority": 1 }
  ],
  "shade": "dark"
}
"#;

/// Four resolve errors; the duplicate is found first but sits last in the file.
const MULTI_RESOLVE_TOML: &str = r#"version = 1

[[operations]]
name = "a"
call = "pkg.mod"
returns = "int"

[[operations]]
name = "b"
call = "pkg.mod:b"
returns = "list[int"
depends_on = ["a", "zz"]

[[operations]]
name = "a"
call = "pkg.mod:a2"
"#;

const MINIMAL_TOML: &str =
    "version = 1\n\n[[operations]]\nname = \"t.one\"\ncall = \"pkg.mod:one\"\n";

/// The keys every `check --format json` diagnostic has.
fn assert_diagnostic_shape(d: &Value) {
    for key in [
        "code", "severity", "message", "file", "line", "column", "span", "help", "labels",
    ] {
        assert!(d.get(key).is_some(), "diagnostic lacks `{key}`: {d:#}");
    }
    assert!(d["code"].as_str().unwrap().starts_with("opflow::"));
    assert_eq!(d["severity"], "error");
    assert!(!d["message"].as_str().unwrap().is_empty());
    assert!(d["labels"].is_array());
}

// ---------------------------------------------------------------- exit codes

#[test]
fn check_valid_manifest_exits_0_and_says_ok_on_stderr() {
    let scratch = example();
    let run = scratch.run(&["check"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "ok: operations.toml has 3 operations in 1 flow, plus `all`, which runs them all\n"
    );

    let run = scratch.run(&["check", "operations.toml", "--format", "short"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "ok: operations.toml has 3 operations in 1 flow, plus `all`, which runs them all\n"
    );
}

#[test]
fn check_json_on_valid_manifest_prints_empty_array() {
    let scratch = example();
    let run = scratch.run(&["check", "--format", "json"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "[]\n");
    assert_eq!(run.stderr, "");
}

#[test]
fn every_command_exits_1_on_diagnostics() {
    let scratch = Scratch::new("diagnostics");
    scratch.write("operations.toml", MULTI_RESOLVE_TOML);
    for args in [
        &["check"][..],
        &["check", "--format", "short"],
        &["check", "--format", "json"],
        &["plan"],
        &["plan", "--format", "json"],
        &["graph"],
        &["graph", "--format", "dot"],
        &["graph", "--flow", "all"],
        &["list"],
        &["list", "--format", "json"],
    ] {
        let run = scratch.run(args);
        assert_eq!(run.code, 1, "opflow {args:?}: {run:?}");
        assert!(
            run.stderr.contains("opflow::resolve::duplicate_operation")
                || run.stdout.contains("opflow::resolve::duplicate_operation"),
            "opflow {args:?} does not report the problem: {run:?}"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let scratch = example();
    let cases: &[(&[&str], &str)] = &[
        (
            &["check", "--frobnicate"],
            "unexpected argument '--frobnicate'",
        ),
        (
            &["plan", "--frobnicate"],
            "unexpected argument '--frobnicate'",
        ),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (
            &["check", "--format", "xml"],
            "invalid value 'xml' for '--format <FORMAT>'",
        ),
        (
            &["plan", "--format", "dot"],
            "invalid value 'dot' for '--format <FORMAT>'",
        ),
        (
            &["graph", "--format", "png"],
            "invalid value 'png' for '--format <FORMAT>'",
        ),
        (
            &["list", "--format", "yaml"],
            "invalid value 'yaml' for '--format <FORMAT>'",
        ),
        (&["schema", "extra"], "unexpected argument 'extra'"),
        (
            &["check", "a.toml", "b.toml"],
            "unexpected argument 'b.toml'",
        ),
        (
            &["graph", "--flow"],
            "a value is required for '--flow <FLOW>'",
        ),
        (&[], "Usage: opflow [OPTIONS] <COMMAND>"),
    ];
    for (args, message) in cases {
        let run = scratch.run(args);
        assert_eq!(run.code, 2, "opflow {args:?}: {run:?}");
        assert_eq!(run.stdout, "", "opflow {args:?}");
        assert!(
            run.stderr.contains(message),
            "opflow {args:?}: stderr lacks {message:?}:\n{}",
            run.stderr
        );
    }
}

#[test]
fn help_and_version_exit_0() {
    let scratch = Scratch::new("help");
    let run = scratch.run(&["--help"]);
    run.expect_code(0);
    for command in ["check", "plan", "graph", "schema", "list"] {
        assert!(run.stdout.contains(command), "help lacks `{command}`");
    }
    let run = scratch.run(&["--version"]);
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        format!("opflow {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn no_manifest_in_current_folder_exits_2() {
    let scratch = Scratch::new("empty-folder");
    // A file with another name, and a folder with a manifest's name, are not manifests.
    scratch.write("manifest.toml", MINIMAL_TOML);
    fs::create_dir(scratch.path("operations.toml")).unwrap();
    // The binary reports its current folder as the OS gives it: symlinks resolved.
    let dir = scratch.dir.canonicalize().unwrap();
    let message = format!("no manifest found in `{}`", dir.display());

    for command in ["check", "plan", "graph", "list"] {
        let run = scratch.run(&[command]);
        run.expect_code(2);
        assert_eq!(run.stdout, "", "opflow {command}");
        assert!(
            run.stderr.contains(&message),
            "opflow {command}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("help: create `operations.toml` there"),
            "opflow {command}: {}",
            run.stderr
        );
    }

    let run = scratch.run(&["check", "--format", "short"]);
    run.expect_code(2);
    assert_eq!(
        run.stderr,
        format!("error[opflow::manifest::not_found]: {message}\n")
    );

    let run = scratch.run(&["check", "--format", "json"]);
    run.expect_code(2);
    let json = run.json();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_diagnostic_shape(&list[0]);
    assert_eq!(list[0]["code"], "opflow::manifest::not_found");
    assert_eq!(list[0]["message"], message);
    assert_eq!(list[0]["file"], Value::Null);
}

// ---------------------------------------------------------------- discovery

/// A manifest with `n` flat operations, in the given format, so that the
/// `ok:` line tells which file was read.
fn manifest_with(n: usize, format: &str) -> String {
    let names: Vec<String> = (0..n).map(|i| format!("op{i}")).collect();
    match format {
        "toml" => {
            let mut text = String::from("version = 1\n");
            for name in &names {
                let _ = write!(
                    text,
                    "\n[[operations]]\nname = \"{name}\"\ncall = \"pkg.mod:{name}\"\n"
                );
            }
            text
        }
        "yaml" => {
            let mut text = String::from("version: 1\noperations:\n");
            for name in &names {
                let _ = write!(text, "  - name: {name}\n    call: \"pkg.mod:{name}\"\n");
            }
            text
        }
        "json" => {
            let ops: Vec<Value> = names
                .iter()
                .map(|name| serde_json::json!({ "name": name, "call": format!("pkg.mod:{name}") }))
                .collect();
            serde_json::to_string_pretty(&serde_json::json!({ "version": 1, "operations": ops }))
                .unwrap()
        }
        _ => unreachable!(),
    }
}

#[test]
fn discovery_prefers_toml_then_yaml_then_yml_then_json() {
    let scratch = Scratch::new("discovery");
    scratch.write("operations.toml", manifest_with(1, "toml"));
    scratch.write("operations.yaml", manifest_with(2, "yaml"));
    scratch.write("operations.yml", manifest_with(3, "yaml"));
    scratch.write("operations.json", manifest_with(4, "json"));

    let expect = |file: &str, n: usize| {
        let run = scratch.run(&["check"]);
        run.expect_code(0);
        let ops = if n == 1 { "operation" } else { "operations" };
        assert_eq!(
            run.stderr,
            format!("ok: {file} has {n} {ops} in 1 flow, plus `all`, which runs them all\n")
        );
        // The other commands find the same file.
        let run = scratch.run(&["list", "--format", "json"]);
        run.expect_code(0);
        assert_eq!(run.json()["flows"][0]["operations"], n);
    };
    expect("operations.toml", 1);
    scratch.remove("operations.toml");
    expect("operations.yaml", 2);
    scratch.remove("operations.yaml");
    expect("operations.yml", 3);
    scratch.remove("operations.yml");
    expect("operations.json", 4);
}

#[test]
fn discovery_toml_wins_over_yaml_for_the_example() {
    let scratch = example();
    // A broken YAML next to a valid TOML is never read.
    scratch.write("operations.yaml", "version: [\n");
    scratch.run(&["check"]).expect_code(0);
    scratch.run(&["plan"]).expect_code(0);
}

#[test]
fn discovery_json_only_folder_works() {
    let scratch = Scratch::new("json-only");
    let json = serde_json::json!({
        "version": 1,
        "project": { "name": "jobs" },
        "operations": [
            { "name": "etl.extract", "call": "pkg.etl:extract", "params": { "url": "str" }, "returns": "bytes" },
            { "name": "etl.load", "call": "pkg.etl:load", "params": { "extract": "bytes" } }
        ]
    });
    scratch.write(
        "operations.json",
        serde_json::to_string_pretty(&json).unwrap(),
    );
    let run = scratch.run(&["check"]);
    run.expect_code(0);
    assert_eq!(
        run.stderr,
        "ok: operations.json has 2 operations in 1 flow, plus `all`, which runs them all\n"
    );
    let run = scratch.run(&["plan", "--format", "json"]);
    run.expect_code(0);
    let plan = run.json();
    let etl = plan["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "etl")
        .expect("flow etl");
    assert_eq!(
        etl["stages"],
        serde_json::json!([["etl.extract"], ["etl.load"]])
    );
    let run = scratch.run(&["list"]);
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "all  2 operations  url: str\netl  2 operations  url: str\n"
    );
}

#[test]
fn manifest_in_a_subfolder_is_shown_relative_to_the_current_folder() {
    let scratch = Scratch::new("subfolder");
    scratch.write("project/pipelines/operations.toml", MULTI_RESOLVE_TOML);
    let run = scratch.run(&[
        "check",
        "project/pipelines/operations.toml",
        "--format",
        "short",
    ]);
    run.expect_code(1);
    let first = run.stderr.lines().next().unwrap();
    assert_eq!(
        first,
        "project/pipelines/operations.toml:5:9: error[opflow::resolve::invalid_call]: \
         invalid call `pkg.mod`: missing `:` between module and function"
    );
    let run = scratch.run(&[
        "check",
        "project/pipelines/operations.toml",
        "--format",
        "json",
    ]);
    assert_eq!(run.json()[0]["file"], "project/pipelines/operations.toml");
}

// ---------------------------------------------------------------- check formats

#[test]
fn check_json_lists_every_diagnostic_sorted_by_position() {
    let scratch = Scratch::new("check-json");
    scratch.write("operations.json", MULTI_SCHEMA_JSON);
    let run = scratch.run(&["check", "--format", "json"]);
    run.expect_code(1);
    assert_eq!(run.stderr, "", "JSON goes to stdout only");
    let json = run.json();
    let list = json.as_array().expect("a JSON array");

    let summary: Vec<String> = list
        .iter()
        .map(|d| {
            assert_diagnostic_shape(d);
            assert_eq!(d["file"], "operations.json");
            format!(
                "{}:{} {}",
                d["line"],
                d["column"],
                d["code"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "3:3 opflow::schema::unknown_field",
            "5:52 opflow::schema::wrong_type",
            "6:50 opflow::schema::wrong_type",
            "6:57 opflow::schema::unknown_field",
            "8:3 opflow::schema::unknown_field",
        ]
    );

    // Sorted by offset, and each span points at the offending text.
    let offsets: Vec<u64> = list
        .iter()
        .map(|d| d["span"]["offset"].as_u64().unwrap())
        .collect();
    assert!(offsets.is_sorted(), "{offsets:?}");
    let spanned: Vec<&str> = list
        .iter()
        .map(|d| {
            let offset = usize::try_from(d["span"]["offset"].as_u64().unwrap()).unwrap();
            let length = usize::try_from(d["span"]["length"].as_u64().unwrap()).unwrap();
            &MULTI_SCHEMA_JSON[offset..offset + length]
        })
        .collect();
    assert_eq!(
        spanned,
        [
            "\"colour\"",
            "\"3\"",
            "\"yes\"",
            "\"priority\"",
            "\"shade\""
        ]
    );

    let first = &list[0];
    assert_eq!(first["message"], "unknown field `colour`");
    assert_eq!(
        first["help"],
        "fields allowed here: `version`, `project`, `defaults`, `flows`, `deploy`, `operations`, `presets`, `limits`"
    );
    assert_eq!(
        first["labels"],
        serde_json::json!([{
            "message": "not a field here",
            "line": 3,
            "column": 3,
            "span": first["span"],
        }])
    );
    assert_eq!(list[1]["message"], "expected an integer, found a string");
    assert_eq!(list[1]["help"], "write an integer here");
}

#[test]
fn check_json_carries_secondary_labels() {
    let scratch = Scratch::new("check-json-labels");
    scratch.write("operations.toml", MULTI_RESOLVE_TOML);
    let run = scratch.run(&["check", "--format", "json"]);
    run.expect_code(1);
    let json = run.json();
    let list = json.as_array().unwrap();
    let codes: Vec<&str> = list.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "opflow::resolve::invalid_call",
            "opflow::resolve::invalid_type",
            "opflow::resolve::unknown_dependency",
            "opflow::resolve::duplicate_operation",
        ]
    );
    let duplicate = &list[3];
    assert_diagnostic_shape(duplicate);
    assert_eq!(duplicate["message"], "operation `a` is defined twice");
    assert_eq!(
        duplicate["help"],
        "rename one of them: operation names are unique"
    );
    assert_eq!(
        (&duplicate["line"], &duplicate["column"]),
        (&15.into(), &8.into())
    );
    let labels: Vec<(String, u64, u64)> = duplicate["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["message"].as_str().unwrap().to_owned(),
                l["line"].as_u64().unwrap(),
                l["column"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        labels,
        [
            ("defined again here".to_owned(), 15, 8),
            ("first defined here".to_owned(), 4, 8),
        ]
    );
}

#[test]
fn check_short_prints_one_line_per_diagnostic_on_stderr() {
    let scratch = Scratch::new("check-short");
    scratch.write("operations.toml", MULTI_RESOLVE_TOML);
    let run = scratch.run(&["check", "--format", "short"]);
    run.expect_code(1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "operations.toml:5:9: error[opflow::resolve::invalid_call]: invalid call `pkg.mod`: missing `:` between module and function\n\
         operations.toml:11:16: error[opflow::resolve::invalid_type]: invalid type `list[int`: `[` is never closed\n\
         operations.toml:12:20: error[opflow::resolve::unknown_dependency]: `b` depends on unknown operation `zz`\n\
         operations.toml:15:8: error[opflow::resolve::duplicate_operation]: operation `a` is defined twice\n"
    );

    scratch.remove("operations.toml");
    scratch.write("operations.json", MULTI_SCHEMA_JSON);
    let run = scratch.run(&["check", "--format", "short"]);
    run.expect_code(1);
    assert_eq!(
        run.stderr,
        "operations.json:3:3: error[opflow::schema::unknown_field]: unknown field `colour`\n\
         operations.json:5:52: error[opflow::schema::wrong_type]: expected an integer, found a string\n\
         operations.json:6:50: error[opflow::schema::wrong_type]: expected a boolean, found a string\n\
         operations.json:6:57: error[opflow::schema::unknown_field]: unknown field `priority`\n\
         operations.json:8:3: error[opflow::schema::unknown_field]: unknown field `shade`\n"
    );
}

#[test]
fn check_human_shows_position_source_and_help() {
    let scratch = Scratch::new("check-human");
    scratch.write("operations.toml", MULTI_RESOLVE_TOML);
    let run = scratch.run(&["check"]);
    run.expect_code(1);
    assert_eq!(run.stdout, "");
    let err = &run.stderr;
    for needle in [
        "opflow::resolve::invalid_call",
        "× invalid call `pkg.mod`: missing `:` between module and function",
        "[operations.toml:5:9]",
        "call = \"pkg.mod\"",
        "help: write the callable as `module.path:function`, e.g. `jobs.scrapers:fetch_stepstone`",
        "[operations.toml:15:8]",
        "defined again here",
        "first defined here",
        "help: rename one of them: operation names are unique",
    ] {
        assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    }
    assert!(err.ends_with("error: 4 problems found\n"), "{err}");
    // In position order.
    let at = |needle: &str| err.find(needle).unwrap();
    assert!(at("operations.toml:5:9") < at("operations.toml:11:16"));
    assert!(at("operations.toml:11:16") < at("operations.toml:12:20"));
    assert!(at("operations.toml:12:20") < at("operations.toml:15:8"));
    // No colour when NO_COLOR is set and stderr is not a terminal.
    assert!(!err.contains('\u{1b}'), "escape codes in:\n{err}");
}

// ---------------------------------------------------------------- unreadable input

/// `check --format short` and `--format json` on `manifest`: exit 1, one diagnostic.
fn one_diagnostic(scratch: &Scratch, manifest: &str) -> (String, Value) {
    let run = scratch.run(&["check", manifest, "--format", "short"]);
    run.expect_code(1);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let short = run.stderr.trim_end().to_owned();

    let run = scratch.run(&["check", manifest, "--format", "json"]);
    run.expect_code(1);
    let json = run.json();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 1, "{json:#}");
    assert_diagnostic_shape(&list[0]);

    // Human output and the other commands: exit 1 as well, no panic.
    let run = scratch.run(&["check", manifest]);
    run.expect_code(1);
    assert!(
        run.stderr.ends_with("error: 1 problem found\n"),
        "{}",
        run.stderr
    );
    for command in ["plan", "graph", "list"] {
        scratch.run(&[command, manifest]).expect_code(1);
    }
    (short, list[0].clone())
}

#[test]
fn unreadable_directory_given_as_manifest() {
    let scratch = Scratch::new("unreadable-dir");
    fs::create_dir(scratch.path("pipelines.toml")).unwrap();
    let (short, json) = one_diagnostic(&scratch, "pipelines.toml");
    assert_eq!(
        short,
        "pipelines.toml: error[opflow::manifest::unreadable]: cannot read `pipelines.toml`: it is a directory"
    );
    assert_eq!(json["code"], "opflow::manifest::unreadable");
    assert_eq!(json["file"], "pipelines.toml");
    assert_eq!(json["line"], Value::Null);
    assert_eq!(
        json["help"],
        "check that the path names a readable manifest file"
    );
}

#[test]
fn unreadable_missing_file() {
    let scratch = Scratch::new("unreadable-missing");
    let (short, json) = one_diagnostic(&scratch, "missing.toml");
    // The OS's wording of "no such file" varies; the start does not.
    assert!(
        short.starts_with(
            "missing.toml: error[opflow::manifest::unreadable]: cannot read `missing.toml`: "
        ),
        "{short}"
    );
    assert_eq!(json["code"], "opflow::manifest::unreadable");
}

#[test]
fn unreadable_unknown_extension() {
    let scratch = Scratch::new("unreadable-ext");
    scratch.write("operations.txt", MINIMAL_TOML);
    let (short, json) = one_diagnostic(&scratch, "operations.txt");
    assert_eq!(
        short,
        "operations.txt: error[opflow::manifest::unknown_format]: `operations.txt` is not a manifest: unknown file extension"
    );
    assert_eq!(
        json["help"],
        "name the manifest `.toml`, `.yaml`, `.yml` or `.json`"
    );
    // Not picked up by discovery either.
    scratch.run(&["check"]).expect_code(2);
}

#[test]
fn unreadable_non_utf8_bytes() {
    let scratch = Scratch::new("unreadable-utf8");
    for (file, bytes) in [
        ("bad.toml", &b"version = 1\nname = \"\xff\xfe\"\n"[..]),
        ("bad.yaml", &b"version: 1\nname: \"\xc3\x28\"\n"[..]),
        ("bad.json", &b"{\"version\": 1, \"x\": \"\x80\"}"[..]),
    ] {
        scratch.write(file, bytes);
        let (short, json) = one_diagnostic(&scratch, file);
        assert!(
            short.starts_with(&format!(
                "{file}: error[opflow::manifest::unreadable]: cannot read `{file}`: it is not UTF-8"
            )),
            "{short}"
        );
        assert_eq!(json["code"], "opflow::manifest::unreadable");
    }
}

#[test]
fn unreadable_empty_file_is_missing_version() {
    let scratch = Scratch::new("unreadable-empty");
    for file in ["operations.toml", "operations.yaml", "operations.json"] {
        scratch.write(file, "");
        let (short, json) = one_diagnostic(&scratch, file);
        assert_eq!(
            short,
            format!("{file}:1:1: error[opflow::schema::missing_field]: missing field `version`")
        );
        assert_eq!(json["help"], "add `version` to this table");
        assert_eq!(
            json["span"],
            serde_json::json!({ "offset": 0, "length": 0 })
        );
    }
}

#[test]
fn deeply_nested_input_is_a_diagnostic_not_a_crash() {
    let scratch = Scratch::new("deep");
    let depth = 100_000;
    let open = "[".repeat(depth);
    let close = "]".repeat(depth);
    scratch.write(
        "deep.json",
        format!("{{\"version\": 1, \"x\": {open}{close}}}"),
    );
    scratch.write("deep.yaml", format!("version: 1\nx: {open}{close}\n"));
    scratch.write("deep.toml", format!("version = 1\nx = {open}{close}\n"));
    for file in ["deep.json", "deep.yaml", "deep.toml"] {
        let (short, _) = one_diagnostic(&scratch, file);
        assert!(short.contains("error[opflow::manifest::"), "{short}");
    }
}

// ---------------------------------------------------------------- plan

#[test]
fn plan_json_has_the_documented_shape() {
    let scratch = example();
    let run = scratch.run(&["plan", "--format", "json"]);
    run.expect_code(0);
    assert_eq!(run.stderr, "");
    let plan = run.json();
    let flows = plan["flows"].as_array().expect("flows[]");
    let names: Vec<&str> = flows.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["all", "scraping"]);

    for flow in flows {
        assert!(flow["params"].is_array());
        assert!(flow["stages"].is_array());
        for op in flow["operations"].as_array().unwrap() {
            assert!(op["name"].is_string());
            assert!(op["after"].is_array(), "{op:#}");
            for (param, binding) in op["bindings"].as_object().unwrap() {
                assert!(binding["rule"].is_string(), "{param}: {binding:#}");
                assert!(binding["from"].is_string(), "{param}: {binding:#}");
            }
        }
    }

    let scraping = &flows[1];
    assert_eq!(
        scraping["description"],
        "Collect job listings from StepStone and LinkedIn and merge them"
    );
    assert_eq!(
        scraping["stages"],
        serde_json::json!([
            ["scraping.linkedin.fetch", "scraping.stepstone.fetch"],
            ["scraping.merge"]
        ])
    );
    assert_eq!(
        scraping["params"],
        serde_json::json!([
            { "name": "keywords", "type": "str", "default": null, "required": true },
            { "name": "pages", "type": "int", "default": 2, "required": false }
        ])
    );
    let ops = scraping["operations"].as_array().unwrap();
    let op_names: Vec<&str> = ops.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(
        op_names,
        [
            "scraping.linkedin.fetch",
            "scraping.stepstone.fetch",
            "scraping.merge"
        ]
    );
    let merge = &ops[2];
    assert_eq!(
        merge["bindings"],
        serde_json::json!({
            "stepstone": { "rule": "name", "from": "scraping.stepstone.fetch", "type": "list[jobs.models.Listing]" },
            "linkedin": { "rule": "name", "from": "scraping.linkedin.fetch", "type": "list[jobs.models.Listing]" }
        })
    );
    assert_eq!(merge["after"], serde_json::json!([]));
    assert_eq!(
        ops[0]["bindings"]["pages"],
        serde_json::json!({ "rule": "flow_param", "from": "$pages", "type": "int" })
    );
}

#[test]
fn plan_names_the_groups_that_run_as_nested_flows() {
    let scratch = Scratch::new("plan-subflows");
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/build/subflows/operations.toml"),
    )
    .unwrap();
    scratch.write("operations.toml", &manifest);
    let run = scratch.run(&["plan", "--format", "json"]);
    run.expect_code(0);
    let plan = run.json();
    let subflows: Vec<(&str, &serde_json::Value)> = plan["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), &f["subflows"]))
        .collect();
    let long = "jobs.reports.listings_grouped_by_company_and_then_by_the_title_of_the_job";
    assert_eq!(
        subflows,
        [
            // The root flow has no settings of its own: flat.
            ("all", &serde_json::Value::Null),
            (
                "jobs",
                &serde_json::json!([
                    "jobs.boards",
                    "jobs.boards.linkedin",
                    "jobs.boards.stepstone",
                    "jobs.reports",
                    long
                ])
            ),
            // Upstream operations of another segment nest under their groups.
            (
                "stats",
                &serde_json::json!([
                    "jobs",
                    "jobs.boards",
                    "jobs.boards.linkedin",
                    "jobs.boards.stepstone"
                ])
            ),
        ]
    );
    let text = scratch.run(&["plan"]).stdout;
    assert!(
        text.contains(
            "\n  nested flows: jobs, jobs.boards, jobs.boards.linkedin, jobs.boards.stepstone\n"
        ),
        "{text}"
    );
}

#[test]
fn plan_is_identical_for_the_toml_and_yaml_examples() {
    let scratch = Scratch::new("plan-same");
    scratch.write("operations.toml", EXAMPLE_TOML);
    scratch.write("operations.yaml", EXAMPLE_YAML);
    for format in ["json", "text"] {
        let toml = scratch.run(&["plan", "operations.toml", "--format", format]);
        let yaml = scratch.run(&["plan", "operations.yaml", "--format", format]);
        toml.expect_code(0);
        yaml.expect_code(0);
        assert!(!toml.stdout.is_empty());
        assert_eq!(toml.stdout, yaml.stdout, "--format {format}");
    }
    for args in [&["list"][..], &["graph"], &["graph", "--format", "dot"]] {
        let toml = scratch.run(&[args, &["operations.toml"]].concat());
        let yaml = scratch.run(&[args, &["operations.yaml"]].concat());
        assert_eq!(toml.stdout, yaml.stdout, "opflow {args:?}");
    }
}

#[test]
fn plan_text_mentions_every_operation_and_binding() {
    let scratch = example();
    let run = scratch.run(&["plan"]);
    run.expect_code(0);
    assert_eq!(run.stderr, "");
    let text = &run.stdout;
    for op in [
        "scraping.stepstone.fetch",
        "scraping.linkedin.fetch",
        "scraping.merge",
    ] {
        assert!(text.contains(op), "plan lacks {op}:\n{text}");
    }
    let scraping = text
        .split("\n\n")
        .find(|section| section.starts_with("flow scraping"))
        .expect("a section for flow scraping");
    assert_eq!(
        scraping,
        "flow scraping (3 operations, 2 stages)\n\
         \x20 Collect job listings from StepStone and LinkedIn and merge them\n\
         \x20 params: keywords: str, pages: int = 2\n\
         \x20 stage 1: scraping.linkedin.fetch, scraping.stepstone.fetch\n\
         \x20 stage 2: scraping.merge\n\
         \x20 critical path: scraping.linkedin.fetch -> scraping.merge\n\
         \x20 scraping.linkedin.fetch = jobs.scrapers:fetch_linkedin\n\
         \x20   keywords <- $keywords (flow_param)\n\
         \x20   pages <- $pages (flow_param)\n\
         \x20 scraping.stepstone.fetch = jobs.scrapers:fetch_stepstone\n\
         \x20   keywords <- $keywords (flow_param)\n\
         \x20 scraping.merge = jobs.merge:merge\n\
         \x20   stepstone <- scraping.stepstone.fetch (name)\n\
         \x20   linkedin <- scraping.linkedin.fetch (name)"
    );
}

// ---------------------------------------------------------------- graph

/// The indentation of the line that opens the subgraph titled `title`, and its index.
fn mermaid_subgraph(lines: &[&str], title: &str) -> (usize, usize) {
    let index = lines
        .iter()
        .position(|l| {
            l.trim_start().starts_with("subgraph ") && l.ends_with(&format!("[\"{title}\"]"))
        })
        .unwrap_or_else(|| panic!("no subgraph {title:?}"));
    let indent = lines[index].len() - lines[index].trim_start().len();
    (index, indent)
}

/// The index of the `end` that closes the subgraph opened at `open`.
fn mermaid_end(lines: &[&str], open: usize, indent: usize) -> usize {
    (open + 1..lines.len())
        .find(|&i| {
            lines[i].trim() == "end" && lines[i].len() - lines[i].trim_start().len() == indent
        })
        .expect("subgraph is closed")
}

#[test]
fn graph_mermaid_nests_the_hierarchy() {
    let scratch = example();
    let run = scratch.run(&["graph"]);
    run.expect_code(0);
    assert_eq!(run.stderr, "");
    let text = &run.stdout;
    assert!(text.starts_with("flowchart LR\n"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let (outer, outer_indent) = mermaid_subgraph(&lines, "scraping");
    let outer_end = mermaid_end(&lines, outer, outer_indent);
    for inner_title in ["stepstone", "linkedin"] {
        let (inner, inner_indent) = mermaid_subgraph(&lines, inner_title);
        assert!(
            outer < inner && inner < outer_end,
            "{inner_title} is not inside scraping:\n{text}"
        );
        assert!(inner_indent > outer_indent);
        assert!(mermaid_end(&lines, inner, inner_indent) < outer_end);
    }
    // Both data edges are labelled with the parameter they feed.
    assert!(text.contains("-->|stepstone|"), "{text}");
    assert!(text.contains("-->|linkedin|"), "{text}");

    let scraping = scratch.run(&["graph", "--flow", "scraping"]);
    scraping.expect_code(0);
    assert_eq!(
        scraping.stdout,
        "flowchart LR\n\
         \x20 subgraph c0[\"scraping\"]\n\
         \x20   subgraph c1[\"linkedin\"]\n\
         \x20     n0[\"fetch\"]\n\
         \x20   end\n\
         \x20   subgraph c2[\"stepstone\"]\n\
         \x20     n1[\"fetch\"]\n\
         \x20   end\n\
         \x20   n2[\"merge\"]\n\
         \x20 end\n\
         \x20 n0 -->|linkedin| n2\n\
         \x20 n1 -->|stepstone| n2\n"
    );
}

#[test]
fn graph_dot_is_a_digraph_with_clusters() {
    let scratch = example();
    let run = scratch.run(&["graph", "--format", "dot", "--flow", "scraping"]);
    run.expect_code(0);
    let text = &run.stdout;
    assert!(text.starts_with("digraph \"scraping\" {\n"), "{text}");
    assert!(text.ends_with("}\n"), "{text}");
    assert_eq!(
        text.matches('{').count(),
        text.matches('}').count(),
        "{text}"
    );
    for cluster in [
        "subgraph \"cluster_scraping\" {",
        "subgraph \"cluster_scraping.stepstone\" {",
        "subgraph \"cluster_scraping.linkedin\" {",
    ] {
        assert!(text.contains(cluster), "dot lacks {cluster:?}:\n{text}");
    }
    assert!(
        text.contains("\"scraping.stepstone.fetch\" -> \"scraping.merge\" [label=\"stepstone\"];")
    );
    assert!(
        text.contains("\"scraping.linkedin.fetch\" -> \"scraping.merge\" [label=\"linkedin\"];")
    );

    let all = scratch.run(&["graph", "--format", "dot"]);
    all.expect_code(0);
    assert!(
        all.stdout.starts_with("digraph \"all\" {\n"),
        "{}",
        all.stdout
    );
}

#[test]
fn graph_unknown_flow_lists_the_flows() {
    let scratch = example();
    for format in ["mermaid", "dot"] {
        // `--flow` and the positional flow say the same, as a diagnostic with a code.
        for args in [
            vec!["graph", "--flow", "nope", "--format", format],
            vec!["graph", "operations.toml", "nope", "--format", format],
        ] {
            let run = scratch.run(&args);
            run.expect_code(2);
            assert_eq!(run.stdout, "");
            assert!(
                run.stderr.contains("opflow::runtime::unknown_flow")
                    && run.stderr.contains("no flow named `nope`")
                    && run.stderr.contains("the flows: all, scraping"),
                "{}",
                run.stderr
            );
        }
    }
}

// ---------------------------------------------------------------- schema

#[test]
fn schema_is_draft_07_json() {
    let scratch = Scratch::new("schema");
    let run = scratch.run(&["schema"]);
    run.expect_code(0);
    assert_eq!(run.stderr, "");
    let schema = run.json();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert!(
        run.stdout
            .contains("\"$schema\": \"http://json-schema.org/draft-07/schema#\""),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("prefixItems"),
        "draft 2020-12 keyword in a draft-07 schema"
    );
    assert_eq!(schema["type"], "object");
    assert!(schema["properties"]["operations"].is_object());

    // The committed copy (for editors' `#:schema` directives) matches, when present.
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/opflow.schema.json");
    if let Ok(text) = fs::read_to_string(&committed) {
        assert_eq!(
            run.stdout,
            text,
            "{} is stale: regenerate it with `opflow schema > schema/opflow.schema.json`",
            committed.display()
        );
    }
}

// ---------------------------------------------------------------- list

#[test]
fn list_shows_each_flow_with_its_parameters() {
    let scratch = example();
    let run = scratch.run(&["list"]);
    run.expect_code(0);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.stdout,
        "all       3 operations  keywords: str, pages: int = 2\n\
         scraping  3 operations  keywords: str, pages: int = 2\n"
    );

    let run = scratch.run(&["list", "--format", "json"]);
    run.expect_code(0);
    let params = serde_json::json!([
        { "name": "keywords", "type": "str", "default": null, "required": true },
        { "name": "pages", "type": "int", "default": 2, "required": false }
    ]);
    assert_eq!(
        run.json(),
        serde_json::json!({ "flows": [
            { "name": "all", "description": null, "operations": 3, "params": params },
            {
                "name": "scraping",
                "description": "Collect job listings from StepStone and LinkedIn and merge them",
                "operations": 3,
                "params": params
            }
        ]})
    );
}

#[test]
fn list_says_when_a_flow_has_no_parameters() {
    let scratch = Scratch::new("list-none");
    scratch.write("operations.toml", MINIMAL_TOML);
    let run = scratch.run(&["list"]);
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "all  1 operation   (no parameters)\nt    1 operation   (no parameters)\n"
    );
}

// ---------------------------------------------------------------- scale

/// 20,000 operations: a chain of 9,999 (`chain.bNNN.sNN`, each taking the
/// previous one's value by `from`), a flat `root`, and a fan-out of 10,000
/// (`fan.gNNN.wNN`) that each take `root` by name.
fn large_manifest() -> String {
    const CHAIN: usize = 9_999;
    const FAN: usize = 10_000;
    let mut text = String::with_capacity(4 << 20);
    text.push_str("version = 1\n\n[project]\nname = \"big\"\n");
    let chain_name = |i: usize| format!("chain.b{:03}.s{:02}", i / 100, i % 100);
    for i in 0..CHAIN {
        let name = chain_name(i);
        let params = if i == 0 {
            "{ seed = \"int\" }".to_owned()
        } else {
            format!(
                "{{ prev = {{ type = \"int\", from = \"{}\" }} }}",
                chain_name(i - 1)
            )
        };
        let _ = write!(
            text,
            "\n[[operations]]\nname = \"{name}\"\ncall = \"pkg.chain:step{i}\"\nparams = {params}\nreturns = \"int\"\n"
        );
    }
    text.push_str(
        "\n[[operations]]\nname = \"root\"\ncall = \"pkg.fan:root\"\nparams = { size = \"int\" }\nreturns = \"int\"\n",
    );
    for i in 0..FAN {
        let _ = write!(
            text,
            "\n[[operations]]\nname = \"fan.g{:03}.w{:02}\"\ncall = \"pkg.fan:work\"\nparams = {{ root = \"int\" }}\nreturns = \"int\"\n",
            i / 100,
            i % 100
        );
    }
    text
}

/// 3,000 operations (enough for every stage to split its work) with named
/// outputs picked downstream, parameters bound by type and to a subtree's
/// sink (in both halves), and, when `clash`, a callable named as an
/// operation's task would be.
fn split_manifest(clash: bool) -> String {
    let mut text = String::from("version = 1\n\n[project]\nname = \"split\"\n");
    let name = |i: usize| format!("g{}.s{:02}.op{i:04}", i % 7, i % 13);
    for i in 0..3_000 {
        if i == 700 || i == 2_300 {
            // A subtree, `gN.sub`, whose sink a parameter `sub` binds to by
            // name: its members are bound before the rest.
            let g = i / 1_000;
            let _ = write!(
                text,
                "\n[[operations]]\nname = \"g{g}.sub.first\"\ncall = \"pkg.sub:first\"\nreturns = \"int\"\n\
                 \n[[operations]]\nname = \"g{g}.sub.last\"\ncall = \"pkg.sub:last\"\nparams = {{ first = \"int\" }}\nreturns = \"int\"\n\
                 \n[[operations]]\nname = \"g{g}.user\"\ncall = \"pkg.sub:user\"\nparams = {{ sub = \"int\", k{g} = {{ type = \"int\", default = {g} }} }}\nreturns = \"int\"\n"
            );
        }
        let call = if clash && i == 2_999 {
            // The task of `g1.s01.op0001`.
            "pkg.m:g1_s01_op0001_task".to_owned()
        } else {
            format!("pkg.m{}:f{i}", i % 5)
        };
        let _ = write!(
            text,
            "\n[[operations]]\nname = \"{}\"\ncall = \"{call}\"\n",
            name(i)
        );
        if i % 10 == 0 {
            text.push_str("outputs = { left = \"int\", right = \"str\" }\n");
        } else if i % 100 == 1 {
            // A flow parameter with a default and choices, read beside the
            // raw model.
            let up = i - 1;
            let _ = write!(
                text,
                "params = {{ x = {{ type = \"int\", from = \"{}.left\" }}, n = {{ type = \"int\", default = 3, choices = [1, 3] }} }}\nreturns = \"int\"\n",
                name(up)
            );
        } else if i % 100 == 52 {
            // Bound by type, among `depends_on`.
            let up = i - 1;
            let _ = write!(
                text,
                "params = {{ y = \"int\" }}\ndepends_on = [\"{}\"]\nreturns = \"int\"\n",
                name(up)
            );
        } else {
            let up = i - i % 10;
            let _ = write!(
                text,
                "params = {{ x = {{ type = \"int\", from = \"{}.left\" }} }}\nreturns = \"int\"\n",
                name(up)
            );
        }
    }
    text
}

/// Every file of a package folder, by name.
fn package_files(dir: &Path) -> BTreeMap<String, String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read_to_string(&path).unwrap())
        })
        .collect()
}

#[test]
fn work_split_over_threads_gives_what_one_thread_gives() {
    for clash in [false, true] {
        let scratch = Scratch::new("split");
        scratch.write("operations.toml", split_manifest(clash));
        // Each package where the manifest puts it (so each names its place
        // alike), then moved aside.
        for threads in ["1", "2", "3"] {
            scratch
                .run_with(&["build"], &[("OPFLOW_THREADS", threads)])
                .expect_code(0);
            fs::rename(
                scratch.path("run_cache/orchestration"),
                scratch.path(&format!("out{threads}")),
            )
            .unwrap();
        }
        let one = package_files(&scratch.path("out1"));
        assert!(one["_tasks.py"].contains("g0_s00_op0000_left_task = task("));
        // By type, and to each subtree's sink, in either half.
        assert!(one["g6.py"].contains("op2652 = g6_s00_op2652_task.submit(y=op2651)"));
        assert!(one["g0.py"].contains("user = g0_user_task.submit(sub=last, k0=k0)"));
        assert!(one["g2.py"].contains("user = g2_user_task.submit(sub=last, k2=k2)"));
        assert!(one["g2.py"].contains("k2: int = 2,"));
        if clash {
            // The task takes another name: the callable was claimed first.
            assert!(one["_tasks.py"].contains("g1_s01_op0001_task_2 = task("));
        }
        for threads in ["2", "3"] {
            assert!(
                package_files(&scratch.path(&format!("out{threads}"))) == one,
                "{threads} threads wrote another package (clash: {clash})"
            );
        }
    }
    // Diagnostics from every stage that splits, in both halves.
    let mut text = split_manifest(false);
    for (at, broken) in [
        ("name = \"g0.s00.op0000\"", "name = \"g0.s00.op-0000\""),
        ("call = \"pkg.m3:f8\"", "call = \"pkg.m3\""),
        ("call = \"pkg.m2:f2997\"", "call = \"pkg.m2:f2997:x\""),
        ("name = \"g3.s09.op2999\"", "name = \"g3.s09.class\""),
        // A duplicate in the second half of a name in the first.
        ("name = \"g0.s00.op2002\"", "name = \"g6.s12.op1000\""),
        // Binding's, in both halves: an output no operation has, a flow
        // parameter with no type, an ambiguous type.
        ("\"g3.s10.op0010.left\"", "\"g3.s10.op0010.middle\""),
        ("\"g4.s01.op2510.left\"", "\"g4.s01.op2510.centre\""),
        (
            "params = { y = \"int\" }\ndepends_on = [\"g2.s12.op0051\"]",
            "params = { y = { default = 1 } }\ndepends_on = [\"g2.s12.op0051\"]",
        ),
        (
            "depends_on = [\"g1.s07.op2451\"]",
            "depends_on = [\"g1.s07.op2451\", \"g6.s05.op2449\", \"g5.s04.op2448\"]",
        ),
    ] {
        assert!(text.contains(at), "{at}");
        text = text.replacen(at, broken, 1);
    }
    let scratch = Scratch::new("split-errors");
    scratch.write("operations.toml", &text);
    let runs: Vec<Run> = ["1", "2"]
        .iter()
        .map(|threads| {
            scratch.run_with(
                &["check", "--format", "json"],
                &[("OPFLOW_THREADS", threads)],
            )
        })
        .collect();
    runs[0].expect_code(1);
    let codes: Vec<String> = runs[0]
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_owned())
        .collect();
    assert!(codes.len() >= 9, "{codes:?}");
    for code in [
        "opflow::resolve::unknown_output",
        "opflow::resolve::untyped_parameter",
        "opflow::resolve::ambiguous_binding",
    ] {
        assert!(codes.iter().any(|c| c == code), "{code}: {codes:?}");
    }
    assert_eq!(
        codes
            .iter()
            .filter(|c| *c == "opflow::resolve::unknown_output")
            .count(),
        2,
        "{codes:?}"
    );
    assert_eq!(runs[1].code, 1);
    assert_eq!(runs[1].stdout, runs[0].stdout);
    // A field the schema does not know, in the second half: read an
    // operation at a time, the manifest is read again whole for the
    // diagnostics, which are the schema's alone, as on one thread.
    let at = "name = \"g2.s05.op1500\"";
    assert!(text.contains(at));
    scratch.write(
        "operations.toml",
        text.replacen(at, &format!("{at}\ncolour = \"red\""), 1),
    );
    let runs: Vec<Run> = ["1", "2"]
        .iter()
        .map(|threads| {
            scratch.run_with(
                &["check", "--format", "json"],
                &[("OPFLOW_THREADS", threads)],
            )
        })
        .collect();
    runs[0].expect_code(1);
    assert!(
        runs[0].stdout.contains("opflow::schema::unknown_field"),
        "{}",
        runs[0].stdout
    );
    assert!(runs[0].stdout.contains("colour"), "{}", runs[0].stdout);
    assert_eq!(runs[1].code, 1);
    assert_eq!(runs[1].stdout, runs[0].stdout);
}

#[test]
fn check_a_manifest_of_20000_operations() {
    let scratch = Scratch::new("large");
    scratch.write("operations.toml", large_manifest());

    let started = Instant::now();
    let run = scratch.run(&["check"]);
    let elapsed = started.elapsed();
    run.expect_code(0);
    // Flows: big (the flat `root`), chain, fan; and all.
    assert_eq!(
        run.stderr,
        "ok: operations.toml has 20000 operations in 3 flows, plus `all`, which runs them all\n"
    );
    eprintln!("opflow check, 20,000 operations: {elapsed:?}");

    let started = Instant::now();
    let run = scratch.run(&["list"]);
    let elapsed = started.elapsed();
    run.expect_code(0);
    let rows: Vec<Vec<&str>> = run
        .stdout
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            &[
                "all",
                "20000",
                "operations",
                "seed:",
                "int,",
                "size:",
                "int"
            ][..],
            &["big", "1", "operation", "size:", "int"],
            &["chain", "9999", "operations", "seed:", "int"],
            &["fan", "10001", "operations", "size:", "int"],
        ]
    );
    eprintln!("opflow list, 20,000 operations: {elapsed:?}");
}

#[test]
fn list_aligns_operation_counts_of_any_width() {
    let scratch = Scratch::new("list-align");
    scratch.write("operations.toml", large_manifest());
    let run = scratch.run(&["list"]);
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "all    20000 operations  seed: int, size: int\n\
         big        1 operation   size: int\n\
         chain   9999 operations  seed: int\n\
         fan    10001 operations  size: int\n"
    );
}

// ---------------------------------------------------------------- --select

/// A scratch folder holding the selection corpus's manifest (etl → report,
/// tags, a flat `audit`).
fn shop() -> Scratch {
    let corpus: toml::Value = toml::from_str(include_str!("select/corpus.toml")).unwrap();
    let scratch = Scratch::new("select");
    scratch.write("operations.toml", corpus["manifest"].as_str().unwrap());
    scratch
}

fn op_names(flow: &Value) -> Vec<&str> {
    flow["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["name"].as_str().unwrap())
        .collect()
}

#[test]
fn plan_select_downstream_json_lists_exactly_it_and_its_downstream() {
    let scratch = shop();
    let run = scratch.run(&["plan", "--format", "json", "--select", "etl.load+"]);
    run.expect_code(0);
    let plan = run.json();
    let flows = plan["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1);
    let flow = &flows[0];
    assert_eq!(flow["name"], "all");
    assert_eq!(
        op_names(flow),
        ["etl.load", "report.summary", "report.mail"]
    );
    assert_eq!(
        flow["stages"],
        serde_json::json!([["etl.load"], ["report.summary"], ["report.mail"]])
    );
    assert_eq!(flow["sinks"], serde_json::json!(["report.mail"]));
    assert_eq!(
        flow["stored_inputs"],
        serde_json::json!([
            {"operation": "etl.load", "param": "clean", "producer": "etl.clean", "output": null},
            {"operation": "etl.load", "param": "prices", "producer": "etl.prices.fetch", "output": null},
        ])
    );
    // `report.mail` waits for `audit`, which is not selected: an ordering
    // edge reads nothing, so it is no stored input.
    assert_eq!(flow["params"], serde_json::json!([]));

    // Without --select, the plan has no such key.
    let whole = scratch.run(&["plan", "etl", "--format", "json"]);
    whole.expect_code(0);
    assert!(whole.json()["flows"][0].get("stored_inputs").is_none());
}

#[test]
fn plan_select_text_says_where_each_stored_input_comes_from() {
    let scratch = shop();
    let run = scratch.run(&[
        "plan",
        "etl",
        "-s",
        "etl.load",
        "etl.clean",
        "--exclude",
        "etl.clean",
    ]);
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "flow etl (1 operation, 1 stage)\n  \
         stage 1: etl.load\n  \
         critical path: etl.load\n  \
         etl.load = shop.etl:load\n    \
         clean <- etl.clean (name), read from the last result of `etl.clean` (not selected)\n    \
         prices <- etl.prices.fetch (name), read from the last result of `etl.prices.fetch` (not selected)\n\n"
    );
}

#[test]
fn list_select_prints_the_selected_names() {
    let scratch = shop();
    let run = scratch.run(&[
        "list",
        "--select",
        "+report.summary",
        "--exclude",
        "tag:source",
    ]);
    run.expect_code(0);
    assert_eq!(run.stdout, "etl.clean\netl.load\nreport.summary\n");
    let run = scratch.run(&["list", "--format", "json", "--select", "tag:source"]);
    run.expect_code(0);
    assert_eq!(
        run.json(),
        serde_json::json!({"operations": ["etl.extract", "etl.prices.fetch"]})
    );
}

#[test]
fn graph_select_draws_the_stored_producers_apart() {
    let scratch = shop();
    let run = scratch.run(&["graph", "--select", "etl.load+1"]);
    run.expect_code(0);
    let mermaid = &run.stdout;
    // The selection, the two producers of etl.load's inputs (stored), and
    // nothing else: neither etl.extract nor report.mail.
    assert!(mermaid.contains("[\"load\"]"), "{mermaid}");
    assert!(mermaid.contains("[\"summary\"]"), "{mermaid}");
    assert!(
        mermaid.contains("[\"clean (stored)\"]:::stored"),
        "{mermaid}"
    );
    assert!(
        mermaid.contains("[\"fetch (stored)\"]:::stored"),
        "{mermaid}"
    );
    assert!(
        !mermaid.contains("extract") && !mermaid.contains("mail"),
        "{mermaid}"
    );
    assert_eq!(mermaid.matches("-->|").count(), 3, "{mermaid}");
    assert!(mermaid.ends_with("  classDef stored stroke-dasharray:5 5,fill:#f8fafc\n"));

    let dot = scratch.run(&["graph", "--format", "dot", "--select", "etl.load+1"]);
    dot.expect_code(0);
    assert!(
        dot.stdout
            .contains("\"etl.clean\" [label=\"clean\\n(stored)\", style=\"rounded,dashed\"];")
    );
    assert!(
        dot.stdout
            .contains("\"etl.clean\" -> \"etl.load\" [label=\"clean\"];")
    );
    assert!(!dot.stdout.contains("\"etl.extract\""));

    let svg = scratch.run(&["graph", "--format", "svg", "--select", "etl.load+1"]);
    svg.expect_code(0);
    assert_eq!(svg.stdout.matches("class=\"of-node of-stored\"").count(), 2);
    assert_eq!(svg.stdout.matches("class=\"of-node\"").count(), 2);
    let html = scratch.run(&["graph", "--format", "html", "--select", "etl.load+1"]);
    html.expect_code(0);
    assert_eq!(
        html.stdout.matches("class=\"of-node of-stored\"").count(),
        2
    );

    // Without --select the same flow is drawn whole, nothing stored.
    let whole = scratch.run(&["graph"]);
    assert!(!whole.stdout.contains("stored"));
}

#[test]
fn a_bad_selection_is_printed_with_its_span_and_exits_2() {
    let scratch = shop();
    let run = scratch.run(&["plan", "--select", "etl.lod", "+", "--exclude", "tag:sorce"]);
    run.expect_code(2);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "opflow::select::no_match

  × `etl.lod` selects no operation of flow `all`
   ╭─[--select:1:1]
 1 │ etl.lod +
   · ───┬───
   ·    ╰── no operation has this name
   ╰────
  help: did you mean `etl.load`?
opflow::select::syntax

  × invalid selection `+`: `+` with nothing to select
   ╭─[--select:1:9]
 1 │ etl.lod +
   ·         ┬
   ·         ╰── `+` with nothing to select
   ╰────
  help: put the operator beside what it applies to: `+NAME` (with its upstream), `NAME+` (with its downstream)
error: 2 problems found
opflow::select::no_match

  × `tag:sorce` selects no operation of flow `all`
   ╭─[--exclude:1:1]
 1 │ tag:sorce
   · ────┬────
   ·     ╰── no operation has this tag
   ╰────
  help: did you mean `source`?
error: 1 problem found
"
    );
    for command in ["graph", "list"] {
        let run = scratch.run(&[command, "--select", "etl"]);
        run.expect_code(2);
        assert!(
            run.stderr
                .contains("help: did you mean `etl.*`? `etl` is the prefix of 4 operations"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn an_ordering_edge_into_the_selection_is_left_out() {
    let scratch = Scratch::new("select-after");
    scratch.write(
        "operations.toml",
        "version = 1\n\n[[operations]]\nname = \"x.first\"\ncall = \"m:first\"\n\n\
         [[operations]]\nname = \"x.second\"\ncall = \"m:second\"\ndepends_on = [\"x.first\"]\n",
    );
    for format in ["mermaid", "dot", "svg", "html"] {
        let run = scratch.run(&["graph", "--format", format, "--select", "x.second"]);
        run.expect_code(0);
        assert!(!run.stdout.contains("first"), "{format}: {}", run.stdout);
        assert!(!run.stdout.contains("stored"), "{format}: {}", run.stdout);
    }
    let plan = scratch.run(&["plan", "--format", "json", "--select", "x.second"]);
    plan.expect_code(0);
    let flow = &plan.json()["flows"][0];
    assert_eq!(op_names(flow), ["x.second"]);
    assert_eq!(flow["stored_inputs"], serde_json::json!([]));
}
