//! Stage 1: bytes → [`Document`], a format-independent tree that keeps the byte
//! span of every key and value, and the typed [`RawManifest`] read from it.
//!
//! TOML, YAML and JSON are chosen by file extension. Every later stage reports
//! positions through the spans kept here.

mod de;
mod json;
pub mod raw;
mod toml;
mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

pub use compact_str::CompactString;
pub use de::{Error as ReadError, Spanned, from_node};
pub use raw::RawManifest;

use crate::Failure;
use crate::diagnostic::Diagnostic;

/// A byte range in the manifest's text. Kept in 32 bits: a large manifest
/// holds several spans per operation in its tree and raw model, and a
/// manifest is read whole into memory, so [`parse`] refuses one of 4 GiB or
/// more (an offset past that would be clamped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        let offset = |at: usize| u32::try_from(at).unwrap_or(u32::MAX);
        Self {
            start: offset(start),
            end: offset(end),
        }
    }

    /// The first byte's offset.
    pub const fn start(self) -> usize {
        self.start as usize
    }

    /// The offset just past the last byte.
    pub const fn end(self) -> usize {
        self.end as usize
    }

    pub const fn len(self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    pub const fn is_empty(self) -> bool {
        self.len() == 0
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(span: Span) -> Self {
        (span.start(), span.len()).into()
    }
}

/// The manifest formats opflow reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Toml,
    Yaml,
    Json,
}

impl Format {
    /// The format a file's extension names, if any.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "toml" => Some(Self::Toml),
            "yaml" | "yml" => Some(Self::Yaml),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Toml => "TOML",
            Self::Yaml => "YAML",
            Self::Json => "JSON",
        })
    }
}

/// A manifest's text and where it came from.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

/// A key of a table, with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: CompactString,
    pub span: Span,
}

/// A value of the document with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer outside the 64-bit range, as its decimal digits (kept exact).
    BigInt(CompactString),
    Float(f64),
    Str(CompactString),
    /// A TOML date or time, kept as written; not a Python literal.
    Datetime(CompactString),
    Array(Vec<Node>),
    Table(Vec<(Key, Node)>),
}

