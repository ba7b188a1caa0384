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
    // Validation against the schema only decides whether the rest may be
    // reported; it produces nothing the later stages read. So it runs on a
    // second core, then reads the parameters' defaults, while the raw model
    // is read from the same tree (itself in halves on a large manifest);
    // the validation's problems, when it has any, are the ones reported.
    let ((problems, defaults), raw) = crate::parallel::join(
        true,
        || {
            let problems = schema::validate(&document);
            (problems, resolve::Defaults::read(&document))
        },
        || schema::read(&document),
    );
    let read = raw.map(|raw| (raw, defaults));
    // Nothing after reads the tree; on large manifests it is the largest
    // thing in memory, and binding reuses what it frees.
    let Document { source, root, .. } = document;
    drop(root);
    if !problems.is_empty() {
        return Err(fail(source, problems));
    }
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
