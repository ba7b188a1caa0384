//! Views of the compiled graph, as text: what `opflow plan`, `opflow list`
//! and `opflow graph` print. Each is a pure function of the [`FlowGraph`]
//! (and a flow); the command line only chooses one and writes it out.
//!
//! - [`plan`]: the flows, their stages and parameters, how each parameter
//!   was bound (text and JSON), and the list of flows;
//! - [`mermaid`], [`dot`]: the flow for Mermaid and Graphviz;
//! - [`svg`], [`html`]: the flow drawn by opflow itself: `layout` places it,
//!   `svg` draws it, `html` puts the drawing on a page (`templates/graph.html`)
//!   with a table of the operations.
//!
//! The pictures share what they show: one tree of name prefixes (`tree`,
//! drawn as nested clusters) and one list of edges (`links`), both in the
//! flow's order, so the same graph gives the same bytes.

mod diagram;
mod html;
mod layout;
pub mod plan;
mod svg;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::graph::{Flow, FlowGraph};
use crate::hierarchy::Tree;
use crate::resolve::{Binding, Literal, TypeExpr};

pub use diagram::{dot, mermaid};
pub use html::html;
pub use svg::svg;

/// The flow's operations (indices into the manifest's) under their name
/// prefixes, each folder's in the flow's order.
fn tree(graph: &FlowGraph, flow: &Flow) -> Tree<usize> {
    Tree::of(
        flow.operations
            .iter()
            .map(|&op| (graph.manifest.operations[op].name.as_str(), op)),
    )
}

/// An edge of a flow's picture.
#[derive(Debug)]
struct Link {
    up: usize,
    down: usize,
    /// The parameters it binds, comma-separated; empty for an ordering edge.
    label: String,
    /// Only an ordering (`depends_on` that binds nothing): drawn dashed.
    ordering: bool,
}

/// The edges of the flow, in the flow's order (stage, then name), whatever
/// the order of the manifest: one per upstream operation a parameter is
/// bound to (labelled with those parameters), then the ordering edges.
/// A selection's picture (`stored` not empty) shows the edges into the
/// selected operations from operations it shows: a stored operation's own
/// inputs are not drawn, as it does not run.
fn links(graph: &FlowGraph, flow: &Flow, stored: &[usize]) -> Vec<Link> {
    let position = flow.positions();
    // A flow has its upstream closure; a selection's part may not.
    let mut inside = vec![false; graph.manifest.operations.len()];
    for &op in &flow.operations {
        inside[op] = true;
    }
    let shown = |op: usize| inside[op];
    let mut links = Vec::new();
    for &down in &flow.operations {
        if stored.contains(&down) {
            continue;
        }
        let op = &graph.manifest.operations[down];
        let mut by_upstream: BTreeMap<usize, (usize, Vec<&str>)> = BTreeMap::new();
        for param in &op.params {
            if let Binding::Operation { op: up, .. } = param.binding
                && shown(up)
            {
                by_upstream
                    .entry(position[up])
                    .or_insert((up, Vec::new()))
                    .1
                    .push(&param.name);
            }
        }
        for (up, params) in by_upstream.into_values() {
            links.push(Link {
                up,
                down,
                label: params.join(", "),
                ordering: false,
            });
        }
        let mut after: Vec<usize> = op.after.iter().copied().filter(|&up| shown(up)).collect();
        after.sort_by_key(|&up| position[up]);
        for up in after {
            links.push(Link {
                up,
                down,
                label: String::new(),
                ordering: true,
            });
        }
    }
    links
}

/// Each operation's column: the position of its stage among the flow's
/// stages (a flow that runs part of the manifest may skip stages).
fn columns(graph: &FlowGraph, flow: &Flow) -> BTreeMap<usize, usize> {
    let mut stages: Vec<usize> = flow
        .operations
        .iter()
        .map(|&op| graph.stage_of[op])
        .collect();
    stages.sort_unstable();
    stages.dedup();
    flow.operations
        .iter()
        .map(|&op| (op, stages.binary_search(&graph.stage_of[op]).unwrap_or(0)))
        .collect()
}

/// `name: type = default`, as a parameter is declared.
/// An operation's label in a picture: its last segment, and `[*]` when it
/// is mapped (it runs once per element).
fn label(op: &crate::resolve::Operation) -> String {
    let step = crate::hierarchy::step(&op.name);
    if op.is_mapped() {
        format!("{step}[*]")
    } else {
        step.to_owned()
    }
}

fn declared(name: &str, ty: Option<&TypeExpr>, default: Option<&Literal>) -> String {
    let mut text = name.to_owned();
    if let Some(ty) = ty {
        let _ = write!(text, ": {ty}");
    }
    if let Some(default) = default {
        let _ = write!(text, " = {default}");
    }
    text
}
