//! JSON → [`Node`], through dprint's `jsonc-parser` set to strict JSON.

use jsonc_parser::ast::{self, ObjectPropName};
use jsonc_parser::{CollectOptions, ParseOptions, parse_to_ast};

use super::{Key, Node, Span, Value};

pub(super) fn parse(text: &str) -> Result<Node, Vec<(String, Span)>> {
    let options = ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let parsed = parse_to_ast(text, &CollectOptions::default(), &options).map_err(|error| {
        let range = error.range();
        vec![(error.kind().to_string(), Span::new(range.start, range.end))]
    })?;
    let Some(value) = parsed.value else {
        return Ok(Node {
            span: Span::new(0, 0),
            value: Value::Table(Vec::new()),
        });
    };
    let mut errors = Vec::new();
    let node = node(&value, &mut errors);
    if errors.is_empty() {
        Ok(node)
    } else {
        Err(errors)
    }
}

fn span(range: jsonc_parser::common::Range) -> Span {
    Span::new(range.start, range.end)
}

fn node(value: &ast::Value<'_>, errors: &mut Vec<(String, Span)>) -> Node {
    match value {
        ast::Value::StringLit(s) => Node {
            span: span(s.range),
            value: Value::Str(s.value.as_ref().into()),
        },
        ast::Value::NumberLit(n) => Node {
            span: span(n.range),
            value: number(n.value),
        },
        ast::Value::BooleanLit(b) => Node {
            span: span(b.range),
            value: Value::Bool(b.value),
        },
        ast::Value::NullKeyword(n) => Node {
            span: span(n.range),
            value: Value::Null,
        },
        ast::Value::Array(a) => Node {
            span: span(a.range),
            value: Value::Array(a.elements.iter().map(|item| node(item, errors)).collect()),
        },
        ast::Value::Object(o) => {
            let mut entries: Vec<(Key, Node)> = Vec::with_capacity(o.properties.len());
            for prop in &o.properties {
                let (name, key_span) = match &prop.name {
                    ObjectPropName::String(s) => (s.value.to_string(), span(s.range)),
                    ObjectPropName::Word(w) => (w.value.to_owned(), span(w.range)),
                };
                if entries.iter().any(|(k, _)| k.name == name) {
                    errors.push((format!("duplicate key `{name}`"), key_span));
                }
                entries.push((
                    Key {
                        name: name.into(),
                        span: key_span,
                    },
                    node(&prop.value, errors),
                ));
            }
            Node {
                span: span(o.range),
                value: Value::Table(entries),
            }
        }
    }
}

fn number(text: &str) -> Value {
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Int(i);
        }
        return Value::BigInt(text.into());
    }
    Value::Float(text.parse().unwrap_or(f64::NAN))
}
