//! `[flows.X.deploy]`: a flow's deployment settings, checked and lowered.
//! Schedules' syntax is checked here (`schedule.rs`), at the line; their
//! parameters, which need the flow's parameters, once the graph is built
//! ([`check_parameters`]).

use foldhash::HashMap;

use super::literal::DefaultRead;
use super::schedule;
use super::{Literal, Resolver, types};
use crate::diagnostic::{Diagnostic, at};
use crate::graph::FlowGraph;
use crate::manifest::raw::{CollisionStrategy, RawFlowDeploy, RawSchedule};
use crate::manifest::{Document, Span, Spanned, Value};
use crate::suggest::did_you_mean;

/// A flow's deployment settings, checked.
#[derive(Debug, Clone, Default)]
pub struct FlowDeploy {
    pub schedules: Vec<Schedule>,
    pub concurrency_limit: Option<u32>,
    pub collision_strategy: Option<CollisionStrategy>,
    pub tags: Vec<String>,
    pub work_queue: Option<String>,
    /// The job variables' table, as written.
    pub job_variables: Vec<(String, Literal)>,
}

/// When a schedule starts runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Every {
    Cron(String),
    Seconds(f64),
    RRule(String),
}

/// One schedule, checked.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub every: Every,
    pub timezone: Option<String>,
    pub parameters: Vec<ParamValue>,
    pub active: bool,
    /// The schedule's table, where a missing parameter is reported.
    pub span: Span,
}

/// A value a schedule or a preset gives a flow parameter.
#[derive(Debug, Clone)]
pub struct ParamValue {
    pub name: String,
    pub span: Span,
    pub value: Literal,
    pub value_span: Span,
}

/// Where a flow's Dask or Ray tasks run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cluster {
    /// The scheduler's (Dask) or cluster's (Ray) address.
    pub address: Option<String>,
    /// A local Dask cluster's size.
    pub n_workers: Option<u32>,
    pub threads_per_worker: Option<u32>,
}

impl Cluster {
    pub(super) fn of(flow: &crate::manifest::raw::RawFlow) -> Self {
        let dask = flow.dask.as_ref();
        Self {
            address: dask
                .and_then(|d| d.address.as_ref())
                .or_else(|| flow.ray.as_ref().and_then(|r| r.address.as_ref()))
                .map(|a| a.value.clone()),
            n_workers: dask.and_then(|d| d.n_workers.as_ref()).map(|n| n.value),
            threads_per_worker: dask
                .and_then(|d| d.threads_per_worker.as_ref())
                .map(|n| n.value),
        }
    }
}

/// `[presets.NAME]`: parameter values by name.
#[derive(Debug, Clone)]
pub struct Preset {
    pub name: String,
    pub span: Span,
    pub values: Vec<ParamValue>,
}

/// An operation's limits: the defaults', then its own, each once.
pub(super) fn limits_of(
    defaults: Option<&[Spanned<String>]>,
    own: Option<&[Spanned<String>]>,
) -> Vec<String> {
    let mut limits: Vec<String> = Vec::new();
    for name in defaults.into_iter().chain(own).flatten() {
        if !limits.contains(&name.value) {
            limits.push(name.value.clone());
        }
    }
    limits
}

/// Where a value of the deployment settings sits in the manifest.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Place {
    Parameter {
        flow: String,
        schedule: usize,
        name: String,
    },
    JobVariables {
        flow: String,
    },
    Preset {
        preset: String,
        name: String,
    },
    Choices {
        op: usize,
        name: String,
    },
}

/// The literal values of every flow's deployment settings, read from the
/// document tree (as parameter defaults are: `null` kept, big integers exact).
#[derive(Debug, Default)]
pub struct Literals(HashMap<Place, DefaultRead>);

