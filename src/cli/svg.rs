//! `opflow graph --format svg|html`: the flow drawn in-process, without
//! Graphviz.
//!
//! The layout cannot overlap by construction. Columns are the flow's stages,
//! left to right. Rows follow a depth-first walk of the name hierarchy (a
//! folder's operations and subfolders together, by segment), one operation per
//! row, so every cluster (a name prefix) is a contiguous band of rows: its
//! rectangle spans that band and the columns its operations use, inset by a
//! fixed step per level of nesting, and sits strictly inside its parent's.
//! Siblings hold disjoint bands. An edge leaves its node on the node's own row
//! (which no other node uses), so it crosses no other node, runs straight to
//! the gap before the target's column and turns there, in a lane of its own
//! unless its vertical extent is clear of the lane's other edges. Its label
//! sits on the turn, moved along it away from other labels and other edges'
//! straight stretches when it can be, pushed down clear of the labels above
//! it when it cannot.
//!
//! Coordinates are whole pixels and text widths an estimate from the number of
//! characters, so the same graph always gives the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;

use crate::graph::{Flow, FlowGraph};
use crate::hierarchy;

const MARGIN: i64 = 20;
/// A node's height, and a row's: the node with room above and below.
const NODE_H: i64 = 34;
const ROW_H: i64 = 50;
const MIN_NODE_W: i64 = 96;
/// Room on each side of a node's label.
const NODE_PAD: i64 = 16;
/// A cluster's label strip, above its first row.
const HEADER_H: i64 = 24;
/// Below a cluster's last row, and between a cluster and what follows it.
const CLUSTER_PAD: i64 = 4;
const CLUSTER_GAP: i64 = 8;
/// Between the borders of nested clusters, horizontally.
const INSET: i64 = 12;
/// The straight ends of an edge, outside the outermost cluster: room for the arrowhead.
const STRAIGHT: i64 = 14;
/// The narrowest gap between two columns, where edges bend.
const MIN_GAP: i64 = 56;
/// Between the lanes of a gap, where edges turn; the least half-width of a
/// bend; the least vertical room between two turns sharing a lane.
const LANE: i64 = 8;
const MIN_REACH: i64 = 14;
const LANE_CLEARANCE: i64 = 3;
const STAGE_H: i64 = 22;
const LABEL_H: i64 = 16;

const FONT_TITLE: i64 = 18;
const FONT_DESCRIPTION: i64 = 13;
const FONT_NODE: i64 = 14;
const FONT_CLUSTER: i64 = 12;
const FONT_STAGE: i64 = 11;
const FONT_LABEL: i64 = 11;

const SANS: &str = "system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,\"Liberation Sans\",sans-serif";
const MONO: &str = "ui-monospace,\"SFMono-Regular\",Menlo,Consolas,\"DejaVu Sans Mono\",\"Liberation Mono\",monospace";

/// Cluster fills and borders by depth (1 = outermost; deeper ones as the last).
const CLUSTER_COLORS: [(&str, &str); 4] = [
    ("#f3f6fc", "#c3cfe6"),
    ("#e8eef9", "#b2c2e0"),
    ("#dee7f6", "#a3b6d9"),
    ("#d4dff3", "#94aad3"),
];

const SVG_STYLE: &str = "\
.of-graph{font-family:FONT_SANS}\
.of-bg{fill:#ffffff}\
.of-title{font-size:18px;font-weight:600;fill:#111827}\
.of-description{font-size:13px;fill:#4b5563}\
.of-stage{font-size:11px;fill:#6b7280;text-anchor:middle;letter-spacing:0.05em}\
.of-cluster rect{stroke-width:1}\
.of-cluster text{font-size:12px;font-weight:600;fill:#3b4a6b}\
.of-node rect{fill:#ffffff;stroke:#4f6fa8;stroke-width:1.5}\
.of-node text{font-size:14px;fill:#111827;text-anchor:middle}\
.of-edge path{fill:none;stroke:#64748b;stroke-width:1.5}\
.of-after path{fill:none;stroke:#94a3b8;stroke-width:1.5;stroke-dasharray:5,4}\
.of-label rect{fill:#ffffff;fill-opacity:0.9}\
.of-label text{font-family:FONT_MONO;font-size:11px;fill:#475569;text-anchor:middle}\
";

/// The flow as a standalone SVG document: a heading (the flow's name and
/// description), then the graph.
pub fn svg(graph: &FlowGraph, flow: &Flow) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    draw(graph, flow, true, &mut out);
    out
}

/// One self-contained HTML page: the flow's name and description, the graph
/// as inline SVG, and a table of its operations with their bindings.
pub fn html(graph: &FlowGraph, flow: &Flow) -> String {
    let name = escape(&flow.name);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{name} · opflow</title>\n<style>\n{}</style>\n</head>\n<body>\n<main>\n\
         <h1>Flow <code>{name}</code></h1>\n",
        PAGE_STYLE
            .replace("FONT_SANS", SANS)
            .replace("FONT_MONO", MONO)
    );
    if let Some(description) = &flow.settings.description {
        let _ = writeln!(out, "<p class=\"of-lead\">{}</p>", escape(description));
    }
    let ops = flow.operations.len();
    let stages = flow.stages.len();
    let _ = write!(
        out,
        "<p class=\"of-summary\">{ops} operation{} in {stages} stage{}",
        plural(ops),
        plural(stages)
    );
    if flow.params.is_empty() {
        out.push_str("; no parameters.</p>\n");
    } else {
        out.push_str("; parameters: ");
        for (i, param) in flow.params.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let mut text = param.name.clone();
            if let Some(ty) = &param.ty {
                let _ = write!(text, ": {ty}");
            }
            if let Some(default) = &param.default {
                let _ = write!(text, " = {default}");
            }
            let _ = write!(out, "<code>{}</code>", escape(&text));
        }
        out.push_str(".</p>\n");
    }
    out.push_str("<figure class=\"of-figure\">\n");
    draw(graph, flow, false, &mut out);
    out.push_str("</figure>\n");
    operations_table(graph, flow, &mut out);
    out.push_str(
        "<p class=\"of-footer\">Drawn by <code>opflow graph --format html</code>.</p>\n\
         </main>\n</body>\n</html>\n",
    );
    out
}

