//! YAML → [`Node`], through serde-saphyr's spanned values.
//!
//! YAML 1.2 core schema: only `true`/`false` are booleans (no `yes`/`no`),
//! unknown tags are refused (a default such as `!!python/object` is not a
//! literal), duplicate keys are errors, and alias expansion is bounded.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Budget, Options, Spanned};

use super::{Key, MAX_NESTING, Node, Span, Value};

pub(super) fn parse(text: &str) -> Result<Node, Vec<(String, Span)>> {
    if text.trim().is_empty() {
        // An empty document is an empty table; the schema then reports what is missing.
        return Ok(Node {
            span: Span::new(0, 0),
            value: Value::Table(Vec::new()),
        });
    }
    let mut budget = Budget::default();
    budget.max_events = 50_000_000;
    budget.max_nodes = 20_000_000;
    budget.max_depth = MAX_NESTING;
    // Anchors and aliases: a manifest reuses a few tables, never a million
    // events; a small budget stops an alias bomb early.
    budget.max_recorded_anchor_events = 100_000;
    let mut options = Options::default();
    options.strict_booleans = true;
    options.reject_unsupported_tags = true;
    options.with_snippet = false;
    // `.nan` and `.inf` are YAML 1.2 floats; defaults may use them.
    options.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::PassThrough;
    options.budget = Some(budget);
    match serde_saphyr::from_str_with_options::<Spanned<YamlNode>>(text, options) {
        Ok(root) => Ok(into_node(root, text)),
        Err(error) => {
            let span = error.location().map_or(Span::default(), |loc| {
                let start = loc
                    .span()
                    .byte_offset()
                    .map_or_else(|| offset_of(text, loc.line(), loc.column()), to_usize);
                Span::new(start, start)
            });
            Err(vec![(clean_message(&error.to_string()), span)])
        }
    }
}

fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// Byte offset of a 1-based line and character column.
fn offset_of(text: &str, line: u64, column: u64) -> usize {
    let mut offset = 0;
    for (index, line_text) in text.split_inclusive('\n').enumerate() {
        if index as u64 + 1 == line {
            let chars = usize::try_from(column.saturating_sub(1)).unwrap_or(0);
            return offset
                + line_text
                    .char_indices()
                    .nth(chars)
                    .map_or(line_text.len(), |(i, _)| i);
        }
        offset += line_text.len();
    }
    text.len()
}

/// serde-saphyr appends " at line X column Y" to messages; the diagnostic
/// shows the position itself.
fn clean_message(message: &str) -> String {
    let message = message.lines().next().unwrap_or(message).trim();
    let message = message
        .rfind(" at line ")
        .map_or(message, |index| &message[..index]);
    // Advice meant for the library's user, not ours.
    message
        .split_once(", set DuplicateKeyPolicy")
        .map_or(message, |(head, _)| head)
        .to_owned()
}

fn span_of<T>(spanned: &Spanned<T>, text: &str) -> Span {
    let location = spanned.referenced;
    let span = location.span();
    let start = span.byte_offset().map_or_else(
        || offset_of(text, location.line(), location.column()),
        to_usize,
    );
    let len = span.byte_len().map_or(0, to_usize);
    Span::new(start, start + len)
}

fn into_node(spanned: Spanned<YamlNode>, text: &str) -> Node {
    let span = span_of(&spanned, text);
    let value = match spanned.value {
        YamlNode::Null => Value::Null,
        YamlNode::Bool(b) => Value::Bool(b),
        YamlNode::Int(i) => Value::Int(i),
        YamlNode::BigInt(s) => Value::BigInt(s.into()),
        // An integer too large for 64 bits arrives as a float: keep its digits.
        YamlNode::Float(f) => {
            big_integer(text, span).map_or(Value::Float(f), |s| Value::BigInt(s.into()))
        }
        YamlNode::Str(s) => Value::Str(s.into()),
        YamlNode::Seq(items) => Value::Array(
            items
                .into_iter()
                .map(|item| into_node(item, text))
                .collect(),
        ),
        YamlNode::Map(entries) => Value::Table(
            entries
                .into_iter()
                .map(|(key, value)| {
                    let key_span = span_of(&key, text);
                    (
                        Key {
                            name: key.value.0.into(),
                            span: key_span,
                        },
                        into_node(value, text),
                    )
                })
                .collect(),
        ),
    };
    Node { span, value }
}

/// The digits of a plain integer scalar at `span`, if that is what it is.
fn big_integer(text: &str, span: Span) -> Option<String> {
    let written = text.get(span.start()..span.end())?.trim();
    let digits = written.strip_prefix('+').unwrap_or(written);
    let body = digits.strip_prefix('-').unwrap_or(digits);
    (!body.is_empty() && body.bytes().all(|b| b.is_ascii_digit())).then(|| digits.to_owned())
}

enum YamlNode {
    Null,
    Bool(bool),
    Int(i64),
    BigInt(String),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<YamlNode>>),
    Map(Vec<(Spanned<YamlKey>, Spanned<YamlNode>)>),
}

impl<'de> Deserialize<'de> for YamlNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = YamlNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_unit<E>(self) -> Result<YamlNode, E> {
        Ok(YamlNode::Null)
    }

    fn visit_none<E>(self) -> Result<YamlNode, E> {
        Ok(YamlNode::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<YamlNode, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_bool<E>(self, v: bool) -> Result<YamlNode, E> {
        Ok(YamlNode::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<YamlNode, E> {
        Ok(YamlNode::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<YamlNode, E> {
        Ok(i64::try_from(v).map_or_else(|_| YamlNode::BigInt(v.to_string()), YamlNode::Int))
    }

    fn visit_i128<E>(self, v: i128) -> Result<YamlNode, E> {
        Ok(i64::try_from(v).map_or_else(|_| YamlNode::BigInt(v.to_string()), YamlNode::Int))
    }

    fn visit_u128<E>(self, v: u128) -> Result<YamlNode, E> {
        Ok(i64::try_from(v).map_or_else(|_| YamlNode::BigInt(v.to_string()), YamlNode::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<YamlNode, E> {
        Ok(YamlNode::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<YamlNode, E> {
        Ok(YamlNode::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<YamlNode, E> {
        Ok(YamlNode::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<YamlNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(YamlNode::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<YamlNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(YamlNode::Map(entries))
    }
}

/// A mapping key: any scalar, as text.
struct YamlKey(String);

impl<'de> Deserialize<'de> for YamlKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = YamlKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_bool<E>(self, v: bool) -> Result<YamlKey, E> {
                Ok(YamlKey(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<YamlKey, E> {
                Ok(YamlKey(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<YamlKey, E> {
                Ok(YamlKey(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<YamlKey, E> {
                Ok(YamlKey(v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<YamlKey, E> {
                Ok(YamlKey(v.to_owned()))
            }
            fn visit_unit<E>(self) -> Result<YamlKey, E> {
                Ok(YamlKey("null".to_owned()))
            }
            fn visit_none<E>(self) -> Result<YamlKey, E> {
                Ok(YamlKey("null".to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<YamlKey, A::Error> {
                Err(de::Error::custom(
                    "a mapping key must be a scalar, not a sequence",
                ))
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<YamlKey, A::Error> {
                Err(de::Error::custom(
                    "a mapping key must be a scalar, not a mapping",
                ))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}
