//! Stage 4: [`RawManifest`] → [`Manifest`]. Checks names, calls, types and
//! defaults, and binds every parameter to its source by the rules of
//! docs/DESIGN.md §4: explicit `from`, then name, then type, else a flow parameter.

pub mod deploy;
pub mod literal;
mod map;
pub mod rules;
mod schedule;
mod trigger;
pub mod types;

use std::collections::BTreeMap;
use std::collections::hash_map::Entry;

use foldhash::{HashMap, HashMapExt as _, HashSet, HashSetExt as _};

use serde::Serialize;

pub use literal::{Defaults, Literal};
pub use types::TypeExpr;

use crate::diagnostic::{Diagnostic, at};
use crate::hierarchy::{self, DEFAULT_MAX_DEPTH, identifier_problem};
use crate::manifest::raw::{Cache, Executor, RawOperation, RawParam, Serializer, TaskRunner};
use crate::manifest::{RawManifest, Source, Span, Spanned};
use crate::suggest::did_you_mean;

/// Name of the root flow that runs every operation.
pub const ROOT_FLOW: &str = "all";

/// Default `[project] name`: the flow of flat operations.
pub const DEFAULT_PROJECT: &str = "main";

/// A checked manifest: every name valid, every parameter bound.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub project: Project,
    /// `[flows.X]` settings, by flow name.
    pub flows: BTreeMap<String, FlowSettings>,
    pub work_pool: String,
    /// Where results are kept unless an operation says otherwise.
    pub results: Results,
    /// Operations in the order they were written.
    pub operations: Vec<Operation>,
    /// Likely mistakes that do not stop the build (`opflow::resolve::likely_typo`).
    pub warnings: Vec<Diagnostic>,
    /// `[presets.NAME]`, in the manifest's order.
    pub presets: Vec<deploy::Preset>,
    /// Each flow parameter's rules (`ge`, `choices`, ...), by its name.
    pub rules: BTreeMap<String, rules::Rules>,
    /// `[limits.NAME]`: (concurrency, per second), by name.
    pub limits: BTreeMap<String, (u32, Option<f64>)>,
}

/// Where the operations' results are kept: a folder relative to the
/// manifest's, or a Prefect storage block's slug; and how they are written.
#[derive(Debug, Clone)]
pub struct Results {
    pub storage: String,
    pub serializer: Serializer,
}

/// Whether a `result_storage` names a Prefect storage block by its slug
/// (`s3-bucket/results`) rather than a folder (a slug-shaped folder is
/// written `./s3-bucket/results`).
pub fn is_block_slug(storage: &str) -> bool {
    let part = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    storage
        .split_once('/')
        .is_some_and(|(kind, name)| part(kind) && part(name))
}

/// Results' default folder, beside the manifest.
pub const RESULTS_FOLDER: &str = ".opflow/results";

/// The flow parameters opflow adds to every flow: a selection of its
/// operations to run, and one to leave out (read by `_runtime.py`). Each
/// starts with the prefix no manifest parameter may take.
pub const OWN_FLOW_PARAMS: [&str; 2] = ["opflow_select", "opflow_exclude"];

#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    /// The package's folder: relative to the manifest's, or absolute
    /// (`build --out` outside the manifest's folder, with `home` set).
    pub output: String,
    pub python_path: Vec<String>,
    pub max_depth: usize,
    /// The manifest's folder, absolute, when the package is written outside
    /// it: the paths the package gives relative to the manifest's folder
    /// (`python_path`, where results are kept) are then written absolute.
    pub home: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct FlowSettings {
    pub description: Option<String>,
    pub task_runner: Option<TaskRunner>,
    /// State hooks: `module.path:function` references, checked like `call`.
    pub hooks: Hooks,
    /// `[flows.X.deploy]`.
    pub deploy: deploy::FlowDeploy,
    /// `[flows.X.dask]` or `[flows.X.ray]`.
    pub cluster: deploy::Cluster,
    /// Each group of the flow's operations runs as a nested flow.
    pub subflows: bool,
}

