//! The raw model: the manifest as written, with spans, before anything is
//! checked beyond its shape. The JSON Schema is derived from these types, so
//! their doc comments are the descriptions editors show on hover.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::Spanned;

/// An opflow manifest: Python operations, named hierarchically, compiled into
/// Prefect flows by `opflow build`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "opflow manifest")]
pub struct RawManifest {
    /// Version of the manifest format. Must be `1`.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// Project-wide settings.
    #[serde(default)]
    pub project: RawProject,
    /// Task settings every operation inherits unless it sets its own.
    #[serde(default)]
    pub defaults: RawDefaults,
    /// Settings per flow, keyed by the flow's name: a top-level segment such as
    /// `scraping`, or a deeper prefix such as `"scraping.stepstone"` (quoted in
    /// TOML), which then becomes a flow of its own.
    #[serde(default)]
    pub flows: Entries<RawFlow>,
    /// Settings for the generated `prefect.yaml` deployments.
    #[serde(default)]
    pub deploy: RawDeploy,
    /// The operations: each one a Python callable with its signature.
    #[serde(default)]
    pub operations: Vec<Spanned<RawOperation>>,
    /// Named sets of parameter values (`[presets.nightly]`), for every flow
    /// that has those parameters: `opflow run --preset NAME`, and one more
    /// deployment per flow and preset in `prefect.yaml` (`scraping-nightly`).
    #[serde(default)]
    pub presets: Entries<Entries<Spanned<AnyValue>>>,
    /// Limits shared by operations across all runs (Prefect's global
    /// concurrency limits): `[limits.stepstone] concurrency = 2`.
    #[serde(default)]
    pub limits: Entries<RawLimit>,
}

/// A shared limit: how many operations may hold it at once, and optionally
/// how fast it refills.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Limit")]
pub struct RawLimit {
    /// How many operations hold the limit at once, across all runs.
    #[schemars(range(min = 1))]
    pub concurrency: u32,
    /// A rate instead: each operation takes a slot when it starts, and slots
    /// come back at this many per second (Prefect's slot decay), so at most
    /// `concurrency` start at once and then `per_second` a second.
    #[schemars(range(min = 0))]
    pub per_second: Option<Spanned<f64>>,
}

/// Project-wide settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Project")]
pub struct RawProject {
    /// Name of the project. Operations with a flat name (no dot) form the flow of
    /// this name. Default: `main`.
    pub name: Option<Spanned<String>>,
    /// Folder of the generated Python package, relative to the manifest's folder.
    /// Default: `run_cache/orchestration`.
    pub output: Option<Spanned<String>>,
    /// Folders, relative to the manifest's folder, that the generated package puts
    /// on `sys.path` so the operations' modules import. Default: `["."]`.
    pub python_path: Option<Vec<Spanned<String>>>,
    /// Deepest hierarchy of operation names, in segments. Default: 8.
    #[schemars(range(min = 1, max = 64))]
    pub max_depth: Option<Spanned<u32>>,
}

/// Task settings every operation inherits unless it sets its own.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Defaults")]
pub struct RawDefaults {
    /// Where sync operations run. Default: `thread`.
    pub executor: Option<Executor>,
    /// How many times Prefect retries a failed operation. Default: 0.
    pub retries: Option<u32>,
    /// Seconds to wait between retries. Default: 0.
    #[schemars(range(min = 0))]
    pub retry_delay_seconds: Option<f64>,
    /// Seconds after which a running operation is stopped and fails. Default: none.
    #[schemars(range(min = 0))]
    pub timeout_seconds: Option<f64>,
    /// Whether Prefect reuses earlier results instead of running again: a
    /// policy, or several combined (`["inputs", "task_source"]`: reuse while
    /// both the inputs and the code are the same). Default: `none`.
    pub cache: Option<CachePolicy>,
    /// How long a cached result stays valid, in seconds. Default: forever.
    #[schemars(range(min = 0))]
    pub cache_expiration_seconds: Option<f64>,
    /// Prefect tags added to every task run.
    pub tags: Option<Vec<String>>,
    /// Shared limits (`[limits.NAME]`) every operation holds while it runs;
    /// an operation's own `limits` add to these.
    pub limits: Option<Vec<Spanned<String>>>,
    /// Whether each operation's last result is kept, so part of a flow can run
    /// alone and a failed run can resume. Default: true.
    pub persist: Option<bool>,
    /// Where results are kept: a folder (relative to the manifest's folder) or
    /// a Prefect storage block's slug (`s3-bucket/results`; a folder of that
    /// shape is written `./s3-bucket/results`). Default: `.opflow/results`.
    #[schemars(length(min = 1))]
    pub result_storage: Option<Spanned<String>>,
    /// How results are written: one of Prefect's serializers. Default: `pickle`.
    pub serializer: Option<Serializer>,
}

