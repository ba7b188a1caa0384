//! Binding parameters to their sources (docs/DESIGN.md §4).

use foldhash::{HashMap, HashMapExt as _, HashSet, HashSetExt as _};

use super::types::{self, TypeExpr};
use super::{
    Binding, Call, Lowered, MoreSettings, Operation, Param, Resolver, Rule, TaskSettings,
    suggestion,
};
use crate::diagnostic::{Diagnostic, at};
use crate::hierarchy;
use crate::manifest::raw::{CachePolicy, RawParam, items};
use crate::manifest::{RawManifest, Span, Spanned};
use crate::resolve::Literal;

/// A candidate source of a parameter: an operation, or one of its named outputs.
#[derive(Clone, PartialEq, Eq)]
struct Candidate {
    op: usize,
    output: Option<String>,
}

/// The outcome of one rule.
enum Found {
    None,
    One(Candidate),
    Many(Vec<Candidate>),
}

impl Found {
    fn from(candidates: Vec<Candidate>) -> Self {
        let mut unique: Vec<Candidate> = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            if !unique.contains(&candidate) {
                unique.push(candidate);
            }
        }
        let mut candidates = unique;
        match candidates.len() {
            0 => Self::None,
            1 => Self::One(candidates.remove(0)),
            _ => Self::Many(candidates),
        }
    }
}

struct Graph<'g> {
    names: Vec<&'g str>,
    index: &'g HashMap<&'g str, usize>,
    /// Operations under each prefix a parameter may ask for (rule 2c,
    /// `scraping.stepstone` → its subtree); see `asked_subtrees`.
    subtrees: HashMap<&'g str, Vec<usize>>,
    /// Upstream operations of each operation found so far (bindings and
    /// `depends_on`); only the subtrees' members' are read while binding.
    upstream: Vec<Vec<usize>>,
    /// Return type and named outputs of each operation.
    returns: Vec<Option<TypeExpr>>,
    outputs: Vec<Vec<(String, TypeExpr)>>,
}

/// What binding works out once and reuses, kept apart from the [`Graph`] so
/// that two threads can bind from the same graph, each with its own.
#[derive(Default)]
struct Memo<'g> {
    /// The sinks of each subtree, once all its members are bound.
    sinks: HashMap<&'g str, Vec<usize>>,
    /// The steps under each prefix (`""` for the top level), built the first
    /// time a likely typo is looked for.
    children: Option<HashMap<&'g str, Vec<&'g str>>>,
}

impl<'g> Memo<'g> {
    /// Every prefix (`""` for the top level) → the next segments under it:
    /// the names rule 2 binds a parameter to, as seen from an operation there.
    fn children(&mut self, graph: &Graph<'g>) -> &HashMap<&'g str, Vec<&'g str>> {
        let names = &graph.names;
        self.children.get_or_insert_with(|| {
            let mut children: HashMap<&'g str, Vec<&'g str>> = HashMap::new();
            for name in names {
                let mut start = 0usize;
                for segment in name.split('.') {
                    let prefix = &name[..start.saturating_sub(1)];
                    let steps = children.entry(prefix).or_default();
                    if !steps.contains(&segment) {
                        steps.push(segment);
                    }
                    start += segment.len() + 1;
                }
            }
            children
        })
    }

    fn subtree_sinks(&mut self, graph: &Graph<'g>, prefix: &str) -> Vec<usize> {
        if let Some(sinks) = self.sinks.get(prefix) {
            return sinks.clone();
        }
        let Some((key, members)) = graph.subtrees.get_key_value(prefix) else {
            return Vec::new();
        };
        let sinks = graph.sinks_of(members);
        self.sinks.insert(*key, sinks.clone());
        sinks
    }
}

impl Graph<'_> {
    /// Members of `members` that no other member depends on.
    fn sinks_of(&self, members: &[usize]) -> Vec<usize> {
        let mut used = HashSet::new();
        for &member in members {
            for &up in &self.upstream[member] {
                if up != member {
                    used.insert(up);
                }
            }
        }
        members
            .iter()
            .copied()
            .filter(|m| !used.contains(m))
            .collect()
    }
}

