//! Property tests of the graph stage: random DAGs written as manifests must
//! compile into consistent flows and stages, whatever the order the operations
//! are written in; random directed graphs have a cycle diagnostic exactly when
//! a reference search finds a cycle; and no input makes opflow panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use opflow::manifest::{Format, Source};
use opflow::resolve::{Binding, Rule};
use opflow::{Compiled, Failure};
use proptest::prelude::*;
use proptest::test_runner::Config;

// ---------------------------------------------------------------- shared

/// Few cases, no regression files written next to the tests.
fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn compile(text: &str, format: Format) -> Result<Compiled, Failure> {
    let path = match format {
        Format::Toml => "operations.toml",
        Format::Yaml => "operations.yaml",
        Format::Json => "operations.json",
    };
    opflow::compile_source(
        Source {
            path: path.into(),
            text: text.to_owned(),
        },
        format,
    )
}

fn describe(failure: &Failure) -> String {
    failure
        .diagnostics
        .iter()
        .map(|d| format!("{}: {d}", d.code_str()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Segments of generated names: short identifiers, none a keyword or `all`.
const SEGMENTS: [&str; 5] = ["x", "y", "z", "w", "v"];

/// Hierarchical names of depth 1–4, made unique: a repeated name gets its
/// index appended to its last segment (`x.y` → `x.y7`), which no other name has.
fn unique_names(raw: Vec<Vec<usize>>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, segments)| {
            let mut parts: Vec<String> = segments.iter().map(|&s| SEGMENTS[s].to_owned()).collect();
            if seen.contains(&parts.join(".")) {
                let last = parts.len() - 1;
                parts[last] = format!("{}{i}", parts[last]);
            }
            let name = parts.join(".");
            assert!(seen.insert(name.clone()), "{name} is not unique");
            name
        })
        .collect()
}

fn names_strategy(n: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop::collection::vec(0..SEGMENTS.len(), 1..=4), n).prop_map(unique_names)
}

/// The flow an operation belongs to (docs/DESIGN.md §3; no `[project] name` given).
fn own_flow(name: &str) -> &str {
    name.split_once('.').map_or("main", |(top, _)| top)
}

// ---------------------------------------------------------------- random DAGs

/// How an edge `up -> down` is written in the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EdgeKind {
    /// `depends_on = ["up"]`
    DependsOn,
    /// `p<up> = { type = "int", from = "up" }`
    From,
    /// Both: `from` binds it, `depends_on` lists it too.
    Both,
}

#[derive(Clone, Debug)]
struct Dag {
    names: Vec<String>,
    /// `(up, down, kind)` with `up < down`, no repeats.
    edges: Vec<(usize, usize, EdgeKind)>,
    /// Per operation: indices of the flow parameters `q<k>` it takes.
    flow_params: Vec<Vec<usize>>,
    /// Per operation: whether it declares `returns = "int"`.
    returns: Vec<bool>,
    /// A permutation: the order the operations are written in, shuffled.
    shuffled: Vec<usize>,
}

fn dag_strategy() -> impl Strategy<Value = Dag> {
    (1usize..40)
        .prop_flat_map(|n| {
            (
                names_strategy(n),
                prop::collection::vec((0..n, 0..n, 0u8..4), 0..=2 * n),
                prop::collection::vec(prop::collection::vec(0usize..3, 0..3), n),
                prop::collection::vec(any::<bool>(), n),
                Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
            )
        })
        .prop_map(|(names, raw_edges, flow_params, returns, shuffled)| {
            let mut edges: Vec<(usize, usize, EdgeKind)> = Vec::new();
            for (a, b, kind) in raw_edges {
                if a == b {
                    continue;
                }
                let (up, down) = (a.min(b), a.max(b));
                if edges.iter().any(|&(u, d, _)| (u, d) == (up, down)) {
                    continue;
                }
                let kind = match kind {
                    0 | 1 => EdgeKind::DependsOn,
                    2 => EdgeKind::From,
                    _ => EdgeKind::Both,
                };
                edges.push((up, down, kind));
            }
            let flow_params = flow_params
                .into_iter()
                .map(|mut ks| {
                    ks.sort_unstable();
                    ks.dedup();
                    ks
                })
                .collect();
            Dag {
                names,
                edges,
                flow_params,
                returns,
                shuffled,
            }
        })
}