/// Prefect state hooks, by the state that calls them: (`on_failure`, the
/// references), in this order; only those given.
pub type Hooks = Vec<(&'static str, Vec<String>)>;

/// Task settings after `[defaults]` are applied.
#[derive(Debug, Clone, Default)]
pub struct TaskSettings {
    pub executor: Option<Executor>,
    pub retries: Option<u32>,
    pub retry_delay_seconds: Option<f64>,
    pub timeout_seconds: Option<f64>,
    /// Whether the operation's last result is kept.
    pub persist: bool,
    /// The settings most operations leave unset, out of line: `None` when
    /// none of them is set (a large manifest holds many operations at once).
    pub more: Option<Box<MoreSettings>>,
}

/// The task settings most operations leave unset (see [`TaskSettings`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MoreSettings {
    /// The cache policies combined (empty: none set).
    pub cache: Vec<Cache>,
    pub cache_expiration_seconds: Option<f64>,
    pub tags: Vec<String>,
    /// Where, when not where the manifest's defaults say, and how.
    pub result_storage: Option<String>,
    pub serializer: Option<Serializer>,
    /// Shared limits held while the operation runs (`[limits]` names).
    pub limits: Vec<String>,
}

impl TaskSettings {
    /// The cache policies combined (empty: none set).
    pub fn cache(&self) -> &[Cache] {
        self.more.as_ref().map_or(&[], |more| &more.cache)
    }

    pub fn cache_expiration_seconds(&self) -> Option<f64> {
        self.more.as_ref()?.cache_expiration_seconds
    }

    pub fn tags(&self) -> &[String] {
        self.more.as_ref().map_or(&[], |more| &more.tags)
    }

    /// Where the result is kept, when not where the manifest's defaults say.
    pub fn result_storage(&self) -> Option<&str> {
        self.more.as_ref()?.result_storage.as_deref()
    }

    /// How the result is written, when not as the manifest's defaults say.
    pub fn serializer(&self) -> Option<Serializer> {
        self.more.as_ref()?.serializer
    }

    /// Shared limits held while the operation runs (`[limits]` names).
    pub fn limits(&self) -> &[String] {
        self.more.as_ref().map_or(&[], |more| &more.limits)
    }
}

/// `module.path:qualname`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub module: String,
    pub qualname: String,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub name: String,
    pub span: Span,
    pub call: Call,
    pub is_async: bool,
    pub params: Vec<Param>,
    pub returns: Option<TypeExpr>,
    pub outputs: Vec<(String, TypeExpr)>,
    /// Operations listed in `depends_on` that bind no parameter: they only order the run.
    pub after: Vec<usize>,
    pub settings: TaskSettings,
    pub doc: Option<String>,
    /// Every place that makes this operation depend on another: (upstream, span).
    pub references: Vec<(usize, Span)>,
    /// Parameters mapped over (`map`): the operation runs once per element.
    pub map: Vec<String>,
    /// Whether it runs once its upstream finished, failed or not (`trigger = "all_done"`).
    pub all_done: bool,
    /// Task state hooks (`on_failure`, `on_completion`).
    pub hooks: Hooks,
}

impl Operation {
    /// Whether the operation runs once per element of its mapped parameters.
    pub fn is_mapped(&self) -> bool {
        !self.map.is_empty()
    }

    /// The type a consumer receives: the return type, or for a mapped
    /// operation the list of them.
    pub fn produces(&self) -> Option<TypeExpr> {
        let returns = self.returns.clone()?;
        Some(if self.is_mapped() {
            map::list_of(returns)
        } else {
            returns
        })
    }

    /// The name as `plan` and the graph show it: `pages.fetch[*]` when mapped.
    pub fn shown(&self) -> std::borrow::Cow<'_, str> {
        if self.is_mapped() {
            format!("{}[*]", self.name).into()
        } else {
            self.name.as_str().into()
        }
    }

    /// Every operation this one waits for (bound or ordering-only), in order, without repeats.
    pub fn upstream(&self) -> Vec<usize> {
        let mut upstream: Vec<usize> = Vec::new();
        for param in &self.params {
            if let Binding::Operation { op, .. } = param.binding
                && !upstream.contains(&op)
            {
                upstream.push(op);
            }
        }
        for &op in &self.after {
            if !upstream.contains(&op) {
                upstream.push(op);
            }
        }
        upstream
    }
}