impl Literals {
    /// The presets' values and the flows' deployment settings; the
    /// parameters' `choices` are added by [`Literals::choices`] as
    /// [`super::Defaults::read`] walks the operations.
    pub fn read(document: &Document) -> Self {
        let mut literals = Self::default();
        let read = |node: &crate::manifest::Node| {
            Literal::from_node(node).map(|literal| (literal, node.span))
        };
        if let Some(Value::Table(presets)) = document.root.get("presets").map(|n| &n.value) {
            for (preset, values) in presets {
                let Value::Table(values) = &values.value else {
                    continue;
                };
                for (key, value) in values {
                    let place = Place::Preset {
                        preset: preset.name.to_string(),
                        name: key.name.to_string(),
                    };
                    literals.0.insert(place, read(value));
                }
            }
        }
        let Some(Value::Table(flows)) = document.root.get("flows").map(|n| &n.value) else {
            return literals;
        };
        for (flow, settings) in flows {
            let Some(deploy) = settings.get("deploy") else {
                continue;
            };
            let flow = flow.name.to_string();
            if let Some(Value::Array(schedules)) = deploy.get("schedules").map(|n| &n.value) {
                for (i, schedule) in schedules.iter().enumerate() {
                    let Some(Value::Table(params)) = schedule.get("parameters").map(|n| &n.value)
                    else {
                        continue;
                    };
                    for (key, value) in params {
                        let place = Place::Parameter {
                            flow: flow.clone(),
                            schedule: i,
                            name: key.name.to_string(),
                        };
                        literals.0.insert(place, read(value));
                    }
                }
            }
            if let Some(variables) = deploy.get("job_variables") {
                let place = Place::JobVariables { flow: flow.clone() };
                literals.0.insert(place, read(variables));
            }
        }
        literals
    }

    /// Add what `other` read.
    pub(super) fn absorb(&mut self, other: Self) {
        self.0.extend(other.0);
    }

    /// The `choices` of parameter `name` of operation `op`.
    pub(super) fn choices(&mut self, op: usize, name: &str, choices: &crate::manifest::Node) {
        let place = Place::Choices {
            op,
            name: name.to_owned(),
        };
        let literal = Literal::from_node(choices).map(|literal| (literal, choices.span));
        self.0.insert(place, literal);
    }
}

