//! Type strings (`list[jobs.models.Listing]`, `str | None`): a small grammar,
//! so nothing but a type can reach the generated code.
//!
//! ```text
//! type    := primary ('|' primary)*
//! primary := NAME ('[' list ']')? | 'None' | '...' | '[' list? ']'
//! list    := type (',' type)* ','?
//! NAME    := IDENT ('.' IDENT)*
//! ```
//!
//! No IDENT is a keyword, brackets nest at most 32 deep, and a bare NAME is a
//! builtin or a `typing` name. Opflow's Python package checks the same
//! grammar (`python/src/opflow/_types.py`); `tests/types/corpus.toml` holds
//! both to the same strings.

use std::collections::BTreeSet;
use std::fmt;

use super::Literal;
use crate::hierarchy::{is_identifier, is_keyword};

/// Builtin names usable in a type without a module.
const BUILTINS: &[&str] = &[
    "int",
    "float",
    "complex",
    "bool",
    "str",
    "bytes",
    "bytearray",
    "memoryview",
    "list",
    "dict",
    "set",
    "frozenset",
    "tuple",
    "type",
    "object",
    "range",
    "slice",
    "Exception",
    "BaseException",
];

/// `typing` names usable without a module (the generated module imports them from `typing`).
pub const TYPING: &[&str] = &[
    "Any",
    "AnyStr",
    "AbstractSet",
    "AsyncGenerator",
    "AsyncIterable",
    "AsyncIterator",
    "Awaitable",
    "BinaryIO",
    "ByteString",
    "Callable",
    "ChainMap",
    "Collection",
    "Container",
    "Coroutine",
    "Counter",
    "DefaultDict",
    "Deque",
    "Dict",
    "FrozenSet",
    "Generator",
    "Hashable",
    "IO",
    "Iterable",
    "Iterator",
    "List",
    "Mapping",
    "Match",
    "MutableMapping",
    "MutableSequence",
    "MutableSet",
    "Never",
    "NoReturn",
    "Optional",
    "OrderedDict",
    "Pattern",
    "Reversible",
    "Sequence",
    "Set",
    "Sized",
    "Text",
    "TextIO",
    "Tuple",
    "Type",
    "Union",
];

/// `typing` aliases of builtins, normalised for comparison (`List` → `list`).
const ALIASES: &[(&str, &str)] = &[
    ("List", "list"),
    ("Dict", "dict"),
    ("Set", "set"),
    ("FrozenSet", "frozenset"),
    ("Tuple", "tuple"),
    ("Type", "type"),
    ("Text", "str"),
];

/// `typing` names written with another module's name (ruff's UP006):
/// `Deque[int]` is written `collections.deque[int]`.
const RENAMED: &[(&str, &str)] = &[
    ("DefaultDict", "collections.defaultdict"),
    ("Deque", "collections.deque"),
];

/// Where generated code imports each bare `typing` name from, and what it
/// imports: ruff's UP035 wants the abstract collections from
/// `collections.abc` (`AbstractSet` as its `Set`, aliased as PYI025 asks),
/// the concrete ones from `collections` and `Match`/`Pattern` from `re`.
/// A name not listed comes from `typing`; the aliases of builtins and the
/// names of [`RENAMED`] never reach an import (`modern` rewrites them).
const HOMES: &[(&str, &str, &str)] = &[
    ("AbstractSet", "collections.abc", "Set as AbstractSet"),
    ("AsyncGenerator", "collections.abc", "AsyncGenerator"),
    ("AsyncIterable", "collections.abc", "AsyncIterable"),
    ("AsyncIterator", "collections.abc", "AsyncIterator"),
    ("Awaitable", "collections.abc", "Awaitable"),
    ("Callable", "collections.abc", "Callable"),
    ("ChainMap", "collections", "ChainMap"),
    ("Collection", "collections.abc", "Collection"),
    ("Container", "collections.abc", "Container"),
    ("Coroutine", "collections.abc", "Coroutine"),
    ("Counter", "collections", "Counter"),
    ("Generator", "collections.abc", "Generator"),
    ("Hashable", "collections.abc", "Hashable"),
    ("Iterable", "collections.abc", "Iterable"),
    ("Iterator", "collections.abc", "Iterator"),
    ("Mapping", "collections.abc", "Mapping"),
    ("Match", "re", "Match"),
    ("MutableMapping", "collections.abc", "MutableMapping"),
    ("MutableSequence", "collections.abc", "MutableSequence"),
    ("MutableSet", "collections.abc", "MutableSet"),
    ("OrderedDict", "collections", "OrderedDict"),
    ("Pattern", "re", "Pattern"),
    ("Reversible", "collections.abc", "Reversible"),
    ("Sequence", "collections.abc", "Sequence"),
    ("Sized", "collections.abc", "Sized"),
];

