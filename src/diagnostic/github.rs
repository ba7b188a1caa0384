//! `--format github`: GitHub Actions workflow commands on stdout
//! (`::error file=…,line=…,col=…,title=code::message`, `::warning` for warnings).

use std::io::Write;

use super::{Context, Diagnostic};

pub(super) fn print(
    context: &Context<'_>,
    diagnostics: &[Diagnostic],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    // Workflow-command values escape %, CR and LF (and , : in properties).
    let data = |text: &str| {
        text.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |text: &str| data(text).replace(':', "%3A").replace(',', "%2C");
    for diagnostic in diagnostics {
        let json = context.to_json(diagnostic);
        let mut props = Vec::new();
        if let Some(file) = &json.file {
            props.push(format!("file={}", property(file)));
        }
        if let (Some(line), Some(column)) = (json.line, json.column) {
            props.push(format!("line={line},col={column}"));
        }
        props.push(format!("title={}", property(&json.code)));
        let mut message = json.message.clone();
        if let Some(help) = &json.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        writeln!(
            out,
            "::{} {}::{}",
            json.severity,
            props.join(","),
            data(&message)
        )?;
    }
    Ok(())
}
