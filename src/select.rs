//! Selection: the part of a flow a command works on, in dbt's grammar
//! (docs/DESIGN.md §8). `parse` reads a selection into terms with byte spans
//! inside its text; `select` evaluates `--select` and `--exclude` over a flow
//! of the [`FlowGraph`] and says, for every selected operation, which inputs
//! come from an operation that is not selected (and so are read from its
//! last persisted result).
//!
//! - atoms: `NAME` (one operation), `PREFIX.*` (every operation under the
//!   prefix), `tag:T` (operations whose tags, defaults included, hold `T`),
//!   `flow:F` (the operations of flow `F`);
//! - graph operators on any atom: `+X` (X and its ancestors), `X+` (X and its
//!   descendants), `N+X` / `X+N` (at most N steps), `+X+`;
//! - terms separated by spaces are a union; parts of a term joined by commas
//!   an intersection (`tag:source,etl.*`); `--exclude` is subtracted.
//!
//! The grammar has a twin in Python, `templates/_select.py`, which every
//! generated package carries; `tests/select/corpus.toml` holds both to the
//! same answers.

use std::path::PathBuf;

use crate::Failure;
use crate::diagnostic::{Diagnostic, at};
use crate::graph::{Flow, FlowGraph};
use crate::manifest::{Source, Span};
use crate::resolve::Binding;

/// How far a graph operator reaches: `None` for all the way.
pub type Depth = Option<usize>;

/// What one part of a term names, before graph operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atom {
    /// `a.b.c`: the operation of that name.
    Name(String),
    /// `a.b.*`: every operation under `a.b`.
    Prefix(String),
    /// `tag:T`.
    Tag(String),
    /// `flow:F`.
    Flow(String),
}

/// One part of a term: an atom with its graph operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The whole part, operators included.
    pub span: Span,
    pub atom: Atom,
    /// `+X` / `N+X`: the ancestors, this many steps up.
    pub parents: Option<Depth>,
    /// `X+` / `X+N`: the descendants, this many steps down.
    pub children: Option<Depth>,
}

/// A term: its parts, intersected (`tag:a,etl.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub span: Span,
    pub parts: Vec<Part>,
}

/// A selection that was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The selected operations (indices into the manifest's), in the flow's order.
    pub operations: Vec<usize>,
    /// Every input of a selected operation whose producer is not selected,
    /// in the order of `operations`, then of the parameters.
    pub stored: Vec<Stored>,
}

/// An input read from its producer's last persisted result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The selected operation that reads it.
    pub operation: usize,
    /// Its parameter.
    pub param: String,
    /// The operation that produced it (not selected).
    pub producer: usize,
    /// The producer's named output, when the parameter takes one.
    pub output: Option<String>,
}

impl Selection {
    /// The producers of stored inputs, once each, in the flow's order.
    pub fn producers(&self, flow: &Flow) -> Vec<usize> {
        let mut producers: Vec<usize> = self.stored.iter().map(|s| s.producer).collect();
        let position = flow.positions();
        producers.sort_unstable_by_key(|&op| position[op]);
        producers.dedup();
        producers
    }
}

