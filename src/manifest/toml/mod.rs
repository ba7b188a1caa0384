//! TOML → [`Node`]: straight from the parser's events for manifests of the
//! common shape ([`events`]), else through `toml`'s spanned document tree,
//! whose errors are the ones reported.
//!
//! A large manifest is read in pieces, on every core: it is cut before lines
//! that are exactly `[[operations]]`, each piece is parsed on its own, and
//! the pieces' `operations` are joined. A cut inside a multi-line string or
//! array leaves the piece before it unterminated, so every piece parsing
//! cleanly means the cuts were between entries; when a piece fails, or two
//! pieces define the same top-level key other than `operations`, the whole
//! text is parsed at once instead, and its errors are the ones reported. Each
//! piece's token, event and table lists are dropped as soon as its nodes are
//! built, so only a few pieces' worth is ever alive at once.

mod events;
mod scan;

use toml::de::{DeTable, DeValue};

use super::{Key, Node, Span, Value};

type Spanned<T> = toml::Spanned<T>;

/// The header a piece starts with.
const HEADER: &str = "[[operations]]";

/// Below this, one parse on one core.
const SPLIT_FROM: usize = 512 * 1024;

/// About the size of a piece: small enough that the memory one piece frees is
/// what the next one on the same thread fills.
const PIECE: usize = 32 * 1024;

/// The document, and whether it is known to be nested less deeply than
/// [`MAX_NESTING`](super::MAX_NESTING) (then nothing needs to walk it to
/// check): what [`events`] reads is, the `toml` crate's tree may not be.
pub(super) fn parse(text: &str) -> Result<(Node, bool), Vec<(String, Span)>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(8);
    if text.len() >= SPLIT_FROM
        && workers > 1
        && let Some(parsed) = parse_in_pieces(text, PIECE, workers)
    {
        return Ok(parsed);
    }
    match events::parse(text, 0) {
        Some(root) => Ok((root, true)),
        None => parse_whole(text).map(|root| (root, false)),
    }
}

/// The document from pieces of about `size` bytes parsed by `workers`
/// threads, or `None` when it must be parsed whole; and whether every piece
/// was read by [`events`] (joining pieces nests nothing deeper).
fn parse_in_pieces(text: &str, size: usize, workers: usize) -> Option<(Node, bool)> {
    let pieces = pieces(text, size);
    if pieces.len() < 2 {
        return None;
    }
    let parsed = crate::parallel::map(&pieces, workers, |&(start, end)| {
        let piece = &text[start..end];
        if let Some(root) = events::parse(piece, start) {
            return Some((root, true));
        }
        let mut root = parse_whole(piece).ok()?;
        if start > 0 {
            super::shift_spans(&mut root, &|span: Span| {
                Span::new(span.start() + start, span.end() + start)
            });
        }
        Some((root, false))
    });
    let mut parsed = parsed.into_iter();
    let (mut root, mut bounded) = parsed.next()??;
    for piece in parsed {
        let (piece, piece_bounded) = piece?;
        join(text, &mut root, piece)?;
        bounded &= piece_bounded;
    }
    Some((root, bounded))
}

