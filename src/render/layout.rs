//! Layout as `ruff format` and ruff's isort leave it, for the pieces of
//! generated code that can outgrow a line: literals, type annotations,
//! calls and imports. Each writes the one-line form when it fits in the
//! line ([`LINE`]) and else the form ruff writes, so that every generated
//! file is a fixpoint of `ruff format` and clean under `ruff check`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::BTreeSet;

use super::python;
use crate::resolve::{Literal, TypeExpr};

/// The line length `ruff format` wraps at.
pub const LINE: usize = 88;

/// A literal laid out as `ruff format` would: on one line when it fits in
/// what is left of the line (on a line indented by `indent`, `used` columns
/// taken, `tail` characters after it), else one element per line with a
/// trailing comma.
pub fn expression(value: &Literal, indent: usize, used: usize, tail: usize) -> String {
    let inline = python::literal(value);
    if used + inline.chars().count() + tail <= LINE {
        return inline;
    }
    let outer = " ".repeat(indent);
    let inner = " ".repeat(indent + 4);
    match value {
        Literal::List(items) if !items.is_empty() => {
            let body: String = items
                .iter()
                .map(|item| format!("{inner}{},\n", expression(item, indent + 4, indent + 4, 1)))
                .collect();
            format!("[\n{body}{outer}]")
        }
        Literal::Dict(entries) if !entries.is_empty() => {
            let body: String = entries
                .iter()
                .map(|(key, item)| {
                    let key = python::string(key);
                    let used = indent + 4 + key.chars().count() + 2;
                    format!("{inner}{key}: {},\n", expression(item, indent + 4, used, 1))
                })
                .collect();
            format!("{{\n{body}{outer}}}")
        }
        _ => inline,
    }
}

/// The top-level package of a module.
pub fn root_module(module: &str) -> &str {
    module.split('.').next().unwrap_or(module)
}

/// The standard library's top-level modules, which isort sorts into a
/// section of their own: Python 3.11's `sys.stdlib_module_names`, the list
/// ruff's isort knows for its default target (Python 3.11), sorted.
/// `tests/python/test_codegen_ruff.py` checks it against what ruff sorts as
/// the standard library, and against `sys.stdlib_module_names` on 3.11.
const STDLIB: &str = "\
    __future__ _abc _aix_support _ast _asyncio _bisect _blake2 _bootsubprocess _bz2 \
    _codecs _codecs_cn _codecs_hk _codecs_iso2022 _codecs_jp _codecs_kr _codecs_tw \
    _collections _collections_abc _compat_pickle _compression _contextvars _crypt _csv \
    _ctypes _curses _curses_panel _datetime _dbm _decimal _elementtree \
    _frozen_importlib _frozen_importlib_external _functools _gdbm _hashlib _heapq _imp \
    _io _json _locale _lsprof _lzma _markupbase _md5 _msi _multibytecodec \
    _multiprocessing _opcode _operator _osx_support _overlapped _pickle _posixshmem \
    _posixsubprocess _py_abc _pydecimal _pyio _queue _random _scproxy _sha1 _sha256 \
    _sha3 _sha512 _signal _sitebuiltins _socket _sqlite3 _sre _ssl _stat _statistics \
    _string _strptime _struct _symtable _thread _threading_local _tkinter _tokenize \
    _tracemalloc _typing _uuid _warnings _weakref _weakrefset _winapi _zoneinfo abc \
    aifc antigravity argparse array ast asynchat asyncio asyncore atexit audioop base64 \
    bdb binascii bisect builtins bz2 cProfile calendar cgi cgitb chunk cmath cmd code \
    codecs codeop collections colorsys compileall concurrent configparser contextlib \
    contextvars copy copyreg crypt csv ctypes curses dataclasses datetime dbm decimal \
    difflib dis distutils doctest email encodings ensurepip enum errno faulthandler \
    fcntl filecmp fileinput fnmatch fractions ftplib functools gc genericpath getopt \
    getpass gettext glob graphlib grp gzip hashlib heapq hmac html http idlelib imaplib \
    imghdr imp importlib inspect io ipaddress itertools json keyword lib2to3 linecache \
    locale logging lzma mailbox mailcap marshal math mimetypes mmap modulefinder msilib \
    msvcrt multiprocessing netrc nis nntplib nt ntpath nturl2path numbers opcode \
    operator optparse os ossaudiodev pathlib pdb pickle pickletools pipes pkgutil \
    platform plistlib poplib posix posixpath pprint profile pstats pty pwd py_compile \
    pyclbr pydoc pydoc_data pyexpat queue quopri random re readline reprlib resource \
    rlcompleter runpy sched secrets select selectors shelve shlex shutil signal site \
    smtpd smtplib sndhdr socket socketserver spwd sqlite3 sre_compile sre_constants \
    sre_parse ssl stat statistics string stringprep struct subprocess sunau symtable \
    sys sysconfig syslog tabnanny tarfile telnetlib tempfile termios textwrap this \
    threading time timeit tkinter token tokenize tomllib trace traceback tracemalloc \
    tty turtle turtledemo types typing unicodedata unittest urllib uu uuid venv \
    warnings wave weakref webbrowser winreg winsound wsgiref xdrlib xml xmlrpc zipapp \
    zipfile zipimport zlib zoneinfo";

