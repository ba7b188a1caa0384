//! The binding rules of docs/DESIGN.md §4 and the flow rules of §3, one or more
//! tests per rule, through the library: `compile_source` on a TOML manifest.
//!
//! `bindings()` shows every parameter as `"op.param" -> "rule from"`, where
//! `from` is an operation, `op.output` for a named output, or `$name` for a flow
//! parameter.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use opflow::graph::Flow;
use opflow::manifest::{Format, Source};
use opflow::resolve::{Binding, Literal};
use opflow::{Compiled, Failure};

// ---------------------------------------------------------------- helpers

/// A manifest: `header` (TOML tables such as `[project]`) and operations
/// given as `(name, extra TOML lines)`; every operation gets a valid `call`.
fn manifest(header: &str, ops: &[(&str, &str)]) -> String {
    let mut text = format!("version = 1\n{header}\n");
    for (name, body) in ops {
        let _ = write!(
            text,
            "\n[[operations]]\nname = \"{name}\"\ncall = \"pkg.mod:{}\"\n{body}\n",
            name.replace('.', "_")
        );
    }
    text
}

fn try_compile(text: &str) -> Result<Compiled, Failure> {
    opflow::compile_source(
        Source {
            path: "operations.toml".into(),
            text: text.to_owned(),
        },
        Format::Toml,
    )
}

fn compile(text: &str) -> Compiled {
    match try_compile(text) {
        Ok(compiled) => compiled,
        Err(failure) => panic!(
            "expected the manifest to compile, got:\n{}\n--- manifest\n{text}",
            messages(&failure).join("\n")
        ),
    }
}

fn messages(failure: &Failure) -> Vec<String> {
    failure
        .diagnostics
        .iter()
        .map(|d| format!("{}: {d}", d.code_str()))
        .collect()
}

/// Compile a manifest that must fail; its diagnostics as `(code, message)`.
fn fail(text: &str) -> Vec<(String, String)> {
    match try_compile(text) {
        Ok(_) => panic!("expected diagnostics\n--- manifest\n{text}"),
        Err(failure) => failure
            .diagnostics
            .iter()
            .map(|d| (d.code_str(), d.to_string()))
            .collect(),
    }
}

fn codes(text: &str) -> Vec<String> {
    fail(text).into_iter().map(|(code, _)| code).collect()
}

/// `"op.param" -> "rule from"` for every parameter.
fn bindings(compiled: &Compiled) -> BTreeMap<String, String> {
    let ops = &compiled.graph.manifest.operations;
    let mut map = BTreeMap::new();
    for op in ops {
        for param in &op.params {
            let from = match &param.binding {
                Binding::Operation { op, output: None } => ops[*op].name.clone(),
                Binding::Operation {
                    op,
                    output: Some(out),
                } => format!("{}.{out}", ops[*op].name),
                Binding::FlowParam { name } => format!("${name}"),
            };
            map.insert(
                format!("{}.{}", op.name, param.name),
                format!("{} {from}", param.rule.as_str()),
            );
        }
    }
    map
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn op_index(compiled: &Compiled, name: &str) -> usize {
    compiled
        .graph
        .manifest
        .operations
        .iter()
        .position(|op| op.name == name)
        .unwrap_or_else(|| panic!("no operation `{name}`"))
}

fn names(compiled: &Compiled, ops: &[usize]) -> Vec<String> {
    ops.iter()
        .map(|&i| compiled.graph.manifest.operations[i].name.clone())
        .collect()
}

/// The `after` (ordering-only) list of an operation, as names.
fn after(compiled: &Compiled, op: &str) -> Vec<String> {
    let i = op_index(compiled, op);
    names(compiled, &compiled.graph.manifest.operations[i].after)
}

fn flow<'c>(compiled: &'c Compiled, name: &str) -> &'c Flow {
    compiled
        .graph
        .flows
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no flow `{name}`; flows: {:?}",
                compiled
                    .graph
                    .flows
                    .iter()
                    .map(|f| &f.name)
                    .collect::<Vec<_>>()
            )
        })
}

fn flow_names(compiled: &Compiled) -> Vec<String> {
    compiled
        .graph
        .flows
        .iter()
        .map(|f| f.name.clone())
        .collect()
}

/// A flow's stages as names: `"a b | c"`.
fn stages(compiled: &Compiled, name: &str) -> String {
    flow(compiled, name)
        .stages
        .iter()
        .map(|stage| names(compiled, stage).join(" "))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A flow's operations, sorted by name.
fn members(compiled: &Compiled, name: &str) -> Vec<String> {
    let mut ops = names(compiled, &flow(compiled, name).operations);
    ops.sort();
    ops
}

fn sinks(compiled: &Compiled, name: &str) -> Vec<String> {
    names(compiled, &flow(compiled, name).sinks)
}

fn critical_path(compiled: &Compiled, name: &str) -> Vec<String> {
    names(compiled, &flow(compiled, name).critical_path)
}

/// A flow's parameters as `name: type = default` (type `?` when absent).
fn flow_params(compiled: &Compiled, name: &str) -> Vec<String> {
    flow(compiled, name)
        .params
        .iter()
        .map(|p| {
            let ty =
                p.ty.as_ref()
                    .map_or_else(|| "?".to_owned(), ToString::to_string);
            match &p.default {
                Some(default) => format!("{}: {ty} = {default}", p.name),
                None => format!("{}: {ty}", p.name),
            }
        })
        .collect()
}

/// The seed's example (the README's "The manifest"), without its header.
const SEED: &[(&str, &str)] = &[
    (
        "scraping.stepstone.fetch",
        "async = true\nparams = { keywords = \"str\" }\nreturns = \"list[jobs.models.Listing]\"",
    ),
    (
        "scraping.linkedin.fetch",
        "async = true\nparams = { keywords = \"str\", pages = { type = \"int\", default = 2 } }\nreturns = \"list[jobs.models.Listing]\"",
    ),
    (
        "scraping.merge",
        "params = { stepstone = \"list[jobs.models.Listing]\", linkedin = \"list[jobs.models.Listing]\" }\nreturns = \"list[jobs.models.Listing]\"",
    ),
];

// ---------------------------------------------------------------- the helper itself

#[test]
fn helper_writes_a_manifest_that_compiles() {
    let text = manifest("", &[("a", "returns = \"int\"")]);
    assert_eq!(
        text,
        "version = 1\n\n\n[[operations]]\nname = \"a\"\ncall = \"pkg.mod:a\"\nreturns = \"int\"\n"
    );
    let compiled = compile(&text);
    assert_eq!(compiled.graph.manifest.operations.len(), 1);
    assert_eq!(flow_names(&compiled), ["all", "main"]);
}

// ---------------------------------------------------------------- rule 1: explicit

#[test]
fn explicit_from_an_operation() {
    let compiled = compile(&manifest(
        "",
        &[
            ("src.load", "returns = \"int\""),
            (
                "dst.use",
                "params = { n = { type = \"int\", from = \"src.load\" } }",
            ),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("dst.use.n", "explicit src.load")])
    );
    let use_ = op_index(&compiled, "dst.use");
    assert_eq!(
        compiled.graph.manifest.operations[use_].params[0].binding,
        Binding::Operation {
            op: op_index(&compiled, "src.load"),
            output: None
        }
    );
    assert!(after(&compiled, "dst.use").is_empty());
    assert_eq!(stages(&compiled, "dst"), "src.load | dst.use");
}

#[test]
fn explicit_from_a_named_output() {
    let compiled = compile(&manifest(
        "",
        &[
            ("a.b", "outputs = { out = \"int\", other = \"str\" }"),
            (
                "c.d",
                "params = { v = { type = \"int\", from = \"a.b.out\" } }",
            ),
        ],
    ));
    assert_eq!(bindings(&compiled), map(&[("c.d.v", "explicit a.b.out")]));
    let d = op_index(&compiled, "c.d");
    assert_eq!(
        compiled.graph.manifest.operations[d].params[0].binding,
        Binding::Operation {
            op: op_index(&compiled, "a.b"),
            output: Some("out".to_owned())
        }
    );
    assert_eq!(stages(&compiled, "c"), "a.b | c.d");
}

#[test]
fn explicit_from_an_unknown_output_is_an_error() {
    let text = manifest(
        "",
        &[
            ("a.b", "outputs = { out = \"int\" }"),
            (
                "c.d",
                "params = { v = { type = \"int\", from = \"a.b.outt\" } }",
            ),
        ],
    );
    let diagnostics = fail(&text);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].0, "opflow::resolve::unknown_output");
    assert!(diagnostics[0].1.contains("`outt`"), "{}", diagnostics[0].1);
}