/// The module a bare `typing` name is imported from in generated code, and
/// the member imported (`Set as AbstractSet` for `AbstractSet`).
#[must_use]
pub fn home(name: &str) -> (&'static str, &str) {
    HOMES
        .iter()
        .find(|(bare, _, _)| *bare == name)
        .map_or(("typing", name), |(_, module, member)| (module, member))
}

/// A name in `ty` that has no clean spelling in generated code: ruff
/// (PYI057) refuses `ByteString` in any of its spellings, and it is gone
/// from Python 3.14.
#[must_use]
pub fn unwritable(ty: &TypeExpr) -> Option<&str> {
    match ty {
        TypeExpr::Name { name, args } => {
            if matches!(
                name.as_str(),
                "ByteString" | "typing.ByteString" | "collections.abc.ByteString"
            ) {
                return Some(name);
            }
            args.iter().flatten().find_map(unwritable)
        }
        TypeExpr::List(items) | TypeExpr::Union(items) => items.iter().find_map(unwritable),
        TypeExpr::None | TypeExpr::Ellipsis => None,
    }
}

/// The bottom type's names: a union member that adds nothing (ruff's RUF020).
fn is_bottom(ty: &TypeExpr) -> bool {
    matches!(ty, TypeExpr::Name { name, args: None }
        if matches!(name.strip_prefix("typing.").unwrap_or(name), "Never" | "NoReturn"))
}

/// `type[X]`'s argument: several in a union are one `type[A | B]` (PYI055).
fn type_argument(ty: &TypeExpr) -> Option<&TypeExpr> {
    match ty {
        TypeExpr::Name {
            name,
            args: Some(args),
        } if args.len() == 1 && matches!(name.as_str(), "type" | "builtins.type") => Some(&args[0]),
        _ => None,
    }
}

/// A parsed type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TypeExpr {
    /// A (dotted) name, possibly with arguments: `int`, `list[str]`, `jobs.models.Listing`.
    Name {
        name: String,
        args: Option<Vec<TypeExpr>>,
    },
    /// A bracketed list, as in `Callable[[int], str]`.
    List(Vec<TypeExpr>),
    /// `A | B`.
    Union(Vec<TypeExpr>),
    None,
    Ellipsis,
}

/// A type string that does not parse: why, and where (byte range in the string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeError {
    pub reason: String,
    pub range: (usize, usize),
    pub help: String,
}

const GRAMMAR_HELP: &str = "a type is a dotted name with optional `[...]` arguments, `None`, `...`, or a union with `|`, e.g. `list[jobs.models.Listing]` or `str | None`";

