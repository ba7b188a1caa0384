//! Stage 5: [`Manifest`] → [`FlowGraph`]: the dependency DAG (petgraph),
//! cycles, stages (topological layers), flows and their critical paths.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use miette::LabeledSpan;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostic::{Diagnostic, at};
use crate::hierarchy;
use crate::manifest::Span;
use crate::resolve::{Binding, FlowSettings, Literal, Manifest, Operation, ROOT_FLOW, TypeExpr};

/// The resolved manifest as a graph, with its flows.
#[derive(Debug, Clone)]
pub struct FlowGraph {
    pub manifest: Manifest,
    /// One node per operation (node `i` is operation `i`); edges run upstream → downstream.
    pub dag: DiGraph<usize, ()>,
    /// Stage of each operation: 0 for those that wait for nothing.
    pub stage_of: Vec<usize>,
    /// Flows by name: one per top-level segment, one per `[flows."a.b"]`, and `all`.
    pub flows: Vec<Flow>,
    /// Every operation, ordered by name.
    pub by_name: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    pub settings: FlowSettings,
    /// The operations the flow runs, ordered by stage, then name.
    pub operations: Vec<usize>,
    /// The same operations grouped by stage.
    pub stages: Vec<Vec<usize>>,
    pub params: Vec<FlowParam>,
    /// Operations whose result nothing in the flow uses: the flow returns them.
    pub sinks: Vec<usize>,
    /// The longest chain of operations, upstream first.
    pub critical_path: Vec<usize>,
}

impl Flow {
    /// The groups of the flow's operations that run as nested flows (none
    /// without `subflows = true`): every prefix of an operation's name below
    /// the flow's own name (all of them for an operation outside the flow's
    /// prefix, such as an upstream one), in the order the flow first runs an
    /// operation of theirs, each group before those within it.
    pub fn subflows<'a>(&self, ops: &'a [Operation]) -> Vec<&'a str> {
        if !self.settings.subflows {
            return Vec::new();
        }
        let mut seen = BTreeSet::new();
        let mut groups = Vec::new();
        for &op in &self.operations {
            let name = ops[op].name.as_str();
            for (dot, _) in name.match_indices('.') {
                let group = &name[..dot];
                let holds_flow = self.name == group
                    || self
                        .name
                        .strip_prefix(group)
                        .is_some_and(|rest| rest.starts_with('.'));
                if !holds_flow && seen.insert(group) {
                    groups.push(group);
                }
            }
        }
        groups
    }

    /// Each of the flow's operations (by index into the manifest) to its
    /// position in [`Flow::operations`].
    pub fn positions(&self) -> Positions {
        let len = self.operations.iter().max().map_or(0, |&op| op + 1);
        // A table as long as the highest operation number, unless the flow
        // is a small part of a large manifest (many small flows would each
        // fill one): then a map.
        if len > 4 * self.operations.len() + 64 {
            return Positions::Sparse(
                self.operations
                    .iter()
                    .enumerate()
                    .map(|(i, &op)| (op, i))
                    .collect(),
            );
        }
        let mut at = vec![usize::MAX; len];
        for (i, &op) in self.operations.iter().enumerate() {
            at[op] = i;
        }
        Positions::Dense(at)
    }
}

/// [`Flow::positions`]: usually a table indexed by operation, as operations
/// are numbered from 0 (a hash map of a large flow costs more to fill and
/// read). Indexing with an operation not in the flow panics, as a map would.
#[derive(Debug, Clone)]
pub enum Positions {
    Dense(Vec<usize>),
    Sparse(foldhash::HashMap<usize, usize>),
}

impl std::ops::Index<usize> for Positions {
    type Output = usize;

    fn index(&self, op: usize) -> &usize {
        match self {
            Self::Dense(at) => {
                let at = &at[op];
                assert!(*at != usize::MAX, "operation {op} is not in the flow");
                at
            }
            Self::Sparse(at) => &at[&op],
        }
    }
}

impl FlowGraph {
    /// The operations of `flow` marked `inside` as a flow of their own, with
    /// the flow's name and settings, and the stages, sinks, parameters and
    /// critical path of those operations alone (what `--select` shows).
    pub fn part(&self, flow: &Flow, inside: &[bool]) -> Flow {
        let ops = &self.manifest.operations;
        let up: Vec<Vec<usize>> = ops.iter().map(Operation::upstream).collect();
        let mut down = vec![Vec::new(); ops.len()];
        for (op, up) in up.iter().enumerate() {
            for &producer in up {
                down[producer].push(op);
            }
        }
        let mut name_rank = vec![0; ops.len()];
        for (rank, &op) in self.by_name.iter().enumerate() {
            name_rank[op] = rank;
        }
        let context = Context {
            manifest: &self.manifest,
            links: &Links { up, down },
            stage_of: &self.stage_of,
            order: &flow.operations,
            name_rank: &name_rank,
        };
        context.flow(flow.name.clone(), flow.settings.clone(), inside)
    }
}

