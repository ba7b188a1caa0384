//! The common shape of a TOML manifest, read straight from the parser's
//! events into the document tree: plain keys, `[table]` and `[[array]]`
//! headers of one segment, inline tables, arrays and scalars. This skips the
//! `toml` crate's event list and table maps, about half the time of reading.
//!
//! Anything else (a dotted key or header, a table defined twice, a date, a
//! table of more than [`MAX_ENTRIES`] keys, any error) returns `None`, and
//! the caller parses the text with `toml`, whose tree and errors are the
//! reference. A test reads every manifest of the suite both ways and
//! compares.

use toml_parser::decoder::{Encoding, ScalarKind};
use toml_parser::parser::{EventReceiver, RecursionGuard, ValidateWhitespace};
use toml_parser::{ErrorSink, ParseError, Raw, Source};

use super::{float, integer};
use crate::manifest::{Key, Node, Span, Value};

/// The `toml` crate's nesting limit, so a document too deep for it goes
/// to it and gets its error.
pub(super) const MAX_DEPTH: u32 = 80;

// A tree read here nests at most two levels of one-segment headers (an
// array of tables), `MAX_DEPTH` inline arrays and tables, and a value in the
// innermost: within the manifest's limit, so it need not be walked to check
// (see `toml::parse`).
const _: () = assert!(3 + MAX_DEPTH as usize <= crate::manifest::MAX_NESTING);

/// Keys are checked for repeats by a scan of the table: tables larger than
/// this go to the `toml` crate instead.
const MAX_ENTRIES: usize = 64;

/// The document tree of `text`, when it has the common shape and no error,
/// with spans `offset` bytes further on (`text` is a piece of the manifest
/// starting there).
pub(super) fn parse(text: &str, offset: usize) -> Option<Node> {
    super::scan::parse(text, offset).or_else(|| parse_events(text, offset))
}

/// [`parse`] from `toml_parser`'s events, for what [`super::scan`] leaves.
fn parse_events(text: &str, offset: usize) -> Option<Node> {
    let source = Source::new(text);
    // `Lexer::into_vec` reserves 2 tokens per 7 bytes, fit for hand-written
    // manifests; generated ones (short keys, inline tables) have more, and
    // that vector was regrown and copied on every piece. Reserve one token
    // per 2 bytes (what is not used is not touched).
    let mut tokens = Vec::with_capacity(text.len() / 2 + 16);
    tokens.extend(source.lex());
    let mut builder = Builder::new(text, offset);
    let mut failed = Failed(false);
    {
        let mut whitespace = ValidateWhitespace::new(&mut builder, source);
        let mut guard = RecursionGuard::new(&mut whitespace, MAX_DEPTH);
        toml_parser::parser::parse_document(&tokens, &mut guard, &mut failed);
    }
    if failed.0 {
        return None;
    }
    builder.finish()
}

/// Remembers that the parser or a decoder reported an error.
pub(super) struct Failed(pub(super) bool);

impl ErrorSink for Failed {
    fn report_error(&mut self, _error: ParseError) {
        self.0 = true;
    }
}

pub(super) struct Builder<'t> {
    text: &'t str,
    /// Where `text` starts in the manifest.
    offset: usize,
    /// Something outside the common shape was seen.
    other: bool,
    root: Vec<(Key, Node)>,
    /// Root keys made by `[[key]]` headers (arrays of tables).
    arrays_of_tables: Vec<Key>,
    /// Entries of the tables being read, innermost last: first the table a
    /// header (or the root, until the first header) opened, then each open
    /// inline table's from its mark. A table's entries are moved out into
    /// a vector of their exact size when it closes.
    entries: Vec<(Key, Node)>,
    /// Items of the open arrays, likewise.
    items: Vec<Node>,
    header: Option<Header>,
    /// A header being read: where it opens, whether `[[`, its key so far.
    opening: Option<(usize, bool, Option<Key>)>,
    /// A key of `current` waiting for its value.
    key: Option<Key>,
    /// Arrays and inline tables being read, innermost last.
    open: Vec<Open>,
}

struct Header {
    key: Key,
    span: Span,
    array: bool,
}

/// An array or inline table being read: where it starts in the text, and
/// where its items or entries start in `items` or `entries`.
enum Open {
    Array {
        start: usize,
        mark: usize,
    },
    Table {
        start: usize,
        mark: usize,
        key: Option<Key>,
    },
}

