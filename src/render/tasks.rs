//! `_tasks.py`: every operation wrapped with `task(...)` once, and one task
//! per named output some operation uses; the flow modules import them.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::Write as _;

use askama::Template;
use foldhash::HashMap;

use super::file;
use super::layout::{self, MemberKeys, Section};
use super::python::{self, Name, Names};
use crate::graph::FlowGraph;
use crate::manifest::raw::{Cache, Executor, Serializer};
use crate::resolve::{Binding, Literal, Operation};

/// A named output: its producer and its index among the producer's outputs.
type Pick = (usize, usize);

/// The longest identifier made of an operation's name before `_task`: a
/// submit of it, with its future, then always fits on a line.
pub const MAX_TASK: usize = 35;

/// What `_tasks.py` defines: each operation's task and each used named
/// output's, by the name the flow modules import.
#[derive(Debug)]
pub struct TaskNames {
    /// The tasks' names (and the names they stay clear of).
    tasks: Names,
    /// Each operation's task, by its index in the manifest.
    ops: Vec<Name>,
    /// The task picking a named output, by (producer, output index).
    picks: HashMap<(usize, usize), Name>,
    /// Each task's place among all of them in the order isort imports
    /// names: each operation's, then each pick's, by the same keys.
    pub op_rank: Vec<u32>,
    pub pick_rank: HashMap<(usize, usize), u32>,
    /// The callables' names.
    callable_names: Names,
    /// The callables imported, each by the first operation (in the module's
    /// order) that calls it, with the name it is bound to.
    callables: Vec<(usize, Name)>,
    /// Each operation's callable, by its index in the manifest.
    callable_of: Vec<usize>,
    /// The top-level packages the operations live in: beside the manifest,
    /// so isort counts them (and the types they define) as first-party.
    pub first_party: foldhash::HashSet<String>,
}

/// Names the tasks module imports for itself.
const FIXED: &[&str] = &[
    "task",
    "Results",
    "RESULTS",
    "in_process",
    "hook",
    "pick",
    "timedelta",
    "INPUTS",
    "TASK_SOURCE",
    "DEFAULT",
    "NO_CACHE",
];

impl TaskNames {
    /// The task of operation `op`.
    pub fn op(&self, op: usize) -> &str {
        &self.tasks[self.ops[op]]
    }

    /// The task picking output `index` of operation `op`, if one is used.
    pub fn pick(&self, op: usize, index: usize) -> Option<&str> {
        self.picks.get(&(op, index)).map(|&name| &self.tasks[name])
    }

    /// The task picking output `index` of operation `op`, which a flow uses.
    pub fn picked(&self, op: usize, index: usize) -> &str {
        &self.tasks[self.picks[&(op, index)]]
    }