pub fn parse(text: &str) -> Result<TypeExpr, TypeError> {
    let mut parser = Parser {
        text,
        pos: 0,
        depth: 0,
    };
    parser.skip_ws();
    if parser.pos == text.len() {
        return Err(Parser::error(
            "empty type",
            parser.pos,
            parser.pos,
            GRAMMAR_HELP,
        ));
    }
    let ty = parser.union()?;
    parser.skip_ws();
    if parser.pos < text.len() {
        let end = parser.pos + parser.peek().map_or(0, char::len_utf8);
        return Err(Parser::error(
            &format!("unexpected `{}`", parser.peek().unwrap_or(' ')),
            parser.pos,
            end,
            GRAMMAR_HELP,
        ));
    }
    Ok(ty)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 32;

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c == ' ' || c == '\t' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn error(reason: &str, start: usize, end: usize, help: &str) -> TypeError {
        TypeError {
            reason: reason.to_owned(),
            range: (start, end),
            help: help.to_owned(),
        }
    }

    fn union(&mut self) -> Result<TypeExpr, TypeError> {
        let mut members = vec![self.primary()?];
        loop {
            self.skip_ws();
            if self.peek() == Some('|') {
                self.pos += 1;
                members.push(self.primary()?);
            } else {
                break;
            }
        }
        Ok(if members.len() == 1 {
            members.remove(0)
        } else {
            TypeExpr::Union(members)
        })
    }

    fn primary(&mut self) -> Result<TypeExpr, TypeError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some('[') => {
                let items = self.bracketed()?;
                Ok(TypeExpr::List(items))
            }
            Some('.') if self.text[self.pos..].starts_with("...") => {
                self.pos += 3;
                Ok(TypeExpr::Ellipsis)
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let name = self.dotted_name()?;
                if name == "None" {
                    return Ok(TypeExpr::None);
                }
                check_name(&name, start)?;
                self.skip_ws();
                let args = if self.peek() == Some('[') {
                    Some(self.bracketed()?)
                } else {
                    None
                };
                if args.as_ref().is_some_and(Vec::is_empty) {
                    return Err(Self::error(
                        "empty `[]` after a name",
                        start,
                        self.pos,
                        GRAMMAR_HELP,
                    ));
                }
                Ok(TypeExpr::Name { name, args })
            }
            Some(c) => {
                let reason = match c {
                    '"' | '\'' => "string literals are not supported in types".to_owned(),
                    _ => format!("unexpected `{c}`"),
                };
                Err(Self::error(
                    &reason,
                    start,
                    start + c.len_utf8(),
                    GRAMMAR_HELP,
                ))
            }
            None => Err(Self::error(
                "the type ends too early",
                start,
                start,
                GRAMMAR_HELP,
            )),
        }
    }

    fn dotted_name(&mut self) -> Result<String, TypeError> {
        let start = self.pos;
        loop {
            let seg_start = self.pos;
            while let Some(c) = self.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    self.pos += 1;
                } else {
                    break;
                }
            }
            let segment = &self.text[seg_start..self.pos];
            if !is_identifier(segment) {
                return Err(Self::error(
                    &format!("`{segment}` is not an identifier"),
                    seg_start,
                    self.pos.max(seg_start + 1).min(self.text.len()),
                    GRAMMAR_HELP,
                ));
            }
            let dotted = self.peek() == Some('.') && !self.text[self.pos..].starts_with("...");
            // `None` is a type on its own; as a segment (`jobs.None`,
            // `None.x`) it is a keyword Python refuses.
            if is_keyword(segment) && (segment != "None" || seg_start != start || dotted) {
                return Err(Self::error(
                    &format!("`{segment}` is a Python keyword"),
                    seg_start,
                    self.pos,
                    GRAMMAR_HELP,
                ));
            }
            if dotted {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(self.text[start..self.pos].to_owned())
    }

    fn bracketed(&mut self) -> Result<Vec<TypeExpr>, TypeError> {
        let open = self.pos;
        self.pos += 1; // '['
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Self::error(
                "types are nested too deeply",
                open,
                open + 1,
                GRAMMAR_HELP,
            ));
        }
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(']') => {
                    self.pos += 1;
                    break;
                }
                None => {
                    return Err(Self::error(
                        "`[` is never closed",
                        open,
                        open + 1,
                        "close it with `]`",
                    ));
                }
                _ => {}
            }
            items.push(self.union()?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(']') => {}
                None => {
                    return Err(Self::error(
                        "`[` is never closed",
                        open,
                        open + 1,
                        "close it with `]`",
                    ));
                }
                Some(c) => {
                    return Err(Self::error(
                        &format!("unexpected `{c}`"),
                        self.pos,
                        self.pos + c.len_utf8(),
                        "separate arguments with `,` and close with `]`",
                    ));
                }
            }
        }
        self.depth -= 1;
        Ok(items)
    }
}

