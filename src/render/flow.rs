//! One flow's module: its imports and one literal `@flow` that submits the
//! tasks of `_tasks.py` in topological order.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::Write as _;

use askama::Template;
use foldhash::{HashMap, HashSet};

use super::file;
use super::layout::{self, LINE, Section};
use super::python::{self, Name, Names};
use super::tasks::{TaskNames, output_index};
use crate::graph::{Flow, FlowGraph};
use crate::manifest::raw::TaskRunner;
use crate::resolve::types::{self, TYPING};
use crate::resolve::{Binding, Literal, Operation, TypeExpr};

/// The longest name of a future made from an operation's name: with its
/// task's, a submit's first line always fits.
const MAX_FUTURE: usize = 24;

#[derive(Template)]
#[template(path = "flow.py", escape = "none")]
struct FlowTemplate {
    docstring: String,
    imports: String,
    flow_args: Vec<String>,
    signature: String,
    flow_docstring: String,
    body: String,
}

/// The flow parameters opflow adds to every flow.
const RESERVED: [&str; 2] = crate::resolve::OWN_FLOW_PARAMS;

/// Names every flow module defines or imports for itself.
const FIXED: &[&str] = &[
    // Not a name at all: Python refuses to bind it (an operation's last
    // segment can spell it).
    "__debug__",
    "flow",
    "math",
    "ThreadPoolTaskRunner",
    "ProcessPoolTaskRunner",
    "DaskTaskRunner",
    "RayTaskRunner",
];

