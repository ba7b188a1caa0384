//! The command line: arguments, dispatch, exit codes. Commands print views of
//! the compiled graph; diagnostics are printed by [`crate::diagnostic`] only.

mod draw;
mod plan;

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

/// `opflow build`: render, then write (or, with `check`, compare).
fn build(
    compiled: &Compiled,
    out_dir: Option<&Path>,
    check: bool,
    force: bool,
    out: &mut dyn Write,
) -> u8 {
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