#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub span: Span,
    pub ty: Option<TypeExpr>,
    pub default: Option<Literal>,
    pub binding: Binding,
    pub rule: Rule,
}

/// Where a parameter's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    /// The result of an upstream operation, or one of its named outputs.
    Operation { op: usize, output: Option<String> },
    /// A parameter of the flow.
    FlowParam { name: String },
}

impl Binding {
    /// Where the value comes from, as `opflow plan` shows it: the operation's
    /// name, `op.output` for a named output, `$name` for a flow parameter.
    pub fn source(&self, manifest: &Manifest) -> String {
        match self {
            Self::Operation { op, output: None } => manifest.operations[*op].name.clone(),
            Self::Operation {
                op,
                output: Some(output),
            } => format!("{}.{output}", manifest.operations[*op].name),
            Self::FlowParam { name } => format!("${name}"),
        }
    }
}

/// The rule of docs/DESIGN.md §4 that bound a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Explicit,
    Name,
    Type,
    FlowParam,
}

impl Rule {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Explicit => "explicit",
            Self::Name => "name",
            Self::Type => "type",
            Self::FlowParam => "flow_param",
        }
    }
}

/// Check and bind a raw manifest. `source` is its text (for spans inside
/// strings); `defaults` its parameter defaults, read before the document
/// tree was dropped.
pub fn resolve(
    source: &Source,
    raw: &RawManifest,
    defaults: Defaults,
) -> Result<Manifest, Vec<Diagnostic>> {
    let mut resolver = Resolver {
        source,
        defaults,
        diagnostics: Vec::new(),
        types: HashMap::new(),
    };
    let mut manifest = resolver.run(raw);
    if resolver.diagnostics.iter().all(Diagnostic::is_warning) {
        manifest.warnings = resolver.diagnostics;
        Ok(manifest)
    } else {
        Err(resolver.diagnostics)
    }
}

struct Resolver<'a> {
    source: &'a Source,
    defaults: Defaults,
    diagnostics: Vec<Diagnostic>,
    /// Type strings parsed so far: a manifest writes the same few many times.
    types: HashMap<String, TypeExpr>,
}

/// What the binding pass knows of an operation.
struct Lowered<'r> {
    raw: &'r RawOperation,
    /// Index into `operations` of every valid `depends_on` entry, with its span.
    depends_on: Vec<(usize, Span)>,
    /// Parsed parameter types (None when absent or invalid).
    param_types: Vec<Option<TypeExpr>>,
    /// Parsed return type and named outputs (those that parse).
    returns: Option<TypeExpr>,
    outputs: Vec<(String, TypeExpr)>,
}