/// Byte ranges of the pieces: cut before `[[operations]]` lines, each piece
/// at least `size` bytes (but the last).
fn pieces(text: &str, size: usize) -> Vec<(usize, usize)> {
    let mut cuts = vec![0];
    let mut from = size;
    while from < text.len() {
        while !text.is_char_boundary(from) {
            from += 1;
        }
        let Some(found) = text[from..].find(HEADER) else {
            break;
        };
        let at = from + found;
        let after = &text[at + HEADER.len()..];
        let whole_line = text[..at].ends_with('\n')
            && (after.starts_with('\n') || after.starts_with("\r\n") || after.is_empty());
        if whole_line {
            cuts.push(at);
            from = at + size;
        } else {
            from = at + HEADER.len();
        }
    }
    cuts.push(text.len());
    cuts.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Add a later piece's top-level entries to the document; `None` when they
/// cannot be joined without parsing the whole text.
fn join(text: &str, root: &mut Node, piece: Node) -> Option<()> {
    let (Value::Table(entries), Value::Table(more)) = (&mut root.value, piece.value) else {
        return None;
    };
    for (key, value) in more {
        let existing = entries.iter_mut().find(|(k, _)| k.name == key.name);
        match existing {
            None => entries.push((key, value)),
            // Both from `[[operations]]` headers (not `operations = [...]`):
            // one array of tables, continued.
            Some((
                old,
                Node {
                    value: Value::Array(items),
                    ..
                },
            )) if key.name == "operations"
                && text[..old.span.start()].ends_with("[[")
                && text[..key.span.start()].ends_with("[[") =>
            {
                let Value::Array(more_items) = value.value else {
                    return None;
                };
                items.extend(more_items);
            }
            Some(_) => return None,
        }
    }
    Some(())
}

fn parse_whole(text: &str) -> Result<Node, Vec<(String, Span)>> {
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
    let mut errors = Vec::new();
    let root = Node {
        span: Span::new(span.start, span.end),
        value: table_value(table.get_ref(), &mut errors),
    };
    if errors.is_empty() {
        Ok(root)
    } else {
        Err(errors)
    }
}

fn table_value(table: &DeTable<'_>, errors: &mut Vec<(String, Span)>) -> Value {
    Value::Table(
        table
            .iter()
            .map(|(key, value)| {
                let span = key.span();
                (
                    Key {
                        name: key.get_ref().as_ref().into(),
                        span: Span::new(span.start, span.end),
                    },
                    node(value, errors),
                )
            })
            .collect(),
    )
}

fn node(value: &Spanned<DeValue<'_>>, errors: &mut Vec<(String, Span)>) -> Node {
    let span = Span::new(value.span().start, value.span().end);
    let value = match value.get_ref() {
        DeValue::String(s) => Value::Str(s.as_ref().into()),
        DeValue::Integer(i) => integer(i.as_str(), i.radix()).unwrap_or_else(|| {
            errors.push((no_digits(i.radix()), span));
            Value::Null
        }),
        DeValue::Float(f) => Value::Float(float(f.as_str())),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Datetime(compact_str::format_compact!("{d}")),
        DeValue::Array(items) => {
            Value::Array(items.iter().map(|item| node(item, errors)).collect())
        }
        DeValue::Table(table) => table_value(table, errors),
    };
    Node { span, value }
}

/// An integer from its digits in `radix` (sign included, prefix and
/// underscores not), or `None` when it has no digits (`toml_parser` lets
/// `0x` by). Beyond 64 bits it is kept exact, as decimal digits.
fn integer(digits: &str, radix: u32) -> Option<Value> {
    const LIMB: u64 = 1_000_000_000;
    if let Ok(i) = i64::from_str_radix(digits, radix) {
        return Some(Value::Int(i));
    }
    let (negative, unsigned) = match digits.strip_prefix('-') {
        Some(unsigned) => (true, unsigned),
        None => (false, digits.strip_prefix('+').unwrap_or(digits)),
    };
    if unsigned.is_empty() {
        return None;
    }
    if radix == 10 {
        let sign = if negative { "-" } else { "" };
        return Some(Value::BigInt(compact_str::format_compact!(
            "{sign}{unsigned}"
        )));
    }
    // Another radix, converted: base 10⁹ limbs, least significant first.
    let mut limbs: Vec<u64> = vec![0];
    for digit in unsigned.chars() {
        let mut carry = u64::from(digit.to_digit(radix)?);
        for limb in &mut limbs {
            let value = *limb * u64::from(radix) + carry;
            *limb = value % LIMB;
            carry = value / LIMB;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    let mut text = compact_str::CompactString::default();
    if negative {
        text.push('-');
    }
    let mut limbs = limbs.iter().rev();
    if let Some(first) = limbs.next() {
        text.push_str(&first.to_string());
    }
    for limb in limbs {
        text.push_str(&format!("{limb:09}"));
    }
    Some(Value::BigInt(text))
}

/// Why an integer with a prefix but no digits is refused.
fn no_digits(radix: u32) -> String {
    let prefix = match radix {
        16 => "0x",
        8 => "0o",
        2 => "0b",
        _ => "",
    };
    format!("expected digits after `{prefix}`")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Read in pieces of every size, a text gives the whole parse's tree, or
    /// is parsed whole.
    fn same_in_pieces(text: &str) {
        let whole = parse_whole(text);
        for size in 1..text.len() {
            for workers in [1, 2, 3] {
                match (parse_in_pieces(text, size, workers), &whole) {
                    (None, _) => {}
                    (Some((root, bounded)), Ok(expected)) => {
                        assert_eq!(&root, expected, "size {size}, {workers} workers:\n{text}");
                        assert!(!bounded || super::super::too_deep(&root, 0).is_none());
                    }
                    (Some(_), Err(errors)) => {
                        panic!(
                            "size {size}: pieces parsed what the whole text rejects: {errors:?}\n{text}"
                        )
                    }
                }
            }
        }
    }

    #[test]
    fn integers_of_every_radix_and_size_are_kept_exact_in_decimal() {
        let big = |text: &str| Some(Value::BigInt(text.into()));
        assert_eq!(integer("ff", 16), Some(Value::Int(255)));
        assert_eq!(integer("-42", 10), Some(Value::Int(-42)));
        assert_eq!(integer("+7", 10), Some(Value::Int(7)));
        assert_eq!(
            integer("9223372036854775808", 10),
            big("9223372036854775808")
        );
        assert_eq!(
            integer("+99999999999999999999", 10),
            big("99999999999999999999")
        );
        assert_eq!(
            integer("-99999999999999999999", 10),
            big("-99999999999999999999")
        );
        // Past 128 bits too: every radix to decimal digits, not a prefix.
        assert_eq!(
            integer(&"7".repeat(50), 8),
            big("1427247692705959881058285969449495136382746623")
        );
        assert_eq!(
            integer(&"1".repeat(130), 2),
            big("1361129467683753853853498429727072845823")
        );
        assert_eq!(
            integer(&"DEADBEEF".repeat(5), 16),
            big("1271270613000041655817448348132275889066893754095")
        );
        assert_eq!(
            integer("10000000000000000", 16),
            big("18446744073709551616")
        );
        // A prefix without digits (`0x`), which `toml_parser` lets by.
        assert_eq!(integer("", 16), None);
        assert_eq!(integer("", 2), None);
        assert!(parse_whole("a = 0x\n").is_err());
        assert!(parse("a = 0o\n").is_err());
    }

    const OP: &str = "[[operations]]\nname = \"a.b\"\ncall = \"m:f\"\nparams = { x = { type = \"int\", default = 1 } }\n";

    #[test]
    fn pieces_join_into_the_whole_tree() {
        let text = format!(
            "version = 1\n[project]\nname = \"p\"\n\n{OP}{OP}\n{OP}[operations.deploy]\nretries = 1\n{OP}"
        );
        same_in_pieces(&text);
        assert!(
            parse_in_pieces(&text, 10, 2).is_some(),
            "cut between operations"
        );
        same_in_pieces(&text.replace('\n', "\r\n"));
        // Tables after the operations, once or twice.
        same_in_pieces(&format!("{text}[flows.a]\ndescription = \"d\"\n"));
        same_in_pieces(&format!("{text}[flows.a]\n{OP}[flows.b]\n"));
        // Cuts looked for from inside a character of several bytes.
        same_in_pieces(&format!(
            "version = 1\n{OP}doc = \"é ✓ 𝄞\"\n{OP}doc = \"ü\"\n{OP}"
        ));
    }

    #[test]
    fn cuts_inside_strings_and_arrays_fall_back_to_the_whole_text() {
        for inside in [
            "doc = \"\"\"\n[[operations]]\n\"\"\"\n",
            "doc = \'\'\'\n[[operations]]\n\'\'\'\n",
            "tags = [\n\"a\",\n[[operations]]\n]\n",
            "tags = [\n[[operations]]\n]\n",
        ] {
            same_in_pieces(&format!("version = 1\n{OP}{inside}{OP}{OP}"));
        }
    }

    #[test]
    fn duplicates_across_pieces_are_the_whole_parse_s_errors() {
        for text in [
            format!("version = 1\n[project]\nname = \"p\"\n{OP}{OP}[project]\nname = \"q\"\n"),
            format!("version = 1\noperations = []\n{OP}{OP}"),
            format!("version = 1\n{OP}{OP}[version]\n"),
            format!("{OP}[operations]\n{OP}"),
        ] {
            assert!(parse_whole(&text).is_err(), "{text}");
            same_in_pieces(&text);
        }
    }
}
