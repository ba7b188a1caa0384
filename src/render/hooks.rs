//! Prefect state hooks (`on_failure = ["module:function"]`), as a keyword
//! argument of `@flow(...)` or `task(...)`: `on_failure=[hook("module:function")]`.
//! `hook` (`_runtime.py`) imports the function when the module is imported,
//! so no name of the user's enters the generated module.

use std::fmt::Write as _;

use super::layout::LINE;
use super::python;
use crate::resolve::Hooks;

/// Each hook's argument, laid out as ruff leaves it on a line indented by 4
/// (as the arguments of `@flow(...)` are, and those of `task(...)` when they
/// are one a line: an argument of several lines puts them so).
pub(super) fn arguments(hooks: &Hooks, hook: &str) -> Vec<String> {
    hooks
        .iter()
        .map(|(key, references)| argument(key, references, hook))
        .collect()
}

fn argument(key: &str, references: &[String], hook: &str) -> String {
    let items: Vec<(String, String)> = references
        .iter()
        .map(|r| {
            let text = python::string(r);
            (format!("{hook}({text})"), text)
        })
        .collect();
    let inline = format!(
        "{key}=[{}]",
        items
            .iter()
            .map(|(item, _)| item.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    // The argument and its trailing comma.
    if 4 + inline.chars().count() < LINE {
        return inline;
    }
    let mut out = format!("{key}=[\n");
    for (item, text) in &items {
        // The item and its trailing comma, one indent in.
        if 8 + item.chars().count() < LINE {
            let _ = writeln!(out, "        {item},");
        } else {
            let _ = writeln!(out, "        {hook}(\n            {text}\n        ),");
        }
    }
    out.push_str("    ]");
    out
}

#[cfg(test)]
mod tests {
    use super::argument;

    #[test]
    fn a_short_list_stays_on_its_line() {
        let refs = vec!["jobs.hooks:notify".to_owned()];
        assert_eq!(
            argument("on_failure", &refs, "hook"),
            "on_failure=[hook(\"jobs.hooks:notify\")]"
        );
    }

    #[test]
    fn a_long_list_is_one_hook_a_line() {
        let refs = vec![
            "jobs.hooks.with_a_rather_long_module_path:notify_everyone".to_owned(),
            "jobs.hooks:page".to_owned(),
        ];
        assert_eq!(
            argument("on_completion", &refs, "hook"),
            "on_completion=[\n        hook(\"jobs.hooks.with_a_rather_long_module_path:notify_everyone\"),\n        hook(\"jobs.hooks:page\"),\n    ]"
        );
    }
}