impl Resolver<'_> {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// A diagnostic span inside a string value (see [`Source::sub_span`]).
    fn sub(&self, spanned: &Spanned<String>, range: (usize, usize)) -> Span {
        self.source.sub_span(spanned.span, &spanned.value, range)
    }

    fn check_name(&mut self, name: &Spanned<String>, max_depth: usize) -> bool {
        match hierarchy::validate(name, max_depth) {
            Ok(()) => true,
            Err(error) => {
                let span = self.sub(name, error.range);
                if error.reason.starts_with("more than") {
                    self.error(Diagnostic::NameTooDeep {
                        name: name.value.clone(),
                        depth: hierarchy::get_level(name),
                        max: max_depth,
                        span: at(span),
                    });
                } else {
                    self.error(Diagnostic::InvalidName {
                        name: name.value.clone(),
                        reason: error.reason,
                        span: at(span),
                        help: error.help,
                    });
                }
                false
            }
        }
    }

    fn check_type(&mut self, ty: &Spanned<String>) -> Option<TypeExpr> {
        if let Some(parsed) = self.types.get(ty.as_str()) {
            return Some(parsed.clone());
        }
        match types::parse(ty) {
            Ok(parsed) => {
                if let Some(name) = types::unwritable(&parsed) {
                    // Where the name is written (its last segment, if dotted).
                    let bare = name.rsplit('.').next().unwrap_or(name);
                    let start = ty.find(name).or_else(|| ty.find(bare)).unwrap_or(0);
                    let len = if ty[start..].starts_with(name) {
                        name.len()
                    } else {
                        bare.len()
                    };
                    let span = self.sub(ty, (start, (start + len).min(ty.len())));
                    self.error(Diagnostic::InvalidType {
                        ty: ty.value.clone(),
                        reason: format!("`{name}` is deprecated and gone from Python 3.14"),
                        span: at(span),
                        help: "write `bytes | bytearray | memoryview`, or `collections.abc.Buffer` on Python 3.12 and later".to_owned(),
                    });
                    return None;
                }
                self.types.insert(ty.value.clone(), parsed.clone());
                Some(parsed)
            }
            Err(error) => {
                let span = self.sub(ty, error.range);
                self.error(Diagnostic::InvalidType {
                    ty: ty.value.clone(),
                    reason: error.reason,
                    span: at(span),
                    help: error.help,
                });
                None
            }
        }
    }

    /// Hook references, each checked like a `call`.
    fn hooks(&mut self, given: &[(&'static str, Option<&Vec<Spanned<String>>>)]) -> Hooks {
        let mut hooks = Vec::new();
        for &(key, references) in given {
            let Some(references) = references.filter(|r| !r.is_empty()) else {
                continue;
            };
            for reference in references {
                self.check_call(reference);
            }
            hooks.push((key, references.iter().map(|r| r.value.clone()).collect()));
        }
        hooks
    }

    fn check_call(&mut self, call: &Spanned<String>) {
        const CALL_HELP: &str =
            "write the callable as `module.path:function`, e.g. `jobs.scrapers:fetch_stepstone`";
        let (module, qualname) = call.split_once(':').unwrap_or((call.as_str(), ""));
        let problem = if !call.contains(':') {
            Some((
                "missing `:` between module and function".to_owned(),
                (0, call.len()),
            ))
        } else if call.matches(':').count() > 1 {
            let second = call.rfind(':').unwrap_or(0);
            Some(("more than one `:`".to_owned(), (second, second + 1)))
        } else {
            dotted_problem(module, "module", 0)
                .or_else(|| dotted_problem(qualname, "function", module.len() + 1))
        };
        let mut help = CALL_HELP;
        // What parses but cannot be imported: a `__future__` import is a
        // directive that must open the module, and `__debug__` cannot be
        // bound to a name.
        let problem = problem.or_else(|| {
            let first = qualname.split('.').next().unwrap_or(qualname);
            if module == "__future__" {
                help = "call a function of a module; `__future__` holds compiler directives";
                Some((
                    "`__future__` imports are directives, not callables".to_owned(),
                    (0, module.len()),
                ))
            } else if first == "__debug__" {
                help = "`__debug__` is a constant Python does not let a module import by name";
                let start = module.len() + 1;
                Some((
                    "`__debug__` cannot be imported by name".to_owned(),
                    (start, start + first.len()),
                ))
            } else {
                None
            }
        });
        if let Some((reason, range)) = problem {
            let span = self.sub(call, range);
            self.error(Diagnostic::InvalidCall {
                call: call.value.clone(),
                reason,
                span: at(span),
                help: help.to_owned(),
            });
        }
    }

    /// `each` applied to every operation, in the manifest's order. On a
    /// large manifest the second half runs on a thread of its own, with a
    /// resolver of its own whose diagnostics follow the first half's, as
    /// one pass would have made them.
    fn each_operation<'r, T: Send>(
        &mut self,
        raw: &'r RawManifest,
        each: impl Fn(&mut Self, usize, &'r RawOperation) -> T + Sync,
    ) -> Vec<T> {
        let operations = &raw.operations;
        let half = operations.len() / 2;
        // The first half's vector is sized for both: the second is
        // appended to it without moving it.
        let run = |resolver: &mut Self, from: usize, to: usize, capacity: usize| {
            let mut results = Vec::with_capacity(capacity);
            results.extend((from..to).map(|i| each(resolver, i, &operations[i].value)));
            results
        };
        if crate::parallel::workers(operations.len()) < 2 {
            return run(self, 0, operations.len(), operations.len());
        }
        let mut other = self.beside(Defaults::default());
        let (mut first, second) = crate::parallel::join(
            true,
            || run(self, 0, half, operations.len()),
            || run(&mut other, half, operations.len(), operations.len() - half),
        );
        self.diagnostics.append(&mut other.diagnostics);
        first.extend(second);
        first
    }

    /// A resolver for a second thread, with the defaults of the operations
    /// it works on.
    fn beside(&self, defaults: Defaults) -> Self {
        Resolver {
            source: self.source,
            defaults,
            diagnostics: Vec::new(),
            types: HashMap::new(),
        }
    }

    /// What binding needs to know of operation `i`: its call checked, its
    /// types parsed, its parameters' names checked, its `depends_on` found.
    fn lower<'r>(
        &mut self,
        i: usize,
        op: &'r RawOperation,
        index: &HashMap<&str, usize>,
        names: &[&str],
    ) -> Lowered<'r> {
        self.check_call(&op.call);
        for reference in op.hook_references() {
            self.check_call(reference);
        }
        if op.is_async && op.executor == Some(Executor::Process) {
            self.error(Diagnostic::AsyncInProcess {
                operation: op.name.value.clone(),
                span: at(op.name.span),
            });
        }
        let mut param_types = Vec::with_capacity(op.params.0.len());
        for (key, param) in &op.params.0 {
            if let Some(reason) = identifier_problem(key) {
                self.error(Diagnostic::InvalidParameterName {
                    param: key.value.clone(),
                    reason,
                    span: at(key.span),
                });
            } else if let Some(reason) = submit_problem(key) {
                self.error(Diagnostic::ReservedParameterName {
                    param: key.value.clone(),
                    reason,
                    span: at(key.span),
                    help: "Prefect passes each parameter to the function by its name: rename it in the function and here".to_owned(),
                });
            }
            let ty = match param {
                RawParam::Type(ty) => Some(ty),
                RawParam::Table(table) => table.ty.as_ref(),
            };
            param_types.push(ty.and_then(|ty| self.check_type(ty)));
        }
        let returns = op
            .returns
            .as_ref()
            .and_then(|returns| self.check_type(returns));
        let mut outputs = Vec::new();
        for (key, ty) in op.outputs.iter().flat_map(|o| &o.0) {
            if let Some(reason) = identifier_problem(key) {
                self.error(Diagnostic::InvalidParameterName {
                    param: key.value.clone(),
                    reason,
                    span: at(key.span),
                });
            }
            if let Some(parsed) = self.check_type(ty) {
                outputs.push((key.value.clone(), parsed));
            }
        }
        if let (Some(returns), Some(outputs)) = (&op.returns, &op.outputs) {
            let outputs_span = outputs.0.first().map_or(returns.span, |(key, _)| key.span);
            self.error(Diagnostic::ReturnsAndOutputs {
                operation: op.name.value.clone(),
                span: at(outputs_span),
                returns: at(returns.span),
            });
        }
        let mut depends_on = Vec::with_capacity(op.depends_on.len());
        for dep in &op.depends_on {
            // Only valid names are indexed: validate what is not found.
            let found = index.get(dep.as_str());
            if found.is_none() && !self.check_name(dep, usize::MAX) {
                continue;
            }
            match found {
                Some(&target) if target == i || dep.value == op.name.value => {
                    self.error(Diagnostic::SelfDependency {
                        name: op.name.value.clone(),
                        span: at(dep.span),
                    });
                }
                Some(&target) => depends_on.push((target, dep.span)),
                None => {
                    let help = suggestion(&dep.value, names, "list an existing operation");
                    self.error(Diagnostic::UnknownDependency {
                        operation: op.name.value.clone(),
                        name: dep.value.clone(),
                        span: at(dep.span),
                        help,
                    });
                }
            }
        }
        Lowered {
            raw: op,
            depends_on,
            param_types,
            returns,
            outputs,
        }
    }

    fn run(&mut self, raw: &RawManifest) -> Manifest {
        let project = self.project(raw);
        let max_depth = project.max_depth;

        // Names first: the index every reference is looked up in.
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(raw.operations.len());
        let valid = self.each_operation(raw, |resolver, _, op| {
            resolver.check_name(&op.name, max_depth)
        });
        for (i, op) in raw.operations.iter().enumerate() {
            if !valid[i] {
                continue;
            }
            // One lookup: the first of a name is indexed, the others reported.
            match index.entry(op.name.as_str()) {
                Entry::Vacant(slot) => {
                    slot.insert(i);
                }
                Entry::Occupied(first) => {
                    let first_span = raw.operations[*first.get()].name.span;
                    self.error(Diagnostic::DuplicateOperation {
                        name: op.name.value.clone(),
                        span: at(op.name.span),
                        first: at(first_span),
                    });
                }
            }
            if hierarchy::top(&op.name) == ROOT_FLOW
                || (!op.name.contains('.') && project.name == ROOT_FLOW)
            {
                self.error(Diagnostic::ReservedFlowName {
                    name: ROOT_FLOW.to_owned(),
                    span: at(self.sub(&op.name, (0, hierarchy::top(&op.name).len()))),
                });
            }
        }
        let names: Vec<&str> = raw.operations.iter().map(|op| op.name.as_str()).collect();

        // Per operation: call, types, parameter names, depends_on.
        let lowered =
            self.each_operation(raw, |resolver, i, op| resolver.lower(i, op, &index, &names));
        let operations = self.bind(raw, lowered, &index, &valid);
        self.check_maps(raw, &operations);
        self.check_triggers(raw, &operations);
        let rules = self.param_rules(raw, &operations);
        self.check_flow_params(&operations);
        let flows = self.flow_settings(raw, &names, &project);
        self.check_flow_modules(raw, &valid, &project, &flows);
        Manifest {
            project,
            flows,
            work_pool: raw
                .deploy
                .work_pool
                .clone()
                .unwrap_or_else(|| "opflow".to_owned()),
            results: Results {
                storage: raw
                    .defaults
                    .result_storage
                    .as_ref()
                    .map_or_else(|| RESULTS_FOLDER.to_owned(), |s| s.value.clone()),
                serializer: raw.defaults.serializer.unwrap_or(Serializer::Pickle),
            },
            operations,
            warnings: Vec::new(),
            presets: self.presets(raw),
            rules,
            limits: self.limits(raw),
        }
    }

    fn project(&mut self, raw: &RawManifest) -> Project {
        let name = match &raw.project.name {
            Some(name) => {
                if name.value == ROOT_FLOW {
                    self.error(Diagnostic::ReservedFlowName {
                        name: name.value.clone(),
                        span: at(name.span),
                    });
                } else if let Some(reason) = identifier_problem(name) {
                    self.error(Diagnostic::InvalidName {
                        name: name.value.clone(),
                        reason,
                        span: at(name.span),
                        help: "the project name names the flow of flat operations: a Python identifier such as `jobs`".to_owned(),
                    });
                }
                name.value.clone()
            }
            None => DEFAULT_PROJECT.to_owned(),
        };
        Project {
            name,
            output: raw
                .project
                .output
                .as_ref()
                .map_or_else(|| "run_cache/orchestration".to_owned(), |o| o.value.clone()),
            python_path: raw.project.python_path.as_ref().map_or_else(
                || vec![".".to_owned()],
                |paths| paths.iter().map(|p| p.value.clone()).collect(),
            ),
            max_depth: raw
                .project
                .max_depth
                .as_ref()
                .map_or(DEFAULT_MAX_DEPTH, |d| {
                    usize::try_from(d.value).unwrap_or(DEFAULT_MAX_DEPTH)
                }),
            home: None,
        }
    }

    fn flow_settings(
        &mut self,
        raw: &RawManifest,
        names: &[&str],
        project: &Project,
    ) -> BTreeMap<String, FlowSettings> {
        let mut flows = BTreeMap::new();
        for (key, settings) in &raw.flows.0 {
            if !self.check_name(key, usize::MAX) {
                continue;
            }
            if key.value == ROOT_FLOW {
                self.error(Diagnostic::ReservedFlowName {
                    name: key.value.clone(),
                    span: at(key.span),
                });
                continue;
            }
            let prefix = format!("{}.", key.value);
            let flat_flow = key.value == project.name && names.iter().any(|n| !n.contains('.'));
            // A dotted key may name a single operation (a flow of one); a flat
            // one must be a top-level segment, or the project's flow.
            let own_name = key.value.contains('.') && names.contains(&key.value.as_str());
            if !flat_flow && !own_name && !names.iter().any(|n| n.starts_with(&prefix)) {
                let mut prefixes: Vec<&str> = names
                    .iter()
                    .flat_map(|n| n.match_indices('.').map(move |(i, _)| &n[..i]))
                    .collect();
                prefixes.sort_unstable();
                prefixes.dedup();
                let help = did_you_mean(&key.value, prefixes.iter().copied()).map_or_else(
                    || {
                        "a flow is a top-level segment or a deeper prefix of operation names"
                            .to_owned()
                    },
                    |close| format!("did you mean `{close}`?"),
                );
                self.error(Diagnostic::UnknownFlow {
                    flow: key.value.clone(),
                    span: at(key.span),
                    help,
                });
                continue;
            }
            flows.insert(
                key.value.clone(),
                FlowSettings {
                    description: settings.description.clone(),
                    task_runner: self.task_runner(settings),
                    cluster: deploy::Cluster::of(settings),
                    deploy: settings
                        .deploy
                        .as_ref()
                        .map(|deploy| self.flow_deploy(&key.value, deploy))
                        .unwrap_or_default(),
                    hooks: self.hooks(&[
                        ("on_failure", settings.on_failure.as_ref()),
                        ("on_completion", settings.on_completion.as_ref()),
                        ("on_cancellation", settings.on_cancellation.as_ref()),
                    ]),
                    subflows: settings.subflows.unwrap_or(false),
                },
            );
        }
        flows
    }
}