/// Settings of one flow.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Flow")]
pub struct RawFlow {
    /// What the flow does, shown in Prefect and in the generated module's docstring.
    pub description: Option<String>,
    /// Where the flow's tasks run. Default: `thread`.
    pub task_runner: Option<TaskRunner>,
    /// Functions (`module.path:function`) Prefect calls with the flow, its
    /// run and its state when a run fails.
    pub on_failure: Option<Vec<Spanned<String>>>,
    /// Likewise when a run completes.
    pub on_completion: Option<Vec<Spanned<String>>>,
    /// Likewise when a run is cancelled.
    pub on_cancellation: Option<Vec<Spanned<String>>>,
    /// Whether each group of the flow's operations (each parent in the
    /// hierarchy: `scraping.stepstone` for `scraping.stepstone.fetch`) runs
    /// as a nested flow, so that Prefect's UI shows the hierarchy. The
    /// operations still start as soon as their inputs are ready. Default: false.
    pub subflows: Option<bool>,
    /// How the flow is deployed: schedules, concurrency, tags, queue, job
    /// variables; written into `prefect.yaml` and used by `opflow serve`.
    pub deploy: Option<RawFlowDeploy>,
    /// The Dask cluster the flow's tasks run on (implies `task_runner =
    /// "dask"`): an existing one by `address`, or a local one of
    /// `n_workers` processes.
    pub dask: Option<Spanned<RawDask>>,
    /// The Ray cluster the flow's tasks run on (implies `task_runner = "ray"`).
    pub ray: Option<Spanned<RawRay>>,
}

/// A Dask cluster. Its scheduler and every worker must be able to import
/// the operations' modules.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Dask")]
pub struct RawDask {
    /// The scheduler of an existing cluster, e.g. `tcp://10.0.0.5:8786`.
    #[schemars(length(min = 1))]
    pub address: Option<Spanned<String>>,
    /// Worker processes of a local cluster started for each run. Default: Dask's.
    #[schemars(range(min = 1))]
    pub n_workers: Option<Spanned<u32>>,
    /// Threads of each worker of a local cluster. Default: Dask's.
    #[schemars(range(min = 1))]
    pub threads_per_worker: Option<Spanned<u32>>,
}

/// A Ray cluster.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Ray")]
pub struct RawRay {
    /// The cluster's address, e.g. `ray://10.0.0.5:10001`. Default: a local
    /// Ray started for each run.
    #[schemars(length(min = 1))]
    pub address: Option<Spanned<String>>,
}

/// A flow's deployment settings (Prefect's own, under opflow's names).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "FlowDeploy")]
pub struct RawFlowDeploy {
    /// When Prefect starts runs of the flow: each schedule one of `cron`,
    /// `interval_seconds` or `rrule`, with its own parameters.
    #[serde(default)]
    pub schedules: Vec<Spanned<RawSchedule>>,
    /// How many runs of this deployment may be active at once.
    #[schemars(range(min = 1))]
    pub concurrency_limit: Option<Spanned<u32>>,
    /// What happens to a run started beyond `concurrency_limit`: it waits
    /// (`enqueue`, Prefect's default) or is cancelled (`cancel_new`).
    pub collision_strategy: Option<Spanned<CollisionStrategy>>,
    /// Prefect tags of the deployment and of its runs.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The work pool's queue the runs go to. Default: the pool's default queue.
    #[schemars(length(min = 1))]
    pub work_queue: Option<String>,
    /// Job variables for the work pool's workers (`env`, `image`, ...),
    /// merged over opflow's `env.PYTHONPATH`.
    pub job_variables: Option<Spanned<JobVariables>>,
}

/// One schedule of a deployment.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Schedule")]
pub struct RawSchedule {
    /// A cron expression of five fields: minute, hour, day of month, month,
    /// day of week (`0 6 * * 1-5`), or `@hourly`, `@daily`, `@weekly`,
    /// `@monthly`, `@yearly`.
    pub cron: Option<Spanned<String>>,
    /// Seconds between runs.
    #[schemars(range(min = 0))]
    pub interval_seconds: Option<Spanned<f64>>,
    /// An iCalendar recurrence rule (RFC 5545), e.g. `FREQ=WEEKLY;BYDAY=MO`.
    pub rrule: Option<Spanned<String>>,
    /// IANA time zone the schedule is read in, e.g. `Europe/Berlin`. Default: UTC.
    pub timezone: Option<Spanned<String>>,
    /// Parameters of the runs this schedule starts, over the flow's defaults.
    pub parameters: Option<Entries<Spanned<AnyValue>>>,
    /// Whether the schedule starts runs. Default: true.
    pub active: Option<bool>,
}

