//! `opflow plan` and `opflow list`: the flows, their stages and parameters,
//! and how each parameter was bound. The JSON form is documented in the README
//! and stable.

use std::fmt::Write as _;

use serde_json::{Map, Value as J, json};

use crate::graph::{Flow, FlowGraph, FlowParam};
use crate::hierarchy;
use crate::resolve::Operation;
use crate::select::Stored;

fn names(graph: &FlowGraph, ops: &[usize]) -> Vec<String> {
    ops.iter()
        .map(|&i| graph.manifest.operations[i].name.clone())
        .collect()
}

/// Names as the text plan shows them: a mapped operation as `name[*]`.
fn shown(graph: &FlowGraph, ops: &[usize]) -> Vec<String> {
    ops.iter()
        .map(|&i| graph.manifest.operations[i].shown().into_owned())
        .collect()
}

fn param_json(param: &FlowParam) -> J {
    json!({
        "name": param.name,
        "type": param.ty.as_ref().map(ToString::to_string),
        "default": param.default.as_ref().map_or(J::Null, crate::resolve::Literal::to_json),
        "required": param.default.is_none(),
    })
}

fn operation_json(graph: &FlowGraph, op: &Operation) -> J {
    let parsed = hierarchy::parse(&op.name);
    let mut bindings = Map::new();
    for param in &op.params {
        bindings.insert(
            param.name.clone(),
            json!({
                "rule": param.rule.as_str(),
                "from": param.binding.source(&graph.manifest),
                "type": param.ty.as_ref().map(ToString::to_string),
            }),
        );
    }
    let mut value = json!({
        "name": op.name,
        "level": parsed.level,
        "parent": parsed.parent,
        "step": parsed.step,
        "call": format!("{}:{}", op.call.module, op.call.qualname),
        "async": op.is_async,
        "returns": op.returns.as_ref().map(ToString::to_string),
        "outputs": op.outputs.iter().map(|(name, ty)| (name.clone(), J::String(ty.to_string()))).collect::<Map<_, _>>(),
        "bindings": bindings,
        "after": names(graph, &op.after),
    });
    // Only a mapped operation has `map` (the parameters mapped over).
    if let (true, J::Object(fields)) = (op.is_mapped(), &mut value) {
        fields.insert("map".to_owned(), json!(op.map));
    }
    // Only an operation that runs after failures upstream has `trigger`.
    if let (true, J::Object(fields)) = (op.all_done, &mut value) {
        fields.insert("trigger".to_owned(), json!("all_done"));
    }
    value
}

fn flow_json(graph: &FlowGraph, flow: &Flow, stored: Option<&[Stored]>) -> J {
    let mut value = json!({
        "name": flow.name,
        "description": flow.settings.description,
        "task_runner": flow.settings.task_runner,
        "params": flow.params.iter().map(param_json).collect::<Vec<_>>(),
        "stages": flow.stages.iter().map(|stage| names(graph, stage)).collect::<Vec<_>>(),
        "sinks": names(graph, &flow.sinks),
        "critical_path": names(graph, &flow.critical_path),
        "operations": flow.operations.iter().map(|&i| operation_json(graph, &graph.manifest.operations[i])).collect::<Vec<_>>(),
    });
    // Only a flow whose groups run as nested flows has `subflows` (the groups).
    let subflows = flow.subflows(&graph.manifest.operations);
    if let (false, J::Object(fields)) = (subflows.is_empty(), &mut value) {
        fields.insert("subflows".to_owned(), json!(subflows));
    }
    if let (Some(stored), J::Object(fields)) = (stored, &mut value) {
        let ops = &graph.manifest.operations;
        let inputs = stored
            .iter()
            .map(|s| {
                json!({
                    "operation": ops[s.operation].name,
                    "param": s.param,
                    "producer": ops[s.producer].name,
                    "output": s.output,
                })
            })
            .collect();
        fields.insert("stored_inputs".to_owned(), J::Array(inputs));
    }
    value
}