/// `parent.p` for an operation `parent.x` and a parameter `p`; `p` for a
/// top-level operation.
fn sibling(operation: &str, p: &str) -> String {
    hierarchy::parent(operation).map_or_else(|| p.to_owned(), |parent| format!("{parent}.{p}"))
}

/// The subtrees a parameter without `from` could ask for the sinks of
/// (rule 2c): `parent.p` for a parameter `p` of `parent.x` (`p` itself for
/// a top-level operation), unless that is the operation itself. Only these
/// are indexed: in a manifest whose parameters all name their source, none.
fn asked_subtrees(raw: &RawManifest) -> HashSet<String> {
    let mut asked = HashSet::new();
    for op in &raw.operations {
        for (key, param) in &op.params.0 {
            if matches!(param, RawParam::Table(table) if table.from.is_some()) {
                continue;
            }
            let prefix = sibling(&op.name, key);
            // Not the operation's own children (see `implicit`).
            if prefix != op.name.value {
                asked.insert(prefix);
            }
        }
    }
    asked
}

/// Which operations are bound first, and in what order. A subtree's sinks
/// are known once all of its (deeper) members are bound: the members of the
/// subtrees that may be asked for come first, deepest first (a member may
/// itself ask for a deeper subtree). The rest (`false` in the first list)
/// follow in the manifest's order, which reads memory in order (binding
/// deepest-first throughout was much slower, BENCHMARKS.md).
fn binding_order(
    raw: &RawManifest,
    subtrees: &HashMap<&str, Vec<usize>>,
) -> (Vec<bool>, Vec<usize>) {
    let mut early = vec![false; raw.operations.len()];
    for &member in subtrees.values().flatten() {
        early[member] = true;
    }
    let mut order: Vec<usize> = (0..early.len()).filter(|&i| early[i]).collect();
    order.sort_by_cached_key(|&i| std::cmp::Reverse(hierarchy::get_level(&raw.operations[i].name)));
    (early, order)
}

impl Resolver<'_> {
    pub(super) fn bind(
        &mut self,
        raw: &RawManifest,
        mut lowered: Vec<Lowered<'_>>,
        index: &HashMap<&str, usize>,
        valid: &[bool],
    ) -> Vec<Operation> {
        let names: Vec<&str> = raw.operations.iter().map(|op| op.name.as_str()).collect();
        let asked = asked_subtrees(raw);
        let mut subtrees: HashMap<&str, Vec<usize>> = HashMap::new();
        let indexed = |&(i, name): &(usize, &&str)| valid[i] && index.get(*name) == Some(&i);
        if !asked.is_empty() {
            // Only a prefix as long as an asked one can be one: most are
            // not looked up at all.
            let mut lengths = vec![false; asked.iter().map(String::len).max().unwrap_or(0) + 1];
            for prefix in &asked {
                lengths[prefix.len()] = true;
            }
            for (i, name) in names.iter().enumerate().filter(indexed) {
                for (dot, _) in name.match_indices('.') {
                    if lengths.get(dot) == Some(&true) && asked.contains(&name[..dot]) {
                        subtrees.entry(&name[..dot]).or_default().push(i);
                    }
                }
            }
        }
        let mut graph = Graph {
            names: names.clone(),
            index,
            subtrees,
            upstream: lowered
                .iter()
                .map(|l| l.depends_on.iter().map(|(op, _)| *op).collect())
                .collect(),
            // Moved, not copied: binding reads them from here only. A
            // mapped operation gives the list of its results.
            returns: lowered
                .iter_mut()
                .map(|l| {
                    let returns = l.returns.take();
                    if l.raw.map.is_some() {
                        returns.map(super::map::list_of)
                    } else {
                        returns
                    }
                })
                .collect(),
            outputs: lowered
                .iter_mut()
                .map(|l| std::mem::take(&mut l.outputs))
                .collect(),
        };

        let mut bound: Vec<Option<Vec<Param>>> = vec![None; lowered.len()];
        let mut references: Vec<Vec<(usize, Span)>> = vec![Vec::new(); lowered.len()];
        let (early, order) = binding_order(raw, &graph.subtrees);
        let mut memo = Memo::default();
        for i in order {
            let params = self.bind_operation(
                raw,
                i,
                &mut lowered[i],
                &graph,
                &mut memo,
                &mut references[i],
            );
            for param in &params {
                if let Binding::Operation { op, .. } = param.binding
                    && !graph.upstream[i].contains(&op)
                {
                    graph.upstream[i].push(op);
                }
            }
            bound[i] = Some(params);
        }
        // The rest: what their bindings add to `upstream` is read by no
        // other operation's (only the subtrees' members' is, bound above),
        // so each is bound on its own, half of them on a second core.
        let count = lowered.len();
        let shared = &graph;
        if crate::parallel::workers(count) < 2 {
            let rest = (&mut lowered[..], &mut bound[..], &mut references[..]);
            self.bind_rest(raw, shared, &mut memo, &early, 0, rest);
        } else {
            let half = count / 2;
            let defaults = self.defaults.split_off(half);
            let mut other = self.beside(defaults);
            let (lowered, more_lowered) = lowered.split_at_mut(half);
            let (bound, more_bound) = bound.split_at_mut(half);
            let (references, more_references) = references.split_at_mut(half);
            let more = (more_lowered, more_bound, more_references);
            crate::parallel::join(
                true,
                || {
                    let rest = (lowered, bound, references);
                    self.bind_rest(raw, shared, &mut memo, &early, 0, rest);
                },
                || other.bind_rest(raw, shared, &mut Memo::default(), &early, half, more),
            );
            self.diagnostics.append(&mut other.diagnostics);
        }

        // What only binding read goes before the operations are made (on a
        // large manifest they reuse its memory), and each lowered operation
        // as soon as its checked one is made.
        let Graph {
            returns,
            outputs,
            names,
            subtrees,
            upstream,
            ..
        } = graph;
        drop((names, subtrees, upstream, memo));
        make_operations(raw, lowered, bound, returns, outputs, references)
    }
}

