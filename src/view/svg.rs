//! `opflow graph --format svg`: the flow drawn in-process, without Graphviz,
//! where [`layout`](super::layout) placed it.

use std::fmt::Write as _;

use super::layout::{
    FONT_DESCRIPTION, FONT_LABEL, FONT_NODE, FONT_TITLE, MARGIN, Rect, char_width, layout,
    text_width,
};
use crate::graph::{Flow, FlowGraph};

pub(super) const SANS: &str = "system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,\"Liberation Sans\",sans-serif";
pub(super) const MONO: &str = "ui-monospace,\"SFMono-Regular\",Menlo,Consolas,\"DejaVu Sans Mono\",\"Liberation Mono\",monospace";

/// Cluster fills and borders by depth (1 = outermost; deeper ones as the last).
const CLUSTER_COLORS: [(&str, &str); 4] = [
    ("#f3f6fc", "#c3cfe6"),
    ("#e8eef9", "#b2c2e0"),
    ("#dee7f6", "#a3b6d9"),
    ("#d4dff3", "#94aad3"),
];

const SVG_STYLE: &str = "\
.of-graph{font-family:FONT_SANS}\
.of-bg{fill:#ffffff}\
.of-title{font-size:18px;font-weight:600;fill:#111827}\
.of-description{font-size:13px;fill:#4b5563}\
.of-stage{font-size:11px;fill:#6b7280;text-anchor:middle;letter-spacing:0.05em}\
.of-cluster rect{stroke-width:1}\
.of-cluster text{font-size:12px;font-weight:600;fill:#3b4a6b}\
.of-node rect{fill:#ffffff;stroke:#4f6fa8;stroke-width:1.5}\
.of-node text{font-size:14px;fill:#111827;text-anchor:middle}\
.of-edge path{fill:none;stroke:#64748b;stroke-width:1.5}\
.of-after path{fill:none;stroke:#94a3b8;stroke-width:1.5;stroke-dasharray:5,4}\
.of-label rect{fill:#ffffff;fill-opacity:0.9}\
.of-label text{font-family:FONT_MONO;font-size:11px;fill:#475569;text-anchor:middle}\
";

/// How stored operations are drawn: only in a selection's picture, so that
/// a whole flow's picture stays as it was.
const STORED_STYLE: &str = "\
.of-stored rect{fill:#f8fafc;stroke-dasharray:5,4}\
.of-node text.of-tag{font-size:9px;fill:#64748b;text-anchor:end}\
";

/// The flow as a standalone SVG document: a heading (the flow's name and
/// description), then the graph; `stored` operations (a selection's inputs
/// read from their last result) dashed and labelled.
pub fn svg(graph: &FlowGraph, flow: &Flow, stored: &[usize]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    draw(graph, flow, stored, true, &mut out);
    out
}

