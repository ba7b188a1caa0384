//! A flow's deployment settings (`[flows.X.deploy]`) as the lines of its
//! deployment in `prefect.yaml`, in Prefect's own keys: `tags`,
//! `concurrency_limit`, `schedules`, and in `work_pool` the
//! `work_queue_name` and `job_variables`. `opflow serve` reads them back
//! from there (`_runtime.py`), so both run the flow alike.

use std::fmt::Write as _;

use super::{yaml_string, yaml_value};
use crate::graph::{Flow, FlowGraph};
use crate::manifest::raw::CollisionStrategy;
use crate::resolve::deploy::{Every, Preset};
use crate::resolve::{Literal, Operation};

/// The lines of one deployment, each starting with a newline (so an empty
/// string adds none), ready for the template.
pub(super) struct Lines {
    /// `tags`, `concurrency_limit`, `schedules`: after `description`.
    pub head: String,
    /// `work_queue_name`: after the work pool's name.
    pub queue: String,
    /// `PYTHONPATH`: opflow's, unless the job variables' `env` sets it.
    pub python_path: String,
    /// The rest of `env`, then the other job variables.
    pub variables: String,
}

/// The flow's `task_runner=` argument: `runner` (the class) on its
/// cluster (`[flows.X.dask]`, `[flows.X.ray]`). A local Dask cluster
/// listens on loopback only, dashboard included.
pub(super) fn task_runner_arg(flow: &Flow, runner: &str) -> String {
    let cluster = &flow.settings.cluster;
    let args = match (runner, &cluster.address) {
        (_, Some(address))
            if runner != "ThreadPoolTaskRunner" && runner != "ProcessPoolTaskRunner" =>
        {
            format!("address={}", super::python::string(address))
        }
        ("DaskTaskRunner", _) => {
            let mut kwargs =
                String::from(r#"{"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0""#);
            for (key, value) in [
                ("n_workers", cluster.n_workers),
                ("threads_per_worker", cluster.threads_per_worker),
            ] {
                if let Some(value) = value {
                    let _ = write!(kwargs, r#", "{key}": {value}"#);
                }
            }
            kwargs.push('}');
            let inline = format!("cluster_kwargs={kwargs}");
            // ruff's layout: the dict whole on its line when it fits, else
            // one item a line.
            if 8 + inline.len() < super::layout::LINE {
                inline
            } else {
                let items: Vec<&str> = kwargs[1..kwargs.len() - 1].split(", ").collect();
                format!(
                    "cluster_kwargs={{\n            {},\n        }}",
                    items.join(",\n            ")
                )
            }
        }
        _ => String::new(),
    };
    if args.is_empty() {
        format!("task_runner={runner}()")
    } else {
        format!("task_runner={runner}(\n        {args},\n    )")
    }
}

/// The `limits=` argument of an operation's task: each shared limit it
/// holds, with its concurrency and rate (`{"stepstone": [2, None]}`), so
/// the task can create a limit the server lacks (`_runtime.py`).
pub(super) fn limits_arg(graph: &FlowGraph, operation: &Operation) -> Option<String> {
    if operation.settings.limits().is_empty() {
        return None;
    }
    let limits = Literal::Dict(
        operation
            .settings
            .limits()
            .iter()
            .map(|name| {
                let (concurrency, rate) = graph
                    .manifest
                    .limits
                    .get(name)
                    .copied()
                    .unwrap_or((1, None));
                let rate = rate.map_or(Literal::None, Literal::Float);
                (
                    name.clone(),
                    Literal::List(vec![Literal::Int(concurrency.into()), rate]),
                )
            })
            .collect(),
    );
    Some(format!(
        "limits={}",
        super::layout::expression(&limits, 4, 4 + "limits=".len(), 1)
    ))
}

/// A flow's deployments: its own (named after it), then one per preset
/// that sets any of its parameters (`scraping-nightly`).
pub(super) fn variants<'g>(
    graph: &'g FlowGraph,
    flow: &'g Flow,
) -> impl Iterator<Item = (String, Option<&'g Preset>)> + 'g {
    let presets = graph.manifest.presets.iter().filter(|preset| {
        preset
            .values
            .iter()
            .any(|v| flow.params.iter().any(|p| p.name == v.name))
    });
    std::iter::once((flow.name.clone(), None))
        .chain(presets.map(|preset| (format!("{}-{}", flow.name, preset.name), Some(preset))))
}

/// `schedules`: whether the flow's schedules are written (a preset's
/// deployment has none: the flow's schedules would run twice).
pub(super) fn lines(flow: &Flow, python_path: &str, schedules: bool) -> Lines {
    let deploy = &flow.settings.deploy;
    let mut head = String::new();
    if !deploy.tags.is_empty() {
        let tags: Vec<String> = deploy.tags.iter().map(|t| yaml_string(t)).collect();
        let _ = write!(head, "\n    tags: [{}]", tags.join(", "));
    }
    if let Some(limit) = deploy.concurrency_limit {
        match deploy.collision_strategy {
            None => {
                let _ = write!(head, "\n    concurrency_limit: {limit}");
            }
            Some(strategy) => {
                let strategy = match strategy {
                    CollisionStrategy::Enqueue => "ENQUEUE",
                    CollisionStrategy::CancelNew => "CANCEL_NEW",
                };
                let _ = write!(
                    head,
                    "\n    concurrency_limit:\n      limit: {limit}\n      collision_strategy: {strategy}"
                );
            }
        }
    }
    let schedules = if schedules {
        &deploy.schedules[..]
    } else {
        &[]
    };
    if !schedules.is_empty() {
        head.push_str("\n    schedules:");
    }
    for schedule in schedules {
        let every = match &schedule.every {
            Every::Cron(cron) => format!("cron: {}", yaml_string(cron)),
            Every::Seconds(seconds) => format!("interval: {}", super::yaml_seconds(*seconds)),
            Every::RRule(rrule) => format!("rrule: {}", yaml_string(rrule)),
        };
        let _ = write!(head, "\n      - {every}");
        if let Some(timezone) = &schedule.timezone {
            let _ = write!(head, "\n        timezone: {}", yaml_string(timezone));
        }
        let _ = write!(head, "\n        active: {}", schedule.active);
        if !schedule.parameters.is_empty() {
            let parameters = Literal::Dict(
                schedule
                    .parameters
                    .iter()
                    .map(|p| (p.name.clone(), p.value.clone()))
                    .collect(),
            );
            let _ = write!(head, "\n        parameters: {}", yaml_value(&parameters));
        }
    }
    let queue = deploy
        .work_queue
        .as_ref()
        .map(|q| format!("\n      work_queue_name: {}", yaml_string(q)))
        .unwrap_or_default();
    let mut python_path = yaml_string(python_path);
    let mut variables = String::new();
    let mut rest = String::new();
    for (name, value) in &deploy.job_variables {
        match (name.as_str(), value) {
            ("env", Literal::Dict(env)) => {
                for (key, value) in env {
                    if key == "PYTHONPATH" {
                        python_path = yaml_value(value);
                    } else {
                        let _ = write!(
                            variables,
                            "\n          {}: {}",
                            yaml_string(key),
                            yaml_value(value)
                        );
                    }
                }
            }
            _ => {
                let _ = write!(
                    rest,
                    "\n        {}: {}",
                    yaml_string(name),
                    yaml_value(value)
                );
            }
        }
    }
    variables.push_str(&rest);
    Lines {
        head,
        queue,
        python_path,
        variables,
    }
}
