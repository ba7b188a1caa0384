# The typing aliases (List, Optional, Union...) are what these tests are about.
# ruff: noqa: UP006, UP007, UP035, UP045
"""Annotations of every common shape, rendered in opflow's type grammar."""

from __future__ import annotations

import collections
import collections.abc
import dataclasses
import datetime
import decimal
import pathlib
import typing
from pathlib import Path
from typing import (
    Annotated,
    Any,
    Callable,
    Dict,
    Generic,
    List,
    Literal,
    NamedTuple,
    NewType,
    Optional,
    Tuple,
    TypedDict,
    TypeVar,
    Union,
)

import pytest
from opflow._types import TypeRefused, check_type_string, render_type

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

T = TypeVar("T")
HERE = __name__


@dataclasses.dataclass
class Listing:
    title: str

    @dataclasses.dataclass
    class Inner:
        n: int


class Box(Generic[T]):
    pass


class Point(NamedTuple):
    x: int
    y: int


class Row(TypedDict):
    id: int


UserId = NewType("UserId", int)


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        # builtins, bare
        (int, "int"),
        (str, "str"),
        (float, "float"),
        (bool, "bool"),
        (bytes, "bytes"),
        (object, "object"),
        (None, "None"),
        (type(None), "None"),
        # builtins outside the compiler's bare list keep their module
        (ValueError, "builtins.ValueError"),
        # generics
        (list[int], "list[int]"),
        (dict[str, Any], "dict[str, Any]"),
        (dict[str, list[int]], "dict[str, list[int]]"),
        (tuple[int, str], "tuple[int, str]"),
        (tuple[int, ...], "tuple[int, ...]"),
        (set[str], "set[str]"),
        (frozenset[int], "frozenset[int]"),
        (type[Listing], f"type[{HERE}.Listing]"),
        # typing aliases of builtins become the builtins
        (List[int], "list[int]"),
        (Dict[str, int], "dict[str, int]"),
        (Tuple[int, ...], "tuple[int, ...]"),
        (typing.Set[str], "set[str]"),
        (typing.FrozenSet[int], "frozenset[int]"),
        (typing.Type[int], "type[int]"),
        (List, "list"),
        # unions and Optional
        (Optional[int], "int | None"),
        (Union[int, None], "int | None"),
        (Union[int, str], "int | str"),
        (Union[None, int], "None | int"),
        (int | None, "int | None"),
        (str | int | None, "str | int | None"),
        (Optional[list[Listing]], f"list[{HERE}.Listing] | None"),
        (list[int | None], "list[int | None]"),
        # typing names, bare
        (Any, "Any"),
        (Callable[[int], str], "Callable[[int], str]"),
        (Callable[[int, str], None], "Callable[[int, str], None]"),
        (Callable[[], int], "Callable[[], int]"),
        (Callable[..., Any], "Callable[..., Any]"),
        (collections.abc.Callable[[int], str], "Callable[[int], str]"),
        (collections.abc.Iterable[int], "Iterable[int]"),
        (collections.abc.Mapping[str, int], "Mapping[str, int]"),
        (collections.abc.Sequence[str], "Sequence[str]"),
        (collections.abc.Set[int], "AbstractSet[int]"),
        (typing.Iterator[int], "Iterator[int]"),
        (collections.OrderedDict[str, int], "OrderedDict[str, int]"),
        (collections.deque[int], "Deque[int]"),
        (typing.NoReturn, "NoReturn"),
        # user classes and other packages' classes: module.qualname
        (Listing, f"{HERE}.Listing"),
        (list[Listing], f"list[{HERE}.Listing]"),
        (Listing.Inner, f"{HERE}.Listing.Inner"),
        (Box[int], f"{HERE}.Box[int]"),
        (Point, f"{HERE}.Point"),
        (Row, f"{HERE}.Row"),
        (UserId, f"{HERE}.UserId"),
        (datetime.datetime, "datetime.datetime"),
        (decimal.Decimal, "decimal.Decimal"),
        (pathlib.Path, "pathlib.Path"),
        # Annotated is its type
        (Annotated[int, "positive"], "int"),
        (list[Annotated[Listing, "meta"]], f"list[{HERE}.Listing]"),
        (Annotated[Optional[str], "x"], "str | None"),
        # forward references left inside generics
        (list["Listing"], f"list[{HERE}.Listing]"),
        (List["Listing"], f"list[{HERE}.Listing]"),
        (Optional["Listing"], f"{HERE}.Listing | None"),
        ("dict[str, Listing]", f"dict[str, {HERE}.Listing]"),
    ],
)
def test_renders(annotation: Any, expected: str) -> None:
    assert render_type(annotation, globals()) == expected
    assert check_type_string(expected) is None