/// Select operations of `flow`: `select` (`None`: the whole flow) minus
/// `exclude`. On failure, the problems of each option with its text as the
/// source (named `--select` or `--exclude`), every bad term at once.
pub fn select(
    graph: &FlowGraph,
    flow: &Flow,
    select: Option<&str>,
    exclude: &str,
) -> Result<Selection, Vec<Failure>> {
    let scope = Scope::new(graph, flow);
    let ops = graph.manifest.operations.len();
    let mut failures = Vec::new();
    let chosen = match select {
        None => Some(scope.inside.clone()),
        Some(text) if text.trim().is_empty() => {
            failures.push(failure(
                "--select",
                text,
                vec![Diagnostic::EmptySelection {
                    reason: "the selection names nothing".to_owned(),
                    span: at(Span::new(0, text.len())),
                    help: "name operations: `NAME`, `PREFIX.*`, `tag:T`, `flow:F`, with `+` for their upstream or downstream".to_owned(),
                }],
            ));
            None
        }
        Some(text) => scope.evaluate("--select", text, &mut failures),
    };
    let removed = if exclude.trim().is_empty() {
        Some(vec![false; ops])
    } else {
        scope.evaluate("--exclude", exclude, &mut failures)
    };
    let (Some(mut chosen), Some(removed)) = (chosen, removed) else {
        return Err(failures);
    };
    for (keep, gone) in chosen.iter_mut().zip(&removed) {
        *keep &= !gone;
    }
    let operations: Vec<usize> = flow
        .operations
        .iter()
        .copied()
        .filter(|&op| chosen[op])
        .collect();
    if operations.is_empty() {
        return Err(vec![failure(
            "--exclude",
            exclude,
            vec![Diagnostic::EmptySelection {
                reason: "`--exclude` leaves nothing selected".to_owned(),
                span: at(Span::new(0, exclude.len())),
                help: "exclude fewer operations, or select more".to_owned(),
            }],
        )]);
    }
    let mut stored = Vec::new();
    for &op in &operations {
        for param in &graph.manifest.operations[op].params {
            if let Binding::Operation {
                op: producer,
                output,
            } = &param.binding
                && !chosen[*producer]
            {
                stored.push(Stored {
                    operation: op,
                    param: param.name.clone(),
                    producer: *producer,
                    output: output.clone(),
                });
            }
        }
    }
    Ok(Selection { operations, stored })
}

/// Problems in one option's text, with that text as their source.
fn failure(option: &str, text: &str, mut diagnostics: Vec<Diagnostic>) -> Failure {
    crate::diagnostic::sort(&mut diagnostics);
    Failure {
        source: Some(Source {
            path: PathBuf::from(option),
            text: text.to_owned(),
        }),
        diagnostics,
    }
}

/// Read a selection into terms, or report every malformed part.
pub fn parse(text: &str) -> Result<Vec<Term>, Vec<Diagnostic>> {
    let (terms, problems) = read(text);
    if problems.is_empty() {
        Ok(terms)
    } else {
        Err(problems)
    }
}

/// The well-formed terms of a selection, and the problems of the others.
fn read(text: &str) -> (Vec<Term>, Vec<Diagnostic>) {
    let mut terms = Vec::new();
    let mut problems = Vec::new();
    for (start, word) in words(text) {
        let mut parts = Vec::new();
        let mut offset = start;
        let mut whole = true;
        for piece in word.split(',') {
            match part(piece, offset) {
                Ok(part) => parts.push(part),
                Err(problem) => {
                    problems.push(*problem);
                    whole = false;
                }
            }
            offset += piece.len() + 1;
        }
        if whole {
            terms.push(Term {
                span: Span::new(start, start + word.len()),
                parts,
            });
        }
    }
    (terms, problems)
}

/// The whitespace-separated words of `text`, with their offsets.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(|c: char| c.is_whitespace())
        .scan(0, |offset, word| {
            let start = *offset;
            // Every separator is one character; its length in bytes varies.
            let separator = text[start + word.len()..]
                .chars()
                .next()
                .map_or(0, char::len_utf8);
            *offset = start + word.len() + separator;
            Some((start, word))
        })
        .filter(|(_, word)| !word.is_empty())
}