impl Resolver<'_> {
    /// Check and lower `[flows.<flow>.deploy]`.
    pub(super) fn flow_deploy(&mut self, flow: &str, raw: &RawFlowDeploy) -> FlowDeploy {
        let schedules = raw
            .schedules
            .iter()
            .enumerate()
            .filter_map(|(i, schedule)| self.schedule(flow, i, schedule))
            .collect();
        if let (Some(strategy), None) = (&raw.collision_strategy, &raw.concurrency_limit) {
            self.error(Diagnostic::CollisionWithoutLimit {
                span: at(strategy.span),
            });
        }
        let job_variables = match self.deploy_literal(&Place::JobVariables {
            flow: flow.to_owned(),
        }) {
            Some((Literal::Dict(entries), _)) => entries,
            _ => Vec::new(),
        };
        FlowDeploy {
            schedules,
            concurrency_limit: raw.concurrency_limit.as_ref().map(|l| l.value),
            collision_strategy: raw.collision_strategy.as_ref().map(|s| s.value),
            tags: raw.tags.clone(),
            work_queue: raw.work_queue.clone(),
            job_variables,
        }
    }

    fn schedule(
        &mut self,
        flow: &str,
        index: usize,
        raw: &Spanned<RawSchedule>,
    ) -> Option<Schedule> {
        let kinds: Vec<&str> = [
            raw.cron.as_ref().map(|_| "`cron`"),
            raw.interval_seconds.as_ref().map(|_| "`interval_seconds`"),
            raw.rrule.as_ref().map(|_| "`rrule`"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if kinds.len() != 1 {
            let reason = if kinds.is_empty() {
                "it has none".to_owned()
            } else {
                format!("it has {}", kinds.join(" and "))
            };
            self.error(Diagnostic::ScheduleKind {
                reason,
                span: at(raw.span),
            });
        }
        let mut ok = kinds.len() == 1;
        if let Some(cron) = &raw.cron {
            ok &= self.check_syntax(cron, "cron expression", schedule::check_cron,
                "five fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12), day of week (0-7, 0 and 7 are Sunday)");
        }
        if let Some(rrule) = &raw.rrule {
            ok &= self.check_syntax(
                rrule,
                "recurrence rule",
                schedule::check_rrule,
                "an RFC 5545 rule such as `FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9`",
            );
        }
        // Prefect keeps an interval as a `timedelta`, whose unit is a
        // microsecond: a shorter one is 0, which it refuses.
        if let Some(seconds) = &raw.interval_seconds
            && !(seconds.value >= 1e-6 && seconds.value.is_finite())
        {
            self.error(Diagnostic::InvalidSchedule {
                kind: "interval",
                reason: format!("{} seconds", seconds.value),
                span: at(seconds.span),
                help: "an interval is a number of seconds, at least a microsecond (0.000001)"
                    .to_owned(),
            });
            ok = false;
        }
        if let Some(timezone) = &raw.timezone
            && !schedule::is_timezone(timezone)
        {
            let help = did_you_mean(timezone, schedule::timezones()).map_or_else(
                || "an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`".to_owned(),
                |close| format!("did you mean `{close}`?"),
            );
            self.error(Diagnostic::UnknownTimezone {
                name: timezone.value.clone(),
                span: at(timezone.span),
                help,
            });
            ok = false;
        }
        let mut parameters = Vec::new();
        for (key, _) in raw.parameters.iter().flat_map(|p| &p.0) {
            let place = Place::Parameter {
                flow: flow.to_owned(),
                schedule: index,
                name: key.value.clone(),
            };
            if let Some((value, value_span)) = self.deploy_literal(&place) {
                parameters.push(ParamValue {
                    name: key.value.clone(),
                    span: key.span,
                    value,
                    value_span,
                });
            }
        }
        let every = match (&raw.cron, &raw.interval_seconds, &raw.rrule) {
            (Some(cron), _, _) => Every::Cron(cron.value.trim().to_owned()),
            (_, Some(seconds), _) => Every::Seconds(seconds.value),
            (_, _, Some(rrule)) => Every::RRule(rrule.value.clone()),
            _ => return None,
        };
        ok.then(|| Schedule {
            every,
            timezone: raw.timezone.as_ref().map(|t| t.value.clone()),
            parameters,
            active: raw.active.unwrap_or(true),
            span: raw.span,
        })
    }

    /// Check and lower `[presets]`: names that can name a deployment,
    /// values that are literals.
    pub(super) fn presets(&mut self, raw: &crate::manifest::RawManifest) -> Vec<Preset> {
        let mut presets = Vec::new();
        for (name, values) in &raw.presets.0 {
            if let Some(reason) = crate::hierarchy::identifier_problem(name) {
                self.error(Diagnostic::InvalidName {
                    name: name.value.clone(),
                    reason,
                    span: at(name.span),
                    help: "a preset's name names its deployments (`scraping-nightly`): a Python identifier such as `nightly`".to_owned(),
                });
                continue;
            }
            let values = values
                .0
                .iter()
                .filter_map(|(key, _)| {
                    let place = Place::Preset {
                        preset: name.value.clone(),
                        name: key.value.clone(),
                    };
                    let (value, value_span) = self.deploy_literal(&place)?;
                    Some(ParamValue {
                        name: key.value.clone(),
                        span: key.span,
                        value,
                        value_span,
                    })
                })
                .collect();
            presets.push(Preset {
                name: name.value.clone(),
                span: name.span,
                values,
            });
        }
        presets
    }

    /// `[limits]`, and every name an operation or `[defaults]` gives in
    /// its `limits` one of them.
    pub(super) fn limits(
        &mut self,
        raw: &crate::manifest::RawManifest,
    ) -> std::collections::BTreeMap<String, (u32, Option<f64>)> {
        let mut limits = std::collections::BTreeMap::new();
        for (name, limit) in &raw.limits.0 {
            if name.is_empty() || name.chars().any(|c| c.is_control() || "/%&><".contains(c)) {
                self.error(Diagnostic::InvalidName {
                    name: name.value.clone(),
                    reason: "empty, or with a control character or one of `/%&><`, which Prefect refuses in names".to_owned(),
                    span: at(name.span),
                    help: "a limit's name is how Prefect knows it: `stepstone`, `openai-api`".to_owned(),
                });
                continue;
            }
            if let Some(rate) = &limit.per_second
                && !(rate.value > 0.0 && rate.value.is_finite())
            {
                self.error(Diagnostic::InvalidSchedule {
                    kind: "rate",
                    reason: format!("{} per second", rate.value),
                    span: at(rate.span),
                    help: "a rate is a number of slots per second above 0; leave `per_second` out for a limit held while operations run".to_owned(),
                });
            }
            limits.insert(
                name.value.clone(),
                (
                    limit.concurrency,
                    limit.per_second.as_ref().map(|r| r.value),
                ),
            );
        }
        let used = raw
            .defaults
            .limits
            .iter()
            .chain(raw.operations.iter().filter_map(|op| op.limits.as_deref()))
            .flatten();
        for name in used {
            if !limits.contains_key(&name.value) {
                let help = did_you_mean(name, limits.keys().map(String::as_str)).map_or_else(
                    || {
                        format!(
                            "declare it: `[limits.{}]` with `concurrency = N`",
                            name.value
                        )
                    },
                    |close| format!("did you mean `{close}`?"),
                );
                self.error(Diagnostic::UnknownLimit {
                    name: name.value.clone(),
                    span: at(name.span),
                    help,
                });
            }
        }
        limits
    }

    /// A flow's task runner: as set, or the one its `[flows.X.dask]` or
    /// `[flows.X.ray]` table implies; a table for another runner, both
    /// tables, or an address beside a local cluster's size are errors.
    pub(super) fn task_runner(
        &mut self,
        flow: &crate::manifest::raw::RawFlow,
    ) -> Option<crate::manifest::raw::TaskRunner> {
        use crate::manifest::raw::TaskRunner;
        let mut runner = flow.task_runner;
        for (table, implied, span) in [
            (
                "dask",
                TaskRunner::Dask,
                // Where the table says something, else the table itself:
                // an empty one implies its runner too.
                flow.dask.as_ref().map(|d| {
                    d.address
                        .as_ref()
                        .map(|a| a.span)
                        .or(d.n_workers.as_ref().map(|n| n.span))
                        .or(d.threads_per_worker.as_ref().map(|n| n.span))
                        .unwrap_or(d.span)
                }),
            ),
            (
                "ray",
                TaskRunner::Ray,
                flow.ray
                    .as_ref()
                    .map(|r| r.address.as_ref().map_or(r.span, |a| a.span)),
            ),
        ] {
            let Some(span) = span else {
                continue;
            };
            match runner {
                Some(other) if other != implied => {
                    self.error(Diagnostic::ClusterRunnerMismatch {
                        table: table.to_owned(),
                        runner: format!("{other:?}").to_lowercase(),
                        span: at(span),
                    });
                }
                _ => runner = Some(implied),
            }
        }
        if let Some(dask) = &flow.dask
            && let Some(address) = &dask.address
            && let Some(size) = dask.n_workers.as_ref().or(dask.threads_per_worker.as_ref())
        {
            self.error(Diagnostic::AddressWithLocalCluster {
                span: at(size.span),
                address: at(address.span),
            });
        }
        for address in [
            flow.dask.as_ref().and_then(|d| d.address.as_ref()),
            flow.ray.as_ref().and_then(|r| r.address.as_ref()),
        ]
        .into_iter()
        .flatten()
        {
            if address.trim().is_empty()
                || address.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                self.error(Diagnostic::InvalidAddress {
                    address: address.value.clone(),
                    span: at(address.span),
                });
            }
        }
        runner
    }

    /// The `choices` of parameter `name` of operation `op`, as written.
    pub(super) fn choices(&mut self, op: usize, name: &str) -> Option<(Literal, Span)> {
        self.deploy_literal(&Place::Choices {
            op,
            name: name.to_owned(),
        })
    }

    /// Check a schedule's text with `check`; report its problem at the span
    /// inside the string.
    fn check_syntax(
        &mut self,
        text: &Spanned<String>,
        kind: &'static str,
        check: fn(&str) -> Result<(), schedule::Problem>,
        help: &str,
    ) -> bool {
        let Err((reason, range)) = check(text) else {
            return true;
        };
        self.error(Diagnostic::InvalidSchedule {
            kind,
            reason,
            span: at(self.sub(text, range)),
            help: help.to_owned(),
        });
        false
    }

    fn deploy_literal(&mut self, place: &Place) -> Option<(Literal, Span)> {
        let what = match place {
            Place::Parameter { name, .. } | Place::Preset { name, .. } => name.clone(),
            Place::JobVariables { .. } => "job_variables".to_owned(),
            Place::Choices { .. } => "choices".to_owned(),
        };
        match self.defaults.1.0.remove(place)? {
            Ok(read) => Some(read),
            Err((reason, span)) => {
                self.error(Diagnostic::InvalidDeployValue {
                    what,
                    reason,
                    span: at(span),
                });
                None
            }
        }
    }
}

