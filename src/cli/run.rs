//! `opflow run`, `opflow serve` and `opflow server`: the commands that start
//! Python. The work is in [`crate::runtime`]; this is choosing, printing and
//! exit codes.

use std::io::{IsTerminal, Write};

use super::{display_path, fail, package_dir, report, write_package};
use crate::diagnostic::{Diagnostic, Style};
use crate::graph::Flow;
use crate::manifest::raw::TaskRunner;
use crate::runtime::{self, Options, server};
use crate::{Compiled, Failure};

/// Build the package when it is stale (writing nothing when it is not).
fn build_if_stale(compiled: &Compiled, out: &mut dyn Write) -> Result<std::path::PathBuf, u8> {
    let dir = package_dir(compiled, None);
    match write_package(compiled, &dir, false) {
        Ok(changes) => {
            if !changes.written.is_empty() || !changes.removed.is_empty() {
                super::note!(
                    "opflow: built {} ({} file{} written)",
                    display_path(&dir),
                    changes.written.len(),
                    if changes.written.len() == 1 { "" } else { "s" }
                );
            }
            Ok(dir)
        }
        Err(diagnostics) => Err(fail(diagnostics, out, 1)),
    }
}

/// `opflow verify` (and the check before `build --verify` and `run`): the
/// findings, with `warnings` (the manifest's, when not printed already),
/// printed in `style` as one report; 0 when the code agrees (and no warning
/// is denied), 1 otherwise.
pub(super) fn verify(
    compiled: &Compiled,
    python: &std::path::Path,
    warnings: &[Diagnostic],
    style: Style,
    out: &mut dyn Write,
) -> u8 {
    let shim = match runtime::shim::pythonpath() {
        Ok(path) => path,
        Err(diagnostic) => return fail(vec![diagnostic], out, 1),
    };
    let start = std::time::Instant::now();
    let mut findings = match crate::verify::verify(compiled, python, &shim) {
        Ok(findings) => findings,
        Err(diagnostic) => return fail(vec![diagnostic], out, 1),
    };
    if super::ui().verbose {
        eprintln!(
            "opflow: verified {} operations with {} in {} ms",
            compiled.graph.manifest.operations.len(),
            python.display(),
            start.elapsed().as_millis()
        );
    }
    let errors = !findings.is_empty();
    findings.extend(warnings.iter().cloned());
    crate::diagnostic::sort(&mut findings);
    if findings.is_empty() {
        if style == Style::Json {
            let _ = writeln!(out, "[]");
        }
        return 0;
    }
    report(
        &Failure {
            source: Some(compiled.source.clone()),
            diagnostics: findings,
        },
        style,
        out,
        None,
    );
    u8::from(errors || super::ui().deny_warnings)
}

/// The flow to run: the one named; else the only flow besides `all`; else a
/// menu when a person is at the terminal; else an error listing them.
fn choose<'g>(compiled: &'g Compiled, name: Option<&str>) -> Result<&'g Flow, Diagnostic> {
    let flows = &compiled.graph.flows;
    let names: Vec<&str> = flows.iter().map(|f| f.name.as_str()).collect();
    if let Some(name) = name {
        return super::find_flow(compiled, name);
    }
    let own: Vec<&Flow> = flows
        .iter()
        .filter(|f| f.name != crate::resolve::ROOT_FLOW)
        .collect();
    if let [only] = own.as_slice() {
        return Ok(only);
    }
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        eprintln!("Which flow?");
        for (i, flow) in flows.iter().enumerate() {
            eprintln!(
                "  {}) {} ({} operations)",
                i + 1,
                flow.name,
                flow.operations.len()
            );
        }
        eprint!("Number: ");
        let mut line = String::new();
        if std::io::stdin().read_line(&mut line).is_ok()
            && let Ok(n) = line.trim().parse::<usize>()
            && let Some(flow) = flows.get(n.wrapping_sub(1))
        {
            return Ok(flow);
        }
    }
    Err(Diagnostic::ChooseFlow {
        flows: names.join(", "),
    })
}

