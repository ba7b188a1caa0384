//! Every error opflow reports, as data, and the one place they are printed.
//!
//! Each variant has a stable code (`opflow::<stage>::<kind>`), a label on the
//! exact span, a second label where another place is involved, and a help line.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use miette::{
    Diagnostic as _, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError,
    MietteSpanContents, SourceCode, SourceSpan, SpanContents,
};
use serde::Serialize;

use crate::manifest::{Format, Source};

#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
pub enum Diagnostic {
    // ---- manifest: reading and parsing ----
    #[error("cannot read `{}`: {reason}", path.display())]
    #[diagnostic(
        code(opflow::manifest::unreadable),
        help("check that the path names a readable manifest file")
    )]
    Unreadable { path: PathBuf, reason: String },

    #[error("`{}` is not a manifest: unknown file extension", path.display())]
    #[diagnostic(
        code(opflow::manifest::unknown_format),
        help("name the manifest `.toml`, `.yaml`, `.yml` or `.json`")
    )]
    UnknownFormat { path: PathBuf },

    #[error("no manifest found in `{}`", dir.display())]
    #[diagnostic(
        code(opflow::manifest::not_found),
        help(
            "create `operations.toml` there, or give the manifest's path: `opflow check path/to/operations.toml`"
        )
    )]
    NotFound { dir: PathBuf },

    #[error("{format} syntax error: {message}")]
    #[diagnostic(
        code(opflow::manifest::syntax),
        help("fix the {format} syntax at the marked place")
    )]
    Syntax {
        format: Format,
        message: String,
        #[label("here")]
        span: SourceSpan,
    },

    #[error("values are nested more than {limit} levels deep")]
    #[diagnostic(
        code(opflow::manifest::too_deep),
        help("a manifest needs only a few levels; flatten this value")
    )]
    TooDeep {
        #[label("too deep")]
        span: SourceSpan,
        limit: usize,
    },

    #[error("unsupported manifest version {found}")]
    #[diagnostic(
        code(opflow::manifest::unsupported_version),
        help("this opflow reads manifest format version 1: set `version = 1`")
    )]
    UnsupportedVersion {
        found: String,
        #[label("expected 1")]
        span: SourceSpan,
    },

    // ---- schema: the manifest's shape ----
    #[error("unknown field `{field}`")]
    #[diagnostic(code(opflow::schema::unknown_field))]
    UnknownField {
        field: String,
        #[label("not a field here")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("missing field `{field}`")]
    #[diagnostic(
        code(opflow::schema::missing_field),
        help("add `{field}` to this table")
    )]
    MissingField {
        field: String,
        #[label("`{field}` is required here")]
        span: SourceSpan,
    },

    #[error("expected {expected}, found {found}")]
    #[diagnostic(code(opflow::schema::wrong_type))]
    WrongType {
        expected: String,
        found: String,
        #[label("expected {expected}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("{message}")]
    #[diagnostic(code(opflow::schema::invalid_value))]
    InvalidValue {
        message: String,
        #[label("invalid value")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    // ---- hierarchy: operation names ----
    #[error("invalid name `{name}`: {reason}")]
    #[diagnostic(code(opflow::hierarchy::invalid_name))]
    InvalidName {
        name: String,
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("name `{name}` has {depth} segments, more than the limit of {max}")]
    #[diagnostic(
        code(opflow::hierarchy::too_deep),
        help("shorten the name, or raise the limit with `max_depth` in `[project]`")
    )]
    NameTooDeep {
        name: String,
        depth: usize,
        max: usize,
        #[label("segment {} is past the limit", max + 1)]
        span: SourceSpan,
    },

    // ---- resolve: binding parameters ----
    #[error("operation `{name}` is defined twice")]
    #[diagnostic(
        code(opflow::resolve::duplicate_operation),
        help("rename one of them: operation names are unique")
    )]
    DuplicateOperation {
        name: String,
        #[label("defined again here")]
        span: SourceSpan,
        #[label("first defined here")]
        first: SourceSpan,
    },

    #[error("`{operation}` depends on unknown operation `{name}`")]
    #[diagnostic(code(opflow::resolve::unknown_dependency))]
    UnknownDependency {
        operation: String,
        name: String,
        #[label("no operation has this name")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("parameter `{param}` of `{operation}` takes its value from unknown operation `{from}`")]
    #[diagnostic(code(opflow::resolve::unknown_source))]
    UnknownSource {
        operation: String,
        param: String,
        from: String,
        #[label("no operation has this name")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("operation `{source_op}` has no output `{output}`")]
    #[diagnostic(code(opflow::resolve::unknown_output))]
    UnknownOutput {
        source_op: String,
        output: String,
        #[label("not an output of `{source_op}`")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("operation `{name}` depends on itself")]
    #[diagnostic(
        code(opflow::resolve::self_dependency),
        help("remove `{name}` from its own dependencies")
    )]
    SelfDependency {
        name: String,
        #[label("refers to the operation it is in")]
        span: SourceSpan,
    },

    #[error(
        "parameter `{param}` of `{operation}` matches {count} candidates by {rule}: {candidates}"
    )]
    #[diagnostic(code(opflow::resolve::ambiguous_binding))]
    AmbiguousBinding {
        operation: String,
        param: String,
        rule: &'static str,
        count: usize,
        candidates: String,
        #[label("ambiguous")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("flow parameter `{param}` has two types: `{first_type}` and `{second_type}`")]
    #[diagnostic(
        code(opflow::resolve::conflicting_parameter),
        help(
            "give both parameters the same type, or rename one so they become different flow parameters"
        )
    )]
    ConflictingParameter {
        param: String,
        first_type: String,
        second_type: String,
        #[label("`{second_type}` here")]
        span: SourceSpan,
        #[label("`{first_type}` here")]
        first: SourceSpan,
    },

    #[error("flow parameter `{param}` has two defaults: {first_default} and {second_default}")]
    #[diagnostic(
        code(opflow::resolve::conflicting_default),
        help("give both parameters the same default, or leave it out on one of them")
    )]
    ConflictingDefault {
        param: String,
        first_default: String,
        second_default: String,
        #[label("default {second_default} here")]
        span: SourceSpan,
        #[label("default {first_default} here")]
        first: SourceSpan,
    },

    #[error("invalid call `{call}`: {reason}")]
    #[diagnostic(
        code(opflow::resolve::invalid_call),
        help("write the callable as `module.path:function`, e.g. `jobs.scrapers:fetch_stepstone`")
    )]
    InvalidCall {
        call: String,
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
    },

    #[error("invalid type `{ty}`: {reason}")]
    #[diagnostic(code(opflow::resolve::invalid_type))]
    InvalidType {
        ty: String,
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("default of `{param}` is not a literal: {reason}")]
    #[diagnostic(code(opflow::resolve::invalid_default))]
    InvalidDefault {
        param: String,
        reason: String,
        #[label("not a literal")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("invalid parameter name `{param}`: {reason}")]
    #[diagnostic(
        code(opflow::resolve::invalid_parameter_name),
        help(
            "parameter names are Python identifiers that are not keywords, e.g. `keywords` or `max_pages`"
        )
    )]
    InvalidParameterName {
        param: String,
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
    },

    #[error("`[flows.{flow}]` configures a flow no operation belongs to")]
    #[diagnostic(code(opflow::resolve::unknown_flow))]
    UnknownFlow {
        flow: String,
        #[label("no operation name starts with `{flow}`")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("flow name `{name}` is reserved")]
    #[diagnostic(
        code(opflow::resolve::reserved_flow_name),
        help("`all` is the root flow that runs every operation; choose another name")
    )]
    ReservedFlowName {
        name: String,
        #[label("reserved")]
        span: SourceSpan,
    },

    #[error("flows `{flow}` and `{other}` would both be written to `{module}.py`")]
    #[diagnostic(
        code(opflow::resolve::flow_module_clash),
        help("a flow's module is its name with dots as underscores: rename one of the two")
    )]
    FlowModuleClash {
        flow: String,
        other: String,
        module: String,
        #[label("this flow")]
        span: SourceSpan,
        #[label("and this one")]
        other_span: SourceSpan,
    },

    #[error(
        "flow `{flow}` would be written to `{flow}.py`, a module of the generated package itself"
    )]
    #[diagnostic(
        code(opflow::resolve::reserved_module),
        help(
            "`__init__`, `__main__`, `_path`, `_runtime` and `_tasks` are the package's own modules: rename the flow"
        )
    )]
    ReservedModule {
        flow: String,
        #[label("reserved")]
        span: SourceSpan,
    },

    #[error("operation `{operation}` has both `returns` and `outputs`")]
    #[diagnostic(
        code(opflow::resolve::returns_and_outputs),
        help("use `returns` for a single value, or `outputs` for several named values, not both")
    )]
    ReturnsAndOutputs {
        operation: String,
        #[label("`outputs` here")]
        span: SourceSpan,
        #[label("`returns` here")]
        returns: SourceSpan,
    },

    #[error("flow parameter `{param}` of `{operation}` has no type")]
    #[diagnostic(
        code(opflow::resolve::untyped_parameter),
        help(
            "nothing upstream provides `{param}`, so it becomes a flow parameter, which needs a type: add `type = \"...\"`"
        )
    )]
    UntypedParameter {
        operation: String,
        param: String,
        #[label("needs a type")]
        span: SourceSpan,
    },

    // ---- emit: writing the package ----
    #[error("`{}` was edited by hand since opflow generated it", path.display())]
    #[diagnostic(
        code(opflow::emit::edited_file),
        help(
            "move your changes into the manifest or your own modules, or pass `--force` to overwrite the file"
        )
    )]
    EditedFile { path: PathBuf },

    #[error("`{}` is in the way: opflow did not generate it", path.display())]
    #[diagnostic(
        code(opflow::emit::foreign_file),
        help(
            "opflow never overwrites a file it did not write: move the file, or choose another `output` folder"
        )
    )]
    ForeignFile { path: PathBuf },

    #[error("cannot write `{}`: {reason}", path.display())]
    #[diagnostic(
        code(opflow::emit::io),
        help("check that the output folder is writable and the disk has room")
    )]
    WriteFailed { path: PathBuf, reason: String },

    #[error("operation `{operation}` is async but asks for `executor = \"process\"`")]
    #[diagnostic(
        code(opflow::resolve::async_in_process),
        help(
            "an async operation already runs without blocking the others; `process` is for CPU-bound sync functions: remove `executor` or the `async` flag"
        )
    )]
    AsyncInProcess {
        operation: String,
        #[label("async, so it cannot run in a process pool")]
        span: SourceSpan,
    },

    // ---- init ----
    #[error("`{}` already has {files}", dir.display())]
    #[diagnostic(
        code(opflow::init::exists),
        help(
            "opflow init never overwrites a file: choose an empty folder, e.g. `opflow init my-project`"
        )
    )]
    InitExists { dir: PathBuf, files: String },

    // ---- runtime: Python, Prefect, running flows ----
    #[error("{python} ({origin}) has no Prefect, and --no-install forbids installing it")]
    #[diagnostic(
        code(opflow::runtime::no_prefect),
        help(
            "install it there (`{python} -m pip install {install}`), point `--python` at a Python that has it, or drop --no-install to let opflow make its own environment"
        )
    )]
    NoPrefect {
        python: String,
        origin: &'static str,
        install: String,
    },

    #[error("{python} ({origin}) has no `{package}`, which `opflow scan` needs")]
    #[diagnostic(
        code(opflow::runtime::missing_package),
        help("install it there: `{python} -m pip install {package}`")
    )]
    MissingPackage {
        python: String,
        origin: &'static str,
        package: &'static str,
    },

    #[error("{0}")]
    #[diagnostic(
        code(opflow::runtime::install),
        help(
            "check the output above; opflow needs `python3` with `venv` and access to the package index"
        )
    )]
    InstallFailed(String),

    #[error("cannot start `{program}`: {reason}")]
    #[diagnostic(
        code(opflow::runtime::spawn),
        help("check that the program exists and is executable, or choose another with `--python`")
    )]
    SpawnFailed { program: String, reason: String },

    #[error("{0}")]
    #[diagnostic(
        code(opflow::runtime::server),
        help(
            "`opflow server status` shows the local server; `opflow server stop` resets it; set PREFECT_API_URL to use another server"
        )
    )]
    ServerFailed(String),

    #[error("cannot use `{path}`: {reason}")]
    #[diagnostic(
        code(opflow::runtime::io),
        help("check the folder's permissions and free space")
    )]
    RuntimeIo { path: String, reason: String },

    #[error("no flow named `{name}`")]
    #[diagnostic(code(opflow::runtime::unknown_flow))]
    UnknownFlowName {
        name: String,
        #[help]
        help: String,
    },

    #[error("which flow? this manifest has several: {flows}")]
    #[diagnostic(
        code(opflow::runtime::choose_flow),
        help("name it: `opflow run [MANIFEST] FLOW`")
    )]
    ChooseFlow { flows: String },

    #[error("`{name}` is not a parameter of flow `{flow}`")]
    #[diagnostic(code(opflow::runtime::unknown_param))]
    UnknownParam {
        name: String,
        flow: String,
        #[help]
        help: String,
    },

    #[error("bad value for `{name}` ({ty}): {reason}")]
    #[diagnostic(code(opflow::runtime::bad_param))]
    BadParam {
        name: String,
        ty: String,
        reason: String,
        #[help]
        help: String,
    },

    #[error("flow `{flow}` needs parameter `{name}` ({ty})")]
    #[diagnostic(
        code(opflow::runtime::missing_param),
        help("give it with `--param {name}=VALUE`")
    )]
    MissingParam {
        flow: String,
        name: String,
        ty: String,
    },

    // ---- graph ----
    #[error("dependency cycle `{path}`")]
    #[diagnostic(
        code(opflow::graph::cycle),
        help("an operation cannot run before itself: remove one of the marked dependencies")
    )]
    Cycle {
        path: String,
        #[label("{first_label}")]
        span: SourceSpan,
        first_label: String,
        #[label(collection)]
        others: Vec<LabeledSpan>,
    },
}

