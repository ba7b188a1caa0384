//! The pictures: the same bytes for the same graph, every operation named,
//! hostile text escaped, and layouts (the examples' and generated ones) in
//! which clusters nest strictly and nothing overlaps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;

use super::layout::{Edge, FONT_CLUSTER, Layout, MARGIN, Rect, layout, text_width};
use super::svg::escape;
use super::{html, svg};
use crate::graph::{Flow, FlowGraph};
use crate::hierarchy;
use crate::manifest::{Format, Source};

const EXAMPLE: &str = include_str!("../../examples/scraping/operations.toml");

fn compile(text: &str) -> FlowGraph {
    match crate::compile_source(
        Source {
            path: "operations.toml".into(),
            text: text.to_owned(),
        },
        Format::Toml,
    ) {
        Ok(compiled) => compiled.graph,
        Err(failure) => panic!("{:?}", failure.diagnostics),
    }
}

fn flow<'g>(graph: &'g FlowGraph, name: &str) -> &'g Flow {
    graph.flows.iter().find(|f| f.name == name).unwrap()
}

/// A manifest with a deeper hierarchy, several stages, data and ordering
/// edges, flat names, and long labels.
fn wide() -> String {
    let mut text = String::from(
        "version = 1\n[project]\nname = \"wide\"\n\
         [flows.a]\ndescription = \"A & <b> \\\"quoted\\\" 'flow'\"\n",
    );
    let ops: &[(&str, &str)] = &[
        ("a.x.y.load", "params = { n = \"int\" }\nreturns = \"int\""),
        (
            "a.x.y.clean",
            "params = { load = \"int\" }\nreturns = \"int\"",
        ),
        ("a.x.z.load", "params = { n = \"int\" }\nreturns = \"int\""),
        (
            "a.x.join",
            "params = { first = { type = \"int\", from = \"a.x.y.clean\" }, second = { type = \"int\", from = \"a.x.z.load\" } }\nreturns = \"int\"",
        ),
        (
            "a.report",
            "params = { a_very_long_parameter_name = { type = \"int\", from = \"a.x.join\" }, other = { type = \"int\", from = \"a.x.y.load\" } }\ndepends_on = [\"a.x.z.load\", \"a.x.join\", \"a.x.y.load\"]",
        ),
        (
            "a.w.v.u.t.deep",
            "params = { report = { type = \"None\", from = \"a.report\" } }",
        ),
        ("b.q.solo", ""),
        ("flat", "depends_on = [\"b.q.solo\"]"),
        ("a.x", "depends_on = [\"a.x.join\"]"),
    ];
    for (name, body) in ops {
        let _ = write!(
            text,
            "\n[[operations]]\nname = \"{name}\"\ncall = \"pkg.mod:{}\"\n{body}\n",
            name.replace('.', "_")
        );
    }
    text
}

fn inside(inner: Rect, outer: Rect) -> bool {
    inner.x > outer.x
        && inner.y > outer.y
        && inner.right() < outer.right()
        && inner.bottom() < outer.bottom()
}

fn disjoint(a: Rect, b: Rect) -> bool {
    a.right() <= b.x || b.right() <= a.x || a.bottom() <= b.y || b.bottom() <= a.y
}

#[test]
fn the_same_graph_gives_the_same_bytes() {
    let one = compile(EXAMPLE);
    let two = compile(EXAMPLE);
    for name in ["scraping", "all"] {
        assert_eq!(
            svg(&one, flow(&one, name), &[]),
            svg(&two, flow(&two, name), &[])
        );
        assert_eq!(
            html(&one, flow(&one, name), &[]),
            html(&two, flow(&two, name), &[])
        );
    }
    let (one, two) = (compile(&wide()), compile(&wide()));
    assert_eq!(
        svg(&one, flow(&one, "all"), &[]),
        svg(&two, flow(&two, "all"), &[])
    );
}