#[test]
fn explicit_from_an_unknown_operation_is_an_error() {
    let text = manifest(
        "",
        &[
            ("a.b", "returns = \"int\""),
            ("c.d", "params = { v = { type = \"int\", from = \"a.c\" } }"),
        ],
    );
    assert_eq!(codes(&text), ["opflow::resolve::unknown_source"]);
}

#[test]
fn explicit_from_a_flow_parameter() {
    let compiled = compile(&manifest(
        "",
        &[(
            "etl.load",
            "params = { n = { type = \"int\", from = \"$limit\", default = 5 } }",
        )],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("etl.load.n", "explicit $limit")])
    );
    let param = &compiled.graph.manifest.operations[0].params[0];
    assert_eq!(
        param.binding,
        Binding::FlowParam {
            name: "limit".to_owned()
        }
    );
    // The flow parameter takes the name after `$`, not the parameter's.
    assert_eq!(flow_params(&compiled, "etl"), ["limit: int = 5"]);
    assert_eq!(flow_params(&compiled, "all"), ["limit: int = 5"]);
}

#[test]
fn explicit_flow_parameter_merges_with_a_same_named_parameter() {
    let compiled = compile(&manifest(
        "",
        &[
            (
                "etl.load",
                "params = { n = { type = \"int\", from = \"$limit\" } }",
            ),
            (
                "etl.save",
                "params = { limit = { type = \"int\", default = 3 } }",
            ),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[
            ("etl.load.n", "explicit $limit"),
            ("etl.save.limit", "flow_param $limit"),
        ])
    );
    assert_eq!(flow_params(&compiled, "etl"), ["limit: int = 3"]);
}

#[test]
fn explicit_flow_parameter_conflicts_by_its_target_name() {
    let text = manifest(
        "",
        &[
            (
                "etl.load",
                "params = { n = { type = \"int\", from = \"$limit\" } }",
            ),
            ("etl.save", "params = { limit = \"str\" }"),
        ],
    );
    assert_eq!(codes(&text), ["opflow::resolve::conflicting_parameter"]);
}

#[test]
fn explicit_beats_the_name_rule() {
    let compiled = compile(&manifest(
        "",
        &[
            ("etl.extract", "returns = \"int\""),
            ("etl.other", "returns = \"int\""),
            (
                "etl.load",
                "params = { extract = { type = \"int\", from = \"etl.other\" } }",
            ),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("etl.load.extract", "explicit etl.other")])
    );
    // The sibling named like the parameter is not used at all.
    assert_eq!(stages(&compiled, "etl"), "etl.extract etl.other | etl.load");
    assert_eq!(sinks(&compiled, "etl"), ["etl.extract", "etl.load"]);
}

#[test]
fn explicit_beats_the_type_rule() {
    let compiled = compile(&manifest(
        "",
        &[
            ("etl.a", "returns = \"int\""),
            ("etl.b", "returns = \"str\""),
            (
                "etl.load",
                "params = { x = { type = \"int\", from = \"etl.b\" } }\ndepends_on = [\"etl.a\", \"etl.b\"]",
            ),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("etl.load.x", "explicit etl.b")])
    );
    assert_eq!(after(&compiled, "etl.load"), ["etl.a"]);
}

#[test]
fn explicit_from_self_is_an_error() {
    let text = manifest(
        "",
        &[(
            "etl.a",
            "params = { x = { type = \"int\", from = \"etl.a\" } }",
        )],
    );
    assert_eq!(codes(&text), ["opflow::resolve::self_dependency"]);
}

// ---------------------------------------------------------------- rule 2: name

#[test]
fn name_full_name_of_a_flat_operation() {
    let compiled = compile(&manifest(
        "",
        &[
            ("config", "returns = \"dict[str, str]\""),
            ("etl.load", "params = { config = \"dict[str, str]\" }"),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("etl.load.config", "name config")])
    );
    assert_eq!(members(&compiled, "etl"), ["config", "etl.load"]);
}

#[test]
fn name_full_name_beats_a_sibling() {
    let compiled = compile(&manifest(
        "",
        &[
            ("config", "returns = \"int\""),
            ("etl.config", "returns = \"int\""),
            ("etl.load", "params = { config = \"int\" }"),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("etl.load.config", "name config")])
    );
}

#[test]
fn name_flat_operation_binds_a_flat_operation() {
    let compiled = compile(&manifest(
        "",
        &[
            ("fetch", "returns = \"int\""),
            ("report", "params = { fetch = \"int\" }"),
        ],
    ));
    assert_eq!(bindings(&compiled), map(&[("report.fetch", "name fetch")]));
    assert_eq!(stages(&compiled, "main"), "fetch | report");
}

#[test]
fn name_sibling_step() {
    let compiled = compile(&manifest(
        "",
        &[
            ("etl.extract", "returns = \"int\""),
            ("etl.load", "params = { extract = \"int\" }"),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("etl.load.extract", "name etl.extract")])
    );
    assert_eq!(stages(&compiled, "etl"), "etl.extract | etl.load");
}

#[test]
fn name_a_cousin_is_not_a_sibling() {
    // `other.extract` has the step `extract` but another parent; `etl.sub.extract`
    // is a nephew. Neither is a sibling of `etl.load`.
    let compiled = compile(&manifest(
        "",
        &[
            ("other.extract", "returns = \"int\""),
            ("etl.sub.extract", "returns = \"int\""),
            ("etl.sub.more", "returns = \"int\""),
            ("etl.load", "params = { extract = \"int\" }"),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("etl.load.extract", "flow_param $extract")])
    );
}

#[test]
fn name_sibling_subtree_with_one_sink_the_seed_case() {
    let compiled = compile(&manifest("[project]\nname = \"jobs\"", SEED));
    assert_eq!(
        bindings(&compiled),
        map(&[
            ("scraping.linkedin.fetch.keywords", "flow_param $keywords"),
            ("scraping.linkedin.fetch.pages", "flow_param $pages"),
            ("scraping.merge.linkedin", "name scraping.linkedin.fetch"),
            ("scraping.merge.stepstone", "name scraping.stepstone.fetch"),
            ("scraping.stepstone.fetch.keywords", "flow_param $keywords"),
        ])
    );
    assert_eq!(flow_names(&compiled), ["all", "scraping"]);
    assert_eq!(
        stages(&compiled, "scraping"),
        "scraping.linkedin.fetch scraping.stepstone.fetch | scraping.merge"
    );
    assert_eq!(sinks(&compiled, "scraping"), ["scraping.merge"]);
    assert_eq!(
        flow_params(&compiled, "scraping"),
        ["keywords: str", "pages: int = 2"]
    );
}

#[test]
fn name_sibling_subtree_binds_its_sink_not_its_source() {
    let compiled = compile(&manifest(
        "",
        &[
            ("scraping.stepstone.fetch", "returns = \"bytes\""),
            (
                "scraping.stepstone.parse",
                "params = { fetch = \"bytes\" }\nreturns = \"list[str]\"",
            ),
            ("scraping.merge", "params = { stepstone = \"list[str]\" }"),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[
            ("scraping.merge.stepstone", "name scraping.stepstone.parse"),
            (
                "scraping.stepstone.parse.fetch",
                "name scraping.stepstone.fetch"
            ),
        ])
    );
    assert_eq!(
        stages(&compiled, "scraping"),
        "scraping.stepstone.fetch | scraping.stepstone.parse | scraping.merge"
    );
}

#[test]
fn name_sibling_subtree_ordering_edges_count_for_its_sinks() {
    // `parse` only waits for `fetch` (depends_on, no binding): `fetch` is still
    // not a sink of the subtree.
    let compiled = compile(&manifest(
        "",
        &[
            ("s.sub.fetch", "returns = \"int\""),
            (
                "s.sub.parse",
                "returns = \"int\"\ndepends_on = [\"s.sub.fetch\"]",
            ),
            ("s.merge", "params = { sub = \"int\" }"),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("s.merge.sub", "name s.sub.parse")])
    );
    assert_eq!(after(&compiled, "s.sub.parse"), ["s.sub.fetch"]);
}

#[test]
fn name_sibling_subtree_with_two_sinks_is_ambiguous() {
    let text = manifest(
        "",
        &[
            ("scraping.stepstone.fetch", "returns = \"list[str]\""),
            ("scraping.stepstone.fetch_more", "returns = \"list[str]\""),
            ("scraping.merge", "params = { stepstone = \"list[str]\" }"),
        ],
    );
    let diagnostics = fail(&text);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    let (code, message) = &diagnostics[0];
    assert_eq!(code, "opflow::resolve::ambiguous_binding");
    assert!(message.contains("by name"), "{message}");
    assert!(message.contains("`scraping.stepstone.fetch`"), "{message}");
    assert!(
        message.contains("`scraping.stepstone.fetch_more`"),
        "{message}"
    );
}

#[test]
fn name_nested_subtrees() {
    // `a.top(b)` binds the one sink of the whole subtree `a.b.*`, which itself
    // contains the subtree `a.b.c.*` that `a.b.d(c)` binds.
    let compiled = compile(&manifest(
        "",
        &[
            ("a.top", "params = { b = \"int\" }"),
            ("a.b.d", "params = { c = \"int\" }\nreturns = \"int\""),
            (
                "a.b.c.parse",
                "params = { fetch = \"int\" }\nreturns = \"int\"",
            ),
            ("a.b.c.fetch", "returns = \"int\""),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[
            ("a.b.c.parse.fetch", "name a.b.c.fetch"),
            ("a.b.d.c", "name a.b.c.parse"),
            ("a.top.b", "name a.b.d"),
        ])
    );
    assert_eq!(
        stages(&compiled, "a"),
        "a.b.c.fetch | a.b.c.parse | a.b.d | a.top"
    );
    assert_eq!(
        critical_path(&compiled, "a"),
        ["a.b.c.fetch", "a.b.c.parse", "a.b.d", "a.top"]
    );
}

#[test]
fn name_nested_subtree_with_two_sinks_at_different_depths_is_ambiguous() {
    let text = manifest(
        "",
        &[
            ("a.b.c.fetch", "returns = \"int\""),
            ("a.b.d", "returns = \"int\""),
            ("a.top", "params = { b = \"int\" }"),
        ],
    );
    let diagnostics = fail(&text);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0].0, "opflow::resolve::ambiguous_binding");
    assert!(diagnostics[0].1.contains("`a.b.c.fetch`"));
    assert!(diagnostics[0].1.contains("`a.b.d`"));
}

#[test]
fn name_named_output_via_depends_on() {
    let compiled = compile(&manifest(
        "",
        &[
            (
                "ml.split",
                "outputs = { train = \"list[int]\", test = \"list[int]\" }",
            ),
            (
                "ml.fit",
                "params = { train = \"list[int]\" }\nreturns = \"float\"\ndepends_on = [\"ml.split\"]",
            ),
            (
                "ml.score",
                "params = { test = \"list[int]\", fit = \"float\" }\ndepends_on = [\"ml.split\", \"ml.fit\"]",
            ),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[
            ("ml.fit.train", "name ml.split.train"),
            ("ml.score.fit", "name ml.fit"),
            ("ml.score.test", "name ml.split.test"),
        ])
    );
    let fit = op_index(&compiled, "ml.fit");
    assert_eq!(
        compiled.graph.manifest.operations[fit].params[0].binding,
        Binding::Operation {
            op: op_index(&compiled, "ml.split"),
            output: Some("train".to_owned())
        }
    );
    assert!(after(&compiled, "ml.fit").is_empty());
    assert!(after(&compiled, "ml.score").is_empty());
    assert_eq!(stages(&compiled, "ml"), "ml.split | ml.fit | ml.score");
}

#[test]
fn name_named_output_needs_depends_on() {
    let compiled = compile(&manifest(
        "",
        &[
            ("ml.split", "outputs = { train = \"list[int]\" }"),
            ("ml.fit", "params = { train = \"list[int]\" }"),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("ml.fit.train", "flow_param $train")])
    );
}

#[test]
fn name_named_output_in_two_dependencies_is_ambiguous() {
    let text = manifest(
        "",
        &[
            ("ml.a", "outputs = { train = \"int\" }"),
            ("ml.b", "outputs = { train = \"int\" }"),
            (
                "ml.fit",
                "params = { train = \"int\" }\ndepends_on = [\"ml.a\", \"ml.b\"]",
            ),
        ],
    );
    let diagnostics = fail(&text);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0].0, "opflow::resolve::ambiguous_binding");
    assert!(
        diagnostics[0].1.contains("`ml.a.train`"),
        "{}",
        diagnostics[0].1
    );
    assert!(
        diagnostics[0].1.contains("`ml.b.train`"),
        "{}",
        diagnostics[0].1
    );
}