    pub fn new(graph: &FlowGraph) -> Self {
        let ops = &graph.manifest.operations;
        // The module's order, and the order names are claimed in: by name.
        let order = &graph.by_name;
        let fixed = || {
            let mut names = Names::with_capacity(ops.len() + FIXED.len());
            for name in FIXED.iter().chain(layout::BUILTIN_IMPORTS) {
                names.reserve(name);
            }
            names
        };
        // The callables are claimed first, so each is imported under its
        // own name, then the tasks. On large manifests the two run side by
        // side, each in a table of its own: that gives the tasks the names
        // one table would, unless a task took a callable's name.
        let (callables, tasks) = crate::parallel::join(
            crate::parallel::workers(ops.len()) > 1,
            || Callables::new(ops, order, fixed()),
            || Tasks::new(ops, order, fixed()),
        );
        let mut tasks = if tasks.took_any(&callables) {
            Tasks::new(ops, order, callables.names.clone())
        } else {
            tasks
        };
        // Each named output used, by its producer and index.
        let mut used = BTreeSet::new();
        for operation in ops {
            for param in &operation.params {
                if let Binding::Operation {
                    op,
                    output: Some(output),
                } = &param.binding
                {
                    used.insert((ops[*op].name.as_str(), *op, output_index(&ops[*op], output)));
                }
            }
        }
        let mut picks = HashMap::default();
        let mut var = String::new();
        for (_, op, index) in used {
            let base = format!(
                "{}_{}",
                python::ident(&ops[op].name),
                ops[op].outputs[index].0
            );
            var.clear();
            var.push_str(&python::bounded(&base, MAX_TASK));
            var.push_str("_task");
            let name = tasks.names.claim_beside(&var, &callables.names);
            picks.insert((op, index), name);
        }
        // The order isort gives all the names, found once for every module:
        // the tasks' (already sorted) and the picks', merged.
        let pick_list: Vec<(&str, Pick)> = picks
            .iter()
            .map(|(key, &name)| (&tasks.names[name], *key))
            .collect();
        let pick_keys = MemberKeys::of(pick_list.iter().map(|(name, _)| *name));
        let mut sorted_picks: Vec<usize> = (0..pick_list.len()).collect();
        sorted_picks.sort_unstable_by(|&a, &b| {
            pick_keys
                .key(a, pick_list[a].0)
                .cmp(&pick_keys.key(b, pick_list[b].0))
        });
        let mut op_rank = vec![0; ops.len()];
        let mut pick_rank = HashMap::default();
        let mut rank = 0_u32;
        let mut next_pick = sorted_picks.into_iter().peekable();
        for &op in &tasks.sorted {
            if next_pick.peek().is_some() {
                let key = tasks.keys.key(op, &tasks.names[tasks.of[op]]);
                while let Some(pick) =
                    next_pick.next_if(|&pick| pick_keys.key(pick, pick_list[pick].0) < key)
                {
                    pick_rank.insert(pick_list[pick].1, rank);
                    rank += 1;
                }
            }
            op_rank[op] = rank;
            rank += 1;
        }
        for pick in next_pick {
            pick_rank.insert(pick_list[pick].1, rank);
            rank += 1;
        }
        drop(pick_list);
        Self {
            op_rank,
            pick_rank,
            tasks: tasks.names,
            ops: tasks.of,
            picks,
            first_party: callables.first_party,
            callable_names: callables.names,
            callables: callables.list,
            callable_of: callables.of,
        }
    }
}

/// The callables the tasks module imports.
struct Callables {
    /// The names taken: the fixed ones and the callables'.
    names: Names,
    /// Each callable, by the first operation (in the module's order) that
    /// calls it, with the name it is bound to.
    list: Vec<(usize, Name)>,
    /// Each operation's callable, by its index in the manifest.
    of: Vec<usize>,
    /// The top-level packages of the callables.
    first_party: foldhash::HashSet<String>,
}

impl Callables {
    fn new(ops: &[Operation], order: &[usize], mut names: Names) -> Self {
        let mut seen: HashMap<(&str, &str), usize> =
            HashMap::with_capacity_and_hasher(ops.len(), foldhash::fast::RandomState::default());
        let mut list = Vec::new();
        let mut of = vec![0; ops.len()];
        let mut first_party = foldhash::HashSet::default();
        for &op in order {
            let call = &ops[op].call;
            let first = first_segment(&call.qualname);
            of[op] = *seen
                .entry((call.module.as_str(), first))
                .or_insert_with(|| {
                    let root = layout::root_module(&call.module);
                    if !first_party.contains(root) {
                        first_party.insert(root.to_owned());
                    }
                    list.push((op, names.claim(first)));
                    list.len() - 1
                });
        }
        Self {
            names,
            list,
            of,
            first_party,
        }
    }
}

/// Each operation's task name, and their order.
struct Tasks {
    /// The names taken: the fixed ones and the tasks' (and, when the
    /// tasks were claimed after the callables, the callables').
    names: Names,
    /// Each operation's task, by its index in the manifest.
    of: Vec<Name>,
    /// Each task's key in the order isort gives names, by operation.
    keys: MemberKeys,
    /// The operations in the order isort gives their tasks' names.
    sorted: Vec<usize>,
}

impl Tasks {
    fn new(ops: &[Operation], order: &[usize], mut names: Names) -> Self {
        let mut of = vec![Name::default(); ops.len()];
        let (mut ident, mut var) = (String::new(), String::new());
        for &op in order {
            ident.clear();
            python::push_ident(&mut ident, &ops[op].name);
            var.clear();
            var.push_str(&python::bounded(&ident, MAX_TASK));
            var.push_str("_task");
            of[op] = names.claim(&var);
        }
        let keys = MemberKeys::of(of.iter().map(|&name| &names[name]));
        // Claimed by name, they are mostly in order already.
        let mut sorted = order.to_vec();
        sorted
            .sort_unstable_by(|&a, &b| keys.key(a, &names[of[a]]).cmp(&keys.key(b, &names[of[b]])));
        Self {
            names,
            of,
            keys,
            sorted,
        }
    }