/// A parameter of a flow, merged from the operations' unbound parameters.
#[derive(Debug, Clone)]
pub struct FlowParam {
    pub name: String,
    pub ty: Option<TypeExpr>,
    pub default: Option<Literal>,
}

/// Build the graph, or report its cycles.
pub fn build(manifest: Manifest) -> Result<FlowGraph, Vec<Diagnostic>> {
    let ops = &manifest.operations;
    // The edges and stages on this thread; the names' order and each flow's
    // own operations, which need neither, beside it on a large manifest.
    let (structure, ((by_name, name_rank), members)) = std::thread::scope(|scope| {
        let named = || (name_ranks(ops), own_operations(&manifest));
        if crate::parallel::workers(ops.len()) < 2 {
            return (structure(ops), named());
        }
        let named = scope.spawn(named);
        let structure = structure(ops);
        let named = named
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (structure, named)
    });
    let Structure {
        dag,
        links,
        layers,
        leftover,
    } = structure;
    if !leftover.is_empty() {
        return Err(cycles(&manifest, &dag));
    }
    let mut stage_of = vec![0; ops.len()];
    for (stage, layer) in layers.iter().enumerate() {
        for &op in layer {
            stage_of[op] = stage;
        }
    }

    // Every flow lists its operations in this one order: by stage, then name.
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_unstable_by_key(|&op| (stage_of[op], name_rank[op]));

    let members: Vec<(&str, Vec<usize>)> = members.into_iter().collect();
    let needed = membership(&links, &order, &members);
    let words = members.len().div_ceil(64);
    let everything = vec![true; ops.len()];
    let context = Context {
        manifest: &manifest,
        links: &links,
        stage_of: &stage_of,
        order: &order,
        name_rank: &name_rank,
    };
    // The root flow first, then every flow on every core (from a few
    // thousand operations on). Flows whose upstream closure is every
    // operation are the root flow under another name: computed once.
    let workers = crate::parallel::workers(ops.len());
    let settings = |name: &str| manifest.flows.get(name).cloned().unwrap_or_default();
    let jobs: Vec<Option<usize>> = std::iter::once(None)
        .chain((0..members.len()).map(Some))
        .collect();
    let mut computed = crate::parallel::map(&jobs, workers, |job| {
        let Some(f) = *job else {
            return Some(context.flow(ROOT_FLOW.to_owned(), FlowSettings::default(), &everything));
        };
        let name = members[f].0;
        let (word, bit) = (f / 64, 1u64 << (f % 64));
        let inside: Vec<bool> = (0..ops.len())
            .map(|op| needed[op * words + word] & bit != 0)
            .collect();
        if inside.iter().all(|&i| i) {
            None
        } else {
            Some(context.flow(name.to_owned(), settings(name), &inside))
        }
    })
    .into_iter();
    let Some(Some(root)) = computed.next() else {
        unreachable!("the first job is the root flow, always computed");
    };
    let flows = members
        .iter()
        .zip(computed)
        .map(|(&(name, _), flow)| {
            flow.unwrap_or_else(|| Flow {
                name: name.to_owned(),
                settings: settings(name),
                ..root.clone()
            })
        })
        .collect();
    Ok(FlowGraph {
        manifest,
        dag,
        stage_of,
        flows,
        by_name,
    })
}

/// The DAG, each operation's links, and its stages (or the operations
/// left over when there is a cycle).
struct Structure {
    dag: DiGraph<usize, ()>,
    links: Links,
    layers: Vec<Vec<usize>>,
    leftover: Vec<usize>,
}

fn structure(ops: &[Operation]) -> Structure {
    let mut dag: DiGraph<usize, ()> = DiGraph::with_capacity(ops.len(), ops.len());
    for i in 0..ops.len() {
        dag.add_node(i);
    }
    let mut links = Links {
        up: ops.iter().map(Operation::upstream).collect(),
        down: vec![Vec::new(); ops.len()],
    };
    for (i, up) in links.up.iter().enumerate() {
        for &up in up {
            dag.add_edge(NodeIndex::new(up), NodeIndex::new(i), ());
            links.down[up].push(i);
        }
    }
    let (layers, leftover) = hierarchy::layers(&links.down);
    Structure {
        dag,
        links,
        layers,
        leftover,
    }
}