/// Operations' places while they are bound: each lowered operation, its
/// parameters once bound, the references binding found.
type Slots<'a, 'r> = (
    &'a mut [Lowered<'r>],
    &'a mut [Option<Vec<Param>>],
    &'a mut [Vec<(usize, Span)>],
);

/// The checked operations from what binding found (each in the manifest's
/// order), each lowered operation let go as soon as its checked one is made.
fn make_operations(
    raw: &RawManifest,
    lowered: Vec<Lowered<'_>>,
    bound: Vec<Option<Vec<Param>>>,
    returns: Vec<Option<TypeExpr>>,
    outputs: Vec<Vec<(String, TypeExpr)>>,
    references: Vec<Vec<(usize, Span)>>,
) -> Vec<Operation> {
    lowered
        .into_iter()
        .zip(bound)
        .zip(returns.into_iter().zip(outputs))
        .zip(references)
        .enumerate()
        .map(|(i, (((low, params), (returns, outputs)), mut refs))| {
            let op = low.raw;
            let params = params.unwrap_or_default();
            let after: Vec<usize> = {
                let mut after = Vec::new();
                for &(dep, span) in &low.depends_on {
                    refs.push((dep, span));
                    let binds = params
                        .iter()
                        .any(|p| matches!(&p.binding, Binding::Operation { op, .. } if *op == dep));
                    if !binds && !after.contains(&dep) {
                        after.push(dep);
                    }
                }
                after
            };
            let (module, qualname) = op.call.split_once(':').unwrap_or((op.call.as_str(), ""));
            let map: Vec<String> = op.mapped().iter().map(|p| p.value.clone()).collect();
            // Back to one result's type (see `returns` above).
            let returns = match returns {
                Some(super::TypeExpr::Name {
                    args: Some(mut args),
                    ..
                }) if op.map.is_some() && args.len() == 1 => args.pop(),
                returns => returns,
            };
            Operation {
                name: op.name.value.clone(),
                span: raw.operations[i].name.span,
                call: Call {
                    module: module.to_owned(),
                    qualname: qualname.to_owned(),
                },
                is_async: op.is_async,
                params,
                returns,
                outputs,
                after,
                settings: settings(raw, op),
                doc: op.doc.clone(),
                references: refs,
                map,
                all_done: op
                    .trigger
                    .as_ref()
                    .is_some_and(|t| t.value == crate::manifest::raw::Trigger::AllDone),
                hooks: [
                    ("on_failure", &op.on_failure),
                    ("on_completion", &op.on_completion),
                ]
                .into_iter()
                .filter_map(|(key, refs)| {
                    let refs: Vec<String> = items(refs.as_deref())
                        .iter()
                        .map(|r| r.value.clone())
                        .collect();
                    (!refs.is_empty()).then_some((key, refs))
                })
                .collect(),
            }
        })
        .collect()
}