const PAGE_STYLE: &str = "\
body{margin:0;background:#ffffff;color:#111827;font-family:FONT_SANS;font-size:15px;line-height:1.45}
main{padding:24px 32px}
h1{font-size:24px;font-weight:600;margin:0 0 6px}
h2{font-size:18px;font-weight:600;margin:28px 0 10px}
code{font-family:FONT_MONO;font-size:0.9em}
.of-lead{margin:0 0 4px;color:#374151}
.of-summary{margin:0 0 18px;color:#6b7280;font-size:14px}
.of-figure{margin:0 0 0 -20px;overflow-x:auto}
.of-figure svg{display:block;max-width:none}
table{border-collapse:collapse;font-size:14px}
th,td{text-align:left;vertical-align:top;padding:7px 18px 7px 0;border-bottom:1px solid #e5e7eb}
th{font-weight:600;color:#374151;border-bottom:2px solid #d1d5db}
td ul{margin:0;padding:0;list-style:none}
.of-doc{display:block;color:#6b7280;font-size:13px;max-width:36em}
.of-rule,.of-none{color:#9ca3af}
.of-async{color:#6b7280;font-size:12px}
.of-footer{margin-top:24px;color:#9ca3af;font-size:12px}
";

fn operations_table(graph: &FlowGraph, flow: &Flow, out: &mut String) {
    let column = columns(graph, flow);
    out.push_str(
        "<h2>Operations</h2>\n<table class=\"of-operations\">\n<thead><tr><th>operation</th>\
         <th>call</th><th>stage</th><th>parameters</th><th>after</th></tr></thead>\n<tbody>\n",
    );
    for &i in &flow.operations {
        let op = &graph.manifest.operations[i];
        let _ = write!(out, "<tr><td><code>{}</code>", escape(&op.name));
        if let Some(doc) = &op.doc {
            let _ = write!(out, "<span class=\"of-doc\">{}</span>", escape(doc));
        }
        let _ = write!(
            out,
            "</td><td><code>{}:{}</code>{}</td><td>{}</td><td>",
            escape(&op.call.module),
            escape(&op.call.qualname),
            if op.is_async {
                " <span class=\"of-async\">async</span>"
            } else {
                ""
            },
            column[&i] + 1
        );
        if op.params.is_empty() {
            out.push_str("<span class=\"of-none\">none</span>");
        } else {
            out.push_str("<ul>");
            for param in &op.params {
                let mut declared = param.name.clone();
                if let Some(ty) = &param.ty {
                    let _ = write!(declared, ": {ty}");
                }
                if let Some(default) = &param.default {
                    let _ = write!(declared, " = {default}");
                }
                let _ = write!(
                    out,
                    "<li><code>{}</code> ← <code>{}</code> <span class=\"of-rule\">({})</span></li>",
                    escape(&declared),
                    escape(&param.binding.source(&graph.manifest)),
                    param.rule.as_str()
                );
            }
            out.push_str("</ul>");
        }
        out.push_str("</td><td>");
        if op.after.is_empty() {
            out.push_str("<span class=\"of-none\">none</span>");
        } else {
            out.push_str("<ul>");
            for &up in &op.after {
                let _ = write!(
                    out,
                    "<li><code>{}</code></li>",
                    escape(&graph.manifest.operations[up].name)
                );
            }
            out.push_str("</ul>");
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

const fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

// ---------------------------------------------------------------- layout

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    x: i64,
    y: i64,
    w: i64,
    h: i64,
}

impl Rect {
    const fn right(&self) -> i64 {
        self.x + self.w
    }
    const fn bottom(&self) -> i64 {
        self.y + self.h
    }
}

#[derive(Debug)]
struct Node {
    op: usize,
    column: usize,
    rect: Rect,
}

#[derive(Debug)]
struct Cluster {
    /// The name prefix, `scraping.stepstone`.
    path: String,
    /// Its last segment, the label.
    label: String,
    /// 1 for a top-level segment.
    depth: usize,
    /// Its operations: a contiguous band of rows (indices into `Layout::nodes`).
    rows: Range<usize>,
    rect: Rect,
}

#[derive(Debug)]
struct Edge {
    up: usize,
    down: usize,
    /// The parameters it binds, comma-separated; empty for an ordering edge.
    label: String,
    ordering: bool,
    /// The column whose gap (before it) the edge bends in.
    column: usize,
    from: (i64, i64),
    to: (i64, i64),
    /// The gap's horizontal extent.
    bend: (i64, i64),
    label_box: Option<Rect>,
}

#[derive(Debug)]
struct Layout {
    width: i64,
    height: i64,
    /// Each column's nodes' horizontal extent.
    columns: Vec<(i64, i64)>,
    /// The baseline of the stage headers.
    stage_y: i64,
    /// In row order.
    nodes: Vec<Node>,
    /// Outer clusters before the ones inside them (a depth-first walk).
    clusters: Vec<Cluster>,
    edges: Vec<Edge>,
}

/// Each operation's column: the position of its stage among the flow's stages.
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

/// The hierarchy of a flow's operations: folders of name prefixes.
#[derive(Default)]
struct Folder {
    operations: Vec<usize>,
    children: BTreeMap<String, Folder>,
}

fn hierarchy_of(graph: &FlowGraph, flow: &Flow) -> Folder {
    let mut root = Folder::default();
    for &op in &flow.operations {
        let name = &graph.manifest.operations[op].name;
        let mut folder = &mut root;
        if let Some(parent) = hierarchy::parent(name) {
            for segment in parent.split('.') {
                folder = folder.children.entry(segment.to_owned()).or_default();
            }
        }
        folder.operations.push(op);
    }
    root
}

/// Lays the rows out top to bottom: one per operation, a label strip per cluster.
struct Walk<'a> {
    graph: &'a FlowGraph,
    column: &'a BTreeMap<usize, usize>,
    y: i64,
    nodes: Vec<Node>,
    clusters: Vec<Cluster>,
}

impl Walk<'_> {
    fn folder(&mut self, folder: &Folder, path: &str, depth: usize) {
        enum Entry<'f> {
            Operation(usize),
            Folder(&'f str, &'f Folder),
        }
        // Operations and subfolders together, by segment (an operation before a
        // folder of the same name).
        let mut entries: Vec<(&str, u8, Entry)> = folder
            .operations
            .iter()
            .map(|&op| {
                let name = self.graph.manifest.operations[op].name.as_str();
                (hierarchy::step(name), 0, Entry::Operation(op))
            })
            .chain(
                folder
                    .children
                    .iter()
                    .map(|(segment, child)| (segment.as_str(), 1, Entry::Folder(segment, child))),
            )
            .collect();
        entries.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for (_, _, entry) in entries {
            match entry {
                Entry::Operation(op) => {
                    self.nodes.push(Node {
                        op,
                        column: self.column[&op],
                        rect: Rect {
                            x: 0,
                            y: self.y + (ROW_H - NODE_H) / 2,
                            w: 0,
                            h: NODE_H,
                        },
                    });
                    self.y += ROW_H;
                }
                Entry::Folder(segment, child) => {
                    let path = if path.is_empty() {
                        segment.to_owned()
                    } else {
                        format!("{path}.{segment}")
                    };
                    let index = self.clusters.len();
                    let first = self.nodes.len();
                    self.clusters.push(Cluster {
                        path: path.clone(),
                        label: segment.to_owned(),
                        depth: depth + 1,
                        rows: first..first,
                        rect: Rect {
                            x: 0,
                            y: self.y,
                            w: 0,
                            h: 0,
                        },
                    });
                    self.y += HEADER_H;
                    self.folder(child, &path, depth + 1);
                    self.y += CLUSTER_PAD;
                    let cluster = &mut self.clusters[index];
                    cluster.rows.end = self.nodes.len();
                    cluster.rect.h = self.y - cluster.rect.y;
                    self.y += CLUSTER_GAP;
                }
            }
        }
    }
}

/// Lay the flow out, its stage headers' strip starting at `top`.
fn layout(graph: &FlowGraph, flow: &Flow, top: i64) -> Layout {
    let ops = &graph.manifest.operations;
    let column = columns(graph, flow);
    let ncolumns = column.values().max().map_or(0, |&c| c + 1);
    let stage_y = top + FONT_STAGE + 2;
    let mut walk = Walk {
        graph,
        column: &column,
        y: top + STAGE_H,
        nodes: Vec::new(),
        clusters: Vec::new(),
    };
    walk.folder(&hierarchy_of(graph, flow), "", 0);
    let Walk {
        y: rows_end,
        mut nodes,
        mut clusters,
        ..
    } = walk;
    let deepest = clusters.iter().map(|c| c.depth).max().unwrap_or(0);
    let depth = i64::try_from(deepest).unwrap_or(i64::MAX / 4);
    let inset = |cluster: &Cluster| (depth - i64::try_from(cluster.depth).unwrap_or(0) + 1) * INSET;

    // Column widths: the widest node label, the stage header, and the label
    // of every cluster that starts in the column (which must fit there).
    let mut widths = vec![MIN_NODE_W; ncolumns];
    for (c, width) in widths.iter_mut().enumerate() {
        *width = (*width).max(text_width(&format!("stage {}", c + 1), FONT_STAGE) + 8);
    }
    for node in &nodes {
        let step = hierarchy::step(&ops[node.op].name);
        let width = &mut widths[node.column];
        *width = (*width).max(text_width(step, FONT_NODE) + 2 * NODE_PAD);
    }
    let span = |cluster: &Cluster, nodes: &[Node]| {
        let columns = nodes[cluster.rows.clone()].iter().map(|n| n.column);
        (
            columns.clone().min().unwrap_or(0),
            columns.max().unwrap_or(0),
        )
    };
    for cluster in &clusters {
        let (first, _) = span(cluster, &nodes);
        let needed = text_width(&cluster.label, FONT_CLUSTER) + 20 - 2 * inset(cluster);
        widths[first] = widths[first].max(needed);
    }

    // Edges, leaving and arriving at ports: a node's edges leave (and arrive)
    // at distinct heights, ordered by the row at the other end so that they
    // do not cross at the node.
    let row_of: BTreeMap<usize, usize> = nodes.iter().enumerate().map(|(r, n)| (n.op, r)).collect();
    let mut edges: Vec<Edge> = super::draw::edges(graph, flow)
        .into_iter()
        .map(|(up, down, label, ordering)| Edge {
            up,
            down,
            label,
            ordering,
            column: column[&down],
            from: (0, 0),
            to: (0, 0),
            bend: (0, 0),
            label_box: None,
        })
        .collect();
    let mut outgoing: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut incoming: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (e, edge) in edges.iter().enumerate() {
        outgoing.entry(edge.up).or_default().push(e);
        incoming.entry(edge.down).or_default().push(e);
    }
    let port = |node: &Node, i: usize, k: usize| {
        let (i, k) = (i64::try_from(i).unwrap_or(0), i64::try_from(k).unwrap_or(1));
        let spacing = if k > 1 {
            10.min((NODE_H - 14) / (k - 1))
        } else {
            0
        };
        node.rect.y + NODE_H / 2 - (k - 1) * spacing / 2 + i * spacing
    };
    for (op, mut list) in outgoing {
        list.sort_by_key(|&e| (row_of[&edges[e].down], e));
        let node = &nodes[row_of[&op]];
        for (i, &e) in list.iter().enumerate() {
            edges[e].from.1 = port(node, i, list.len());
        }
    }
    for (op, mut list) in incoming {
        list.sort_by_key(|&e| (row_of[&edges[e].up], e));
        let node = &nodes[row_of[&op]];
        for (i, &e) in list.iter().enumerate() {
            edges[e].to.1 = port(node, i, list.len());
        }
    }

    // Lanes: in the gap before a column, each edge turns in a lane of its
    // own unless its vertical extent is clear of the others in the lane.
    // Downward edges take the left lanes, the lowest-starting first, then
    // upward ones, the highest-starting first: staggered edges do not cross.
    let mut by_gap: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (e, edge) in edges.iter().enumerate() {
        by_gap.entry(edge.column).or_default().push(e);
    }
    let mut lane_of = vec![0i64; edges.len()];
    let mut lanes = vec![0i64; ncolumns];
    for (&gap, list) in &mut by_gap {
        list.sort_by_key(|&e| {
            let (from, to) = (edges[e].from.1, edges[e].to.1);
            if to >= from {
                (0, -from, e)
            } else {
                (1, from, e)
            }
        });
        let mut taken: Vec<Vec<(i64, i64)>> = Vec::new();
        for &e in list.iter() {
            let (from, to) = (edges[e].from.1, edges[e].to.1);
            let extent = (from.min(to) - LANE_CLEARANCE, from.max(to) + LANE_CLEARANCE);
            let clear = |lane: &Vec<(i64, i64)>| {
                lane.iter()
                    .all(|&(top, bottom)| extent.1 < top || bottom < extent.0)
            };
            let lane = taken.iter().position(clear).unwrap_or(taken.len());
            if lane == taken.len() {
                taken.push(Vec::new());
            }
            taken[lane].push(extent);
            lane_of[e] = i64::try_from(lane).unwrap_or(0);
        }
        lanes[gap] = i64::try_from(taken.len()).unwrap_or(0);
    }

    // The gaps: wide enough for their lanes and their labels.
    let mut gaps = vec![MIN_GAP; ncolumns];
    for (c, gap) in gaps.iter_mut().enumerate() {
        *gap = (*gap).max(2 * MIN_REACH + (lanes[c] - 1).max(0) * LANE);
    }
    for edge in &edges {
        if !edge.label.is_empty() {
            let gap = &mut gaps[edge.column];
            *gap = (*gap).max(text_width(&edge.label, FONT_LABEL) + 10 + 16);
        }
    }

    // Columns left to right: each with room for the clusters' borders and the
    // edges' straight ends on both sides, and a gap before it but the first.
    let border = depth * INSET;
    let mut x = MARGIN;
    let mut spans = Vec::with_capacity(ncolumns);
    let mut bends = vec![(0, 0); ncolumns];
    for c in 0..ncolumns {
        if c > 0 {
            x += STRAIGHT;
            bends[c] = (x, x + gaps[c]);
            x += gaps[c] + STRAIGHT;
        }
        x += border;
        spans.push((x, x + widths[c]));
        x += widths[c] + border;
    }
    let width = x + MARGIN;

    for node in &mut nodes {
        let (left, right) = spans[node.column];
        node.rect.x = left;
        node.rect.w = right - left;
    }
    for cluster in &mut clusters {
        let (first, last) = span(cluster, &nodes);
        let inset = inset(cluster);
        cluster.rect.x = spans[first].0 - inset;
        cluster.rect.w = spans[last].1 + inset - cluster.rect.x;
    }

    // Each edge's bend, centred on its lane, all of a gap's as wide.
    for (e, edge) in edges.iter_mut().enumerate() {
        edge.from.0 = nodes[row_of[&edge.up]].rect.right();
        edge.to.0 = nodes[row_of[&edge.down]].rect.x;
        let (start, end) = bends[edge.column];
        let spread = (lanes[edge.column] - 1) * LANE;
        let lane = i64::midpoint(start, end) - spread / 2 + lane_of[e] * LANE;
        let reach = (end - start - spread) / 2;
        edge.bend = (lane - reach, lane + reach);
    }

    // Labels: on their own bend, as near its middle as they can be without
    // covering another label or a straight stretch of another edge in the
    // gap (failing that, at the middle); then pushed down clear of the
    // labels above them.
    let mut straights: BTreeMap<usize, Vec<(i64, i64, i64, usize)>> = BTreeMap::new();
    for (e, edge) in edges.iter().enumerate() {
        let passed = column[&edge.up] + 1..edge.column;
        for (gap, &(start, end)) in bends.iter().enumerate().take(passed.end).skip(passed.start) {
            straights
                .entry(gap)
                .or_default()
                .push((edge.from.1, start, end, e));
        }
        let (start, end) = bends[edge.column];
        let here = straights.entry(edge.column).or_default();
        here.push((edge.from.1, start, edge.bend.0, e));
        here.push((edge.to.1, edge.bend.1, end, e));
    }
    let mut height = rows_end - CLUSTER_GAP + MARGIN;
    for (gap, list) in by_gap {
        let (start, end) = bends[gap];
        let mut straights = straights.remove(&gap).unwrap_or_default();
        straights.sort_unstable();
        let mut list: Vec<usize> = list
            .into_iter()
            .filter(|&e| !edges[e].label.is_empty())
            .collect();
        list.sort_by_key(|&e| (i64::midpoint(edges[e].from.1, edges[e].to.1), e));
        let mut placed: Vec<Rect> = Vec::with_capacity(list.len());
        for e in list {
            let edge = &edges[e];
            let w = text_width(&edge.label, FONT_LABEL) + 10;
            let at = |tenths: i64| {
                let (x, y) = bezier(edge, tenths);
                Rect {
                    x: (x - w / 2).max(start).min(end - w),
                    y: y - LABEL_H / 2,
                    w,
                    h: LABEL_H,
                }
            };
            let free = |label: &Rect| {
                let first = straights.partition_point(|s| s.0 < label.y - 1);
                straights[first..]
                    .iter()
                    .take_while(|s| s.0 <= label.bottom() + 1)
                    .all(|&(_, x0, x1, other)| other == e || x1 < label.x || label.right() < x0)
                    && placed.iter().all(|p| apart(p, label))
            };
            let mut label = [5, 4, 6, 3, 7, 2, 8]
                .into_iter()
                .map(at)
                .find(free)
                .unwrap_or_else(|| at(5));
            while let Some(blocker) = placed.iter().find(|p| !apart(p, &label)) {
                label.y = blocker.bottom() + 2;
            }
            height = height.max(label.bottom() + MARGIN);
            placed.push(label);
            edges[e].label_box = Some(label);
        }
    }

    Layout {
        width,
        height,
        columns: spans,
        stage_y,
        nodes,
        clusters,
        edges,
    }
}

/// The point of an edge's bend at `tenths` of the way along it: a cubic
/// Bézier from `(bend.0, from.y)` to `(bend.1, to.y)` with both control
/// points on the lane, in whole-number arithmetic.
fn bezier(edge: &Edge, tenths: i64) -> (i64, i64) {
    let (t, u) = (tenths, 10 - tenths);
    let (b0, b1, y0, y1) = (edge.bend.0, edge.bend.1, edge.from.1, edge.to.1);
    let lane = i64::midpoint(b0, b1);
    let x = u * u * u * b0 + 3 * u * u * t * lane + 3 * u * t * t * lane + t * t * t * b1;
    let y = (u * u * u + 3 * u * u * t) * y0 + (3 * u * t * t + t * t * t) * y1;
    (x / 1000, y / 1000)
}

/// Two labels at least 2 pixels apart, horizontally or vertically.
const fn apart(a: &Rect, b: &Rect) -> bool {
    a.right() + 2 <= b.x || b.right() + 2 <= a.x || a.bottom() + 2 <= b.y || b.bottom() + 2 <= a.y
}

impl Layout {
    /// Move everything down by `dy`, making room above.
    fn shift(&mut self, dy: i64) {
        self.height += dy;
        self.stage_y += dy;
        for node in &mut self.nodes {
            node.rect.y += dy;
        }
        for cluster in &mut self.clusters {
            cluster.rect.y += dy;
        }
        for edge in &mut self.edges {
            edge.from.1 += dy;
            edge.to.1 += dy;
            if let Some(label) = &mut edge.label_box {
                label.y += dy;
            }
        }
    }
}

// ---------------------------------------------------------------- drawing

/// Draw the flow as an `<svg>` element (with a visible heading when `heading`).
fn draw(graph: &FlowGraph, flow: &Flow, heading: bool, out: &mut String) {
    let ops = &graph.manifest.operations;
    let description = flow.settings.description.as_deref().unwrap_or("");
    let mut layout = layout(graph, flow, MARGIN);
    let mut width = layout.width;
    let mut lines = Vec::new();
    if heading {
        width = width.max(2 * MARGIN + text_width(&flow.name, FONT_TITLE));
        lines = wrap(
            description,
            (width - 2 * MARGIN).max(440),
            FONT_DESCRIPTION,
            3,
        );
        for line in &lines {
            width = width.max(2 * MARGIN + text_width(line, FONT_DESCRIPTION));
        }
        layout.shift(FONT_TITLE + 16 + 18 * i64::try_from(lines.len()).unwrap_or(0));
    }
    let height = layout.height;

    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" class=\"of-graph\" \
         width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"
    );
    let _ = writeln!(out, "<title>flow {}</title>", escape(&flow.name));
    if !description.is_empty() {
        let _ = writeln!(out, "<desc>{}</desc>", escape(description));
    }
    let _ = writeln!(
        out,
        "<defs>\n<style type=\"text/css\">{}</style>\n\
         <marker id=\"of-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" \
         markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#64748b\"/></marker>\n\
         <marker id=\"of-arrow-after\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" \
         markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#94a3b8\"/></marker>\n\
         </defs>",
        SVG_STYLE
            .replace("FONT_SANS", SANS)
            .replace("FONT_MONO", MONO)
    );
    let _ = writeln!(
        out,
        "<rect class=\"of-bg\" x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\"/>"
    );
    if heading {
        let _ = writeln!(
            out,
            "<text class=\"of-title\" x=\"{MARGIN}\" y=\"{}\">{}</text>",
            MARGIN + FONT_TITLE,
            escape(&flow.name)
        );
        for (i, line) in (0..).zip(&lines) {
            let _ = writeln!(
                out,
                "<text class=\"of-description\" x=\"{MARGIN}\" y=\"{}\">{}</text>",
                MARGIN + FONT_TITLE + 22 + 18 * i,
                escape(line)
            );
        }
    }
    for (c, (left, right)) in layout.columns.iter().enumerate() {
        let _ = writeln!(
            out,
            "<text class=\"of-stage\" x=\"{}\" y=\"{}\">stage {}</text>",
            i64::midpoint(*left, *right),
            layout.stage_y,
            c + 1
        );
    }
    for cluster in &layout.clusters {
        let (fill, stroke) = CLUSTER_COLORS[(cluster.depth - 1).min(CLUSTER_COLORS.len() - 1)];
        let Rect { x, y, w, h } = cluster.rect;
        let _ = writeln!(
            out,
            "<g class=\"of-cluster\"><title>{}</title>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\"/>\
             <text x=\"{}\" y=\"{}\">{}</text></g>",
            escape(&cluster.path),
            x + 10,
            y + 17,
            escape(&cluster.label)
        );
    }
    for edge in &layout.edges {
        let ((x0, y0), (x1, y1), (b0, b1)) = (edge.from, edge.to, edge.bend);
        let middle = i64::midpoint(b0, b1);
        let (class, marker) = if edge.ordering {
            ("of-after", "of-arrow-after")
        } else {
            ("of-edge", "of-arrow")
        };
        let mut title = format!("{} → {}", ops[edge.up].name, ops[edge.down].name);
        if edge.ordering {
            title.push_str(" (order only)");
        } else {
            let _ = write!(title, ": {}", edge.label);
        }
        let _ = writeln!(
            out,
            "<g class=\"{class}\"><title>{}</title><path d=\"M{x0},{y0} H{b0} C{middle},{y0} {middle},{y1} {b1},{y1} H{x1}\" \
             marker-end=\"url(#{marker})\"/></g>",
            escape(&title)
        );
    }
    for node in &layout.nodes {
        let op = &ops[node.op];
        let Rect { x, y, w, h } = node.rect;
        let mut title = format!("{}\n{}:{}", op.name, op.call.module, op.call.qualname);
        if let Some(doc) = &op.doc {
            let _ = write!(title, "\n{doc}");
        }
        let _ = writeln!(
            out,
            "<g class=\"of-node\"><title>{}</title>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"8\"/>\
             <text x=\"{}\" y=\"{}\">{}</text></g>",
            escape(&title),
            x + w / 2,
            y + h / 2 + FONT_NODE * 7 / 20,
            escape(hierarchy::step(&op.name))
        );
    }
    for edge in &layout.edges {
        if let Some(Rect { x, y, w, h }) = edge.label_box {
            let _ = writeln!(
                out,
                "<g class=\"of-label\"><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"3\"/>\
                 <text x=\"{}\" y=\"{}\">{}</text></g>",
                x + w / 2,
                y + h / 2 + FONT_LABEL * 7 / 20,
                escape(&edge.label)
            );
        }
    }
    out.push_str("</svg>\n");
}

/// The estimated width of `text` in pixels at `size`: every character as wide
/// as a monospace one (0.6 em), capitals and wide letters wider, East Asian
/// wide characters a full em.
fn text_width(text: &str, size: i64) -> i64 {
    let thousandths: i64 = text.chars().map(char_width).sum();
    (thousandths * size + 999) / 1000
}

fn char_width(c: char) -> i64 {
    match c {
        'm' | 'w' | 'M' | 'W' | '@' | '%' => 900,
        'A'..='Z' => 720,
        '\u{1100}'..='\u{115f}'
        | '\u{2e80}'..='\u{a4cf}'
        | '\u{ac00}'..='\u{d7a3}'
        | '\u{f900}'..='\u{faff}'
        | '\u{fe30}'..='\u{fe4f}'
        | '\u{ff00}'..='\u{ff60}'
        | '\u{ffe0}'..='\u{ffe6}'
        | '\u{1f300}'..='\u{1faff}'
        | '\u{20000}'..='\u{3fffd}' => 1000,
        _ => 600,
    }
}

/// `text` in at most `lines` lines of at most `width` pixels, broken at
/// spaces (a word too long for a line is cut), the last line ending with an
/// ellipsis when the text does not fit.
fn wrap(text: &str, width: i64, size: i64, lines: usize) -> Vec<String> {
    let budget = width * 1000 / size;
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    let mut cut = false;
    'words: for word in text.split_whitespace() {
        let word_width: i64 = word.chars().map(char_width).sum();
        let space = if line.is_empty() { 0 } else { char_width(' ') };
        if used + space + word_width <= budget {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            used += space + word_width;
            continue;
        }
        if !line.is_empty() {
            out.push(std::mem::take(&mut line));
            used = 0;
        }
        for c in word.chars() {
            if out.len() == lines {
                cut = true;
                break 'words;
            }
            if used + char_width(c) > budget {
                out.push(std::mem::take(&mut line));
                used = 0;
                if out.len() == lines {
                    cut = true;
                    break 'words;
                }
            }
            line.push(c);
            used += char_width(c);
        }
    }
    if !line.is_empty() {
        if out.len() == lines {
            cut = true;
        } else {
            out.push(line);
        }
    }
    if cut && let Some(last) = out.last_mut() {
        let room = budget - char_width('…');
        while last.chars().map(char_width).sum::<i64>() > room {
            last.pop();
        }
        let kept = last.trim_end().len();
        last.truncate(kept);
        last.push('…');
    }
    out
}

/// Text made safe for XML and HTML, as content or a quoted attribute value.
/// Characters XML 1.0 does not allow (control characters but tab, newline
/// and carriage return) become U+FFFD.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::manifest::{Format, Source};

    const EXAMPLE: &str = include_str!("../../examples/scraping/operations.toml");

    fn compile(text: &str) -> FlowGraph {
        match crate::compile_source(
            Source {
                path: "operations.toml".into(),
                text: text.to_owned(),
            },
            Format::Toml,
        ) {
            Ok(compiled) => compiled.graph,
            Err(failure) => panic!("{:?}", failure.diagnostics),
        }
    }

    fn flow<'g>(graph: &'g FlowGraph, name: &str) -> &'g Flow {
        graph.flows.iter().find(|f| f.name == name).unwrap()
    }

    /// A manifest with a deeper hierarchy, several stages, data and ordering
    /// edges, flat names, and long labels.
    fn wide() -> String {
        let mut text = String::from(
            "version = 1\n[project]\nname = \"wide\"\n\
             [flows.a]\ndescription = \"A & <b> \\\"quoted\\\" 'flow'\"\n",
        );
        let ops: &[(&str, &str)] = &[
            ("a.x.y.load", "params = { n = \"int\" }\nreturns = \"int\""),
            (
                "a.x.y.clean",
                "params = { load = \"int\" }\nreturns = \"int\"",
            ),
            ("a.x.z.load", "params = { n = \"int\" }\nreturns = \"int\""),
            (
                "a.x.join",
                "params = { first = { type = \"int\", from = \"a.x.y.clean\" }, second = { type = \"int\", from = \"a.x.z.load\" } }\nreturns = \"int\"",
            ),
            (
                "a.report",
                "params = { a_very_long_parameter_name = { type = \"int\", from = \"a.x.join\" }, other = { type = \"int\", from = \"a.x.y.load\" } }\ndepends_on = [\"a.x.z.load\", \"a.x.join\", \"a.x.y.load\"]",
            ),
            (
                "a.w.v.u.t.deep",
                "params = { report = { type = \"None\", from = \"a.report\" } }",
            ),
            ("b.q.solo", ""),
            ("flat", "depends_on = [\"b.q.solo\"]"),
            ("a.x", "depends_on = [\"a.x.join\"]"),
        ];
        for (name, body) in ops {
            let _ = write!(
                text,
                "\n[[operations]]\nname = \"{name}\"\ncall = \"pkg.mod:{}\"\n{body}\n",
                name.replace('.', "_")
            );
        }
        text
    }

    fn inside(inner: Rect, outer: Rect) -> bool {
        inner.x > outer.x
            && inner.y > outer.y
            && inner.right() < outer.right()
            && inner.bottom() < outer.bottom()
    }

    fn disjoint(a: Rect, b: Rect) -> bool {
        a.right() <= b.x || b.right() <= a.x || a.bottom() <= b.y || b.bottom() <= a.y
    }

    #[test]
    fn the_same_graph_gives_the_same_bytes() {
        let one = compile(EXAMPLE);
        let two = compile(EXAMPLE);
        for name in ["scraping", "all"] {
            assert_eq!(svg(&one, flow(&one, name)), svg(&two, flow(&two, name)));
            assert_eq!(html(&one, flow(&one, name)), html(&two, flow(&two, name)));
        }
        let (one, two) = (compile(&wide()), compile(&wide()));
        assert_eq!(svg(&one, flow(&one, "all")), svg(&two, flow(&two, "all")));
    }

    #[test]
    fn every_operation_is_named_in_the_svg_and_the_page() {
        for text in [EXAMPLE.to_owned(), wide()] {
            let graph = compile(&text);
            for flow in &graph.flows {
                let (svg, html) = (svg(&graph, flow), html(&graph, flow));
                well_formed(&svg).unwrap();
                for &op in &flow.operations {
                    let op = &graph.manifest.operations[op];
                    assert!(
                        svg.contains(&format!("<title>{}\n", op.name)),
                        "{}",
                        op.name
                    );
                    assert!(html.contains(&format!("<code>{}</code>", op.name)));
                    assert!(svg.contains(&format!(">{}</text>", hierarchy::step(&op.name))));
                }
            }
        }
    }

    #[test]
    fn the_example_has_its_clusters_and_labelled_edges() {
        let graph = compile(EXAMPLE);
        let svg = svg(&graph, flow(&graph, "scraping"));
        assert!(svg.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "));
        assert!(svg.contains(" viewBox=\"0 0 "));
        for cluster in ["scraping", "scraping.linkedin", "scraping.stepstone"] {
            assert!(svg.contains(&format!("<g class=\"of-cluster\"><title>{cluster}</title>")));
        }
        assert!(svg.contains(">linkedin</text></g>\n"));
        assert!(svg.contains(">stepstone</text></g>\n"));
        assert_eq!(svg.matches("marker-end=\"url(#of-arrow)\"").count(), 2);
        assert!(svg.contains("stage 2"));
        assert!(!svg.contains("stage 3"));
    }

    #[test]
    fn hostile_text_is_escaped() {
        let hostile = "</svg><script>alert(\\\"x\\\")</script> & 'q' \\u0001 ]]> <!-- -->";
        let text = EXAMPLE.replace(
            "description = \"Collect job listings from StepStone and LinkedIn and merge them\"",
            &format!("description = \"{hostile}\""),
        );
        let text = text.replace(
            "doc = \"Drop duplicate listings and sort them by company and title.\"",
            "doc = \"<b onclick=\\\"x()\\\">&amp;</b>\"",
        );
        let graph = compile(&text);
        let flow = flow(&graph, "scraping");
        assert!(
            flow.settings
                .description
                .as_deref()
                .unwrap()
                .contains("<script>")
        );
        let (svg, html) = (svg(&graph, flow), html(&graph, flow));
        for out in [&svg, &html] {
            assert!(!out.contains("<script"), "{out}");
            assert!(!out.contains("</svg><"));
            assert!(!out.contains("<b "));
            assert!(!out.contains("<!--"));
            assert!(!out.contains('\u{1}'));
            assert!(out.contains("&lt;/svg&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39; \u{fffd} ]]&gt;"));
            assert!(out.contains("&lt;b onclick=&quot;x()&quot;&gt;&amp;amp;&lt;/b&gt;"));
        }
        well_formed(&svg).unwrap();
        assert_eq!(
            escape("a\u{7f}\u{85}\u{ffff}\tb"),
            "a\u{fffd}\u{fffd}\u{fffd}\tb"
        );
    }

    #[test]
    fn long_descriptions_are_cut_in_the_picture_only() {
        let long = "word ".repeat(400);
        let text = EXAMPLE.replace(
            "Collect job listings from StepStone and LinkedIn and merge them",
            long.trim(),
        );
        let graph = compile(&text);
        let flow = flow(&graph, "scraping");
        let svg = svg(&graph, flow);
        assert!(svg.contains("…</text>"));
        let width: i64 = svg
            .split("width=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(width < 1000, "{width}");
        assert!(html(&graph, flow).contains(long.trim()));
    }

    #[test]
    fn clusters_nest_strictly_and_nothing_overlaps() {
        for text in [EXAMPLE.to_owned(), wide()] {
            let graph = compile(&text);
            for flow in &graph.flows {
                let layout = layout(&graph, flow, MARGIN);
                check_layout(&graph, flow, &layout);
            }
        }
    }

    /// Pseudo-random manifests: names up to five segments deep over a small
    /// alphabet (so prefixes are shared), data and ordering edges to earlier
    /// operations.
    #[test]
    fn generated_graphs_nest_strictly_and_nothing_overlaps() {
        let mut seed: u64 = 0x5eed;
        let mut next = move |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(seed >> 33).unwrap() % n
        };
        for round in 0..6 {
            let count = 10 + 15 * round;
            let names: Vec<String> = (0..count)
                .map(|i| {
                    let depth = next(5);
                    let mut name: Vec<String> = (0..depth)
                        .map(|_| ["a", "bb", "c"][next(3)].to_owned())
                        .collect();
                    name.push(format!("op{i}"));
                    name.join(".")
                })
                .collect();
            let mut text = String::from("version = 1\n[project]\nname = \"gen\"\n");
            for (i, name) in names.iter().enumerate() {
                let _ = write!(
                    text,
                    "\n[[operations]]\nname = \"{name}\"\ncall = \"pkg.m:f{i}\"\nreturns = \"int\"\nparams = {{ "
                );
                let mut after = Vec::new();
                for k in 0..if i == 0 { 0 } else { next(5) } {
                    let up = &names[next(i)];
                    if k == 3 {
                        after.push(format!("\"{up}\""));
                    } else {
                        let _ = write!(
                            text,
                            "{}p{k} = {{ type = \"int\", from = \"{up}\" }}",
                            if k > 0 { ", " } else { "" }
                        );
                    }
                }
                text.push_str(" }\n");
                if !after.is_empty() {
                    let _ = writeln!(text, "depends_on = [{}]", after.join(", "));
                }
            }
            let graph = compile(&text);
            for flow in &graph.flows {
                let layout = layout(&graph, flow, MARGIN);
                check_layout(&graph, flow, &layout);
                if flow.name == "all" {
                    assert!(layout.clusters.len() > 3 && layout.edges.len() > count / 2);
                    assert!(layout.edges.iter().any(|e| e.ordering) || round == 0);
                }
                well_formed(&svg(&graph, flow)).unwrap();
            }
        }
    }

    fn check_layout(graph: &FlowGraph, flow: &Flow, layout: &Layout) {
        let ops = &graph.manifest.operations;
        assert_eq!(layout.nodes.len(), flow.operations.len());
        let canvas = Rect {
            x: 0,
            y: 0,
            w: layout.width,
            h: layout.height,
        };
        // Nodes: one per row, in their stage's column, apart from each other.
        for (i, a) in layout.nodes.iter().enumerate() {
            assert!(inside(a.rect, canvas));
            let (left, right) = layout.columns[a.column];
            assert_eq!((a.rect.x, a.rect.right()), (left, right));
            for b in &layout.nodes[i + 1..] {
                assert!(a.rect.bottom() < b.rect.y, "rows are unique and ordered");
            }
        }
        let clusters = &layout.clusters;
        {
            for (i, a) in clusters.iter().enumerate() {
                assert!(inside(a.rect, canvas));
                assert!(!a.rows.is_empty());
                // Its band holds exactly the operations under its prefix.
                let prefix = format!("{}.", a.path);
                for (r, node) in layout.nodes.iter().enumerate() {
                    let member = ops[node.op].name.starts_with(&prefix);
                    assert_eq!(
                        member,
                        a.rows.contains(&r),
                        "{} / {}",
                        a.path,
                        ops[node.op].name
                    );
                    if member {
                        assert!(
                            inside(node.rect, a.rect),
                            "{} in {}",
                            ops[node.op].name,
                            a.path
                        );
                    } else {
                        assert!(
                            disjoint(node.rect, a.rect),
                            "{} and {}",
                            ops[node.op].name,
                            a.path
                        );
                    }
                }
                // The label fits the cluster's part of its first column.
                let first = layout.nodes[a.rows.clone()]
                    .iter()
                    .map(|n| n.column)
                    .min()
                    .unwrap();
                let (left, right) = layout.columns[first];
                let label_end = a.rect.x + 10 + text_width(&a.label, FONT_CLUSTER);
                assert!(label_end + 10 <= right + (left - a.rect.x), "{}", a.path);
                for b in &clusters[i + 1..] {
                    if b.path.starts_with(&prefix) {
                        assert!(inside(b.rect, a.rect), "{} in {}", b.path, a.path);
                    } else {
                        assert!(!a.path.starts_with(&format!("{}.", b.path)));
                        assert!(disjoint(a.rect, b.rect), "{} and {}", a.path, b.path);
                    }
                }
            }
        }
        // Labels: apart from each other, from nodes and from cluster labels.
        let labels: Vec<Rect> = layout.edges.iter().filter_map(|e| e.label_box).collect();
        for (i, a) in labels.iter().enumerate() {
            assert!(inside(*a, canvas));
            for b in &labels[i + 1..] {
                assert!(disjoint(*a, *b), "{a:?} {b:?}");
            }
            for node in &layout.nodes {
                assert!(disjoint(*a, node.rect));
            }
        }
        // Edges run forwards, and bend between the columns; two that turn in
        // the same gap over overlapping heights turn in different lanes.
        let extent = |e: &Edge| (e.from.1.min(e.to.1), e.from.1.max(e.to.1));
        for (i, a) in layout.edges.iter().enumerate() {
            for b in &layout.edges[i + 1..] {
                let ((a0, a1), (b0, b1)) = (extent(a), extent(b));
                if a.column == b.column && a0 <= b1 && b0 <= a1 {
                    assert_ne!(a.bend, b.bend, "{a:?} {b:?}");
                }
            }
        }
        for edge in &layout.edges {
            assert!(
                edge.from.0 < edge.bend.0 && edge.bend.0 < edge.bend.1 && edge.bend.1 < edge.to.0
            );
            assert_eq!(edge.ordering, edge.label.is_empty());
        }
    }

    /// A small well-formedness check of the SVG: tags balance, attributes are
    /// quoted, and every `&` starts one of the entities `escape` writes.
    fn well_formed(svg: &str) -> Result<(), String> {
        let body = svg
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            .unwrap_or(svg);
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = body;
        while let Some(open) = rest.find('<') {
            check_text(&rest[..open])?;
            let close = rest[open..].find('>').ok_or("unclosed tag")? + open;
            let tag = &rest[open + 1..close];
            if let Some(name) = tag.strip_prefix('/') {
                if stack.pop() != Some(name) {
                    return Err(format!("</{name}> closes nothing"));
                }
            } else {
                let self_closing = tag.ends_with('/');
                let tag = tag.trim_end_matches('/');
                let (name, mut attributes) = tag.split_once(' ').unwrap_or((tag, ""));
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    return Err(format!("bad tag <{tag}>"));
                }
                while !attributes.trim().is_empty() {
                    let (key, value) = attributes
                        .trim_start()
                        .split_once("=\"")
                        .ok_or(format!("bad attributes in <{tag}>"))?;
                    if !key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':')
                    {
                        return Err(format!("bad attribute {key}"));
                    }
                    let (value, after) = value.split_once('"').ok_or("unquoted")?;
                    check_text(value)?;
                    attributes = after;
                }
                if !self_closing {
                    stack.push(name);
                }
            }
            rest = &rest[close + 1..];
        }
        check_text(rest)?;
        if stack.is_empty() && body.starts_with("<svg ") {
            Ok(())
        } else {
            Err(format!("unclosed: {stack:?}"))
        }
    }

    fn check_text(text: &str) -> Result<(), String> {
        if text.contains('<') || text.contains('>') {
            return Err(format!("markup in text: {text:?}"));
        }
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            if !["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                .iter()
                .any(|e| entity.starts_with(e))
            {
                return Err(format!("bare & in {text:?}"));
            }
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(format!("control character in {text:?}"));
        }
        Ok(())
    }
}