impl Resolver<'_> {
    /// Every flow is written to a module named after it, dots as
    /// underscores: two flows must not meet in one module (`a.b` and `a_b`),
    /// nor a flow in one of the package's own (`_path`).
    fn check_flow_modules<'r>(
        &mut self,
        raw: &'r RawManifest,
        valid: &[bool],
        project: &'r Project,
        flows: &BTreeMap<String, FlowSettings>,
    ) {
        // Each flow once, where it is first named: top-level segments at
        // their first operation, deeper flows at their `[flows]` key.
        let mut named: Vec<(&str, Span)> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for (op, _) in raw.operations.iter().zip(valid).filter(|(_, ok)| **ok) {
            let name = &op.name;
            if !name.contains('.') {
                // Flat names form the project's flow, named where the
                // project is (else at its first operation).
                if seen.insert(&project.name) {
                    let span = raw.project.name.as_ref().map_or(name.span, |n| n.span);
                    named.push((&project.name, span));
                }
                continue;
            }
            let top = hierarchy::top(name);
            if seen.insert(top) {
                named.push((top, self.sub(name, (0, top.len()))));
            }
        }
        for (key, _) in &raw.flows.0 {
            if key.contains('.') && flows.contains_key(&key.value) && seen.insert(&key.value) {
                named.push((&key.value, key.span));
            }
        }
        let mut modules: HashMap<String, (&str, Span)> = HashMap::new();
        for (flow, span) in named {
            let module = hierarchy::module_name(flow);
            if matches!(
                module.as_str(),
                "__init__" | "__main__" | "_path" | "_runtime" | "_select" | "_tasks"
            ) {
                self.error(Diagnostic::ReservedModule {
                    flow: flow.to_owned(),
                    span: at(span),
                });
                continue;
            }
            match modules.get(&module) {
                Some(&(other, other_span)) => self.error(Diagnostic::FlowModuleClash {
                    flow: flow.to_owned(),
                    other: other.to_owned(),
                    module,
                    span: at(span),
                    other_span: at(other_span),
                }),
                None => {
                    modules.insert(module, (flow, span));
                }
            }
        }
    }
}

