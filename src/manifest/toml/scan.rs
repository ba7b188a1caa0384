//! The common shape of a TOML manifest, scanned by hand: what `toml_parser`'s
//! lexer and parser would find in it, handed as the same events to the same
//! [`Builder`], without the token list in between (that pair was over half
//! the time of reading a large manifest).
//!
//! Only a strict subset is scanned: one-line keys and values, `[table]` and
//! `[[array]]` headers, one-line strings, inline tables on one line without
//! a trailing comma, arrays over any lines, comments. Anything else (a
//! multi-line string, a dotted key, a date, a stray character) gives `None`,
//! and [`super::events`] reads the text with `toml_parser` instead. What is
//! scanned is decoded and checked by `toml_parser`'s own decoders; a test
//! reads every manifest of the suite, its near misses and the fuzz inputs
//! both ways and compares with the `toml` crate's tree.

use toml_parser::decoder::Encoding;
use toml_parser::parser::EventReceiver;

use super::events::{Builder, Failed, MAX_DEPTH};
use crate::manifest::Node;

/// The document tree of `text` (a piece of the manifest starting `offset`
/// bytes in), when it has the scanned shape and no error.
pub(super) fn parse(text: &str, offset: usize) -> Option<Node> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: 0,
        builder: Builder::new(text, offset),
        failed: Failed(false),
        depth: 0,
    };
    scanner.document()?;
    if scanner.failed.0 {
        return None;
    }
    scanner.builder.finish()
}

struct Scanner<'t> {
    bytes: &'t [u8],
    at: usize,
    builder: Builder<'t>,
    failed: Failed,
    /// Arrays and inline tables open.
    depth: u32,
}

fn span(start: usize, end: usize) -> toml_parser::Span {
    toml_parser::Span::new_unchecked(start, end)
}