/// Check every schedule's parameters against its flow's: each one a
/// parameter of the flow, of its type; every required one given. And every
/// preset's: each one a parameter of some flow, of its type.
pub fn check_parameters(graph: &FlowGraph) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for flow in &graph.flows {
        for schedule in &flow.settings.deploy.schedules {
            for param in &schedule.parameters {
                let Some(declared) = flow.params.iter().find(|p| p.name == param.name) else {
                    let names = flow.params.iter().map(|p| p.name.as_str());
                    diagnostics.push(Diagnostic::UnknownScheduleParameter {
                        flow: flow.name.clone(),
                        param: param.name.clone(),
                        span: at(param.span),
                        help: unknown_help(&param.name, names, &format!("flow `{}`", flow.name)),
                    });
                    continue;
                };
                check_type(&flow.name, declared, param, &mut diagnostics);
                check_rules(graph, param, &mut diagnostics);
            }
            let missing: Vec<String> = flow
                .params
                .iter()
                .filter(|p| p.default.is_none())
                .filter(|p| !schedule.parameters.iter().any(|s| s.name == p.name))
                .map(|p| format!("`{}`", p.name))
                .collect();
            if !missing.is_empty() {
                diagnostics.push(Diagnostic::MissingScheduleParameter {
                    flow: flow.name.clone(),
                    plural: if missing.len() == 1 { "" } else { "s" },
                    params: missing.join(", "),
                    span: at(schedule.span),
                });
            }
        }
    }
    // The root flow has every flow parameter.
    let all = graph.flows.iter().find(|f| f.name == super::ROOT_FLOW);
    for preset in &graph.manifest.presets {
        for value in &preset.values {
            let declared = all.and_then(|flow| {
                flow.params
                    .iter()
                    .find(|p| p.name == value.name)
                    .map(|p| (flow, p))
            });
            if let Some((flow, declared)) = declared {
                check_type(&flow.name, declared, value, &mut diagnostics);
                check_rules(graph, value, &mut diagnostics);
                continue;
            }
            let names = all
                .into_iter()
                .flat_map(|f| f.params.iter().map(|p| p.name.as_str()));
            diagnostics.push(Diagnostic::UnknownPresetParameter {
                preset: preset.name.clone(),
                param: value.name.clone(),
                span: at(value.span),
                help: unknown_help(&value.name, names, "any flow"),
            });
        }
    }
    diagnostics
}