/// The DAG as a TOML manifest, operations written in `order`.
fn dag_manifest(dag: &Dag, order: &[usize]) -> String {
    let mut text = String::from("version = 1\n");
    for &i in order {
        let name = &dag.names[i];
        let _ = write!(
            text,
            "\n[[operations]]\nname = \"{name}\"\ncall = \"pkg.ops:op{i}\"\n"
        );
        let mut params = Vec::new();
        let mut depends_on = Vec::new();
        for &(up, down, kind) in &dag.edges {
            if down != i {
                continue;
            }
            let up_name = &dag.names[up];
            if matches!(kind, EdgeKind::From | EdgeKind::Both) {
                params.push(format!(
                    "p{up} = {{ type = \"int\", from = \"{up_name}\" }}"
                ));
            }
            if matches!(kind, EdgeKind::DependsOn | EdgeKind::Both) {
                depends_on.push(format!("\"{up_name}\""));
            }
        }
        for &k in &dag.flow_params[i] {
            // `q0` has a default wherever it appears, `q1` sometimes, `q2` never:
            // the same default each time, so they merge.
            if k == 0 || (k == 1 && i % 2 == 0) {
                params.push(format!("q{k} = {{ type = \"str\", default = \"d{k}\" }}"));
            } else {
                params.push(format!("q{k} = \"str\""));
            }
        }
        if !params.is_empty() {
            let _ = writeln!(text, "params = {{ {} }}", params.join(", "));
        }
        if !depends_on.is_empty() {
            let _ = writeln!(text, "depends_on = [{}]", depends_on.join(", "));
        }
        if dag.returns[i] {
            text.push_str("returns = \"int\"\n");
        }
    }
    text
}

/// Everything a plan shows, by name: per flow its stages, sinks, critical
/// path and parameters; and every binding.
#[derive(Debug, PartialEq)]
struct Plan {
    flows: Vec<FlowPlan>,
    bindings: BTreeMap<String, String>,
}

#[derive(Debug, PartialEq)]
struct FlowPlan {
    name: String,
    stages: Vec<Vec<String>>,
    sinks: Vec<String>,
    critical_path: Vec<String>,
    params: Vec<String>,
}

fn plan(compiled: &Compiled) -> Plan {
    let ops = &compiled.graph.manifest.operations;
    let names =
        |list: &[usize]| -> Vec<String> { list.iter().map(|&i| ops[i].name.clone()).collect() };
    let flows = compiled
        .graph
        .flows
        .iter()
        .map(|flow| FlowPlan {
            name: flow.name.clone(),
            stages: flow.stages.iter().map(|stage| names(stage)).collect(),
            sinks: names(&flow.sinks),
            critical_path: names(&flow.critical_path),
            params: flow
                .params
                .iter()
                .map(|p| {
                    format!(
                        "{}: {:?} = {:?}",
                        p.name,
                        p.ty.as_ref().map(ToString::to_string),
                        p.default.as_ref().map(ToString::to_string)
                    )
                })
                .collect(),
        })
        .collect();
    let mut bindings = BTreeMap::new();
    for op in ops {
        for param in &op.params {
            let from = match &param.binding {
                Binding::Operation { op, output } => {
                    format!(
                        "{}{}",
                        ops[*op].name,
                        output.as_deref().map_or(String::new(), |o| format!(".{o}"))
                    )
                }
                Binding::FlowParam { name } => format!("${name}"),
            };
            bindings.insert(
                format!("{}({})", op.name, param.name),
                format!("{} {from}", param.rule.as_str()),
            );
        }
    }
    Plan { flows, bindings }
}

