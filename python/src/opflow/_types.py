"""Names and types as the manifest writes them.

`render_type` turns a Python annotation (as `typing.get_type_hints` returns it)
into a string of opflow's type grammar (`list[jobs.models.Listing]`,
`str | None`); `check_type_string` checks a string against that grammar. The
grammar and the lists of bare names are the compiler's (`src/resolve/types.rs`):
a bare name must be one of them, anything else is written with its module.
Both read the strings of `tests/types/corpus.toml` alike (each suite tests it).
"""

from __future__ import annotations

import builtins
import collections.abc
import keyword
import re
import sys
import types
import typing
from typing import Any

#: Builtins the compiler accepts bare (`int`, `list`, ...).
BUILTINS = frozenset(
    {
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
    }
)

#: `typing` names the compiler accepts bare (`Any`, `Callable`, ...).
TYPING = frozenset(
    {
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
    }
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def identifier_problem(text: str) -> str | None:
    """Why `text` is not an ASCII Python identifier usable as a name, or None."""
    if not text:
        return "it is empty"
    if not _IDENTIFIER.match(text):
        return f"`{text}` is not an ASCII Python identifier"
    if keyword.iskeyword(text):
        return f"`{text}` is a Python keyword"
    return None


def dotted_name_problem(text: str) -> str | None:
    """Why `text` is not a dot-separated list of identifiers, or None."""
    if not text:
        return "it is empty"
    for position, segment in enumerate(text.split("."), start=1):
        if not segment:
            return f"segment {position} is empty"
        problem = identifier_problem(segment)
        if problem:
            return f"segment {position}: {problem}"
    return None


class TypeRefused(Exception):
    """An annotation opflow's type grammar cannot express; the message says why."""


# Runtime classes behind the `typing` names the compiler knows (for instance
# `collections.abc.Iterable` for `Iterable`): written bare.
_TYPING_NAME_OF: dict[Any, str] = {}
for _name in sorted(TYPING):
    _alias = getattr(typing, _name, None)
    _origin = typing.get_origin(_alias)
    if (
        isinstance(_origin, type)
        and _origin.__module__ != "builtins"
        and _origin not in _TYPING_NAME_OF
    ):
        _TYPING_NAME_OF[_origin] = _name
_TYPING_NAME_OF[collections.abc.Set] = "AbstractSet"

_UNION_TYPES: tuple[Any, ...] = (typing.Union, types.UnionType)


def render_type(annotation: Any, globalns: dict[str, Any] | None = None) -> str:
    """The manifest's spelling of a type annotation; raises `TypeRefused`."""
    text = _render(annotation, globalns or {})
    problem = check_type_string(text)
    if problem:  # a bug here, not the user's: say so plainly
        raise TypeRefused(f"cannot write `{text}` as an opflow type ({problem})")
    return text


def _render(tp: Any, globalns: dict[str, Any]) -> str:
    if tp is None or tp is type(None):
        return "None"
    if tp is Ellipsis:
        return "..."
    if isinstance(tp, str):
        return _render(_evaluate(tp, globalns), globalns)
    if isinstance(tp, typing.ForwardRef):
        return _render(_evaluate(tp.__forward_arg__, globalns), globalns)
    if isinstance(tp, list):  # the argument list of Callable[[int], str]
        return "[" + ", ".join(_render(arg, globalns) for arg in tp) + "]"
    if isinstance(tp, typing.TypeVar):
        raise TypeRefused(
            f"`{tp!r}` is a type variable; opflow needs a concrete type such as `int`"
        )

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return _render(args[0], globalns)
    if origin is typing.Literal:
        raise TypeRefused(
            f"`{_describe(tp)}` is a `Literal` type, which opflow's type grammar "
            "cannot express; use the type of its values (e.g. `str`)"
        )
    if origin in _UNION_TYPES:
        return " | ".join(_render(arg, globalns) for arg in args)
    if origin is not None:
        head = _render_class(origin)
        if getattr(tp, "__args__", None) in ((), ((),)):
            raise TypeRefused("the empty tuple type `tuple[()]` cannot be written")
        if not args:
            return head  # a bare alias such as `typing.List`
        return head + "[" + ", ".join(_render(arg, globalns) for arg in args) + "]"
    if isinstance(tp, typing.NewType):
        return _qualified(tp.__module__, tp.__name__, tp)
    if isinstance(tp, type):
        return _render_class(tp)
    special = getattr(tp, "_name", None)
    if isinstance(special, str) and special in TYPING:
        return special  # Any (Python 3.10), NoReturn, Never, bare List, ...
    if tp is typing.Any:
        return "Any"
    raise TypeRefused(
        f"`{_describe(tp)}` is not a type opflow can write; use a class, a builtin "
        "or a `typing` generic such as `list[int]` or `dict[str, Any]`"
    )


def _render_class(cls: Any) -> str:
    if cls is type(None):
        return "None"
    if cls in _TYPING_NAME_OF:
        return _TYPING_NAME_OF[cls]
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", None)
    if not isinstance(module, str) or not isinstance(name, str):
        raise TypeRefused(f"`{_describe(cls)}` has no module and name to import it by")
    if module == "builtins":
        if name in BUILTINS:
            return name
        if getattr(builtins, name, None) is cls:
            return f"builtins.{name}"
    if module == "typing":
        if name in TYPING:
            return name
        raise TypeRefused(
            f"`typing.{name}` is not supported in an operation's signature; "
            "use a concrete type"
        )
    return _qualified(module, name, cls)


def _qualified(module: str, qualname: str, obj: Any) -> str:
    if module == "__main__":
        raise TypeRefused(
            f"`{qualname}` is defined in `__main__`, which the generated flows "
            "cannot import; move it into a module"
        )
    if "<locals>" in qualname:
        raise TypeRefused(
            f"`{module}.{qualname}` is defined inside a function, so the generated "
            "flows cannot import it; define it at module level"
        )
    text = f"{_public_module(module, qualname, obj)}.{qualname}"
    if dotted_name_problem(text):
        raise TypeRefused(f"`{text}` is not a dotted name of ASCII identifiers")
    return text


def _public_module(module: str, qualname: str, obj: Any) -> str:
    """`module`, or its public part when the object is exported there:
    `pathlib._local.Path` is written `pathlib.Path` (the same on every Python)."""
    parts = module.split(".")
    private = next((i for i, part in enumerate(parts) if part.startswith("_")), 0)
    if private == 0:
        return module
    public = ".".join(parts[:private])
    target: Any = sys.modules.get(public)
    for name in qualname.split("."):
        target = getattr(target, name, None)
    return public if target is obj and target is not None else module


def _evaluate(text: str, globalns: dict[str, Any]) -> Any:
    """A forward reference left as a string inside a generic."""
    try:
        return eval(text, dict(globalns))  # the user's own annotation
    except Exception as error:  # noqa: BLE001 - any failure means: cannot resolve
        raise TypeRefused(
            f"cannot resolve the forward reference `{text}` "
            f"({type(error).__name__}: {error}); import the name at module level"
        ) from None


def _describe(tp: Any) -> str:
    text = repr(tp)
    return text.replace("typing.", "") if text.startswith("typing.") else text


# The type-string grammar ---------------------------------------------------

# Between tokens, spaces and tabs only (as the compiler reads them).
_TOKEN = re.compile(
    r"[ \t]*(?:(\.\.\.)|([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)|([\[\],|]))"
)
#: Brackets nest at most this deep (`_MAX_DEPTH` in the compiler's types.rs).
MAX_DEPTH = 32


def check_type_string(text: str) -> str | None:
    """Why `text` is not an opflow type string, or None when it is one."""
    if not isinstance(text, str):
        return f"a type string is expected, got {type(text).__name__}"
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip(" \t") == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            rest = text[pos:].lstrip(" \t")
            return f"unexpected `{rest[:1]}` at offset {len(text) - len(rest)}"
        tokens.append(match.group(1) or match.group(2) or match.group(3))
        pos = match.end()
    if not tokens:
        return "the type is empty"
    parser = _GrammarParser(tokens)
    try:
        parser.union()
        if parser.pos != len(tokens):
            return f"unexpected `{tokens[parser.pos]}`"
    except ValueError as error:
        return str(error)
    return None


class _GrammarParser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def union(self) -> None:
        self.primary()
        while self.peek() == "|":
            self.pos += 1
            self.primary()

    def primary(self) -> None:
        token = self.peek()
        if token is None:
            raise ValueError("the type ends too early")
        if token == "[":
            self.bracketed(allow_empty=True)
            return
        if token == "...":
            self.pos += 1
            return
        if token in ("]", ",", "|"):
            raise ValueError(f"unexpected `{token}`")
        self.pos += 1
        if token == "None":
            return  # a type on its own, without arguments
        for segment in token.split("."):
            if keyword.iskeyword(segment):
                raise ValueError(f"`{segment}` is a Python keyword")
        if "." not in token and token not in BUILTINS and token not in TYPING:
            raise ValueError(
                f"`{token}` is neither a builtin nor a `typing` name; "
                "write it with its module"
            )
        if self.peek() == "[":
            self.bracketed(allow_empty=False)

    def bracketed(self, allow_empty: bool) -> None:
        self.pos += 1  # "["
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ValueError("types are nested too deeply")
        items = 0
        while True:
            token = self.peek()
            if token is None:
                raise ValueError("`[` is never closed")
            if token == "]":
                self.pos += 1
                break
            self.union()
            items += 1
            token = self.peek()
            if token == ",":
                self.pos += 1
            elif token != "]":
                raise ValueError(
                    "`[` is never closed" if token is None else f"unexpected `{token}`"
                )
        if not items and not allow_empty:
            raise ValueError("empty `[]` after a name")
        self.depth -= 1
