//! opflow compiles a declarative manifest of Python operations into Prefect 3
//! flows. The stages, in order (docs/DESIGN.md §1):
//!
//! 1. [`manifest`]: bytes → spanned document tree → raw model
//! 2. [`schema`]: the raw model's shape, against the JSON Schema
//! 3. [`hierarchy`]: hierarchical operation names
//! 4. [`resolve`]: names, calls, types, defaults checked; parameters bound
//! 5. [`graph`]: the DAG, cycles, stages, flows
//! 6. [`render`]: the generated package, as text (pure)
//! 7. [`emit`]: the package on disk (the only writer)
//! 8. [`runtime`]: Python, the Prefect server, running and serving flows
//!
//! [`select`] picks part of a flow (`--select`, `--exclude`: dbt's grammar)
//! for `plan`, `graph`, `list` and `run`.
//!
//! [`verify`] compares a compiled manifest with the code it names (`opflow
//! verify`, and before every `opflow run`).
//!
//! [`compile`] runs stages 1–5 once each; `opflow build` then renders and
//! emits. [`diagnostic`] prints what every stage reports; [`view`] prints
//! the graph (plan, list, pictures).

pub mod emit;
pub mod graph;
pub mod hierarchy;
pub mod manifest;
pub mod render;
pub mod resolve;
pub mod runtime;
pub mod schema;
pub mod select;
pub mod verify;
pub mod view;

pub mod cli;
pub mod diagnostic;
mod parallel;
mod suggest;

use std::path::Path;

use diagnostic::Diagnostic;
use graph::FlowGraph;
use manifest::{Document, Format, Source};