#[test]
fn name_rule_beats_the_type_rule() {
    let compiled = compile(&manifest(
        "",
        &[
            ("etl.extract", "returns = \"str\""),
            ("etl.typed", "returns = \"int\""),
            (
                "etl.load",
                "params = { extract = \"int\" }\ndepends_on = [\"etl.extract\", \"etl.typed\"]",
            ),
        ],
    ));
    // Name wins even though the types differ; the other dependency only orders.
    assert_eq!(
        bindings(&compiled),
        map(&[("etl.load.extract", "name etl.extract")])
    );
    assert_eq!(after(&compiled, "etl.load"), ["etl.typed"]);
}

#[test]
fn name_rule_with_depends_on_ignores_a_sibling_not_listed() {
    let compiled = compile(&manifest(
        "",
        &[
            ("etl.extract", "returns = \"int\""),
            ("etl.other", "returns = \"str\""),
            (
                "etl.load",
                "params = { extract = \"int\" }\ndepends_on = [\"etl.other\"]",
            ),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("etl.load.extract", "flow_param $extract")])
    );
    assert_eq!(after(&compiled, "etl.load"), ["etl.other"]);
    assert_eq!(stages(&compiled, "etl"), "etl.extract etl.other | etl.load");
}

#[test]
fn name_rule_with_depends_on_ignores_a_flat_operation_not_listed() {
    let compiled = compile(&manifest(
        "",
        &[
            ("config", "returns = \"int\""),
            ("etl.other", "returns = \"str\""),
            (
                "etl.load",
                "params = { config = \"int\" }\ndepends_on = [\"etl.other\"]",
            ),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("etl.load.config", "flow_param $config")])
    );
}

