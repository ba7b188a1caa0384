//! The command line: arguments, dispatch, exit codes. Commands print views of
//! the compiled graph; diagnostics are printed by [`crate::diagnostic`] only.

mod run;
mod watch;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::{Context, Diagnostic, Style};
use crate::view::{self, plan};
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
    /// When to color diagnostics (`NO_COLOR` set means never, unless `always`).
    #[arg(long, value_enum, global = true, default_value = "auto")]
    color: ColorChoice,
    /// Print only results and problems, no progress or notes.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Also say which Python, which server and which commands opflow uses.
    #[arg(long, short, global = true)]
    verbose: bool,
    /// Treat warnings (likely mistakes) as errors: exit 1 when there are any.
    #[arg(long, global = true)]
    deny_warnings: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// How the user asked opflow to talk: set once from the global flags.
#[derive(Debug, Clone, Copy)]
#[allow(clippy::struct_excessive_bools)] // independent command-line switches
pub(crate) struct Ui {
    color: bool,
    pub(crate) quiet: bool,
    pub(crate) verbose: bool,
    pub(crate) deny_warnings: bool,
}

static UI: std::sync::OnceLock<Ui> = std::sync::OnceLock::new();

pub(crate) fn ui() -> Ui {
    UI.get().copied().unwrap_or(Ui {
        color: false,
        quiet: false,
        verbose: false,
        deny_warnings: false,
    })
}

/// A progress line or note on stderr, unless `--quiet`.
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::cli::ui().quiet {
            eprintln!($($arg)*);
        }
    };
}
pub(crate) use note;

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
        /// Rebuild on every save of the manifest, until interrupted; a broken
        /// manifest prints its problems and leaves the last good package.
        #[arg(long, conflicts_with = "check")]
        watch: bool,
        /// With --watch: also rescan these modules (`opflow scan MODULE -o MANIFEST`) when their files change.
        #[arg(long, value_name = "MODULE", requires = "watch")]
        scan: Vec<String>,
        /// First compare the manifest with the code, as `opflow verify` does; write nothing if they disagree.
        #[arg(long, conflicts_with = "watch")]
        verify: bool,
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// Import every operation's module and compare the code with the manifest.
    Verify {
        manifest: Option<PathBuf>,
        /// How to print problems.
        #[arg(long, value_enum, default_value = "human")]
        format: Style,
        /// The Python to import with (default: `$OPFLOW_PYTHON`, the active virtualenv, `./.venv`, `python3`).
        #[arg(long)]
        python: Option<PathBuf>,
    },
    /// Build the package if it is stale, then run a flow and print its result.
    Run {
        /// The manifest and/or the flow: `opflow run [MANIFEST] [FLOW]`.
        #[arg(num_args = 0..=2, value_name = "MANIFEST|FLOW")]
        targets: Vec<String>,
        /// A flow parameter, converted by its type (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Parameter values of `[presets.NAME]`, under `--params-file` and `--param`.
        #[arg(long, value_name = "NAME")]
        preset: Option<String>,
        /// Parameter values from a TOML, YAML or JSON file, over `--preset`
        /// and under `--param`.
        #[arg(long, value_name = "FILE")]
        params_file: Option<PathBuf>,
        /// Run the flow's tasks on this task runner instead of its own.
        #[arg(long, value_enum)]
        task_runner: Option<RunnerArg>,
        /// The cluster `--task-runner dask` or `ray` runs on, over the
        /// manifest's (`tcp://host:8786`, `ray://host:10001`).
        #[arg(long, value_name = "URL", requires = "task_runner")]
        address: Option<String>,
        #[command(flatten)]
        runtime: RuntimeArgs,
        /// Use Prefect's temporary server instead of opflow's local one.
        #[arg(long)]
        ephemeral: bool,
        /// Print only the result, as JSON, on stdout.
        #[arg(long)]
        json: bool,
        /// Run only the selected operations (README: Running part of a flow);
        /// an input from another is read from its last kept result.
        #[command(flatten)]
        selection: SelectArgs,
        /// Run again what did not complete in the flow's last run.
        #[arg(long)]
        resume: bool,
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
        /// The manifest and/or a flow to show alone: `opflow plan [MANIFEST] [FLOW]`.
        #[arg(num_args = 0..=2, value_name = "MANIFEST|FLOW")]
        targets: Vec<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
        /// The flow to show (the same as giving it after the manifest).
        #[arg(long)]
        flow: Option<String>,
        #[command(flatten)]
        selection: SelectArgs,
    },
    /// Draw the dependency graph, with the hierarchy as nested clusters.
    Graph {
        /// The manifest and/or the flow: `opflow graph [MANIFEST] [FLOW]` (default flow: `all`).
        #[arg(num_args = 0..=2, value_name = "MANIFEST|FLOW")]
        targets: Vec<String>,
        #[arg(long, value_enum, default_value = "mermaid")]
        format: GraphFormat,
        /// The flow to draw (the same as giving it after the manifest).
        #[arg(long)]
        flow: Option<String>,
        #[command(flatten)]
        selection: SelectArgs,
    },
    /// Start a project: a manifest, its schema, a Python module with two operations, a .gitignore.
    Init {
        /// The folder (default: the current one); created when missing.
        dir: Option<PathBuf>,
    },
    /// Remove the results the manifest's operations kept, and the state of
    /// their flows' last runs (README: Running part of a flow).
    Clean { manifest: Option<PathBuf> },
    /// Print the manifest's JSON Schema.
    Schema,
    /// Print a shell completion script: `opflow completions bash > ~/.local/share/bash-completion/completions/opflow`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// List the flows with their parameters and operation counts; with
    /// `--select`, the selected operations' names.
    List {
        manifest: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
        #[command(flatten)]
        selection: SelectArgs,
    },
}