/// Draw the flow as an `<svg>` element (with a visible heading when `heading`).
pub(super) fn draw(
    graph: &FlowGraph,
    flow: &Flow,
    stored: &[usize],
    heading: bool,
    out: &mut String,
) {
    let ops = &graph.manifest.operations;
    let description = flow.settings.description.as_deref().unwrap_or("");
    let mut layout = layout(graph, flow, stored, MARGIN);
    let mut width = layout.width;
    let mut lines = Vec::new();
    if heading {
        width = width.max(2 * MARGIN + text_width(&flow.name, FONT_TITLE));
        lines = wrap(
            description,
            (width - 2 * MARGIN).max(440),
            FONT_DESCRIPTION,
            3,
        );
        for line in &lines {
            width = width.max(2 * MARGIN + text_width(line, FONT_DESCRIPTION));
        }
        layout.shift(FONT_TITLE + 16 + 18 * i64::try_from(lines.len()).unwrap_or(0));
    }
    let height = layout.height;

    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" class=\"of-graph\" \
         width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"
    );
    let _ = writeln!(out, "<title>flow {}</title>", escape(&flow.name));
    if !description.is_empty() {
        let _ = writeln!(out, "<desc>{}</desc>", escape(description));
    }
    let _ = writeln!(
        out,
        "<defs>\n<style type=\"text/css\">{}</style>\n\
         <marker id=\"of-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" \
         markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#64748b\"/></marker>\n\
         <marker id=\"of-arrow-after\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" \
         markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#94a3b8\"/></marker>\n\
         </defs>",
        SVG_STYLE
            .replace("FONT_SANS", SANS)
            .replace("FONT_MONO", MONO)
            + if stored.is_empty() { "" } else { STORED_STYLE }
    );
    let _ = writeln!(
        out,
        "<rect class=\"of-bg\" x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\"/>"
    );
    if heading {
        let _ = writeln!(
            out,
            "<text class=\"of-title\" x=\"{MARGIN}\" y=\"{}\">{}</text>",
            MARGIN + FONT_TITLE,
            escape(&flow.name)
        );
        for (i, line) in (0..).zip(&lines) {
            let _ = writeln!(
                out,
                "<text class=\"of-description\" x=\"{MARGIN}\" y=\"{}\">{}</text>",
                MARGIN + FONT_TITLE + 22 + 18 * i,
                escape(line)
            );
        }
    }
    for (c, (left, right)) in layout.columns.iter().enumerate() {
        let _ = writeln!(
            out,
            "<text class=\"of-stage\" x=\"{}\" y=\"{}\">stage {}</text>",
            i64::midpoint(*left, *right),
            layout.stage_y,
            c + 1
        );
    }
    for cluster in &layout.clusters {
        let (fill, stroke) = CLUSTER_COLORS[(cluster.depth - 1).min(CLUSTER_COLORS.len() - 1)];
        let Rect { x, y, w, h } = cluster.rect;
        let _ = writeln!(
            out,
            "<g class=\"of-cluster\"><title>{}</title>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\"/>\
             <text x=\"{}\" y=\"{}\">{}</text></g>",
            escape(&cluster.path),
            x + 10,
            y + 17,
            escape(&cluster.label)
        );
    }
    for edge in &layout.edges {
        let ((x0, y0), (x1, y1), (b0, b1)) = (edge.from, edge.to, edge.bend);
        let middle = i64::midpoint(b0, b1);
        let (class, marker) = if edge.ordering {
            ("of-after", "of-arrow-after")
        } else {
            ("of-edge", "of-arrow")
        };
        let mut title = format!("{} → {}", ops[edge.up].name, ops[edge.down].name);
        if edge.ordering {
            title.push_str(" (order only)");
        } else {
            let _ = write!(title, ": {}", edge.label);
        }
        let _ = writeln!(
            out,
            "<g class=\"{class}\"><title>{}</title><path d=\"M{x0},{y0} H{b0} C{middle},{y0} {middle},{y1} {b1},{y1} H{x1}\" \
             marker-end=\"url(#{marker})\"/></g>",
            escape(&title)
        );
    }
    for node in &layout.nodes {
        let op = &ops[node.op];
        let Rect { x, y, w, h } = node.rect;
        let mut title = format!("{}\n{}:{}", op.name, op.call.module, op.call.qualname);
        if let Some(doc) = &op.doc {
            let _ = write!(title, "\n{doc}");
        }
        let (class, tag) = if stored.contains(&node.op) {
            title.push_str("\nstored: not selected, its last result is read");
            (
                "of-node of-stored",
                format!(
                    "<text class=\"of-tag\" x=\"{}\" y=\"{}\">stored</text>",
                    x + w - 5,
                    y + 10
                ),
            )
        } else {
            ("of-node", String::new())
        };
        let _ = writeln!(
            out,
            "<g class=\"{class}\"><title>{}</title>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"8\"/>\
             <text x=\"{}\" y=\"{}\">{}</text>{tag}</g>",
            escape(&title),
            x + w / 2,
            y + h / 2 + FONT_NODE * 7 / 20,
            escape(&super::label(op))
        );
    }
    for edge in &layout.edges {
        if let Some(Rect { x, y, w, h }) = edge.label_box {
            let _ = writeln!(
                out,
                "<g class=\"of-label\"><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"3\"/>\
                 <text x=\"{}\" y=\"{}\">{}</text></g>",
                x + w / 2,
                y + h / 2 + FONT_LABEL * 7 / 20,
                escape(&edge.label)
            );
        }
    }
    out.push_str("</svg>\n");
}

/// `text` in at most `lines` lines of at most `width` pixels, broken at
/// spaces (a word too long for a line is cut), the last line ending with an
/// ellipsis when the text does not fit.
fn wrap(text: &str, width: i64, size: i64, lines: usize) -> Vec<String> {
    let budget = width * 1000 / size;
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    let mut cut = false;
    'words: for word in text.split_whitespace() {
        let word_width: i64 = word.chars().map(char_width).sum();
        let space = if line.is_empty() { 0 } else { char_width(' ') };
        if used + space + word_width <= budget {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            used += space + word_width;
            continue;
        }
        if !line.is_empty() {
            out.push(std::mem::take(&mut line));
            used = 0;
        }
        for c in word.chars() {
            if out.len() == lines {
                cut = true;
                break 'words;
            }
            if used + char_width(c) > budget {
                out.push(std::mem::take(&mut line));
                used = 0;
                if out.len() == lines {
                    cut = true;
                    break 'words;
                }
            }
            line.push(c);
            used += char_width(c);
        }
    }
    if !line.is_empty() {
        if out.len() == lines {
            cut = true;
        } else {
            out.push(line);
        }
    }
    if cut && let Some(last) = out.last_mut() {
        let room = budget - char_width('…');
        while last.chars().map(char_width).sum::<i64>() > room {
            last.pop();
        }
        let kept = last.trim_end().len();
        last.truncate(kept);
        last.push('…');
    }
    out
}

/// Text made safe for XML and HTML, as content or a quoted attribute value.
/// Characters XML 1.0 does not allow (control characters but tab, newline
/// and carriage return) become U+FFFD.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