#[test]
fn name_rule_with_depends_on_falls_through_to_a_listed_sibling() {
    // The flat `config` is not listed, so the listed sibling `etl.config` wins.
    let compiled = compile(&manifest(
        "",
        &[
            ("config", "returns = \"int\""),
            ("etl.config", "returns = \"int\""),
            (
                "etl.load",
                "params = { config = \"int\" }\ndepends_on = [\"etl.config\"]",
            ),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("etl.load.config", "name etl.config")])
    );
    assert!(after(&compiled, "etl.load").is_empty());
}

#[test]
fn name_rule_with_depends_on_ignores_a_subtree_not_listed() {
    let compiled = compile(&manifest(
        "",
        &[
            ("s.sub.fetch", "returns = \"int\""),
            ("s.other", "returns = \"str\""),
            (
                "s.merge",
                "params = { sub = \"int\" }\ndepends_on = [\"s.other\"]",
            ),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("s.merge.sub", "flow_param $sub")])
    );
}

#[test]
fn name_rule_with_depends_on_resolves_a_two_sink_subtree() {
    // Without depends_on `s.merge(sub)` is ambiguous (two sinks); listing one
    // of them restricts the subtree to it.
    let ops = [
        ("s.sub.a", "returns = \"int\""),
        ("s.sub.b", "returns = \"int\""),
        ("s.merge", "params = { sub = \"int\" }"),
    ];
    assert_eq!(
        codes(&manifest("", &ops)),
        ["opflow::resolve::ambiguous_binding"]
    );
    let compiled = compile(&manifest(
        "",
        &[
            ops[0],
            ops[1],
            (
                "s.merge",
                "params = { sub = \"int\" }\ndepends_on = [\"s.sub.b\"]",
            ),
        ],
    ));
    assert_eq!(bindings(&compiled), map(&[("s.merge.sub", "name s.sub.b")]));
    assert!(after(&compiled, "s.merge").is_empty());
}

#[test]
fn name_flat_operation_binds_the_sink_of_a_top_level_subtree() {
    // A flat operation's siblings are the top-level names, so `report(scraping)`
    // binds the one sink of `scraping.*`.
    let compiled = compile(&manifest(
        "",
        &[
            ("scraping.fetch", "returns = \"int\""),
            (
                "scraping.merge",
                "params = { fetch = \"int\" }\nreturns = \"int\"",
            ),
            ("report", "params = { scraping = \"int\" }"),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[
            ("report.scraping", "name scraping.merge"),
            ("scraping.merge.fetch", "name scraping.fetch"),
        ])
    );
    assert_eq!(
        stages(&compiled, "main"),
        "scraping.fetch | scraping.merge | report"
    );
}

#[test]
fn name_rule_with_depends_on_restricts_the_subtree_to_the_listed_members() {
    // Only `s.sub.fetch` is listed, so the subtree is `{s.sub.fetch}` and its
    // sink is `s.sub.fetch`, although `s.sub.parse` is the sink of the whole subtree.
    let compiled = compile(&manifest(
        "",
        &[
            ("s.sub.fetch", "returns = \"int\""),
            (
                "s.sub.parse",
                "params = { fetch = \"int\" }\nreturns = \"int\"",
            ),
            (
                "s.merge",
                "params = { sub = \"int\" }\ndepends_on = [\"s.sub.fetch\"]",
            ),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[
            ("s.merge.sub", "name s.sub.fetch"),
            ("s.sub.parse.fetch", "name s.sub.fetch"),
        ])
    );
}

// ---------------------------------------------------------------- rule 3: type

#[test]
fn type_among_depends_on() {
    let compiled = compile(&manifest(
        "",
        &[
            ("ingest.load", "returns = \"List[int]\""),
            ("ingest.schema", "returns = \"str\""),
            (
                "ingest.total",
                "params = { values = \"list[int]\" }\nreturns = \"int\"\ndepends_on = [\"ingest.load\", \"ingest.schema\"]",
            ),
        ],
    ));
    // `List[int]` and `list[int]` are the same type.
    assert_eq!(
        bindings(&compiled),
        map(&[("ingest.total.values", "type ingest.load")])
    );
    assert_eq!(after(&compiled, "ingest.total"), ["ingest.schema"]);
    assert_eq!(
        stages(&compiled, "ingest"),
        "ingest.load ingest.schema | ingest.total"
    );
}

#[test]
fn type_optional_matches_union_with_none() {
    let compiled = compile(&manifest(
        "",
        &[
            ("t.a", "returns = \"Optional[str]\""),
            ("t.b", "returns = \"int\""),
            (
                "t.c",
                "params = { x = \"str | None\" }\ndepends_on = [\"t.a\", \"t.b\"]",
            ),
            ("t.d", "returns = \"None | str\""),
            (
                "t.e",
                "params = { y = \"typing.Optional[str]\" }\ndepends_on = [\"t.d\"]",
            ),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("t.c.x", "type t.a"), ("t.e.y", "type t.d")])
    );
}

#[test]
fn type_spaces_do_not_matter() {
    let compiled = compile(&manifest(
        "",
        &[
            ("t.a", "returns = \"dict[str,list[int]]\""),
            (
                "t.b",
                "params = { x = \"Dict[ str , List[int] ]\" }\ndepends_on = [\"t.a\"]",
            ),
        ],
    ));
    assert_eq!(bindings(&compiled), map(&[("t.b.x", "type t.a")]));
}

#[test]
fn type_different_types_do_not_match() {
    let compiled = compile(&manifest(
        "",
        &[
            ("t.a", "returns = \"list[int]\""),
            (
                "t.b",
                "params = { x = \"list[str]\" }\ndepends_on = [\"t.a\"]",
            ),
        ],
    ));
    assert_eq!(bindings(&compiled), map(&[("t.b.x", "flow_param $x")]));
    assert_eq!(after(&compiled, "t.b"), ["t.a"]);
}

#[test]
fn type_matches_a_named_output() {
    let compiled = compile(&manifest(
        "",
        &[
            ("t.a", "outputs = { count = \"int\", label = \"str\" }"),
            ("t.b", "params = { text = \"str\" }\ndepends_on = [\"t.a\"]"),
        ],
    ));
    assert_eq!(bindings(&compiled), map(&[("t.b.text", "type t.a.label")]));
    assert!(after(&compiled, "t.b").is_empty());
}

#[test]
fn type_two_candidates_is_ambiguous() {
    let text = manifest(
        "",
        &[
            ("t.first", "returns = \"int\""),
            ("t.second", "returns = \"int\""),
            (
                "t.sum",
                "params = { n = \"int\" }\ndepends_on = [\"t.first\", \"t.second\"]",
            ),
        ],
    );
    let failure = try_compile(&text).unwrap_err();
    assert_eq!(failure.diagnostics.len(), 1);
    let diagnostic = &failure.diagnostics[0];
    assert_eq!(diagnostic.code_str(), "opflow::resolve::ambiguous_binding");
    let message = diagnostic.to_string();
    assert!(message.contains("by type"), "{message}");
    assert!(message.contains("`t.first`"), "{message}");
    assert!(message.contains("`t.second`"), "{message}");
    // The help suggests `from`.
    let help = miette::Diagnostic::help(diagnostic).unwrap().to_string();
    assert!(help.contains("from"), "{help}");
}

#[test]
fn type_return_and_named_output_of_two_dependencies_is_ambiguous() {
    let text = manifest(
        "",
        &[
            ("t.first", "returns = \"int\""),
            ("t.second", "outputs = { n = \"str\", m = \"int\" }"),
            (
                "t.sum",
                "params = { k = \"int\" }\ndepends_on = [\"t.first\", \"t.second\"]",
            ),
        ],
    );
    let diagnostics = fail(&text);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].0, "opflow::resolve::ambiguous_binding");
    assert!(diagnostics[0].1.contains("`t.first`"));
    assert!(diagnostics[0].1.contains("`t.second.m`"));
}

