//! Golden packages: `tests/build/<case>/` holds a manifest (or a `source`
//! file naming one) and `expected/`, the package `opflow build` must write.
//! The expected files are compiled and linted by the Python tests
//! (`tests/python/test_goldens.py`); rewrite them with
//! `OPFLOW_BLESS=1 cargo test --test build`, never by hand.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn manifest_of(case: &Path) -> PathBuf {
    if let Ok(source) = fs::read_to_string(case.join("source")) {
        return case.join(source.trim());
    }
    ["operations.toml", "operations.yaml", "operations.json"]
        .iter()
        .map(|name| case.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{}: no manifest", case.display()))
}

fn rendered(manifest: &Path) -> BTreeMap<PathBuf, String> {
    let compiled = opflow::compile(manifest)
        .unwrap_or_else(|failure| panic!("{}: {:?}", manifest.display(), failure.diagnostics));
    let name = manifest.file_name().unwrap().to_string_lossy().into_owned();
    opflow::render::render(&compiled.graph, &name)
}

fn on_disk(dir: &Path) -> BTreeMap<PathBuf, String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| {
            (
                PathBuf::from(path.file_name().unwrap()),
                fs::read_to_string(&path).unwrap(),
            )
        })
        .collect()
}

#[test]
fn golden_packages() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/build");
    let mut cases: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in &cases {
        let files = rendered(&manifest_of(case));
        let expected_dir = case.join("expected");
        if std::env::var_os("OPFLOW_BLESS").is_some() {
            let _ = fs::remove_dir_all(&expected_dir);
            fs::create_dir_all(&expected_dir).unwrap();
            for (name, text) in &files {
                fs::write(expected_dir.join(name), text).unwrap();
            }
            continue;
        }
        let expected = on_disk(&expected_dir);
        if expected != files {
            let names: Vec<_> = files.keys().chain(expected.keys()).collect();
            for name in names {
                if files.get(name) != expected.get(name) {
                    failures.push(format!("{}: {} differs", case.display(), name.display()));
                }
            }
        }
    }
    failures.dedup();
    assert!(
        failures.is_empty(),
        "{}\nrun `OPFLOW_BLESS=1 cargo test --test build` if the change is intended",
        failures.join("\n")
    );
}

/// The same manifest with its operations in another order renders the same bytes.
#[test]
fn output_does_not_depend_on_the_order_of_operations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/build");
    for case in ["diamond", "settings", "named-outputs", "collisions"] {
        let manifest = manifest_of(&root.join(case));
        let text = fs::read_to_string(&manifest).unwrap();
        let (head, rest) = text.split_once("[[operations]]").unwrap();
        let mut ops: Vec<&str> = rest.split("[[operations]]").collect();
        ops.reverse();
        let reversed = format!(
            "{head}[[operations]]{}",
            ops.iter()
                .map(|op| format!("{}\n", op.trim_end()))
                .collect::<Vec<_>>()
                .join("[[operations]]")
        );
        let source = opflow::manifest::Source {
            path: manifest.clone(),
            text: reversed,
        };
        let compiled = opflow::compile_source(source, opflow::manifest::Format::Toml).unwrap();
        let name = manifest.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            opflow::render::render(&compiled.graph, &name),
            rendered(&manifest),
            "{case}"
        );
    }
}