/// "Did you mean …?", else the parameters there are.
fn unknown_help<'a>(
    name: &str,
    names: impl Iterator<Item = &'a str> + Clone,
    whose: &str,
) -> String {
    did_you_mean(name, names.clone()).map_or_else(
        || {
            let all: Vec<String> = names.map(|n| format!("`{n}`")).collect();
            if all.is_empty() {
                format!("{whose} takes no parameters")
            } else {
                format!("the parameters of {whose}: {}", all.join(", "))
            }
        },
        |close| format!("did you mean `{close}`?"),
    )
}

/// A value given to a flow parameter with rules (`ge`, `choices`, ...)
/// that breaks them: Prefect would refuse every run it starts.
fn check_rules(graph: &FlowGraph, value: &ParamValue, diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.extend(rule_problem(
        graph,
        &value.name,
        &value.value,
        value.value_span,
    ));
}

/// The problem with `value`, written at `span`, for flow parameter `name`'s
/// rules, if it breaks them: from a schedule, a preset or a parameters file.
pub fn rule_problem(
    graph: &FlowGraph,
    name: &str,
    value: &Literal,
    span: Span,
) -> Option<Diagnostic> {
    let reason = graph.manifest.rules.get(name)?.check(value)?;
    Some(Diagnostic::ParameterBreaksRule {
        param: name.to_owned(),
        reason,
        span: at(span),
    })
}

fn check_type(
    flow: &str,
    declared: &crate::graph::FlowParam,
    value: &ParamValue,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if let Some(ty) = &declared.ty
        && let Some(reason) = types::judge_default(ty, &value.value)
    {
        diagnostics.push(Diagnostic::ScheduleParameterType {
            flow: flow.to_owned(),
            param: value.name.clone(),
            ty: ty.to_string(),
            reason,
            span: at(value.value_span),
        });
    }
}