impl Resolver<'_> {
    /// Bind the operations of `rest` (from operation `from` on) that are not
    /// `early`, in order.
    fn bind_rest<'g>(
        &mut self,
        raw: &RawManifest,
        graph: &Graph<'g>,
        memo: &mut Memo<'g>,
        early: &[bool],
        from: usize,
        rest: Slots<'_, '_>,
    ) {
        let (lowered, bound, references) = rest;
        let each = lowered.iter_mut().zip(bound).zip(references);
        for (i, ((low, bound), refs)) in (from..).zip(each) {
            if !early[i] {
                *bound = Some(self.bind_operation(raw, i, low, graph, memo, refs));
            }
        }
    }

    fn bind_operation<'g>(
        &mut self,
        raw: &RawManifest,
        i: usize,
        low: &mut Lowered<'_>,
        graph: &Graph<'g>,
        memo: &mut Memo<'g>,
        refs: &mut Vec<(usize, Span)>,
    ) -> Vec<Param> {
        let op = low.raw;
        let mut params = Vec::with_capacity(op.params.0.len());
        for (position, (key, param)) in op.params.0.iter().enumerate() {
            // Each parameter's type is read once, here.
            let ty = low.param_types[position].take();
            let (from, typed) = match param {
                RawParam::Type(_) => (None, true),
                RawParam::Table(table) => (table.from.as_ref(), table.ty.is_some()),
            };
            // From the tree, not `table.default` (see `Defaults::read`).
            let default = match param {
                RawParam::Table(table) => {
                    let default = self.default(i, key);
                    if let (Some((value, span)), Some(ty), Some(written)) =
                        (&default, &ty, &table.ty)
                        && let Some(reason) = types::judge_default(ty, value)
                    {
                        self.error(Diagnostic::DefaultTypeMismatch {
                            param: key.value.clone(),
                            ty: written.value.clone(),
                            reason,
                            span: at(*span),
                            type_span: at(written.span),
                        });
                    }
                    default.map(|(value, _)| value)
                }
                RawParam::Type(_) => None,
            };
            let (binding, rule) = match from {
                Some(from) => match self.explicit(i, op.name.as_str(), key, from, graph) {
                    Some(binding) => {
                        self.check_from_type(raw, op, key, param, ty.as_ref(), &binding, graph);
                        (binding, Rule::Explicit)
                    }
                    None => continue,
                },
                None => match self.implicit(i, low, key, ty.as_ref(), graph, memo) {
                    Ok(Some((binding, rule))) => (binding, rule),
                    Ok(None) => {
                        self.check_typo(low, key, graph, memo);
                        self.check_flow_param_name(key);
                        (
                            Binding::FlowParam {
                                name: key.value.clone(),
                            },
                            Rule::FlowParam,
                        )
                    }
                    Err(()) => continue,
                },
            };
            match &binding {
                Binding::Operation { op: upstream, .. } => {
                    let span = from.map_or(key.span, |f| f.span);
                    refs.push((*upstream, span));
                }
                Binding::FlowParam { .. } if !typed => {
                    self.error(Diagnostic::UntypedParameter {
                        operation: op.name.value.clone(),
                        param: key.value.clone(),
                        span: at(key.span),
                    });
                }
                Binding::FlowParam { .. } => {}
            }
            params.push(Param {
                name: key.value.clone(),
                span: key.span,
                ty,
                default,
                binding,
                rule,
            });
        }
        params
    }

    /// A parameter no rule binds becomes a flow parameter of its own name:
    /// refused when no flow parameter can have it (and the parameter's name
    /// is not refused already).
    fn check_flow_param_name(&mut self, key: &Spanned<String>) {
        if hierarchy::identifier_problem(key).is_some() || super::submit_problem(key).is_some() {
            return;
        }
        if let Some(reason) = super::flow_param_problem(key) {
            let mut other = key.trim_start_matches('_').to_owned();
            if other.is_empty() {
                "value".clone_into(&mut other);
            } else if super::flow_param_problem(&other).is_some() {
                other.push_str("_value");
            }
            self.error(Diagnostic::ReservedParameterName {
                param: key.value.clone(),
                reason,
                span: at(key.span),
                help: format!(
                    "nothing upstream provides it, so it becomes a flow parameter: give that another name, e.g. `from = \"${other}\"`"
                ),
            });
        }
    }

    fn default(&mut self, i: usize, key: &Spanned<String>) -> Option<(Literal, Span)> {
        match self.defaults.take(i, &key.value)? {
            Ok(literal) => Some(literal),
            Err((reason, span)) => {
                self.error(Diagnostic::InvalidDefault {
                    param: key.value.clone(),
                    reason,
                    span: at(span),
                    help: "write a string, number, boolean, array or table; a date-time can be given as a string".to_owned(),
                });
                None
            }
        }
    }

    /// Rule 1: `from = "a.b.c"`, `"a.b.c.output"` or `"$flow_param"`.
    fn explicit(
        &mut self,
        i: usize,
        operation: &str,
        key: &Spanned<String>,
        from: &Spanned<String>,
        graph: &Graph<'_>,
    ) -> Option<Binding> {
        if let Some(name) = from.strip_prefix('$') {
            if let Some(reason) = hierarchy::identifier_problem(name) {
                let span = self.sub(from, (1, from.len()));
                self.error(Diagnostic::InvalidParameterName {
                    param: name.to_owned(),
                    reason,
                    span: at(span),
                });
                return None;
            }
            if let Some(reason) = super::flow_param_problem(name) {
                let span = self.sub(from, (1, from.len()));
                self.error(Diagnostic::ReservedParameterName {
                    param: name.to_owned(),
                    reason,
                    span: at(span),
                    help: "choose another name for the flow parameter".to_owned(),
                });
                return None;
            }
            return Some(Binding::FlowParam {
                name: name.to_owned(),
            });
        }
        // A name found is valid (only valid names are indexed): validate
        // only what is not found.
        let target = graph.index.get(from.as_str()).copied();
        if target.is_none() && !self.check_name(from, usize::MAX) {
            return None;
        }
        let (op, output) = match target {
            Some(op) => (op, None),
            None => {
                if let Some((op, output)) = from
                    .rsplit_once('.')
                    .and_then(|(op, out)| Some((*graph.index.get(op)?, out)))
                {
                    (op, Some(output.to_owned()))
                } else {
                    let help = suggestion(
                        &from.value,
                        &graph.names,
                        "name an existing operation, `op.name.output`, or `$flow_param`",
                    );
                    self.error(Diagnostic::UnknownSource {
                        operation: operation.to_owned(),
                        param: key.value.clone(),
                        from: from.value.clone(),
                        span: at(from.span),
                        help,
                    });
                    return None;
                }
            }
        };
        if op == i {
            self.error(Diagnostic::SelfDependency {
                name: operation.to_owned(),
                span: at(from.span),
            });
            return None;
        }
        if let Some(output) = &output {
            let outputs: Vec<&str> = graph.outputs[op]
                .iter()
                .map(|(name, _)| name.as_str())
                .collect();
            if !outputs.contains(&output.as_str()) {
                let help = if outputs.is_empty() {
                    format!(
                        "`{}` declares no `outputs`; bind to the whole result with `from = \"{}\"`",
                        graph.names[op], graph.names[op]
                    )
                } else {
                    crate::suggest::did_you_mean(output, outputs.iter().copied()).map_or_else(
                        || {
                            format!(
                                "its outputs are {}",
                                outputs
                                    .iter()
                                    .map(|o| format!("`{o}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        },
                        |close| format!("did you mean `{close}`?"),
                    )
                };
                self.error(Diagnostic::UnknownOutput {
                    source_op: graph.names[op].to_owned(),
                    output: output.clone(),
                    span: at(from.span),
                    help,
                });
                return None;
            }
        }
        Some(Binding::Operation { op, output })
    }

    /// A `from` edge whose source gives a type the parameter's does not
    /// accept: both places are named.
    #[allow(clippy::too_many_arguments)]
    fn check_from_type(
        &mut self,
        raw: &RawManifest,
        op: &crate::manifest::raw::RawOperation,
        key: &Spanned<String>,
        param: &RawParam,
        ty: Option<&TypeExpr>,
        binding: &Binding,
        graph: &Graph<'_>,
    ) {
        let Binding::Operation { op: source, output } = binding else {
            return;
        };
        if op.mapped().iter().any(|p| p.value == key.value) {
            // A mapped parameter takes one element: `check_maps` judges it.
            return;
        }
        let source_raw = &raw.operations[*source].value;
        let (source_ty, source_span, source_name) = match output {
            None => (
                graph.returns[*source].as_ref(),
                source_raw.returns.as_ref().map(|r| r.span),
                graph.names[*source].to_owned(),
            ),
            Some(output) => (
                graph.outputs[*source]
                    .iter()
                    .find(|(name, _)| name == output)
                    .map(|(_, ty)| ty),
                source_raw
                    .outputs
                    .iter()
                    .flat_map(|o| &o.0)
                    .find(|(name, _)| name.value == *output)
                    .map(|(_, ty)| ty.span),
                format!("{}.{output}", graph.names[*source]),
            ),
        };
        let written = match param {
            RawParam::Type(ty) => Some(ty),
            RawParam::Table(table) => table.ty.as_ref(),
        };
        if let (Some(ty), Some(source_ty), Some(source_span), Some(written)) =
            (ty, source_ty, source_span, written)
            && !types::accepts(ty, source_ty)
        {
            self.error(Diagnostic::FromTypeMismatch {
                operation: op.name.value.clone(),
                param: key.value.clone(),
                param_type: ty.to_string(),
                source_name,
                source_type: source_ty.to_string(),
                span: at(written.span),
                source_span: at(source_span),
            });
        }
    }

    /// A parameter about to become a flow parameter whose name is a likely
    /// typo of something it could have bound to by name (rule 2): an
    /// operation, a sibling step or subtree, a named output of `depends_on`.
    fn check_typo<'g>(
        &mut self,
        low: &Lowered<'_>,
        key: &Spanned<String>,
        graph: &Graph<'g>,
        memo: &mut Memo<'g>,
    ) {
        let op = low.raw;
        let parent = hierarchy::parent(&op.name);
        let own = hierarchy::step(&op.name);
        let mut candidates: Vec<(&str, &'static str)> = Vec::new();
        let under = |name: &str| -> Option<String> {
            let rest = match parent {
                Some(parent) => name.strip_prefix(parent)?.strip_prefix('.')?,
                None => name,
            };
            let step = rest.split('.').next()?;
            (step != own).then(|| step.to_owned())
        };
        let mut owned: Vec<(String, &'static str)> = Vec::new();
        if low.depends_on.is_empty() {
            let index = graph.index;
            let children = memo.children(graph);
            if let Some(steps) = children.get(parent.unwrap_or("")) {
                for step in steps.iter().filter(|s| **s != own) {
                    owned.push(((*step).to_owned(), "sibling"));
                }
            }
            if parent.is_some()
                && let Some(flat) = children.get("")
            {
                for name in flat.iter().filter(|n| index.contains_key(*n)) {
                    owned.push(((*name).to_owned(), "operation"));
                }
            }
        } else {
            for &(d, _) in &low.depends_on {
                let name = graph.names[d];
                if !name.contains('.') {
                    owned.push((name.to_owned(), "operation"));
                }
                if let Some(step) = under(name) {
                    owned.push((step, "sibling"));
                }
                for (output, _) in &graph.outputs[d] {
                    owned.push((output.clone(), "named output"));
                }
            }
        }
        candidates.extend(owned.iter().map(|(n, k)| (n.as_str(), *k)));
        let Some(found) = crate::suggest::typo_of(&key.value, candidates.iter().map(|(n, _)| *n))
        else {
            return;
        };
        let kind = candidates
            .iter()
            .find(|(n, _)| *n == found)
            .map_or("operation", |(_, k)| *k);
        self.error(Diagnostic::LikelyTypo {
            operation: op.name.value.clone(),
            param: key.value.clone(),
            kind,
            candidate: found.to_owned(),
            span: at(key.span),
            help: format!(
                "did you mean `{found}`? If `{}` is meant as a flow parameter, say so with `from = \"${}\"`",
                key.value, key.value
            ),
        });
    }

    /// Rules 2 (name) and 3 (type). `Ok(None)`: no rule matched.
    fn implicit<'g>(
        &mut self,
        i: usize,
        low: &Lowered<'_>,
        key: &Spanned<String>,
        ty: Option<&TypeExpr>,
        graph: &Graph<'g>,
        memo: &mut Memo<'g>,
    ) -> Result<Option<(Binding, Rule)>, ()> {
        let op = low.raw;
        let p = key.as_str();
        let restricted = !op.depends_on.is_empty();
        let deps: Vec<usize> = low.depends_on.iter().map(|(d, _)| *d).collect();
        let allowed = |c: usize| c != i && (!restricted || deps.contains(&c));
        let sibling_name = sibling(&op.name, p);

        // 2a. an operation whose full name is p; 2b. a sibling whose step is p.
        for name in [p, sibling_name.as_str()] {
            if let Some(&c) = graph.index.get(name)
                && allowed(c)
            {
                return Ok(Some((
                    Binding::Operation {
                        op: c,
                        output: None,
                    },
                    Rule::Name,
                )));
            }
        }
        // 2c. a sibling subtree `parent.p.*` with exactly one sink (not the
        // operation's own children, when `parent.p` is the operation itself).
        let sinks = if sibling_name == op.name.value {
            Vec::new()
        } else if restricted {
            let members: Vec<usize> = graph
                .subtrees
                .get(sibling_name.as_str())
                .map(|m| m.iter().copied().filter(|&c| allowed(c)).collect())
                .unwrap_or_default();
            graph.sinks_of(&members)
        } else {
            memo.subtree_sinks(graph, &sibling_name)
                .into_iter()
                .filter(|&c| allowed(c))
                .collect()
        };
        if let Some(c) = self.pick(
            low,
            key,
            "name",
            sinks
                .into_iter()
                .map(|op| Candidate { op, output: None })
                .collect(),
            graph,
        )? {
            return Ok(Some((
                Binding::Operation {
                    op: c.op,
                    output: None,
                },
                Rule::Name,
            )));
        }
        // 2d. a named output p of an operation in depends_on.
        let named: Vec<Candidate> = deps
            .iter()
            .filter(|&&d| graph.outputs[d].iter().any(|(name, _)| name == p))
            .map(|&d| Candidate {
                op: d,
                output: Some(p.to_owned()),
            })
            .collect();
        if let Some(c) = self.pick(low, key, "name", named, graph)? {
            return Ok(Some((
                Binding::Operation {
                    op: c.op,
                    output: c.output,
                },
                Rule::Name,
            )));
        }
        // 3. type, among depends_on only.
        let Some(ty) = ty else { return Ok(None) };
        let wanted = ty.normalized();
        // A mapped parameter takes one element of its source.
        let mapped = op.mapped().iter().any(|m| m.value == p);
        let gives = |source: &TypeExpr| {
            if mapped {
                super::map::element_of(source).is_some_and(|e| e.normalized() == wanted)
            } else {
                source.normalized() == wanted
            }
        };
        let mut typed = Vec::new();
        for &d in &deps {
            if graph.returns[d].as_ref().is_some_and(gives) {
                typed.push(Candidate {
                    op: d,
                    output: None,
                });
            }
            for (name, out_ty) in &graph.outputs[d] {
                if gives(out_ty) {
                    typed.push(Candidate {
                        op: d,
                        output: Some(name.clone()),
                    });
                }
            }
        }
        Ok(self.pick(low, key, "type", typed, graph)?.map(|c| {
            (
                Binding::Operation {
                    op: c.op,
                    output: c.output,
                },
                Rule::Type,
            )
        }))
    }

    fn pick(
        &mut self,
        low: &Lowered<'_>,
        key: &Spanned<String>,
        rule: &'static str,
        candidates: Vec<Candidate>,
        graph: &Graph<'_>,
    ) -> Result<Option<Candidate>, ()> {
        match Found::from(candidates) {
            Found::None => Ok(None),
            Found::One(c) => Ok(Some(c)),
            Found::Many(many) => {
                let shown: Vec<String> = many
                    .iter()
                    .map(|c| match &c.output {
                        Some(output) => format!("`{}.{output}`", graph.names[c.op]),
                        None => format!("`{}`", graph.names[c.op]),
                    })
                    .collect();
                let first = shown[0].trim_matches('`').to_owned();
                self.error(Diagnostic::AmbiguousBinding {
                    operation: low.raw.name.value.clone(),
                    param: key.value.clone(),
                    rule,
                    count: many.len(),
                    candidates: shown.join(", "),
                    span: at(key.span),
                    help: format!(
                        "say which one with `from`, e.g. `{} = {{ from = \"{first}\" }}`",
                        key.value
                    ),
                });
                Err(())
            }
        }
    }
}

/// What the flow parameters opflow adds to every flow start with
/// ([`OWN_FLOW_PARAMS`]): no other flow parameter may.
pub const RESERVED_PARAM: &str = "opflow_";

/// An operation's task settings: its own, else `[defaults]`. Tags add up.
fn settings(raw: &RawManifest, op: &crate::manifest::raw::RawOperation) -> TaskSettings {
    let d = &raw.defaults;
    let mut tags: Vec<String> = d.tags.clone().unwrap_or_default();
    for tag in op.own_tags() {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    let more = MoreSettings {
        cache: op
            .cache
            .as_deref()
            .or(d.cache.as_ref())
            .map(CachePolicy::policies)
            .unwrap_or_default(),
        cache_expiration_seconds: op.cache_expiration_seconds.or(d.cache_expiration_seconds),
        tags,
        // Only an operation's own, when it differs: the package's default
        // results hold the defaults'.
        result_storage: op
            .result_storage
            .as_ref()
            .map(|s| s.value.clone())
            .filter(|s| Some(s) != d.result_storage.as_ref().map(|d| &d.value)),
        serializer: op.serializer.filter(|&s| Some(s) != d.serializer),
        limits: super::deploy::limits_of(
            d.limits.as_deref(),
            op.limits.as_deref().map(Vec::as_slice),
        ),
    };
    TaskSettings {
        executor: op.executor.or(d.executor),
        retries: op.retries.or(d.retries),
        retry_delay_seconds: op.retry_delay_seconds.or(d.retry_delay_seconds),
        timeout_seconds: op.timeout_seconds.or(d.timeout_seconds),
        persist: op.persist.or(d.persist).unwrap_or(true),
        more: (more != MoreSettings::default()).then(|| Box::new(more)),
    }
}

impl Resolver<'_> {
    /// Flow parameters are merged by name across all operations (the root flow
    /// runs them all): one name, one type, at most one default.
    pub(super) fn check_flow_params(&mut self, operations: &[Operation]) {
        let mut seen: HashMap<&str, &Param> = HashMap::new();
        for op in operations {
            for param in &op.params {
                let Binding::FlowParam { name } = &param.binding else {
                    continue;
                };
                if name.starts_with(RESERVED_PARAM) {
                    self.error(Diagnostic::InvalidParameterName {
                        param: name.clone(),
                        reason: format!(
                            "names starting with `{RESERVED_PARAM}` are opflow's own flow parameters"
                        ),
                        span: at(param.span),
                    });
                    continue;
                }
                let Some(first) = seen.get(name.as_str()).copied() else {
                    seen.insert(name, param);
                    continue;
                };
                if let (Some(a), Some(b)) = (&first.ty, &param.ty)
                    && !types::same(a, b)
                {
                    self.error(Diagnostic::ConflictingParameter {
                        param: name.clone(),
                        first_type: a.to_string(),
                        second_type: b.to_string(),
                        span: at(param.span),
                        first: at(first.span),
                    });
                } else if let (Some(a), Some(b)) = (&first.default, &param.default)
                    && a.to_string() != b.to_string()
                {
                    self.error(Diagnostic::ConflictingDefault {
                        param: name.clone(),
                        first_default: a.to_string(),
                        second_default: b.to_string(),
                        span: at(param.span),
                        first: at(first.span),
                    });
                } else if first.default.is_none() && param.default.is_some()
                    || first.ty.is_none() && param.ty.is_some()
                {
                    seen.insert(name, param);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn opflows_own_flow_parameters_take_the_prefix_manifests_may_not() {
        for name in super::super::OWN_FLOW_PARAMS {
            assert!(name.starts_with(super::RESERVED_PARAM), "{name}");
        }
    }
}