/// Each operation's rank among all names, in byte order.
/// The operations ordered by name, and each one's rank in that order.
fn name_ranks(ops: &[Operation]) -> (Vec<usize>, Vec<usize>) {
    let mut by_name: Vec<usize> = (0..ops.len()).collect();
    by_name.sort_unstable_by(|&a, &b| ops[a].name.cmp(&ops[b].name));
    let mut name_rank = vec![0; ops.len()];
    for (rank, &op) in by_name.iter().enumerate() {
        name_rank[op] = rank;
    }
    (by_name, name_rank)
}

/// Each flow's own operations, by flow name: a top-level segment's (flat
/// operations are the project's), a `[flows."a.b"]` prefix's, and the root
/// flow's (every operation).
fn own_operations(manifest: &Manifest) -> BTreeMap<&str, Vec<usize>> {
    let ops = &manifest.operations;
    let mut members: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        let flow = if op.name.contains('.') {
            hierarchy::top(&op.name)
        } else {
            manifest.project.name.as_str()
        };
        members.entry(flow).or_default().push(i);
    }
    for name in manifest.flows.keys().filter(|name| name.contains('.')) {
        let prefix = format!("{name}.");
        let own: Vec<usize> = (0..ops.len())
            .filter(|&i| ops[i].name == *name || ops[i].name.starts_with(&prefix))
            .collect();
        members.insert(name, own);
    }
    members.insert(ROOT_FLOW, (0..ops.len()).collect());
    members
}

/// Each operation's direct upstream and downstream operations.
struct Links {
    up: Vec<Vec<usize>>,
    down: Vec<Vec<usize>>,
}

/// Which flows need each operation, as bitsets (`words` u64s per operation,
/// bit `f` for flow `f`): a flow needs its own operations and everything they
/// wait for. One pass, downstream first, instead of one search per flow.
fn membership(links: &Links, order: &[usize], members: &[(&str, Vec<usize>)]) -> Vec<u64> {
    let words = members.len().div_ceil(64);
    let mut needed = vec![0u64; links.up.len() * words];
    for (f, (_, own)) in members.iter().enumerate() {
        for &op in own {
            needed[op * words + f / 64] |= 1 << (f % 64);
        }
    }
    for &op in order.iter().rev() {
        for &up in &links.up[op] {
            for word in 0..words {
                let bits = needed[op * words + word];
                needed[up * words + word] |= bits;
            }
        }
    }
    needed
}

/// What every flow is computed from.
struct Context<'a> {
    manifest: &'a Manifest,
    links: &'a Links,
    stage_of: &'a [usize],
    order: &'a [usize],
    name_rank: &'a [usize],
}

impl Context<'_> {
    /// A flow of the operations marked `inside` (an upstream closure).
    fn flow(&self, name: String, settings: FlowSettings, inside: &[bool]) -> Flow {
        let Self {
            manifest,
            links,
            stage_of,
            order,
            ..
        } = *self;
        let ops = &manifest.operations;
        let operations: Vec<usize> = order.iter().copied().filter(|&i| inside[i]).collect();

        let mut stages: Vec<Vec<usize>> = Vec::new();
        for &op in &operations {
            if stages.len() <= stage_of[op] {
                stages.resize_with(stage_of[op] + 1, Vec::new);
            }
            stages[stage_of[op]].push(op);
        }
        stages.retain(|stage| !stage.is_empty());

        let sinks: Vec<usize> = operations
            .iter()
            .copied()
            .filter(|&op| !links.down[op].iter().any(|&down| inside[down]))
            .collect();

        let mut params: Vec<FlowParam> = Vec::new();
        let mut position: BTreeMap<&str, usize> = BTreeMap::new();
        for &op in &operations {
            for param in &ops[op].params {
                let Binding::FlowParam { name } = &param.binding else {
                    continue;
                };
                if let Some(&at) = position.get(name.as_str()) {
                    let merged = &mut params[at];
                    if merged.ty.is_none() {
                        merged.ty.clone_from(&param.ty);
                    }
                    if merged.default.is_none() {
                        merged.default.clone_from(&param.default);
                    }
                } else {
                    position.insert(name, params.len());
                    params.push(FlowParam {
                        name: name.clone(),
                        ty: param.ty.clone(),
                        default: param.default.clone(),
                    });
                }
            }
        }

        Flow {
            critical_path: self.critical_path(&operations, inside),
            name,
            settings,
            operations,
            stages,
            params,
            sinks,
        }
    }

    /// The longest chain (by number of operations) through the flow, upstream
    /// first; ties go to the alphabetically first operation.
    fn critical_path(&self, topo: &[usize], inside: &[bool]) -> Vec<usize> {
        let rank = self.name_rank;
        let mut length = vec![0usize; inside.len()];
        let mut previous: Vec<Option<usize>> = vec![None; inside.len()];
        let better = |a: usize, b: usize, length: &[usize]| {
            length[a]
                .cmp(&length[b])
                .then_with(|| rank[b].cmp(&rank[a]))
        };
        for &op in topo {
            let best = self.links.up[op]
                .iter()
                .copied()
                .filter(|&up| inside[up])
                .max_by(|&a, &b| better(a, b, &length));
            length[op] = 1 + best.map_or(0, |up| length[up]);
            previous[op] = best;
        }
        let Some(mut end) = topo.iter().copied().max_by(|&a, &b| better(a, b, &length)) else {
            return Vec::new();
        };
        let mut path = vec![end];
        while let Some(up) = previous[end] {
            path.push(up);
            end = up;
        }
        path.reverse();
        path
    }
}

