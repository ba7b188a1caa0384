//! Where everything of a flow's picture goes: [`layout`] runs one function
//! per phase, each reading what the ones before it decided.
//!
//! 1. **rank** ([`super::columns`]): columns are the flow's stages, left to right.
//! 2. **order** ([`order`]): rows follow a depth-first walk of the name tree (a
//!    folder's operations and subfolders together, by segment), one operation
//!    per row, so every cluster (a name prefix) is a contiguous band of rows.
//! 3. **size** ([`size`]): each column as wide as its widest node, its stage
//!    header and the labels of the clusters that start in it.
//! 4. **attach** ([`attach`]): an edge leaves its node on the node's own row
//!    (which no other node uses), so it crosses no other node; a node's edges
//!    leave and arrive at distinct heights.
//! 5. **lanes** ([`lanes`]): an edge runs straight to the gap before its
//!    target's column and turns there, in a lane of its own unless its
//!    vertical extent is clear of the lane's other edges.
//! 6. **position** ([`position`]): the gaps wide enough for their lanes and
//!    labels, the columns placed left to right, nodes and clusters on them; a
//!    cluster's rectangle spans its band and the columns its operations use,
//!    inset by a fixed step per level of nesting, strictly inside its
//!    parent's; siblings hold disjoint bands.
//! 7. **route** ([`route`]): each edge's bend, centred on its lane.
//! 8. **label** ([`label`]): a label sits on its edge's turn, moved along it
//!    away from other labels and other edges' straight stretches when it can
//!    be, pushed down clear of the labels above it when it cannot.
//!
//! So the layout cannot overlap by construction. Coordinates are whole
//! pixels and text widths an estimate from the number of characters, so the
//! same graph always gives the same bytes.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::graph::{Flow, FlowGraph};
use crate::hierarchy::{self, Tree};

pub(super) const MARGIN: i64 = 20;
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

pub(super) const FONT_TITLE: i64 = 18;
pub(super) const FONT_DESCRIPTION: i64 = 13;
pub(super) const FONT_NODE: i64 = 14;
pub(super) const FONT_CLUSTER: i64 = 12;
pub(super) const FONT_STAGE: i64 = 11;
pub(super) const FONT_LABEL: i64 = 11;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rect {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
}

impl Rect {
    pub const fn right(&self) -> i64 {
        self.x + self.w
    }
    pub const fn bottom(&self) -> i64 {
        self.y + self.h
    }
}

#[derive(Debug)]
pub(super) struct Node {
    pub op: usize,
    pub column: usize,
    pub rect: Rect,
}

#[derive(Debug)]
pub(super) struct Cluster {
    /// The name prefix, `scraping.stepstone`.
    pub path: String,
    /// Its last segment, the label.
    pub label: String,
    /// 1 for a top-level segment.
    pub depth: usize,
    /// Its operations: a contiguous band of rows (indices into `Layout::nodes`).
    pub rows: Range<usize>,
    pub rect: Rect,
}

#[derive(Debug)]
pub(super) struct Edge {
    pub up: usize,
    pub down: usize,
    /// The parameters it binds, comma-separated; empty for an ordering edge.
    pub label: String,
    pub ordering: bool,
    /// The column whose gap (before it) the edge bends in.
    pub column: usize,
    pub from: (i64, i64),
    pub to: (i64, i64),
    /// The gap's horizontal extent.
    pub bend: (i64, i64),
    pub label_box: Option<Rect>,
}

#[derive(Debug)]
pub(super) struct Layout {
    pub width: i64,
    pub height: i64,
    /// Each column's nodes' horizontal extent.
    pub columns: Vec<(i64, i64)>,
    /// The baseline of the stage headers.
    pub stage_y: i64,
    /// In row order.
    pub nodes: Vec<Node>,
    /// Outer clusters before the ones inside them (a depth-first walk).
    pub clusters: Vec<Cluster>,
    pub edges: Vec<Edge>,
}

/// Lay the flow out, its stage headers' strip starting at `top`.
pub(super) fn layout(graph: &FlowGraph, flow: &Flow, stored: &[usize], top: i64) -> Layout {
    let column = super::columns(graph, flow);
    let ncolumns = column.values().max().map_or(0, |&c| c + 1);
    let rows = order(graph, flow, &column, top + STAGE_H);
    let Rows {
        end: rows_end,
        mut nodes,
        mut clusters,
    } = rows;
    let deepest = clusters.iter().map(|c| c.depth).max().unwrap_or(0);
    let depth = i64::try_from(deepest).unwrap_or(i64::MAX / 4);
    let widths = size(graph, &nodes, &clusters, ncolumns, depth);
    let row_of: BTreeMap<usize, usize> = nodes.iter().enumerate().map(|(r, n)| (n.op, r)).collect();
    let mut edges = attach(graph, flow, stored, &column, &nodes, &row_of);
    let lanes = lanes(&edges, ncolumns);
    let (columns, bends, width) =
        position(&edges, &widths, &lanes, depth, &mut nodes, &mut clusters);
    route(&mut edges, &nodes, &row_of, &bends, &lanes);
    let height = label(
        &mut edges,
        &column,
        &bends,
        lanes.by_gap,
        rows_end - CLUSTER_GAP + MARGIN,
    );
    Layout {
        width,
        height,
        columns,
        stage_y: top + FONT_STAGE + 2,
        nodes,
        clusters,
        edges,
    }
}

