//! One flow's module: imports, a task per operation, the `@flow` that
//! submits them in topological order, and the helpers it needs.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::ops::Range;
use std::rc::Rc;

use askama::Template;
use foldhash::HashMap;

use super::python::{self, Names};
use super::{file, function_name};
use crate::graph::{Flow, FlowGraph, Positions};
use crate::manifest::raw::{Cache, Executor, TaskRunner};
use crate::resolve::types::TYPING;
use crate::resolve::{Binding, Literal, Operation, TypeExpr};

/// The line length `ruff format` wraps at.
const LINE: usize = 88;

#[derive(Template)]
#[template(path = "flow.py", escape = "none")]
struct FlowTemplate<'a> {
    docstring: String,
    imports: String,
    /// Helper functions the tasks need at import time, with the blank lines before them.
    helpers: String,
    /// Tasks, submits and futures, one or more per operation.
    body: Body<'a>,
    flow_args: Vec<String>,
    function: String,
    params: Vec<String>,
    returns: String,
    flow_docstring: String,
    outcome: Rc<str>,
    sinks: Vec<String>,
}

/// `var = task(callable, name=..., settings...)`. Borrowed where it can be:
/// the root flow of a large manifest has one per operation.
struct TaskDef<'a> {
    var: &'a str,
    /// The callable: the name it is imported as, the rest of its qualname
    /// (`.method`), and whether it runs in a process of its own.
    callable: &'a str,
    rest: &'a str,
    in_process: bool,
    name: Quoted<'a>,
    /// Task settings, as `key=value`.
    args: &'a [String],
}

struct Submit<'a> {
    var: &'a str,
    target: &'a str,
    args: Vec<Arg<'a>>,
}

/// One argument of a `.submit(...)`, written where it is displayed.
enum Arg<'a> {
    /// `name=value`.
    Bind(&'a str, &'a str),
    Text(&'a str),
    Owned(String),
}

impl Arg<'_> {
    fn write(&self, dest: &mut dyn std::fmt::Write) -> std::fmt::Result {
        match self {
            Arg::Bind(name, value) => {
                dest.write_str(name)?;
                dest.write_char('=')?;
                dest.write_str(value)
            }
            Arg::Text(text) => dest.write_str(text),
            Arg::Owned(text) => dest.write_str(text),
        }
    }
}

/// A Python string literal of the text, written where it is displayed.
struct Quoted<'a>(std::borrow::Cow<'a, str>);

impl Quoted<'_> {
    fn write(&self, mut dest: &mut dyn std::fmt::Write) -> std::fmt::Result {
        python::write_string(&mut dest, &self.0)
    }
}

// Both are written straight into the output (askama's `FastWritable`), not
// through a formatter: the root flow writes one per operation and
// parameter. `Display` is what askama's bounds ask for.
macro_rules! written {
    ($($ty:ident),*) => {$(
        impl askama::FastWritable for $ty<'_> {
            fn write_into(
                &self,
                dest: &mut dyn std::fmt::Write,
                _: &dyn askama::Values,
            ) -> askama::Result<()> {
                Ok(self.write(dest)?)
            }
        }

        impl std::fmt::Display for $ty<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.write(f)
            }
        }
    )*};
}

written!(Arg, Quoted);

/// Names every generated module defines or imports for itself.
const FIXED: &[&str] = &[
    "flow",
    "task",
    "wait",
    "PrefectFuture",
    "Any",
    "Callable",
    "Mapping",
    "functools",
    "math",
    "timedelta",
    "ProcessPoolExecutor",
    "ThreadPoolTaskRunner",
    "ProcessPoolTaskRunner",
    "DaskTaskRunner",
    "RayTaskRunner",
    "INPUTS",
    "TASK_SOURCE",
    "DEFAULT",
    "NO_CACHE",
    "OperationFailed",
    "LAST_RUN",
    "_pick",
    "_in_process",
    "_processes",
    "_processes_lock",
    "multiprocessing",
    "threading",
];