/// One part of a term (`2+tag:x+`), starting at byte `start` of the text.
fn part(text: &str, start: usize) -> Result<Part, Box<Diagnostic>> {
    let span = Span::new(start, start + text.len());
    let syntax = |reason: &str, at_span: Span, help: &str| {
        Box::new(Diagnostic::SelectSyntax {
            term: text.to_owned(),
            reason: reason.to_owned(),
            span: at(at_span),
            help: help.to_owned(),
        })
    };
    if text.is_empty() {
        return Err(syntax(
            "an empty part",
            span,
            "a comma joins two parts of one term, without spaces: `tag:source,etl.*`",
        ));
    }
    let mut rest = text;
    let mut atom_start = start;
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let parents = if digits > 0 || rest.starts_with('+') {
        if rest[digits..].starts_with('+') {
            let depth = depth(&rest[..digits]).map_err(|()| {
                syntax(
                    "the depth is too large",
                    Span::new(start, start + digits),
                    "write a smaller number of steps, or none for all of them",
                )
            })?;
            rest = &rest[digits + 1..];
            atom_start += digits + 1;
            Some(depth)
        } else {
            let bad = digits + rest[digits..].chars().next().map_or(0, char::len_utf8);
            return Err(syntax(
                "a depth is a number followed by `+`",
                Span::new(start, start + bad),
                "write `2+NAME` for NAME and two steps of its upstream; names do not start with a digit",
            ));
        }
    } else {
        None
    };
    let trailing = rest.len() - rest.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let children = if rest[..rest.len() - trailing].ends_with('+') {
        let end = rest.len() - trailing;
        let number = &rest[end..];
        let depth = depth(number).map_err(|()| {
            syntax(
                "the depth is too large",
                Span::new(atom_start + end, atom_start + rest.len()),
                "write a smaller number of steps, or none for all of them",
            )
        })?;
        rest = &rest[..end - 1];
        Some(depth)
    } else {
        None
    };
    let atom_span = Span::new(atom_start, atom_start + rest.len());
    if rest.is_empty() {
        return Err(syntax(
            "`+` with nothing to select",
            span,
            "put the operator beside what it applies to: `+NAME` (with its upstream), `NAME+` (with its downstream)",
        ));
    }
    if let Some(plus) = rest.find('+') {
        let at_plus = Span::new(atom_start + plus, atom_start + plus + 1);
        return Err(syntax(
            "`+` comes only first or last, once each",
            at_plus,
            "`+NAME` selects NAME and its upstream, `NAME+` NAME and its downstream, `+NAME+` both",
        ));
    }
    let atom = if let Some((method, value)) = rest.split_once(':') {
        let method_span = Span::new(atom_start, atom_start + method.len());
        let value_start = atom_start + method.len() + 1;
        let value_span = Span::new(value_start, value_start + value.len());
        if method != "tag" && method != "flow" {
            return Err(syntax(
                &format!("no method `{method}`"),
                method_span,
                "the methods are `tag:` (operations with a tag) and `flow:` (the operations of a flow)",
            ));
        }
        if value.is_empty() {
            return Err(syntax(
                &format!("`{method}:` names nothing"),
                Span::new(atom_start, value_start),
                &format!("write the {method}'s name after the colon: `{method}:NAME`"),
            ));
        }
        if method == "tag" {
            Atom::Tag(value.to_owned())
        } else {
            name(value, value_span, &syntax)?;
            Atom::Flow(value.to_owned())
        }
    } else if let Some(prefix) = rest.strip_suffix(".*") {
        name(
            prefix,
            Span::new(atom_start, atom_start + prefix.len()),
            &syntax,
        )?;
        Atom::Prefix(prefix.to_owned())
    } else {
        name(rest, atom_span, &syntax)?;
        Atom::Name(rest.to_owned())
    };
    Ok(Part {
        span,
        atom,
        parents,
        children,
    })
}

/// A depth: digits (`None` when there are none, for all the way).
fn depth(digits: &str) -> Result<Depth, ()> {
    if digits.is_empty() {
        return Ok(None);
    }
    digits.parse().map(Some).map_err(|_| ())
}

/// Check a dotted name (`a.b.c`), reporting the first bad segment.
fn name(
    text: &str,
    span: Span,
    syntax: &dyn Fn(&str, Span, &str) -> Box<Diagnostic>,
) -> Result<(), Box<Diagnostic>> {
    let mut offset = span.start();
    for segment in text.split('.') {
        let bad = segment.is_empty()
            || segment.starts_with(|c: char| c.is_ascii_digit())
            || !segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if bad {
            let at_segment = Span::new(offset, offset + segment.len());
            let reason = if segment.contains('*') {
                "`*` comes only at the end, as `PREFIX.*`"
            } else if segment.is_empty() {
                "an empty name segment"
            } else {
                "not an operation name"
            };
            return Err(syntax(
                reason,
                at_segment,
                "operation names are dot-separated identifiers (`etl.load`); `PREFIX.*` selects a subtree, `tag:T` and `flow:F` by tag and flow",
            ));
        }
        offset += segment.len() + 1;
    }
    Ok(())
}

