//! What the fuzz targets run on one input. `tests/fuzz_corpus.rs` (in the main
//! crate) includes this file too, so the corpus and the regressions are
//! replayed through exactly the same logic by `cargo test`.
//!
//! An input is one byte choosing the format (its value modulo 3: 0 TOML,
//! 1 YAML, 2 JSON) followed by the manifest's text, read as lossy UTF-8.

use std::path::PathBuf;

use opflow::diagnostic::{Context, Style};
use opflow::manifest::{Format, Source};

/// The format and the source an input stands for.
pub fn source(data: &[u8]) -> (Format, Source) {
    let (format, name) = match data.first().map_or(0, |byte| byte % 3) {
        0 => (Format::Toml, "operations.toml"),
        1 => (Format::Yaml, "operations.yaml"),
        _ => (Format::Json, "operations.json"),
    };
    let text = String::from_utf8_lossy(data.get(1..).unwrap_or_default()).into_owned();
    let source = Source {
        path: PathBuf::from(name),
        text,
    };
    (format, source)
}

/// How many diagnostics of a failed compile are drawn in the human style.
const HUMAN: usize = 4;

/// Stage 1 only: parse the text into the spanned document tree.
pub fn load(data: &[u8]) {
    let (format, source) = source(data);
    let _ = opflow::manifest::parse(source, format);
}

/// The whole pipeline to in-memory files: compile, then render the package
/// when it compiles, or print the diagnostics (JSON, and the first few in the
/// human style, as `opflow check` does) when it does not.
pub fn pipeline(data: &[u8]) {
    let (format, source) = source(data);
    let name = source.path.display().to_string();
    match opflow::compile_source(source, format) {
        Ok(compiled) => {
            let _ = opflow::render::render(&compiled.graph, &name);
        }
        Err(failure) => {
            let context = Context::new(failure.source.as_ref(), name);
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let diagnostics = &failure.diagnostics;
            let _ = context.print(diagnostics, Style::Json, false, &mut out, &mut err);
            // Drawing the source with miette is most of a run's time, so only
            // the first few (sorted by position) are drawn.
            let first = &diagnostics[..diagnostics.len().min(HUMAN)];
            let _ = context.print(first, Style::Human, true, &mut out, &mut err);
        }
    }
}