/// The module of `flow`, as a generated file.
pub(super) fn module(
    graph: &FlowGraph,
    flow: &Flow,
    tasks: &TaskNames,
    function: &str,
    manifest: &str,
) -> String {
    let ops = &graph.manifest.operations;
    let mut names = Names::with_capacity(3 * flow.operations.len() + FIXED.len() + 16);

    // Names that cannot move: flow parameters (the flow's API), the module
    // roots of type annotations, typing names, the module's own imports.
    let mut modules = BTreeSet::new();
    let mut typing = BTreeSet::new();
    let mut types: Vec<TypeExpr> = Vec::new();
    // Each parameter's annotation, as written.
    let written: Vec<Option<TypeExpr>> = flow
        .params
        .iter()
        .map(|p| {
            p.ty.as_ref()
                .map(|ty| parameter_type(ty, p.default.as_ref()))
        })
        .collect();
    types.extend(written.iter().flatten().cloned());
    let returns = match flow.sinks.as_slice() {
        [sink] if ops[*sink].outputs.is_empty() => {
            ops[*sink].produces().as_ref().map(TypeExpr::modern)
        }
        [_] => None,
        _ => Some(TypeExpr::Name {
            name: "dict".into(),
            args: Some(vec![
                TypeExpr::Name {
                    name: "str".into(),
                    args: None,
                },
                TypeExpr::Name {
                    name: "Any".into(),
                    args: None,
                },
            ]),
        }),
    };
    types.extend(returns.clone());
    for ty in &types {
        ty.modules(&mut modules);
        bare_typing_names(ty, &mut typing);
    }
    if returns.is_none() || flow.params.iter().any(|p| p.ty.is_none()) {
        typing.insert("Any".to_owned());
    }
    // The parameters' rules, in their annotations (constraints.rs).
    let rules: Vec<_> = flow
        .params
        .iter()
        .map(|p| graph.manifest.rules.get(&p.name))
        .collect();
    let needs = super::constraints::Needs::of(rules.iter().copied());
    if needs.field {
        typing.insert("Annotated".to_owned());
        names.reserve("Field");
    }
    if needs.literal {
        typing.insert("Literal".to_owned());
    }
    let written: Vec<Option<TypeExpr>> = written
        .iter()
        .zip(&rules)
        .map(|(ty, rules)| super::constraints::annotate(ty.as_ref(), *rules))
        .collect();
    for param in flow.params.iter().map(|p| p.name.as_str()).chain(RESERVED) {
        names.reserve(param);
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
    names.reserve(function);
    let maps = flow.operations.iter().any(|&op| ops[op].is_mapped());
    if maps {
        names.reserve("unmapped");
    }
    let all_done = flow.operations.iter().any(|&op| ops[op].all_done);
    if all_done {
        names.reserve("allow_failure");
    }
    // The runtime's `outcome`, under another name when a parameter has it.
    let outcome = names.claim("outcome");
    // The runtime's `hook`, likewise, when the flow has state hooks.
    let hook = (!flow.settings.hooks.is_empty()).then(|| names.claim("hook"));
    // The groups that run as nested flows, and the runtime's `subflows`.
    let groups = flow.subflows(ops);
    let nest = (!groups.is_empty()).then(|| names.claim("subflows"));
    // Within `with subflows(...)`, the body is indented once more: it is
    // written for a line shorter by as much, then indented.
    let line = if nest.is_some() { LINE - 4 } else { LINE };

    // The tasks the flow submits, each imported under its own name unless
    // that is taken here; then each operation's future, and each named
    // output's.
    let position = flow.positions();
    let mut imported: Vec<(&str, Name)> = Vec::with_capacity(flow.operations.len());
    let mut ranks: Vec<u32> = Vec::with_capacity(flow.operations.len());
    let mut task_of: Vec<usize> = Vec::with_capacity(flow.operations.len());
    for &op in &flow.operations {
        let task = tasks.op(op);
        task_of.push(imported.len());
        imported.push((task, names.claim(task)));
        ranks.push(tasks.op_rank[op]);
    }
    // Named outputs used in the flow, by producer position, then index.
    let mut used: Vec<(usize, usize)> = Vec::new();
    let mut seen = HashSet::default();
    for &op in &flow.operations {
        for param in &ops[op].params {
            if let Binding::Operation {
                op: up,
                output: Some(output),
            } = &param.binding
            {
                let key = (position[*up], output_index(&ops[*up], output));
                if seen.insert(key) {
                    used.push(key);
                }
            }
        }
    }
    used.sort_unstable();
    let mut pick_tasks: HashMap<(usize, usize), usize> = HashMap::default();
    for &(at, index) in &used {
        let producer = flow.operations[at];
        let task = tasks.picked(producer, index);
        pick_tasks.insert((at, index), imported.len());
        imported.push((task, names.claim(task)));
        ranks.push(tasks.pick_rank[&(producer, index)]);
    }
    let futures: Vec<Name> = future_names(ops, flow)
        .into_iter()
        .map(|suffix| {
            let ident: Cow<str> = if suffix.contains('.') {
                python::ident(suffix).into()
            } else {
                suffix.into()
            };
            names.claim(&python::bounded(&ident, MAX_FUTURE))
        })
        .collect();
    let mut picks: HashMap<(usize, usize), Name> = HashMap::default();
    for &(at, index) in &used {
        let output = &ops[flow.operations[at]].outputs[index].0;
        let base = format!("{}_{output}", &names[futures[at]]);
        picks.insert(
            (at, index),
            names.claim(&python::bounded(&base, MAX_FUTURE)),
        );
    }
    // Every name is claimed: from here on, their texts.
    let names = &names;
    let outcome = &names[outcome];
    let hook = hook.map(|hook| &names[hook]);
    let nest = nest.map(|nest| &names[nest]);
    let imported: Vec<(&str, &str)> = imported
        .into_iter()
        .map(|(task, name)| (task, &names[name]))
        .collect();
    let futures: Vec<&str> = futures.into_iter().map(|name| &names[name]).collect();

    // The body: each stage's submits, then the outcome.
    let mut body = String::with_capacity(96 * flow.operations.len());
    // Imported only when a submit uses them.
    let (mut uses_unmapped, mut uses_allow_failure) = (false, false);
    let mut at = 0;
    for (stage_number, stage) in flow.stages.iter().enumerate() {
        let _ = writeln!(body, "    # Stage {}", stage_number + 1);
        for &op in stage {
            let operation = &ops[op];
            let after: Vec<Cow<str>> = {
                let mut after: Vec<usize> =
                    operation.after.iter().map(|&up| position[up]).collect();
                after.sort_unstable();
                after
                    .iter()
                    .map(|&up| allow_failure(operation, futures[up]))
                    .collect()
            };
            let after: Vec<&str> = after.iter().map(AsRef::as_ref).collect();
            let wait_for = if after.is_empty() {
                String::new()
            } else {
                format!("[{}]", after.join(", "))
            };
            let mut values: Vec<Cow<str>> = Vec::with_capacity(operation.params.len());
            for param in &operation.params {
                let value: Cow<str> = match &param.binding {
                    Binding::Operation {
                        op: up,
                        output: None,
                    } => allow_failure(operation, futures[position[*up]]),
                    Binding::Operation {
                        op: up,
                        output: Some(output),
                    } => allow_failure(
                        operation,
                        &names[picks[&(position[*up], output_index(&ops[*up], output))]],
                    ),
                    Binding::FlowParam { name } => name.into(),
                };
                values.push(
                    if operation.is_mapped() && !operation.map.contains(&param.name) {
                        // The same value for every element (Prefect would map a list).
                        format!("unmapped({value})").into()
                    } else {
                        value
                    },
                );
            }
            uses_unmapped |= values.iter().any(|v| v.starts_with("unmapped("));
            uses_allow_failure |= operation.all_done
                && (!after.is_empty()
                    || operation
                        .params
                        .iter()
                        .any(|p| matches!(p.binding, Binding::Operation { .. })));
            let mut args: Vec<(&str, &str)> = Vec::with_capacity(operation.params.len() + 1);
            for (param, value) in operation.params.iter().zip(&values) {
                args.push((&param.name, value));
            }
            if !after.is_empty() {
                args.push(("wait_for", &wait_for));
            }
            submit(
                &mut body,
                line,
                futures[at],
                imported[task_of[at]].1,
                if operation.is_mapped() {
                    "map"
                } else {
                    "submit"
                },
                &args,
                &after,
            );
            for (index, (output, _)) in operation.outputs.iter().enumerate() {
                if let Some(&task) = pick_tasks.get(&(at, index)) {
                    let (output, index_text) = (python::string(output), index.to_string());
                    let positional = [("", futures[at]), ("", &*output), ("", &*index_text)];
                    submit(
                        &mut body,
                        line,
                        &names[picks[&(at, index)]],
                        imported[task].1,
                        "submit",
                        &positional,
                        &[],
                    );
                }
            }
            at += 1;
        }
    }
    match flow.sinks.as_slice() {
        [sink] => {
            let _ = writeln!(body, "    return {outcome}({})", futures[position[*sink]]);
        }
        sinks => {
            let entries: Vec<String> = sinks
                .iter()
                .map(|&sink| {
                    format!(
                        "{}: {}",
                        python::string(&ops[sink].name),
                        futures[position[sink]]
                    )
                })
                .collect();
            let inline = format!("    return {outcome}({{{}}})", entries.join(", "));
            if inline.chars().count() <= line {
                body.push_str(&inline);
                body.push('\n');
            } else {
                let _ = write!(body, "    return {outcome}(\n        {{\n");
                for entry in &entries {
                    let _ = writeln!(body, "            {entry},");
                }
                body.push_str("        }\n    )\n");
            }
        }
    }

    if let Some(nest) = &nest {
        body = nested(&body, nest, &groups);
    }

    // The signature: required parameters first (Python's rule), each in
    // the order its operations run.
    let mut uses_math = false;
    let mut params: Vec<String> = Vec::new();
    for (param, written) in flow.params.iter().zip(&written) {
        if param.default.is_some() {
            continue;
        }
        let head = format!("    {}: ", param.name);
        let ty = annotation(written.as_ref(), 4, head.len(), 1);
        let marks = type_marks(written.as_ref());
        params.push(with_noqa(&format!("{head}{ty},"), &marks));
    }
    for (param, written) in flow.params.iter().zip(&written) {
        if param.default.is_none() {
            continue;
        }
        let default = param.default.as_ref().map_or(Literal::None, Clone::clone);
        uses_math |= python::needs_math(&default);
        let head = format!("    {}: ", param.name);
        // ruff splits the default before the annotation: the annotation
        // need leave room only for the default's opening bracket.
        let tail = match &default {
            Literal::List(items) if !items.is_empty() => 4,
            Literal::Dict(entries) if !entries.is_empty() => 4,
            _ => 3 + python::literal(&default).chars().count() + 1,
        };
        let ty = annotation(written.as_ref(), 4, head.len(), tail);
        let used = if ty.contains('\n') {
            layout::last_line_width(&ty)
        } else {
            head.len() + ty.chars().count()
        } + 3;
        let value = layout::expression(&default, 4, used, 1);
        let mut marks = type_marks(written.as_ref());
        // Prefect validates parameters into fresh values on every run, so a
        // list or table default is never shared between runs.
        if matches!(default, Literal::List(_) | Literal::Dict(_)) {
            marks.push((ty.matches('\n').count(), "B006"));
        }
        params.push(with_noqa(&format!("{head}{ty} = {value},"), &marks));
    }
    // opflow's own: which operations run (README: Running part of a flow).
    for reserved in RESERVED {
        params.push(format!("    {reserved}: str = \"\","));
    }
    let head = if params.is_empty() {
        format!("def {function}() -> ")
    } else {
        format!("def {function}(\n{}\n) -> ", params.join("\n"))
    };
    let ty = match &returns {
        // A union, or a name that cannot be split, too long for the line is
        // parenthesized (a union one member a line; a name only when that
        // makes it fit, or when there are no parameters to split instead).
        Some(ty @ (TypeExpr::Union(_) | TypeExpr::Name { args: None, .. }))
            if layout::last_line_width(&head) + ty.to_string().chars().count() + 1 > LINE
                && (matches!(ty, TypeExpr::Union(_))
                    || params.is_empty()
                    || 4 + ty.to_string().chars().count() <= LINE) =>
        {
            format!("(\n    {}\n)", layout::annotation(ty, 4, 4, 0))
        }
        ty => annotation(ty.as_ref(), 0, layout::last_line_width(&head), 1),
    };
    let signature = format!("{head}{ty}:");

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
    flow_args.push(super::deploy::task_runner_arg(flow, runner));
    if let Some(hook) = &hook {
        flow_args.extend(super::hooks::arguments(&flow.settings.hooks, hook));
    }

    // Imports, as isort orders them (see `layout::Section`).
    let mut future = Section::default();
    let mut standard = Section::default();
    let mut third = Section::default();
    let mut first = Section::default();
    if uses_math {
        standard.plain("math");
    }
    for name in &typing {
        let (module, member) = types::home(name);
        standard.from(module, member.into());
    }
    third.from("prefect", "flow".into());
    if uses_unmapped {
        third.from("prefect", "unmapped".into());
    }
    if uses_allow_failure {
        third.from("prefect", "allow_failure".into());
    }
    if needs.field {
        third.from("pydantic", "Field".into());
    }
    match runner {
        "DaskTaskRunner" => third.from("prefect_dask", "DaskTaskRunner".into()),
        "RayTaskRunner" => third.from("prefect_ray", "RayTaskRunner".into()),
        runner => third.from("prefect.task_runners", runner.into()),
    }
    // The packages the operations live in sit beside the manifest: isort
    // counts them as first-party, after the standard library.
    for module in &modules {
        if module == "__future__" {
            future.plain(module);
        } else if layout::is_stdlib(module) {
            standard.plain(module);
        } else if tasks.first_party.contains(layout::root_module(module)) {
            first.plain(module);
        } else {
            third.plain(module);
        }
    }
    // The tasks in isort's order, found once for the whole package.
    let mut order: Vec<usize> = (0..imported.len()).collect();
    order.sort_unstable_by_key(|&i| ranks[i]);
    let members: Vec<Cow<str>> = order
        .iter()
        .map(|&i| {
            let (task, binding) = &imported[i];
            if **binding == **task {
                Cow::Borrowed(*task)
            } else {
                Cow::Owned(format!("{task} as {binding}"))
            }
        })
        .collect();
    let mut imports = layout::sections(vec![future, standard, third, first]);
    // The runtime's names, each under its own name unless that is taken.
    let runtime: Vec<String> = [("hook", hook), ("outcome", Some(outcome))]
        .into_iter()
        .chain([("subflows", nest)])
        .filter_map(|(name, binding)| {
            binding.map(|binding| {
                if binding == name {
                    name.to_owned()
                } else {
                    format!("{name} as {binding}")
                }
            })
        })
        .collect();
    imports.push_str("\n\n");
    layout::from_imports(&mut imports, "._runtime", &runtime);
    imports.push('\n');
    layout::from_imports(&mut imports, "._tasks", &members);

    let title = match description {
        Some(description) => format!("Flow `{}`: {description}", flow.name),
        None => format!("Flow `{}`.", flow.name),
    };
    let count = flow.operations.len();
    let template = FlowTemplate {
        docstring: format!(
            "{}\n\n{count} operation{} in {} stage{}; each starts as soon as its inputs are ready.\n{}",
            python::docstring_text(&title),
            if count == 1 { "" } else { "s" },
            flow.stages.len(),
            if flow.stages.len() == 1 { "" } else { "s" },
            if nest.is_some() {
                "The operations of each group run in a nested flow named after it.\n"
            } else {
                ""
            },
        ),
        imports,
        flow_args,
        signature,
        // Inside the function, continuation lines are indented as ruff wants.
        flow_docstring: python::docstring_text(
            description.unwrap_or(&format!("Run the operations of `{}`.", flow.name)),
        )
        .split('\n')
        .map(|line| {
            if line.is_empty() {
                String::new()
            } else {
                format!("    {line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim_start()
        .to_owned(),
        body,
    };
    file(manifest, &template, 4096 + 160 * flow.operations.len())
}

/// `    var = task.submit(args)` (or `.map(args)`), on one line when it fits,
/// else one argument a line with a trailing comma (the ordering-only list
/// `after` too, when it outgrows its own line). An argument is
/// `keyword=value`, or a positional value when its keyword is empty.
fn submit(
    body: &mut String,
    line: usize,
    var: &str,
    task: &str,
    method: &str,
    args: &[(&str, &str)],
    after: &[&str],
) {
    let width = |(keyword, value): &(&str, &str)| {
        keyword.len() + usize::from(!keyword.is_empty()) + value.len()
    };
    let used = 4 + var.len() + 3 + task.len() + 1 + method.len() + 1;
    let inline = args
        .iter()
        .map(|a| width(a) + 2)
        .sum::<usize>()
        .saturating_sub(2)
        + 1;
    body.push_str("    ");
    body.push_str(var);
    body.push_str(" = ");
    body.push_str(task);
    body.push('.');
    body.push_str(method);
    body.push('(');
    let push = |body: &mut String, (keyword, value): &(&str, &str)| {
        if !keyword.is_empty() {
            body.push_str(keyword);
            body.push('=');
        }
        body.push_str(value);
    };
    if used + inline <= line {
        for (i, arg) in args.iter().enumerate() {
            if i > 0 {
                body.push_str(", ");
            }
            push(body, arg);
        }
        body.push_str(")\n");
        return;
    }
    for arg in args {
        body.push_str("\n        ");
        if arg.0 == "wait_for" && 8 + width(arg) + 1 > line {
            body.push_str("wait_for=[\n");
            for var in after {
                body.push_str("            ");
                body.push_str(var);
                body.push_str(",\n");
            }
            body.push_str("        ]");
        } else if let Some((wrapper, inner)) = arg.1.split_once('(')
            && let Some(inner) = inner.strip_suffix(')')
            && 8 + width(arg) + 1 > line
        {
            // `unmapped(x)`, `allow_failure(x)`: as ruff splits a call that
            // outgrows its line.
            body.push_str(arg.0);
            body.push('=');
            body.push_str(wrapper);
            body.push_str("(\n            ");
            body.push_str(inner);
            body.push_str("\n        )");
        } else {
            push(body, arg);
        }
        body.push(',');
    }
    body.push_str("\n    )\n");
}

/// `body` (written for a line 4 shorter) within `with subflows(groups):`,
/// the groups on one line when they fit, else one a line.
fn nested(body: &str, nest: &str, groups: &[&str]) -> String {
    let names: Vec<String> = groups.iter().map(|g| python::string(g)).collect();
    let inline = format!("    with {nest}({}):", names.join(", "));
    let mut out = String::with_capacity(body.len() + body.lines().count() * 4 + 64);
    if inline.chars().count() <= LINE {
        out.push_str(&inline);
        out.push('\n');
    } else {
        let _ = writeln!(out, "    with {nest}(");
        for name in &names {
            let _ = writeln!(out, "        {name},");
        }
        out.push_str("    ):\n");
    }
    for text in body.split_inclusive('\n') {
        if text != "\n" {
            out.push_str("    ");
        }
        out.push_str(text);
    }
    out
}

/// An upstream future as `operation` takes it: as it is, or, when the
/// operation runs whatever its upstream's outcome, `allow_failure(future)`.
fn allow_failure<'a>(operation: &Operation, future: &'a str) -> Cow<'a, str> {
    if operation.all_done {
        format!("allow_failure({future})").into()
    } else {
        future.into()
    }
}

/// Each operation's future, by position: the last segment of its name, or
/// as many last segments as make it unique in the flow (dots still in).
fn future_names<'a>(ops: &'a [Operation], flow: &Flow) -> Vec<&'a str> {
    let names: Vec<&str> = flow
        .operations
        .iter()
        .map(|&op| ops[op].name.as_str())
        .collect();
    // Where each one's suffix starts: after its last dot, to begin with.
    let mut starts: Vec<usize> = names
        .iter()
        .map(|name| name.rfind('.').map_or(0, |dot| dot + 1))
        .collect();
    loop {
        let mut counts: HashMap<&str, u32> =
            HashMap::with_capacity_and_hasher(names.len(), foldhash::fast::RandomState::default());
        for (name, &start) in names.iter().zip(&starts) {
            *counts.entry(&name[start..]).or_default() += 1;
        }
        let mut changed = false;
        for (name, start) in names.iter().zip(starts.iter_mut()) {
            if *start > 0 && counts[&name[*start..]] > 1 {
                *start = name[..*start - 1].rfind('.').map_or(0, |dot| dot + 1);
                changed = true;
            }
        }
        if !changed {
            return names
                .iter()
                .zip(starts)
                .map(|(name, start)| &name[start..])
                .collect();
        }
    }
}

/// `# noqa: CODE` comments on the lines ruff reports the codes at: each
/// comment at the end of its line (after an opening bracket, ruff keeps it
/// there).
fn with_noqa(text: &str, marks: &[(usize, &str)]) -> String {
    if marks.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 32);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
        let mut codes: Vec<&str> = marks
            .iter()
            .filter(|(at, _)| *at == i)
            .map(|(_, code)| *code)
            .collect();
        if !codes.is_empty() {
            codes.sort_unstable();
            let _ = write!(out, "  # noqa: {}", codes.join(", "));
        }
    }
    out
}