/// A flow's operations and links, which terms are evaluated over.
struct Scope<'g> {
    graph: &'g FlowGraph,
    flow: &'g Flow,
    /// Whether each operation of the manifest is in the flow.
    inside: Vec<bool>,
    up: Vec<Vec<usize>>,
    down: Vec<Vec<usize>>,
}

impl<'g> Scope<'g> {
    fn new(graph: &'g FlowGraph, flow: &'g Flow) -> Self {
        let ops = &graph.manifest.operations;
        let mut inside = vec![false; ops.len()];
        for &op in &flow.operations {
            inside[op] = true;
        }
        let mut up = vec![Vec::new(); ops.len()];
        let mut down = vec![Vec::new(); ops.len()];
        for &op in &flow.operations {
            up[op] = ops[op].upstream();
            for &producer in &up[op] {
                down[producer].push(op);
            }
        }
        Self {
            graph,
            flow,
            inside,
            up,
            down,
        }
    }

    /// The union of a selection's terms, or `None` after pushing its problems.
    fn evaluate(&self, option: &str, text: &str, failures: &mut Vec<Failure>) -> Option<Vec<bool>> {
        // Malformed terms and terms that match nothing, reported together.
        let (terms, mut problems) = read(text);
        let mut chosen = vec![false; self.inside.len()];
        for term in &terms {
            match self.term(text, term) {
                Ok(set) => {
                    for (chosen, one) in chosen.iter_mut().zip(set) {
                        *chosen |= one;
                    }
                }
                Err(mut more) => problems.append(&mut more),
            }
        }
        if problems.is_empty() {
            Some(chosen)
        } else {
            failures.push(failure(option, text, problems));
            None
        }
    }