/// What Prefect does with a run started beyond a deployment's concurrency limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CollisionStrategy {
    /// The run waits until one of the active runs ends.
    Enqueue,
    /// The run is cancelled.
    CancelNew,
}

/// Settings for the generated `prefect.yaml` deployments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Deploy")]
pub struct RawDeploy {
    /// Prefect work pool the deployments run on. Default: `opflow`.
    pub work_pool: Option<String>,
}

// The fields most operations leave out are boxed (`Option<Box<_>>`, one
// pointer when absent): a large manifest holds many operations at once, and
// the schema and the deserializer see through the box.
/// One operation: a Python callable, its signature and its task settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Operation")]
pub struct RawOperation {
    /// Full hierarchical name, dot-separated Python identifiers:
    /// `scraping.stepstone.fetch`. The first segment names the flow.
    pub name: Spanned<String>,
    /// The Python callable, as `module.path:qualname`.
    pub call: Spanned<String>,
    /// Whether the callable is an `async def` function.
    #[serde(default, rename = "async")]
    pub is_async: bool,
    /// Parameters in call order: name → type string, or a table with `type`,
    /// `default` and `from`. Each is bound to an upstream operation (explicit
    /// `from`, then by name, then by type) or becomes a flow parameter.
    #[serde(default)]
    pub params: Entries<RawParam>,
    /// Type of the value the callable returns, e.g. `list[jobs.models.Listing]`.
    pub returns: Option<Spanned<String>>,
    /// Named outputs, for a callable that returns several values (a dict, a
    /// `NamedTuple` or a tuple): name → type string. Downstream parameters bind to
    /// them by name or with `from = "op.name.output"`.
    pub outputs: Option<Box<Entries<Spanned<String>>>>,
    /// Operations that must finish before this one. A parameter binds to one of
    /// them by name or type; those bound to no parameter only order the run.
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    /// Where a sync operation runs: `thread` (default) or `process` for CPU-bound work.
    pub executor: Option<Executor>,
    /// How many times Prefect retries this operation when it fails.
    pub retries: Option<u32>,
    /// Seconds to wait between retries.
    #[schemars(range(min = 0))]
    pub retry_delay_seconds: Option<f64>,
    /// Seconds after which the operation is stopped and fails.
    #[schemars(range(min = 0))]
    pub timeout_seconds: Option<f64>,
    /// Whether Prefect reuses earlier results instead of running again: a
    /// policy, or several combined (`["inputs", "task_source"]`).
    pub cache: Option<Box<CachePolicy>>,
    /// How long a cached result stays valid, in seconds.
    #[schemars(range(min = 0))]
    pub cache_expiration_seconds: Option<f64>,
    /// Prefect tags added to this operation's task runs.
    pub tags: Option<Box<Vec<String>>>,
    /// Shared limits (`[limits.NAME]`) this operation holds while it runs,
    /// after the defaults'.
    pub limits: Option<Box<Vec<Spanned<String>>>>,
    /// Whether this operation's last result is kept (false for results that
    /// must not be). Default: the defaults', else true.
    pub persist: Option<bool>,
    /// Where this operation's result is kept (see the defaults').
    #[schemars(length(min = 1))]
    pub result_storage: Option<Box<Spanned<String>>>,
    /// How this operation's result is written (see the defaults').
    pub serializer: Option<Serializer>,
    /// What the operation does; shown in the generated code and in Prefect.
    pub doc: Option<String>,
    /// Parameters that each receive one element of their list-valued source:
    /// the operation runs once per element (Prefect's `task.map`, the other
    /// parameters `unmapped`), and what flows downstream is the list of
    /// results, in the source's order. Several parameters are zipped.
    #[schemars(length(min = 1))]
    pub map: Option<Box<Vec<Spanned<String>>>>,
    /// When the operation runs: `all_success` (default) once every upstream
    /// operation completed; `all_done` once every one finished, whatever its
    /// outcome (Prefect's `allow_failure`). A parameter bound to an upstream
    /// that failed then receives `None`, so its type must accept `None`.
    pub trigger: Option<Box<Spanned<Trigger>>>,
    /// Functions (`module.path:function`) Prefect calls with the task, its
    /// run and its state when this operation fails (after its retries).
    pub on_failure: Option<Box<Vec<Spanned<String>>>>,
    /// Likewise when it completes.
    pub on_completion: Option<Box<Vec<Spanned<String>>>>,
}