    /// Whether some task's name is a callable's. A task's name ends in
    /// `_task` or `_task_<n>`: only a callable's that holds `_task` can be.
    fn took_any(&self, callables: &Callables) -> bool {
        callables.list.iter().any(|&(_, name)| {
            let name = &callables.names[name];
            name.contains("_task") && self.names.contains(name)
        })
    }
}

#[derive(Template)]
#[template(path = "_tasks.py", escape = "none")]
struct TasksTemplate<'a> {
    manifest: &'a str,
    imports: String,
    results: String,
    tasks: String,
}

/// `_tasks.py`, as a generated file.
pub(super) fn module(graph: &FlowGraph, names: &TaskNames, manifest: &str) -> String {
    let ops = &graph.manifest.operations;
    let mut standard = Section::default();
    let mut third = Section::default();
    let mut first_party = Section::default();
    let mut local = Section::default();
    local.from("._runtime", "Results".into());
    for &(by, binding) in &names.callables {
        let binding = &names.callable_names[binding];
        let call = &ops[by].call;
        let first = first_segment(&call.qualname);
        // A callable of the standard library sorts with it, as isort does.
        let section = if layout::is_stdlib(&call.module) {
            &mut standard
        } else {
            &mut first_party
        };
        section.from(
            &call.module,
            if binding == first {
                Cow::Borrowed(first)
            } else {
                Cow::Owned(format!("{first} as {binding}"))
            },
        );
    }
    let mut tasks = String::with_capacity(96 * ops.len());
    for &op in &graph.by_name {
        let operation = &ops[op];
        let call = &operation.call;
        let first = first_segment(&call.qualname);
        let binding = &names.callable_names[names.callables[names.callable_of[op]].1];
        let rest = &call.qualname[first.len()..];
        let callable: Cow<str> = if rest.is_empty() {
            Cow::Borrowed(binding)
        } else {
            Cow::Owned(format!("{binding}{rest}"))
        };
        let callable = if runs_in_process(operation) {
            local.from("._runtime", "in_process".into());
            let inline = format!("in_process({callable})");
            Cow::Owned(if 4 + inline.len() < layout::LINE {
                inline
            } else {
                format!("in_process(\n        {callable}\n    )")
            })
        } else {
            callable
        };
        let mut name = String::with_capacity(operation.name.len() + 7);
        name.push_str("name=");
        let _ = python::write_string(&mut name, &operation.name);
        let mut args: Vec<Cow<str>> = vec![callable, Cow::Owned(name)];
        settings_args(operation, &mut args);
        if operation.all_done {
            // Its upstream's failures reach it as `None` (`_runtime.py`).
            args.push("all_done=True".into());
        }
        if !operation.hooks.is_empty() {
            local.from("._runtime", "hook".into());
            args.extend(
                super::hooks::arguments(&operation.hooks, "hook")
                    .into_iter()
                    .map(Cow::Owned),
            );
        }
        args.extend(super::deploy::limits_arg(graph, operation).map(Cow::Owned));
        if !operation.settings.persist {
            args.push("persist=False".into());
        } else if operation.settings.result_storage().is_some()
            || operation.settings.serializer().is_some()
        {
            let defaults = &graph.manifest.results;
            let storage = operation
                .settings
                .result_storage()
                .unwrap_or(&defaults.storage);
            let serializer = operation
                .settings
                .serializer()
                .unwrap_or(defaults.serializer);
            let results = results(graph, storage, serializer, 4 + "results=".len());
            args.push(format!("results={results}").into());
        }
        for &cache in operation.settings.cache() {
            third.from("prefect.cache_policies", cache_policy(cache).into());
        }
        if operation.settings.cache_expiration_seconds().is_some() {
            standard.from("datetime", "timedelta".into());
        }
        let var = names.op(op);
        tasks.push_str(var);
        tasks.push_str(" = ");
        layout::call(&mut tasks, 0, var.len() + 3, "task", &args, "\n");
        for (index, (output, _)) in operation.outputs.iter().enumerate() {
            if let Some(var) = names.pick(op, index) {
                local.from("._runtime", "pick".into());
                let args = [
                    Cow::Borrowed("pick"),
                    Cow::Owned(format!(
                        "name={}",
                        python::string(&format!("{}.{output}", operation.name))
                    )),
                ];
                tasks.push_str(var);
                tasks.push_str(" = ");
                layout::call(&mut tasks, 0, var.len() + 3, "task", &args, "\n");
            }
        }
    }
    let defaults = &graph.manifest.results;
    let template = TasksTemplate {
        manifest,
        imports: layout::sections(vec![standard, third, first_party, local]),
        results: results(
            graph,
            &defaults.storage,
            defaults.serializer,
            "RESULTS = ".len(),
        ),
        tasks,
    };
    file(manifest, &template, 128 * ops.len())
}