/// `--select` and `--exclude`: the part of a flow a command works on
/// (`plan`, `graph`, `list`, `run`), in dbt's syntax (see `crate::select`).
/// Each takes one or more words, joined by spaces.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SelectArgs {
    /// Only these operations: `NAME`, `PREFIX.*`, `tag:T`, `flow:F`; `+X` adds X's upstream, `X+` its downstream, `2+X` / `X+1` so many steps; words are a union, `a,b` an intersection.
    #[arg(long, short = 's', num_args = 1.., value_name = "SELECTOR")]
    pub select: Vec<String>,
    /// Leave out these operations (the same syntax as `--select`).
    #[arg(long, num_args = 1.., value_name = "SELECTOR")]
    pub exclude: Vec<String>,
}

impl SelectArgs {
    /// Whether `--select` or `--exclude` was given.
    pub const fn given(&self) -> bool {
        !self.select.is_empty() || !self.exclude.is_empty()
    }

    /// The selection in `flow`, or `None` when neither option is given; on
    /// failure, the problems of each option with its text as their source.
    pub fn selection(
        &self,
        graph: &crate::graph::FlowGraph,
        flow: &crate::graph::Flow,
    ) -> Result<Option<crate::select::Selection>, Vec<Failure>> {
        if !self.given() {
            return Ok(None);
        }
        let select = (!self.select.is_empty()).then(|| self.select.join(" "));
        crate::select::select(graph, flow, select.as_deref(), &self.exclude.join(" ")).map(Some)
    }
}

/// Print a selection's problems (each with its option's text); the usage exit code.
pub(super) fn bad_selection(failures: &[Failure], out: &mut dyn Write) -> u8 {
    for failure in failures {
        report(failure, Style::Human, out, None);
    }
    2
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
    Svg,
    Html,
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
    let stderr_tty = std::io::stderr().is_terminal();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stderr_tty && !no_color,
    };
    let _ = UI.set(Ui {
        color,
        quiet: cli.quiet,
        verbose: cli.verbose,
        deny_warnings: cli.deny_warnings,
    });
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = execute(cli.command, &mut out);
    let _ = out.flush();
    code
}