/// Check every property of a compiled random DAG against the DAG it came from.
fn check_dag(dag: &Dag, compiled: &Compiled) -> Result<(), TestCaseError> {
    let graph = &compiled.graph;
    let ops = &graph.manifest.operations;
    let n = dag.names.len();
    prop_assert_eq!(ops.len(), n);
    let index: BTreeMap<&str, usize> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| (op.name.as_str(), i))
        .collect();

    // The edges are exactly the generated ones (by name).
    let expected: BTreeSet<(String, String)> = dag
        .edges
        .iter()
        .map(|&(up, down, _)| (dag.names[up].clone(), dag.names[down].clone()))
        .collect();
    let mut actual = BTreeSet::new();
    for op in ops {
        for up in op.upstream() {
            actual.insert((ops[up].name.clone(), op.name.clone()));
        }
    }
    prop_assert_eq!(&actual, &expected);

    // Bindings: `p<k>` explicit, `q<k>` flow parameters; `after` holds the
    // depends_on entries that bind nothing.
    for op in ops {
        for param in &op.params {
            if param.name.starts_with('p') {
                prop_assert_eq!(param.rule, Rule::Explicit);
                let bound = matches!(param.binding, Binding::Operation { output: None, .. });
                prop_assert!(bound, "{} of {}", param.name, op.name);
            } else {
                prop_assert_eq!(param.rule, Rule::FlowParam);
                prop_assert_eq!(
                    &param.binding,
                    &Binding::FlowParam {
                        name: param.name.clone()
                    }
                );
            }
        }
        let i = dag.names.iter().position(|name| *name == op.name).unwrap();
        let mut after: Vec<String> = op.after.iter().map(|&a| ops[a].name.clone()).collect();
        after.sort();
        let mut expected_after: Vec<String> = dag
            .edges
            .iter()
            .filter(|&&(_, down, kind)| down == i && kind == EdgeKind::DependsOn)
            .map(|&(up, _, _)| dag.names[up].clone())
            .collect();
        expected_after.sort();
        prop_assert_eq!(after, expected_after);
    }

    // Each operation is in its earliest stage: one after its latest input.
    let upstream: Vec<Vec<usize>> = ops
        .iter()
        .map(opflow::resolve::Operation::upstream)
        .collect();
    for (i, ups) in upstream.iter().enumerate() {
        let earliest = ups
            .iter()
            .map(|&u| graph.stage_of[u] + 1)
            .max()
            .unwrap_or(0);
        prop_assert_eq!(graph.stage_of[i], earliest, "stage of {}", ops[i].name);
    }

    // The flows: one per top-level segment (flat ones in `main`), and `all`.
    let mut expected_flows: BTreeSet<String> = dag
        .names
        .iter()
        .map(|name| own_flow(name).to_owned())
        .collect();
    expected_flows.insert("all".to_owned());
    let flow_names: Vec<String> = graph.flows.iter().map(|f| f.name.clone()).collect();
    prop_assert_eq!(
        flow_names,
        expected_flows.iter().cloned().collect::<Vec<_>>()
    );

    for flow in &graph.flows {
        // Reference membership: own operations plus their upstream closure.
        let mut inside = vec![false; n];
        let mut todo: Vec<usize> = (0..n)
            .filter(|&i| flow.name == "all" || own_flow(&ops[i].name) == flow.name)
            .collect();
        while let Some(i) = todo.pop() {
            if !inside[i] {
                inside[i] = true;
                todo.extend(&upstream[i]);
            }
        }
        let members: BTreeSet<usize> = (0..n).filter(|&i| inside[i]).collect();
        let listed: BTreeSet<usize> = flow.operations.iter().copied().collect();
        prop_assert_eq!(&listed, &members, "members of {}", flow.name);
        prop_assert_eq!(
            flow.operations.len(),
            members.len(),
            "repeats in {}",
            flow.name
        );

        // Stages: every member in exactly one; each stage sorted by name and
        // non-empty; `operations` is the stages concatenated.
        let mut stage_in_flow = vec![usize::MAX; n];
        for (s, stage) in flow.stages.iter().enumerate() {
            prop_assert!(!stage.is_empty());
            for pair in stage.windows(2) {
                prop_assert!(
                    ops[pair[0]].name < ops[pair[1]].name,
                    "stage {} of {} is not sorted",
                    s,
                    flow.name
                );
            }
            for &op in stage {
                prop_assert_eq!(
                    stage_in_flow[op],
                    usize::MAX,
                    "{} twice in {}",
                    ops[op].name,
                    flow.name
                );
                stage_in_flow[op] = s;
            }
        }
        let concatenated: Vec<usize> = flow.stages.concat();
        prop_assert_eq!(&concatenated, &flow.operations);

        // Every edge goes from an earlier stage to a later one.
        for &op in &flow.operations {
            for &up in &upstream[op] {
                prop_assert!(
                    inside[up],
                    "{} needs {} outside {}",
                    ops[op].name,
                    ops[up].name,
                    flow.name
                );
                prop_assert!(stage_in_flow[up] < stage_in_flow[op]);
            }
        }

        // Sinks: members that no member waits for.
        let sinks: Vec<usize> = flow
            .operations
            .iter()
            .copied()
            .filter(|&op| {
                !flow
                    .operations
                    .iter()
                    .any(|&down| upstream[down].contains(&op))
            })
            .collect();
        prop_assert_eq!(&flow.sinks, &sinks, "sinks of {}", flow.name);

        // The critical path: a chain of edges through every stage.
        let path = &flow.critical_path;
        prop_assert_eq!(
            path.len(),
            flow.stages.len(),
            "critical path of {}",
            flow.name
        );
        for pair in path.windows(2) {
            prop_assert!(upstream[pair[1]].contains(&pair[0]));
        }
        if let Some(&first) = path.first() {
            prop_assert!(upstream[first].is_empty());
        }

        // Parameters: the `q<k>` its members take, each once.
        let expected_params: BTreeSet<String> = members
            .iter()
            .flat_map(|&i| {
                let generated = dag
                    .names
                    .iter()
                    .position(|name| *name == ops[i].name)
                    .unwrap();
                dag.flow_params[generated].iter().map(|k| format!("q{k}"))
            })
            .collect();
        let params: Vec<&str> = flow.params.iter().map(|p| p.name.as_str()).collect();
        prop_assert_eq!(params.len(), expected_params.len(), "{:?}", params);
        for param in &flow.params {
            prop_assert!(expected_params.contains(&param.name));
            let has_default = param.default.is_some();
            let any_default = members.iter().any(|&i| {
                ops[i]
                    .params
                    .iter()
                    .any(|p| p.name == param.name && p.default.is_some())
            });
            prop_assert_eq!(has_default, any_default);
        }
    }

    // The root flow holds every operation, each in exactly one stage.
    let all = graph.flows.iter().find(|f| f.name == "all").unwrap();
    let mut everything: Vec<&str> = all
        .stages
        .iter()
        .flatten()
        .map(|&i| ops[i].name.as_str())
        .collect();
    everything.sort_unstable();
    let mut names: Vec<&str> = dag.names.iter().map(String::as_str).collect();
    names.sort_unstable();
    prop_assert_eq!(everything, names);
    prop_assert_eq!(index.len(), n);
    Ok(())
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn random_dags_compile_into_consistent_flows(dag in dag_strategy()) {
        let written: Vec<usize> = (0..dag.names.len()).collect();
        let text = dag_manifest(&dag, &written);
        let compiled = match compile(&text, Format::Toml) {
            Ok(compiled) => compiled,
            Err(failure) => {
                return Err(TestCaseError::fail(format!("{}\n--- manifest\n{text}", describe(&failure))));
            }
        };
        check_dag(&dag, &compiled)?;

        // The same operations in another order: the same plan.
        let shuffled_text = dag_manifest(&dag, &dag.shuffled);
        let shuffled = match compile(&shuffled_text, Format::Toml) {
            Ok(compiled) => compiled,
            Err(failure) => {
                return Err(TestCaseError::fail(format!("{}\n--- manifest\n{shuffled_text}", describe(&failure))));
            }
        };
        check_dag(&dag, &shuffled)?;
        prop_assert_eq!(plan(&compiled), plan(&shuffled));
    }
}

