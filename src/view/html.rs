//! `opflow graph --format html`: one self-contained page, from the template
//! `templates/graph.html`: the flow's name and description, its picture as
//! inline SVG, and a table of its operations with their bindings.

use askama::Template;

use super::declared;
use super::svg::{MONO, SANS, draw, escape};
use crate::graph::{Flow, FlowGraph};

#[derive(Template)]
#[template(path = "graph.html", escape = "none")]
struct Page<'a> {
    name: &'a str,
    description: Option<&'a str>,
    operations: usize,
    stages: usize,
    /// The flow's parameters, as declared (`keywords: str = "python"`).
    params: Vec<String>,
    sans: &'a str,
    mono: &'a str,
    /// The picture: markup, written as it is.
    figure: String,
    rows: Vec<Row<'a>>,
}

/// An operation's row in the table.
struct Row<'a> {
    name: &'a str,
    /// Not selected: its last result is read, it does not run.
    stored: bool,
    doc: Option<&'a str>,
    call: String,
    is_async: bool,
    /// 1 for the first.
    stage: usize,
    /// Each parameter as declared, where its value comes from, by which rule.
    params: Vec<(String, String, &'static str)>,
    after: Vec<&'a str>,
}

/// Filters of `templates/graph.html`: every text from the manifest goes
/// through `x`.
// The lints are about the code `filter_fn` generates around the function.
#[allow(clippy::inline_always, clippy::unused_self, clippy::unnecessary_wraps)]
mod filters {
    use std::fmt::Display;

    /// Text made safe for HTML (see [`super::escape`]).
    #[askama::filter_fn]
    pub fn x(text: impl Display, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::escape(&text.to_string()))
    }
}

/// The page; `stored` operations (a selection's inputs read from their last
/// result) drawn dashed in the picture and marked in the table.
pub fn html(graph: &FlowGraph, flow: &Flow, stored: &[usize]) -> String {
    let column = super::columns(graph, flow);
    let mut figure = String::new();
    draw(graph, flow, stored, false, &mut figure);
    let rows = flow
        .operations
        .iter()
        .map(|&i| {
            let op = &graph.manifest.operations[i];
            Row {
                name: &op.name,
                stored: stored.contains(&i),
                doc: op.doc.as_deref(),
                call: format!("{}:{}", op.call.module, op.call.qualname),
                is_async: op.is_async,
                stage: column[&i] + 1,
                params: op
                    .params
                    .iter()
                    .map(|param| {
                        (
                            declared(&param.name, param.ty.as_ref(), param.default.as_ref()),
                            param.binding.source(&graph.manifest),
                            param.rule.as_str(),
                        )
                    })
                    .collect(),
                // A selection's part leaves out what its operations only wait for.
                after: op
                    .after
                    .iter()
                    .filter(|up| column.contains_key(up))
                    .map(|&up| graph.manifest.operations[up].name.as_str())
                    .collect(),
            }
        })
        .collect();
    let page = Page {
        name: &flow.name,
        description: flow.settings.description.as_deref(),
        operations: flow.operations.len(),
        stages: flow.stages.len(),
        params: flow
            .params
            .iter()
            .map(|param| declared(&param.name, param.ty.as_ref(), param.default.as_ref()))
            .collect(),
        sans: SANS,
        mono: MONO,
        figure,
        rows,
    };
    // The template is compiled in; it only fails on a formatter error.
    let mut text = page.render().unwrap_or_default();
    // askama drops the template's last newline.
    text.push('\n');
    text
}