/// The module of `flow`: its tasks and its flow function, as a generated file.
pub(super) fn module(graph: &FlowGraph, flow: &Flow, manifest: &str) -> String {
    let ops = &graph.manifest.operations;
    // Up to three names per operation (its callable, its task and its
    // future), and a few more: a table that never grows.
    let mut names = Names::with_capacity(3 * flow.operations.len() + FIXED.len() + 16);

    // Names that cannot move: flow parameters (the flow's API), the module
    // roots of type annotations, typing names, and the module's own imports.
    let mut modules = BTreeSet::new();
    let mut typing = BTreeSet::from(["Any".to_owned()]);
    let mut types: Vec<TypeExpr> = Vec::new();
    for param in &flow.params {
        types.extend(param.ty.as_ref().map(TypeExpr::modern));
    }
    if let [sink] = flow.sinks.as_slice() {
        types.extend(ops[*sink].returns.as_ref().map(TypeExpr::modern));
    }
    for ty in &types {
        ty.modules(&mut modules);
        bare_typing_names(ty, &mut typing);
    }
    for param in &flow.params {
        names.reserve(&param.name);
    }
    for module in &modules {
        names.reserve(module.split('.').next().unwrap_or(module));
    }
    for name in FIXED
        .iter()
        .copied()
        .chain(typing.iter().map(String::as_str))
    {
        names.reserve(name);
    }
    let outcome = names.claim("_outcome");

    // The operations' callables, imported directly: `from module import
    // first`, each under the name it claims; and each operation's, by its
    // position in the flow.
    let mut callables: HashMap<(&str, &str), usize> = HashMap::with_capacity_and_hasher(
        flow.operations.len(),
        foldhash::fast::RandomState::default(),
    );
    let mut bindings: Vec<Rc<str>> = Vec::with_capacity(flow.operations.len());
    let mut callable_of: Vec<usize> = Vec::with_capacity(flow.operations.len());
    // Everything else read of the operations, read in the same pass.
    let position = flow.positions();
    let mut gathered = Gathered::with_capacity(flow.operations.len());
    let mut uses_timedelta = false;
    let mut policies = BTreeSet::new();
    // Named outputs the flow's operations use: by the producer's position
    // in the flow, then the output's.
    let mut used: Vec<(usize, usize, &str, &str)> = Vec::new();
    let mut seen = foldhash::HashSet::default();
    for (at, &op) in flow.operations.iter().enumerate() {
        let operation = &ops[op];
        let call = &operation.call;
        let first = first_segment(&call.qualname);
        let next = bindings.len();
        let index = *callables
            .entry((call.module.as_str(), first))
            .or_insert(next);
        if index == next {
            bindings.push(names.claim(first));
        }
        callable_of.push(index);
        gathered.push(ops, operation, &call.qualname[first.len()..], &position);
        uses_timedelta |= operation.settings.cache_expiration_seconds.is_some();
        policies.extend(operation.settings.cache.map(cache_policy));
        for param in gathered.params_of(at) {
            if let Source::Output(up, index) = param.source
                && seen.insert((up, index))
            {
                let producer = &ops[flow.operations[up]];
                used.push((up, index, &producer.name, &producer.outputs[index].0));
            }
        }
    }
    let in_process = gathered.in_process.contains(&true);
    // In no order: isort's is made when the imports are written.
    let imported: Vec<((&str, &str), &str)> = callables
        .iter()
        .map(|(&key, &index)| (key, &*bindings[index]))
        .collect();

    // Each operation's task and future, by its position in the flow.
    let mut task_vars: Vec<Rc<str>> = Vec::with_capacity(flow.operations.len());
    let mut var = String::new();
    for at in 0..flow.operations.len() {
        var.clear();
        var.push_str(gathered.ident(at));
        var.push_str("_task");
        task_vars.push(names.claim(&var));
    }
    let future_vars: Vec<Rc<str>> = (0..flow.operations.len())
        .map(|at| names.claim(gathered.ident(at)))
        .collect();

    let mut uses_math = false;
    // Each named output used is picked from its producer's result by a
    // task of its own, named `producer.output`.
    used.sort_unstable();
    let picks: Vec<Pick<'_>> = used
        .into_iter()
        .map(|(position, index, producer, output)| {
            let base = format!("{}_{output}", python::ident(producer));
            let task = names.claim(&format!("{base}_task"));
            Pick {
                position,
                index,
                producer,
                output,
                var: names.claim(&base),
                task,
            }
        })
        .collect();
    let body = Body {
        flow,
        gathered: &gathered,
        callables: &bindings,
        callable_of: &callable_of,
        task_vars: &task_vars,
        vars: Vars {
            futures: &future_vars,
            picks: &picks,
        },
    };

    // Flow parameters: required ones first (Python's rule), each in the
    // order its operations run.
    let mut params: Vec<String> = Vec::new();
    for param in flow.params.iter().filter(|p| p.default.is_none()) {
        params.push(format!(
            "{}: {},",
            param.name,
            annotation(param.ty.as_ref())
        ));
    }
    for param in flow.params.iter().filter(|p| p.default.is_some()) {
        let default = param.default.as_ref().map_or(Literal::None, Clone::clone);
        uses_math |= python::needs_math(&default);
        let head = format!("{}: {} = ", param.name, annotation(param.ty.as_ref()));
        let value = expression(&default, 4, 4 + head.chars().count(), 1);
        // Prefect validates parameters into fresh values on every run, so a
        // list or table default is never shared between runs.
        let noqa = if matches!(default, Literal::List(_) | Literal::Dict(_)) {
            "  # noqa: B006"
        } else {
            ""
        };
        params.push(format!("{head}{value},{noqa}"));
    }

    let returns = match flow.sinks.as_slice() {
        [sink] if ops[*sink].outputs.is_empty() => annotation(ops[*sink].returns.as_ref()),
        [_] => "Any".to_owned(),
        _ => "dict[str, Any]".to_owned(),
    };

    let description = flow
        .settings
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let runner = match flow.settings.task_runner.unwrap_or(TaskRunner::Thread) {
        TaskRunner::Thread => "ThreadPoolTaskRunner",
        TaskRunner::Process => "ProcessPoolTaskRunner",
        TaskRunner::Dask => "DaskTaskRunner",
        TaskRunner::Ray => "RayTaskRunner",
    };
    let mut flow_args = vec![format!("name={}", python::string(&flow.name))];
    if let Some(description) = description {
        flow_args.push(format!("description={}", python::string(description)));
    }
    if runner == "DaskTaskRunner" {
        // A local cluster listens on loopback only, dashboard included.
        flow_args.push(
            "task_runner=DaskTaskRunner(\n        cluster_kwargs={\"host\": \"127.0.0.1\", \"dashboard_address\": \"127.0.0.1:0\"},\n    )"
                .to_owned(),
        );
    } else {
        flow_args.push(format!("task_runner={runner}()"));
    }

    let uses_output = !picks.is_empty();
    let imports = imports(&Imports {
        modules: &modules,
        typing: &typing,
        imported: &imported,
        policies: &policies,
        runner,
        uses_math,
        uses_timedelta,
        in_process,
        uses_output,
    });

    let mut helpers: Vec<&str> = Vec::new();
    if in_process {
        helpers.push(include_str!("../../templates/helpers/in_process.py"));
    }
    if uses_output {
        helpers.push(include_str!("../../templates/helpers/pick.py"));
    }
    let template = FlowTemplate {
        docstring: module_docstring(graph, flow, description),
        imports,
        // isort's spacing after imports: two blank lines before a `def`, one
        // before anything else.
        helpers: match helpers.first() {
            None => String::new(),
            Some(first) if first.starts_with("def ") => format!("\n\n\n{}", helpers.join("\n\n")),
            Some(_) => format!("\n\n{}", helpers.join("\n\n")),
        },
        body,
        flow_args,
        function: function_name(&flow.name),
        params,
        returns,
        // Inside the function, continuation lines are indented as ruff wants.
        flow_docstring: python::docstring_text(
            description.unwrap_or(&format!("Run the operations of `{}`.", flow.name)),
        )
        .replace('\n', "\n    ")
        .replace("\n    \n", "\n\n"),
        outcome,
        sinks: flow
            .sinks
            .iter()
            .map(|op| python::string(&ops[*op].name))
            .collect(),
    };
    // About 270 bytes per operation on generated benchmarks; more is
    // reserved, not touched.
    file(manifest, &template, 4096 + 400 * flow.operations.len())
}

