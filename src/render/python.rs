//! Python source pieces: literals, docstrings and identifiers, rendered so
//! that nothing from a manifest can become code. Quotes and escapes follow
//! what `ruff format` leaves, so generated files are stable under it.

use std::fmt::Write as _;
use std::hash::BuildHasher as _;

use hashbrown::HashTable;

use crate::resolve::Literal;

/// A string literal: double quotes unless the text holds more double quotes
/// than single ones (ruff's preference); every control or invisible character
/// escaped, so the literal spans one line and shows what it holds.
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    let _ = write_string(&mut out, text);
    out
}

/// [`string`], written to `out`.
pub fn write_string(out: &mut impl std::fmt::Write, text: &str) -> std::fmt::Result {
    // Most names and docs need no escape at all.
    if text
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        out.write_char('"')?;
        out.write_str(text)?;
        return out.write_char('"');
    }
    let doubles = text.matches('"').count();
    let singles = text.matches('\'').count();
    let quote = if doubles > singles { '\'' } else { '"' };
    let mut inside = String::with_capacity(text.len());
    escape_into(text, quote, &mut inside);
    out.write_char(quote)?;
    out.write_str(&inside)?;
    out.write_char(quote)
}

/// The inside of a string literal quoted with `quote`.
pub fn escape(text: &str, quote: char) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(text, quote, &mut out);
    out
}

fn escape_into(text: &str, quote: char, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_invisible(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Characters that change how a line reads without being seen: line and
/// paragraph separators, bidirectional controls, zero-width characters, BOM.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{80}'..='\u{9f}'
            | '\u{ad}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// The inside of a `"""docstring"""`: free text made inert. Backslashes and
/// quotes are escaped, control characters too; tabs become spaces and
/// trailing spaces go, as `ruff format` would do.
pub fn docstring_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.replace("\r\n", "\n").split(['\n', '\r']).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line = line.replace('\t', "    ");
        let line = line.trim_end();
        for c in line.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if is_invisible(c) => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
    }
    out.trim().to_owned()
}