#[test]
fn type_match_outside_depends_on_is_not_used() {
    // Without depends_on there is no type rule at all.
    let compiled = compile(&manifest(
        "",
        &[
            ("t.src", "returns = \"int\""),
            ("t.dst", "params = { n = \"int\" }"),
        ],
    ));
    assert_eq!(bindings(&compiled), map(&[("t.dst.n", "flow_param $n")]));
    assert_eq!(stages(&compiled, "t"), "t.dst t.src");
    // With depends_on, only the listed operations count.
    let compiled = compile(&manifest(
        "",
        &[
            ("t.src", "returns = \"int\""),
            ("t.other", "returns = \"str\""),
            (
                "t.dst",
                "params = { n = \"int\" }\ndepends_on = [\"t.other\"]",
            ),
        ],
    ));
    assert_eq!(bindings(&compiled), map(&[("t.dst.n", "flow_param $n")]));
    assert_eq!(after(&compiled, "t.dst"), ["t.other"]);
}

#[test]
fn type_unambiguous_among_depends_on_even_if_others_match_outside() {
    let compiled = compile(&manifest(
        "",
        &[
            ("t.src", "returns = \"int\""),
            ("t.also", "returns = \"int\""),
            (
                "t.dst",
                "params = { n = \"int\" }\ndepends_on = [\"t.src\"]",
            ),
        ],
    ));
    assert_eq!(bindings(&compiled), map(&[("t.dst.n", "type t.src")]));
}

#[test]
fn type_untyped_parameter_is_not_bound_by_type() {
    // A parameter without a type cannot match by type; as a flow parameter it
    // then needs a type.
    let text = manifest(
        "",
        &[
            ("t.src", "returns = \"int\""),
            (
                "t.dst",
                "params = { n = { default = 1 } }\ndepends_on = [\"t.src\"]",
            ),
        ],
    );
    assert_eq!(codes(&text), ["opflow::resolve::untyped_parameter"]);
}

#[test]
fn type_ambiguity_lists_each_candidate_once() {
    let text = manifest(
        "",
        &[
            ("t.a", "returns = \"int\""),
            ("t.b", "returns = \"int\""),
            (
                "t.c",
                "params = { n = \"int\" }\ndepends_on = [\"t.a\", \"t.b\", \"t.a\"]",
            ),
        ],
    );
    let diagnostics = fail(&text);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].0, "opflow::resolve::ambiguous_binding");
    // Today: "matches 3 candidates by type: `t.a`, `t.b`, `t.a`".
    assert!(
        diagnostics[0]
            .1
            .ends_with("matches 2 candidates by type: `t.a`, `t.b`"),
        "{}",
        diagnostics[0].1
    );
}

// ---------------------------------------------------------------- rule 4: flow parameters

#[test]
fn flow_params_unbound_parameters_with_defaults() {
    let compiled = compile(&manifest(
        "",
        &[(
            "etl.load",
            "params = { path = \"str\", limit = { type = \"int\", default = 10 }, opts = { type = \"dict[str, bool]\", default = { fast = true } } }",
        )],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[
            ("etl.load.limit", "flow_param $limit"),
            ("etl.load.opts", "flow_param $opts"),
            ("etl.load.path", "flow_param $path"),
        ])
    );
    assert_eq!(
        flow_params(&compiled, "etl"),
        [
            "path: str",
            "limit: int = 10",
            "opts: dict[str, bool] = {\"fast\":true}"
        ]
    );
    let params = &flow(&compiled, "etl").params;
    assert_eq!(params[1].default, Some(Literal::Int(10)));
    assert_eq!(
        params[2].default,
        Some(Literal::Dict(vec![(
            "fast".to_owned(),
            Literal::Bool(true)
        )]))
    );
    assert_eq!(params[0].default, None);
}

#[test]
fn flow_params_merged_across_operations_of_a_flow() {
    let compiled = compile(&manifest(
        "",
        &[
            ("s.a", "params = { keywords = \"str\" }"),
            (
                "s.b",
                "params = { keywords = { type = \"str\", default = \"rust\" }, pages = \"int\" }",
            ),
            ("s.c", "params = { keywords = \"str\", pages = \"int\" }"),
        ],
    ));
    assert_eq!(
        flow_params(&compiled, "s"),
        ["keywords: str = \"rust\"", "pages: int"]
    );
}

#[test]
fn flow_params_merged_across_flows_in_all() {
    let compiled = compile(&manifest(
        "",
        &[
            ("x.a", "params = { keywords = \"str\", n = \"int\" }"),
            (
                "y.b",
                "params = { keywords = { type = \"str\", default = \"k\" } }",
            ),
        ],
    ));
    assert_eq!(flow_params(&compiled, "x"), ["keywords: str", "n: int"]);
    assert_eq!(flow_params(&compiled, "y"), ["keywords: str = \"k\""]);
    assert_eq!(
        flow_params(&compiled, "all"),
        ["keywords: str = \"k\"", "n: int"]
    );
}