fn check_name(name: &str, start: usize) -> Result<(), TypeError> {
    if name.contains('.') || BUILTINS.contains(&name) || TYPING.contains(&name) {
        return Ok(());
    }
    Err(TypeError {
        reason: format!("`{name}` is neither a builtin nor a `typing` name"),
        range: (start, start + name.len()),
        help: format!(
            "write the class with its module, e.g. `mypackage.models.{name}`, so the generated code can import it"
        ),
    })
}

impl TypeExpr {
    /// The form written into generated code (Python ≥ 3.10, as ruff's `UP`
    /// rules want it): `Optional[X]` → `X | None`, `Union[A, B]` → `A | B`,
    /// `List[int]` → `list[int]`; order kept.
    #[must_use]
    pub fn modern(&self) -> Self {
        match self {
            Self::Name { name, args } => {
                let args: Option<Vec<Self>> = args
                    .as_ref()
                    .map(|args| args.iter().map(Self::modern).collect());
                let base = name.strip_prefix("typing.").unwrap_or(name);
                match (base, args) {
                    ("Optional", Some(args)) if args.len() == 1 => {
                        Self::Union(vec![args[0].clone(), Self::None]).flatten()
                    }
                    ("Union", Some(args)) if !args.is_empty() => Self::Union(args).flatten(),
                    (base, args) => match ALIASES
                        .iter()
                        .chain(RENAMED)
                        .find(|(alias, _)| *alias == base)
                    {
                        Some((_, builtin)) => Self::Name {
                            name: (*builtin).to_owned(),
                            args,
                        },
                        None => Self::Name {
                            name: name.clone(),
                            args,
                        },
                    },
                }
            }
            Self::List(items) => Self::List(items.iter().map(Self::modern).collect()),
            Self::Union(members) => {
                Self::Union(members.iter().map(Self::modern).collect()).flatten()
            }
            Self::None | Self::Ellipsis => self.clone(),
        }
    }

    /// A union with nested unions spliced in and repeats dropped, order
    /// kept; then as ruff rewrites it: the bottom type dropped beside any
    /// other member (`Never | int` is `int`, RUF020), and the `type[...]`
    /// members made one where the first stood (`type[A] | type[B]` is
    /// `type[A | B]`, PYI055).
    fn flatten(self) -> Self {
        let Self::Union(members) = self else {
            return self;
        };
        let mut flat: Vec<Self> = Vec::new();
        for member in members {
            let inner = match member {
                Self::Union(inner) => inner,
                other => vec![other],
            };
            for item in inner {
                if !flat.contains(&item) {
                    flat.push(item);
                }
            }
        }
        Self::simplified(flat, Self::flatten)
    }

    /// A union's members, flattened and without repeats, simplified as
    /// [`Self::flatten`] says; `again` puts a merged `type[...]`'s argument
    /// in the same form as the rest.
    fn simplified(mut flat: Vec<Self>, again: fn(Self) -> Self) -> Self {
        if flat.iter().any(|m| !is_bottom(m)) {
            flat.retain(|m| !is_bottom(m));
        } else {
            flat.truncate(1);
        }
        let classes: Vec<Self> = flat.iter().filter_map(type_argument).cloned().collect();
        if classes.len() > 1 {
            let first = flat.iter().position(|m| type_argument(m).is_some());
            let merged = Self::Name {
                name: "type".to_owned(),
                args: Some(vec![again(Self::Union(classes))]),
            };
            flat.retain(|m| type_argument(m).is_none());
            flat.insert(first.unwrap_or(0), merged);
        }
        if flat.len() == 1 {
            flat.remove(0)
        } else {
            Self::Union(flat)
        }
    }

