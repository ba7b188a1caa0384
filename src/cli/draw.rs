//! `opflow graph`: Mermaid and Graphviz dot, with the name hierarchy drawn as
//! nested subgraphs (clusters), stages left to right.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::graph::{Flow, FlowGraph};
use crate::resolve::Binding;

/// The hierarchy of a flow's operations: folders of name prefixes.
#[derive(Default)]
struct Folder {
    /// Operations whose parent is this folder (by index).
    operations: Vec<usize>,
    children: BTreeMap<String, Folder>,
}

fn hierarchy(graph: &FlowGraph, flow: &Flow) -> Folder {
    let mut root = Folder::default();
    for &op in &flow.operations {
        let name = &graph.manifest.operations[op].name;
        let mut folder = &mut root;
        let segments: Vec<&str> = name.split('.').collect();
        for segment in &segments[..segments.len() - 1] {
            folder = folder.children.entry((*segment).to_owned()).or_default();
        }
        folder.operations.push(op);
    }
    root
}

/// Edges of the flow: (upstream, downstream, label, ordering only), in the
/// flow's order (stage, then name), whatever the order of the manifest.
pub(super) fn edges(graph: &FlowGraph, flow: &Flow) -> Vec<(usize, usize, String, bool)> {
    let position = flow.positions();
    let mut edges = Vec::new();
    for &down in &flow.operations {
        let op = &graph.manifest.operations[down];
        let mut by_upstream: BTreeMap<usize, (usize, Vec<&str>)> = BTreeMap::new();
        for param in &op.params {
            if let Binding::Operation { op: up, .. } = param.binding {
                by_upstream
                    .entry(position[up])
                    .or_insert((up, Vec::new()))
                    .1
                    .push(&param.name);
            }
        }
        for (up, params) in by_upstream.into_values() {
            edges.push((up, down, params.join(", "), false));
        }
        let mut after: Vec<usize> = op.after.clone();
        after.sort_by_key(|&up| position[up]);
        for up in after {
            edges.push((up, down, String::new(), true));
        }
    }
    edges
}

pub fn mermaid(graph: &FlowGraph, flow: &Flow) -> String {
    let ids = flow.positions();
    let mut out = String::from("flowchart LR\n");
    let mut clusters = 0;

    mermaid_folder(
        graph,
        &ids,
        &hierarchy(graph, flow),
        1,
        &mut clusters,
        &mut out,
    );
    for (up, down, label, ordering) in edges(graph, flow) {
        let (up, down) = (ids[up], ids[down]);
        if ordering {
            let _ = writeln!(out, "  n{up} -.-> n{down}");
        } else {
            let _ = writeln!(out, "  n{up} -->|{label}| n{down}");
        }
    }
    out
}

pub fn dot(graph: &FlowGraph, flow: &Flow) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, style=rounded];\n",
        flow.name
    );

    dot_folder(graph, &hierarchy(graph, flow), "", 1, &mut out);
    for (up, down, label, ordering) in edges(graph, flow) {
        let (up, down) = (
            &graph.manifest.operations[up].name,
            &graph.manifest.operations[down].name,
        );
        if ordering {
            let _ = writeln!(out, "  \"{up}\" -> \"{down}\" [style=dashed];");
        } else {
            let _ = writeln!(out, "  \"{up}\" -> \"{down}\" [label=\"{label}\"];");
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid_folder(
    graph: &FlowGraph,
    ids: &crate::graph::Positions,
    f: &Folder,
    indent: usize,
    clusters: &mut usize,
    out: &mut String,
) {
    let pad = "  ".repeat(indent);
    for (name, child) in &f.children {
        let _ = writeln!(out, "{pad}subgraph c{clusters}[\"{name}\"]");
        *clusters += 1;
        mermaid_folder(graph, ids, child, indent + 1, clusters, out);
        let _ = writeln!(out, "{pad}end");
    }
    for &op in &f.operations {
        let name = &graph.manifest.operations[op].name;
        let step = crate::hierarchy::step(name);
        let _ = writeln!(out, "{pad}n{}[\"{step}\"]", ids[op]);
    }
}

fn dot_folder(graph: &FlowGraph, f: &Folder, prefix: &str, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    for (name, child) in &f.children {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let _ = writeln!(out, "{pad}subgraph \"cluster_{path}\" {{");
        let _ = writeln!(out, "{pad}  label=\"{name}\";");
        dot_folder(graph, child, &path, indent + 1, out);
        let _ = writeln!(out, "{pad}}}");
    }
    for &op in &f.operations {
        let name = &graph.manifest.operations[op].name;
        let _ = writeln!(
            out,
            "{pad}\"{name}\" [label=\"{}\"];",
            crate::hierarchy::step(name)
        );
    }
}