#[test]
fn flow_params_same_type_spelled_differently_merge() {
    let compiled = compile(&manifest(
        "",
        &[
            (
                "x.a",
                "params = { ids = \"List[int]\", name = \"Optional[str]\" }",
            ),
            (
                "x.b",
                "params = { ids = \"list[int]\", name = \"str | None\" }",
            ),
        ],
    ));
    assert_eq!(flow(&compiled, "x").params.len(), 2);
    assert_eq!(flow(&compiled, "all").params.len(), 2);
}

#[test]
fn flow_params_same_default_twice_is_fine() {
    let compiled = compile(&manifest(
        "",
        &[
            ("x.a", "params = { n = { type = \"int\", default = 3 } }"),
            ("y.b", "params = { n = { type = \"int\", default = 3 } }"),
        ],
    ));
    assert_eq!(flow_params(&compiled, "all"), ["n: int = 3"]);
}

#[test]
fn flow_params_conflicting_types_in_one_flow() {
    let text = manifest(
        "",
        &[
            ("x.a", "params = { n = \"int\" }"),
            ("x.b", "params = { n = \"str\" }"),
        ],
    );
    let diagnostics = fail(&text);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].0, "opflow::resolve::conflicting_parameter");
    assert!(diagnostics[0].1.contains("`int`"), "{}", diagnostics[0].1);
    assert!(diagnostics[0].1.contains("`str`"), "{}", diagnostics[0].1);
}

#[test]
fn flow_params_conflicting_types_across_flows() {
    // Merged across all operations, because the root flow runs them all.
    let text = manifest(
        "",
        &[
            ("x.a", "params = { n = \"int\" }"),
            ("y.b", "params = { n = \"float\" }"),
        ],
    );
    assert_eq!(codes(&text), ["opflow::resolve::conflicting_parameter"]);
}

#[test]
fn flow_params_conflicting_defaults() {
    let text = manifest(
        "",
        &[
            ("x.a", "params = { n = { type = \"int\", default = 1 } }"),
            ("x.b", "params = { n = \"int\" }"),
            ("y.c", "params = { n = { type = \"int\", default = 2 } }"),
        ],
    );
    let diagnostics = fail(&text);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].0, "opflow::resolve::conflicting_default");
    assert!(diagnostics[0].1.contains('1') && diagnostics[0].1.contains('2'));
}

#[test]
fn flow_params_bound_parameters_are_not_flow_params() {
    let compiled = compile(&manifest("", SEED));
    // `stepstone` and `linkedin` are bound by name; only the fetchers' inputs remain.
    let names: Vec<&str> = flow(&compiled, "all")
        .params
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["keywords", "pages"]);
}

// ---------------------------------------------------------------- ordering-only depends_on

#[test]
fn depends_on_without_binding_only_orders() {
    let compiled = compile(&manifest(
        "",
        &[
            ("db.migrate", ""),
            ("db.seed", "returns = \"int\""),
            (
                "db.report",
                "params = { seed = \"int\" }\ndepends_on = [\"db.migrate\", \"db.seed\"]",
            ),
        ],
    ));
    assert_eq!(
        bindings(&compiled),
        map(&[("db.report.seed", "name db.seed")])
    );
    // `db.seed` binds a parameter, so only `db.migrate` is ordering-only.
    assert_eq!(after(&compiled, "db.report"), ["db.migrate"]);
    assert_eq!(stages(&compiled, "db"), "db.migrate db.seed | db.report");
    let report = op_index(&compiled, "db.report");
    assert_eq!(
        names(
            &compiled,
            &compiled.graph.manifest.operations[report].upstream()
        ),
        ["db.seed", "db.migrate"]
    );
}

#[test]
fn depends_on_an_operation_of_another_flow_orders_and_pulls_it_in() {
    let compiled = compile(&manifest(
        "",
        &[
            ("db.migrate", ""),
            ("api.serve", "depends_on = [\"db.migrate\"]"),
        ],
    ));
    assert!(bindings(&compiled).is_empty());
    assert_eq!(after(&compiled, "api.serve"), ["db.migrate"]);
    assert_eq!(stages(&compiled, "api"), "db.migrate | api.serve");
    assert_eq!(stages(&compiled, "db"), "db.migrate");
}

#[test]
fn depends_on_an_unknown_operation_is_an_error() {
    let text = manifest("", &[("db.a", ""), ("db.b", "depends_on = [\"db.c\"]")]);
    assert_eq!(codes(&text), ["opflow::resolve::unknown_dependency"]);
}

#[test]
fn depends_on_itself_is_an_error() {
    let text = manifest("", &[("db.a", "depends_on = [\"db.a\"]")]);
    assert_eq!(codes(&text), ["opflow::resolve::self_dependency"]);
}

// ---------------------------------------------------------------- flows (§3)

#[test]
fn flows_one_per_top_level_segment_and_all() {
    let compiled = compile(&manifest(
        "",
        &[
            ("scraping.a.fetch", ""),
            ("scraping.b", ""),
            ("report.build", ""),
            ("clean.x.y.z", ""),
        ],
    ));
    // Sorted by name; `all` is the root flow.
    assert_eq!(
        flow_names(&compiled),
        ["all", "clean", "report", "scraping"]
    );
    assert_eq!(
        members(&compiled, "scraping"),
        ["scraping.a.fetch", "scraping.b"]
    );
    assert_eq!(members(&compiled, "report"), ["report.build"]);
    assert_eq!(members(&compiled, "clean"), ["clean.x.y.z"]);
}

#[test]
fn flows_flat_operations_form_the_project_flow() {
    let ops = [("fetch", ""), ("report", ""), ("etl.load", "")];
    let compiled = compile(&manifest("[project]\nname = \"jobs\"", &ops));
    assert_eq!(flow_names(&compiled), ["all", "etl", "jobs"]);
    assert_eq!(members(&compiled, "jobs"), ["fetch", "report"]);
    let compiled = compile(&manifest("", &ops));
    assert_eq!(flow_names(&compiled), ["all", "etl", "main"]);
    assert_eq!(members(&compiled, "main"), ["fetch", "report"]);
}

#[test]
fn flows_no_project_flow_without_flat_operations() {
    let compiled = compile(&manifest("[project]\nname = \"jobs\"", &[("etl.load", "")]));
    assert_eq!(flow_names(&compiled), ["all", "etl"]);
}

#[test]
fn flows_settings_of_a_top_level_flow() {
    let compiled = compile(&manifest(
        "[flows.scraping]\ndescription = \"Collect job listings\"\ntask_runner = \"process\"",
        SEED,
    ));
    let scraping = flow(&compiled, "scraping");
    assert_eq!(
        scraping.settings.description.as_deref(),
        Some("Collect job listings")
    );
    assert!(scraping.settings.task_runner.is_some());
    assert!(flow(&compiled, "all").settings.description.is_none());
}