    /// The form used to compare types: aliases resolved (`List` → `list`,
    /// `Optional[X]` → `X | None`), union members sorted and deduplicated.
    #[must_use]
    pub fn normalized(&self) -> Self {
        match self {
            Self::Name { name, args } => {
                let base = name
                    .strip_prefix("typing.")
                    .or_else(|| name.strip_prefix("builtins."))
                    .unwrap_or(name);
                let args: Option<Vec<Self>> = args
                    .as_ref()
                    .map(|args| args.iter().map(Self::normalized).collect());
                match (base, args) {
                    ("Optional", Some(args)) if args.len() == 1 => {
                        Self::Union(vec![args[0].clone(), Self::None]).normalized()
                    }
                    ("Union", Some(args)) => Self::Union(args).normalized(),
                    (base, args) => {
                        let base = ALIASES
                            .iter()
                            .chain(RENAMED)
                            .find(|(alias, _)| *alias == base)
                            .map_or(base, |(_, to)| to);
                        Self::Name {
                            name: base.to_owned(),
                            args,
                        }
                    }
                }
            }
            Self::List(items) => Self::List(items.iter().map(Self::normalized).collect()),
            Self::Union(members) => {
                let mut flat = BTreeSet::new();
                for member in members {
                    match member.normalized() {
                        Self::Union(inner) => flat.extend(inner),
                        other => {
                            flat.insert(other);
                        }
                    }
                }
                match Self::simplified(flat.into_iter().collect(), |ty| ty.normalized()) {
                    // A merged `type[...]` sorts among the members again.
                    Self::Union(members) => {
                        let mut members: Vec<Self> = members
                            .into_iter()
                            .collect::<BTreeSet<_>>()
                            .into_iter()
                            .collect();
                        if members.len() == 1 {
                            members.remove(0)
                        } else {
                            Self::Union(members)
                        }
                    }
                    other => other,
                }
            }
            Self::None | Self::Ellipsis => self.clone(),
        }
    }

    /// Modules the generated code imports for this type (`jobs.models` for
    /// `jobs.models.Listing`, `builtins` for `builtins.int`); bare names
    /// need none.
    pub fn modules(&self, out: &mut BTreeSet<String>) {
        match self {
            Self::Name { name, args } => {
                if let Some((module, _)) = name.rsplit_once('.') {
                    out.insert(module.to_owned());
                }
                for arg in args.iter().flatten() {
                    arg.modules(out);
                }
            }
            Self::List(items) | Self::Union(items) => {
                for item in items {
                    item.modules(out);
                }
            }
            Self::None | Self::Ellipsis => {}
        }
    }
}

impl fmt::Display for TypeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, items: &[Self]| -> fmt::Result {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        };
        match self {
            Self::Name { name, args } => {
                f.write_str(name)?;
                if let Some(args) = args {
                    f.write_str("[")?;
                    list(f, args)?;
                    f.write_str("]")?;
                }
                Ok(())
            }
            Self::List(items) => {
                f.write_str("[")?;
                list(f, items)?;
                f.write_str("]")
            }
            Self::Union(members) => {
                for (i, member) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    write!(f, "{member}")?;
                }
                Ok(())
            }
            Self::None => f.write_str("None"),
            Self::Ellipsis => f.write_str("..."),
        }
    }
}

/// Are two type strings the same type (after normalising)?
pub fn same(a: &TypeExpr, b: &TypeExpr) -> bool {
    a.normalized() == b.normalized()
}

/// Can a value of type `source` be passed where `target` is declared? The
/// same type after normalising; `Any` or `object` on either side; a union
/// target that accepts it (`int` into `int | None`); a union source whose
/// every member is accepted. Nothing else is assumed about classes.
pub fn accepts(target: &TypeExpr, source: &TypeExpr) -> bool {
    accepts_normalized(&target.normalized(), &source.normalized())
}