/// A parameter's annotation: the type's modern form, made optional when
/// the default is `None` and the type does not say so (ruff's RUF013: PEP
/// 484 has no implicit `Optional`), as ruff's fix writes it.
fn parameter_type(ty: &TypeExpr, default: Option<&Literal>) -> TypeExpr {
    let modern = ty.modern();
    let takes_none = |member: &TypeExpr| match member {
        TypeExpr::None => true,
        // A bare `Optional` or `Union` says nothing, and `| None` after it
        // would fail when Python evaluates the annotation.
        TypeExpr::Name { name, args: None } => {
            matches!(
                name.strip_prefix("typing.").unwrap_or(name),
                "Any" | "Optional" | "Union"
            ) || matches!(name.as_str(), "object" | "builtins.object")
        }
        _ => false,
    };
    let optional = match &modern {
        TypeExpr::Union(members) => members.iter().any(takes_none),
        other => takes_none(other),
    };
    if matches!(default, Some(Literal::None)) && !optional {
        TypeExpr::Union(vec![modern, TypeExpr::None]).modern()
    } else {
        modern
    }
}

/// The `# noqa` a parameter's annotation needs, on its first line: the
/// parameter keeps the manifest's type where ruff would change it.
fn type_marks(ty: Option<&TypeExpr>) -> Vec<(usize, &'static str)> {
    let mut marks = Vec::new();
    if numeric_union(ty) {
        marks.push((0, "PYI041"));
    }
    // `NoReturn` (PYI050 asks for `Never`, which Python 3.10 lacks).
    if let Some(TypeExpr::Name { name, args: None }) = ty
        && matches!(name.as_str(), "NoReturn" | "typing.NoReturn")
    {
        marks.push((0, "PYI050"));
    }
    marks
}