/// `selection`: the operations to run, checked here before Python starts,
/// and planned by the flow itself (as a run started from Prefect is);
/// `resume`: rerun what the flow's last run did not complete.
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    compiled: &Compiled,
    flow: Option<&str>,
    given: runtime::layers::Given<'_>,
    selection: &super::SelectArgs,
    resume: bool,
    task_runner: Option<TaskRunner>,
    address: Option<&str>,
    options: &Options,
    json: bool,
    out: &mut dyn Write,
) -> u8 {
    let flow = match choose(compiled, flow) {
        Ok(flow) => flow,
        Err(diagnostic) => return fail(vec![diagnostic], out, 2),
    };
    // The selection is made here, exactly (`flow:F` by the flows' own
    // membership), and handed to the flow as the names it selected.
    let mut extra = Vec::new();
    match selection.selection(&compiled.graph, flow) {
        Err(failures) => return super::bad_selection(&failures, out),
        Ok(Some(chosen)) => {
            extra.push("--select".to_owned());
            let ops = &compiled.graph.manifest.operations;
            extra.extend(chosen.operations.iter().map(|&op| ops[op].name.clone()));
        }
        Ok(None) => {}
    }
    if resume {
        extra.push("--resume".to_owned());
    }
    if let Some(address) = address {
        extra.extend(["--address".to_owned(), address.to_owned()]);
    }
    let params = match runtime::layers::gather(&compiled.graph, flow, given, !resume) {
        Ok(params) => params,
        Err(failure) => {
            super::report(&failure, Style::Human, out, None);
            return 2;
        }
    };
    let package = match build_if_stale(compiled, out) {
        Ok(dir) => dir,
        Err(code) => return code,
    };
    let runner = runtime::task_runner_name(flow, task_runner);
    let cwd = std::env::current_dir().unwrap_or_default();
    let (python, env) = match runtime::prepare(&cwd, &[runner], options) {
        Ok(prepared) => prepared,
        Err(diagnostic) => return fail(vec![diagnostic], out, 1),
    };
    if super::ui().verbose {
        eprintln!(
            "opflow: Python {} ({})",
            python.path.display(),
            python.origin.describe()
        );
        for (key, value) in env.iter().filter(|(k, _)| *k == "PREFECT_API_URL") {
            eprintln!("opflow: {key}={value}");
        }
    }
    // The code is compared with the manifest first: a misspelt parameter or
    // a missing function is reported at its line, not as Prefect's traceback.
    let code = verify(compiled, &python.path, &[], Style::Human, out);
    if code != 0 {
        return code;
    }
    let over = task_runner.map(|_| runner);
    let output = match super::ui() {
        ui if ui.verbose => runtime::Output::Verbose,
        ui if ui.quiet => runtime::Output::Quiet,
        _ => runtime::Output::Brief,
    };
    let outcome = match runtime::run(
        &package,
        &flow.name,
        &params,
        &extra,
        over,
        output,
        &python.path,
        &env,
    ) {
        Ok(outcome) => outcome,
        Err(diagnostic) => return fail(vec![diagnostic], out, 1),
    };
    if outcome.code == 0 {
        let result = outcome.stdout.trim_end();
        if json {
            let compact = serde_json::from_str::<serde_json::Value>(result)
                .map_or_else(|_| result.to_owned(), |v| v.to_string());
            let _ = writeln!(out, "{compact}");
        } else {
            let _ = writeln!(out, "{result}");
        }
    }
    super::note!("{}", runtime::summary(&compiled.graph, flow, &outcome));
    let local = env.iter().any(|(k, _)| *k == "PREFECT_HOME")
        && std::env::var_os("PREFECT_API_URL").is_none();
    if outcome.code != 0
        && local
        && server::status().is_none()
        && options.server == runtime::ServerChoice::Default
    {
        let message = format!(
            "the local Prefect server stopped during the run (see {}); the next `opflow run` starts a new one",
            server::home().join("server.log").display()
        );
        let _ = fail(vec![Diagnostic::ServerFailed(message)], out, 1);
    }
    u8::try_from(outcome.code).unwrap_or(1)
}