/// A compile that failed: the diagnostics, and the source they point into.
#[derive(Debug)]
pub struct Failure {
    pub source: Option<Source>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A compiled manifest: its source and its graph. The document tree is
/// dropped as soon as the raw model and the defaults are read from it.
#[derive(Debug)]
pub struct Compiled {
    pub source: Source,
    pub graph: FlowGraph,
    /// Likely mistakes that do not stop the build, sorted by position.
    pub warnings: Vec<Diagnostic>,
}

/// Read and compile the manifest at `path`.
pub fn compile(path: &Path) -> Result<Compiled, Failure> {
    compile_document(manifest::load(path)?)
}

/// A large manifest's raw model and defaults, read from its tree an
/// operation at a time: each operation's node is checked against the
/// schema, read, and freed (half of them on a second core), so the tree
/// and the raw model are never whole in memory together. Anything invalid,
/// and the text is parsed again (the tree was given away) for the way that
/// reports every problem: `Err` holds that document, or its failure; it
/// holds the document as given when it is not large.
#[allow(clippy::result_large_err)]
fn read_operation_by_operation(
    mut document: Document,
) -> Result<(Source, manifest::RawManifest, resolve::Defaults), Result<Document, Failure>> {
    let manifest::Value::Table(entries) = &mut document.root.value else {
        return Err(Ok(document));
    };
    let operations = entries
        .iter_mut()
        .find(|(key, _)| key.name == "operations")
        .and_then(|(_, node)| match &mut node.value {
            manifest::Value::Array(items) if parallel::workers(items.len()) > 1 => {
                Some(std::mem::take(items))
            }
            _ => None,
        });
    let Some(mut first) = operations else {
        return Err(Ok(document));
    };
    let total = first.len();
    let second = first.split_off(total / 2);
    let offset = first.len();
    // The first half's vector is sized for both: the second is appended to
    // it without moving the first (100k operations are tens of megabytes).
    let each = |nodes: Vec<manifest::Node>, from: usize| {
        let mut read = Vec::with_capacity(if from == 0 { total } else { nodes.len() });
        let mut defaults = resolve::Defaults::default();
        for (i, node) in (from..).zip(nodes) {
            if !schema::operation_is_valid(&node) {
                return None;
            }
            defaults.read_operation(i, &node);
            read.push(schema::read_operation(&node)?);
        }
        Some((read, defaults))
    };
    // The rest of the document (its `operations` now empty) is checked
    // whole, beside the second half.
    let ((first, rest), second) = parallel::join(
        true,
        || {
            let first = each(first, 0);
            let rest = schema::validate(&document)
                .is_empty()
                .then(|| schema::read(&document).ok())
                .flatten()
                .map(|raw| (raw, resolve::Defaults::read(&document)));
            (first, rest)
        },
        || each(second, offset),
    );
    let Document { source, format, .. } = document;
    match (first, second, rest) {
        (
            Some((mut operations, mut defaults)),
            Some((more, more_defaults)),
            Some((mut raw, rest)),
        ) => {
            operations.extend(more);
            raw.operations = operations;
            defaults.absorb(more_defaults);
            defaults.absorb(rest);
            Ok((source, raw, defaults))
        }
        _ => Err(manifest::parse(source, format)),
    }
}

/// Compile a manifest's text, in the given format.
pub fn compile_source(source: Source, format: Format) -> Result<Compiled, Failure> {
    compile_document(manifest::parse(source, format)?)
}

fn compile_document(document: Document) -> Result<Compiled, Failure> {
    let fail = |source: Source, mut diagnostics: Vec<Diagnostic>| {
        diagnostic::sort(&mut diagnostics);
        Failure {
            source: Some(source),
            diagnostics,
        }
    };
    let (source, read) = match read_operation_by_operation(document) {
        Ok((source, raw, defaults)) => (source, Ok((raw, defaults))),
        Err(document) => {
            let document = document?;
            // Validation against the schema only decides whether the rest
            // may be reported; it produces nothing the later stages read.
            // So it runs on a second core, then reads the parameters'
            // defaults, while the raw model is read from the same tree; the
            // validation's problems, when it has any, are the ones reported.
            // (A large manifest comes here only when something in it is
            // invalid: speed matters no more.)
            let ((problems, defaults), raw) = crate::parallel::join(
                true,
                || {
                    let problems = schema::validate(&document);
                    (problems, resolve::Defaults::read(&document))
                },
                || schema::read(&document),
            );
            let read = raw.map(|raw| (raw, defaults));
            // Nothing after reads the tree; on large manifests it is the
            // largest thing in memory, and binding reuses what it frees.
            let Document { source, root, .. } = document;
            drop(root);
            if !problems.is_empty() {
                return Err(fail(source, problems));
            }
            (source, read)
        }
    };
    let mut warnings = Vec::new();
    let graph = read
        .and_then(|(raw, defaults)| resolve::resolve(&source, &raw, defaults))
        .and_then(|mut manifest| {
            warnings = std::mem::take(&mut manifest.warnings);
            graph::build(manifest)
        })
        .and_then(|graph| {
            let problems = resolve::deploy::check_parameters(&graph);
            if problems.is_empty() {
                Ok(graph)
            } else {
                Err(problems)
            }
        });
    match graph {
        Ok(graph) => {
            diagnostic::sort(&mut warnings);
            Ok(Compiled {
                source,
                graph,
                warnings,
            })
        }
        Err(mut diagnostics) => {
            diagnostics.append(&mut warnings);
            Err(fail(source, diagnostics))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::{Format, Source, manifest, read_operation_by_operation, resolve, schema};

    #[test]
    fn a_large_manifest_read_an_operation_at_a_time_reads_as_the_whole_tree_reads() {
        let mut text = String::from("version = 1\n[project]\nname = \"p\"\n");
        for i in 0..3_000 {
            let _ = write!(
                text,
                "\n[[operations]]\nname = \"g{}.op{i}\"\ncall = \"m:f{i}\"\n",
                i % 3
            );
            if i % 7 == 1 {
                text.push_str(
                    "params = { n = { type = \"int\", default = 3, choices = [1, 3] } }\n",
                );
            }
        }
        text.push_str("\n[presets.small]\nn = 1\n");
        let source = || Source {
            path: "operations.toml".into(),
            text: text.clone(),
        };
        let whole = manifest::parse(source(), Format::Toml).expect("parses");
        assert!(schema::validate(&whole).is_empty());
        let raw = schema::read(&whole).expect("reads");
        let mut defaults = resolve::Defaults::read(&whole);
        let document = manifest::parse(source(), Format::Toml).expect("parses");
        match read_operation_by_operation(document) {
            Ok((_, streamed, mut streamed_defaults)) => {
                assert_eq!(format!("{streamed:?}"), format!("{raw:?}"));
                for i in 0..3_000 {
                    let one = defaults.take(i, "n").map(|d| format!("{d:?}"));
                    let other = streamed_defaults.take(i, "n").map(|d| format!("{d:?}"));
                    assert_eq!(one, other, "operation {i}");
                    assert_eq!(one.is_some(), i % 7 == 1, "operation {i}");
                }
            }
            // One core: the tree is read whole.
            Err(Ok(_)) => assert_eq!(super::parallel::workers(3_000), 1),
            Err(Err(failure)) => panic!("{failure:?}"),
        }
    }
}