pub use crate::manifest::Span;

/// Shorthand: a miette span from ours.
pub fn at(span: Span) -> SourceSpan {
    span.into()
}

impl Diagnostic {
    /// The position the diagnostic is reported at: its first label, if any.
    pub fn offset(&self) -> Option<usize> {
        self.labels()
            .and_then(|mut labels| labels.next())
            .map(|label| label.offset())
    }

    pub fn code_str(&self) -> String {
        self.code().map(|code| code.to_string()).unwrap_or_default()
    }
}

/// Sort diagnostics by position (those without one first) and drop exact repeats.
pub fn sort(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by_key(|d| (d.offset(), d.code_str()));
    diagnostics.dedup_by(|a, b| {
        a.offset() == b.offset() && a.code_str() == b.code_str() && a.to_string() == b.to_string()
    });
}

/// How diagnostics are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Style {
    /// For people: the source with labelled spans.
    Human,
    /// One line each: `file:line:col: error[code]: message`.
    Short,
    /// A JSON array, for tools.
    Json,
    /// GitHub Actions workflow commands: `::error file=…,line=…,col=…::message`.
    Github,
}

/// A diagnostic as JSON (`opflow check --format json`).
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic {
    pub code: String,
    pub severity: &'static str,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub span: Option<JsonSpan>,
    pub help: Option<String>,
    pub labels: Vec<JsonLabel>,
}