// ---------------------------------------------------------------- the name rule, against a reference

/// Operations named from a small alphabet, with parameters named by the same
/// segments, so that the name rule (full name, sibling, sibling subtree) finds
/// candidates often; `depends_on` edges run from lower to higher index, but
/// name bindings may point anywhere, so cycles and ambiguities happen too.
#[derive(Clone, Debug)]
struct NameCase {
    names: Vec<String>,
    /// Per operation: its `depends_on`, as indices (no repeats, all lower).
    deps: Vec<Vec<usize>>,
    /// Per operation: its parameters, as indices into `SEGMENTS` (no repeats).
    params: Vec<Vec<usize>>,
    shuffled: Vec<usize>,
}

/// Alphabet of this test: three segments, so names collide with parameters.
const NAME_SEGMENTS: usize = 3;

fn name_case_strategy() -> impl Strategy<Value = NameCase> {
    (1usize..16)
        .prop_flat_map(|n| {
            (
                prop::collection::vec(prop::collection::vec(0..NAME_SEGMENTS, 1..=3), n)
                    .prop_map(unique_names),
                prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 0..3), n),
                prop::collection::vec(prop::collection::vec(0..NAME_SEGMENTS, 0..3), n),
                Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
            )
        })
        .prop_map(|(names, raw_deps, raw_params, shuffled)| {
            let deps = raw_deps
                .into_iter()
                .enumerate()
                .map(|(i, picks)| {
                    let mut deps: Vec<usize> = if i == 0 {
                        Vec::new()
                    } else {
                        picks.iter().map(|pick| pick.index(i)).collect()
                    };
                    deps.sort_unstable();
                    deps.dedup();
                    deps
                })
                .collect();
            let params = raw_params
                .into_iter()
                .map(|mut ps| {
                    ps.sort_unstable();
                    ps.dedup();
                    ps
                })
                .collect();
            NameCase {
                names,
                deps,
                params,
                shuffled,
            }
        })
}

fn name_case_manifest(case: &NameCase, order: &[usize]) -> String {
    let mut text = String::from("version = 1\n");
    for &i in order {
        let _ = write!(
            text,
            "\n[[operations]]\nname = \"{}\"\ncall = \"pkg.ops:op{i}\"\n",
            case.names[i]
        );
        if !case.params[i].is_empty() {
            let params: Vec<String> = case.params[i]
                .iter()
                .map(|&p| format!("{} = \"int\"", SEGMENTS[p]))
                .collect();
            let _ = writeln!(text, "params = {{ {} }}", params.join(", "));
        }
        if !case.deps[i].is_empty() {
            let deps: Vec<String> = case.deps[i]
                .iter()
                .map(|&d| format!("\"{}\"", case.names[d]))
                .collect();
            let _ = writeln!(text, "depends_on = [{}]", deps.join(", "));
        }
    }
    text
}

#[derive(Debug, PartialEq)]
enum Expected {
    /// This many parameters match several candidates.
    Ambiguous(usize),
    /// The bindings close a cycle.
    Cycle,
    /// `op(param)` → `name X` or `flow_param $p`.
    Bound(BTreeMap<String, String>),
}