#[test]
fn flows_a_deeper_prefix_is_a_flow_of_its_own() {
    let compiled = compile(&manifest(
        "[flows.\"scraping.stepstone\"]\ndescription = \"StepStone only\"",
        &[
            ("scraping.stepstone.fetch", "returns = \"bytes\""),
            (
                "scraping.stepstone.parse",
                "params = { fetch = \"bytes\" }\nreturns = \"list[str]\"",
            ),
            ("scraping.linkedin.fetch", "returns = \"list[str]\""),
            (
                "scraping.merge",
                "params = { stepstone = \"list[str]\", linkedin = \"list[str]\" }",
            ),
        ],
    ));
    assert_eq!(
        flow_names(&compiled),
        ["all", "scraping", "scraping.stepstone"]
    );
    assert_eq!(
        stages(&compiled, "scraping.stepstone"),
        "scraping.stepstone.fetch | scraping.stepstone.parse"
    );
    assert_eq!(
        flow(&compiled, "scraping.stepstone")
            .settings
            .description
            .as_deref(),
        Some("StepStone only")
    );
    // The top-level flow still runs the deeper flow's operations.
    assert_eq!(
        stages(&compiled, "scraping"),
        "scraping.linkedin.fetch scraping.stepstone.fetch | scraping.stepstone.parse | scraping.merge"
    );
    assert_eq!(
        sinks(&compiled, "scraping.stepstone"),
        ["scraping.stepstone.parse"]
    );
}

#[test]
fn flows_a_deeper_flow_includes_its_upstream_closure() {
    let compiled = compile(&manifest(
        "[flows.\"a.b\"]",
        &[
            ("src", "returns = \"int\""),
            ("a.c", "params = { src = \"int\" }\nreturns = \"int\""),
            (
                "a.b.x",
                "params = { n = { type = \"int\", from = \"a.c\" } }",
            ),
            ("a.b.y", ""),
            ("a.d", "depends_on = [\"a.b.x\"]"),
        ],
    ));
    assert_eq!(flow_names(&compiled), ["a", "a.b", "all", "main"]);
    // `a.d` is downstream of `a.b.x`: not part of `a.b`.
    assert_eq!(members(&compiled, "a.b"), ["a.b.x", "a.b.y", "a.c", "src"]);
    assert_eq!(stages(&compiled, "a.b"), "a.b.y src | a.c | a.b.x");
    assert_eq!(sinks(&compiled, "a.b"), ["a.b.y", "a.b.x"]);
}

#[test]
fn flows_settings_of_the_project_flow() {
    let compiled = compile(&manifest(
        "[project]\nname = \"jobs\"\n[flows.jobs]\ndescription = \"flat ones\"",
        &[("fetch", "")],
    ));
    assert_eq!(
        flow(&compiled, "jobs").settings.description.as_deref(),
        Some("flat ones")
    );
    // Without flat operations there is no project flow to configure.
    let text = manifest(
        "[project]\nname = \"jobs\"\n[flows.jobs]",
        &[("etl.load", "")],
    );
    assert_eq!(codes(&text), ["opflow::resolve::unknown_flow"]);
}

#[test]
fn flows_a_table_naming_a_flat_operation_is_not_silently_ignored() {
    // `fetch` is a flat operation of flow `main`; `[flows.fetch]` configures nothing.
    let text = manifest(
        "[flows.fetch]\ndescription = \"lost\"",
        &[("fetch", ""), ("etl.x", "")],
    );
    match try_compile(&text) {
        Err(failure) => assert_eq!(
            failure.diagnostics[0].code_str(),
            "opflow::resolve::unknown_flow"
        ),
        Ok(compiled) => assert!(
            compiled
                .graph
                .flows
                .iter()
                .any(|f| f.settings.description.as_deref() == Some("lost")),
            "flows {:?}: the settings of [flows.fetch] went nowhere",
            flow_names(&compiled)
        ),
    }
}

#[test]
fn flows_an_unknown_flow_table_is_an_error() {
    let text = manifest("[flows.\"a.zz\"]", &[("a.b", "")]);
    assert_eq!(codes(&text), ["opflow::resolve::unknown_flow"]);
}

#[test]
fn flows_all_is_reserved() {
    assert_eq!(
        codes(&manifest("", &[("all.x", "")])),
        ["opflow::resolve::reserved_flow_name"]
    );
    assert_eq!(
        codes(&manifest("[flows.all]", &[("x.y", "")])),
        ["opflow::resolve::reserved_flow_name"]
    );
}

#[test]
fn flows_upstream_closure_pulls_in_other_flows() {
    let compiled = compile(&manifest(
        "[project]\nname = \"jobs\"",
        &[
            ("scraping.stepstone.fetch", "returns = \"list[str]\""),
            ("scraping.linkedin.fetch", "returns = \"list[str]\""),
            (
                "scraping.merge",
                "params = { stepstone = \"list[str]\", linkedin = \"list[str]\" }\nreturns = \"list[str]\"",
            ),
            (
                "report.build",
                "params = { listings = { type = \"list[str]\", from = \"scraping.merge\" } }",
            ),
            ("report.notify", "depends_on = [\"report.build\"]"),
            ("cleanup", ""),
        ],
    ));
    assert_eq!(flow_names(&compiled), ["all", "jobs", "report", "scraping"]);
    assert_eq!(
        members(&compiled, "report"),
        [
            "report.build",
            "report.notify",
            "scraping.linkedin.fetch",
            "scraping.merge",
            "scraping.stepstone.fetch"
        ]
    );
    assert_eq!(
        stages(&compiled, "report"),
        "scraping.linkedin.fetch scraping.stepstone.fetch | scraping.merge | report.build | report.notify"
    );
    // Upstream only: `scraping` does not run `report`.
    assert_eq!(
        members(&compiled, "scraping"),
        [
            "scraping.linkedin.fetch",
            "scraping.merge",
            "scraping.stepstone.fetch"
        ]
    );
    assert_eq!(members(&compiled, "jobs"), ["cleanup"]);
    // Inside `scraping`, `scraping.merge` is the sink; inside `report` it is not.
    assert_eq!(sinks(&compiled, "scraping"), ["scraping.merge"]);
    assert_eq!(sinks(&compiled, "report"), ["report.notify"]);
    // The root flow runs everything.
    assert_eq!(
        members(&compiled, "all"),
        [
            "cleanup",
            "report.build",
            "report.notify",
            "scraping.linkedin.fetch",
            "scraping.merge",
            "scraping.stepstone.fetch"
        ]
    );
    assert_eq!(
        stages(&compiled, "all"),
        "cleanup scraping.linkedin.fetch scraping.stepstone.fetch | scraping.merge | report.build | report.notify"
    );
    assert_eq!(sinks(&compiled, "all"), ["cleanup", "report.notify"]);
}

#[test]
fn flows_closure_is_transitive_through_several_flows() {
    let compiled = compile(&manifest(
        "",
        &[
            ("a.x", ""),
            ("b.x", "depends_on = [\"a.x\"]"),
            ("c.x", "depends_on = [\"b.x\"]"),
        ],
    ));
    assert_eq!(members(&compiled, "c"), ["a.x", "b.x", "c.x"]);
    assert_eq!(members(&compiled, "b"), ["a.x", "b.x"]);
    assert_eq!(members(&compiled, "a"), ["a.x"]);
}