/// Why a dotted identifier (`jobs.scrapers`) is not one, and where.
fn dotted_problem(text: &str, what: &str, offset: usize) -> Option<(String, (usize, usize))> {
    if hierarchy::is_dotted_identifier(text, usize::MAX) {
        return None;
    }
    if text.is_empty() {
        return Some((format!("the {what} part is empty"), (offset, offset)));
    }
    let mut start = offset;
    for segment in text.split('.') {
        if let Some(reason) = identifier_problem(segment) {
            return Some((
                format!("{reason} in the {what} part"),
                (start, start + segment.len()),
            ));
        }
        start += segment.len() + 1;
    }
    None
}

fn suggestion(name: &str, names: &[&str], otherwise: &str) -> String {
    did_you_mean(name, names.iter().copied()).map_or_else(
        || otherwise.to_owned(),
        |close| format!("did you mean `{close}`?"),
    )
}

mod bind;

/// Why an operation's parameter, an identifier, still cannot have this
/// name: the flow passes it by keyword to Prefect's `Task.submit(self,
/// *args, return_state, wait_for, **kwargs)` (Prefect 3.9.1), and Python
/// binds no name `__debug__`.
fn submit_problem(name: &str) -> Option<String> {
    match name {
        "__debug__" => Some("Python cannot bind the name `__debug__`".to_owned()),
        "self" | "return_state" | "wait_for" => {
            Some(format!("Prefect's `Task.submit` takes `{name}` itself"))
        }
        _ => None,
    }
}