/// A literal as Python source. Non-finite floats use `math` (no call), so
/// the module must `import math` when [`needs_math`] says so.
pub fn literal(value: &Literal) -> String {
    match value {
        Literal::None => "None".to_owned(),
        Literal::Bool(true) => "True".to_owned(),
        Literal::Bool(false) => "False".to_owned(),
        Literal::Int(i) => i.to_string(),
        Literal::BigInt(digits) => digits.clone(),
        Literal::Float(f) => float(*f),
        Literal::Str(s) => string(s),
        Literal::List(items) => {
            let items: Vec<String> = items.iter().map(literal).collect();
            format!("[{}]", items.join(", "))
        }
        Literal::Dict(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", string(k), literal(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

fn float(f: f64) -> String {
    if f.is_nan() {
        "math.nan".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 {
            "math.inf".to_owned()
        } else {
            "-math.inf".to_owned()
        }
    } else {
        // Rust's `{:?}` is the shortest round-trip form, like Python's repr,
        // but writes exponents as `1e20`; Python needs no change for those.
        let text = format!("{f:?}");
        if text.contains(['.', 'e', 'E']) {
            text
        } else {
            format!("{text}.0")
        }
    }
}

/// Does the literal need `import math` (a non-finite float inside)?
pub fn needs_math(value: &Literal) -> bool {
    match value {
        Literal::Float(f) => !f.is_finite(),
        Literal::List(items) => items.iter().any(needs_math),
        Literal::Dict(entries) => entries.iter().any(|(_, v)| needs_math(v)),
        _ => false,
    }
}

/// Identifiers in one Python namespace: each name claimed once; a name
/// already taken gets the first free `_2`, `_3`, … suffix. The names are
/// kept one after another in one string, the table holding only their
/// numbers: the root flow of a large manifest claims two per operation, and
/// a string of its own for each is an allocation and a free each.
#[derive(Debug, Default, Clone)]
pub struct Names {
    /// Every name claimed, one after another.
    text: String,
    /// Where each name ends in `text` (it starts where the one before ends).
    ends: Vec<usize>,
    /// The names' numbers, by their hashes.
    table: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

/// A name claimed in a [`Names`]: `names[name]` is its text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Name(u32);

impl std::ops::Index<Name> for Names {
    type Output = str;

    fn index(&self, name: Name) -> &str {
        text_of(&self.text, &self.ends, name.0)
    }
}

fn text_of<'t>(text: &'t str, ends: &[usize], number: u32) -> &'t str {
    let number = number as usize;
    let start = if number == 0 { 0 } else { ends[number - 1] };
    &text[start..ends[number]]
}

impl Names {
    /// A table with room for `n` names.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            text: String::with_capacity(16 * n),
            ends: Vec::with_capacity(n),
            table: HashTable::with_capacity(n),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn find(&self, hash: u64, name: &str) -> Option<Name> {
        self.table
            .find(hash, |&number| {
                text_of(&self.text, &self.ends, number) == name
            })
            .map(|&number| Name(number))
    }

    /// Add `name`, known not to be here.
    fn add(&mut self, hash: u64, name: &str) -> Name {
        let Self {
            text,
            ends,
            table,
            hasher,
        } = self;
        // Past four billion names, the last number is reused: no manifest
        // opflow reads (under 4 GiB) comes near.
        let number = u32::try_from(ends.len()).unwrap_or(u32::MAX);
        text.push_str(name);
        ends.push(text.len());
        table.insert_unique(hash, number, |&n| hasher.hash_one(text_of(text, ends, n)));
        Name(number)
    }

    /// Reserve a name exactly (a parameter, an import that cannot move).
    pub fn reserve(&mut self, name: &str) {
        let hash = self.hasher.hash_one(name);
        if self.find(hash, name).is_none() {
            self.add(hash, name);
        }
    }

    /// Claim `base`, or the first free variant of it.
    pub fn claim(&mut self, base: &str) -> Name {
        let hash = self.hasher.hash_one(base);
        if self.find(hash, base).is_none() {
            return self.add(hash, base);
        }
        self.claim_beside(base, &Self::default())
    }

    /// Whether `name` is taken.
    pub fn contains(&self, name: &str) -> bool {
        self.find(self.hasher.hash_one(name), name).is_some()
    }

    /// Claim `base`, or the first variant of it free here and in `also`:
    /// as [`Self::claim`] would in a table holding the names of both.
    pub fn claim_beside(&mut self, base: &str, also: &Self) -> Name {
        let mut candidate = std::borrow::Cow::Borrowed(base);
        let mut n = 1;
        while self.contains(&candidate) || also.contains(&candidate) {
            n += 1;
            candidate = format!("{base}_{n}").into();
        }
        self.add(self.hasher.hash_one(&*candidate), &candidate)
    }
}

/// An operation or flow name as a Python identifier: dots become underscores.
pub fn ident(name: &str) -> String {
    name.replace('.', "_")
}

/// An identifier cut to at most `max` characters: past that, its first
/// characters and a digest of the whole, so it stays unique and traceable.
pub fn bounded(ident: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if ident.len() <= max {
        return ident.into();
    }
    // FNV-1a: stable across runs and platforms, unlike the std hasher.
    let hash = ident.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let mut end = max.saturating_sub(7);
    while !ident.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}_{:06x}",
        ident[..end].trim_end_matches('_'),
        hash & 0xff_ffff
    )
    .into()
}