fn execute(command: Command, out: &mut dyn Write) -> u8 {
    match command {
        Command::Init { dir } => init(dir.as_deref(), out),
        Command::Clean { manifest } => {
            with_compiled(manifest.as_deref(), Style::Human, out, |compiled, _| {
                clean(compiled)
            })
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "opflow", out);
            0
        }
        Command::Schema => {
            let _ = out.write_all(crate::schema::schema_text().as_bytes());
            0
        }
        Command::Check { manifest, format } => {
            with_compiled(manifest.as_deref(), format, out, |compiled, out| {
                if format == Style::Json {
                    // The warnings, if any, were the array; an empty one otherwise.
                    if compiled.warnings.is_empty() {
                        let _ = writeln!(out, "[]");
                    }
                } else if format != Style::Github {
                    note!("ok: {}", summary(compiled));
                }
                0
            })
        }
        Command::Build {
            manifest,
            out: out_dir,
            force,
            watch: true,
            scan,
            runtime,
            ..
        } => watch::watch(
            manifest.as_deref(),
            out_dir.as_deref(),
            force,
            &scan,
            &runtime_options(&runtime, false),
            out,
        ),
        Command::Build {
            manifest,
            out: out_dir,
            check,
            force,
            verify,
            runtime,
            ..
        } => with_compiled(manifest.as_deref(), Style::Human, out, |compiled, out| {
            if verify {
                let cwd = std::env::current_dir().unwrap_or_default();
                let python = crate::runtime::python::discover(runtime.python.as_deref(), &cwd);
                let code = run::verify(compiled, &python.path, &[], Style::Human, out);
                if code != 0 {
                    return code;
                }
            }
            build(compiled, out_dir.as_deref(), check, force, out)
        }),
        Command::Verify {
            manifest,
            format,
            python,
        } => {
            // The manifest's warnings are printed with the findings, in one report.
            let compiled = match compile_or_report(manifest.as_deref(), format, out) {
                Ok(compiled) => compiled,
                Err(code) => return code,
            };
            let cwd = std::env::current_dir().unwrap_or_default();
            let python = crate::runtime::python::discover(python.as_deref(), &cwd);
            let code = run::verify(&compiled, &python.path, &compiled.warnings, format, out);
            if code == 0 && format == Style::Human {
                note!(
                    "ok: the code agrees with {} ({} operation{})",
                    display_path(&compiled.source.path),
                    compiled.graph.manifest.operations.len(),
                    plural(compiled.graph.manifest.operations.len())
                );
            }
            code
        }
        Command::Run {
            targets,
            params,
            preset,
            params_file,
            task_runner,
            address,
            runtime,
            ephemeral,
            json,
            selection,
            resume,
        } => {
            let (manifest, flow) = split_targets(&targets);
            with_compiled(manifest.as_deref(), Style::Human, out, |compiled, out| {
                let options = runtime_options(&runtime, ephemeral);
                let given = crate::runtime::layers::Given {
                    params: &params,
                    preset: preset.as_deref(),
                    file: params_file.as_deref(),
                };
                run::run(
                    compiled,
                    flow.as_deref(),
                    given,
                    &selection,
                    resume,
                    task_runner.map(Into::into),
                    address.as_deref(),
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
        Command::Plan {
            targets,
            format,
            flow,
            selection,
        } => {
            let (manifest, flow) = manifest_and_flow(&targets, flow);
            with_compiled(manifest.as_deref(), Style::Human, out, |compiled, out| {
                let selected = flow.is_some() || selection.given();
                let name = flow.as_deref().unwrap_or(crate::resolve::ROOT_FLOW);
                let (graph, chosen) = if selected {
                    let flow = match find_flow(compiled, name) {
                        Ok(flow) => flow,
                        Err(diagnostic) => return fail(vec![diagnostic], out, 2),
                    };
                    let chosen = match selection.selection(&compiled.graph, flow) {
                        Ok(chosen) => chosen,
                        Err(failures) => return bad_selection(&failures, out),
                    };
                    let mut graph = compiled.graph.clone();
                    graph.flows = vec![match &chosen {
                        Some(chosen) => part(&compiled.graph, flow, &chosen.operations),
                        None => flow.clone(),
                    }];
                    (std::borrow::Cow::Owned(graph), chosen)
                } else {
                    (std::borrow::Cow::Borrowed(&compiled.graph), None)
                };
                let stored = chosen.as_ref().map(|chosen| chosen.stored.as_slice());
                let text = match format {
                    PlanFormat::Text => plan::text(&graph, stored),
                    PlanFormat::Json => plan::json(&graph, stored),
                };
                let _ = out.write_all(text.as_bytes());
                0
            })
        }
        Command::List {
            manifest,
            format,
            selection,
        } => with_compiled(manifest.as_deref(), Style::Human, out, |compiled, out| {
            let Some(all) = compiled
                .graph
                .flows
                .iter()
                .find(|f| f.name == crate::resolve::ROOT_FLOW)
            else {
                return 1;
            };
            let text = match selection.selection(&compiled.graph, all) {
                Err(failures) => return bad_selection(&failures, out),
                Ok(Some(chosen)) => match format {
                    PlanFormat::Text => plan::names_text(&compiled.graph, &chosen.operations),
                    PlanFormat::Json => plan::names_json(&compiled.graph, &chosen.operations),
                },
                Ok(None) => match format {
                    PlanFormat::Text => plan::list_text(&compiled.graph),
                    PlanFormat::Json => plan::list_json(&compiled.graph),
                },
            };
            let _ = out.write_all(text.as_bytes());
            0
        }),
        Command::Graph {
            targets,
            format,
            flow,
            selection,
        } => {
            let (manifest, flow) = manifest_and_flow(&targets, flow);
            with_compiled(manifest.as_deref(), Style::Human, out, |compiled, out| {
                let name = flow.as_deref().unwrap_or(crate::resolve::ROOT_FLOW);
                let flow = match find_flow(compiled, name) {
                    Ok(flow) => flow,
                    Err(diagnostic) => return fail(vec![diagnostic], out, 2),
                };
                let (shown, stored) = match selection.selection(&compiled.graph, flow) {
                    Err(failures) => return bad_selection(&failures, out),
                    Ok(None) => (std::borrow::Cow::Borrowed(flow), Vec::new()),
                    Ok(Some(chosen)) => {
                        // The selected operations and the producers of their
                        // stored inputs, drawn apart.
                        let stored = chosen.producers(flow);
                        let mut ops = chosen.operations;
                        ops.extend(&stored);
                        let part = part(&compiled.graph, flow, &ops);
                        (std::borrow::Cow::Owned(part), stored)
                    }
                };
                let graph = &compiled.graph;
                let text = match format {
                    GraphFormat::Mermaid => view::mermaid(graph, &shown, &stored),
                    GraphFormat::Dot => view::dot(graph, &shown, &stored),
                    GraphFormat::Svg => view::svg(graph, &shown, &stored),
                    GraphFormat::Html => view::html(graph, &shown, &stored),
                };
                let _ = out.write_all(text.as_bytes());
                0
            })
        }
    }
}

/// The operations `ops` of `flow` as a flow of their own.
fn part(
    graph: &crate::graph::FlowGraph,
    flow: &crate::graph::Flow,
    ops: &[usize],
) -> crate::graph::Flow {
    let mut inside = vec![false; graph.manifest.operations.len()];
    for &op in ops {
        inside[op] = true;
    }
    graph.part(flow, &inside)
}

/// `ok: …`'s summary: operations, and the flows the project has (`all`
/// apart, since it is always there).
fn summary(compiled: &Compiled) -> String {
    let ops = compiled.graph.manifest.operations.len();
    let own = compiled
        .graph
        .flows
        .iter()
        .filter(|f| f.name != crate::resolve::ROOT_FLOW)
        .count();
    format!(
        "{} has {ops} operation{} in {own} flow{}, plus `{}`, which runs them all",
        display_path(&compiled.source.path),
        plural(ops),
        plural(own),
        crate::resolve::ROOT_FLOW
    )
}

/// The flow named `name`, or a diagnostic suggesting a close one.
fn find_flow<'g>(compiled: &'g Compiled, name: &str) -> Result<&'g crate::graph::Flow, Diagnostic> {
    let flows = &compiled.graph.flows;
    flows.iter().find(|f| f.name == name).ok_or_else(|| {
        let names: Vec<&str> = flows.iter().map(|f| f.name.as_str()).collect();
        Diagnostic::UnknownFlowName {
            name: name.to_owned(),
            help: crate::suggest::did_you_mean(name, names.iter().copied()).map_or_else(
                || format!("the flows: {}", names.join(", ")),
                |close| format!("did you mean `{close}`?"),
            ),
        }
    })
}

/// Print diagnostics that have no place in the manifest; return `code`.
fn fail(diagnostics: Vec<Diagnostic>, out: &mut dyn Write, code: u8) -> u8 {
    report(
        &Failure {
            source: None,
            diagnostics,
        },
        Style::Human,
        out,
        None,
    );
    code
}

/// The files `opflow init` writes: a project that builds and runs at once.
const INIT_FILES: [(&str, &str); 4] = [
    (
        "operations.toml",
        include_str!("../../templates/init/operations.toml"),
    ),
    ("steps.py", include_str!("../../templates/init/steps.py")),
    (".gitignore", include_str!("../../templates/init/gitignore")),
    ("opflow.schema.json", ""),
];

/// `opflow init`: write the starter project, refusing to touch any file that exists.
fn init(dir: Option<&Path>, out: &mut dyn Write) -> u8 {
    let dir = dir.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let taken: Vec<String> = INIT_FILES
        .iter()
        .filter(|(name, _)| dir.join(name).exists())
        .map(|(name, _)| format!("`{name}`"))
        .collect();
    let mut fail = |diagnostic| fail(vec![diagnostic], out, 1);
    if !taken.is_empty() {
        return fail(Diagnostic::InitExists {
            dir,
            files: taken.join(", "),
        });
    }
    let schema = crate::schema::schema_text();
    for (name, text) in INIT_FILES {
        let text = if name == "opflow.schema.json" {
            schema.as_str()
        } else {
            text
        };
        let path = dir.join(name);
        let written = std::fs::create_dir_all(&dir).and_then(|()| {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .and_then(|mut file| file.write_all(text.as_bytes()))
        });
        if let Err(error) = written {
            return fail(Diagnostic::WriteFailed {
                path,
                reason: error.to_string(),
            });
        }
    }
    note!(
        "created a project in {}: operations.toml, steps.py, opflow.schema.json, .gitignore\nnext: cd {} && opflow run --param name=World",
        display_path(&dir),
        display_path(&dir)
    );
    0
}

/// The package's folder: `--out`, else `[project] output` beside the manifest.
/// `opflow clean`: in every folder results are kept in, the result of each
/// operation and the state of each flow's last run; nothing else (a folder
/// may hold other files), and a folder left empty.
fn clean(compiled: &Compiled) -> u8 {
    let manifest = &compiled.graph.manifest;
    let here = compiled.source.path.parent().unwrap_or(Path::new("."));
    let folder =
        |storage: &str| (!crate::resolve::is_block_slug(storage)).then(|| here.join(storage));
    let mut removed = 0;
    let mut folders = std::collections::BTreeSet::new();
    folders.extend(folder(&manifest.results.storage));
    for op in &manifest.operations {
        let storage = op
            .settings
            .result_storage()
            .unwrap_or(&manifest.results.storage);
        if let Some(dir) = folder(storage) {
            removed += usize::from(std::fs::remove_file(dir.join(&op.name)).is_ok());
            folders.insert(dir);
        }
    }
    for dir in &folders {
        for flow in &compiled.graph.flows {
            let state = dir.join(".runs").join(format!("{}.jsonl", flow.name));
            removed += usize::from(std::fs::remove_file(state).is_ok());
        }
        let _ = std::fs::remove_dir(dir.join(".runs"));
        let _ = std::fs::remove_dir(dir);
    }
    note!(
        "removed {removed} kept result{} and run state{}",
        plural(removed),
        plural(removed)
    );
    0
}

fn package_dir(compiled: &Compiled, out_dir: Option<&Path>) -> PathBuf {
    out_dir.map_or_else(
        || {
            compiled
                .source
                .path
                .parent()
                .unwrap_or(Path::new("."))
                .join(&compiled.graph.manifest.project.output)
        },
        Path::to_path_buf,
    )
}

/// `--out DIR`: the package's place as the files it holds give it
/// (`prefect.yaml`'s entrypoints, `_path.py`, where results are kept),
/// instead of `[project] output`: relative to the manifest's folder when DIR
/// is inside it, else absolute, with the manifest's folder absolute too.
fn place_package(project: &mut crate::resolve::Project, manifest: &Path, dir: &Path) {
    let folder = manifest.parent().filter(|p| !p.as_os_str().is_empty());
    let (Some(home), Some(out)) = (absolute(folder.unwrap_or(Path::new("."))), absolute(dir))
    else {
        return;
    };
    match out.strip_prefix(&home) {
        Ok(inside) if inside.components().next().is_some() => {
            let parts: Option<Vec<&str>> = inside.iter().map(|c| c.to_str()).collect();
            if let Some(parts) = parts {
                project.output = parts.join("/");
            }
        }
        _ => {
            if let (Some(out), Some(home)) = (out.to_str(), home.to_str()) {
                out.clone_into(&mut project.output);
                project.home = Some(home.to_owned());
            }
        }
    }
}

/// A path made absolute from the current folder, its `.` and `..` resolved
/// as written (links are not followed: the folder may not exist yet).
fn absolute(path: &Path) -> Option<PathBuf> {
    let path = std::path::absolute(path).ok()?;
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                normal.pop();
            }
            std::path::Component::CurDir => {}
            other => normal.push(other),
        }
    }
    Some(normal)
}