/// The name rule of docs/DESIGN.md §4, written plainly from the text: for each
/// parameter `p` of `o`, among `depends_on` if given, else all operations:
/// the operation named `p`; else the sibling `parent.p`; else the one sink of
/// the subtree `parent.p.*` (unless that is the operation itself); else a flow parameter. Deeper operations are
/// bound first, so a subtree's members are bound when its sinks are needed.
fn reference_bindings(case: &NameCase) -> Expected {
    let n = case.names.len();
    let index: BTreeMap<&str, usize> = case
        .names
        .iter()
        .enumerate()
        .map(|(i, name)| (name.as_str(), i))
        .collect();
    let mut upstream: Vec<BTreeSet<usize>> = case
        .deps
        .iter()
        .map(|deps| deps.iter().copied().collect())
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(case.names[i].split('.').count()));
    let mut ambiguous = 0;
    let mut bindings = BTreeMap::new();
    for o in order {
        let name = &case.names[o];
        let deps = &case.deps[o];
        let allowed = |c: usize| c != o && (deps.is_empty() || deps.contains(&c));
        for &p in &case.params[o] {
            let p = SEGMENTS[p];
            let sibling = name
                .rsplit_once('.')
                .map_or_else(|| p.to_owned(), |(parent, _)| format!("{parent}.{p}"));
            let mut found = [p, sibling.as_str()]
                .iter()
                .find_map(|candidate| index.get(candidate).copied().filter(|&c| allowed(c)));
            // The subtree rule looks at siblings' subtrees, never at the
            // operation's own children (when `parent.p` is the operation itself).
            if found.is_none() && sibling != *name {
                let prefix = format!("{sibling}.");
                let members: Vec<usize> = (0..n)
                    .filter(|&m| case.names[m].starts_with(&prefix) && allowed(m))
                    .collect();
                let sinks: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&m| !members.iter().any(|&d| d != m && upstream[d].contains(&m)))
                    .collect();
                match sinks.len() {
                    0 => {}
                    1 => found = Some(sinks[0]),
                    _ => {
                        ambiguous += 1;
                        continue;
                    }
                }
            }
            let key = format!("{name}({p})");
            match found {
                Some(c) => {
                    upstream[o].insert(c);
                    bindings.insert(key, format!("name {}", case.names[c]));
                }
                None => {
                    bindings.insert(key, format!("flow_param ${p}"));
                }
            }
        }
    }
    if ambiguous > 0 {
        return Expected::Ambiguous(ambiguous);
    }
    let edges: Vec<(usize, usize)> = upstream
        .iter()
        .enumerate()
        .flat_map(|(down, ups)| ups.iter().map(move |&up| (up, down)))
        .collect();
    if has_cycle(n, &edges) {
        Expected::Cycle
    } else {
        Expected::Bound(bindings)
    }
}