const fn is_bare(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// What an unquoted value (number, boolean) is made of.
const fn is_unquoted(b: u8) -> bool {
    is_bare(b) || b == b'+' || b == b'.'
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn spaces(&mut self) {
        while let Some(b' ' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// A comment, if one starts here: up to the end of its line.
    fn comment(&mut self) -> Option<()> {
        if self.peek() != Some(b'#') {
            return Some(());
        }
        while let Some(b) = self.peek() {
            match b {
                b'\n' | b'\r' => break,
                // Control characters are not allowed in comments.
                b'\t' => {}
                0..0x20 | 0x7f => return None,
                _ => {}
            }
            self.at += 1;
        }
        Some(())
    }

    /// The end of a line (or of the text).
    fn newline(&mut self) -> Option<()> {
        match self.peek() {
            None => Some(()),
            Some(b'\n') => {
                self.at += 1;
                Some(())
            }
            Some(b'\r') if self.bytes.get(self.at + 1) == Some(&b'\n') => {
                self.at += 2;
                Some(())
            }
            _ => None,
        }
    }

    /// Spaces, a comment, and the end of the line.
    fn line_end(&mut self) -> Option<()> {
        self.spaces();
        self.comment()?;
        self.newline()
    }

    fn document(&mut self) -> Option<()> {
        loop {
            self.spaces();
            match self.peek() {
                None => return Some(()),
                Some(b'#' | b'\n' | b'\r') => self.line_end()?,
                Some(b'[') => self.header()?,
                Some(_) => {
                    self.key_value()?;
                    self.line_end()?;
                }
            }
        }
    }

    /// `key = value`, at the top level or in an inline table.
    fn key_value(&mut self) -> Option<()> {
        self.key()?;
        self.spaces();
        if self.peek()? != b'=' {
            return None;
        }
        self.at += 1;
        self.spaces();
        self.value()
    }

    /// `[key]` or `[[key]]`, and the rest of its line.
    fn header(&mut self) -> Option<()> {
        let start = self.at;
        let array = self.bytes.get(start + 1) == Some(&b'[');
        let width = if array { 2 } else { 1 };
        self.at += width;
        if array {
            self.builder
                .array_table_open(span(start, self.at), &mut self.failed);
        } else {
            self.builder
                .std_table_open(span(start, self.at), &mut self.failed);
        }
        self.spaces();
        self.key()?;
        self.spaces();
        let close = if array { &b"]]"[..] } else { &b"]"[..] };
        if !self.bytes[self.at..].starts_with(close) {
            return None;
        }
        let end = self.at + width;
        if array {
            self.builder
                .array_table_close(span(self.at, end), &mut self.failed);
        } else {
            self.builder
                .std_table_close(span(self.at, end), &mut self.failed);
        }
        self.at = end;
        self.line_end()
    }

    /// A key of one segment: bare, or a one-line string.
    fn key(&mut self) -> Option<()> {
        let start = self.at;
        let encoding = match self.peek()? {
            b'"' | b'\'' => Some(self.string()?),
            b if is_bare(b) => {
                while self.peek().is_some_and(is_bare) {
                    self.at += 1;
                }
                None
            }
            _ => return None,
        };
        // A dotted key is left to `toml_parser`.
        let after = self.at;
        self.spaces();
        if self.peek() == Some(b'.') {
            return None;
        }
        self.at = after;
        self.builder
            .simple_key(span(start, self.at), encoding, &mut self.failed);
        Some(())
    }

    /// A one-line string, quotes and all (its contents are checked as it is
    /// decoded).
    fn string(&mut self) -> Option<Encoding> {
        let quote = self.peek()?;
        let encoding = if quote == b'"' {
            Encoding::BasicString
        } else {
            Encoding::LiteralString
        };
        // `""` could open a multi-line string (`"""`).
        if self.bytes[self.at..].starts_with(&[quote, quote]) {
            if self.bytes.get(self.at + 2) == Some(&quote) {
                return None;
            }
            self.at += 2;
            return Some(encoding);
        }
        self.at += 1;
        loop {
            match self.peek()? {
                b if b == quote => {
                    self.at += 1;
                    return Some(encoding);
                }
                b'\\' if quote == b'"' => {
                    // The escaped character cannot end the string; a line
                    // ending cannot be escaped in a one-line string.
                    match self.bytes.get(self.at + 1)? {
                        b'\n' | b'\r' => return None,
                        _ => self.at += 2,
                    }
                }
                b'\n' | b'\r' => return None,
                _ => self.at += 1,
            }
        }
    }

    fn value(&mut self) -> Option<()> {
        let start = self.at;
        match self.peek()? {
            b'"' | b'\'' => {
                let encoding = self.string()?;
                self.builder
                    .scalar(span(start, self.at), Some(encoding), &mut self.failed);
            }
            b'[' => self.array()?,
            b'{' => self.inline_table()?,
            b if is_unquoted(b) => {
                while self.peek().is_some_and(is_unquoted) {
                    self.at += 1;
                }
                // Only what may follow a value: a date-time's `:` or space
                // and anything stray are left to `toml_parser`.
                if !matches!(
                    self.peek(),
                    None | Some(b' ' | b'\t' | b',' | b']' | b'}' | b'#' | b'\n' | b'\r')
                ) {
                    return None;
                }
                self.builder
                    .scalar(span(start, self.at), None, &mut self.failed);
            }
            _ => return None,
        }
        Some(())
    }

    fn open(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// Spaces, line ends and comments between an array's items.
    fn array_space(&mut self) -> Option<()> {
        loop {
            self.spaces();
            match self.peek() {
                Some(b'#' | b'\n' | b'\r') => self.line_end()?,
                _ => return Some(()),
            }
        }
    }

    fn array(&mut self) -> Option<()> {
        self.open()?;
        if !self
            .builder
            .array_open(span(self.at, self.at + 1), &mut self.failed)
        {
            return None;
        }
        self.at += 1;
        loop {
            self.array_space()?;
            if self.peek()? == b']' {
                break;
            }
            self.value()?;
            self.array_space()?;
            match self.peek()? {
                b',' => self.at += 1,
                b']' => break,
                _ => return None,
            }
        }
        self.builder
            .array_close(span(self.at, self.at + 1), &mut self.failed);
        self.at += 1;
        self.depth -= 1;
        Some(())
    }

    /// An inline table on one line, without a trailing comma.
    fn inline_table(&mut self) -> Option<()> {
        self.open()?;
        if !self
            .builder
            .inline_table_open(span(self.at, self.at + 1), &mut self.failed)
        {
            return None;
        }
        self.at += 1;
        self.spaces();
        if self.peek()? != b'}' {
            loop {
                self.key_value()?;
                self.spaces();
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.spaces();
                    }
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        self.builder
            .inline_table_close(span(self.at, self.at + 1), &mut self.failed);
        self.at += 1;
        self.depth -= 1;
        Some(())
    }
}