fn accepts_normalized(target: &TypeExpr, source: &TypeExpr) -> bool {
    fn bare(ty: &TypeExpr) -> Option<&str> {
        match ty {
            TypeExpr::Name { name, args: None } => Some(name.as_str()),
            _ => None,
        }
    }
    let open = |ty: &TypeExpr| matches!(bare(ty), Some("Any" | "object"));
    if target == source || open(target) || open(source) {
        return true;
    }
    // The numeric tower, as type checkers read it: a `bool` is an `int`, an
    // `int` a `float`, a `float` a `complex`.
    if let (Some(to), Some(from)) = (bare(target), bare(source))
        && matches!(
            (to, from),
            ("int", "bool") | ("float", "int" | "bool") | ("complex", "float" | "int" | "bool")
        )
    {
        return true;
    }
    if let TypeExpr::Union(members) = source {
        return members.iter().all(|m| accepts_normalized(target, m));
    }
    // A bare generic is one of `Any`s (`list` = `list[Any]`); arguments are
    // compared one by one (`list[int]` into `list[Any]`).
    if let (
        TypeExpr::Name {
            name: to,
            args: to_args,
        },
        TypeExpr::Name {
            name: from,
            args: from_args,
        },
    ) = (target, source)
        && to == from
    {
        return match (to_args, from_args) {
            (Some(to_args), Some(from_args)) => {
                to_args.len() == from_args.len()
                    && to_args
                        .iter()
                        .zip(from_args)
                        .all(|(t, f)| accepts_normalized(t, f))
            }
            _ => true,
        };
    }
    if let TypeExpr::Union(members) = target {
        return members.iter().any(|m| accepts_normalized(m, source));
    }
    false
}

/// Why the default `value` does not fit the declared type `ty`, or `None`
/// when it fits or the type is one the grammar cannot judge (a user's class,
/// `Callable`, an abstract collection): builtins, `list`/`set`/`tuple`/`dict`
/// with their arguments, `None`, `Optional` and unions are judged.
pub fn judge_default(ty: &TypeExpr, value: &Literal) -> Option<String> {
    judge(&ty.normalized(), value).err()
}

fn judge(ty: &TypeExpr, value: &Literal) -> Result<(), String> {
    let mismatch = || Err(format!("{} is not {}", describe(value), article(ty)));
    match ty {
        TypeExpr::None => match value {
            Literal::None => Ok(()),
            _ => mismatch(),
        },
        TypeExpr::Union(members) => {
            let mut reasons = Vec::new();
            for member in members {
                match judge(member, value) {
                    Ok(()) => return Ok(()),
                    Err(reason) => reasons.push(reason),
                }
            }
            // One member deeper than the top level explains best (`list[int]`'s item).
            match reasons
                .into_iter()
                .find(|r| r.starts_with("item") || r.starts_with("key") || r.starts_with("value"))
            {
                Some(reason) => Err(reason),
                None => mismatch(),
            }
        }
        TypeExpr::Name { name, args } => {
            let args = args.as_deref().unwrap_or(&[]);
            match (name.as_str(), value) {
                ("Any" | "object", _)
                | ("bool", Literal::Bool(_))
                | ("int", Literal::Int(_) | Literal::BigInt(_) | Literal::Bool(_))
                | (
                    "float" | "complex",
                    Literal::Int(_) | Literal::BigInt(_) | Literal::Float(_) | Literal::Bool(_),
                )
                | ("str", Literal::Str(_)) => Ok(()),
                ("list" | "set" | "frozenset", Literal::List(items)) => match args {
                    [item] => each(items, |_| item),
                    _ => Ok(()),
                },
                ("tuple", Literal::List(items)) => match args {
                    [item, TypeExpr::Ellipsis] => each(items, |_| item),
                    [] => Ok(()),
                    fixed if fixed.len() == items.len() => each(items, |i| &fixed[i]),
                    fixed => Err(format!(
                        "{} has {} item{}, `{ty}` has {}",
                        describe(value),
                        items.len(),
                        if items.len() == 1 { "" } else { "s" },
                        fixed.len()
                    )),
                },
                ("dict", Literal::Dict(entries)) => match args {
                    [key, item] => {
                        for (k, v) in entries {
                            if let Err(reason) = judge(key, &Literal::Str(k.clone())) {
                                return Err(format!("key `{k}`: {reason}"));
                            }
                            if let Err(reason) = judge(item, v) {
                                return Err(format!("value of `{k}`: {reason}"));
                            }
                        }
                        Ok(())
                    }
                    _ => Ok(()),
                },
                (
                    "bool" | "int" | "float" | "complex" | "str" | "list" | "set" | "frozenset"
                    | "tuple" | "dict",
                    _,
                ) => mismatch(),
                // Classes, `Callable`, `Sequence`, `bytes`...: not judged.
                _ => Ok(()),
            }
        }
        TypeExpr::List(_) | TypeExpr::Ellipsis => Ok(()),
    }
}