/// The plan as JSON; with a selection's `stored` inputs, each flow (the
/// selected part) also lists them as `stored_inputs`.
pub fn json(graph: &FlowGraph, stored: Option<&[Stored]>) -> String {
    let plan = json!({
        "flows": graph.flows.iter().map(|flow| flow_json(graph, flow, stored)).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&plan).unwrap_or_default();
    text.push('\n');
    text
}

fn param_text(param: &FlowParam) -> String {
    super::declared(&param.name, param.ty.as_ref(), param.default.as_ref())
}

/// The plan as text; with a selection's `stored` inputs, a parameter read
/// from storage says so.
pub fn text(graph: &FlowGraph, stored: Option<&[Stored]>) -> String {
    let mut out = String::new();
    for flow in &graph.flows {
        let _ = writeln!(
            out,
            "flow {} ({} operation{}, {} stage{})",
            flow.name,
            flow.operations.len(),
            if flow.operations.len() == 1 { "" } else { "s" },
            flow.stages.len(),
            if flow.stages.len() == 1 { "" } else { "s" },
        );
        if let Some(description) = &flow.settings.description {
            let _ = writeln!(out, "  {}", description.escape_debug());
        }
        if !flow.params.is_empty() {
            let params: Vec<String> = flow.params.iter().map(param_text).collect();
            let _ = writeln!(out, "  params: {}", params.join(", "));
        }
        for (i, stage) in flow.stages.iter().enumerate() {
            let _ = writeln!(out, "  stage {}: {}", i + 1, shown(graph, stage).join(", "));
        }
        let _ = writeln!(
            out,
            "  critical path: {}",
            shown(graph, &flow.critical_path).join(" -> ")
        );
        let subflows = flow.subflows(&graph.manifest.operations);
        if !subflows.is_empty() {
            let _ = writeln!(out, "  nested flows: {}", subflows.join(", "));
        }
        for &i in &flow.operations {
            let op = &graph.manifest.operations[i];
            let _ = writeln!(
                out,
                "  {} = {}:{}{}",
                op.shown(),
                op.call.module,
                op.call.qualname,
                if op.all_done {
                    " (trigger all_done)"
                } else {
                    ""
                }
            );
            for param in &op.params {
                let _ = write!(
                    out,
                    "    {} <- {} ({})",
                    param.name,
                    param.binding.source(&graph.manifest),
                    param.rule.as_str()
                );
                let from_storage = stored
                    .unwrap_or_default()
                    .iter()
                    .find(|s| s.operation == i && s.param == param.name);
                if let Some(from) = from_storage {
                    let _ = write!(
                        out,
                        ", read from the last result of `{}` (not selected)",
                        graph.manifest.operations[from.producer].name
                    );
                }
                out.push('\n');
            }
            if !op.after.is_empty() {
                let _ = writeln!(out, "    after {}", names(graph, &op.after).join(", "));
            }
        }
        out.push('\n');
    }
    out
}

pub fn list_text(graph: &FlowGraph) -> String {
    let mut out = String::new();
    let width = graph.flows.iter().map(|f| f.name.len()).max().unwrap_or(0);
    let digits = graph
        .flows
        .iter()
        .map(|f| f.operations.len().to_string().len())
        .max()
        .unwrap_or(1);
    for flow in &graph.flows {
        let params: Vec<String> = flow.params.iter().map(param_text).collect();
        let _ = writeln!(
            out,
            "{:width$}  {:>digits$} operation{}  {}",
            flow.name,
            flow.operations.len(),
            if flow.operations.len() == 1 { " " } else { "s" },
            if params.is_empty() {
                "(no parameters)".to_owned()
            } else {
                params.join(", ")
            },
        );
    }
    out
}

pub fn list_json(graph: &FlowGraph) -> String {
    let flows: Vec<J> = graph
        .flows
        .iter()
        .map(|flow| {
            json!({
                "name": flow.name,
                "description": flow.settings.description,
                "operations": flow.operations.len(),
                "params": flow.params.iter().map(param_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&json!({ "flows": flows })).unwrap_or_default();
    text.push('\n');
    text
}

/// `opflow list --select`: the selected operations' names, one per line.
pub fn names_text(graph: &FlowGraph, ops: &[usize]) -> String {
    names(graph, ops)
        .iter()
        .fold(String::new(), |mut out, name| {
            let _ = writeln!(out, "{name}");
            out
        })
}

/// `opflow list --select --format json`: `{"operations": [names]}`.
pub fn names_json(graph: &FlowGraph, ops: &[usize]) -> String {
    let mut text = serde_json::to_string_pretty(&json!({ "operations": names(graph, ops) }))
        .unwrap_or_default();
    text.push('\n');
    text
}