/// Builtins that ruff (UP029) says need no import, `from builtins import
/// open` (or `from io import open`) being the builtin itself: a callable of
/// one of these names is imported under another (`open as open_2`).
pub const BUILTIN_IMPORTS: &[&str] = &[
    "ascii",
    "bytes",
    "chr",
    "dict",
    "filter",
    "hex",
    "input",
    "int",
    "isinstance",
    "list",
    "map",
    "max",
    "min",
    "next",
    "object",
    "oct",
    "open",
    "pow",
    "range",
    "round",
    "str",
    "super",
    "zip",
];

/// Is `module` (or the package it is in) part of the standard library?
pub fn is_stdlib(module: &str) -> bool {
    // Asked once for every callable: a set, not a walk through the list.
    static NAMES: std::sync::LazyLock<foldhash::HashSet<&str>> =
        std::sync::LazyLock::new(|| STDLIB.split_ascii_whitespace().collect());
    NAMES.contains(root_module(module))
}

/// One isort section.
#[derive(Default)]
pub struct Section<'a> {
    plain: BTreeSet<&'a str>,
    /// Names imported from each module, in any order, repeats allowed.
    from: BTreeMap<&'a str, Vec<Cow<'a, str>>>,
}

impl<'a> Section<'a> {
    pub fn plain(&mut self, module: &'a str) {
        self.plain.insert(module);
    }

    pub fn from(&mut self, module: &'a str, name: Cow<'a, str>) {
        self.from.entry(module).or_default().push(name);
    }

    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.from.is_empty()
    }

    /// The section's lines, written to `out`: plain imports, then `from`
    /// imports, each by module in isort's order (ruff's defaults: members
    /// constants first, then classes, then the rest; aliases not combined).
    pub fn render(self, out: &mut String) {
        let mut plain: Vec<&str> = self.plain.into_iter().collect();
        plain.sort_by(|a, b| lowercase_cmp(a, b));
        let mut from: Vec<(&str, Vec<Cow<'a, str>>)> = self.from.into_iter().collect();
        from.sort_by(|a, b| lowercase_cmp(a.0, b.0));
        let mut first = true;
        let mut line = |out: &mut String| {
            if !std::mem::take(&mut first) {
                out.push('\n');
            }
        };
        for module in plain {
            line(out);
            out.push_str("import ");
            out.push_str(module);
        }
        for (module, mut names) in from {
            names.sort_unstable();
            names.dedup();
            let names = sort_members(names, |name| name);
            line(out);
            from_imports(out, module, &names);
        }
    }
}

/// The keys of the order isort gives the names imported from one module,
/// for many names at once, in one buffer: each name's kind
/// ([`member_rank`]), its natural order ([`Natural`]), then its bytes
/// (names equal but for case: `a_Fetch` before `a_fetch`).
pub struct MemberKeys {
    natural: Vec<u8>,
    /// Where each name's natural form ends in `natural`, and its kind.
    ends: Vec<(usize, u8)>,
}

impl MemberKeys {
    pub fn of<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> Self {
        let mut keys = Self {
            natural: Vec::with_capacity(24 * names.len()),
            ends: Vec::with_capacity(names.len()),
        };
        for name in names {
            write_natural(name, &mut keys.natural);
            keys.ends.push((keys.natural.len(), member_rank(name)));
        }
        keys
    }

    /// The key of the `i`th name, `name`.
    pub fn key<'a>(&'a self, i: usize, name: &'a str) -> (u8, &'a [u8], &'a [u8]) {
        let start = if i == 0 { 0 } else { self.ends[i - 1].0 };
        let (end, rank) = self.ends[i];
        (rank, &self.natural[start..end], name.as_bytes())
    }
}

/// Sort names as isort orders the members of one import.
pub fn sort_members<T>(names: Vec<T>, name: impl Fn(&T) -> &str) -> Vec<T> {
    let keys = MemberKeys::of(names.iter().map(&name));
    let mut numbered: Vec<(usize, T)> = names.into_iter().enumerate().collect();
    numbered.sort_unstable_by(|(a, x), (b, y)| keys.key(*a, name(x)).cmp(&keys.key(*b, name(y))));
    numbered.into_iter().map(|(_, item)| item).collect()
}

