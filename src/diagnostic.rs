//! Every problem opflow reports, as data, and the one place they are printed.
//!
//! Each variant has a stable code (`opflow::<stage>::<kind>`), a severity
//! (error, or warning for a likely mistake that does not stop the build), a
//! label on the exact span, a second label where another place is involved,
//! and a help line. The printers, one per style, are in `diagnostic/`.

mod github;
mod human;
mod json;
mod short;

pub use json::{JsonDiagnostic, JsonLabel, JsonSpan};

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use miette::{Diagnostic as _, LabeledSpan, SourceSpan};

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
    #[diagnostic(code(opflow::resolve::invalid_call))]
    InvalidCall {
        call: String,
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
        #[help]
        help: String,
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

    #[error("parameter name `{param}` is reserved: {reason}")]
    #[diagnostic(code(opflow::resolve::reserved_parameter_name))]
    ReservedParameterName {
        param: String,
        reason: String,
        #[label("reserved")]
        span: SourceSpan,
        #[help]
        help: String,
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
            "`__init__`, `__main__`, `_path`, `_runtime`, `_select` and `_tasks` are the package's own modules: rename the flow"
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

    #[error("default of `{param}` does not fit its type `{ty}`: {reason}")]
    #[diagnostic(
        code(opflow::resolve::default_type_mismatch),
        help("change the default to a value of type `{ty}`, or the type to fit the default")
    )]
    DefaultTypeMismatch {
        param: String,
        ty: String,
        reason: String,
        #[label("not of type `{ty}`")]
        span: SourceSpan,
        #[label("the type is declared here")]
        type_span: SourceSpan,
    },

    #[error(
        "parameter `{param}` of `{operation}` is `{param_type}`, but its source `{source_name}` gives `{source_type}`"
    )]
    #[diagnostic(
        code(opflow::resolve::from_type_mismatch),
        help(
            "make the two types agree (the parameter's type must accept the source's), or take the value from another source"
        )
    )]
    FromTypeMismatch {
        operation: String,
        param: String,
        param_type: String,
        source_name: String,
        source_type: String,
        #[label("`{param_type}` here")]
        span: SourceSpan,
        #[label("`{source_name}` gives `{source_type}`")]
        source_span: SourceSpan,
    },

    #[error("`map` of `{operation}` names `{param}`, which is not one of its parameters")]
    #[diagnostic(code(opflow::resolve::unknown_map_param))]
    UnknownMapParam {
        operation: String,
        param: String,
        #[label("not a parameter of `{operation}`")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error(
        "parameter `{param}` of `{operation}` is mapped over, but nothing upstream gives its list: it is a flow parameter"
    )]
    #[diagnostic(
        code(opflow::resolve::map_over_flow_param),
        help(
            "a mapped parameter takes the elements of an operation's result: bind it to one with `from = \"op\"`, or add an operation that returns the list"
        )
    )]
    MapOverFlowParam {
        operation: String,
        param: String,
        #[label("mapped here")]
        span: SourceSpan,
    },

    #[error(
        "parameter `{param}` of `{operation}` is mapped over `{source_name}`, which gives `{source_type}`, not a list"
    )]
    #[diagnostic(
        code(opflow::resolve::map_source_not_a_list),
        help(
            "a mapped parameter's source returns `list[T]`, `Sequence[T]`, `tuple[T, ...]` or `set[T]`; or remove `{param}` from `map`"
        )
    )]
    MapSourceNotList {
        operation: String,
        param: String,
        source_name: String,
        source_type: String,
        #[label("mapped here")]
        span: SourceSpan,
        #[label("`{source_name}` gives `{source_type}`")]
        source_span: SourceSpan,
    },

    #[error(
        "parameter `{param}` of `{operation}` is `{param_type}`, but the elements of `{source_name}` are `{element}`"
    )]
    #[diagnostic(
        code(opflow::resolve::map_element_mismatch),
        help(
            "a mapped parameter's type is the type of one element of its source: `{element}` for `{source_type}`"
        )
    )]
    MapElementMismatch {
        operation: String,
        param: String,
        param_type: String,
        source_name: String,
        source_type: String,
        element: String,
        #[label("`{param_type}` here")]
        span: SourceSpan,
        #[label("`{source_name}` gives `{source_type}`")]
        source_span: SourceSpan,
    },

    #[error(
        "parameter `{param}` of `{operation}` must accept `None` ({param_type}): with `trigger = \"all_done\"` it is `None` when its upstream failed"
    )]
    #[diagnostic(code(opflow::resolve::all_done_not_optional))]
    AllDoneNotOptional {
        operation: String,
        param: String,
        param_type: String,
        #[label("does not accept `None`")]
        span: SourceSpan,
        #[label("runs after a failure upstream")]
        trigger: SourceSpan,
        #[help]
        help: String,
    },

    #[error("operation `{operation}` is mapped and runs with `trigger = \"all_done\"`")]
    #[diagnostic(
        code(opflow::resolve::all_done_mapped),
        help(
            "a mapped operation needs its list: run the cleanup in an operation of its own that takes the mapped results, with `trigger = \"all_done\"`"
        )
    )]
    AllDoneMapped {
        operation: String,
        #[label("all_done here")]
        span: SourceSpan,
        #[label("mapped here")]
        map: SourceSpan,
    },

    #[error("operation `{operation}` is mapped and declares named `outputs`")]
    #[diagnostic(
        code(opflow::resolve::map_with_outputs),
        help(
            "a mapped operation gives a list of results: declare `returns` (the type of one result) and pick what you need downstream"
        )
    )]
    MapWithOutputs {
        operation: String,
        #[label("mapped here")]
        span: SourceSpan,
        #[label("named outputs here")]
        outputs: SourceSpan,
    },

    #[error(
        "parameter `{param}` of `{operation}` becomes a flow parameter, but it is close to {kind} `{candidate}`"
    )]
    #[diagnostic(code(opflow::resolve::likely_typo), severity(Warning))]
    LikelyTypo {
        operation: String,
        param: String,
        kind: &'static str,
        candidate: String,
        #[label("nothing upstream is named `{param}`")]
        span: SourceSpan,
        #[help]
        help: String,
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

    #[error("`{}` is stale; run `opflow build` to update it", path.display())]
    #[diagnostic(
        code(opflow::emit::stale),
        help("the diff on stdout shows what `opflow build` would change")
    )]
    Stale { path: PathBuf },

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

    #[error("`{name}` of flow `{flow}` breaks its rules: {reason}")]
    #[diagnostic(
        code(opflow::runtime::param_rule),
        help(
            "give `{name}` a value its rules allow (`opflow plan` shows them in the manifest's parameter table)"
        )
    )]
    ParamRule {
        name: String,
        flow: String,
        reason: String,
    },

    #[error("no preset `{name}`")]
    #[diagnostic(code(opflow::runtime::unknown_preset))]
    UnknownPreset {
        name: String,
        #[help]
        help: String,
    },

    #[error("a parameters file is a table of parameter values")]
    #[diagnostic(
        code(opflow::runtime::params_file_shape),
        help(
            "write `name = value` lines (TOML), `name: value` (YAML) or `{{\"name\": value}}` (JSON)"
        )
    )]
    ParamsFileShape {
        #[label("not a table")]
        span: SourceSpan,
    },

    #[error("`--param {given}` has no value")]
    #[diagnostic(
        code(opflow::runtime::param_without_value),
        help("write `--param {given}=VALUE` (an empty string is `--param {given}=`)")
    )]
    ParamWithoutValue { given: String },

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

    // ---- verify: the manifest against the code ----
    #[error("cannot import `{module}`: {message}")]
    #[diagnostic(
        code(opflow::verify::import_failed),
        help(
            "fix the module, or the `call`; opflow imports it from the manifest's `python_path` with the project's Python"
        )
    )]
    ImportFailed {
        module: String,
        message: String,
        #[label("this module does not import")]
        span: SourceSpan,
    },

    #[error("`{module}` has no `{qualname}`")]
    #[diagnostic(code(opflow::verify::no_such_callable))]
    NoSuchCallable {
        module: String,
        qualname: String,
        #[label("not found in `{module}`")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("`{call}` is not a function: {what}")]
    #[diagnostic(
        code(opflow::verify::not_a_function),
        help("`call` names the function the operation runs: `module.path:function`")
    )]
    NotAFunction {
        call: String,
        what: String,
        #[label("not a function")]
        span: SourceSpan,
    },

    #[error("operation `{operation}` says {said}, but `{call}` is {is}")]
    #[diagnostic(code(opflow::verify::async_mismatch))]
    AsyncMismatch {
        operation: String,
        call: String,
        said: &'static str,
        is: &'static str,
        #[label("{is} function")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("`{call}` takes no parameter `{param}`")]
    #[diagnostic(code(opflow::verify::unknown_parameter))]
    UnknownParameter {
        call: String,
        param: String,
        #[label("not a parameter of the function")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("`{call}` needs parameter `{param}`, which the manifest does not give")]
    #[diagnostic(code(opflow::verify::missing_parameter))]
    MissingParameter {
        call: String,
        param: String,
        #[label("`{param}` is required by this function")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error(
        "parameter `{param}` is `{declared}` in the manifest, but `{call}` annotates it `{annotated}`"
    )]
    #[diagnostic(
        code(opflow::verify::type_mismatch),
        help(
            "make the manifest's type agree with the annotation (`opflow scan` writes it from the code)"
        )
    )]
    ParamTypeMismatch {
        call: String,
        param: String,
        declared: String,
        annotated: String,
        #[label("the function takes `{annotated}`")]
        span: SourceSpan,
    },

    #[error(
        "`{operation}` returns `{declared}` in the manifest, but `{call}` is annotated `-> {annotated}`"
    )]
    #[diagnostic(
        code(opflow::verify::return_type_mismatch),
        help("make `returns` agree with the function's return annotation")
    )]
    ReturnTypeMismatch {
        operation: String,
        call: String,
        declared: String,
        annotated: String,
        #[label("the function returns `{annotated}`")]
        span: SourceSpan,
    },

    #[error("output `{output}` of `{operation}` is not something `{returns}` provides")]
    #[diagnostic(code(opflow::verify::unknown_output))]
    MissingOutput {
        operation: String,
        output: String,
        returns: String,
        #[label("not provided by the return type")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("cannot verify the operations against the code: {reason}")]
    #[diagnostic(code(opflow::verify::failed))]
    VerifyFailed {
        reason: String,
        #[help]
        help: String,
    },

    // ---- select: `--select` and `--exclude` ----
    #[error("invalid selection `{term}`: {reason}")]
    #[diagnostic(code(opflow::select::syntax))]
    SelectSyntax {
        term: String,
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("`{term}` selects no operation of flow `{flow}`")]
    #[diagnostic(code(opflow::select::no_match))]
    SelectNoMatch {
        term: String,
        flow: String,
        label: String,
        #[label("{label}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("nothing is selected: {reason}")]
    #[diagnostic(code(opflow::select::empty))]
    EmptySelection {
        reason: String,
        #[label("nothing left")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    // ---- deploy: `[flows.X.deploy]` ----
    #[error("a schedule needs exactly one of `cron`, `interval_seconds` and `rrule`; {reason}")]
    #[diagnostic(
        code(opflow::deploy::schedule_kind),
        help(
            "write one schedule per kind: `{{ cron = \"0 6 * * *\" }}`, `{{ interval_seconds = 3600 }}`, `{{ rrule = \"FREQ=DAILY\" }}`"
        )
    )]
    ScheduleKind {
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
    },

    #[error("invalid {kind}: {reason}")]
    #[diagnostic(code(opflow::deploy::invalid_schedule))]
    InvalidSchedule {
        kind: &'static str,
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("unknown time zone `{name}`")]
    #[diagnostic(code(opflow::deploy::unknown_timezone))]
    UnknownTimezone {
        name: String,
        #[label("not an IANA time zone name")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("flow `{flow}` has no parameter `{param}`")]
    #[diagnostic(code(opflow::deploy::unknown_parameter))]
    UnknownScheduleParameter {
        flow: String,
        param: String,
        #[label("not a parameter of `{flow}`")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("`{param}` of flow `{flow}` is `{ty}`: {reason}")]
    #[diagnostic(
        code(opflow::deploy::parameter_type_mismatch),
        help("give `{param}` a value of type `{ty}`")
    )]
    ScheduleParameterType {
        flow: String,
        param: String,
        ty: String,
        reason: String,
        #[label("not of type `{ty}`")]
        span: SourceSpan,
    },

    #[error("the value of `{param}` breaks its rules: {reason}")]
    #[diagnostic(
        code(opflow::deploy::parameter_breaks_rule),
        help("give `{param}` a value its rules accept: every run with this one would be refused")
    )]
    ParameterBreaksRule {
        param: String,
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
    },

    #[error("scheduled runs of flow `{flow}` lack its required parameter{plural} {params}")]
    #[diagnostic(
        code(opflow::deploy::missing_parameter),
        help("give them in the schedule's `parameters`, or give the parameters defaults")
    )]
    MissingScheduleParameter {
        flow: String,
        params: String,
        plural: &'static str,
        #[label("every run it starts would fail")]
        span: SourceSpan,
    },

    #[error("value of `{what}` is not a literal: {reason}")]
    #[diagnostic(
        code(opflow::deploy::invalid_value),
        help(
            "write a string, number, boolean, array or table; a date-time can be given as a string"
        )
    )]
    InvalidDeployValue {
        what: String,
        reason: String,
        #[label("not a literal")]
        span: SourceSpan,
    },

    #[error("preset `{preset}` sets `{param}`, which no flow has")]
    #[diagnostic(code(opflow::deploy::unknown_preset_parameter))]
    UnknownPresetParameter {
        preset: String,
        param: String,
        #[label("no flow has this parameter")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("rules of `{param}`, which is not a flow parameter")]
    #[diagnostic(
        code(opflow::resolve::rule_not_flow_parameter),
        help(
            "rules check the values a run is given; this parameter's value comes from an operation: remove them, or check in that operation"
        )
    )]
    RuleNotFlowParameter {
        param: String,
        #[label("bound to an operation")]
        span: SourceSpan,
    },

    #[error("the default of `{param}` breaks its rules: {reason}")]
    #[diagnostic(
        code(opflow::resolve::default_breaks_rule),
        help("change the default or the rule")
    )]
    DefaultBreaksRule {
        param: String,
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
    },

    #[error("flow parameter `{param}` is given different rules")]
    #[diagnostic(
        code(opflow::resolve::conflicting_rules),
        help(
            "operations that share a flow parameter share its rules: write them once, or the same in both"
        )
    )]
    ConflictingRules {
        param: String,
        #[label("these rules")]
        span: SourceSpan,
        #[label("differ from these")]
        first: SourceSpan,
    },

    #[error("`{rule}` on `{param}`, whose type `{ty}` is not {takes}")]
    #[diagnostic(
        code(opflow::resolve::rule_type_mismatch),
        help(
            "`ge`, `gt`, `le` and `lt` are for numbers, `pattern` for strings, `min_length` and `max_length` for strings and collections"
        )
    )]
    RuleMisfit {
        param: String,
        rule: String,
        ty: String,
        takes: String,
        #[label("not for `{ty}`")]
        span: SourceSpan,
    },

    #[error("invalid `pattern`: {reason}")]
    #[diagnostic(
        code(opflow::resolve::invalid_pattern),
        help(
            "patterns are checked as pydantic checks them (Rust's `regex` syntax: no look-around, no backreferences)"
        )
    )]
    InvalidPattern {
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
    },

    #[error("invalid `choices`: {reason}")]
    #[diagnostic(
        code(opflow::resolve::invalid_choices),
        help("write the values the parameter may take as a list: `choices = [\"a\", \"b\"]`")
    )]
    InvalidChoices {
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
    },

    #[error("`choices` of `{param}` do not fit its type `{ty}`: {reason}")]
    #[diagnostic(
        code(opflow::resolve::choice_type_mismatch),
        help("each choice is a value of type `{ty}`")
    )]
    ChoiceTypeMismatch {
        param: String,
        ty: String,
        reason: String,
        #[label("not all of type `{ty}`")]
        span: SourceSpan,
    },

    #[error("`[flows.X.{table}]` on a flow whose `task_runner` is `{runner}`")]
    #[diagnostic(
        code(opflow::deploy::cluster_runner_mismatch),
        help(
            "a `{table}` table says where the `{table}` runner's tasks run: set `task_runner = \"{table}\"`, or leave it out"
        )
    )]
    ClusterRunnerMismatch {
        table: String,
        runner: String,
        #[label("for the `{table}` runner")]
        span: SourceSpan,
    },

    #[error("a local cluster's size beside an existing cluster's `address`")]
    #[diagnostic(
        code(opflow::deploy::address_with_local_cluster),
        help(
            "`n_workers` and `threads_per_worker` size the cluster opflow starts; with an `address` the cluster is yours: remove one or the other"
        )
    )]
    AddressWithLocalCluster {
        #[label("for a local cluster")]
        span: SourceSpan,
        #[label("an existing cluster")]
        address: SourceSpan,
    },

    #[error("invalid cluster address `{address}`")]
    #[diagnostic(
        code(opflow::deploy::invalid_address),
        help(
            "write the scheduler's address, e.g. `tcp://10.0.0.5:8786` (Dask) or `ray://10.0.0.5:10001` (Ray)"
        )
    )]
    InvalidAddress {
        address: String,
        #[label("empty, or with spaces or control characters")]
        span: SourceSpan,
    },

    #[error("unknown limit `{name}`")]
    #[diagnostic(code(opflow::deploy::unknown_limit))]
    UnknownLimit {
        name: String,
        #[label("no `[limits.{name}]`")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("`collision_strategy` without `concurrency_limit`")]
    #[diagnostic(
        code(opflow::deploy::collision_without_limit),
        help("it says what happens to runs beyond the limit: set `concurrency_limit` too")
    )]
    CollisionWithoutLimit {
        #[label("no limit to collide with")]
        span: SourceSpan,
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

    /// A warning: a likely mistake that does not stop the build (exit 0
    /// unless `--deny-warnings`).
    pub fn is_warning(&self) -> bool {
        matches!(self.severity(), Some(miette::Severity::Warning))
    }

    /// `"error"` or `"warning"`, as the printers write it.
    pub fn severity_name(&self) -> &'static str {
        if self.is_warning() {
            "warning"
        } else {
            "error"
        }
    }
}

/// How many of `diagnostics` are errors and how many warnings.
pub fn counts(diagnostics: &[Diagnostic]) -> (usize, usize) {
    let warnings = diagnostics.iter().filter(|d| d.is_warning()).count();
    (diagnostics.len() - warnings, warnings)
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

    /// Print the diagnostics in the given style, one printer per style (the
    /// files of `src/diagnostic/`). JSON and GitHub annotations go to `out`
    /// (they are the command's output); the others go to `err`.
    pub fn print(
        &self,
        diagnostics: &[Diagnostic],
        style: Style,
        color: bool,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> std::io::Result<()> {
        match style {
            Style::Json => json::print(self, diagnostics, out),
            Style::Github => github::print(self, diagnostics, out),
            Style::Short => short::print(self, diagnostics, err),
            Style::Human => human::print(self, diagnostics, color, err),
        }
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}