pub(super) fn serve(compiled: &Compiled, options: &Options, out: &mut dyn Write) -> u8 {
    let package = match build_if_stale(compiled, out) {
        Ok(dir) => dir,
        Err(code) => return code,
    };
    let runners: Vec<&str> = compiled
        .graph
        .flows
        .iter()
        .map(|f| runtime::task_runner_name(f, None))
        .collect();
    let cwd = std::env::current_dir().unwrap_or_default();
    let (python, env) = match runtime::prepare(&cwd, &runners, options) {
        Ok(prepared) => prepared,
        Err(diagnostic) => return fail(vec![diagnostic], out, 1),
    };
    let api = env
        .iter()
        .find(|(k, _)| *k == "PREFECT_API_URL")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var("PREFECT_API_URL").ok())
        .unwrap_or_default();
    let ui = api.trim_end_matches('/').trim_end_matches("/api");
    super::note!(
        "opflow: serving {} flows as deployments; Prefect UI at {ui}; Ctrl-C stops",
        compiled.graph.flows.len()
    );
    match runtime::serve(&package, &python.path, &env) {
        Ok(code) => u8::try_from(code).unwrap_or(1),
        Err(diagnostic) => fail(vec![diagnostic], out, 1),
    }
}

pub(super) fn server(action: &str, options: &Options, out: &mut dyn Write) -> u8 {
    match action {
        "status" => {
            if let Some(state) = server::status() {
                let _ = writeln!(out, "running at {} (pid {})", state.ui_url(), state.pid);
                0
            } else {
                let _ = writeln!(out, "not running");
                1
            }
        }
        "stop" => {
            if server::stop() {
                let _ = writeln!(out, "stopped");
            } else {
                let _ = writeln!(out, "not running");
            }
            0
        }
        _ => {
            let cwd = std::env::current_dir().unwrap_or_default();
            let found = runtime::python::discover(options.python.as_deref(), &cwd);
            let python =
                match runtime::python::ensure(found, &[], options.no_install, options.quiet) {
                    Ok(python) => python,
                    Err(diagnostic) => return fail(vec![diagnostic], out, 1),
                };
            match server::start(&python.path, options.quiet) {
                Ok(state) => {
                    let _ = writeln!(out, "running at {} (pid {})", state.ui_url(), state.pid);
                    0
                }
                Err(diagnostic) => fail(vec![diagnostic], out, 1),
            }
        }
    }
}

/// `opflow scan`: the shim's scanner, run by the project's Python (where the
/// scanned modules' own dependencies are), with the shim on its path.
pub(super) fn scan(
    modules: &[String],
    output: Option<&std::path::Path>,
    format: Option<&str>,
    check: bool,
    options: &Options,
    out: &mut dyn Write,
) -> u8 {
    use runtime::python::{self, Origin};
    let cwd = std::env::current_dir().unwrap_or_default();
    let found = python::discover(options.python.as_deref(), &cwd);
    let python = if python::installed(&found.path, "tomli-w").is_some() {
        found
    } else if found.origin == Origin::Path {
        // A bare python3: opflow's own environment has the scanner's needs.
        match python::ensure(found, &["tomli-w"], options.no_install, options.quiet) {
            Ok(python) => python,
            Err(diagnostic) => return fail(vec![diagnostic], out, 1),
        }
    } else {
        let diagnostic = Diagnostic::MissingPackage {
            python: found.path.display().to_string(),
            origin: found.origin.describe(),
            package: "tomli-w",
        };
        return fail(vec![diagnostic], out, 1);
    };
    let pythonpath = match runtime::shim::pythonpath() {
        Ok(path) => path,
        Err(diagnostic) => return fail(vec![diagnostic], out, 1),
    };
    let mut command = std::process::Command::new(&python.path);
    command.args(["-m", "opflow", "scan"]).args(modules);
    if let Some(output) = output {
        command.arg("-o").arg(output);
    }
    if let Some(format) = format {
        command.args(["--format", format]);
    }
    if check {
        command.arg("--check");
    }
    command.env("PYTHONPATH", pythonpath);
    let _ = out.flush();
    match command.status() {
        Ok(status) => u8::try_from(status.code().unwrap_or(1)).unwrap_or(1),
        Err(e) => fail(
            vec![Diagnostic::SpawnFailed {
                program: python.path.display().to_string(),
                reason: e.to_string(),
            }],
            out,
            1,
        ),
    }
}