def test_local_class_is_refused() -> None:
    class Local:
        pass

    with pytest.raises(TypeRefused, match=r"is defined inside a function"):
        render_type(Local)


def test_class_in_main_is_refused() -> None:
    cls = type("Script", (), {"__module__": "__main__"})
    with pytest.raises(TypeRefused, match=r"defined in `__main__`"):
        render_type(cls)


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        (Literal["a", "b"], r"is a `Literal` type"),
        (list[Literal[1]], r"is a `Literal` type"),
        (T, r"is a type variable"),
        (list[T], r"is a type variable"),
        (typing.ClassVar[int], r"is not supported in an operation's signature"),
        (tuple[()], r"the empty tuple type"),
        ("Missing", r"cannot resolve the forward reference `Missing`"),
        (3, r"is not a type opflow can write"),
    ],
)
def test_refused(annotation: Any, message: str) -> None:
    with pytest.raises(TypeRefused, match=message):
        render_type(annotation, globals())


# The type strings both implementations of the grammar must read alike
# (the compiler's test is tests/types.rs).
CORPUS = tomllib.loads(
    (Path(__file__).resolve().parents[2] / "tests/types/corpus.toml").read_text(
        encoding="utf-8"
    )
)
# Names a type string may use bare, for evaluating it as an annotation.
TYPING_NAMESPACE = {name: getattr(typing, name) for name in dir(typing)}


@pytest.mark.parametrize(
    "case", CORPUS["accepted"], ids=[case["type"] for case in CORPUS["accepted"]]
)
def test_corpus_accepted(case: dict[str, str]) -> None:
    scanned = [case["scanned"]] if "scanned" in case else []
    for text in (case["type"], case["modern"], case["normal"], *scanned):
        assert check_type_string(text) is None, text


@pytest.mark.parametrize(
    "case", CORPUS["refused"], ids=[case["type"] for case in CORPUS["refused"]]
)
def test_corpus_refused(case: dict[str, str]) -> None:
    assert check_type_string(case["type"]) is not None, case["why"]


def test_corpus_annotations_render_as_their_modern_form() -> None:
    """A string of builtin and `typing` names only, evaluated as Python,
    renders (as `opflow scan` writes annotations) as the compiler's modern form."""
    rendered = 0
    for case in CORPUS["accepted"]:
        if "." in case["type"].replace("...", ""):
            continue  # a module's class: nothing to import it from here
        annotation = eval(case["type"], dict(TYPING_NAMESPACE))  # the corpus's own text
        # `scanned`: where the compiler's modern form rewrites further.
        assert render_type(annotation) == case.get("scanned", case["modern"]), case[
            "type"
        ]
        rendered += 1
    assert rendered >= 40, rendered


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the type is empty"),
        ("Listing", "neither a builtin nor a `typing` name"),
        ("list[int", "`[` is never closed"),
        ("list[]", "empty `[]` after a name"),
        ("int |", "the type ends too early"),
        ("Literal['a']", "unexpected `'`"),
        ("jobs.class.X", "`class` is a Python keyword"),
        ("int]", "unexpected `]`"),
        ("list[int,, str]", "unexpected `,`"),
        ("None[int]", "unexpected `[`"),
        ("list[\nint]", "unexpected `\n` at offset 5"),
        ("list[" * 1000 + "int" + "]" * 1000, "nested too deeply"),
    ],
)
def test_type_strings_outside_the_grammar(text: str, problem: str) -> None:
    found = check_type_string(text)
    assert found is not None and problem in found, found


def test_private_modules_are_written_by_their_public_name(code) -> None:
    code.write(
        {
            "lib/__init__.py": "from lib._impl import Frame\n",
            "lib/_impl.py": "class Frame:\n    pass\n\nclass Hidden:\n    pass\n",
        }
    )
    from lib import _impl

    assert render_type(_impl.Frame) == "lib.Frame"
    assert render_type(_impl.Hidden) == "lib._impl.Hidden"
