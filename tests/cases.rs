//! Golden case directories: `tests/cases/<case>/` holds one manifest and what
//! compiling it must give.
//!
//! - `errors.txt` (hand-written): `LINE:COL CODE` of every diagnostic, in order.
//! - `warnings.txt` (hand-written): the same for the warnings of a manifest
//!   that compiles (a warning-free one has none).
//! - `stderr.txt` (generated): the diagnostics (or warnings) as `opflow check --format short` prints them.
//! - `bindings.txt` (hand-written): `OPERATION PARAM RULE FROM` for every parameter.
//! - `stages.txt` (hand-written): `FLOW: stage | stage | ...` for every flow.
//! - `plan.json` (generated): `opflow plan --format json`.
//!
//! Generated files are rewritten by `OPFLOW_BLESS=1 cargo test --test cases`;
//! hand-written ones are never touched.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use opflow::diagnostic::{Context, Style};
use opflow::resolve::Binding;

fn manifest_in(dir: &Path) -> Option<PathBuf> {
    ["operations.toml", "operations.yaml", "operations.json"]
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

fn bless() -> bool {
    std::env::var_os("OPFLOW_BLESS").is_some()
}

/// Compare `actual` with the golden file, or write it when blessing.
fn golden(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if bless() {
        fs::write(path, actual).unwrap();
        return;
    }
    match fs::read_to_string(path) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => failures.push(format!(
            "{}: differs\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        )),
        Err(_) => failures.push(format!(
            "{}: missing (run `OPFLOW_BLESS=1 cargo test --test cases`)",
            path.display()
        )),
    }
}

fn check_hand_written(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if let Ok(expected) = fs::read_to_string(path)
        && expected.trim_end() != actual.trim_end()
    {
        failures.push(format!(
            "{}: differs\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        ));
    }
}

/// `LINE:COL CODE` of each diagnostic, and the short format's text.
fn positions_and_short(
    context: &Context<'_>,
    diagnostics: &[opflow::diagnostic::Diagnostic],
) -> (String, String) {
    let mut positions = String::new();
    for diagnostic in diagnostics {
        let json = context.to_json(diagnostic);
        let _ = writeln!(
            positions,
            "{}:{} {}",
            json.line.unwrap_or(0),
            json.column.unwrap_or(0),
            json.code
        );
    }
    let mut short = Vec::new();
    context
        .print(
            diagnostics,
            Style::Short,
            false,
            &mut Vec::new(),
            &mut short,
        )
        .unwrap();
    (positions, String::from_utf8(short).unwrap())
}

fn run_case(dir: &Path, failures: &mut Vec<String>) {
    let Some(manifest) = manifest_in(dir) else {
        failures.push(format!("{}: no manifest", dir.display()));
        return;
    };
    let file_name = manifest.file_name().unwrap().to_string_lossy().into_owned();
    match opflow::compile(&manifest) {
        Err(failure) => {
            let context = Context::new(failure.source.as_ref(), file_name);
            let (positions, short) = positions_and_short(&context, &failure.diagnostics);
            if !dir.join("errors.txt").exists() {
                failures.push(format!(
                    "{}: fails to compile but has no errors.txt:\n{positions}",
                    dir.display()
                ));
            }
            check_hand_written(&dir.join("errors.txt"), &positions, failures);
            golden(&dir.join("stderr.txt"), &short, failures);
        }
        Ok(compiled) => {
            if dir.join("errors.txt").exists() {
                failures.push(format!(
                    "{}: compiles, but errors.txt expects diagnostics",
                    dir.display()
                ));
                return;
            }
            let has_warnings = dir.join("warnings.txt").exists();
            if compiled.warnings.is_empty() == has_warnings {
                failures.push(format!(
                    "{}: {} warnings, and {} warnings.txt",
                    dir.display(),
                    compiled.warnings.len(),
                    if has_warnings { "a" } else { "no" }
                ));
            }
            if !compiled.warnings.is_empty() {
                let context = Context::new(Some(&compiled.source), file_name.clone());
                let (positions, short) = positions_and_short(&context, &compiled.warnings);
                check_hand_written(&dir.join("warnings.txt"), &positions, failures);
                golden(&dir.join("stderr.txt"), &short, failures);
            }
            let graph = &compiled.graph;
            let ops = &graph.manifest.operations;
            let mut bindings = String::new();
            let mut order: Vec<usize> = (0..ops.len()).collect();
            order.sort_by(|&a, &b| ops[a].name.cmp(&ops[b].name));
            for i in order {
                for param in &ops[i].params {
                    let from = match &param.binding {
                        Binding::Operation { op, output: None } => ops[*op].name.clone(),
                        Binding::Operation {
                            op,
                            output: Some(out),
                        } => format!("{}.{out}", ops[*op].name),
                        Binding::FlowParam { name } => format!("${name}"),
                    };
                    let _ = writeln!(
                        bindings,
                        "{} {} {} {from}",
                        ops[i].name,
                        param.name,
                        param.rule.as_str()
                    );
                }
            }
            check_hand_written(&dir.join("bindings.txt"), &bindings, failures);
            let mut stages = String::new();
            for flow in &graph.flows {
                let shown: Vec<String> = flow
                    .stages
                    .iter()
                    .map(|stage| {
                        stage
                            .iter()
                            .map(|&i| ops[i].name.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect();
                let _ = writeln!(stages, "{}: {}", flow.name, shown.join(" | "));
            }
            check_hand_written(&dir.join("stages.txt"), &stages, failures);
            let plan = std::process::Command::new(env!("CARGO_BIN_EXE_opflow"))
                .args(["plan", "--format", "json"])
                .arg(&manifest)
                .output()
                .unwrap();
            assert!(plan.status.success(), "{}: plan failed", dir.display());
            golden(
                &dir.join("plan.json"),
                &String::from_utf8(plan.stdout).unwrap(),
                failures,
            );
        }
    }
}

#[test]
fn golden_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 30,
        "expected the golden cases in {}",
        root.display()
    );
    let mut failures = Vec::new();
    for dir in &dirs {
        run_case(dir, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
}