#[test]
fn every_operation_is_named_in_the_svg_and_the_page() {
    for text in [EXAMPLE.to_owned(), wide()] {
        let graph = compile(&text);
        for flow in &graph.flows {
            let (svg, html) = (svg(&graph, flow, &[]), html(&graph, flow, &[]));
            well_formed(&svg).unwrap();
            for &op in &flow.operations {
                let op = &graph.manifest.operations[op];
                assert!(
                    svg.contains(&format!("<title>{}\n", op.name)),
                    "{}",
                    op.name
                );
                assert!(html.contains(&format!("<code>{}</code>", op.name)));
                assert!(svg.contains(&format!(">{}</text>", hierarchy::step(&op.name))));
            }
        }
    }
}

#[test]
fn the_example_has_its_clusters_and_labelled_edges() {
    let graph = compile(EXAMPLE);
    let svg = svg(&graph, flow(&graph, "scraping"), &[]);
    assert!(svg.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "));
    assert!(svg.contains(" viewBox=\"0 0 "));
    for cluster in ["scraping", "scraping.linkedin", "scraping.stepstone"] {
        assert!(svg.contains(&format!("<g class=\"of-cluster\"><title>{cluster}</title>")));
    }
    assert!(svg.contains(">linkedin</text></g>\n"));
    assert!(svg.contains(">stepstone</text></g>\n"));
    assert_eq!(svg.matches("marker-end=\"url(#of-arrow)\"").count(), 2);
    assert!(svg.contains("stage 2"));
    assert!(!svg.contains("stage 3"));
}

#[test]
fn hostile_text_is_escaped() {
    let hostile = "</svg><script>alert(\\\"x\\\")</script> & 'q' \\u0001 ]]> <!-- -->";
    let text = EXAMPLE.replace(
        "description = \"Collect job listings from StepStone and LinkedIn and merge them\"",
        &format!("description = \"{hostile}\""),
    );
    let text = text.replace(
        "doc = \"Drop duplicate listings and sort them by company and title.\"",
        "doc = \"<b onclick=\\\"x()\\\">&amp;</b>\"",
    );
    let graph = compile(&text);
    let flow = flow(&graph, "scraping");
    assert!(
        flow.settings
            .description
            .as_deref()
            .unwrap()
            .contains("<script>")
    );
    let (svg, html) = (svg(&graph, flow, &[]), html(&graph, flow, &[]));
    for out in [&svg, &html] {
        assert!(!out.contains("<script"), "{out}");
        assert!(!out.contains("</svg><"));
        assert!(!out.contains("<b "));
        assert!(!out.contains("<!--"));
        assert!(!out.contains('\u{1}'));
        assert!(out.contains("&lt;/svg&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39; \u{fffd} ]]&gt;"));
        assert!(out.contains("&lt;b onclick=&quot;x()&quot;&gt;&amp;amp;&lt;/b&gt;"));
    }
    well_formed(&svg).unwrap();
    assert_eq!(
        escape("a\u{7f}\u{85}\u{ffff}\tb"),
        "a\u{fffd}\u{fffd}\u{fffd}\tb"
    );
}

#[test]
fn long_descriptions_are_cut_in_the_picture_only() {
    let long = "word ".repeat(400);
    let text = EXAMPLE.replace(
        "Collect job listings from StepStone and LinkedIn and merge them",
        long.trim(),
    );
    let graph = compile(&text);
    let flow = flow(&graph, "scraping");
    let svg = svg(&graph, flow, &[]);
    assert!(svg.contains("…</text>"));
    let width: i64 = svg
        .split("width=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(width < 1000, "{width}");
    assert!(html(&graph, flow, &[]).contains(long.trim()));
}

#[test]
fn clusters_nest_strictly_and_nothing_overlaps() {
    for text in [EXAMPLE.to_owned(), wide()] {
        let graph = compile(&text);
        for flow in &graph.flows {
            let layout = layout(&graph, flow, &[], MARGIN);
            check_layout(&graph, flow, &layout);
        }
    }
}

/// Pseudo-random manifests: names up to five segments deep over a small
/// alphabet (so prefixes are shared), data and ordering edges to earlier
/// operations.
#[test]
fn generated_graphs_nest_strictly_and_nothing_overlaps() {
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(seed >> 33).unwrap() % n
    };
    for round in 0..6 {
        let count = 10 + 15 * round;
        let names: Vec<String> = (0..count)
            .map(|i| {
                let depth = next(5);
                let mut name: Vec<String> = (0..depth)
                    .map(|_| ["a", "bb", "c"][next(3)].to_owned())
                    .collect();
                name.push(format!("op{i}"));
                name.join(".")
            })
            .collect();
        let mut text = String::from("version = 1\n[project]\nname = \"gen\"\n");
        for (i, name) in names.iter().enumerate() {
            let _ = write!(
                text,
                "\n[[operations]]\nname = \"{name}\"\ncall = \"pkg.m:f{i}\"\nreturns = \"int\"\nparams = {{ "
            );
            let mut after = Vec::new();
            for k in 0..if i == 0 { 0 } else { next(5) } {
                let up = &names[next(i)];
                if k == 3 {
                    after.push(format!("\"{up}\""));
                } else {
                    let _ = write!(
                        text,
                        "{}p{k} = {{ type = \"int\", from = \"{up}\" }}",
                        if k > 0 { ", " } else { "" }
                    );
                }
            }
            text.push_str(" }\n");
            if !after.is_empty() {
                let _ = writeln!(text, "depends_on = [{}]", after.join(", "));
            }
        }
        let graph = compile(&text);
        for flow in &graph.flows {
            let layout = layout(&graph, flow, &[], MARGIN);
            check_layout(&graph, flow, &layout);
            if flow.name == "all" {
                assert!(layout.clusters.len() > 3 && layout.edges.len() > count / 2);
                assert!(layout.edges.iter().any(|e| e.ordering) || round == 0);
            }
            well_formed(&svg(&graph, flow, &[])).unwrap();
        }
    }
}

fn check_layout(graph: &FlowGraph, flow: &Flow, layout: &Layout) {
    let ops = &graph.manifest.operations;
    assert_eq!(layout.nodes.len(), flow.operations.len());
    let canvas = Rect {
        x: 0,
        y: 0,
        w: layout.width,
        h: layout.height,
    };
    // Nodes: one per row, in their stage's column, apart from each other.
    for (i, a) in layout.nodes.iter().enumerate() {
        assert!(inside(a.rect, canvas));
        let (left, right) = layout.columns[a.column];
        assert_eq!((a.rect.x, a.rect.right()), (left, right));
        for b in &layout.nodes[i + 1..] {
            assert!(a.rect.bottom() < b.rect.y, "rows are unique and ordered");
        }
    }
    let clusters = &layout.clusters;
    {
        for (i, a) in clusters.iter().enumerate() {
            assert!(inside(a.rect, canvas));
            assert!(!a.rows.is_empty());
            // Its band holds exactly the operations under its prefix.
            let prefix = format!("{}.", a.path);
            for (r, node) in layout.nodes.iter().enumerate() {
                let member = ops[node.op].name.starts_with(&prefix);
                assert_eq!(
                    member,
                    a.rows.contains(&r),
                    "{} / {}",
                    a.path,
                    ops[node.op].name
                );
                if member {
                    assert!(
                        inside(node.rect, a.rect),
                        "{} in {}",
                        ops[node.op].name,
                        a.path
                    );
                } else {
                    assert!(
                        disjoint(node.rect, a.rect),
                        "{} and {}",
                        ops[node.op].name,
                        a.path
                    );
                }
            }
            // The label fits the cluster's part of its first column.
            let first = layout.nodes[a.rows.clone()]
                .iter()
                .map(|n| n.column)
                .min()
                .unwrap();
            let (left, right) = layout.columns[first];
            let label_end = a.rect.x + 10 + text_width(&a.label, FONT_CLUSTER);
            assert!(label_end + 10 <= right + (left - a.rect.x), "{}", a.path);
            for b in &clusters[i + 1..] {
                if b.path.starts_with(&prefix) {
                    assert!(inside(b.rect, a.rect), "{} in {}", b.path, a.path);
                } else {
                    assert!(!a.path.starts_with(&format!("{}.", b.path)));
                    assert!(disjoint(a.rect, b.rect), "{} and {}", a.path, b.path);
                }
            }
        }
    }
    // Labels: apart from each other, from nodes and from cluster labels.
    let labels: Vec<Rect> = layout.edges.iter().filter_map(|e| e.label_box).collect();
    for (i, a) in labels.iter().enumerate() {
        assert!(inside(*a, canvas));
        for b in &labels[i + 1..] {
            assert!(disjoint(*a, *b), "{a:?} {b:?}");
        }
        for node in &layout.nodes {
            assert!(disjoint(*a, node.rect));
        }
    }
    // Edges run forwards, and bend between the columns; two that turn in
    // the same gap over overlapping heights turn in different lanes.
    let extent = |e: &Edge| (e.from.1.min(e.to.1), e.from.1.max(e.to.1));
    for (i, a) in layout.edges.iter().enumerate() {
        for b in &layout.edges[i + 1..] {
            let ((a0, a1), (b0, b1)) = (extent(a), extent(b));
            if a.column == b.column && a0 <= b1 && b0 <= a1 {
                assert_ne!(a.bend, b.bend, "{a:?} {b:?}");
            }
        }
    }
    for edge in &layout.edges {
        assert!(edge.from.0 < edge.bend.0 && edge.bend.0 < edge.bend.1 && edge.bend.1 < edge.to.0);
        assert_eq!(edge.ordering, edge.label.is_empty());
    }
}

/// A small well-formedness check of the SVG: tags balance, attributes are
/// quoted, and every `&` starts one of the entities `escape` writes.
fn well_formed(svg: &str) -> Result<(), String> {
    let body = svg
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .unwrap_or(svg);
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open])?;
        let close = rest[open..].find('>').ok_or("unclosed tag")? + open;
        let tag = &rest[open + 1..close];
        if let Some(name) = tag.strip_prefix('/') {
            if stack.pop() != Some(name) {
                return Err(format!("</{name}> closes nothing"));
            }
        } else {
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, mut attributes) = tag.split_once(' ').unwrap_or((tag, ""));
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(format!("bad tag <{tag}>"));
            }
            while !attributes.trim().is_empty() {
                let (key, value) = attributes
                    .trim_start()
                    .split_once("=\"")
                    .ok_or(format!("bad attributes in <{tag}>"))?;
                if !key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':')
                {
                    return Err(format!("bad attribute {key}"));
                }
                let (value, after) = value.split_once('"').ok_or("unquoted")?;
                check_text(value)?;
                attributes = after;
            }
            if !self_closing {
                stack.push(name);
            }
        }
        rest = &rest[close + 1..];
    }
    check_text(rest)?;
    if stack.is_empty() && body.starts_with("<svg ") {
        Ok(())
    } else {
        Err(format!("unclosed: {stack:?}"))
    }
}

fn check_text(text: &str) -> Result<(), String> {
    if text.contains('<') || text.contains('>') {
        return Err(format!("markup in text: {text:?}"));
    }
    for (i, _) in text.match_indices('&') {
        let entity = &text[i..];
        if !["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
            .iter()
            .any(|e| entity.starts_with(e))
        {
            return Err(format!("bare & in {text:?}"));
        }
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(format!("control character in {text:?}"));
    }
    Ok(())
}
