//! Parameter rules: `ge`, `gt`, `le`, `lt`, `choices`, `pattern`,
//! `min_length`, `max_length` on a parameter table. They apply to the flow
//! parameter the operation's parameter becomes: checked against its type
//! and default here, against `--param`, presets and parameter files before
//! Python starts (`runtime::layers`), and carried in the generated flow's
//! signature (`Annotated[int, Field(ge=1)]`, `Literal[...]`) so Prefect
//! checks runs started elsewhere.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Binding, Literal, Operation, Resolver, types};
use crate::diagnostic::{Diagnostic, at};
use crate::manifest::raw::{RawManifest, RawParam, RawParamTable};
use crate::manifest::{Span, Spanned};

/// The rules of one flow parameter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    pub ge: Option<f64>,
    pub gt: Option<f64>,
    pub le: Option<f64>,
    pub lt: Option<f64>,
    pub choices: Option<Vec<Literal>>,
    pub pattern: Option<String>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
}

impl Rules {
    /// Why `value` breaks one of the rules, naming it; `None` when it keeps
    /// them all. `None` (Python's) keeps every rule: an optional
    /// parameter's rules are about its other values.
    pub fn check(&self, value: &Literal) -> Option<String> {
        if *value == Literal::None {
            return None;
        }
        if let Some(choices) = &self.choices
            && !choices.contains(value)
        {
            let all: Vec<String> = choices.iter().map(ToString::to_string).collect();
            return Some(format!(
                "{value} is not one of `choices`: {}",
                all.join(", ")
            ));
        }
        // Bounds are floats: an integer beyond 2^53 is compared as the
        // float nearest it (Python compares exactly: they differ beyond 2^53 only).
        #[allow(clippy::cast_precision_loss)]
        let n = match value {
            Literal::Int(i) => Some(*i as f64),
            Literal::Float(f) => Some(*f),
            Literal::BigInt(digits) => digits.parse::<f64>().ok(),
            _ => None,
        };
        if let Some(n) = n {
            let bounds: [Bound; 4] = [
                ("ge", self.ge, |n, b| n >= b, "below"),
                ("gt", self.gt, |n, b| n > b, "not above"),
                ("le", self.le, |n, b| n <= b, "above"),
                ("lt", self.lt, |n, b| n < b, "not below"),
            ];
            for (key, bound, keeps, how) in bounds {
                if let Some(bound) = bound
                    && !keeps(n, bound)
                {
                    return Some(format!("{value} is {how} `{key} = {bound}`"));
                }
            }
        }
        let length = match value {
            Literal::Str(s) => Some((s.chars().count(), "character")),
            Literal::List(items) => Some((items.len(), "item")),
            Literal::Dict(entries) => Some((entries.len(), "item")),
            _ => None,
        };
        if let Some((length, unit)) = length {
            let plural = if length == 1 { "" } else { "s" };
            let length_u64 = u64::try_from(length).unwrap_or(u64::MAX);
            if let Some(min) = self.min_length
                && length_u64 < min
            {
                return Some(format!(
                    "{value} has {length} {unit}{plural}, fewer than `min_length = {min}`"
                ));
            }
            if let Some(max) = self.max_length
                && length_u64 > max
            {
                return Some(format!(
                    "{value} has {length} {unit}{plural}, more than `max_length = {max}`"
                ));
            }
        }
        if let (Some(pattern), Literal::Str(s)) = (&self.pattern, value)
            && regex::Regex::new(pattern).is_ok_and(|re| !re.is_match(s))
        {
            let mut reason = format!("{value} does not match `pattern = ");
            let _ = write!(reason, "{}`", Literal::Str(pattern.clone()));
            return Some(reason);
        }
        None
    }
}

/// A bound's key, value, test and what a value breaking it is.
type Bound = (
    &'static str,
    Option<f64>,
    fn(f64, f64) -> bool,
    &'static str,
);

/// Which kinds of value a type takes, as far as the grammar can judge
/// (a user's class takes anything here).
fn takes(ty: &super::TypeExpr, sample: &Literal) -> bool {
    types::judge_default(ty, sample).is_none()
}

