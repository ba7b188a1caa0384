//! The human style: miette's graphical report, the source with labelled
//! spans, then one line counting errors and warnings apart.

use std::io::Write;
use std::sync::Arc;

use miette::{
    GraphicalReportHandler, GraphicalTheme, MietteError, MietteSpanContents, SourceCode,
    SourceSpan, SpanContents,
};

use super::{Context, Diagnostic, counts};

pub(super) fn print(
    context: &Context<'_>,
    diagnostics: &[Diagnostic],
    color: bool,
    err: &mut dyn Write,
) -> std::io::Result<()> {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1);
    let source = context.source.map(|source| IndexedSource {
        name: context.display_path.clone(),
        text: Arc::from(source.text.as_str()),
        line_starts: Arc::clone(&context.line_starts),
    });
    for diagnostic in diagnostics {
        let mut rendered = String::new();
        let report = match (&source, diagnostic.offset()) {
            (Some(source), Some(_)) => {
                miette::Report::new(diagnostic.clone()).with_source_code(source.clone())
            }
            _ => miette::Report::new(diagnostic.clone()),
        };
        if handler
            .render_report(&mut rendered, report.as_ref())
            .is_err()
        {
            rendered = format!("{}: {diagnostic}\n", diagnostic.severity_name());
        }
        write!(err, "{rendered}")?;
    }
    if let Some(line) = summary(diagnostics) {
        writeln!(err, "{line}")?;
    }
    Ok(())
}

/// `error: 2 problems found`, `warning: 1 warning`, or both counted apart:
/// `error: 1 problem found (and 2 warnings)`.
pub(super) fn summary(diagnostics: &[Diagnostic]) -> Option<String> {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    match counts(diagnostics) {
        (0, 0) => None,
        (0, warnings) => Some(format!("warning: {warnings} warning{}", plural(warnings))),
        (errors, 0) => Some(format!("error: {errors} problem{} found", plural(errors))),
        (errors, warnings) => Some(format!(
            "error: {errors} problem{} found (and {warnings} warning{})",
            plural(errors),
            plural(warnings)
        )),
    }
}

/// The manifest's text for miette, which reads only the lines around a span
/// (miette's own `str` source scans from the start of the file every time).
#[derive(Clone)]
struct IndexedSource {
    name: String,
    text: Arc<str>,
    line_starts: Arc<Vec<usize>>,
}

impl SourceCode for IndexedSource {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let bytes = self.text.as_bytes();
        let line_of = |offset: usize| {
            self.line_starts
                .partition_point(|&start| start <= offset)
                .max(1)
                - 1
        };
        let first = line_of(span.offset()).saturating_sub(context_lines_before);
        let last = line_of(span.offset() + span.len().saturating_sub(1)) + context_lines_after + 1;
        let start = self.line_starts[first];
        let end = self
            .line_starts
            .get(last + 1)
            .copied()
            .unwrap_or(bytes.len())
            .max(start);
        let window = &bytes[start..end.min(bytes.len())];
        let local = SourceSpan::new(span.offset().saturating_sub(start).into(), span.len());
        let contents = window.read_span(&local, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            contents.data(),
            SourceSpan::new(
                (contents.span().offset() + start).into(),
                contents.span().len(),
            ),
            contents.line() + first,
            contents.column(),
            contents.line_count(),
        )))
    }
}