/// What the template writes once or more per operation (a task, a submit,
/// a future), made as it is written: the root flow of a large manifest has
/// one of each per operation, and building them all first would more than
/// double what rendering the module holds.
struct Body<'a> {
    flow: &'a Flow,
    /// The imported callables, and each operation's, by position.
    callables: &'a [Rc<str>],
    callable_of: &'a [usize],
    /// Each operation's task, by position.
    task_vars: &'a [Rc<str>],
    gathered: &'a Gathered,
    vars: Vars<'a>,
}

impl<'a> Body<'a> {
    /// `var = task(...)`: one per operation, then one per named output used.
    fn tasks(&self) -> impl Iterator<Item = TaskDef<'a>> + use<'a> {
        let Self {
            callables,
            gathered,
            ..
        } = *self;
        let per_operation = self.task_vars.iter().zip(self.callable_of).enumerate().map(
            move |(at, (var, &callable))| TaskDef {
                var,
                callable: &callables[callable],
                rest: gathered.rest(at),
                in_process: gathered.in_process[at],
                name: Quoted(gathered.name(at).into()),
                args: &gathered.args[at],
            },
        );
        let picks = self.vars.picks.iter().map(|pick| TaskDef {
            var: &pick.task,
            callable: "_pick",
            rest: "",
            in_process: false,
            name: Quoted(format!("{}.{}", pick.producer, pick.output).into()),
            args: &[],
        });
        per_operation.chain(picks)
    }

