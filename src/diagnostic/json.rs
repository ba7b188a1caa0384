//! `--format json`: an array of objects on stdout, for tools.

use std::io::Write;

use miette::{Diagnostic as _, LabeledSpan};
use serde::Serialize;

use super::{Context, Diagnostic};

/// A diagnostic as JSON (`opflow check --format json`).
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic {
    pub code: String,
    pub severity: &'static str,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub span: Option<JsonSpan>,
    pub help: Option<String>,
    pub labels: Vec<JsonLabel>,
}

#[derive(Debug, Serialize)]
pub struct JsonSpan {
    pub offset: usize,
    pub length: usize,
}

#[derive(Debug, Serialize)]
pub struct JsonLabel {
    pub message: Option<String>,
    pub line: usize,
    pub column: usize,
    pub span: JsonSpan,
}

impl Context<'_> {
    /// The diagnostic as plain data: what every printer but the human one reads.
    pub fn to_json(&self, diagnostic: &Diagnostic) -> JsonDiagnostic {
        let labels: Vec<LabeledSpan> = diagnostic
            .labels()
            .map(Iterator::collect)
            .unwrap_or_default();
        let first = labels.first();
        let position = first.map(|label| self.line_col(label.offset()));
        JsonDiagnostic {
            code: diagnostic.code_str(),
            severity: diagnostic.severity_name(),
            message: diagnostic.to_string(),
            file: (!self.display_path.is_empty()).then(|| self.display_path.clone()),
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
            span: first.map(|label| JsonSpan {
                offset: label.offset(),
                length: label.len(),
            }),
            help: diagnostic.help().map(|help| help.to_string()),
            labels: labels
                .iter()
                .map(|label| {
                    let (line, column) = self.line_col(label.offset());
                    JsonLabel {
                        message: label.label().map(str::to_owned),
                        line,
                        column,
                        span: JsonSpan {
                            offset: label.offset(),
                            length: label.len(),
                        },
                    }
                })
                .collect(),
        }
    }
}

pub(super) fn print(
    context: &Context<'_>,
    diagnostics: &[Diagnostic],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let json: Vec<JsonDiagnostic> = diagnostics.iter().map(|d| context.to_json(d)).collect();
    serde_json::to_writer_pretty(&mut *out, &json)?;
    writeln!(out)
}
