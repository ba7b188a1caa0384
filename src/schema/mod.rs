//! Stage 2: the manifest's shape, checked against the JSON Schema that
//! schemars derives from the raw types. Every schema error is mapped from its
//! JSON pointer back to the span of the offending key or value.

mod instance;

use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use schemars::generate::SchemaSettings;
use serde_json::Value as Json;

use crate::diagnostic::{Diagnostic, at};
use crate::manifest::raw::RawOperation;
use crate::manifest::{Document, Node, RawManifest, Spanned, Value, from_node};
use crate::suggest::did_you_mean;

/// The JSON Schema of the manifest, draft-07 (what Taplo and
/// yaml-language-server follow).
pub fn schema() -> Json {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<RawManifest>();
    schema.to_value()
}

/// The schema as committed in `schema/opflow.schema.json`.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

static SCHEMA: LazyLock<Json> = LazyLock::new(schema);

static VALIDATOR: LazyLock<Option<Validator<instance::Tree>>> = LazyLock::new(|| {
    jsonschema::options_for::<instance::Tree>()
        .with_draft(jsonschema::Draft::Draft7)
        .build(&SCHEMA)
        .ok()
});

/// One operation's shape, against the schema's `Operation`: what the whole
/// schema checks of each item of `operations`.
static OPERATION: LazyLock<Option<Validator<instance::Tree>>> = LazyLock::new(|| {
    let schema = serde_json::json!({
        "$schema": SCHEMA.get("$schema"),
        "allOf": [{ "$ref": "#/definitions/Operation" }],
        "definitions": SCHEMA.get("definitions"),
    });
    jsonschema::options_for::<instance::Tree>()
        .with_draft(jsonschema::Draft::Draft7)
        .build(&schema)
        .ok()
});

/// Whether an operation's node has the shape the schema asks of every
/// operation (`false` when the schema could not be built).
pub fn operation_is_valid(node: &Node) -> bool {
    OPERATION
        .as_ref()
        .is_some_and(|validator| validator.is_valid(node))
}

/// An operation's raw model, from its node (valid by [`operation_is_valid`]).
pub fn read_operation(node: &Node) -> Option<Spanned<RawOperation>> {
    from_node(node).ok()
}

/// The document's shape against the schema: every problem, or none.
pub fn validate(document: &Document) -> Vec<Diagnostic> {
    let root = &document.root;
    if let Some(version) = root.get("version")
        && let Value::Int(found) = version.value
        && found != 1
    {
        return vec![Diagnostic::UnsupportedVersion {
            found: found.to_string(),
            span: at(version.span),
        }];
    }
    let mut diagnostics = Vec::new();
    if let Some(validator) = VALIDATOR.as_ref() {
        for error in validator.iter_errors(root) {
            map_error(root, &error, &mut diagnostics);
        }
    }
    diagnostics
}

/// The raw model, read from a document. Meaningful once [`validate`] found
/// nothing; on a document of another shape it fails with a coarser error.
pub fn read(document: &Document) -> Result<RawManifest, Vec<Diagnostic>> {
    from_node::<RawManifest>(&document.root).map_err(|error| {
        vec![Diagnostic::InvalidValue {
            message: error.message,
            span: at(error.span.unwrap_or_default()),
            help: "see `opflow schema` for the manifest's format".to_owned(),
        }]
    })
}