/// One diagnostic per strongly connected component: a cycle through it,
/// starting at the operation written first, with a label on every edge.
fn cycles(manifest: &Manifest, dag: &DiGraph<usize, ()>) -> Vec<Diagnostic> {
    let ops = &manifest.operations;
    let mut diagnostics = Vec::new();
    for component in tarjan_scc(dag) {
        if component.len() < 2 {
            continue;
        }
        let members: BTreeSet<usize> = component.iter().map(|n| n.index()).collect();
        let Some(&start) = members.first() else {
            continue;
        };
        // Shortest way round from `start` back to itself, inside the component.
        let mut previous: BTreeMap<usize, usize> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        let mut last = None;
        'search: while let Some(op) = queue.pop_front() {
            let mut next: Vec<usize> = dag
                .neighbors_directed(NodeIndex::new(op), petgraph::Direction::Outgoing)
                .map(NodeIndex::index)
                .filter(|n| members.contains(n))
                .collect();
            next.sort_unstable();
            for down in next {
                if down == start {
                    last = Some(op);
                    break 'search;
                }
                if let std::collections::btree_map::Entry::Vacant(entry) = previous.entry(down) {
                    entry.insert(op);
                    queue.push_back(down);
                }
            }
        }
        let Some(mut op) = last else { continue };
        let mut path = vec![start, op];
        while op != start {
            op = previous[&op];
            path.push(op);
        }
        path.reverse(); // start -> ... -> start
        let mut labels: Vec<(Span, String)> = path
            .windows(2)
            .map(|edge| {
                let (up, down) = (edge[0], edge[1]);
                let span = ops[down]
                    .references
                    .iter()
                    .filter(|(from, _)| *from == up)
                    .map(|(_, span)| *span)
                    .min()
                    .unwrap_or(ops[down].span);
                (
                    span,
                    format!("`{}` needs `{}`", ops[down].name, ops[up].name),
                )
            })
            .collect();
        labels.sort_by_key(|(span, _)| *span);
        let (first_span, first_label) = labels.remove(0);
        diagnostics.push(Diagnostic::Cycle {
            path: path
                .iter()
                .map(|&i| ops[i].name.as_str())
                .collect::<Vec<_>>()
                .join(" -> "),
            span: at(first_span),
            first_label,
            others: labels
                .into_iter()
                .map(|(span, label)| LabeledSpan::new_with_span(Some(label), at(span)))
                .collect(),
        });
    }
    diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(operations: Vec<usize>) -> Flow {
        Flow {
            name: "f".to_owned(),
            settings: FlowSettings::default(),
            stages: vec![operations.clone()],
            operations,
            params: Vec::new(),
            sinks: Vec::new(),
            critical_path: Vec::new(),
        }
    }

    #[test]
    fn positions_of_large_and_small_flows() {
        // Most of the manifest: a table; a few operations of many: a map.
        for (ops, dense) in [(vec![5, 2, 9, 0], true), (vec![100_000, 7], false)] {
            let positions = flow(ops.clone()).positions();
            assert_eq!(matches!(positions, Positions::Dense(_)), dense);
            for (i, &op) in ops.iter().enumerate() {
                assert_eq!(positions[op], i);
            }
        }
    }
}