/// The attributes of pydantic's models in its own namespace (pydantic 2):
/// a field of one of these names fails, or shadows the attribute.
const PYDANTIC_MODEL: &[&str] = &[
    "model_computed_fields",
    "model_config",
    "model_construct",
    "model_copy",
    "model_dump",
    "model_dump_json",
    "model_extra",
    "model_fields",
    "model_fields_set",
    "model_json_schema",
    "model_parametrized_name",
    "model_post_init",
    "model_rebuild",
    "model_validate",
    "model_validate_json",
    "model_validate_strings",
];

/// Why a flow parameter, an identifier, still cannot have this name. The
/// runner calls the flow as `flow(**parameters)`, and Prefect's
/// `Flow.__call__(self, *args, return_state, wait_for, **kwargs)` takes
/// three names itself; Prefect validates the parameters with a pydantic
/// model made of the function's signature, which refuses names starting
/// with `_`, has fields `v__args`, `v__kwargs`, `v__positional_only` and
/// `v__duplicate_kwargs` of its own, and pydantic's `model_*` attributes.
fn flow_param_problem(name: &str) -> Option<String> {
    if let Some(reason) = submit_problem(name) {
        return Some(reason.replace("`Task.submit`", "flow call"));
    }
    if name.starts_with('_') {
        Some("Prefect's parameter validation (pydantic) refuses names starting with `_`".to_owned())
    } else if matches!(
        name,
        "v__args" | "v__kwargs" | "v__positional_only" | "v__duplicate_kwargs"
    ) {
        Some(format!(
            "Prefect's parameter validation has a field `{name}` of its own"
        ))
    } else if PYDANTIC_MODEL.contains(&name) {
        Some(format!(
            "`{name}` is an attribute of the pydantic model Prefect validates flow parameters with"
        ))
    } else {
        None
    }
}
