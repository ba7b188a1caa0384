//! `opflow verify`: the manifest against the code. A stage after resolve:
//! opflow's Python package (`python/src/opflow/_verify.py`) imports every
//! operation's module in the project's Python, in a subprocess with a
//! timeout (nothing but the imports runs), and reports what the code says:
//! signatures, `async`, annotations in the manifest's type grammar, the
//! return type's fields. The comparison is here, with the binder's types
//! (`resolve::types`), and every finding is a diagnostic at the manifest's
//! span.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use crate::Compiled;
use crate::diagnostic::{Diagnostic, at};
use crate::manifest::{self, Format, Node, Span};
use crate::resolve::{Operation, types};
use crate::suggest::did_you_mean;

/// How long the imports may take before opflow gives up.
pub const TIMEOUT: Duration = Duration::from_mins(1);

/// What `_verify.py` says about one operation's callable.
#[derive(Debug, Deserialize)]
struct Fact {
    id: usize,
    #[serde(default)]
    error: Option<Unusable>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    candidates: Vec<String>,
    #[serde(default, rename = "async")]
    is_async: bool,
    #[serde(default)]
    signature: bool,
    #[serde(default)]
    params: Vec<FactParam>,
    #[serde(default)]
    returns: Option<String>,
    #[serde(default)]
    fields: Option<Fields>,
}

/// Why a callable cannot be compared at all.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Unusable {
    ImportFailed,
    NoSuchCallable,
    NotAFunction,
}

/// A parameter's kind, as `inspect.Parameter.kind` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    PositionalOnly,
    PositionalOrKeyword,
    VarPositional,
    KeywordOnly,
    VarKeyword,
}

impl Kind {
    /// Can opflow pass it by name?
    const fn by_name(self) -> bool {
        matches!(self, Self::PositionalOrKeyword | Self::KeywordOnly)
    }
}

