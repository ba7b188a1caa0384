//! Where a run's parameters come from, in order of precedence: the flow's
//! defaults (in the flow itself), then `--preset NAME` (`[presets.NAME]`),
//! then `--params-file FILE` (TOML, YAML or JSON, by its extension), then
//! `--param NAME=VALUE`. Everything is checked before Python starts.

use std::path::Path;

use crate::Failure;
use crate::diagnostic::{Diagnostic, at};
use crate::graph::{Flow, FlowGraph};
use crate::manifest::Value;
use crate::resolve::{Literal, types};
use crate::suggest::did_you_mean;

/// What the command line gives.
#[derive(Debug, Clone, Copy, Default)]
pub struct Given<'a> {
    pub params: &'a [String],
    pub preset: Option<&'a str>,
    pub file: Option<&'a Path>,
}

/// The runner's (name, JSON text) for every parameter given, layers merged.
/// `required`: whether a parameter without a default must be given.
pub fn gather(
    graph: &FlowGraph,
    flow: &Flow,
    given: Given<'_>,
    required: bool,
) -> Result<Vec<(String, String)>, Failure> {
    let mut base: Vec<(String, String)> = Vec::new();
    let mut set = |name: &str, value: &Literal| {
        base.retain(|(n, _)| n != name);
        base.push((name.to_owned(), json(value)));
    };
    if let Some(name) = given.preset {
        let Some(preset) = graph.manifest.presets.iter().find(|p| p.name == name) else {
            let names = graph.manifest.presets.iter().map(|p| p.name.as_str());
            let help = did_you_mean(name, names.clone()).map_or_else(
                || {
                    let all: Vec<String> = names.map(|n| format!("`{n}`")).collect();
                    if all.is_empty() {
                        "the manifest has no `[presets]`".to_owned()
                    } else {
                        format!("its presets: {}", all.join(", "))
                    }
                },
                |close| format!("did you mean `{close}`?"),
            );
            return Err(failure(vec![Diagnostic::UnknownPreset {
                name: name.to_owned(),
                help,
            }]));
        };
        // A preset is for every flow with those parameters: this flow
        // takes the ones it has.
        for value in &preset.values {
            if flow.params.iter().any(|p| p.name == value.name) {
                set(&value.name, &value.value);
            }
        }
    }
    if let Some(path) = given.file {
        for (name, value) in file(graph, flow, path)? {
            set(&name, &value);
        }
    }
    let params =
        super::params::convert_over(flow, given.params, base, required).map_err(failure)?;
    let broken: Vec<Diagnostic> = params
        .iter()
        .filter_map(|(name, text)| {
            let rules = graph.manifest.rules.get(name)?;
            let value = serde_json::from_str::<serde_json::Value>(text).ok()?;
            let reason = rules.check(&literal(&value))?;
            Some(Diagnostic::ParamRule {
                name: name.clone(),
                flow: flow.name.clone(),
                reason,
            })
        })
        .collect();
    if broken.is_empty() {
        Ok(params)
    } else {
        Err(failure(broken))
    }
}

/// A JSON value as a literal, to check rules on.
fn literal(value: &serde_json::Value) -> Literal {
    use serde_json::Value as J;
    match value {
        J::Null => Literal::None,
        J::Bool(b) => Literal::Bool(*b),
        J::Number(n) => n.as_i64().map_or_else(
            || Literal::Float(n.as_f64().unwrap_or(f64::NAN)),
            Literal::Int,
        ),
        J::String(s) => Literal::Str(s.clone()),
        J::Array(items) => Literal::List(items.iter().map(literal).collect()),
        J::Object(entries) => Literal::Dict(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), literal(v)))
                .collect(),
        ),
    }
}

fn failure(diagnostics: Vec<Diagnostic>) -> Failure {
    Failure {
        source: None,
        diagnostics,
    }
}

/// A parameters file's values, each a parameter of `flow` of its type and
/// within its rules, or the problems at their lines.
fn file(graph: &FlowGraph, flow: &Flow, path: &Path) -> Result<Vec<(String, Literal)>, Failure> {
    let document = crate::manifest::load(path)?;
    let mut values = Vec::new();
    let mut problems = Vec::new();
    match &document.root.value {
        Value::Table(entries) => {
            for (key, node) in entries {
                let literal = match Literal::from_node(node) {
                    Ok(literal) => literal,
                    Err((reason, span)) => {
                        problems.push(Diagnostic::InvalidDeployValue {
                            what: key.name.to_string(),
                            reason,
                            span: at(span),
                        });
                        continue;
                    }
                };
                let Some(param) = flow.params.iter().find(|p| p.name == key.name) else {
                    let names: Vec<&str> = flow.params.iter().map(|p| p.name.as_str()).collect();
                    let help = did_you_mean(&key.name, names.iter().copied()).map_or_else(
                        || {
                            format!(
                                "the parameters of flow `{}`: {}",
                                flow.name,
                                names.join(", ")
                            )
                        },
                        |close| format!("did you mean `{close}`?"),
                    );
                    problems.push(Diagnostic::UnknownScheduleParameter {
                        flow: flow.name.clone(),
                        param: key.name.to_string(),
                        span: at(key.span),
                        help,
                    });
                    continue;
                };
                if let Some(ty) = &param.ty
                    && let Some(reason) = types::judge_default(ty, &literal)
                {
                    problems.push(Diagnostic::ScheduleParameterType {
                        flow: flow.name.clone(),
                        param: param.name.clone(),
                        ty: ty.to_string(),
                        reason,
                        span: at(node.span),
                    });
                    continue;
                }
                if let Some(problem) =
                    crate::resolve::deploy::rule_problem(graph, &param.name, &literal, node.span)
                {
                    problems.push(problem);
                    continue;
                }
                values.push((key.name.to_string(), literal));
            }
        }
        _ => problems.push(Diagnostic::ParamsFileShape {
            span: at(document.root.span),
        }),
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(Failure {
            source: Some(document.source),
            diagnostics: problems,
        })
    }
}

/// A literal as the runner's JSON (Python's `json` reads `NaN` and `Infinity`).
fn json(value: &Literal) -> String {
    match value {
        Literal::Float(f) if f.is_nan() => "NaN".to_owned(),
        Literal::Float(f) if f.is_infinite() => {
            if *f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
        }
        Literal::BigInt(digits) => digits.clone(),
        Literal::List(items) => {
            format!("[{}]", items.iter().map(json).collect::<Vec<_>>().join(","))
        }
        Literal::Dict(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{}:{}", serde_json::Value::String(k.clone()), json(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => other.to_json().to_string(),
    }
}