    /// A term's operations: the intersection of its parts.
    fn term(&self, text: &str, term: &Term) -> Result<Vec<bool>, Vec<Diagnostic>> {
        let mut problems = Vec::new();
        let mut result: Option<Vec<bool>> = None;
        for part in &term.parts {
            match self.part(text, part) {
                Ok(set) => {
                    result = Some(match result {
                        None => set,
                        Some(so_far) => so_far.iter().zip(&set).map(|(a, b)| *a && *b).collect(),
                    });
                }
                Err(problem) => problems.push(*problem),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let result = result.unwrap_or_default();
        if result.iter().any(|&one| one) {
            return Ok(result);
        }
        Err(vec![Diagnostic::SelectNoMatch {
            term: text[term.span.start()..term.span.end()].to_owned(),
            flow: self.flow.name.clone(),
            label: "no operation matches every part".to_owned(),
            span: at(term.span),
            help: "each part matches operations, but none matches them all: a comma is an intersection, a space a union".to_owned(),
        }])
    }

    /// One part's operations: its atom, then its graph operators.
    fn part(&self, text: &str, part: &Part) -> Result<Vec<bool>, Box<Diagnostic>> {
        let ops = &self.graph.manifest.operations;
        let of_flow: Vec<bool> = match &part.atom {
            Atom::Flow(name) => {
                let mut member = vec![false; self.inside.len()];
                for f in self.graph.flows.iter().filter(|f| f.name == *name) {
                    for &op in &f.operations {
                        member[op] = true;
                    }
                }
                member
            }
            _ => Vec::new(),
        };
        let matched: Vec<usize> = self
            .flow
            .operations
            .iter()
            .copied()
            .filter(|&op| match &part.atom {
                Atom::Name(name) => ops[op].name == *name,
                Atom::Prefix(prefix) => under(&ops[op].name, prefix),
                Atom::Tag(tag) => ops[op].settings.tags().iter().any(|t| t == tag),
                Atom::Flow(_) => of_flow[op],
            })
            .collect();
        if matched.is_empty() {
            let (label, help) = self.no_match(&part.atom);
            return Err(Box::new(Diagnostic::SelectNoMatch {
                term: text[part.span.start()..part.span.end()].to_owned(),
                flow: self.flow.name.clone(),
                label,
                span: at(part.span),
                help,
            }));
        }
        let mut set = vec![false; self.inside.len()];
        for &op in &matched {
            set[op] = true;
        }
        if let Some(depth) = part.parents {
            reach(&matched, &self.up, depth, &mut set);
        }
        if let Some(depth) = part.children {
            reach(&matched, &self.down, depth, &mut set);
        }
        Ok(set)
    }

    /// Why an atom matches nothing, and what the user may have meant.
    fn no_match(&self, atom: &Atom) -> (String, String) {
        let ops = &self.graph.manifest.operations;
        let flow = &self.flow.name;
        let names = || self.flow.operations.iter().map(|&op| ops[op].name.as_str());
        let mean = |close: Option<&str>, fallback: String| {
            close.map_or(fallback, |close| format!("did you mean `{close}`?"))
        };
        match atom {
            Atom::Name(name) => {
                let under_it = names().filter(|n| under(n, name)).count();
                let help = if under_it > 0 {
                    format!(
                        "did you mean `{name}.*`? `{name}` is the prefix of {under_it} operation{}",
                        if under_it == 1 { "" } else { "s" }
                    )
                } else if ops.iter().any(|op| op.name == *name) {
                    format!(
                        "`{name}` is an operation of the manifest, but flow `{flow}` does not run it; select it in a flow that does, such as `all`"
                    )
                } else {
                    mean(
                        crate::suggest::did_you_mean(name, names()),
                        format!("`opflow plan {flow}` lists the flow's operations"),
                    )
                };
                ("no operation has this name".to_owned(), help)
            }
            Atom::Prefix(prefix) => {
                let prefixes: std::collections::BTreeSet<&str> = names()
                    .flat_map(|n| n.match_indices('.').map(move |(i, _)| &n[..i]))
                    .collect();
                let help = if names().any(|n| n == prefix) {
                    format!("did you mean `{prefix}`? It is an operation with nothing under it")
                } else {
                    mean(
                        crate::suggest::did_you_mean(prefix, prefixes.iter().copied())
                            .map(|close| format!("{close}.*"))
                            .as_deref(),
                        format!("no operation of flow `{flow}` is named `{prefix}.…`"),
                    )
                };
                ("no operation is under this prefix".to_owned(), help)
            }
            Atom::Tag(tag) => {
                let tags: std::collections::BTreeSet<&str> = self
                    .flow
                    .operations
                    .iter()
                    .flat_map(|&op| ops[op].settings.tags().iter().map(String::as_str))
                    .collect();
                let fallback = if tags.is_empty() {
                    format!("no operation of flow `{flow}` has a tag")
                } else {
                    format!(
                        "the tags of flow `{flow}`: {}",
                        tags.iter()
                            .map(|t| format!("`{t}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let help = mean(
                    crate::suggest::did_you_mean(tag, tags.iter().copied()),
                    fallback,
                );
                ("no operation has this tag".to_owned(), help)
            }
            Atom::Flow(name) => {
                let flows = self.graph.flows.iter().map(|f| f.name.as_str());
                if flows.clone().any(|f| f == name) {
                    (
                        "none of its operations is in this flow".to_owned(),
                        format!("flow `{name}` runs no operation of flow `{flow}`"),
                    )
                } else {
                    let help = mean(
                        crate::suggest::did_you_mean(name, flows.clone()),
                        format!(
                            "the flows: {}",
                            flows
                                .map(|f| format!("`{f}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                    ("no flow has this name".to_owned(), help)
                }
            }
        }
    }
}

/// Whether operation `name` is under `prefix` (`a.b.c` is under `a.b`).
fn under(name: &str, prefix: &str) -> bool {
    name.len() > prefix.len() + 1
        && name.starts_with(prefix)
        && name.as_bytes()[prefix.len()] == b'.'
}

/// Mark everything `depth` steps (all, for `None`) from `start` along `next`.
fn reach(start: &[usize], next: &[Vec<usize>], depth: Depth, set: &mut [bool]) {
    let mut seen = vec![false; set.len()];
    let mut frontier: Vec<usize> = start.to_vec();
    for &op in start {
        seen[op] = true;
    }
    let mut steps = 0;
    while !frontier.is_empty() && depth.is_none_or(|depth| steps < depth) {
        let mut following = Vec::new();
        for op in frontier {
            for &other in &next[op] {
                if !seen[other] {
                    seen[other] = true;
                    set[other] = true;
                    following.push(other);
                }
            }
        }
        frontier = following;
        steps += 1;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::BTreeSet;

    use miette::Diagnostic as _;
    use serde::Deserialize;

    use super::*;
    use crate::manifest::Format;

    const CORPUS: &str = include_str!("../tests/select/corpus.toml");

    #[derive(Deserialize)]
    struct Corpus {
        manifest: String,
        graph: Vec<Entry>,
        cases: Vec<Case>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Entry {
        name: String,
        tags: Vec<String>,
        flows: Vec<String>,
        upstream: Vec<String>,
    }

    #[derive(Deserialize, Debug)]
    struct Case {
        select: Option<String>,
        #[serde(default)]
        exclude: String,
        flow: Option<String>,
        expect: Option<Vec<String>>,
        errors: Option<Vec<Expected>>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Expected {
        option: String,
        code: String,
        term: String,
        suggest: Option<String>,
    }

    fn corpus() -> (Corpus, FlowGraph) {
        let corpus: Corpus = toml::from_str(CORPUS).unwrap();
        let graph = compile(&corpus.manifest);
        (corpus, graph)
    }

    fn compile(text: &str) -> FlowGraph {
        let source = Source {
            path: "operations.toml".into(),
            text: text.to_owned(),
        };
        match crate::compile_source(source, Format::Toml) {
            Ok(compiled) => compiled.graph,
            Err(failure) => panic!("{:?}", failure.diagnostics),
        }
    }

    fn flow<'g>(graph: &'g FlowGraph, name: &str) -> &'g Flow {
        graph.flows.iter().find(|f| f.name == name).unwrap()
    }

    fn names(graph: &FlowGraph, ops: &[usize]) -> Vec<String> {
        ops.iter()
            .map(|&op| graph.manifest.operations[op].name.clone())
            .collect()
    }

    /// What a failure says, as the corpus writes it.
    fn expected(failures: &[Failure]) -> Vec<Expected> {
        let mut out = Vec::new();
        for failure in failures {
            let source = failure.source.as_ref().unwrap();
            for diagnostic in &failure.diagnostics {
                let term = match diagnostic {
                    Diagnostic::SelectSyntax { term, .. }
                    | Diagnostic::SelectNoMatch { term, .. } => term.clone(),
                    _ => source.text.clone(),
                };
                let help = diagnostic.help().unwrap().to_string();
                let suggest = help
                    .split_once("did you mean `")
                    .and_then(|(_, rest)| rest.split_once('`'))
                    .map(|(close, _)| close.to_owned());
                out.push(Expected {
                    option: source.path.display().to_string(),
                    code: diagnostic.code_str(),
                    term,
                    suggest,
                });
            }
        }
        out
    }

    #[test]
    fn the_corpus_graph_is_the_manifest() {
        let (corpus, graph) = corpus();
        let ops = &graph.manifest.operations;
        let entries: Vec<Entry> = flow(&graph, "all")
            .operations
            .iter()
            .map(|&op| Entry {
                name: ops[op].name.clone(),
                tags: ops[op].settings.tags().to_vec(),
                flows: graph
                    .flows
                    .iter()
                    .filter(|f| f.operations.contains(&op))
                    .map(|f| f.name.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                upstream: names(&graph, &ops[op].upstream()),
            })
            .collect();
        assert_eq!(entries, corpus.graph);
    }

    #[test]
    fn every_corpus_case() {
        let (corpus, graph) = corpus();
        for case in &corpus.cases {
            let flow = flow(&graph, case.flow.as_deref().unwrap_or("all"));
            let result = select(&graph, flow, case.select.as_deref(), &case.exclude);
            match (&result, &case.expect, &case.errors) {
                (Ok(selection), Some(expect), None) => {
                    assert_eq!(&names(&graph, &selection.operations), expect, "{case:?}");
                }
                (Err(failures), None, Some(errors)) => {
                    assert_eq!(&expected(failures), errors, "{case:?}");
                }
                _ => panic!("{case:?} gave {result:?}"),
            }
        }
    }

    fn part_of(text: &str) -> Part {
        let terms = parse(text).unwrap();
        assert_eq!(terms.len(), 1);
        assert_eq!(terms[0].parts.len(), 1);
        terms[0].parts[0].clone()
    }

    #[test]
    fn each_operator_parses_with_its_depth_and_spans() {
        let cases: [(&str, Atom, Option<Depth>, Option<Depth>); 8] = [
            ("a.b", Atom::Name("a.b".into()), None, None),
            ("a.*", Atom::Prefix("a".into()), None, None),
            ("tag:x-y", Atom::Tag("x-y".into()), None, None),
            ("flow:etl", Atom::Flow("etl".into()), None, None),
            ("+a", Atom::Name("a".into()), Some(None), None),
            ("a+", Atom::Name("a".into()), None, Some(None)),
            (
                "2+a+13",
                Atom::Name("a".into()),
                Some(Some(2)),
                Some(Some(13)),
            ),
            ("+step1", Atom::Name("step1".into()), Some(None), None),
        ];
        for (text, atom, parents, children) in cases {
            let part = part_of(text);
            assert_eq!(part.atom, atom, "{text}");
            assert_eq!(part.parents, parents, "{text}");
            assert_eq!(part.children, children, "{text}");
            assert_eq!(part.span, Span::new(0, text.len()), "{text}");
        }
    }

    #[test]
    fn words_are_a_union_and_commas_an_intersection_with_their_spans() {
        let terms = parse("  a.b,tag:x\tc+ ").unwrap();
        assert_eq!(terms.len(), 2);
        assert_eq!(terms[0].span, Span::new(2, 11));
        assert_eq!(terms[0].parts[0].span, Span::new(2, 5));
        assert_eq!(terms[0].parts[1].span, Span::new(6, 11));
        assert_eq!(terms[1].span, Span::new(12, 14));
        // A separator of several bytes moves the offsets by its length.
        let terms = parse("a\u{3000}b").unwrap();
        assert_eq!(terms[1].span, Span::new(4, 5));
    }

    /// The label's span of each problem, as (start, end), and its reason.
    fn problems(text: &str) -> Vec<(usize, usize, String)> {
        parse(text)
            .unwrap_err()
            .iter()
            .map(|d| {
                let label = d.labels().unwrap().next().unwrap();
                (
                    label.offset(),
                    label.offset() + label.len(),
                    label.label().unwrap().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn syntax_errors_point_at_the_exact_place_all_at_once() {
        let found = problems("+ a++ tag: 2x+a ok 3+ b.*.c x:y");
        let spans: Vec<(usize, usize)> = found.iter().map(|(s, e, _)| (*s, *e)).collect();
        assert_eq!(
            spans,
            [
                (0, 1),
                (3, 4),
                (6, 10),
                (11, 13),
                (19, 21),
                (24, 25),
                (28, 29)
            ]
        );
        assert_eq!(found[0].2, "`+` with nothing to select");
        assert_eq!(found[1].2, "`+` comes only first or last, once each");
        assert_eq!(found[2].2, "`tag:` names nothing");
        assert_eq!(found[3].2, "a depth is a number followed by `+`");
        assert_eq!(found[5].2, "`*` comes only at the end, as `PREFIX.*`");
        assert_eq!(found[6].2, "no method `x`");
    }

    fn example() -> FlowGraph {
        compile(include_str!("../examples/scraping/operations.toml"))
    }

    #[test]
    fn inputs_from_unselected_producers_are_stored() {
        let graph = example();
        let all = flow(&graph, "all");
        let chosen = select(&graph, all, Some("scraping.merge"), "").unwrap();
        let ops = &graph.manifest.operations;
        let stored: Vec<(&str, &str, &str)> = chosen
            .stored
            .iter()
            .map(|s| {
                (
                    ops[s.operation].name.as_str(),
                    s.param.as_str(),
                    ops[s.producer].name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            stored,
            [
                ("scraping.merge", "stepstone", "scraping.stepstone.fetch"),
                ("scraping.merge", "linkedin", "scraping.linkedin.fetch"),
            ]
        );
        assert_eq!(
            names(&graph, &chosen.producers(all)),
            ["scraping.linkedin.fetch", "scraping.stepstone.fetch"]
        );
        // With its upstream selected, nothing is read from storage.
        let whole = select(&graph, all, Some("+scraping.merge"), "").unwrap();
        assert!(whole.stored.is_empty());
        assert_eq!(whole.operations.len(), 3);
    }

    #[test]
    fn an_operation_of_another_flow_is_named_as_such() {
        let (_, graph) = corpus();
        let failures = select(&graph, flow(&graph, "etl"), Some("audit"), "").unwrap_err();
        let help = failures[0].diagnostics[0].help().unwrap().to_string();
        assert!(help.contains("flow `etl` does not run it"), "{help}");
        let failures = select(&graph, flow(&graph, "etl"), Some("flow:shop"), "").unwrap_err();
        let help = failures[0].diagnostics[0].help().unwrap().to_string();
        assert_eq!(help, "flow `shop` runs no operation of flow `etl`");
    }

    #[test]
    fn hostile_text_gives_problems_inside_it_never_a_panic() {
        let (_, graph) = corpus();
        let all = flow(&graph, "all");
        let pieces = [
            "é",
            "+",
            "++",
            ",",
            ":",
            "*",
            ".",
            "1",
            "99999999999999999999999",
            "tag:",
            "flow:",
            "etl",
            "etl.*",
            "\u{3000}",
            " ",
            "\t",
            "a\u{0}b",
            "flow:a:b",
            "tag:é+2",
            "🦀.*",
        ];
        for a in pieces {
            for b in pieces {
                for text in [
                    format!("{a}{b}"),
                    format!("{a} {b}"),
                    format!("{a},{b}+{a}"),
                ] {
                    let Err(failures) = select(&graph, all, Some(&text), &text) else {
                        continue;
                    };
                    for failure in &failures {
                        let source = &failure.source.as_ref().unwrap().text;
                        for diagnostic in &failure.diagnostics {
                            for label in diagnostic.labels().unwrap() {
                                let end = label.offset() + label.len();
                                assert!(end <= source.len(), "{text:?}: {diagnostic:?}");
                                assert!(source.is_char_boundary(label.offset()), "{text:?}");
                                assert!(source.is_char_boundary(end), "{text:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn problems_carry_their_option_text_as_source() {
        let (_, graph) = corpus();
        let failures =
            select(&graph, flow(&graph, "all"), Some("etl.lod"), "tag:nope").unwrap_err();
        let sources: Vec<(String, &str)> = failures
            .iter()
            .map(|f| {
                let source = f.source.as_ref().unwrap();
                (source.path.display().to_string(), source.text.as_str())
            })
            .collect();
        assert_eq!(
            sources,
            [
                ("--select".to_owned(), "etl.lod"),
                ("--exclude".to_owned(), "tag:nope")
            ]
        );
    }
}
