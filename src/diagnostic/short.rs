//! `--format short`: one line each on stderr,
//! `file:line:col: error[code]: message` (or `warning[code]`).

use std::io::Write;

use super::{Context, Diagnostic};

pub(super) fn print(
    context: &Context<'_>,
    diagnostics: &[Diagnostic],
    err: &mut dyn Write,
) -> std::io::Result<()> {
    let path = &context.display_path;
    for diagnostic in diagnostics {
        let json = context.to_json(diagnostic);
        let (severity, code, message) = (json.severity, &json.code, &json.message);
        match (json.line, json.column) {
            (Some(line), Some(column)) => {
                writeln!(err, "{path}:{line}:{column}: {severity}[{code}]: {message}")?;
            }
            _ if !path.is_empty() => writeln!(err, "{path}: {severity}[{code}]: {message}")?,
            _ => writeln!(err, "{severity}[{code}]: {message}")?,
        }
    }
    Ok(())
}