    /// The submits of each stage: an operation's, then one per named output
    /// of it that is used.
    fn stages(&self) -> impl Iterator<Item = impl Iterator<Item = Submit<'a>>> + use<'_, 'a> {
        // Stages list the flow's operations in the flow's order: the graph
        // groups one ordered list into them (tests/properties.rs checks it).
        let mut start = 0;
        self.flow.stages.iter().map(move |stage| {
            let positions = start..start + stage.len();
            start = positions.end;
            positions.flat_map(move |at| {
                let submit = Submit {
                    var: &self.vars.futures[at],
                    target: &self.task_vars[at],
                    args: self.submit_args(at),
                };
                let futures = self.vars.futures;
                let picks = self.vars.picks_of(at).iter().map(move |pick| Submit {
                    var: &pick.var,
                    target: &pick.task,
                    args: vec![
                        Arg::Text(&futures[at]),
                        Arg::Owned(python::string(pick.output)),
                        Arg::Owned(pick.index.to_string()),
                    ],
                });
                std::iter::once(submit).chain(picks)
            })
        })
    }

    /// The arguments of the submit of the operation at position `at`.
    fn submit_args(&self, at: usize) -> Vec<Arg<'a>> {
        let Self { gathered, vars, .. } = *self;
        let params = gathered.params_of(at);
        let mut args: Vec<Arg<'a>> = Vec::with_capacity(params.len() + 1);
        for param in params {
            let value: &str = match &param.source {
                Source::Future(up) => &vars.futures[*up],
                Source::Output(up, index) => vars
                    .picks_of(*up)
                    .iter()
                    .find(|pick| pick.index == *index)
                    .map_or_else(
                        || unreachable!("every named output bound is picked"),
                        |pick| &*pick.var,
                    ),
                Source::FlowParam(name) => gathered.text(name),
            };
            args.push(Arg::Bind(gathered.text(&param.name), value));
        }
        let after = &gathered.after[at];
        if !after.is_empty() {
            let vars: Vec<&str> = after.iter().map(|&at| &*vars.futures[at]).collect();
            let inline = format!("wait_for=[{}]", vars.join(", "));
            if 8 + inline.len() < LINE {
                args.push(Arg::Owned(inline));
            } else {
                let items: String = vars.iter().map(|v| format!("            {v},\n")).collect();
                args.push(Arg::Owned(format!("wait_for=[\n{items}        ]")));
            }
        }
        args
    }

    /// Every future of the flow, by name, in the order they are submitted.
    fn futures(&self) -> impl Iterator<Item = (Quoted<'a>, &'a str)> + use<'_, 'a> {
        // Submitted in the flow's order (see `stages`).
        (0..self.flow.operations.len()).flat_map(move |at| {
            let name = self.gathered.name(at);
            let picks =
                self.vars.picks_of(at).iter().map(move |pick| {
                    (Quoted(format!("{name}.{}", pick.output).into()), &*pick.var)
                });
            std::iter::once((Quoted(name.into()), &*self.vars.futures[at])).chain(picks)
        })
    }
}