fn observed(result: &Result<Compiled, Failure>) -> Expected {
    match result {
        Ok(compiled) => Expected::Bound(plan(compiled).bindings),
        Err(failure) => {
            let codes: BTreeSet<String> = failure
                .diagnostics
                .iter()
                .map(opflow::diagnostic::Diagnostic::code_str)
                .collect();
            if codes
                .iter()
                .all(|c| c == "opflow::resolve::ambiguous_binding")
            {
                Expected::Ambiguous(failure.diagnostics.len())
            } else if codes.iter().all(|c| c == "opflow::graph::cycle") {
                Expected::Cycle
            } else {
                Expected::Bound(BTreeMap::from([(
                    "unexpected diagnostics".to_owned(),
                    describe(failure),
                )]))
            }
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn name_rule_matches_the_reference(case in name_case_strategy()) {
        let expected = reference_bindings(&case);
        let written: Vec<usize> = (0..case.names.len()).collect();
        let text = name_case_manifest(&case, &written);
        let actual = observed(&compile(&text, Format::Toml));
        prop_assert_eq!(&actual, &expected, "--- manifest\n{}", text);
        // Written in another order, the same result.
        let shuffled = name_case_manifest(&case, &case.shuffled);
        let again = observed(&compile(&shuffled, Format::Toml));
        prop_assert_eq!(&again, &expected, "--- manifest\n{}", shuffled);
    }
}

// ---------------------------------------------------------------- cycles

#[derive(Clone, Debug)]
struct Digraph {
    names: Vec<String>,
    /// `(up, down)`: `down` lists `up` in `depends_on`. No self-loops, no repeats.
    edges: Vec<(usize, usize)>,
}

fn digraph_strategy() -> impl Strategy<Value = Digraph> {
    (1usize..12)
        .prop_flat_map(|n| {
            (
                names_strategy(n),
                prop::collection::vec((0..n, 0..n), 0..=2 * n),
            )
        })
        .prop_map(|(names, raw)| {
            let mut edges: Vec<(usize, usize)> = Vec::new();
            for edge in raw {
                if edge.0 != edge.1 && !edges.contains(&edge) {
                    edges.push(edge);
                }
            }
            Digraph { names, edges }
        })
}

fn digraph_manifest(graph: &Digraph) -> String {
    let mut text = String::from("version = 1\n");
    for (i, name) in graph.names.iter().enumerate() {
        let _ = write!(
            text,
            "\n[[operations]]\nname = \"{name}\"\ncall = \"pkg.ops:op{i}\"\n"
        );
        let deps: Vec<String> = graph
            .edges
            .iter()
            .filter(|&&(_, down)| down == i)
            .map(|&(up, _)| format!("\"{}\"", graph.names[up]))
            .collect();
        if !deps.is_empty() {
            let _ = writeln!(text, "depends_on = [{}]", deps.join(", "));
        }
    }
    text
}

/// The reference: depth-first search with three colours.
fn has_cycle(n: usize, edges: &[(usize, usize)]) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    fn visit(node: usize, next: &[Vec<usize>], colour: &mut [Colour]) -> bool {
        colour[node] = Colour::Grey;
        for &succ in &next[node] {
            match colour[succ] {
                Colour::Grey => return true,
                Colour::White => {
                    if visit(succ, next, colour) {
                        return true;
                    }
                }
                Colour::Black => {}
            }
        }
        colour[node] = Colour::Black;
        false
    }
    let mut next = vec![Vec::new(); n];
    for &(from, to) in edges {
        next[from].push(to);
    }
    let mut colour = vec![Colour::White; n];
    (0..n).any(|node| colour[node] == Colour::White && visit(node, &next, &mut colour))
}

/// Number of strongly connected components with more than one node
/// (by reachability: fine for a dozen nodes).
fn cyclic_components(n: usize, edges: &[(usize, usize)]) -> usize {
    let mut reach = vec![vec![false; n]; n];
    for &(from, to) in edges {
        reach[from][to] = true;
    }
    for k in 0..n {
        for i in 0..n {
            for j in 0..n {
                if reach[i][k] && reach[k][j] {
                    reach[i][j] = true;
                }
            }
        }
    }
    let mut seen = vec![false; n];
    let mut count = 0;
    for i in 0..n {
        if seen[i] || !reach[i][i] {
            continue;
        }
        count += 1;
        for j in 0..n {
            if reach[i][j] && reach[j][i] {
                seen[j] = true;
            }
        }
    }
    count
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn cycle_reported_iff_the_reference_finds_one(graph in digraph_strategy()) {
        let text = digraph_manifest(&graph);
        let n = graph.names.len();
        let cyclic = has_cycle(n, &graph.edges);
        match compile(&text, Format::Toml) {
            Ok(_) => prop_assert!(!cyclic, "a cycle went unreported\n--- manifest\n{}", text),
            Err(failure) => {
                prop_assert!(cyclic, "{}\n--- manifest\n{}", describe(&failure), text);
                // Only cycles, one per strongly connected component.
                for diagnostic in &failure.diagnostics {
                    prop_assert_eq!(diagnostic.code_str(), "opflow::graph::cycle");
                }
                prop_assert_eq!(failure.diagnostics.len(), cyclic_components(n, &graph.edges));
                // Each reported path is a real cycle: `a -> b -> ... -> a`,
                // where `b` lists `a` in depends_on.
                for diagnostic in &failure.diagnostics {
                    let message = diagnostic.to_string();
                    let path = message.split('`').nth(1).unwrap_or_default();
                    let steps: Vec<usize> = path
                        .split(" -> ")
                        .map(|name| graph.names.iter().position(|n| n == name).unwrap())
                        .collect();
                    prop_assert!(steps.len() >= 3, "{}", message);
                    prop_assert_eq!(steps.first(), steps.last(), "{}", message);
                    for pair in steps.windows(2) {
                        prop_assert!(graph.edges.contains(&(pair[0], pair[1])), "{}: no edge {:?}", message, pair);
                    }
                    // A simple cycle: no operation twice (but the closing one).
                    let distinct: BTreeSet<usize> = steps[1..].iter().copied().collect();
                    prop_assert_eq!(distinct.len(), steps.len() - 1, "{}", message);
                }
            }
        }
    }
}

// ---------------------------------------------------------------- no panic

/// Pieces of manifests: the first `VALID_*` of each are valid, the rest not.
const NAMES: [&str; 17] = [
    "a",
    "a.b",
    "a.b.c",
    "b",
    "b.a",
    "main",
    "x.y",
    "a.b.out",
    "a.all",
    "c", // valid
    "all",
    "all.x",
    "class",
    "a..b",
    "",
    "1x",
    "a.b.c.d.e.f.g.h.i",
];
const VALID_NAMES: usize = 10;
const PARAMS: [&str; 9] = ["a", "b", "c", "out", "all", "x", "x-y", "class", ""];
const VALID_PARAMS: usize = 6;
const TYPES: [&str; 12] = [
    "int",
    "str",
    "list[int]",
    "List[int]",
    "Optional[str]",
    "str | None",
    "dict[str, list[int]]",
    "tuple[int, ...]",
    "Listing",
    "list[",
    "int]",
    "",
];
const VALID_TYPES: usize = 8;
const FROMS: [&str; 10] = [
    "a", "a.b", "a.b.c", "a.b.out", "$a", "b.a", "c", "$", "$class", "zz",
];
const VALID_FROMS: usize = 7;
const DEFAULTS: [&str; 6] = ["1", "\"s\"", "[1, 2]", "true", "1.5", "{ k = 1 }"];

/// An index into a pool: mostly among its valid entries.
fn pick(valid: usize, all: usize) -> impl Strategy<Value = usize> + Clone {
    prop_oneof![9 => 0..valid, 1 => valid..all]
}

#[derive(Clone, Debug)]
struct FuzzParam {
    name: usize,
    ty: Option<usize>,
    from: Option<usize>,
    default: Option<usize>,
}

#[derive(Clone, Debug)]
struct FuzzOp {
    name: usize,
    params: Vec<FuzzParam>,
    returns: Option<usize>,
    outputs: Vec<(usize, usize)>,
    depends_on: Vec<usize>,
}

#[derive(Clone, Debug)]
struct Fuzz {
    project: Option<usize>,
    flows: Vec<usize>,
    ops: Vec<FuzzOp>,
}

fn fuzz_strategy() -> impl Strategy<Value = Fuzz> {
    let name = pick(VALID_NAMES, NAMES.len());
    let ty = pick(VALID_TYPES, TYPES.len());
    let param = (
        pick(VALID_PARAMS, PARAMS.len()),
        prop::option::weighted(0.9, ty.clone()),
        prop::option::weighted(0.3, pick(VALID_FROMS, FROMS.len())),
        prop::option::weighted(0.3, 0..DEFAULTS.len()),
    )
        .prop_map(|(name, ty, from, default)| FuzzParam {
            name,
            ty,
            from,
            default,
        });
    let op = (
        name.clone(),
        prop::collection::vec(param, 0..4),
        prop::option::weighted(0.6, ty.clone()),
        prop::collection::vec((pick(VALID_PARAMS, PARAMS.len()), ty), 0..3),
        prop::collection::vec(name.clone(), 0..3),
    )
        .prop_map(|(name, params, returns, outputs, depends_on)| FuzzOp {
            name,
            params,
            // Mostly one or the other, sometimes both (an error).
            outputs: if returns.is_some() && outputs.len() != 2 {
                Vec::new()
            } else {
                outputs
            },
            returns,
            depends_on,
        });
    (
        prop::option::weighted(0.3, name.clone()),
        prop::collection::vec(name, 0..2),
        prop::collection::vec(op, 0..8),
    )
        .prop_map(|(project, flows, ops)| Fuzz {
            project,
            flows,
            ops,
        })
}

/// The fuzz manifest as TOML. Tables with repeated keys are written anyway:
/// opflow must report them, not panic.
fn fuzz_toml(fuzz: &Fuzz) -> String {
    let mut text = String::from("version = 1\n");
    if let Some(project) = fuzz.project {
        let _ = writeln!(text, "[project]\nname = \"{}\"", NAMES[project]);
    }
    for &flow in &fuzz.flows {
        let _ = writeln!(text, "[flows.\"{}\"]\ndescription = \"d\"", NAMES[flow]);
    }
    for op in &fuzz.ops {
        let _ = write!(
            text,
            "\n[[operations]]\nname = \"{}\"\ncall = \"pkg.m:f\"\n",
            NAMES[op.name]
        );
        if !op.params.is_empty() {
            let params: Vec<String> = op
                .params
                .iter()
                .map(|p| {
                    let mut fields = Vec::new();
                    if let Some(ty) = p.ty {
                        fields.push(format!("type = \"{}\"", TYPES[ty]));
                    }
                    if let Some(from) = p.from {
                        fields.push(format!("from = \"{}\"", FROMS[from]));
                    }
                    if let Some(default) = p.default {
                        fields.push(format!("default = {}", DEFAULTS[default]));
                    }
                    format!("\"{}\" = {{ {} }}", PARAMS[p.name], fields.join(", "))
                })
                .collect();
            let _ = writeln!(text, "params = {{ {} }}", params.join(", "));
        }
        if let Some(returns) = op.returns {
            let _ = writeln!(text, "returns = \"{}\"", TYPES[returns]);
        }
        if !op.outputs.is_empty() {
            let outputs: Vec<String> = op
                .outputs
                .iter()
                .map(|&(name, ty)| format!("\"{}\" = \"{}\"", PARAMS[name], TYPES[ty]))
                .collect();
            let _ = writeln!(text, "outputs = {{ {} }}", outputs.join(", "));
        }
        if !op.depends_on.is_empty() {
            let deps: Vec<String> = op
                .depends_on
                .iter()
                .map(|&d| format!("\"{}\"", NAMES[d]))
                .collect();
            let _ = writeln!(text, "depends_on = [{}]", deps.join(", "));
        }
    }
    text
}

/// The same manifest as JSON (which is YAML too).
fn fuzz_json(fuzz: &Fuzz) -> String {
    use serde_json::{Map, Value, json};
    let default = |d: usize| -> Value {
        match d {
            0 => json!(1),
            1 => json!("s"),
            2 => json!([1, 2]),
            3 => json!(true),
            4 => json!(1.5),
            _ => json!({ "k": 1 }),
        }
    };
    let mut root = Map::new();
    root.insert("version".into(), json!(1));
    if let Some(project) = fuzz.project {
        root.insert("project".into(), json!({ "name": NAMES[project] }));
    }
    let mut flows = Map::new();
    for &flow in &fuzz.flows {
        flows.insert(NAMES[flow].into(), json!({ "description": "d" }));
    }
    root.insert("flows".into(), Value::Object(flows));
    let ops: Vec<Value> = fuzz
        .ops
        .iter()
        .map(|op| {
            let mut o = Map::new();
            o.insert("name".into(), json!(NAMES[op.name]));
            o.insert("call".into(), json!("pkg.m:f"));
            let mut params = Map::new();
            for p in &op.params {
                let mut fields = Map::new();
                if let Some(ty) = p.ty {
                    fields.insert("type".into(), json!(TYPES[ty]));
                }
                if let Some(from) = p.from {
                    fields.insert("from".into(), json!(FROMS[from]));
                }
                if let Some(d) = p.default {
                    fields.insert("default".into(), default(d));
                }
                params.insert(PARAMS[p.name].into(), Value::Object(fields));
            }
            o.insert("params".into(), Value::Object(params));
            if let Some(returns) = op.returns {
                o.insert("returns".into(), json!(TYPES[returns]));
            }
            if !op.outputs.is_empty() {
                let outputs: Map<String, Value> = op
                    .outputs
                    .iter()
                    .map(|&(name, ty)| (PARAMS[name].to_owned(), json!(TYPES[ty])))
                    .collect();
                o.insert("outputs".into(), Value::Object(outputs));
            }
            let deps: Vec<&str> = op.depends_on.iter().map(|&d| NAMES[d]).collect();
            o.insert("depends_on".into(), json!(deps));
            Value::Object(o)
        })
        .collect();
    root.insert("operations".into(), Value::Array(ops));
    serde_json::to_string_pretty(&Value::Object(root)).unwrap()
}

/// What must hold of any compile that succeeds.
fn check_success(compiled: &Compiled) -> Result<(), TestCaseError> {
    let graph = &compiled.graph;
    let n = graph.manifest.operations.len();
    let all = graph.flows.iter().find(|f| f.name == "all").unwrap();
    let everything: BTreeSet<usize> = all.stages.iter().flatten().copied().collect();
    prop_assert_eq!(everything.len(), n);
    prop_assert_eq!(all.operations.len(), n);
    for flow in &graph.flows {
        for stage in &flow.stages {
            for pair in stage.windows(2) {
                prop_assert!(
                    graph.manifest.operations[pair[0]].name
                        < graph.manifest.operations[pair[1]].name
                );
            }
        }
    }
    Ok(())
}

/// Compile must return, with diagnostics that all carry a code.
fn check_any(result: &Result<Compiled, Failure>) -> Result<(), TestCaseError> {
    match result {
        Ok(compiled) => check_success(compiled),
        Err(failure) => {
            prop_assert!(!failure.diagnostics.is_empty());
            for diagnostic in &failure.diagnostics {
                prop_assert!(
                    diagnostic.code_str().starts_with("opflow::"),
                    "{}",
                    diagnostic
                );
            }
            Ok(())
        }
    }
}

proptest! {
    #![proptest_config(config(192))]

    #[test]
    fn no_panic_on_fuzzed_manifests(fuzz in fuzz_strategy()) {
        check_any(&compile(&fuzz_toml(&fuzz), Format::Toml))?;
        let json = fuzz_json(&fuzz);
        let from_json = compile(&json, Format::Json);
        check_any(&from_json)?;
        let from_yaml = compile(&json, Format::Yaml);
        check_any(&from_yaml)?;
        // JSON and YAML read the same text the same way.
        let codes = |r: &Result<Compiled, Failure>| -> Vec<String> {
            r.as_ref().err().map(|f| f.diagnostics.iter().map(opflow::diagnostic::Diagnostic::code_str).collect()).unwrap_or_default()
        };
        prop_assert_eq!(codes(&from_json), codes(&from_yaml));
    }

    #[test]
    fn no_panic_on_arbitrary_text(text in ".{0,200}") {
        for format in [Format::Toml, Format::Yaml, Format::Json] {
            check_any(&compile(&text, format))?;
        }
    }

    #[test]
    fn no_panic_on_manifest_like_text(text in "(version = 1\n|\\[\\[operations\\]\\]\n|name = \"[a-z.]{0,6}\"\n|call = \"[a-z.:]{0,6}\"\n|params = \\{ [a-z]{1,3} = \"[a-zA-Z\\[\\]|]{0,8}\" \\}\n|depends_on = \\[\"[a-z.]{0,5}\"\\]\n|\\[flows\\.[a-z]{1,3}\\]\n|[{}\\[\\]=\"\n.a-z]){0,30}") {
        check_any(&compile(&text, Format::Toml))?;
    }
}