#[derive(Debug, Deserialize)]
struct FactParam {
    name: String,
    kind: Kind,
    default: bool,
    #[serde(rename = "type")]
    ty: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Fields {
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    count: Option<usize>,
    #[serde(default)]
    any: bool,
}

/// Import every operation's callable with `python` and compare it with the
/// manifest: the findings (sorted), or why the check could not run.
pub fn verify(
    compiled: &Compiled,
    python: &Path,
    shim_path: &str,
) -> Result<Vec<Diagnostic>, Diagnostic> {
    let facts = facts(compiled, python, shim_path)?;
    let spans = Spans::read(compiled);
    let ops = &compiled.graph.manifest.operations;
    let hooks = hooks(compiled);
    let mut findings = Vec::new();
    for fact in facts {
        if let Some(op) = ops.get(fact.id) {
            compare(&compiled.source, fact.id, op, &fact, &spans, &mut findings);
        } else if let Some((reference, pointer)) = hooks.get(fact.id - ops.len()) {
            // A hook is checked as far as it is a function that imports.
            let span = spans.pointer(pointer).unwrap_or_default();
            unusable(&compiled.source, reference, span, &fact, &mut findings);
        }
    }
    crate::diagnostic::sort(&mut findings);
    Ok(findings)
}

/// Run `_verify.py` on the manifest's operations.
fn facts(compiled: &Compiled, python: &Path, shim_path: &str) -> Result<Vec<Fact>, Diagnostic> {
    let manifest = &compiled.graph.manifest;
    let root = compiled
        .source
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let paths: Vec<String> = manifest
        .project
        .python_path
        .iter()
        .map(|p| root.join(p).display().to_string())
        .collect();
    let mut operations: Vec<serde_json::Value> = manifest
        .operations
        .iter()
        .enumerate()
        .map(|(id, op)| json!({"id": id, "call": format!("{}:{}", op.call.module, op.call.qualname)}))
        .collect();
    // The hooks after the operations, numbered on.
    let count = operations.len();
    operations.extend(
        hooks(compiled)
            .into_iter()
            .enumerate()
            .map(|(i, (reference, _))| json!({"id": count + i, "call": reference})),
    );
    let spec = json!({"paths": paths, "operations": operations}).to_string();
    // The child runs in the manifest's folder: a relative `--python
    // venv/bin/python` is the user's, from here (a bare `python3` is looked up on PATH).
    let python = if python.is_relative() && python.components().count() > 1 {
        std::env::current_dir().unwrap_or_default().join(python)
    } else {
        python.to_path_buf()
    };
    let python = python.as_path();
    let failed = |reason: String| Diagnostic::VerifyFailed {
        reason,
        help: format!(
            "check that `{}` runs; choose another Python with `--python`",
            python.display()
        ),
    };
    let mut child = Command::new(python)
        .args(["-m", "opflow._verify"])
        .current_dir(&root)
        .env("PYTHONPATH", shim_path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Diagnostic::SpawnFailed {
            program: python.display().to_string(),
            reason: e.to_string(),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(spec.as_bytes());
    }
    // Read both pipes on threads, so a chatty import cannot fill one and stall.
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(pipe) = stdout.as_mut() {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(pipe) = stderr.as_mut() {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(format!(
                    "importing the operations' modules took more than {} s",
                    TIMEOUT.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(failed(e.to_string())),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(failed(format!(
            "`{} -m opflow._verify` failed: {last}",
            python.display()
        )));
    }
    serde_json::from_str(stdout.trim()).map_err(|e| failed(format!("unreadable report: {e}")))
}

/// The spans of what the manifest writes about each operation, read again
/// from the source (the compiled graph keeps only names and parameters).
struct Spans {
    root: Option<Node>,
}

impl Spans {
    fn read(compiled: &Compiled) -> Self {
        let root = Format::from_path(&compiled.source.path)
            .and_then(|format| manifest::parse(compiled.source.clone(), format).ok())
            .map(|document| document.root);
        Self { root }
    }

    fn pointer(&self, pointer: &str) -> Option<Span> {
        self.root.as_ref()?.pointer(pointer).map(|node| node.span)
    }

    fn at(&self, id: usize, path: &str) -> Option<Span> {
        self.root
            .as_ref()?
            .pointer(&format!("/operations/{id}{path}"))
            .map(|node| node.span)
    }
}

/// A `module:qualname` that does not import, is not there or is not a
/// function: reported at its span (its module or qualname part, when the
/// string is written plainly); true when it was.
fn unusable(
    source: &crate::manifest::Source,
    call: &str,
    call_span: Span,
    fact: &Fact,
    out: &mut Vec<Diagnostic>,
) -> bool {
    let (module, qualname) = call.split_once(':').unwrap_or((call, ""));
    let part = |start: usize, len: usize| source.sub_span(call_span, call, (start, start + len));
    let module_span = part(0, module.len());
    let qualname_span = part(module.len() + 1, qualname.len());
    match fact.error {
        Some(Unusable::ImportFailed) => {
            out.push(Diagnostic::ImportFailed {
                module: module.to_owned(),
                message: fact.message.clone(),
                span: at(module_span),
            });
        }
        Some(Unusable::NoSuchCallable) => {
            let missing = qualname.split('.').next_back().unwrap_or("");
            let help = did_you_mean(missing, fact.candidates.iter().map(String::as_str))
                .map_or_else(
                    || format!("{}; check the name after `:`", fact.message),
                    |close| format!("did you mean `{close}`?"),
                );
            out.push(Diagnostic::NoSuchCallable {
                module: module.to_owned(),
                qualname: qualname.to_owned(),
                span: at(qualname_span),
                help,
            });
        }
        Some(Unusable::NotAFunction) => {
            out.push(Diagnostic::NotAFunction {
                call: call.to_owned(),
                what: fact.message.clone(),
                span: at(qualname_span),
            });
        }
        None => return false,
    }
    true
}

/// Every state hook of the manifest (`[flows.X]`'s and the operations'),
/// with the JSON pointer of where it is written.
fn hooks(compiled: &Compiled) -> Vec<(String, String)> {
    let manifest = &compiled.graph.manifest;
    let mut hooks = Vec::new();
    for (flow, settings) in &manifest.flows {
        for (key, references) in &settings.hooks {
            for (i, reference) in references.iter().enumerate() {
                hooks.push((reference.clone(), format!("/flows/{flow}/{key}/{i}")));
            }
        }
    }
    for (id, op) in manifest.operations.iter().enumerate() {
        for (key, references) in &op.hooks {
            for (i, reference) in references.iter().enumerate() {
                hooks.push((reference.clone(), format!("/operations/{id}/{key}/{i}")));
            }
        }
    }
    hooks
}

fn compare(
    source: &crate::manifest::Source,
    id: usize,
    op: &Operation,
    fact: &Fact,
    spans: &Spans,
    out: &mut Vec<Diagnostic>,
) {
    let call = format!("{}:{}", op.call.module, op.call.qualname);
    let call_span = spans.at(id, "/call").unwrap_or(op.span);
    if unusable(source, &call, call_span, fact, out) {
        return;
    }
    if fact.is_async != op.is_async {
        let (said, is, help) = if fact.is_async {
            (
                "nothing of `async`",
                "an `async def`",
                "add `async = true` to the operation",
            )
        } else {
            (
                "`async = true`",
                "a plain `def`",
                "remove `async = true`, or make the function `async def`",
            )
        };
        out.push(Diagnostic::AsyncMismatch {
            operation: op.name.clone(),
            call: call.clone(),
            said,
            is,
            span: at(spans.at(id, "/async").unwrap_or(call_span)),
            help: help.to_owned(),
        });
    }
    if !fact.signature {
        return;
    }
    let keywords = fact.params.iter().any(|p| p.kind == Kind::VarKeyword);
    let by_name = |name: &str| {
        fact.params
            .iter()
            .find(|p| p.name == name && p.kind.by_name())
    };
    for param in &op.params {
        let Some(code) = by_name(&param.name) else {
            if keywords {
                continue;
            }
            let free: Vec<&str> = fact
                .params
                .iter()
                .filter(|p| p.kind.by_name())
                .map(|p| p.name.as_str())
                .filter(|name| !op.params.iter().any(|q| q.name == *name))
                .collect();
            let positional = fact
                .params
                .iter()
                .any(|p| p.name == param.name && p.kind == Kind::PositionalOnly);
            let help = if positional {
                format!(
                    "`{}` is positional-only in the function, and opflow passes every argument by name: remove the `/`",
                    param.name
                )
            } else {
                did_you_mean(&param.name, free.iter().copied()).map_or_else(
                    || {
                        if free.is_empty() {
                            "remove it from `params`".to_owned()
                        } else {
                            format!("the function's other parameters: {}", free.join(", "))
                        }
                    },
                    |close| format!("did you mean `{close}`?"),
                )
            };
            out.push(Diagnostic::UnknownParameter {
                call: call.clone(),
                param: param.name.clone(),
                span: at(param.span),
                help,
            });
            continue;
        };
        let (Some(declared), Some(annotated)) = (&param.ty, &code.ty) else {
            continue;
        };
        let Ok(annotated_ty) = types::parse(annotated) else {
            continue;
        };
        if !types::accepts(&annotated_ty, declared) {
            out.push(Diagnostic::ParamTypeMismatch {
                call: call.clone(),
                param: param.name.clone(),
                declared: declared.to_string(),
                annotated: annotated.clone(),
                span: at(spans.type_span(id, &param.name).unwrap_or(param.span)),
            });
        }
    }
    for code in &fact.params {
        let required =
            !code.default && !matches!(code.kind, Kind::VarPositional | Kind::VarKeyword);
        if required && !op.params.iter().any(|p| p.name == code.name) {
            let ty = code.ty.as_deref().unwrap_or("TYPE");
            out.push(Diagnostic::MissingParameter {
                call: call.clone(),
                param: code.name.clone(),
                span: at(call_span),
                help: format!(
                    "add it to the operation's `params`: `{} = \"{ty}\"`",
                    code.name
                ),
            });
        }
    }
    if let (Some(declared), Some(annotated)) = (&op.returns, &fact.returns)
        && let Ok(annotated_ty) = types::parse(annotated)
        && !types::accepts(declared, &annotated_ty)
    {
        out.push(Diagnostic::ReturnTypeMismatch {
            operation: op.name.clone(),
            call: call.clone(),
            declared: declared.to_string(),
            annotated: annotated.clone(),
            span: at(spans.at(id, "/returns").unwrap_or(call_span)),
        });
    }
    check_outputs(id, op, fact, spans, out);
}

/// Named outputs the return type cannot provide, when the type tells.
fn check_outputs(id: usize, op: &Operation, fact: &Fact, spans: &Spans, out: &mut Vec<Diagnostic>) {
    let Some(fields) = &fact.fields else { return };
    if fields.any || op.outputs.is_empty() {
        return;
    }
    let returns = fact
        .returns
        .clone()
        .unwrap_or_else(|| "its return type".to_owned());
    if let Some(count) = fields.count {
        if count != op.outputs.len() {
            let (name, _) = &op.outputs[0];
            out.push(Diagnostic::MissingOutput {
                operation: op.name.clone(),
                output: name.clone(),
                returns,
                span: at(spans.key_span(id, "/outputs", name).unwrap_or(op.span)),
                help: format!(
                    "the function returns a tuple of {count}, the manifest names {} outputs: name one per position",
                    op.outputs.len()
                ),
            });
        }
        return;
    }
    let Some(names) = &fields.names else { return };
    for (name, _) in &op.outputs {
        if names.contains(name) {
            continue;
        }
        let help = did_you_mean(name, names.iter().map(String::as_str)).map_or_else(
            || format!("its fields: {}", names.join(", ")),
            |close| format!("did you mean `{close}`?"),
        );
        out.push(Diagnostic::MissingOutput {
            operation: op.name.clone(),
            output: name.clone(),
            returns: returns.clone(),
            span: at(spans.key_span(id, "/outputs", name).unwrap_or(op.span)),
            help,
        });
    }
}

impl Spans {
    /// A parameter's type string: `params.p = "int"` or `params.p.type`.
    fn type_span(&self, id: usize, param: &str) -> Option<Span> {
        let node = self
            .root
            .as_ref()?
            .pointer(&format!("/operations/{id}/params/{param}"))?;
        Some(node.get("type").map_or(node.span, |ty| ty.span))
    }

    /// The span of a key in a table.
    fn key_span(&self, id: usize, table: &str, key: &str) -> Option<Span> {
        let node = self
            .root
            .as_ref()?
            .pointer(&format!("/operations/{id}{table}"))?;
        node.entry(key).map(|(k, _)| k.span)
    }
}