/// A name as isort compares it (`natord`, ignoring case), as bytes that
/// compare the same way: lowercased; a run of digits that starts with a
/// zero compares digit by digit (`x007` before `x07`), so it is kept, and
/// ended by a byte below every other; any other run compares by value
/// (`x9` before `x78`), so it becomes a byte above the digits, its length
/// and its digits.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub struct Natural(Box<[u8]>);

impl Natural {
    pub fn of(name: &str) -> Self {
        let mut key = Vec::with_capacity(name.len() + 8);
        write_natural(name, &mut key);
        Self(key.into_boxed_slice())
    }
}

/// The bytes of [`Natural::of`] `name`, added to `key`.
fn write_natural(name: &str, key: &mut Vec<u8>) {
    let lower;
    let bytes = if name
        .bytes()
        .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
    {
        lower = name.to_lowercase();
        lower.as_bytes()
    } else {
        name.as_bytes()
    };
    let mut at = 0;
    while at < bytes.len() {
        if !bytes[at].is_ascii_digit() {
            key.push(bytes[at]);
            at += 1;
            continue;
        }
        let start = at;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
        let run = &bytes[start..at];
        if run[0] == b'0' {
            key.extend_from_slice(run);
            key.push(0);
        } else {
            let len = u16::try_from(run.len()).unwrap_or(u16::MAX);
            key.push(b'9' + 1);
            key.extend_from_slice(&len.to_be_bytes());
            key.extend_from_slice(run);
        }
    }
}

/// The `from module import ...` statements of names in isort's order
/// ([`member_key`]): `name as alias` imports apart, one statement each,
/// beside the one that imports names as they are; the statements in the
/// order of their first names.
pub fn from_imports<S: AsRef<str>>(out: &mut String, module: &str, names: &[S]) {
    let plain: Vec<&str> = names
        .iter()
        .map(AsRef::as_ref)
        .filter(|name| !name.contains(' '))
        .collect();
    let mut plain_done = plain.is_empty();
    let mut first = true;
    for name in names.iter().map(AsRef::as_ref) {
        let statement: &[&str] = if name.contains(' ') {
            std::slice::from_ref(&name)
        } else if plain_done {
            continue;
        } else {
            plain_done = true;
            &plain
        };
        if !std::mem::take(&mut first) {
            out.push('\n');
        }
        from_import(out, module, statement);
    }
}

/// Compare as isort orders names: ignoring case, numbers by value.
fn lowercase_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    Natural::of(a).cmp(&Natural::of(b))
}

/// isort's order of imported members: CONSTANTS, then Classes, then the
/// rest (each by lowercased name).
fn member_rank(name: &str) -> u8 {
    // `name` or `name as alias`: identifiers hold no spaces.
    let bare = name.split_once(' ').map_or(name, |(bare, _)| bare);
    if bare.len() > 1 && bare.chars().all(|c| !c.is_ascii_lowercase()) {
        0
    } else if bare.starts_with(|c: char| c.is_ascii_uppercase()) {
        1
    } else {
        2
    }
}

/// `from module import a, b`, wrapped in parentheses when too long.
pub fn from_import<S: AsRef<str>>(out: &mut String, module: &str, names: &[S]) {
    let inline = "from  import ".len()
        + module.len()
        + names.iter().map(|n| n.as_ref().len()).sum::<usize>()
        + 2 * names.len().saturating_sub(1);
    out.push_str("from ");
    out.push_str(module);
    if inline <= LINE {
        out.push_str(" import ");
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(name.as_ref());
        }
        return;
    }
    out.push_str(" import (\n");
    for name in names {
        out.push_str("    ");
        out.push_str(name.as_ref());
        out.push_str(",\n");
    }
    out.push(')');
}

/// A type annotation laid out as `ruff format` would, on a line indented by
/// `indent` with `used` columns taken and `tail` characters after it: on
/// one line when it fits; else a subscript's arguments on one line of
/// their own when they fit there, else one per line with a trailing comma
/// (a lone argument takes none), each laid out the same way; a union one
/// member per line, each after `| `.
pub fn annotation(ty: &TypeExpr, indent: usize, used: usize, tail: usize) -> String {
    let inline = ty.to_string();
    if used + inline.chars().count() + tail <= LINE {
        return inline;
    }
    let outer = " ".repeat(indent);
    let inner = " ".repeat(indent + 4);
    match ty {
        TypeExpr::Name {
            name,
            args: Some(args),
        } if !args.is_empty() => {
            format!("{name}[\n{inner}{}\n{outer}]", arguments(args, indent + 4))
        }
        TypeExpr::List(items) if !items.is_empty() => {
            let body: String = items
                .iter()
                .map(|item| format!("{inner}{},\n", annotation(item, indent + 4, indent + 4, 1)))
                .collect();
            format!("[\n{body}{outer}]")
        }
        TypeExpr::Union(members) => members
            .iter()
            .enumerate()
            .map(|(i, member)| {
                let used = if i == 0 { used } else { indent + 2 };
                let tail = if i + 1 == members.len() { tail } else { 0 };
                annotation(member, indent, used, tail)
            })
            .collect::<Vec<_>>()
            .join(&format!("\n{outer}| ")),
        // A parameter's rules, `Field(ge=1, pattern="...")`
        // (constraints.rs): as ruff splits a call, one argument a line,
        // each with a trailing comma, which keeps it so.
        TypeExpr::Name { name, args: None }
            if name.starts_with("Field(") && name.ends_with(')') =>
        {
            let body: String = call_arguments(&name["Field(".len()..name.len() - 1])
                .iter()
                .map(|argument| format!("{inner}{argument},\n"))
                .collect();
            format!("Field(\n{body}{outer})")
        }
        _ => inline,
    }
}