impl Value {
    /// What a person calls this kind of value, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Int(_) | Self::BigInt(_) => "an integer",
            Self::Float(_) => "a float",
            Self::Str(_) => "a string",
            Self::Datetime(_) => "a date-time",
            Self::Array(_) => "an array",
            Self::Table(_) => "a table",
        }
    }

    /// The value as a JSON string, when JSON sees one: strings, and the values
    /// JSON cannot hold (`nan` and infinite floats, integers beyond 64 bits,
    /// dates), which schema validation reads as strings.
    pub fn json_string(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Self::Str(s) | Self::BigInt(s) | Self::Datetime(s) => {
                Some(std::borrow::Cow::Borrowed(s))
            }
            Self::Float(f) if !f.is_finite() => Some(std::borrow::Cow::Owned(f.to_string())),
            _ => None,
        }
    }
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, node)| node)
    }

    pub fn entry(&self, key: &str) -> Option<(&Key, &Node)> {
        match &self.value {
            Value::Table(entries) => entries
                .iter()
                .find(|(k, _)| k.name == key)
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The node at a JSON pointer (`/operations/3/name`), if present.
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        let mut node = self;
        for token in pointer.split('/').skip(1) {
            let token = token.replace("~1", "/").replace("~0", "~");
            node = match &node.value {
                Value::Table(_) => node.get(&token)?,
                Value::Array(items) => items.get(token.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// This node as JSON, for schema validation. Values JSON cannot hold
    /// (`nan`, huge integers, dates) become strings: the schema accepts any
    /// value where they are allowed, and resolution checks them exactly.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        if let Some(text) = self.value.json_string() {
            return J::String(text.into_owned());
        }
        match &self.value {
            // Strings and what JSON reads as strings were returned above.
            Value::Null | Value::BigInt(_) | Value::Str(_) | Value::Datetime(_) => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Array(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Table(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// A parsed manifest file: its source and the spanned tree.
#[derive(Clone, Debug)]
pub struct Document {
    pub source: Source,
    pub format: Format,
    pub root: Node,
}

/// The deepest nesting of arrays and tables accepted in a manifest. Far beyond
/// any real manifest; keeps recursion in later stages bounded.
pub const MAX_NESTING: usize = 128;

/// Parse a manifest's text in the given format.
pub fn parse(source: Source, format: Format) -> Result<Document, Failure> {
    if u32::try_from(source.text.len()).is_err() {
        return Err(Failure {
            diagnostics: vec![Diagnostic::Unreadable {
                path: source.path.clone(),
                reason: "it is 4 GiB or larger, past what opflow reads".to_owned(),
            }],
            source: None,
        });
    }
    let text = source.text.strip_prefix('\u{feff}').unwrap_or(&source.text);
    let bom = source.text.len() - text.len();
    // Whether the tree is known to be within `MAX_NESTING` as read.
    let parsed = match format {
        Format::Toml => toml::parse(text),
        Format::Yaml => yaml::parse(text).map(|root| (root, false)),
        Format::Json => json::parse(text).map(|root| (root, false)),
    };
    let shift = |span: Span| Span::new(span.start() + bom, span.end() + bom);
    match parsed {
        Ok((mut root, bounded)) => {
            if bom > 0 {
                shift_spans(&mut root, &shift);
            }
            debug_assert!(!bounded || too_deep(&root, 0).is_none());
            if !bounded && let Some(span) = too_deep(&root, 0) {
                return Err(Failure {
                    source: Some(source),
                    diagnostics: vec![Diagnostic::TooDeep {
                        span: span.into(),
                        limit: MAX_NESTING,
                    }],
                });
            }
            Ok(Document {
                source,
                format,
                root,
            })
        }
        Err(errors) => {
            let diagnostics = errors
                .into_iter()
                .map(|(message, span)| Diagnostic::Syntax {
                    format,
                    message,
                    span: shift(span).into(),
                })
                .collect();
            Err(Failure {
                source: Some(source),
                diagnostics,
            })
        }
    }
}

pub(super) fn shift_spans(node: &mut Node, shift: &impl Fn(Span) -> Span) {
    node.span = shift(node.span);
    match &mut node.value {
        Value::Array(items) => items.iter_mut().for_each(|item| shift_spans(item, shift)),
        Value::Table(entries) => {
            for (key, value) in entries {
                key.span = shift(key.span);
                shift_spans(value, shift);
            }
        }
        _ => {}
    }
}

fn too_deep(node: &Node, depth: usize) -> Option<Span> {
    if depth > MAX_NESTING {
        return Some(node.span);
    }
    match &node.value {
        Value::Array(items) => items.iter().find_map(|item| too_deep(item, depth + 1)),
        Value::Table(entries) => entries
            .iter()
            .find_map(|(_, value)| too_deep(value, depth + 1)),
        _ => None,
    }
}

/// Read and parse the manifest at `path`, choosing the format by extension.
pub fn load(path: &Path) -> Result<Document, Failure> {
    let fail = |diagnostic| Failure {
        source: None,
        diagnostics: vec![diagnostic],
    };
    let unreadable = |reason: String| {
        fail(Diagnostic::Unreadable {
            path: path.to_path_buf(),
            reason,
        })
    };
    if path.is_dir() {
        return Err(unreadable("it is a directory".to_owned()));
    }
    let Some(format) = Format::from_path(path) else {
        return Err(fail(Diagnostic::UnknownFormat {
            path: path.to_path_buf(),
        }));
    };
    let bytes = std::fs::read(path).map_err(|error| unreadable(error.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|error| {
        unreadable(format!(
            "it is not UTF-8 (invalid byte at offset {})",
            error.utf8_error().valid_up_to()
        ))
    })?;
    parse(
        Source {
            path: path.to_path_buf(),
            text,
        },
        format,
    )
}

impl Source {
    /// The span of `range` (byte offsets into `value`) inside the string node at
    /// `span`, when the string is written without escapes; otherwise `span`.
    pub fn sub_span(&self, span: Span, value: &str, range: (usize, usize)) -> Span {
        let Some(written) = self.text.get(span.start()..span.end()) else {
            return span;
        };
        let quoted = |q: char| {
            written.len() == value.len() + 2
                && written.starts_with(q)
                && written.ends_with(q)
                && &written[1..=value.len()] == value
        };
        let offset = if written == value {
            0
        } else if quoted('"') || quoted('\'') {
            1
        } else {
            return span;
        };
        let (start, end) = (range.0.min(value.len()), range.1.min(value.len()));
        Span::new(span.start() + offset + start, span.start() + offset + end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TOML's own reader never nests past the limit (its trees are not
    /// walked to check): as deep as it goes, a tree is within it.
    #[test]
    fn toml_read_as_deep_as_it_goes_is_within_the_limit() {
        let text = format!(
            "version = 1\n[[operations]]\nx = {}{}\n",
            "[".repeat(80),
            "]".repeat(80)
        );
        let source = Source {
            path: PathBuf::from("manifest"),
            text: text.clone(),
        };
        let document = parse(source, Format::Toml).expect("80 levels read");
        assert!(too_deep(&document.root, 0).is_none());
        assert!(toml::parse(&text).is_ok_and(|(_, bounded)| bounded));
    }
}