impl Resolver<'_> {
    /// The rules of every flow parameter, by its name, checked: against the
    /// parameter's type, each other, and its default.
    pub(super) fn param_rules(
        &mut self,
        raw: &RawManifest,
        operations: &[Operation],
    ) -> BTreeMap<String, Rules> {
        let mut rules: BTreeMap<String, (Rules, Span)> = BTreeMap::new();
        for (i, op) in raw.operations.iter().enumerate() {
            for (key, param) in &op.params.0 {
                let RawParam::Table(table) = param else {
                    continue;
                };
                if !has_rules(table) {
                    continue;
                }
                let lowered = operations
                    .get(i)
                    .and_then(|o| o.params.iter().find(|p| p.name == key.value));
                let Some(lowered) = lowered else {
                    continue;
                };
                let Binding::FlowParam { name } = &lowered.binding else {
                    self.error(Diagnostic::RuleNotFlowParameter {
                        param: key.value.clone(),
                        span: at(key.span),
                    });
                    continue;
                };
                let Some(lowered_rules) = self.lower_rules(i, key, table, lowered.ty.as_ref())
                else {
                    continue;
                };
                if let Some(default) = &lowered.default
                    && let Some(reason) = lowered_rules.check(default)
                {
                    self.error(Diagnostic::DefaultBreaksRule {
                        param: key.value.clone(),
                        reason,
                        span: at(key.span),
                    });
                }
                match rules.get(name) {
                    Some((first, first_span)) if *first != lowered_rules => {
                        self.error(Diagnostic::ConflictingRules {
                            param: name.clone(),
                            span: at(key.span),
                            first: at(*first_span),
                        });
                    }
                    Some(_) => {}
                    None => {
                        rules.insert(name.clone(), (lowered_rules, key.span));
                    }
                }
            }
        }
        rules
            .into_iter()
            .map(|(name, (rules, _))| (name, rules))
            .collect()
    }

    fn lower_rules(
        &mut self,
        op: usize,
        key: &Spanned<String>,
        table: &RawParamTable,
        ty: Option<&super::TypeExpr>,
    ) -> Option<Rules> {
        let mut ok = true;
        let mut misfit = |resolver: &mut Self, rule: &str, span: Span, takes: &str| {
            resolver.error(Diagnostic::RuleMisfit {
                param: key.value.clone(),
                rule: rule.to_owned(),
                ty: ty.map(ToString::to_string).unwrap_or_default(),
                takes: takes.to_owned(),
                span: at(span),
            });
            ok = false;
        };
        let numeric =
            ty.is_none_or(|ty| takes(ty, &Literal::Int(0)) || takes(ty, &Literal::Float(0.5)));
        for (rule, bound) in [
            ("ge", &table.ge),
            ("gt", &table.gt),
            ("le", &table.le),
            ("lt", &table.lt),
        ] {
            if let Some(bound) = bound
                && !numeric
            {
                misfit(self, rule, bound.span, "a number");
            }
        }
        let sized = ty.is_none_or(|ty| {
            takes(ty, &Literal::Str(String::new()))
                || takes(ty, &Literal::List(Vec::new()))
                || takes(ty, &Literal::Dict(Vec::new()))
        });
        for (rule, length) in [
            ("min_length", &table.min_length),
            ("max_length", &table.max_length),
        ] {
            if let Some(length) = length
                && !sized
            {
                misfit(self, rule, length.span, "a string or a collection");
            }
        }
        if let Some(pattern) = &table.pattern {
            if ty.is_some_and(|ty| !takes(ty, &Literal::Str(String::new()))) {
                misfit(self, "pattern", pattern.span, "a string");
            } else if let Err(error) = regex::Regex::new(pattern) {
                let reason = error.to_string();
                let last = reason.lines().last().unwrap_or("invalid").trim();
                let reason = last.strip_prefix("error: ").unwrap_or(last).to_owned();
                self.error(Diagnostic::InvalidPattern {
                    reason,
                    span: at(pattern.span),
                });
                ok = false;
            }
        }
        let choices = match self.choices(op, &key.value) {
            Some((Literal::List(items), span)) => {
                if items.is_empty() {
                    self.error(Diagnostic::InvalidChoices {
                        reason: "no choices".to_owned(),
                        span: at(span),
                    });
                    ok = false;
                }
                if let Some(ty) = ty
                    && let Some(reason) =
                        items.iter().find_map(|item| types::judge_default(ty, item))
                {
                    self.error(Diagnostic::ChoiceTypeMismatch {
                        param: key.value.clone(),
                        ty: ty.to_string(),
                        reason,
                        span: at(span),
                    });
                    ok = false;
                }
                Some(items)
            }
            Some((_, span)) => {
                self.error(Diagnostic::InvalidChoices {
                    reason: "not a list".to_owned(),
                    span: at(span),
                });
                ok = false;
                None
            }
            None => None,
        };
        ok.then(|| Rules {
            ge: table.ge.as_ref().map(|v| v.value),
            gt: table.gt.as_ref().map(|v| v.value),
            le: table.le.as_ref().map(|v| v.value),
            lt: table.lt.as_ref().map(|v| v.value),
            choices,
            pattern: table.pattern.as_ref().map(|p| p.value.clone()),
            min_length: table.min_length.as_ref().map(|v| v.value),
            max_length: table.max_length.as_ref().map(|v| v.value),
        })
    }
}

fn has_rules(table: &RawParamTable) -> bool {
    table.ge.is_some()
        || table.gt.is_some()
        || table.le.is_some()
        || table.lt.is_some()
        || table.choices.is_some()
        || table.pattern.is_some()
        || table.min_length.is_some()
        || table.max_length.is_some()
}