/// The arguments of a call as written, split at the commas between them:
/// those outside the Python string literals (either quote, with backslash
/// escapes) that `python::string` writes.
fn call_arguments(text: &str) -> Vec<&str> {
    let mut arguments = Vec::new();
    let mut start = 0;
    let mut quote = None;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == ',' => {
                arguments.push(text[start..at].trim());
                start = at + 1;
            }
            Some(_) | None => {}
        }
    }
    arguments.push(text[start..].trim());
    arguments
}

/// The inside of a split subscript, on lines indented by `indent`.
fn arguments(args: &[TypeExpr], indent: usize) -> String {
    if let [arg] = args {
        return annotation(arg, indent, indent, 0);
    }
    let inline = args
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if indent + inline.chars().count() <= LINE {
        return inline;
    }
    let pad = " ".repeat(indent);
    args.iter()
        .map(|arg| format!("{},", annotation(arg, indent, indent, 1)))
        .collect::<Vec<_>>()
        .join(&format!("\n{pad}"))
}

/// The width of the last line of a laid-out piece.
pub fn last_line_width(text: &str) -> usize {
    text.rsplit('\n').next().unwrap_or(text).chars().count()
}

/// A call, as ruff leaves it, on a line indented by `indent` with `used`
/// columns taken before `head`: its arguments on the same line when
/// `head(args)` and what follows on the line (`tail`, up to its newline)
/// fit, else one a line with a trailing comma (which keeps ruff from
/// joining them).
pub fn call<S: AsRef<str>>(
    out: &mut String,
    indent: usize,
    used: usize,
    head: &str,
    args: &[S],
    tail: &str,
) {
    out.push_str(head);
    out.push('(');
    if args.is_empty()
        || (call_width(used, head, args, tail) <= LINE
            && !args.iter().any(|a| a.as_ref().contains('\n')))
    {
        for (i, arg) in args.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(arg.as_ref());
        }
    } else {
        for arg in args {
            out.push('\n');
            for _ in 0..indent + 4 {
                out.push(' ');
            }
            out.push_str(arg.as_ref());
            out.push(',');
        }
        out.push('\n');
        for _ in 0..indent {
            out.push(' ');
        }
    }
    out.push(')');
    out.push_str(tail);
}

/// The width of `head(args)tail` on one line, after `used` columns.
pub fn call_width<S: AsRef<str>>(used: usize, head: &str, args: &[S], tail: &str) -> usize {
    let args: usize = args
        .iter()
        .map(|a| a.as_ref().chars().count() + 2)
        .sum::<usize>();
    let tail = tail.split('\n').next().unwrap_or("").chars().count();
    used + head.chars().count() + 1 + args.saturating_sub(2) + 1 + tail
}

/// Sections of imports, each rendered, with a blank line between them.
pub fn sections(sections: Vec<Section<'_>>) -> String {
    let mut out = String::new();
    for section in sections {
        if section.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        section.render(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_standard_library() {
        for module in [
            "datetime",
            "collections.abc",
            "xml.etree.ElementTree",
            "tomllib",
            "__future__",
        ] {
            assert!(is_stdlib(module), "{module}");
        }
        for module in ["jobs", "datetimes", "pandas.core", "distutils_extra", ""] {
            assert!(!is_stdlib(module), "{module}");
        }
        let names: Vec<&str> = STDLIB.split_ascii_whitespace().collect();
        assert!(names.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(names.len() > 250, "{}", names.len());
    }

    #[test]
    fn members_sort_as_ruffs_isort_sorts_them() {
        // `ruff check --select I --fix` on `from m import <these>`.
        let names = vec![
            "x78", "x9", "x07", "x007", "X8", "a_b", "x0a", "x01b", "x012",
        ];
        assert_eq!(
            sort_members(names, |name| name),
            [
                "X8", "a_b", "x0a", "x007", "x01b", "x012", "x07", "x9", "x78"
            ]
        );
    }
}