impl RawOperation {
    /// The parameters in `map`, none when it is not given.
    pub fn mapped(&self) -> &[Spanned<String>] {
        items(self.map.as_deref())
    }

    /// The operation's own tags, none when not given.
    pub fn own_tags(&self) -> &[String] {
        items(self.tags.as_deref())
    }

    /// The hooks' references: `on_failure`'s, then `on_completion`'s.
    pub fn hook_references(&self) -> impl Iterator<Item = &Spanned<String>> {
        items(self.on_failure.as_deref())
            .iter()
            .chain(items(self.on_completion.as_deref()))
    }
}

/// The items of a list that is rarely given (so kept out of line: most
/// operations set few of their fields, and a manifest holds many of them).
pub fn items<T>(list: Option<&Vec<T>>) -> &[T] {
    list.map_or(&[], Vec::as_slice)
}

/// When an operation runs, given how its upstream operations ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Once every upstream operation completed (a failure upstream stops it).
    AllSuccess,
    /// Once every upstream operation finished, failed or not: a cleanup, a
    /// notification.
    AllDone,
}

/// Where a sync operation runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Executor {
    /// In a worker thread, beside the other operations (I/O-bound work).
    Thread,
    /// In a separate process, so CPU-bound work does not hold the interpreter.
    Process,
}

/// Which Prefect task runner a flow uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskRunner {
    /// `ThreadPoolTaskRunner`: threads in the flow's process.
    Thread,
    /// `ProcessPoolTaskRunner`: worker processes on this machine.
    Process,
    /// `prefect_dask.DaskTaskRunner`: a Dask cluster (package `prefect-dask`).
    Dask,
    /// `prefect_ray.RayTaskRunner`: a Ray cluster (package `prefect-ray`).
    Ray,
}

/// One of Prefect's result serializers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Serializer {
    /// `pickle` (cloudpickle): any Python value.
    #[serde(rename = "pickle")]
    Pickle,
    /// `json`: values JSON can hold (and what Prefect's encoder adds).
    #[serde(rename = "json")]
    Json,
    /// `compressed/pickle`: pickle, compressed.
    #[serde(rename = "compressed/pickle")]
    CompressedPickle,
    /// `compressed/json`: JSON, compressed.
    #[serde(rename = "compressed/json")]
    CompressedJson,
}

impl Serializer {
    /// Prefect's name of it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pickle => "pickle",
            Self::Json => "json",
            Self::CompressedPickle => "compressed/pickle",
            Self::CompressedJson => "compressed/json",
        }
    }
}

/// One cache policy, or several combined (Prefect's `INPUTS + TASK_SOURCE`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum CachePolicy {
    One(Cache),
    All(#[schemars(length(min = 1))] Vec<Cache>),
}

impl CachePolicy {
    /// The policies, each once, in the order written.
    pub fn policies(&self) -> Vec<Cache> {
        let written: &[Cache] = match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::All(all) => all,
        };
        let mut policies = Vec::with_capacity(written.len());
        for &policy in written {
            if !policies.contains(&policy) {
                policies.push(policy);
            }
        }
        policies
    }
}

/// Prefect cache policy of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cache {
    /// Never cache: run every time.
    None,
    /// Reuse a result when the inputs are the same.
    Inputs,
    /// Reuse a result while the operation's source code is unchanged.
    TaskSource,
    /// Prefect's default: same inputs, same source, same flow run.
    Default,
}

/// A parameter: a type string, or a table with `type`, `default` and `from`.
#[derive(Debug)]
pub enum RawParam {
    /// `name = "type"`
    Type(Spanned<String>),
    /// `name = { type = "...", default = ..., from = "..." }` (boxed: the
    /// rules make it many times the size of a type string)
    Table(Box<RawParamTable>),
}