fn each<'t>(items: &[Literal], ty: impl Fn(usize) -> &'t TypeExpr) -> Result<(), String> {
    for (i, item) in items.iter().enumerate() {
        judge(ty(i), item).map_err(|reason| format!("item {}: {reason}", i + 1))?;
    }
    Ok(())
}

/// `the string "many"`, `the list [1, 2]`: a value as messages name it.
fn describe(value: &Literal) -> String {
    let kind = match value {
        Literal::None => return "`None`".to_owned(),
        Literal::Bool(_) => "the boolean",
        Literal::Int(_) | Literal::BigInt(_) => "the integer",
        Literal::Float(_) => "the number",
        Literal::Str(_) => "the string",
        Literal::List(_) => "the array",
        Literal::Dict(_) => "the table",
    };
    let mut text = value.to_string();
    if text.chars().count() > 40 {
        text = text.chars().take(37).collect::<String>() + "...";
    }
    format!("{kind} `{text}`")
}

fn article(ty: &TypeExpr) -> String {
    format!("of type `{ty}`")
}

// Which strings parse, and to what, is in `tests/types/corpus.toml`
// (`tests/types.rs`), which the Python package's tests read too; these
// tests are about where errors point, what a type accepts and how a
// default is judged.
#[cfg(test)]
mod tests {
    use super::*;

    fn norm(text: &str) -> String {
        parse(text).unwrap().normalized().to_string()
    }

    #[test]
    fn refuses_what_is_not_a_type() {
        let injection = parse("list[dict]); import os").unwrap_err();
        assert_eq!(injection.range, (10, 11));
        assert!(injection.reason.contains("`)`"));
        assert_eq!(parse("list[int").unwrap_err().range, (4, 5));
        assert!(parse("").is_err());
        assert!(parse("Listing").unwrap_err().reason.contains("builtin"));
        assert!(parse("Literal['a']").is_err());
        assert!(parse("a..b").is_err());
        assert!(parse("lambda").is_err());
        assert!(parse("int]").is_err());
        assert!(parse("__import__('os')").is_err());
        assert!(parse(&"list[".repeat(100)).is_err());
    }

    #[test]
    fn normalises_aliases_and_unions() {
        assert_eq!(norm("List[int]"), "list[int]");
        assert_eq!(norm("typing.Dict[str,int]"), "dict[str, int]");
        assert_eq!(norm("Optional[str]"), norm("str | None"));
        assert_eq!(norm("None | str"), norm("str|None"));
        assert_eq!(norm("Union[int, str, int]"), norm("str | int"));
        assert_ne!(norm("list[int]"), norm("list[str]"));
    }

    #[test]
    fn modernises_for_generated_code() {
        let modern = |text: &str| parse(text).unwrap().modern().to_string();
        assert_eq!(modern("Optional[int]"), "int | None");
        assert_eq!(modern("Union[str, int, str]"), "str | int");
        assert_eq!(
            modern("typing.List[Optional[jobs.X]]"),
            "list[jobs.X | None]"
        );
        assert_eq!(modern("Dict[str, Any]"), "dict[str, Any]");
        assert_eq!(modern("Callable[[int], str]"), "Callable[[int], str]");
        // As ruff rewrites them: RUF020, PYI055, UP006.
        assert_eq!(modern("Never | int"), "int");
        assert_eq!(modern("list[typing.NoReturn | str]"), "list[str]");
        assert_eq!(modern("Optional[NoReturn]"), "None");
        assert_eq!(modern("NoReturn"), "NoReturn");
        assert_eq!(
            modern("str | Type[int] | type[bytes]"),
            "str | type[int | bytes]"
        );
        assert_eq!(modern("type[int] | type[int | str]"), "type[int | str]");
        assert_eq!(
            modern("Deque[DefaultDict[str, int]]"),
            "collections.deque[collections.defaultdict[str, int]]"
        );
        assert_eq!(home("Callable"), ("collections.abc", "Callable"));
        assert_eq!(
            home("AbstractSet"),
            ("collections.abc", "Set as AbstractSet")
        );
        assert_eq!(home("Pattern"), ("re", "Pattern"));
        assert_eq!(home("Any"), ("typing", "Any"));
    }

