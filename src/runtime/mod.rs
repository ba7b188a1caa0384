//! Stage 8: the generated package → a running process. Finds or provisions a
//! Python with Prefect, finds or starts a Prefect server, and runs or serves
//! flows through the package's own runner (`python -m <package>`).

pub mod dirs;
pub mod layers;
pub mod params;
pub mod python;
pub mod server;
pub mod shim;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::Deserialize;

use crate::diagnostic::Diagnostic;
use crate::graph::{Flow, FlowGraph};
use crate::manifest::raw::TaskRunner;

/// Environment variables for a Python process.
pub type Env = Vec<(&'static str, String)>;

/// How to reach Prefect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerChoice {
    /// `$PREFECT_API_URL` if set, else opflow's local server.
    Default,
    /// Prefect's temporary server, started by the run itself.
    Ephemeral,
}

/// Options shared by `run` and `serve`.
#[derive(Debug, Clone)]
pub struct Options {
    pub python: Option<PathBuf>,
    pub no_install: bool,
    pub server: ServerChoice,
    pub quiet: bool,
}

/// The task runner a flow runs on: the override, else its `[flows.X]` setting.
pub fn task_runner_name(flow: &Flow, over: Option<TaskRunner>) -> &'static str {
    match over
        .or(flow.settings.task_runner)
        .unwrap_or(TaskRunner::Thread)
    {
        TaskRunner::Thread => "thread",
        TaskRunner::Process => "process",
        TaskRunner::Dask => "dask",
        TaskRunner::Ray => "ray",
    }
}

/// A Python with Prefect (and what the task runners need), and the
/// environment variables that point it at a Prefect server.
pub fn prepare(
    cwd: &Path,
    runners: &[&str],
    options: &Options,
) -> Result<(python::Python, Env), Diagnostic> {
    let found = python::discover(options.python.as_deref(), cwd);
    let mut extras: Vec<&str> = runners
        .iter()
        .filter_map(|r| python::extra_for(r))
        .collect();
    extras.sort_unstable();
    extras.dedup();
    let python = python::ensure(found, &extras, options.no_install, options.quiet)?;
    let mut env = match options.server {
        _ if std::env::var_os("PREFECT_API_URL").is_some_and(|v| !v.is_empty()) => {
            vec![("PREFECT_SERVER_ANALYTICS_ENABLED", "false".to_owned())]
        }
        // Prefect's temporary server keeps its database in PREFECT_HOME: opflow's, not ~/.prefect.
        ServerChoice::Ephemeral => vec![
            ("PREFECT_SERVER_ANALYTICS_ENABLED", "false".to_owned()),
            (
                "PREFECT_HOME",
                dirs::data().join("ephemeral").display().to_string(),
            ),
        ],
        ServerChoice::Default => server::env(&server::start(&python.path, options.quiet)?),
    };
    env.push(("PYTHONPATH", shim::pythonpath()?));
    Ok((python, env))
}

/// What the runner reports about a run.
#[derive(Debug, Default, Deserialize)]
pub struct Report {
    pub seconds: f64,
    #[serde(default)]
    pub states: BTreeMap<String, String>,
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub cancelled: bool,
}

/// The outcome of `opflow run`.
#[derive(Debug)]
pub struct Outcome {
    /// The runner's exit code.
    pub code: i32,
    /// What it printed on stdout: the result as JSON.
    pub stdout: String,
    pub report: Option<Report>,
    pub seconds: f64,
}

/// How much of Prefect's log a run shows (the runner's `--output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// One line a record, no traceback; the full log in a file.
    Brief,
    /// As Prefect prints it.
    Verbose,
    /// Warnings and errors only, one line each.
    Quiet,
}

/// Where a run of `flow` writes its full log: one file a flow of a package
/// (told apart by a digest of its path), replaced by the flow's next run.
pub fn log_file(package: &Path, flow: &str) -> PathBuf {
    let name = package
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = std::fs::canonicalize(package).unwrap_or_else(|_| package.to_path_buf());
    let digest = crate::render::digest(&path.to_string_lossy());
    let module =
        crate::render::python::bounded(&crate::hierarchy::module_name(flow), 64).into_owned();
    dirs::data()
        .join("logs")
        .join(format!("{name}-{module}-{}.log", &digest[..8]))
}