/// What a module writes of each operation, copied out of the operations in
/// the flow's order, by position. The flow's order jumps about the
/// manifest's memory: at 100k operations, every pass over the operations
/// themselves paid a cache miss or two per operation, and a module made up
/// to eight such passes (BENCHMARKS.md).
struct Gathered {
    /// The names, callables' tails and parameter names copied, one after another.
    text: String,
    /// Each operation's name in `text`, and its callable's qualname after
    /// the first segment (`.method`).
    names: Vec<Range<usize>>,
    rests: Vec<Range<usize>>,
    /// Each name as a Python identifier (dots as underscores), likewise.
    idents: Vec<Range<usize>>,
    in_process: Vec<bool>,
    /// Task settings, as `key=value`.
    args: Vec<Vec<String>>,
    /// Every operation's parameters, one operation's after another's;
    /// `param_ends[at]` is where those of the operation at `at` end.
    params: Vec<GatheredParam>,
    param_ends: Vec<usize>,
    /// The positions of the operations each one waits for without using
    /// their results, in order.
    after: Vec<Vec<usize>>,
}

struct GatheredParam {
    /// Its name in `Gathered::text`.
    name: Range<usize>,
    source: Source,
}

/// Where a parameter's value comes from.
enum Source {
    /// The result of the operation at this position.
    Future(usize),
    /// A named output (by its index) of the operation at this position.
    Output(usize, usize),
    /// A flow parameter, its name in `Gathered::text`.
    FlowParam(Range<usize>),
}