/// The manifest's file name, as the generated files' headers give it.
fn manifest_name(compiled: &Compiled) -> String {
    compiled.source.path.file_name().map_or_else(
        || "operations.toml".into(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Render the package into `dir`, each file written as soon as it is
/// rendered (see [`crate::emit::Package`]).
fn write_package(
    compiled: &Compiled,
    dir: &Path,
    force: bool,
) -> Result<crate::emit::Changes, Vec<Diagnostic>> {
    let package = crate::emit::Package::new(dir, force)?;
    crate::render::render_each(&compiled.graph, &manifest_name(compiled), &|name, text| {
        package.add(name, text);
    });
    package.finish()
}

/// `opflow build`: render, then write (or, with `check`, compare).
fn build(
    compiled: &mut Compiled,
    out_dir: Option<&Path>,
    check: bool,
    force: bool,
    out: &mut dyn Write,
) -> u8 {
    if let Some(dir) = out_dir {
        place_package(
            &mut compiled.graph.manifest.project,
            &compiled.source.path,
            dir,
        );
    }
    let compiled = &*compiled;
    let dir = package_dir(compiled, out_dir);
    let shown = display_path(&dir);
    if check {
        let files = crate::render::render(&compiled.graph, &manifest_name(compiled));
        return match crate::emit::diff(&dir, &files) {
            Ok(diff) if diff.is_empty() => {
                note!("ok: {shown} is up to date");
                0
            }
            Ok(diff) => {
                let _ = out.write_all(diff.as_bytes());
                let _ = out.flush();
                fail(vec![Diagnostic::Stale { path: dir.clone() }], out, 1)
            }
            Err(diagnostics) => fail(diagnostics, out, 1),
        };
    }
    let operations = compiled.graph.manifest.operations.len();
    if operations >= 10_000 {
        note!("opflow: writing the package of {operations} operations to {shown}…");
    }
    match write_package(compiled, &dir, force) {
        Ok(changes) => {
            note!(
                "wrote {} file{} to {shown} ({} unchanged, {} removed)",
                changes.written.len(),
                plural(changes.written.len()),
                changes.unchanged.len(),
                changes.removed.len()
            );
            0
        }
        Err(diagnostics) => fail(diagnostics, out, 1),
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
        quiet: ui().quiet,
    }
}

const fn action_name(action: ServerAction) -> &'static str {
    match action {
        ServerAction::Start => "start",
        ServerAction::Stop => "stop",
        ServerAction::Status => "status",
    }
}

/// `[MANIFEST] [FLOW]` as `split_targets` reads them, the flow also
/// given by `--flow` (`plan`, `graph`), which wins.
fn manifest_and_flow(
    targets: &[String],
    flag: Option<String>,
) -> (Option<PathBuf>, Option<String>) {
    let (manifest, positional) = split_targets(targets);
    (manifest, flag.or(positional))
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
/// The manifest given, or the one found in the current folder; when none
/// is, the diagnostic is printed and the usage exit code returned.
fn manifest_path(
    manifest: Option<&Path>,
    style: Style,
    out: &mut dyn Write,
) -> Result<PathBuf, u8> {
    manifest
        .map_or_else(discover, |p| Ok(p.to_path_buf()))
        .map_err(|dir| {
            report(
                &Failure {
                    source: None,
                    diagnostics: vec![Diagnostic::NotFound { dir }],
                },
                style,
                out,
                None,
            );
            2
        })
}

fn with_compiled(
    manifest: Option<&Path>,
    style: Style,
    out: &mut dyn Write,
    then: impl FnOnce(&mut Compiled, &mut dyn Write) -> u8,
) -> u8 {
    let mut compiled = match compile_or_report(manifest, style, out) {
        Ok(compiled) => compiled,
        Err(code) => return code,
    };
    if !compiled.warnings.is_empty() {
        report(
            &Failure {
                source: Some(compiled.source.clone()),
                diagnostics: compiled.warnings.clone(),
            },
            style,
            out,
            None,
        );
        if ui().deny_warnings {
            return 1;
        }
    }
    let code = then(&mut compiled, out);
    // The process ends next: freeing a large graph piece by piece only costs time.
    std::mem::forget(compiled);
    code
}

/// The compiled manifest (its warnings not yet printed), or the exit code
/// after its problems were printed.
fn compile_or_report(
    manifest: Option<&Path>,
    style: Style,
    out: &mut dyn Write,
) -> Result<Compiled, u8> {
    let path = manifest_path(manifest, style, out)?;
    crate::compile(&path).map_err(|failure| {
        report(&failure, style, out, Some(&path));
        1
    })
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
    let _ = context.print(
        &failure.diagnostics,
        style,
        ui().color,
        out,
        &mut stderr.lock(),
    );
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
