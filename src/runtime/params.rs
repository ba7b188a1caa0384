//! `--param NAME=VALUE`, checked against the flow's parameters before
//! Python starts: unknown names, missing required ones and values that do not
//! fit the type (int, float, bool, str; JSON for lists and tables) are errors
//! here, with the parameter's type in the message.

use crate::diagnostic::Diagnostic;
use crate::graph::Flow;
use crate::resolve::TypeExpr;
use crate::suggest::did_you_mean;

/// The arguments for the runner: (name, JSON text) for every parameter.
/// `required`: whether a parameter without a default must be given (not when
/// a run resumes: the last run's are taken).
pub fn convert(
    flow: &Flow,
    given: &[String],
    required: bool,
) -> Result<Vec<(String, String)>, Vec<Diagnostic>> {
    convert_over(flow, given, Vec::new(), required)
}

/// [`convert`] over `base`: values already chosen (a preset's, a file's),
/// which `--param` overrides and which count as given.
pub fn convert_over(
    flow: &Flow,
    given: &[String],
    base: Vec<(String, String)>,
    required: bool,
) -> Result<Vec<(String, String)>, Vec<Diagnostic>> {
    let mut out = base;
    let mut problems = Vec::new();
    let known: Vec<&str> = flow.params.iter().map(|p| p.name.as_str()).collect();
    for item in given {
        let Some((name, text)) = item.split_once('=') else {
            problems.push(Diagnostic::ParamWithoutValue {
                given: item.clone(),
            });
            continue;
        };
        let Some(param) = flow.params.iter().find(|p| p.name == name) else {
            let help = did_you_mean(name, known.iter().copied()).map_or_else(
                || {
                    if known.is_empty() {
                        format!("flow `{}` takes no parameters", flow.name)
                    } else {
                        format!("its parameters: {}", known.join(", "))
                    }
                },
                |close| format!("did you mean `{close}`?"),
            );
            problems.push(Diagnostic::UnknownParam {
                name: name.to_owned(),
                flow: flow.name.clone(),
                help,
            });
            continue;
        };
        let ty = param.ty.as_ref().map(TypeExpr::modern);
        match value(ty.as_ref(), text) {
            Ok(value) => {
                out.retain(|(n, _)| n != name);
                out.push((name.to_owned(), value));
            }
            Err((reason, help)) => problems.push(Diagnostic::BadParam {
                name: name.to_owned(),
                ty: ty.map_or_else(|| "Any".to_owned(), |t| t.to_string()),
                reason,
                help,
            }),
        }
    }
    for param in flow
        .params
        .iter()
        .filter(|p| required && p.default.is_none())
    {
        let named = |d: &Diagnostic| matches!(d, Diagnostic::ParamWithoutValue { given } if *given == param.name);
        if !out.iter().any(|(name, _)| *name == param.name)
            && !problems.iter().any(named)
            && !problems
                .iter()
                .any(|d| matches!(d, Diagnostic::BadParam { name, .. } if *name == param.name))
        {
            problems.push(Diagnostic::MissingParam {
                flow: flow.name.clone(),
                name: param.name.clone(),
                ty: param
                    .ty
                    .as_ref()
                    .map_or_else(|| "Any".to_owned(), |t| t.modern().to_string()),
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

type Problem = (String, String);

/// The runner's text for `text` as a value of type `ty`.
fn value(ty: Option<&TypeExpr>, text: &str) -> Result<String, Problem> {
    let Some(ty) = ty else {
        return Ok(text.to_owned());
    };
    match ty {
        TypeExpr::Union(members) => {
            let optional = members.contains(&TypeExpr::None);
            if optional && matches!(text, "" | "null" | "None" | "none") {
                return Ok("null".to_owned());
            }
            let others: Vec<&TypeExpr> = members.iter().filter(|m| **m != TypeExpr::None).collect();
            if others.iter().any(|m| is_name(m, "str")) {
                return Ok(json_string(text));
            }
            let mut last = None;
            for member in others {
                match value(Some(member), text) {
                    Ok(value) => return Ok(value),
                    Err(problem) => last = Some(problem),
                }
            }
            Err(last.unwrap_or_else(|| ("no type of the union fits".to_owned(), String::new())))
        }
        TypeExpr::Name { name, args } => match (name.as_str(), args) {
            ("str", None) => Ok(json_string(text)),
            ("int", None) => {
                let digits = text.trim().replace('_', "");
                let body = digits.strip_prefix(['-', '+']).unwrap_or(&digits);
                if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(digits.trim_start_matches('+').to_owned())
                } else {
                    Err((
                        "not an integer".to_owned(),
                        "write a whole number, e.g. `3`".to_owned(),
                    ))
                }
            }
            ("float", None) => match text.trim().to_ascii_lowercase().as_str() {
                "nan" => Ok("NaN".to_owned()),
                "inf" | "+inf" | "infinity" => Ok("Infinity".to_owned()),
                "-inf" | "-infinity" => Ok("-Infinity".to_owned()),
                trimmed => trimmed
                    .parse::<f64>()
                    .map(|f| {
                        serde_json::Number::from_f64(f)
                            .map_or_else(|| trimmed.to_owned(), |n| n.to_string())
                    })
                    .map_err(|_| {
                        (
                            "not a number".to_owned(),
                            "write a number, e.g. `0.5`".to_owned(),
                        )
                    }),
            },
            ("bool", None) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok("true".to_owned()),
                "false" | "0" | "no" | "off" => Ok("false".to_owned()),
                _ => Err((
                    "not a boolean".to_owned(),
                    "write `true` or `false`".to_owned(),
                )),
            },
            ("list" | "dict" | "set" | "tuple" | "frozenset", _) => {
                serde_json::from_str::<serde_json::Value>(text)
                    .map(|v| v.to_string())
                    .map_err(|e| {
                        (
                            format!("not JSON: {e}"),
                            "write it as JSON, e.g. `[1, 2]` or `{\"a\": 1}`".to_owned(),
                        )
                    })
            }
            _ => Ok(json_or_string(text)),
        },
        _ => Ok(json_or_string(text)),
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// JSON as written when it is JSON, else the text as a JSON string.
fn json_or_string(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .map_or_else(|_| json_string(text), |v| v.to_string())
}

fn is_name(ty: &TypeExpr, wanted: &str) -> bool {
    matches!(ty, TypeExpr::Name { name, args: None } if name == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::types::parse;

    fn conv(ty: &str, text: &str) -> Result<String, Problem> {
        value(Some(&parse(ty).unwrap().modern()), text)
    }

    #[test]
    fn a_param_without_value_is_an_error() {
        let flow = crate::graph::Flow {
            name: "f".into(),
            settings: crate::resolve::FlowSettings::default(),
            operations: Vec::new(),
            stages: Vec::new(),
            params: Vec::new(),
            sinks: Vec::new(),
            critical_path: Vec::new(),
        };
        let problems = convert(&flow, &["name".to_owned()], true).unwrap_err();
        assert_eq!(
            problems[0].code_str(),
            "opflow::runtime::param_without_value"
        );
    }

    #[test]
    fn converts_by_type() {
        assert_eq!(conv("str", "123").unwrap(), "\"123\"");
        assert_eq!(conv("str", "say \"hi\"").unwrap(), "\"say \\\"hi\\\"\"");
        assert_eq!(conv("int", "42").unwrap(), "42");
        assert_eq!(conv("int", "-1_000").unwrap(), "-1000");
        assert!(conv("int", "4.2").is_err());
        assert!(conv("int", "abc").is_err());
        assert_eq!(conv("float", "0.5").unwrap(), "0.5");
        assert_eq!(conv("float", "nan").unwrap(), "NaN");
        assert!(conv("float", "x").is_err());
        assert_eq!(conv("bool", "yes").unwrap(), "true");
        assert!(conv("bool", "maybe").is_err());
        assert_eq!(conv("list[int]", "[1, 2]").unwrap(), "[1,2]");
        assert!(conv("list[int]", "1,2").is_err());
        assert_eq!(conv("dict[str, int]", "{\"a\": 1}").unwrap(), "{\"a\":1}");
        assert_eq!(conv("Optional[int]", "null").unwrap(), "null");
        assert_eq!(conv("int | None", "7").unwrap(), "7");
        assert_eq!(conv("str | None", "7").unwrap(), "\"7\"");
        assert_eq!(conv("str | None", "null").unwrap(), "null");
        assert_eq!(conv("list[str]", "[\"a\"]").unwrap(), "[\"a\"]");
        assert_eq!(conv("jobs.models.Listing", "{}").unwrap(), "{}");
        assert_eq!(conv("Any", "plain text").unwrap(), "\"plain text\"");
    }
}