#[derive(Debug, Serialize)]
pub struct JsonSpan {
    pub offset: usize,
    pub length: usize,
}

#[derive(Debug, Serialize)]
pub struct JsonLabel {
    pub message: Option<String>,
    pub line: usize,
    pub column: usize,
    pub span: JsonSpan,
}

/// Where the diagnostics of a run point into.
pub struct Context<'a> {
    source: Option<&'a Source>,
    /// The file name as shown to the user.
    display_path: String,
    /// Byte offset of the start of every line, so positions cost a binary
    /// search, not a scan of the file (a run may report thousands of problems).
    line_starts: Arc<Vec<usize>>,
}

impl<'a> Context<'a> {
    pub fn new(source: Option<&'a Source>, display_path: String) -> Self {
        let line_starts = source.map_or_else(Vec::new, |source| line_starts(&source.text));
        Self {
            source,
            display_path,
            line_starts: Arc::new(line_starts),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let Some(source) = self.source else {
            return (1, 1);
        };
        let text = &source.text;
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .max(1);
        let start = self.line_starts[line - 1];
        (line, text[start..offset].chars().count() + 1)
    }

    pub fn to_json(&self, diagnostic: &Diagnostic) -> JsonDiagnostic {
        let labels: Vec<LabeledSpan> = diagnostic
            .labels()
            .map(Iterator::collect)
            .unwrap_or_default();
        let first = labels.first();
        let position = first.map(|label| self.line_col(label.offset()));
        JsonDiagnostic {
            code: diagnostic.code_str(),
            severity: "error",
            message: diagnostic.to_string(),
            file: (!self.display_path.is_empty()).then(|| self.display_path.clone()),
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
            span: first.map(|label| JsonSpan {
                offset: label.offset(),
                length: label.len(),
            }),
            help: diagnostic.help().map(|help| help.to_string()),
            labels: labels
                .iter()
                .map(|label| {
                    let (line, column) = self.line_col(label.offset());
                    JsonLabel {
                        message: label.label().map(str::to_owned),
                        line,
                        column,
                        span: JsonSpan {
                            offset: label.offset(),
                            length: label.len(),
                        },
                    }
                })
                .collect(),
        }
    }

    /// Print the diagnostics in the given style. JSON and GitHub annotations
    /// go to `out` (they are the command's output); the others go to `err`.
    pub fn print(
        &self,
        diagnostics: &[Diagnostic],
        style: Style,
        color: bool,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> std::io::Result<()> {
        match style {
            Style::Json => {
                let json: Vec<JsonDiagnostic> =
                    diagnostics.iter().map(|d| self.to_json(d)).collect();
                serde_json::to_writer_pretty(&mut *out, &json)?;
                writeln!(out)
            }
            Style::Github => {
                for diagnostic in diagnostics {
                    let json = self.to_json(diagnostic);
                    // Workflow-command values escape %, CR and LF (and , : in properties).
                    let data = |text: &str| {
                        text.replace('%', "%25")
                            .replace('\r', "%0D")
                            .replace('\n', "%0A")
                    };
                    let property = |text: &str| data(text).replace(':', "%3A").replace(',', "%2C");
                    let mut props = Vec::new();
                    if let Some(file) = &json.file {
                        props.push(format!("file={}", property(file)));
                    }
                    if let (Some(line), Some(column)) = (json.line, json.column) {
                        props.push(format!("line={line},col={column}"));
                    }
                    props.push(format!("title={}", property(&json.code)));
                    let mut message = json.message.clone();
                    if let Some(help) = &json.help {
                        message.push_str("\nhelp: ");
                        message.push_str(help);
                    }
                    writeln!(out, "::error {}::{}", props.join(","), data(&message))?;
                }
                Ok(())
            }
            Style::Short => {
                for diagnostic in diagnostics {
                    let json = self.to_json(diagnostic);
                    match (json.line, json.column) {
                        (Some(line), Some(column)) => writeln!(
                            err,
                            "{}:{line}:{column}: error[{}]: {}",
                            self.display_path, json.code, json.message
                        )?,
                        _ if !self.display_path.is_empty() => writeln!(
                            err,
                            "{}: error[{}]: {}",
                            self.display_path, json.code, json.message
                        )?,
                        _ => writeln!(err, "error[{}]: {}", json.code, json.message)?,
                    }
                }
                Ok(())
            }
            Style::Human => {
                let theme = if color {
                    GraphicalTheme::unicode()
                } else {
                    GraphicalTheme::unicode_nocolor()
                };
                let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1);
                let source = self.source.map(|source| IndexedSource {
                    name: self.display_path.clone(),
                    text: Arc::from(source.text.as_str()),
                    line_starts: Arc::clone(&self.line_starts),
                });
                for diagnostic in diagnostics {
                    let mut rendered = String::new();
                    let report = match (&source, diagnostic.offset()) {
                        (Some(source), Some(_)) => {
                            miette::Report::new(diagnostic.clone()).with_source_code(source.clone())
                        }
                        _ => miette::Report::new(diagnostic.clone()),
                    };
                    if handler
                        .render_report(&mut rendered, report.as_ref())
                        .is_err()
                    {
                        rendered = format!("error: {diagnostic}\n");
                    }
                    write!(err, "{rendered}")?;
                }
                let count = diagnostics.len();
                if count > 0 {
                    writeln!(
                        err,
                        "error: {count} problem{} found",
                        if count == 1 { "" } else { "s" }
                    )?;
                }
                Ok(())
            }
        }
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// The manifest's text for miette, which reads only the lines around a span
/// (miette's own `str` source scans from the start of the file every time).
#[derive(Clone)]
struct IndexedSource {
    name: String,
    text: Arc<str>,
    line_starts: Arc<Vec<usize>>,
}

impl SourceCode for IndexedSource {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let bytes = self.text.as_bytes();
        let line_of = |offset: usize| {
            self.line_starts
                .partition_point(|&start| start <= offset)
                .max(1)
                - 1
        };
        let first = line_of(span.offset()).saturating_sub(context_lines_before);
        let last = line_of(span.offset() + span.len().saturating_sub(1)) + context_lines_after + 1;
        let start = self.line_starts[first];
        let end = self
            .line_starts
            .get(last + 1)
            .copied()
            .unwrap_or(bytes.len())
            .max(start);
        let window = &bytes[start..end.min(bytes.len())];
        let local = SourceSpan::new(span.offset().saturating_sub(start).into(), span.len());
        let contents = window.read_span(&local, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            contents.data(),
            SourceSpan::new(
                (contents.span().offset() + start).into(),
                contents.span().len(),
            ),
            contents.line() + first,
            contents.column(),
            contents.line_count(),
        )))
    }
}
