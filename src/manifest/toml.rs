//! TOML → [`Node`], through `toml`'s spanned document tree.

use toml::de::{DeTable, DeValue};

use super::{Key, Node, Span, Value};

type Spanned<T> = toml::Spanned<T>;

pub(super) fn parse(text: &str) -> Result<Node, Vec<(String, Span)>> {
    let (table, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(errors
            .iter()
            .map(|error| {
                let span = error
                    .span()
                    .map_or(Span::default(), |r| Span::new(r.start, r.end));
                (error.message().trim().to_owned(), span)
            })
            .collect());
    }
    let span = table.span();
    Ok(Node {
        span: Span::new(span.start, span.end),
        value: table_value(table.get_ref()),
    })
}

fn table_value(table: &DeTable<'_>) -> Value {
    Value::Table(
        table
            .iter()
            .map(|(key, value)| {
                let span = key.span();
                (
                    Key {
                        name: key.get_ref().to_string(),
                        span: Span::new(span.start, span.end),
                    },
                    node(value),
                )
            })
            .collect(),
    )
}

fn node(value: &Spanned<DeValue<'_>>) -> Node {
    let span = value.span();
    let value = match value.get_ref() {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => integer(i.as_str(), i.radix()),
        DeValue::Float(f) => Value::Float(float(f.as_str())),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Datetime(d.to_string()),
        DeValue::Array(items) => Value::Array(items.iter().map(node).collect()),
        DeValue::Table(table) => table_value(table),
    };
    Node {
        span: Span::new(span.start, span.end),
        value,
    }
}

fn integer(digits: &str, radix: u32) -> Value {
    if let Ok(i) = i64::from_str_radix(digits, radix) {
        return Value::Int(i);
    }
    match i128::from_str_radix(digits, radix) {
        Ok(i) => Value::BigInt(i.to_string()),
        // Beyond 128 bits only decimal is kept; the text is already exact.
        Err(_) if radix == 10 => Value::BigInt(digits.trim_start_matches('+').to_owned()),
        Err(_) => Value::BigInt(format!("0x{digits}")),
    }
}

fn float(text: &str) -> f64 {
    let unsigned = text.trim_start_matches(['+', '-']);
    let negative = text.starts_with('-');
    let value = match unsigned {
        "inf" => f64::INFINITY,
        "nan" => f64::NAN,
        _ => text.parse().unwrap_or(f64::NAN),
    };
    if negative && !value.is_sign_negative() {
        -value
    } else {
        value
    }
}
