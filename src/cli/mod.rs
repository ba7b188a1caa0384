//! The command line: arguments, dispatch, exit codes. Commands print views of
//! the compiled graph; diagnostics are printed by [`crate::diagnostic`] only.

mod draw;
mod plan;
mod run;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::{Context, Diagnostic, Style};
use crate::{Compiled, Failure};

/// Manifests looked for in the current folder, in this order.
pub const MANIFEST_NAMES: [&str; 4] = [
    "operations.toml",
    "operations.yaml",
    "operations.yml",
    "operations.json",
];

#[derive(Debug, Parser)]
#[command(
    name = "opflow",
    version,
    about = "Compile a manifest of Python operations into Prefect 3 flows"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse, validate and resolve the manifest; print every problem.
    Check {
        /// The manifest (default: operations.toml, .yaml, .yml or .json here).
        manifest: Option<PathBuf>,
        /// How to print problems.
        #[arg(long, value_enum, default_value = "human")]
        format: Style,
    },
    /// Generate the Prefect package: a module per flow, `__init__.py`, `__main__.py`, `prefect.yaml`.
    Build {
        manifest: Option<PathBuf>,
        /// Output folder (default: `[project] output`, relative to the manifest).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write nothing; print a diff and exit 1 if the package on disk is stale.
        #[arg(long)]
        check: bool,
        /// Overwrite generated files that were edited by hand.
        #[arg(long)]
        force: bool,
    },
    /// Build the package if it is stale, then run a flow and print its result.
    Run {
        /// The manifest and/or the flow: `opflow run [MANIFEST] [FLOW]`.
        #[arg(num_args = 0..=2, value_name = "MANIFEST|FLOW")]
        targets: Vec<String>,
        /// A flow parameter, converted by its type (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Run the flow's tasks on this task runner instead of its own.
        #[arg(long, value_enum)]
        task_runner: Option<RunnerArg>,
        #[command(flatten)]
        runtime: RuntimeArgs,
        /// Use Prefect's temporary server instead of opflow's local one.
        #[arg(long)]
        ephemeral: bool,
        /// Print only the result, as JSON, on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Import Python modules and write the manifest from their `@operation` functions.
    Scan {
        /// Modules or packages to import (packages recursively).
        #[arg(required = true)]
        modules: Vec<String>,
        /// The manifest to write (default: print it). An existing one keeps
        /// everything but its operations.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// toml, yaml or json (default: by the output's extension).
        #[arg(long)]
        format: Option<String>,
        /// Write nothing; exit 1 if the manifest is not what the scan would write.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// Serve every flow as a deployment on the Prefect server until interrupted.
    Serve {
        manifest: Option<PathBuf>,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// Start, stop or show opflow's local Prefect server.
    Server {
        #[arg(value_enum)]
        action: ServerAction,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// Show the flows, their stages and parameters, and how each parameter was bound.
    Plan {
        manifest: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
    },
    /// Draw the dependency graph, with the hierarchy as nested clusters.
    Graph {
        manifest: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "mermaid")]
        format: GraphFormat,
        /// The flow to draw (default: `all`).
        #[arg(long)]
        flow: Option<String>,
    },
    /// Print the manifest's JSON Schema.
    Schema,
    /// List the flows with their parameters and operation counts.
    List {
        manifest: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
    },
}

/// Where the Python comes from.
#[derive(Debug, Clone, clap::Args)]
struct RuntimeArgs {
    /// The Python to use (default: `$OPFLOW_PYTHON`, the active virtualenv, `./.venv`, `python3`).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Fail instead of creating opflow's own Python environment when Prefect is missing.
    #[arg(long)]
    no_install: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RunnerArg {
    Thread,
    Process,
    Dask,
    Ray,
}

impl From<RunnerArg> for crate::manifest::raw::TaskRunner {
    fn from(arg: RunnerArg) -> Self {
        match arg {
            RunnerArg::Thread => Self::Thread,
            RunnerArg::Process => Self::Process,
            RunnerArg::Dask => Self::Dask,
            RunnerArg::Ray => Self::Ray,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ServerAction {
    Start,
    Stop,
    Status,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PlanFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GraphFormat {
    Mermaid,
    Dot,
}

/// Run the command line; the process's exit code.
pub fn main() -> ExitCode {
    // Deeply nested input recurses in the parsers: give them room.
    let worker = std::thread::Builder::new().stack_size(256 << 20).spawn(run);
    match worker.map(std::thread::JoinHandle::join) {
        Ok(Ok(code)) => ExitCode::from(code),
        _ => ExitCode::from(101),
    }
}

fn run() -> u8 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return u8::try_from(error.exit_code()).unwrap_or(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = execute(cli.command, &mut out);
    let _ = out.flush();
    code
}

fn execute(command: Command, out: &mut dyn Write) -> u8 {
    match command {
        Command::Schema => {
            let _ = out.write_all(crate::schema::schema_text().as_bytes());
            0
        }
        Command::Check { manifest, format } => {
            with_compiled(manifest.as_deref(), format, out, |compiled, out| {
                let ops = compiled.graph.manifest.operations.len();
                let flows = compiled.graph.flows.len();
                if format == Style::Json {
                    let _ = writeln!(out, "[]");
                } else {
                    eprintln!(
                        "ok: {} has {ops} operation{} in {flows} flow{}",
                        display_path(&compiled.document.source.path),
                        plural(ops),
                        plural(flows)
                    );
                }
                0
            })
        }
        Command::Build {
            manifest,
            out: out_dir,
            check,
            force,
        } => with_compiled(manifest.as_deref(), Style::Human, out, |compiled, out| {
            build(compiled, out_dir.as_deref(), check, force, out)
        }),
        Command::Run {
            targets,
            params,
            task_runner,
            runtime,
            ephemeral,
            json,
        } => {
            let (manifest, flow) = split_targets(&targets);
            with_compiled(manifest.as_deref(), Style::Human, out, |compiled, out| {
                let options = runtime_options(&runtime, ephemeral);
                run::run(
                    compiled,
                    flow.as_deref(),
                    &params,
                    task_runner.map(Into::into),
                    &options,
                    json,
                    out,
                )
            })
        }
        Command::Scan {
            modules,
            output,
            format,
            check,
            runtime,
        } => run::scan(
            &modules,
            output.as_deref(),
            format.as_deref(),
            check,
            &runtime_options(&runtime, false),
            out,
        ),
        Command::Serve { manifest, runtime } => {
            with_compiled(manifest.as_deref(), Style::Human, out, |compiled, out| {
                run::serve(compiled, &runtime_options(&runtime, false), out)
            })
        }
        Command::Server { action, runtime } => {
            run::server(action_name(action), &runtime_options(&runtime, false), out)
        }
        Command::Plan { manifest, format } => {
            with_compiled(manifest.as_deref(), Style::Human, out, |compiled, out| {
                let text = match format {
                    PlanFormat::Text => plan::text(&compiled.graph),
                    PlanFormat::Json => plan::json(&compiled.graph),
                };
                let _ = out.write_all(text.as_bytes());
                0
            })
        }
        Command::List { manifest, format } => {
            with_compiled(manifest.as_deref(), Style::Human, out, |compiled, out| {
                let text = match format {
                    PlanFormat::Text => plan::list_text(&compiled.graph),
                    PlanFormat::Json => plan::list_json(&compiled.graph),
                };
                let _ = out.write_all(text.as_bytes());
                0
            })
        }
        Command::Graph {
            manifest,
            format,
            flow,
        } => with_compiled(manifest.as_deref(), Style::Human, out, |compiled, out| {
            let name = flow.as_deref().unwrap_or(crate::resolve::ROOT_FLOW);
            let Some(flow) = compiled.graph.flows.iter().find(|f| f.name == name) else {
                let names: Vec<&str> = compiled
                    .graph
                    .flows
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect();
                eprintln!(
                    "error: no flow named `{name}`; the flows are: {}",
                    names.join(", ")
                );
                return 2;
            };
            let text = match format {
                GraphFormat::Mermaid => draw::mermaid(&compiled.graph, flow),
                GraphFormat::Dot => draw::dot(&compiled.graph, flow),
            };
            let _ = out.write_all(text.as_bytes());
            0
        }),
    }
}

/// The package's folder (`--out`, else `[project] output` beside the
/// manifest) and its rendered files.
fn rendered(
    compiled: &Compiled,
    out_dir: Option<&Path>,
) -> (PathBuf, std::collections::BTreeMap<PathBuf, String>) {
    let source = &compiled.document.source.path;
    let manifest_name = source.file_name().map_or_else(
        || "operations.toml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let files = crate::render::render(&compiled.graph, &manifest_name);
    let dir = out_dir.map_or_else(
        || {
            source
                .parent()
                .unwrap_or(Path::new("."))
                .join(&compiled.graph.manifest.project.output)
        },
        Path::to_path_buf,
    );
    (dir, files)
}

/// `opflow build`: render, then write (or, with `check`, compare).
fn build(
    compiled: &Compiled,
    out_dir: Option<&Path>,
    check: bool,
    force: bool,
    out: &mut dyn Write,
) -> u8 {
    let (dir, files) = rendered(compiled, out_dir);
    let shown = display_path(&dir);
    let failure = |diagnostics| Failure {
        source: None,
        diagnostics,
    };
    if check {
        return match crate::emit::diff(&dir, &files) {
            Ok(diff) if diff.is_empty() => {
                eprintln!("ok: {shown} is up to date");
                0
            }
            Ok(diff) => {
                let _ = out.write_all(diff.as_bytes());
                eprintln!("error: {shown} is stale; run `opflow build` to update it");
                1
            }
            Err(diagnostics) => {
                report(&failure(diagnostics), Style::Human, out, None);
                1
            }
        };
    }
    match crate::emit::emit(&dir, &files, force) {
        Ok(changes) => {
            eprintln!(
                "wrote {} file{} to {shown} ({} unchanged, {} removed)",
                changes.written.len(),
                plural(changes.written.len()),
                changes.unchanged.len(),
                changes.removed.len()
            );
            0
        }
        Err(diagnostics) => {
            report(&failure(diagnostics), Style::Human, out, None);
            1
        }
    }
}

fn runtime_options(args: &RuntimeArgs, ephemeral: bool) -> crate::runtime::Options {
    crate::runtime::Options {
        python: args.python.clone(),
        no_install: args.no_install,
        server: if ephemeral {
            crate::runtime::ServerChoice::Ephemeral
        } else {
            crate::runtime::ServerChoice::Default
        },
        quiet: false,
    }
}

const fn action_name(action: ServerAction) -> &'static str {
    match action {
        ServerAction::Start => "start",
        ServerAction::Stop => "stop",
        ServerAction::Status => "status",
    }
}

/// `opflow run [MANIFEST] [FLOW]`: a first argument that names a manifest
/// file (by extension, or because it exists) is the manifest; otherwise it
/// is the flow, and the manifest is found in the current folder.
fn split_targets(targets: &[String]) -> (Option<PathBuf>, Option<String>) {
    match targets {
        [] => (None, None),
        [one] => {
            let path = Path::new(one);
            if crate::manifest::Format::from_path(path).is_some() || path.is_file() {
                (Some(path.to_path_buf()), None)
            } else {
                (None, Some(one.clone()))
            }
        }
        [manifest, flow, ..] => (Some(PathBuf::from(manifest)), Some(flow.clone())),
    }
}

const fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Find the manifest, compile it, and hand it to `then`; print diagnostics on failure.
fn with_compiled(
    manifest: Option<&Path>,
    style: Style,
    out: &mut dyn Write,
    then: impl FnOnce(&Compiled, &mut dyn Write) -> u8,
) -> u8 {
    let path = match manifest.map_or_else(discover, |p| Ok(p.to_path_buf())) {
        Ok(path) => path,
        Err(dir) => {
            report(
                &Failure {
                    source: None,
                    diagnostics: vec![Diagnostic::NotFound { dir }],
                },
                style,
                out,
                None,
            );
            return 2;
        }
    };
    match crate::compile(&path) {
        Ok(compiled) => {
            let code = then(&compiled, out);
            // The process ends next: freeing a large graph piece by piece only costs time.
            std::mem::forget(compiled);
            code
        }
        Err(failure) => {
            report(&failure, style, out, Some(&path));
            1
        }
    }
}

/// Print a failure's diagnostics; `path` names the manifest when its text
/// could not be read.
fn report(failure: &Failure, style: Style, out: &mut dyn Write, path: Option<&Path>) {
    let display = failure
        .source
        .as_ref()
        .map(|s| s.path.as_path())
        .or(path)
        .map(display_path)
        .unwrap_or_default();
    let context = Context::new(failure.source.as_ref(), display);
    let stderr = std::io::stderr();
    let color = stderr.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = context.print(&failure.diagnostics, style, color, out, &mut stderr.lock());
}

/// The manifest in the current folder, or the folder searched in vain.
fn discover() -> Result<PathBuf, PathBuf> {
    let dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    MANIFEST_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .map(|path| PathBuf::from(path.file_name().unwrap_or_default()))
        .ok_or(dir)
}

/// A path as the user would write it: relative to the current folder when inside it.
fn display_path(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf());
    relative.display().to_string()
}