impl Gathered {
    fn with_capacity(n: usize) -> Self {
        Self {
            // A name, its identifier and two parameters of generated
            // benchmarks take about 50 bytes.
            text: String::with_capacity(56 * n),
            names: Vec::with_capacity(n),
            rests: Vec::with_capacity(n),
            idents: Vec::with_capacity(n),
            in_process: Vec::with_capacity(n),
            args: Vec::with_capacity(n),
            params: Vec::with_capacity(2 * n),
            param_ends: Vec::with_capacity(n),
            after: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, ops: &[Operation], operation: &Operation, rest: &str, position: &Positions) {
        let name = self.copy(&operation.name);
        self.names.push(name);
        let rest = self.copy(rest);
        self.rests.push(rest);
        let start = self.text.len();
        python::push_ident(&mut self.text, &operation.name);
        self.idents.push(start..self.text.len());
        self.in_process.push(runs_in_process(operation));
        self.args.push(settings_args(operation));
        for param in &operation.params {
            let source = match &param.binding {
                Binding::Operation { op, output: None } => Source::Future(position[*op]),
                // The output's index, as the flow's picks are found by it.
                Binding::Operation {
                    op,
                    output: Some(output),
                } => Source::Output(position[*op], output_index(&ops[*op], output)),
                Binding::FlowParam { name } => Source::FlowParam(self.copy(name)),
            };
            let name = self.copy(&param.name);
            self.params.push(GatheredParam { name, source });
        }
        self.param_ends.push(self.params.len());
        let mut after: Vec<usize> = operation.after.iter().map(|&op| position[op]).collect();
        after.sort_unstable();
        self.after.push(after);
    }

    fn copy(&mut self, text: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(text);
        start..self.text.len()
    }

    fn text(&self, range: &Range<usize>) -> &str {
        &self.text[range.clone()]
    }

    fn name(&self, at: usize) -> &str {
        self.text(&self.names[at])
    }

    fn ident(&self, at: usize) -> &str {
        self.text(&self.idents[at])
    }

    fn rest(&self, at: usize) -> &str {
        self.text(&self.rests[at])
    }

    fn params_of(&self, at: usize) -> &[GatheredParam] {
        let start = at
            .checked_sub(1)
            .map_or(0, |before| self.param_ends[before]);
        &self.params[start..self.param_ends[at]]
    }
}

/// The index of a named output among its producer's.
fn output_index(producer: &Operation, output: &str) -> usize {
    producer
        .outputs
        .iter()
        .position(|(name, _)| name == output)
        .unwrap_or(0)
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
fn settings_args(operation: &Operation) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(doc) = &operation.doc {
        args.push(format!("description={}", python::string(doc.trim())));
    }
    let settings = &operation.settings;
    if let Some(retries) = settings.retries {
        args.push(format!("retries={retries}"));
    }
    if let Some(delay) = settings.retry_delay_seconds {
        args.push(format!("retry_delay_seconds={}", number(delay)));
    }
    if let Some(timeout) = settings.timeout_seconds {
        args.push(format!("timeout_seconds={}", number(timeout)));
    }
    if let Some(cache) = settings.cache {
        args.push(format!("cache_policy={}", cache_policy(cache)));
    }
    if let Some(expiration) = settings.cache_expiration_seconds {
        args.push(format!(
            "cache_expiration=timedelta(seconds={})",
            number(expiration)
        ));
    }
    if !settings.tags.is_empty() {
        let tags: Vec<Literal> = settings
            .tags
            .iter()
            .map(|t| Literal::Str(t.clone()))
            .collect();
        args.push(format!(
            "tags={}",
            expression(&Literal::List(tags), 4, 4 + "tags=".len(), 1)
        ));
    }
    args
}

/// The names a flow's submits refer to.
#[derive(Clone, Copy)]
struct Vars<'a> {
    /// Each operation's future, by position.
    futures: &'a [Rc<str>],
    /// The named outputs used, by their producer's position, then index.
    picks: &'a [Pick<'a>],
}

impl<'a> Vars<'a> {
    /// The named outputs used of the operation at position `at`.
    fn picks_of(&self, at: usize) -> &'a [Pick<'a>] {
        let start = self.picks.partition_point(|pick| pick.position < at);
        let len = self.picks[start..].partition_point(|pick| pick.position == at);
        &self.picks[start..start + len]
    }
}

/// A named output a flow uses, picked from its producer's result by a task
/// of its own, named `producer.output`.
struct Pick<'a> {
    /// The producer's position in the flow.
    position: usize,
    /// The output's index among its producer's.
    index: usize,
    producer: &'a str,
    output: &'a str,
    /// Its future, and the task that picks it.
    var: Rc<str>,
    task: Rc<str>,
}

/// The first segment of a qualname: what is imported (`Class` of `Class.method`).
fn first_segment(qualname: &str) -> &str {
    qualname.split('.').next().unwrap_or(qualname)
}

fn annotation(ty: Option<&TypeExpr>) -> String {
    ty.map_or_else(|| "Any".to_owned(), |ty| ty.modern().to_string())
}

/// Bare `typing` names a type uses (`Optional` in `Optional[int]`).
fn bare_typing_names(ty: &TypeExpr, out: &mut BTreeSet<String>) {
    match ty {
        TypeExpr::Name { name, args } => {
            if TYPING.contains(&name.as_str()) {
                out.insert(name.clone());
            }
            for arg in args.iter().flatten() {
                bare_typing_names(arg, out);
            }
        }
        TypeExpr::List(items) | TypeExpr::Union(items) => {
            for item in items {
                bare_typing_names(item, out);
            }
        }
        TypeExpr::None | TypeExpr::Ellipsis => {}
    }
}

