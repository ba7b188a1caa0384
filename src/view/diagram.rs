//! `opflow graph --format mermaid|dot`: the flow as text for Mermaid and
//! Graphviz, the name hierarchy as nested subgraphs (clusters), stages left
//! to right.

use std::fmt::Write as _;

use crate::graph::{Flow, FlowGraph, Positions};
use crate::hierarchy::{self, Tree};

/// The flow for Mermaid; `stored` operations (a selection's inputs read
/// from their last result) are drawn dashed and labelled.
pub fn mermaid(graph: &FlowGraph, flow: &Flow, stored: &[usize]) -> String {
    let ids = flow.positions();
    let mut out = String::from("flowchart LR\n");
    let mut clusters = 0;

    mermaid_folder(
        graph,
        &ids,
        &super::tree(graph, flow),
        stored,
        1,
        &mut clusters,
        &mut out,
    );
    for link in super::links(graph, flow, stored) {
        let (up, down) = (ids[link.up], ids[link.down]);
        if link.ordering {
            let _ = writeln!(out, "  n{up} -.-> n{down}");
        } else {
            let _ = writeln!(out, "  n{up} -->|{}| n{down}", link.label);
        }
    }
    if !stored.is_empty() {
        out.push_str("  classDef stored stroke-dasharray:5 5,fill:#f8fafc\n");
    }
    out
}

/// The flow for Graphviz; `stored` operations as [`mermaid`] draws them.
pub fn dot(graph: &FlowGraph, flow: &Flow, stored: &[usize]) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, style=rounded];\n",
        flow.name
    );

    dot_folder(graph, &super::tree(graph, flow), stored, "", 1, &mut out);
    for link in super::links(graph, flow, stored) {
        let (up, down) = (
            &graph.manifest.operations[link.up].name,
            &graph.manifest.operations[link.down].name,
        );
        if link.ordering {
            let _ = writeln!(out, "  \"{up}\" -> \"{down}\" [style=dashed];");
        } else {
            let _ = writeln!(out, "  \"{up}\" -> \"{down}\" [label=\"{}\"];", link.label);
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid_folder(
    graph: &FlowGraph,
    ids: &Positions,
    folder: &Tree<usize>,
    stored: &[usize],
    indent: usize,
    clusters: &mut usize,
    out: &mut String,
) {
    let pad = "  ".repeat(indent);
    for (name, child) in &folder.children {
        let _ = writeln!(out, "{pad}subgraph c{clusters}[\"{name}\"]");
        *clusters += 1;
        mermaid_folder(graph, ids, child, stored, indent + 1, clusters, out);
        let _ = writeln!(out, "{pad}end");
    }
    for &op in &folder.items {
        let step = super::label(&graph.manifest.operations[op]);
        if stored.contains(&op) {
            let _ = writeln!(out, "{pad}n{}[\"{step} (stored)\"]:::stored", ids[op]);
        } else {
            let _ = writeln!(out, "{pad}n{}[\"{step}\"]", ids[op]);
        }
    }
}

fn dot_folder(
    graph: &FlowGraph,
    folder: &Tree<usize>,
    stored: &[usize],
    prefix: &str,
    indent: usize,
    out: &mut String,
) {
    let pad = "  ".repeat(indent);
    for (name, child) in &folder.children {
        let path = hierarchy::join(prefix, name);
        let _ = writeln!(out, "{pad}subgraph \"cluster_{path}\" {{");
        let _ = writeln!(out, "{pad}  label=\"{name}\";");
        dot_folder(graph, child, stored, &path, indent + 1, out);
        let _ = writeln!(out, "{pad}}}");
    }
    for &op in &folder.items {
        let name = &graph.manifest.operations[op].name;
        if stored.contains(&op) {
            let _ = writeln!(
                out,
                "{pad}\"{name}\" [label=\"{}\\n(stored)\", style=\"rounded,dashed\"];",
                super::label(&graph.manifest.operations[op])
            );
            continue;
        }
        let _ = writeln!(
            out,
            "{pad}\"{name}\" [label=\"{}\"];",
            super::label(&graph.manifest.operations[op])
        );
    }
}