impl<'t> Builder<'t> {
    pub(super) fn new(text: &'t str, offset: usize) -> Self {
        Self {
            text,
            offset,
            other: false,
            root: Vec::new(),
            arrays_of_tables: Vec::new(),
            entries: Vec::new(),
            items: Vec::new(),
            header: None,
            opening: None,
            key: None,
            open: Vec::new(),
        }
    }

    /// A span of `text`, as a span of the manifest.
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.offset + start, self.offset + end)
    }

    fn raw(&self, span: toml_parser::Span, encoding: Option<Encoding>) -> Raw<'t> {
        Raw::new_unchecked(&self.text[span.start()..span.end()], encoding, span)
    }

    /// Put the table read so far where its header says.
    fn finish_table(&mut self) {
        let entries: Vec<(Key, Node)> = self.entries.drain(..).collect();
        let Some(header) = self.header.take() else {
            // The root's own keys come before any header.
            self.root = entries;
            return;
        };
        let table = Node {
            span: header.span,
            value: Value::Table(entries),
        };
        if self.root.len() >= MAX_ENTRIES {
            self.other = true;
            return;
        }
        let existing = self
            .root
            .iter()
            .position(|(k, _)| k.name == header.key.name);
        match (existing, header.array) {
            (None, true) => {
                self.arrays_of_tables.push(header.key.clone());
                self.root.push((
                    header.key,
                    Node {
                        span: header.span,
                        value: Value::Array(vec![table]),
                    },
                ));
            }
            (None, false) => self.root.push((header.key, table)),
            (Some(i), true)
                if self
                    .arrays_of_tables
                    .iter()
                    .any(|k| k.name == header.key.name) =>
            {
                match &mut self.root[i].1.value {
                    Value::Array(items) => items.push(table),
                    _ => self.other = true,
                }
            }
            (Some(_), _) => self.other = true,
        }
    }

    fn open_header(&mut self, span: toml_parser::Span, array: bool) {
        if !self.open.is_empty() || self.key.is_some() {
            self.other = true;
        }
        self.finish_table();
        self.opening = Some((span.start(), array, None));
    }

    fn close_header(&mut self, span: toml_parser::Span) {
        match self.opening.take() {
            Some((start, array, Some(key))) => {
                self.header = Some(Header {
                    key,
                    span: self.span(start, span.end()),
                    array,
                });
            }
            _ => self.other = true,
        }
    }

    /// A value read: into the innermost open array or table, else the table
    /// a header opened (or the root).
    fn value(&mut self, node: Node) {
        let (mark, key) = match self.open.last_mut() {
            Some(Open::Array { .. }) => {
                self.items.push(node);
                return;
            }
            Some(Open::Table { mark, key, .. }) => (*mark, key.take()),
            None => (0, self.key.take()),
        };
        let table = &self.entries[mark..];
        match key {
            Some(key)
                if table.len() < MAX_ENTRIES && !table.iter().any(|(k, _)| k.name == key.name) =>
            {
                self.entries.push((key, node));
            }
            _ => self.other = true,
        }
    }

    pub(super) fn finish(mut self) -> Option<Node> {
        if self.opening.is_some() || self.key.is_some() || !self.open.is_empty() {
            return None;
        }
        self.finish_table();
        let span = self.span(0, 0);
        (!self.other).then(|| Node {
            span,
            value: Value::Table(self.root),
        })
    }
}