/// The rows, top to bottom, and where they end.
struct Rows {
    end: i64,
    nodes: Vec<Node>,
    clusters: Vec<Cluster>,
}

/// Phase 2: one row per operation, a label strip per cluster, from `top`
/// down: nodes have their heights, clusters their bands and heights.
fn order(graph: &FlowGraph, flow: &Flow, column: &BTreeMap<usize, usize>, top: i64) -> Rows {
    let mut walk = Walk {
        graph,
        column,
        rows: Rows {
            end: top,
            nodes: Vec::new(),
            clusters: Vec::new(),
        },
    };
    walk.folder(&super::tree(graph, flow), "", 0);
    walk.rows
}

struct Walk<'a> {
    graph: &'a FlowGraph,
    column: &'a BTreeMap<usize, usize>,
    rows: Rows,
}

impl Walk<'_> {
    fn folder(&mut self, folder: &Tree<usize>, path: &str, depth: usize) {
        enum Entry<'f> {
            Operation(usize),
            Folder(&'f str, &'f Tree<usize>),
        }
        // Operations and subfolders together, by segment (an operation before a
        // folder of the same name).
        let mut entries: Vec<(&str, u8, Entry)> = folder
            .items
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
                    self.rows.nodes.push(Node {
                        op,
                        column: self.column[&op],
                        rect: Rect {
                            x: 0,
                            y: self.rows.end + (ROW_H - NODE_H) / 2,
                            w: 0,
                            h: NODE_H,
                        },
                    });
                    self.rows.end += ROW_H;
                }
                Entry::Folder(segment, child) => {
                    let path = hierarchy::join(path, segment);
                    let index = self.rows.clusters.len();
                    let first = self.rows.nodes.len();
                    self.rows.clusters.push(Cluster {
                        path: path.clone(),
                        label: segment.to_owned(),
                        depth: depth + 1,
                        rows: first..first,
                        rect: Rect {
                            x: 0,
                            y: self.rows.end,
                            w: 0,
                            h: 0,
                        },
                    });
                    self.rows.end += HEADER_H;
                    self.folder(child, &path, depth + 1);
                    self.rows.end += CLUSTER_PAD;
                    let cluster = &mut self.rows.clusters[index];
                    cluster.rows.end = self.rows.nodes.len();
                    cluster.rect.h = self.rows.end - cluster.rect.y;
                    self.rows.end += CLUSTER_GAP;
                }
            }
        }
    }
}

/// How far a cluster's border sits outside its columns' nodes: a step per
/// level of nesting below it, `depth` levels in all.
fn inset(cluster: &Cluster, depth: i64) -> i64 {
    (depth - i64::try_from(cluster.depth).unwrap_or(0) + 1) * INSET
}

/// The first and last columns of a cluster's operations.
fn span(cluster: &Cluster, nodes: &[Node]) -> (usize, usize) {
    let columns = nodes[cluster.rows.clone()].iter().map(|n| n.column);
    (
        columns.clone().min().unwrap_or(0),
        columns.max().unwrap_or(0),
    )
}

/// Phase 3: column widths: the widest node label, the stage header, and the
/// label of every cluster that starts in the column (which must fit there).
fn size(
    graph: &FlowGraph,
    nodes: &[Node],
    clusters: &[Cluster],
    ncolumns: usize,
    depth: i64,
) -> Vec<i64> {
    let ops = &graph.manifest.operations;
    let mut widths = vec![MIN_NODE_W; ncolumns];
    for (c, width) in widths.iter_mut().enumerate() {
        *width = (*width).max(text_width(&format!("stage {}", c + 1), FONT_STAGE) + 8);
    }
    for node in nodes {
        let step = super::label(&ops[node.op]);
        let width = &mut widths[node.column];
        *width = (*width).max(text_width(&step, FONT_NODE) + 2 * NODE_PAD);
    }
    for cluster in clusters {
        let (first, _) = span(cluster, nodes);
        let needed = text_width(&cluster.label, FONT_CLUSTER) + 20 - 2 * inset(cluster, depth);
        widths[first] = widths[first].max(needed);
    }
    widths
}