/// A number of seconds: integral values without a fraction.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        python::literal(&Literal::Float(value))
    }
}

/// A literal laid out as `ruff format` would: on one line when it fits in
/// what is left of the line (on a line indented by `indent`, `used` columns
/// taken, `tail` characters after it), else one element per line with a
/// trailing comma.
fn expression(value: &Literal, indent: usize, used: usize, tail: usize) -> String {
    let inline = python::literal(value);
    if used + inline.chars().count() + tail <= LINE {
        return inline;
    }
    let outer = " ".repeat(indent);
    let inner = " ".repeat(indent + 4);
    match value {
        Literal::List(items) if !items.is_empty() => {
            let body: String = items
                .iter()
                .map(|item| format!("{inner}{},\n", expression(item, indent + 4, indent + 4, 1)))
                .collect();
            format!("[\n{body}{outer}]")
        }
        Literal::Dict(entries) if !entries.is_empty() => {
            let body: String = entries
                .iter()
                .map(|(key, item)| {
                    let key = python::string(key);
                    let used = indent + 4 + key.chars().count() + 2;
                    format!("{inner}{key}: {},\n", expression(item, indent + 4, used, 1))
                })
                .collect();
            format!("{{\n{body}{outer}}}")
        }
        _ => inline,
    }
}

#[allow(clippy::struct_excessive_bools)] // one flag per optional import
struct Imports<'a> {
    modules: &'a BTreeSet<String>,
    typing: &'a BTreeSet<String>,
    /// The callables: (module, name) and the name each is bound to, in no order.
    imported: &'a [((&'a str, &'a str), &'a str)],
    policies: &'a BTreeSet<&'static str>,
    runner: &'static str,
    uses_math: bool,
    uses_timedelta: bool,
    in_process: bool,
    uses_output: bool,
}

/// Import statements as isort (ruff's `I` rules) orders them: the standard
/// library; third-party packages (Prefect, and modules of types no operation
/// lives in); then first-party: the packages the operations' callables live
/// in, which in the user's project sit beside the manifest. In each, plain
/// `import`s first, then `from` imports by module, members constants first,
/// then classes, then the rest.
fn imports(i: &Imports<'_>) -> String {
    let mut standard = Section::default();
    if i.in_process {
        standard.plain("functools");
        standard.plain("multiprocessing");
        standard.plain("threading");
        standard.from("collections.abc", "Callable".into());
        standard.from("concurrent.futures", "ProcessPoolExecutor".into());
    }
    if i.uses_math {
        standard.plain("math");
    }
    if i.uses_output {
        standard.from("collections.abc", "Mapping".into());
    }
    if i.uses_timedelta {
        standard.from("datetime", "timedelta".into());
    }
    for name in i.typing {
        standard.from("typing", name.as_str().into());
    }

    let mut third = Section::default();
    third.from("prefect", "flow".into());
    third.from("prefect", "task".into());
    for policy in i.policies {
        third.from("prefect.cache_policies", (*policy).into());
    }
    third.from("prefect.futures", "PrefectFuture".into());
    third.from("prefect.futures", "wait".into());
    match i.runner {
        "DaskTaskRunner" => third.from("prefect_dask", "DaskTaskRunner".into()),
        "RayTaskRunner" => third.from("prefect_ray", "RayTaskRunner".into()),
        runner => third.from("prefect.task_runners", runner.into()),
    }

    let first_party: foldhash::HashSet<&str> = i
        .imported
        .iter()
        .map(|((module, _), _)| root_module(module))
        .collect();
    let mut first = Section::default();
    for module in i.modules {
        if module == "typing" || module == "collections.abc" {
            standard.plain(module);
        } else if first_party.contains(root_module(module)) {
            first.plain(module);
        } else {
            third.plain(module);
        }
    }
    for &((module, name), binding) in i.imported {
        if name == binding {
            first.from(module, name.into());
        } else {
            first.from(module, format!("{name} as {binding}").into());
        }
    }
    let mut out = String::new();
    for section in [standard, third, first] {
        if section.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        section.render(&mut out);
    }
    out
}

