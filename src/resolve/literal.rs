//! Default values: literals only, read exactly from the document tree.

use foldhash::HashMap;
use serde::Serialize;

use crate::manifest::{Document, Node, Span, Value};

/// Every parameter default of a manifest, read from its document tree, so
/// the tree can be dropped before binding: by operation index, then
/// parameter name (an operation's few in a list: every table parameter
/// asks for its default while binding, and a key of its own would be an
/// allocation each); an `Err` says why the value is not a literal, and
/// where. The values of the flows' deployment settings are read with them.
#[derive(Debug, Default)]
pub struct Defaults(
    HashMap<usize, Vec<(String, DefaultRead)>>,
    pub(super) super::deploy::Literals,
);

/// A default as read: the literal and its span, or why it is not one and where.
pub type DefaultRead = Result<(Literal, Span), (String, Span)>;

impl Defaults {
    /// Read the `default` (and the `choices`) of every parameter written as
    /// a table, in one walk of the operations. The tree is read, not the raw
    /// model: an explicit `null` (YAML, JSON) is a default of None, which
    /// serde would read as "absent".
    pub fn read(document: &Document) -> Self {
        let mut defaults = Self(HashMap::default(), super::deploy::Literals::read(document));
        let Some(Value::Array(operations)) = document.root.get("operations").map(|n| &n.value)
        else {
            return defaults;
        };
        for (i, operation) in operations.iter().enumerate() {
            defaults.read_operation(i, operation);
        }
        defaults
    }

    /// Read the defaults and choices of operation `i`, from its node.
    pub fn read_operation(&mut self, i: usize, operation: &Node) {
        let Some(Value::Table(params)) = operation.get("params").map(|n| &n.value) else {
            return;
        };
        for (key, param) in params {
            if let Some(default) = param.get("default") {
                let literal = Literal::from_node(default).map(|l| (l, default.span));
                let defaults = self.0.entry(i).or_default();
                // A key written twice (a reader may keep both): the last.
                match defaults.iter_mut().find(|(name, _)| *name == key.name) {
                    Some((_, read)) => *read = literal,
                    None => defaults.push((key.name.to_string(), literal)),
                }
            }
            if let Some(choices) = param.get("choices") {
                self.1.choices(i, &key.name, choices);
            }
        }
    }

    /// Add what `other` read (of other operations).
    pub fn absorb(&mut self, other: Self) {
        self.0.extend(other.0);
        self.1.absorb(other.1);
    }

    /// The defaults of operations `from` on, moved out (for a resolver on
    /// another thread); the flows' literals stay.
    #[must_use]
    pub fn split_off(&mut self, from: usize) -> Self {
        let later = self.0.extract_if(|&i, _| i >= from).collect();
        Self(later, super::deploy::Literals::default())
    }

    /// The default of parameter `param` of operation `i` and its span, taken out.
    pub fn take(&mut self, i: usize, param: &str) -> Option<DefaultRead> {
        let defaults = self.0.get_mut(&i)?;
        let at = defaults.iter().position(|(name, _)| name == param)?;
        Some(defaults.swap_remove(at).1)
    }
}

/// A literal value of a default: what can be written as a Python literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    None,
    Bool(bool),
    Int(i64),
    /// An integer beyond 64 bits, kept exact as its digits.
    BigInt(String),
    Float(f64),
    Str(String),
    List(Vec<Literal>),
    Dict(Vec<(String, Literal)>),
}

impl Literal {
    /// Read a literal from a node, or say why it is not one.
    pub fn from_node(node: &Node) -> Result<Self, (String, crate::manifest::Span)> {
        Ok(match &node.value {
            Value::Null => Self::None,
            Value::Bool(b) => Self::Bool(*b),
            Value::Int(i) => Self::Int(*i),
            Value::BigInt(s) => Self::BigInt(s.to_string()),
            Value::Float(f) => Self::Float(*f),
            Value::Str(s) => Self::Str(s.to_string()),
            Value::Datetime(d) => return Err((format!("`{d}` is a date-time"), node.span)),
            Value::Array(items) => Self::List(
                items
                    .iter()
                    .map(Self::from_node)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Table(entries) => Self::Dict(
                entries
                    .iter()
                    .map(|(key, value)| Ok((key.name.to_string(), Self::from_node(value)?)))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// As JSON, for `opflow plan --format json`. Values JSON cannot hold
    /// (`nan`, `inf`, huge integers) are written as strings of their Python spelling.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Self::None => J::Null,
            Self::Bool(b) => J::Bool(*b),
            Self::Int(i) => J::from(*i),
            Self::BigInt(s) | Self::Str(s) => J::String(s.clone()),
            Self::Float(f) => serde_json::Number::from_f64(*f)
                .map_or_else(|| J::String(python_float(*f)), J::Number),
            Self::List(items) => J::Array(items.iter().map(Self::to_json).collect()),
            Self::Dict(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl Serialize for Literal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// How Python spells a float (`float("nan")` style for the non-finite ones).
pub fn python_float(f: f64) -> String {
    if f.is_nan() {
        "float(\"nan\")".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 {
            "float(\"inf\")".to_owned()
        } else {
            "float(\"-inf\")".to_owned()
        }
    } else {
        let text = format!("{f:?}");
        text
    }
}

impl std::fmt::Display for Literal {
    /// A short, readable form for messages and `opflow plan`: JSON-like.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Float(x) if !x.is_finite() => f.write_str(&python_float(*x)),
            _ => write!(f, "{}", self.to_json()),
        }
    }
}