// The rules are boxed like an operation's rarely set fields (see
// `RawOperation`): most parameters have none.
/// A parameter written as a table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ParamTable")]
pub struct RawParamTable {
    /// Type of the parameter, e.g. `int` or `list[jobs.models.Listing]`.
    #[serde(rename = "type")]
    pub ty: Option<Spanned<String>>,
    /// Default value (a literal) used when the parameter becomes a flow parameter.
    pub default: Option<Spanned<AnyValue>>,
    /// Where the value comes from: an operation (`a.b.c`), a named output
    /// (`a.b.c.output`), or a flow parameter (`$name`).
    pub from: Option<Spanned<String>>,
    /// A flow parameter's value is at least this.
    pub ge: Option<Box<Spanned<f64>>>,
    /// A flow parameter's value is above this.
    pub gt: Option<Box<Spanned<f64>>>,
    /// A flow parameter's value is at most this.
    pub le: Option<Box<Spanned<f64>>>,
    /// A flow parameter's value is below this.
    pub lt: Option<Box<Spanned<f64>>>,
    /// The values a flow parameter may take (literals of its type).
    pub choices: Option<Box<Spanned<AnyValue>>>,
    /// A regular expression a flow parameter's string matches somewhere
    /// (anchor it with `^...$` to match whole), in the syntax pydantic
    /// checks it with (Rust's `regex`: no look-around, no backreferences).
    pub pattern: Option<Box<Spanned<String>>>,
    /// A flow parameter's string or collection has at least this many
    /// characters or items.
    pub min_length: Option<Box<Spanned<u64>>>,
    /// ... and at most this many.
    pub max_length: Option<Box<Spanned<u64>>>,
}

// The schema of `RawParam`; its doc comment is what editors show.
/// A parameter: a type string such as `"int"`, or a table with `type`,
/// `default` and `from`.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum RawParamSchema {
    /// Type of the parameter, e.g. `int` or `list[jobs.models.Listing]`.
    Type(String),
    /// A parameter with a default or an explicit source.
    Table(Box<RawParamTable>),
}

impl JsonSchema for RawParam {
    fn schema_name() -> Cow<'static, str> {
        "Param".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        RawParamSchema::json_schema(generator)
    }
}

impl<'de> Deserialize<'de> for RawParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<ParamShape>::deserialize(deserializer)?;
        Ok(match spanned.value {
            ParamShape::Type(ty) => Self::Type(Spanned::new(ty, spanned.span)),
            ParamShape::Table(table) => Self::Table(table),
        })
    }
}

enum ParamShape {
    Type(String),
    Table(Box<RawParamTable>),
}

impl<'de> Deserialize<'de> for ParamShape {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;
        impl<'de> Visitor<'de> for ShapeVisitor {
            type Value = ParamShape;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a type string or a table with `type`, `default` and `from`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ParamShape, E> {
                Ok(ParamShape::Type(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ParamShape, A::Error> {
                RawParamTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|table| ParamShape::Table(Box::new(table)))
            }
        }
        deserializer.deserialize_any(ShapeVisitor)
    }
}

/// Any value; read from the document tree where it is needed (defaults).
#[derive(Debug, Clone, Copy)]
pub struct AnyValue;

impl<'de> Deserialize<'de> for AnyValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        de::IgnoredAny::deserialize(deserializer).map(|_| Self)
    }
}

impl JsonSchema for AnyValue {
    fn schema_name() -> Cow<'static, str> {
        "Literal".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A literal: string, number, boolean, array or table of literals."
        })
    }
}

/// A deployment's job variables: a table of literals, read from the
/// document tree where it is needed; its `env` a table of strings (a
/// worker sets them as environment variables, and opflow's `PYTHONPATH`
/// goes in it).
#[derive(Debug, Clone, Copy)]
pub struct JobVariables;

impl<'de> Deserialize<'de> for JobVariables {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        de::IgnoredAny::deserialize(deserializer).map(|_| Self)
    }
}

impl JsonSchema for JobVariables {
    fn schema_name() -> Cow<'static, str> {
        "JobVariables".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A table of literals: strings, numbers, booleans, arrays, tables.",
            "type": "object",
            "properties": {
                "env": {
                    "description": "Environment variables of the runs, each a string.",
                    "type": "object",
                    "additionalProperties": { "type": "string" }
                }
            }
        })
    }
}

/// An ordered table whose keys keep their spans: `params`, `outputs`, `flows`.
#[derive(Debug)]
pub struct Entries<V>(pub Vec<(Spanned<String>, V)>);

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<V>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(key) = map.next_key()? {
                    entries.push((key, map.next_value()?));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

impl<V: JsonSchema> JsonSchema for Entries<V> {
    fn schema_name() -> Cow<'static, str> {
        format!("Table_of_{}", V::schema_name()).into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "additionalProperties": generator.subschema_for::<V>(),
        })
    }
}