/// Run `flow` of the package at `package` (already built).
#[allow(clippy::too_many_arguments)]
pub fn run(
    package: &Path,
    flow: &str,
    params: &[(String, String)],
    extra: &[String],
    task_runner: Option<&str>,
    output: Output,
    python: &Path,
    env: &[(&'static str, String)],
) -> Result<Outcome, Diagnostic> {
    let report_path =
        std::env::temp_dir().join(format!("opflow-report-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&report_path);
    let name = package
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut command = Command::new(python);
    command.arg("-m").arg(&name).arg(flow);
    for (key, value) in params {
        command.arg("--json-param").arg(format!("{key}={value}"));
    }
    command.args(extra);
    if let Some(runner) = task_runner {
        command.args(["--task-runner", runner]);
    }
    command.arg("--report").arg(&report_path);
    command.arg("--output").arg(match output {
        Output::Brief => "brief",
        Output::Verbose => "verbose",
        Output::Quiet => "quiet",
    });
    let log = log_file(package, flow);
    if output != Output::Verbose
        && log
            .parent()
            .is_some_and(|dir| std::fs::create_dir_all(dir).is_ok())
    {
        command.arg("--log").arg(&log);
    }
    command.current_dir(package.parent().unwrap_or(Path::new(".")));
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    if env.iter().all(|(k, _)| *k != "PREFECT_API_URL")
        && std::env::var_os("PREFECT_API_URL").is_none()
    {
        command.env_remove("PREFECT_API_URL");
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // Ctrl-C reaches the runner too (same process group): it cancels the flow
    // and reports it; opflow stays to say so instead of dying first.
    let _ = ctrlc::set_handler(|| {});
    let start = Instant::now();
    let output = command.output().map_err(|e| Diagnostic::SpawnFailed {
        program: python.display().to_string(),
        reason: e.to_string(),
    })?;
    let report = std::fs::read_to_string(&report_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let _ = std::fs::remove_file(&report_path);
    Ok(Outcome {
        code: output.status.code().unwrap_or(130),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        report,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The one-line summary of a run, from the report and the flow's operations.
pub fn summary(graph: &FlowGraph, flow: &Flow, outcome: &Outcome) -> String {
    let ops = &graph.manifest.operations;
    let names: Vec<&str> = flow
        .operations
        .iter()
        .map(|&op| ops[op].name.as_str())
        .collect();
    let Some(report) = outcome.report.as_ref().filter(|_| outcome.code != 130) else {
        if outcome.code == 130 {
            return format!(
                "flow `{}` cancelled after {:.1} s",
                flow.name, outcome.seconds
            );
        }
        return format!(
            "flow `{}` did not start (exit {}), {:.1} s",
            flow.name, outcome.code, outcome.seconds
        );
    };
    let count = |state: &str| {
        names
            .iter()
            .filter(|n| report.states.get(**n).is_some_and(|s| s == state))
            .count()
    };
    let completed = count("COMPLETED");
    let failed = count("FAILED") + count("CRASHED");
    let not_run = names.len() - completed - failed;
    if report.cancelled {
        return format!(
            "flow `{}` cancelled after {:.1} s",
            flow.name, outcome.seconds
        );
    }
    let counts = if not_run == 0 && failed == 0 {
        format!(
            "{completed} operation{} completed",
            if completed == 1 { "" } else { "s" }
        )
    } else {
        let mut counts = format!("{completed} completed, {failed} failed, {not_run} not run");
        // The operations that run whatever their upstream's outcome.
        let all_done = flow
            .operations
            .iter()
            .filter(|&&op| ops[op].all_done)
            .filter(|&&op| {
                report
                    .states
                    .get(&ops[op].name)
                    .is_some_and(|s| matches!(s.as_str(), "COMPLETED" | "FAILED" | "CRASHED"))
            })
            .count();
        if all_done > 0 {
            let _ = write!(counts, " ({all_done} with trigger all_done ran)");
        }
        counts
    };
    match (&report.operation, outcome.code) {
        (_, 0) => format!(
            "flow `{}` completed: {counts}, {:.1} s",
            flow.name, outcome.seconds
        ),
        (Some(op), _) => format!(
            "flow `{}` failed at `{op}`: {counts}, {:.1} s",
            flow.name, outcome.seconds
        ),
        (None, _) => format!(
            "flow `{}` failed: {counts}, {:.1} s",
            flow.name, outcome.seconds
        ),
    }
}

/// Serve every flow: replaces this process with the package's runner on Unix,
/// so Ctrl-C reaches Prefect directly and stops it cleanly.
pub fn serve(
    package: &Path,
    python: &Path,
    env: &[(&'static str, String)],
) -> Result<i32, Diagnostic> {
    let name = package
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut command = Command::new(python);
    command.arg("-m").arg(&name).arg("--serve");
    command.current_dir(package.parent().unwrap_or(Path::new(".")));
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = command.exec();
        Err(Diagnostic::SpawnFailed {
            program: python.display().to_string(),
            reason: error.to_string(),
        })
    }
    #[cfg(not(unix))]
    {
        let status = command.status().map_err(|e| Diagnostic::SpawnFailed {
            program: python.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(status.code().unwrap_or(1))
    }
}

#[cfg(test)]
mod tests {
    use super::{Outcome, Report, summary};
    use crate::manifest::{Format, Source};

    #[test]
    fn a_failed_run_counts_the_all_done_operations_that_ran() {
        let text = r#"
version = 1

[[operations]]
name = "x.boom"
call = "ops:boom"
returns = "int"

[[operations]]
name = "x.after"
call = "ops:after"
params = { boom = "int" }

[[operations]]
name = "x.cleanup"
call = "ops:cleanup"
params = { boom = "int | None" }
trigger = "all_done"
"#;
        let source = Source {
            path: "operations.toml".into(),
            text: text.to_owned(),
        };
        let Ok(compiled) = crate::compile_source(source, Format::Toml) else {
            panic!("the manifest compiles");
        };
        let graph = &compiled.graph;
        let Some(flow) = graph.flows.iter().find(|f| f.name == "x") else {
            panic!("flow x");
        };
        let states = [
            ("x.boom", "FAILED"),
            ("x.after", "PENDING"),
            ("x.cleanup", "COMPLETED"),
        ];
        let outcome = Outcome {
            code: 1,
            stdout: String::new(),
            report: Some(Report {
                seconds: 1.0,
                states: states
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                operation: Some("x.boom".to_owned()),
                cancelled: false,
            }),
            seconds: 1.0,
        };
        assert_eq!(
            summary(graph, flow, &outcome),
            "flow `x` failed at `x.boom`: 1 completed, 1 failed, 1 not run \
             (1 with trigger all_done ran), 1.0 s"
        );
    }
}