#[test]
fn flows_params_come_from_the_closure() {
    let compiled = compile(&manifest(
        "",
        &[
            ("a.x", "params = { key = \"str\" }\nreturns = \"int\""),
            (
                "b.x",
                "params = { n = { type = \"int\", from = \"a.x\" }, m = \"float\" }",
            ),
        ],
    ));
    // Ordered by stage: `a.x`'s parameter first.
    assert_eq!(flow_params(&compiled, "b"), ["key: str", "m: float"]);
    assert_eq!(flow_params(&compiled, "a"), ["key: str"]);
}

// ---------------------------------------------------------------- stages, critical path, sinks

#[test]
fn stages_sorted_by_name_each_operation_in_its_earliest_stage() {
    // Written in reverse order. z.a -> z.b -> z.c; z.a -> z.d; z.e alone.
    let compiled = compile(&manifest(
        "",
        &[
            ("z.e", ""),
            ("z.d", "depends_on = [\"z.a\"]"),
            ("z.c", "depends_on = [\"z.b\"]"),
            ("z.b", "depends_on = [\"z.a\"]"),
            ("z.a", ""),
        ],
    ));
    assert_eq!(stages(&compiled, "z"), "z.a z.e | z.b z.d | z.c");
    let z = flow(&compiled, "z");
    // `operations` is the stages, concatenated.
    assert_eq!(
        names(&compiled, &z.operations),
        ["z.a", "z.e", "z.b", "z.d", "z.c"]
    );
    let stage_of: Vec<(String, usize)> = compiled
        .graph
        .manifest
        .operations
        .iter()
        .zip(&compiled.graph.stage_of)
        .map(|(op, &s)| (op.name.clone(), s))
        .collect();
    assert_eq!(
        stage_of,
        [
            ("z.e".to_owned(), 0),
            ("z.d".to_owned(), 1),
            ("z.c".to_owned(), 2),
            ("z.b".to_owned(), 1),
            ("z.a".to_owned(), 0)
        ]
    );
}

#[test]
fn stages_an_operation_waits_for_its_slowest_input() {
    // d needs a (stage 0) and c (stage 2): stage 3, not 1.
    let compiled = compile(&manifest(
        "",
        &[
            ("p.a", ""),
            ("p.b", "depends_on = [\"p.a\"]"),
            ("p.c", "depends_on = [\"p.b\"]"),
            ("p.d", "depends_on = [\"p.a\", \"p.c\"]"),
        ],
    ));
    assert_eq!(stages(&compiled, "p"), "p.a | p.b | p.c | p.d");
}

#[test]
fn stages_of_a_flow_have_no_gaps() {
    // In flow `b`, stages are those of its closure only.
    let compiled = compile(&manifest(
        "",
        &[
            ("a.x", ""),
            ("a.y", "depends_on = [\"a.x\"]"),
            ("a.z", "depends_on = [\"a.y\"]"),
            ("b.x", "depends_on = [\"a.x\"]"),
        ],
    ));
    assert_eq!(stages(&compiled, "b"), "a.x | b.x");
    assert_eq!(stages(&compiled, "all"), "a.x | a.y b.x | a.z");
}

#[test]
fn critical_path_is_the_longest_chain() {
    // Diamond with a longer right branch: s -> l -> e, s -> r1 -> r2 -> e.
    let compiled = compile(&manifest(
        "",
        &[
            ("d.s", ""),
            ("d.l", "depends_on = [\"d.s\"]"),
            ("d.r1", "depends_on = [\"d.s\"]"),
            ("d.r2", "depends_on = [\"d.r1\"]"),
            ("d.e", "depends_on = [\"d.l\", \"d.r2\"]"),
            ("d.solo", ""),
        ],
    ));
    assert_eq!(
        critical_path(&compiled, "d"),
        ["d.s", "d.r1", "d.r2", "d.e"]
    );
}

#[test]
fn critical_path_ties_go_to_the_alphabetically_first() {
    let compiled = compile(&manifest(
        "",
        &[
            ("t.b1", ""),
            ("t.b2", "depends_on = [\"t.b1\"]"),
            ("t.a1", ""),
            ("t.a2", "depends_on = [\"t.a1\"]"),
        ],
    ));
    assert_eq!(critical_path(&compiled, "t"), ["t.a1", "t.a2"]);
    // A single operation is its own critical path.
    let compiled = compile(&manifest("", &[("u.only", "")]));
    assert_eq!(critical_path(&compiled, "u"), ["u.only"]);
}

#[test]
fn critical_path_of_a_flow_spans_its_closure() {
    let compiled = compile(&manifest(
        "",
        &[
            ("a.x", ""),
            ("a.y", "depends_on = [\"a.x\"]"),
            ("b.x", "depends_on = [\"a.y\"]"),
        ],
    ));
    assert_eq!(critical_path(&compiled, "b"), ["a.x", "a.y", "b.x"]);
    assert_eq!(critical_path(&compiled, "a"), ["a.x", "a.y"]);
}

#[test]
fn sinks_single_and_several() {
    let compiled = compile(&manifest(
        "",
        &[
            ("f.load", "returns = \"int\""),
            ("f.total", "params = { load = \"int\" }\nreturns = \"int\""),
            ("f.mean", "params = { load = \"int\" }\nreturns = \"float\""),
            ("g.load", "returns = \"int\""),
            ("g.total", "params = { load = \"int\" }"),
        ],
    ));
    assert_eq!(sinks(&compiled, "f"), ["f.mean", "f.total"]);
    assert_eq!(sinks(&compiled, "g"), ["g.total"]);
    assert_eq!(sinks(&compiled, "all"), ["f.mean", "f.total", "g.total"]);
}

#[test]
fn sinks_an_ordering_only_dependency_is_not_a_sink() {
    let compiled = compile(&manifest(
        "",
        &[("f.a", ""), ("f.b", "depends_on = [\"f.a\"]")],
    ));
    assert_eq!(sinks(&compiled, "f"), ["f.b"]);
}

// ---------------------------------------------------------------- cycles

#[test]
fn cycle_through_depends_on_and_bindings() {
    let text = manifest(
        "",
        &[
            ("c.a", "params = { b = \"int\" }\nreturns = \"int\""),
            ("c.b", "returns = \"int\"\ndepends_on = [\"c.a\"]"),
        ],
    );
    let diagnostics = fail(&text);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0].0, "opflow::graph::cycle");
    assert!(
        diagnostics[0].1.contains("c.a -> c.b -> c.a"),
        "{}",
        diagnostics[0].1
    );
}

#[test]
fn name_rule_never_binds_an_operation_to_its_own_children() {
    // `a.x(x)`: the "sibling subtree" `a.x.*` is a.x's own children, not a sibling.
    let compiled = compile(&manifest(
        "",
        &[
            ("a.x", "params = { x = \"int\" }"),
            ("a.x.y", "returns = \"int\""),
        ],
    ));
    assert_eq!(bindings(&compiled), map(&[("a.x.x", "flow_param $x")]));
}