/// Where results are kept, as the runtime's `Results`: a Prefect storage
/// block when `storage` is a block's slug (`s3-bucket/results`), else a
/// folder relative to the manifest's (a slug-shaped one written `./a/b`).
fn results(graph: &FlowGraph, storage: &str, serializer: Serializer, used: usize) -> String {
    let is_slug = crate::resolve::is_block_slug(storage);
    let mut args = if is_slug {
        vec![format!("block={}", python::string(storage))]
    } else {
        vec![
            "__file__".to_owned(),
            python::string(&super::from_package(graph, storage)),
        ]
    };
    if serializer != Serializer::Pickle {
        args.push(format!("serializer={}", python::string(serializer.name())));
    }
    let mut text = String::new();
    layout::call(&mut text, 0, used, "Results", &args, "\n");
    text.pop();
    text
}

/// The index of a named output among its producer's.
pub fn output_index(producer: &Operation, output: &str) -> usize {
    producer
        .outputs
        .iter()
        .position(|(name, _)| name == output)
        .unwrap_or(0)
}

/// The first segment of a qualname: what is imported (`Class` of `Class.method`).
fn first_segment(qualname: &str) -> &str {
    qualname.split('.').next().unwrap_or(qualname)
}

/// Whether an operation's task runs its callable in a process of its own.
fn runs_in_process(operation: &Operation) -> bool {
    operation.settings.executor == Some(Executor::Process) && !operation.is_async
}

/// The name of a cache policy in the generated module.
const fn cache_policy(cache: Cache) -> &'static str {
    match cache {
        Cache::None => "NO_CACHE",
        Cache::Inputs => "INPUTS",
        Cache::TaskSource => "TASK_SOURCE",
        Cache::Default => "DEFAULT",
    }
}

/// An operation's task settings, as `key=value`.
fn settings_args(operation: &Operation, args: &mut Vec<Cow<'_, str>>) {
    if let Some(doc) = &operation.doc {
        args.push(format!("description={}", python::string(doc.trim())).into());
    }
    let settings = &operation.settings;
    if let Some(retries) = settings.retries {
        args.push(format!("retries={retries}").into());
    }
    if let Some(delay) = settings.retry_delay_seconds {
        args.push(format!("retry_delay_seconds={}", number(delay)).into());
    }
    if let Some(timeout) = settings.timeout_seconds {
        args.push(format!("timeout_seconds={}", number(timeout)).into());
    }
    if !settings.cache().is_empty() {
        let policies: Vec<&str> = settings.cache().iter().map(|&c| cache_policy(c)).collect();
        args.push(format!("cache_policy={}", policies.join(" + ")).into());
    }
    if let Some(expiration) = settings.cache_expiration_seconds() {
        args.push(format!("cache_expiration=timedelta(seconds={})", number(expiration)).into());
    }
    if !settings.tags().is_empty() {
        let tags: Vec<Literal> = settings
            .tags()
            .iter()
            .map(|t| Literal::Str(t.clone()))
            .collect();
        let mut arg = String::from("tags=");
        let _ = write!(
            arg,
            "{}",
            layout::expression(&Literal::List(tags), 4, 4 + "tags=".len(), 1)
        );
        args.push(arg.into());
    }
}

/// A number of seconds: integral values without a fraction.
pub(super) fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        python::literal(&Literal::Float(value))
    }
}