/// The top-level package of a module.
fn root_module(module: &str) -> &str {
    module.split('.').next().unwrap_or(module)
}

/// One isort section.
#[derive(Default)]
struct Section<'a> {
    plain: BTreeSet<&'a str>,
    /// Names imported from each module, in any order, repeats allowed.
    from: BTreeMap<&'a str, Vec<Cow<'a, str>>>,
}

impl<'a> Section<'a> {
    fn plain(&mut self, module: &'a str) {
        self.plain.insert(module);
    }

    fn from(&mut self, module: &'a str, name: Cow<'a, str>) {
        self.from.entry(module).or_default().push(name);
    }

    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.from.is_empty()
    }

    /// The section's lines, written to `out`: plain imports, then `from`
    /// imports, each by module in isort's order.
    fn render(self, out: &mut String) {
        let mut plain: Vec<&str> = self.plain.into_iter().collect();
        plain.sort_by(|a, b| lowercase_cmp(a, b));
        let mut from: Vec<(&str, Vec<Cow<'a, str>>)> = self.from.into_iter().collect();
        from.sort_by(|a, b| lowercase_cmp(a.0, b.0));
        let mut first = true;
        let mut line = |out: &mut String| {
            if !std::mem::take(&mut first) {
                out.push('\n');
            }
        };
        for module in plain {
            line(out);
            out.push_str("import ");
            out.push_str(module);
        }
        for (module, mut names) in from {
            names.sort_unstable();
            names.dedup();
            let mut ranked: Vec<(u8, Cow<'a, str>)> = names
                .into_iter()
                .map(|name| (member_rank(&name), name))
                .collect();
            ranked.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| lowercase_cmp(&a.1, &b.1)));
            let names: Vec<Cow<'a, str>> = ranked.into_iter().map(|(_, name)| name).collect();
            line(out);
            from_import(out, module, &names);
        }
    }
}

/// Compare as `str.lower()` would order them.
fn lowercase_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
    } else {
        a.to_lowercase().cmp(&b.to_lowercase())
    }
}

/// isort's order of imported members: CONSTANTS, then Classes, then the
/// rest (each by lowercased name).
fn member_rank(name: &str) -> u8 {
    // `name` or `name as alias`: identifiers hold no spaces.
    let bare = name.split_once(' ').map_or(name, |(bare, _)| bare);
    if bare.len() > 1 && bare.chars().all(|c| !c.is_ascii_lowercase()) {
        0
    } else if bare.starts_with(|c: char| c.is_ascii_uppercase()) {
        1
    } else {
        2
    }
}

/// `from module import a, b`, wrapped in parentheses when too long.
fn from_import(out: &mut String, module: &str, names: &[Cow<'_, str>]) {
    let inline = "from  import ".len()
        + module.len()
        + names.iter().map(|n| n.len()).sum::<usize>()
        + 2 * names.len().saturating_sub(1);
    out.push_str("from ");
    out.push_str(module);
    if inline <= LINE {
        out.push_str(" import ");
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(name);
        }
        return;
    }
    out.push_str(" import (\n");
    for name in names {
        out.push_str("    ");
        out.push_str(name);
        out.push_str(",\n");
    }
    out.push(')');
}

fn module_docstring(graph: &FlowGraph, flow: &Flow, description: Option<&str>) -> String {
    let ops = &graph.manifest.operations;
    let title = match description {
        Some(description) => format!("Flow `{}`: {}", flow.name, description),
        None => format!("Flow `{}`.", flow.name),
    };
    let mut text = python::docstring_text(&title);
    text.push_str("\n\nStages, in topological order (each operation starts as soon as its own\ninputs are ready):\n");
    for (i, stage) in flow.stages.iter().enumerate() {
        let names: Vec<&str> = stage.iter().map(|&op| ops[op].name.as_str()).collect();
        let _ = writeln!(text, "{}. {}", i + 1, names.join(", "));
    }
    text
}