/// Phase 4: the edges, leaving and arriving at ports: a node's edges leave
/// (and arrive) at distinct heights, ordered by the row at the other end so
/// that they do not cross at the node.
fn attach(
    graph: &FlowGraph,
    flow: &Flow,
    stored: &[usize],
    column: &BTreeMap<usize, usize>,
    nodes: &[Node],
    row_of: &BTreeMap<usize, usize>,
) -> Vec<Edge> {
    let mut edges: Vec<Edge> = super::links(graph, flow, stored)
        .into_iter()
        .map(|link| Edge {
            up: link.up,
            down: link.down,
            label: link.label,
            ordering: link.ordering,
            column: column[&link.down],
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
    edges
}

/// Which lane of its gap each edge turns in.
struct Lanes {
    /// The edges that turn in each gap (by the column after it), in the order
    /// they took their lanes.
    by_gap: BTreeMap<usize, Vec<usize>>,
    /// Each edge's lane.
    lane_of: Vec<i64>,
    /// Each gap's number of lanes.
    count: Vec<i64>,
}

/// Phase 5: in the gap before a column, each edge turns in a lane of its own
/// unless its vertical extent is clear of the others in the lane. Downward
/// edges take the left lanes, the lowest-starting first, then upward ones,
/// the highest-starting first: staggered edges do not cross.
fn lanes(edges: &[Edge], ncolumns: usize) -> Lanes {
    let mut by_gap: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (e, edge) in edges.iter().enumerate() {
        by_gap.entry(edge.column).or_default().push(e);
    }
    let mut lane_of = vec![0i64; edges.len()];
    let mut count = vec![0i64; ncolumns];
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
        count[gap] = i64::try_from(taken.len()).unwrap_or(0);
    }
    Lanes {
        by_gap,
        lane_of,
        count,
    }
}

/// Horizontal extents, `(left, right)`, by column.
type Extents = Vec<(i64, i64)>;

/// Phase 6: the gaps wide enough for their lanes and their labels; columns
/// left to right, each with room for the clusters' borders and the edges'
/// straight ends on both sides, and a gap before it but the first; nodes and
/// clusters placed on them. Returns each column's extent, each gap's extent
/// (by the column after it) and the width of the whole.
fn position(
    edges: &[Edge],
    widths: &[i64],
    lanes: &Lanes,
    depth: i64,
    nodes: &mut [Node],
    clusters: &mut [Cluster],
) -> (Extents, Extents, i64) {
    let ncolumns = widths.len();
    let mut gaps = vec![MIN_GAP; ncolumns];
    for (c, gap) in gaps.iter_mut().enumerate() {
        *gap = (*gap).max(2 * MIN_REACH + (lanes.count[c] - 1).max(0) * LANE);
    }
    for edge in edges {
        if !edge.label.is_empty() {
            let gap = &mut gaps[edge.column];
            *gap = (*gap).max(text_width(&edge.label, FONT_LABEL) + 10 + 16);
        }
    }

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

    for node in nodes.iter_mut() {
        let (left, right) = spans[node.column];
        node.rect.x = left;
        node.rect.w = right - left;
    }
    for cluster in clusters {
        let (first, last) = span(cluster, nodes);
        let inset = inset(cluster, depth);
        cluster.rect.x = spans[first].0 - inset;
        cluster.rect.w = spans[last].1 + inset - cluster.rect.x;
    }
    (spans, bends, width)
}

/// Phase 7: each edge from its node's right side to its target's left, its
/// bend centred on its lane, all of a gap's as wide.
fn route(
    edges: &mut [Edge],
    nodes: &[Node],
    row_of: &BTreeMap<usize, usize>,
    bends: &[(i64, i64)],
    lanes: &Lanes,
) {
    for (e, edge) in edges.iter_mut().enumerate() {
        edge.from.0 = nodes[row_of[&edge.up]].rect.right();
        edge.to.0 = nodes[row_of[&edge.down]].rect.x;
        let (start, end) = bends[edge.column];
        let spread = (lanes.count[edge.column] - 1) * LANE;
        let lane = i64::midpoint(start, end) - spread / 2 + lanes.lane_of[e] * LANE;
        let reach = (end - start - spread) / 2;
        edge.bend = (lane - reach, lane + reach);
    }
}

/// Phase 8: labels on their own bend, as near its middle as they can be
/// without covering another label or a straight stretch of another edge in
/// the gap (failing that, at the middle); then pushed down clear of the
/// labels above them. Returns the height of the whole, at least `height`.
fn label(
    edges: &mut [Edge],
    column: &BTreeMap<usize, usize>,
    bends: &[(i64, i64)],
    by_gap: BTreeMap<usize, Vec<usize>>,
    mut height: i64,
) -> i64 {
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
    height
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
    pub(super) fn shift(&mut self, dy: i64) {
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

/// The estimated width of `text` in pixels at `size`: every character as wide
/// as a monospace one (0.6 em), capitals and wide letters wider, East Asian
/// wide characters a full em.
pub(super) fn text_width(text: &str, size: i64) -> i64 {
    let thousandths: i64 = text.chars().map(char_width).sum();
    (thousandths * size + 999) / 1000
}

pub(super) fn char_width(c: char) -> i64 {
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