fn map_error(root: &Node, error: &ValidationError<'_>, out: &mut Vec<Diagnostic>) {
    let pointer = error.instance_path().as_str();
    let Some(node) = root.pointer(pointer) else {
        return;
    };
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_fields(error.schema_path().as_str());
            for field in unexpected {
                let Some((key, value)) = node.entry(field) else {
                    continue;
                };
                let mut help = did_you_mean(field, allowed.iter().map(String::as_str)).map_or_else(
                    || {
                        format!(
                            "fields allowed here: {}",
                            allowed
                                .iter()
                                .map(|f| format!("`{f}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                    |close| format!("did you mean `{close}`?"),
                );
                if pointer.starts_with("/flows/") && matches!(value.value, Value::Table(_)) {
                    let flow = pointer.trim_start_matches("/flows/");
                    help = format!(
                        "to configure the flow `{flow}.{field}`, quote its name: `[flows.\"{flow}.{field}\"]`"
                    );
                }
                out.push(Diagnostic::UnknownField {
                    field: field.clone(),
                    span: at(key.span),
                    help,
                });
            }
        }
        ValidationErrorKind::Required { property } => out.push(Diagnostic::MissingField {
            field: property.as_str().unwrap_or_default().to_owned(),
            span: at(node.span),
        }),
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(ty) => article(ty.as_str()),
                // `Option<T>` fields accept null too; nobody writes null on purpose.
                TypeKind::Multiple(set) => set
                    .iter()
                    .map(jsonschema::JsonType::as_str)
                    .filter(|ty| *ty != "null")
                    .map(article)
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            out.push(wrong_type(node, expected));
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            one_of(root, node, context, out);
        }
        ValidationErrorKind::Enum { options } => {
            out.push(not_one_of(node, options.as_array().into_iter().flatten()));
        }
        ValidationErrorKind::Constant { expected_value } => {
            out.push(not_one_of(node, std::iter::once(expected_value.as_ref())));
        }
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => {
            out.push(Diagnostic::InvalidValue {
                message: format!("{} is below the minimum of {limit}", show(node)),
                span: at(node.span),
                help: format!("use a value of at least {limit}"),
            });
        }
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => {
            out.push(Diagnostic::InvalidValue {
                message: format!("{} is above the maximum of {limit}", show(node)),
                span: at(node.span),
                help: format!("use a value of at most {limit}"),
            });
        }
        _ => out.push(Diagnostic::InvalidValue {
            message: error.masked().to_string(),
            span: at(node.span),
            help: "see `opflow schema` for the manifest's format".to_owned(),
        }),
    }
}

/// `oneOf`/`anyOf` failed: report the branch that fits the value's type, or
/// what the branches would have accepted.
fn one_of(
    root: &Node,
    node: &Node,
    context: &[Vec<ValidationError<'static>>],
    out: &mut Vec<Diagnostic>,
) {
    let here = |e: &ValidationError<'_>| {
        root.pointer(e.instance_path().as_str())
            .is_some_and(|n| std::ptr::eq(n, node))
    };
    let type_mismatch = |branch: &Vec<ValidationError<'static>>| {
        branch
            .iter()
            .any(|e| here(e) && matches!(e.kind(), ValidationErrorKind::Type { .. }))
    };
    if let Some(branch) = context.iter().find(|branch| !type_mismatch(branch)) {
        let constants: Vec<&Json> = context
            .iter()
            .flatten()
            .filter_map(|e| match e.kind() {
                ValidationErrorKind::Constant { expected_value } if here(e) => {
                    Some(expected_value.as_ref())
                }
                _ => None,
            })
            .collect();
        if !constants.is_empty() && constants.len() == context.len() {
            out.push(not_one_of(node, constants.into_iter()));
            return;
        }
        for error in branch {
            map_error(root, error, out);
        }
        return;
    }
    let mut expected: Vec<String> = Vec::new();
    for error in context.iter().flatten() {
        if let ValidationErrorKind::Type { kind } = error.kind() {
            let names: Vec<&str> = match kind {
                TypeKind::Single(ty) => vec![ty.as_str()],
                TypeKind::Multiple(set) => set.iter().map(jsonschema::JsonType::as_str).collect(),
            };
            for name in names.into_iter().filter(|name| *name != "null") {
                let name = article(name);
                if !expected.contains(&name) {
                    expected.push(name);
                }
            }
        }
    }
    out.push(wrong_type(node, expected.join(" or ")));
}

fn wrong_type(node: &Node, expected: String) -> Diagnostic {
    let help = match expected.as_str() {
        "an array" => "write a list, e.g. `[\"a.b\"]`".to_owned(),
        "a string or a table" => {
            "write a type string such as `\"int\"`, or a table `{ type = \"int\", default = 1 }`"
                .to_owned()
        }
        _ => format!("write {expected} here"),
    };
    Diagnostic::WrongType {
        found: node.value.kind().to_owned(),
        expected,
        span: at(node.span),
        help,
    }
}

fn not_one_of<'a>(node: &Node, options: impl Iterator<Item = &'a Json>) -> Diagnostic {
    let options: Vec<String> = options
        .map(|o| {
            o.as_str()
                .map_or_else(|| o.to_string(), |s| format!("`{s}`"))
        })
        .collect();
    let given = match &node.value {
        Value::Str(s) => s.to_string(),
        _ => String::new(),
    };
    let names = options.iter().map(|o| o.trim_matches('`'));
    let help = did_you_mean(&given, names).map_or_else(
        || format!("use one of {}", options.join(", ")),
        |close| format!("did you mean `{close}`?"),
    );
    Diagnostic::InvalidValue {
        message: format!("{} is not one of {}", show(node), options.join(", ")),
        span: at(node.span),
        help,
    }
}

fn show(node: &Node) -> String {
    match &node.value {
        Value::Str(s) => format!("`{s}`"),
        Value::Int(i) => i.to_string(),
        Value::BigInt(s) => s.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.kind().to_owned(),
    }
}

fn article(json_type: &str) -> String {
    match json_type {
        "object" => "a table".to_owned(),
        "array" => "an array".to_owned(),
        "integer" => "an integer".to_owned(),
        "number" => "a number".to_owned(),
        "string" => "a string".to_owned(),
        "boolean" => "a boolean".to_owned(),
        "null" => "null".to_owned(),
        other => other.to_owned(),
    }
}

/// The fields the schema allows where an `additionalProperties` error arose,
/// found by walking the schema path (following `$ref`s).
fn allowed_fields(schema_path: &str) -> Vec<String> {
    let mut tokens: Vec<&str> = schema_path.split('/').skip(1).collect();
    tokens.pop(); // "additionalProperties"
    let mut node: &Json = &SCHEMA;
    for token in tokens {
        node = follow_ref(node);
        let next = match node {
            Json::Object(map) => map.get(token),
            Json::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        let Some(next) = next else { return Vec::new() };
        node = next;
    }
    follow_ref(node)
        .get("properties")
        .and_then(Json::as_object)
        .map(|props| props.keys().cloned().collect())
        .unwrap_or_default()
}

fn follow_ref(node: &Json) -> &Json {
    let mut node = node;
    for _ in 0..8 {
        let Some(reference) = node.get("$ref").and_then(Json::as_str) else {
            break;
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            break;
        };
        match SCHEMA.pointer(pointer) {
            Some(target) => node = target,
            None => break,
        }
    }
    node
}