/// A union of numbers a number type already covers (`int | float`): ruff
/// (PYI041) asks for the wider one alone, but the parameter keeps the
/// manifest's type.
fn numeric_union(ty: Option<&TypeExpr>) -> bool {
    let Some(TypeExpr::Union(members)) = ty.map(TypeExpr::modern) else {
        return false;
    };
    let has = |name: &str| {
        members
            .iter()
            .any(|m| matches!(m, TypeExpr::Name { name: n, args: None } if n == name))
    };
    (has("float") && has("int")) || (has("complex") && (has("int") || has("float")))
}

fn annotation(ty: Option<&TypeExpr>, indent: usize, used: usize, tail: usize) -> String {
    ty.map_or_else(
        || "Any".to_owned(),
        |ty| layout::annotation(&ty.modern(), indent, used, tail),
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::types::parse;

    #[test]
    fn a_none_default_makes_the_annotation_optional() {
        let written = |ty: &str, default: Option<Literal>| {
            parameter_type(&parse(ty).unwrap(), default.as_ref()).to_string()
        };
        let none = || Some(Literal::None);
        assert_eq!(written("bytes", none()), "bytes | None");
        assert_eq!(written("jobs.X", none()), "jobs.X | None");
        assert_eq!(written("int | str", none()), "int | str | None");
        assert_eq!(written("Never", none()), "None");
        assert_eq!(written("Optional[bytes]", none()), "bytes | None");
        for open in [
            "Any",
            "typing.Any",
            "object",
            "None",
            "int | Any",
            "Optional",
            "typing.Union",
        ] {
            assert_eq!(written(open, none()), parse(open).unwrap().to_string());
        }
        assert_eq!(written("bytes", Some(Literal::Int(1))), "bytes");
        assert_eq!(written("List[int]", None), "list[int]");
        assert_eq!(
            type_marks(Some(&parse("NoReturn").unwrap())),
            [(0, "PYI050")]
        );
        assert_eq!(
            type_marks(Some(&parse("int | float").unwrap())),
            [(0, "PYI041")]
        );
        assert!(type_marks(Some(&parse("list[NoReturn]").unwrap())).is_empty());
    }
}