/// [`ident`], written at the end of `out` (inlined: the root module writes
/// one per operation).
#[inline]
pub fn push_ident(out: &mut String, name: &str) {
    for (i, segment) in name.split('.').enumerate() {
        if i > 0 {
            out.push('_');
        }
        out.push_str(segment);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_pushed_are_the_identifiers_made() {
        let mut out = String::from("x=");
        for name in [
            "",
            "a",
            "a.b",
            "scraping.stepstone.fetch",
            "a..b",
            ".a.",
            "é.ü",
        ] {
            out.truncate(2);
            push_ident(&mut out, name);
            assert_eq!(out, format!("x={}", ident(name)), "{name}");
        }
    }

    #[test]
    fn strings_are_inert_single_line_literals() {
        assert_eq!(string("plain"), "\"plain\"");
        assert_eq!(string("say \"hi\""), "'say \"hi\"'");
        assert_eq!(string("it's"), "\"it's\"");
        assert_eq!(
            string("a\\b\n\"\"\"; import os"),
            "'a\\\\b\\n\"\"\"; import os'"
        );
        assert_eq!(
            string("nul\0 bell\u{7} sep\u{2028} bom\u{feff}"),
            "\"nul\\x00 bell\\x07 sep\\u2028 bom\\ufeff\""
        );
        assert_eq!(string("café ✓"), "\"café ✓\"");
    }

    #[test]
    fn docstrings_cannot_be_closed_early() {
        assert_eq!(
            docstring_text("ends with a quote\""),
            "ends with a quote\\\""
        );
        assert_eq!(
            docstring_text("\"\"\"\nimport os\n\"\"\""),
            "\\\"\\\"\\\"\nimport os\n\\\"\\\"\\\""
        );
        assert_eq!(
            docstring_text("back\\slash\ttab  \r\nnext"),
            "back\\\\slash    tab\nnext"
        );
        assert_eq!(docstring_text("nul\0"), "nul\\x00");
    }

    #[test]
    fn literals() {
        let list = Literal::List(vec![
            Literal::Int(1),
            Literal::Float(f64::NAN),
            Literal::Float(f64::NEG_INFINITY),
        ]);
        assert_eq!(literal(&list), "[1, math.nan, -math.inf]");
        assert!(needs_math(&list));
        assert_eq!(literal(&Literal::Float(2.0)), "2.0");
        assert_eq!(literal(&Literal::Float(1e300)), "1e300");
        assert_eq!(literal(&Literal::Float(-0.5)), "-0.5");
        assert_eq!(
            literal(&Literal::BigInt("123456789012345678901234567890".into())),
            "123456789012345678901234567890"
        );
        let dict = Literal::Dict(vec![
            ("k".into(), Literal::Bool(true)),
            ("n".into(), Literal::None),
        ]);
        assert_eq!(literal(&dict), "{\"k\": True, \"n\": None}");
    }

    #[test]
    fn names_get_suffixes_when_taken() {
        let mut names = Names::default();
        names.reserve("merge");
        names.reserve("merge");
        let claimed: Vec<Name> = ["merge", "merge", "fetch", "fetch", "fetch_2"]
            .into_iter()
            .map(|base| names.claim(base))
            .collect();
        let texts: Vec<&str> = claimed.iter().map(|&name| &names[name]).collect();
        assert_eq!(
            texts,
            ["merge_2", "merge_3", "fetch", "fetch_2", "fetch_2_2"]
        );
        assert!(names.contains("merge") && names.contains("fetch_2_2"));
        assert!(!names.contains("fetch_3"));
        // Beside another table: free in both.
        let mut other = Names::default();
        other.reserve("fetch_3");
        let beside = names.claim_beside("fetch", &other);
        assert_eq!(&names[beside], "fetch_4");
        // Many names: the table grows, every name still found.
        let mut many = Names::with_capacity(1);
        let claimed: Vec<Name> = (0..5_000)
            .map(|i| many.claim(&format!("n{}", i % 2_500)))
            .collect();
        for (i, &name) in claimed.iter().enumerate() {
            let expected = if i < 2_500 {
                format!("n{i}")
            } else {
                format!("n{}_2", i - 2_500)
            };
            assert_eq!(&many[name], expected);
        }
    }
}
