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
    // second core while the raw model and the defaults are read from the
    // same tree, and its problems, when it has any, are the ones reported.
    let (problems, read) = std::thread::scope(|scope| {
        let validation = scope.spawn(|| schema::validate(&document));
        let read = schema::read(&document).map(|raw| (raw, resolve::Defaults::read(&document)));
        let problems = validation
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (problems, read)
    });
    // Nothing after reads the tree; on large manifests it is the largest
    // thing in memory, and binding reuses what it frees.
    let Document { source, root, .. } = document;
    drop(root);
    if !problems.is_empty() {
        return Err(fail(source, problems));
    }
    let graph = read
        .and_then(|(raw, defaults)| resolve::resolve(&source, &raw, defaults))
        .and_then(graph::build);
    match graph {
        Ok(graph) => Ok(Compiled { source, graph }),
        Err(diagnostics) => Err(fail(source, diagnostics)),
    }
}