impl EventReceiver for Builder<'_> {
    fn std_table_open(&mut self, span: toml_parser::Span, _error: &mut dyn ErrorSink) {
        self.open_header(span, false);
    }

    fn std_table_close(&mut self, span: toml_parser::Span, _error: &mut dyn ErrorSink) {
        self.close_header(span);
    }

    fn array_table_open(&mut self, span: toml_parser::Span, _error: &mut dyn ErrorSink) {
        self.open_header(span, true);
    }

    fn array_table_close(&mut self, span: toml_parser::Span, _error: &mut dyn ErrorSink) {
        self.close_header(span);
    }

    fn inline_table_open(&mut self, span: toml_parser::Span, _error: &mut dyn ErrorSink) -> bool {
        self.open.push(Open::Table {
            start: span.start(),
            mark: self.entries.len(),
            key: None,
        });
        true
    }

    fn inline_table_close(&mut self, span: toml_parser::Span, _error: &mut dyn ErrorSink) {
        match self.open.pop() {
            Some(Open::Table {
                start,
                mark,
                key: None,
            }) => {
                let entries = self.entries.drain(mark..).collect();
                self.value(Node {
                    span: self.span(start, span.end()),
                    value: Value::Table(entries),
                });
            }
            _ => self.other = true,
        }
    }

    fn array_open(&mut self, span: toml_parser::Span, _error: &mut dyn ErrorSink) -> bool {
        self.open.push(Open::Array {
            start: span.start(),
            mark: self.items.len(),
        });
        true
    }

    fn array_close(&mut self, span: toml_parser::Span, _error: &mut dyn ErrorSink) {
        match self.open.pop() {
            Some(Open::Array { start, mark }) => {
                let items = self.items.drain(mark..).collect();
                self.value(Node {
                    span: self.span(start, span.end()),
                    value: Value::Array(items),
                });
            }
            _ => self.other = true,
        }
    }

    fn simple_key(
        &mut self,
        span: toml_parser::Span,
        encoding: Option<Encoding>,
        error: &mut dyn ErrorSink,
    ) {
        let mut name = std::borrow::Cow::Borrowed("");
        self.raw(span, encoding).decode_key(&mut name, error);
        let key = Key {
            name: name.as_ref().into(),
            span: self.span(span.start(), span.end()),
        };
        let slot = match (&mut self.opening, self.open.last_mut()) {
            (Some((_, _, slot)), _) => slot,
            (None, Some(Open::Table { key, .. })) => key,
            (None, Some(Open::Array { .. })) => {
                self.other = true;
                return;
            }
            (None, None) => &mut self.key,
        };
        if slot.replace(key).is_some() {
            // A dotted key: left to the `toml` crate.
            self.other = true;
        }
    }

    fn key_sep(&mut self, _span: toml_parser::Span, _error: &mut dyn ErrorSink) {
        self.other = true;
    }

    fn scalar(
        &mut self,
        span: toml_parser::Span,
        encoding: Option<Encoding>,
        error: &mut dyn ErrorSink,
    ) {
        let mut decoded = std::borrow::Cow::Borrowed("");
        let value = match self.raw(span, encoding).decode_scalar(&mut decoded, error) {
            ScalarKind::String => Value::Str(decoded.as_ref().into()),
            ScalarKind::Boolean(b) => Value::Bool(b),
            ScalarKind::Integer(radix) => {
                // No digits: left to the `toml` crate's tree, which reports it.
                let Some(value) = integer(&decoded, radix.value()) else {
                    self.other = true;
                    return;
                };
                value
            }
            ScalarKind::Float => Value::Float(float(&decoded)),
            ScalarKind::DateTime => {
                self.other = true;
                return;
            }
        };
        self.value(Node {
            span: self.span(span.start(), span.end()),
            value,
        });
    }

    fn error(&mut self, _span: toml_parser::Span, _error: &mut dyn ErrorSink) {
        self.other = true;
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::parse_whole;

    /// Whether the events took `text`; when they did, they give `toml`'s
    /// tree. So does the hand scan when it takes it, which it does only
    /// when the events do.
    fn taken(text: &str) -> bool {
        let reference = parse_whole(text);
        let same = |read: Option<crate::manifest::Node>, by: &str| match (read, &reference) {
            (None, _) => false,
            (Some(read), Ok(reference)) => {
                // Compared as printed: `nan` is not equal to itself.
                assert_eq!(
                    format!("{read:?}"),
                    format!("{reference:?}"),
                    "{by}: {text}"
                );
                true
            }
            (Some(_), Err(errors)) => panic!("{by} read what toml rejects: {errors:?}\n{text}"),
        };
        let scanned = same(super::super::scan::parse(text, 0), "scan");
        let events = same(super::parse_events(text, 0), "events");
        assert!(!scanned || events, "scanned what the events leave: {text}");
        events
    }

    /// Whether the hand scan takes `text` (and gives `toml`'s tree).
    fn scanned(text: &str) -> bool {
        taken(text) && super::super::scan::parse(text, 0).is_some()
    }

    fn texts_under(folder: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(folder) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                texts_under(&path, out);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                out.push(text);
            }
        }
    }

    #[test]
    fn the_repo_s_manifests_near_misses_and_fuzz_inputs_read_as_toml_reads_them() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut manifests = Vec::new();
        for folder in ["tests", "examples"] {
            texts_under(&root.join(folder), &mut manifests);
        }
        manifests.retain(|text| text.contains("[[operations]]"));
        let read = manifests.iter().filter(|text| taken(text)).count();
        assert!(manifests.len() > 50, "{} manifests", manifests.len());
        // Most manifests have the common shape; many are scanned.
        assert!(read * 2 > manifests.len(), "{read} of {}", manifests.len());
        let scanned = manifests.iter().filter(|text| scanned(text)).count();
        assert!(
            scanned * 3 > manifests.len(),
            "{scanned} of {}",
            manifests.len()
        );
        // Near misses: every manifest cut short, and with a byte taken out,
        // at twenty places each.
        for text in &manifests {
            let step = text.len() / 20 + 1;
            for at in (0..text.len()).step_by(step) {
                if text.is_char_boundary(at) && text.is_char_boundary(at + 1) {
                    taken(&text[..at]);
                    taken(&format!("{}{}", &text[..at], &text[at + 1..]));
                }
            }
        }
        let mut fuzzed = Vec::new();
        for folder in ["fuzz/corpus", "fuzz/regressions"] {
            texts_under(&root.join(folder), &mut fuzzed);
        }
        assert!(fuzzed.len() > 1000, "{} fuzz inputs", fuzzed.len());
        for text in &fuzzed {
            taken(text);
        }
    }

    #[test]
    fn the_common_shape_is_read_and_the_rest_left_to_toml() {
        for text in [
            "",
            "version = 1\n",
            "version = 1\n[project]\nname = \"p\" # note\n\n[[operations]]\nname = 'a.b'\n",
            "[[operations]]\nname = \"a\"\nparams = { x = { type = \"int\", default = [1, 2.5, 0x1F, -1e3, -inf, true] } }\n",
            "[[operations]]\n[[operations]]\n[project]\n[deploy]\nwork_pool = \"\"\"\nmulti\\tline\"\"\"\n",
            "\"quoted key\" = 1\n'literal' = 2\n\"\\u00e9\" = 3\n[ \"spaced\" ]\na = [ [ ], { }, [ { b = 1 } ] ]\n",
            "a = 99999999999999999999\nb = 0b1010\nc = 0o17\nd = +1_000\ne = nan\n",
            "a = [\n  1, # one\n  2,\n]\r\nb = 1\r\n",
        ] {
            assert!(taken(text), "{text}");
        }
        // What the hand scan takes, and what it leaves to the events.
        let nested = |n: usize| format!("a = {}{}\n", "[".repeat(n), "]".repeat(n));
        for text in [
            "version = 1\n[project]\nname = \"p\" # note\n\n[[operations]]\nname = 'a.b'\n",
            "[[operations]]\nname = \"a\"\nparams = { x = { type = \"int\", default = [1, 2.5, 0x1F, -1e3, -inf, true] } }\n",
            "\"quoted key\" = 1\n'literal' = 2\n\"\\u00e9\" = 3\n[ \"spaced\" ]\na = [ [ ], { }, [ { b = 1 } ] ]\n",
            "a = 99999999999999999999\nb = 0b1010\nc = 0o17\nd = +1_000\ne = nan\n",
            "a = [\n  1, # one\n  2,\n]\r\nb = 1\r\n",
            "a = \"q\\\"uote\" \t# é\nb = ''\nc = \"\"\n",
            nested(80).as_str(),
        ] {
            assert!(scanned(text), "{text}");
        }
        for text in [
            "[[operations]]\n[[operations]]\n[project]\n[deploy]\nwork_pool = \"\"\"\nmulti\\tline\"\"\"\n",
            "a = '''lit'''\n",
            "a = { b = 1, }\n",
            "a = { b = 1,\n c = 2 }\n",
            "a . b = 1\n",
            "a = 1979-05-27\n",
            "a = 07:32:00\n",
            "a = \"new\\\nline\"\n",
            "a = 1\rb = 2\n",
            "a = 1 # bell \u{7}\n",
            "a = [1 2]\n",
            "a = 1 2\n",
            nested(81).as_str(),
        ] {
            taken(text);
            assert!(super::super::scan::parse(text, 0).is_none(), "{text}");
        }
        let many_keys: String = (0..100).map(|i| format!("k{i} = {i}\n")).collect();
        let deep = format!("a = {}{}\n", "[".repeat(100), "]".repeat(100));
        for text in [
            "a.b = 1\n",
            "[flows.a]\n",
            "[a]\nb = { c.d = 1 }\n",
            "a = 1\na = 2\n",
            "[a]\n[a]\n",
            "a = 1\n[a]\n",
            "a = [1]\n[[a]]\n",
            "[a]\n[[a]]\n",
            "[[a]]\n[a]\n",
            "a = { b = 1, b = 2 }\n",
            "d = 1979-05-27T07:32:00Z\n",
            "a = \n",
            "a = \"unterminated\n",
            "[[operations]\n",
            "a = 1 b = 2\n",
            "a = \"\\q\"\n",
            "# bell \u{7}\n",
            many_keys.as_str(),
            deep.as_str(),
        ] {
            assert!(!taken(text), "{text}");
        }
    }
}