    #[test]
    fn finds_what_has_no_clean_spelling() {
        let find = |text: &str| unwritable(&parse(text).unwrap()).map(str::to_owned);
        assert_eq!(
            find("dict[str, typing.ByteString]").as_deref(),
            Some("typing.ByteString")
        );
        assert_eq!(find("ByteString | None").as_deref(), Some("ByteString"));
        assert_eq!(find("bytes | bytearray | memoryview"), None);
    }

    #[test]
    fn collects_modules_to_import() {
        let mut modules = BTreeSet::new();
        parse(
            "dict[str, list[jobs.models.Listing]] | pandas.DataFrame | typing.Any | builtins.int",
        )
        .unwrap()
        .modules(&mut modules);
        assert_eq!(
            modules.into_iter().collect::<Vec<_>>(),
            vec!["builtins", "jobs.models", "pandas", "typing"]
        );
    }

    #[test]
    fn judges_defaults_by_type() {
        use crate::resolve::Literal as L;
        let judge = |ty: &str, value: &L| judge_default(&parse(ty).unwrap(), value);
        assert!(judge("int", &L::Int(2)).is_none());
        assert!(
            judge("int", &L::Str("many".into()))
                .unwrap()
                .contains("`int`")
        );
        assert!(judge("float", &L::Int(2)).is_none());
        assert!(judge("str", &L::Int(2)).is_some());
        assert!(judge("Optional[str]", &L::None).is_none());
        assert!(judge("str", &L::None).is_some());
        assert!(judge("int | str", &L::Str("a".into())).is_none());
        let ints = L::List(vec![L::Int(1), L::Str("x".into())]);
        assert_eq!(
            judge("List[int]", &ints).unwrap(),
            "item 2: the string `\"x\"` is not of type `int`"
        );
        assert!(judge("tuple[int, ...]", &L::List(vec![L::Int(1)])).is_none());
        assert!(judge("tuple[int, str]", &L::List(vec![L::Int(1)])).is_some());
        let table = L::Dict(vec![("a".into(), L::Int(1))]);
        assert!(judge("dict[str, int]", &table).is_none());
        assert!(judge("dict[str, str]", &table).is_some());
        assert!(judge("dict[int, int]", &table).is_some());
        assert!(judge("jobs.models.Listing", &L::Str("x".into())).is_none());
        assert!(judge("Callable[[int], str]", &L::Int(1)).is_none());
        assert!(judge("Any", &L::Int(1)).is_none());
    }

    #[test]
    fn accepts_by_normalised_type() {
        let accepts = |a: &str, b: &str| accepts(&parse(a).unwrap(), &parse(b).unwrap());
        assert!(accepts("List[int]", "list[int]"));
        assert!(accepts("int | None", "int"));
        assert!(accepts("Any", "str"));
        assert!(!accepts("int", "int | None"));
        assert!(accepts("float", "int"));
        assert!(accepts("list[Any]", "list"));
        assert!(accepts("list", "List[int]"));
        assert!(accepts("dict[str, Any]", "dict[str, int]"));
        assert!(!accepts("dict[str, int]", "dict[str, str]"));
        assert!(!accepts("tuple[int, int]", "tuple[int]"));
        assert!(!accepts("int", "float"));
        assert!(!accepts("list[str]", "list[int]"));
    }
}
