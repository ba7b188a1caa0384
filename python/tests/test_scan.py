"""The scanner: what it collects from decorated code, and what it refuses
(each refusal names `file:line`, all are reported at once)."""

from __future__ import annotations

import math

import pytest
from opflow._scan import UsageError


def test_collects_functions_of_a_package_recursively(code) -> None:
    code.write(
        {
            "shop/__init__.py": "",
            "shop/a.py": """
                from opflow import operation

                @operation(name="shop.a")
                def a(n: int) -> int:
                    return n
            """,
            "shop/sub/__init__.py": """
                from opflow import operation

                @operation(name="shop.sub.init")
                async def init(x: str) -> str:
                    return x
            """,
            "shop/sub/deeper/__init__.py": "",
            "shop/sub/deeper/b.py": """
                from opflow import operation
                from shop.a import a  # a re-export is not a second operation

                @operation(name="shop.sub.deeper.b")
                def b(a: int) -> list[int]:
                    return [a]

                def undecorated(x: int) -> int:
                    return x
            """,
            "shop/__main__.py": "raise SystemExit('never imported')\n",
        }
    )
    result = code.scan("shop")
    assert not result.refusals
    assert [op.name for op in result.operations] == [
        "shop.a",
        "shop.sub.deeper.b",
        "shop.sub.init",
    ]
    assert [op.call for op in result.operations] == [
        "shop.a:a",
        "shop.sub.deeper.b:b",
        "shop.sub:init",
    ]
    assert "shop.__main__" not in result.modules
    assert result.modules == [
        "shop",
        "shop.a",
        "shop.sub",
        "shop.sub.deeper",
        "shop.sub.deeper.b",
    ]


def test_scanning_a_module_alone_and_with_its_package(code) -> None:
    code.write(
        {
            "p/__init__.py": "",
            "p/one.py": """
                from opflow import operation

                @operation(name="p.one")
                def one() -> int:
                    return 1
            """,
            "p/two.py": """
                from opflow import operation

                @operation(name="p.two")
                def two() -> int:
                    return 2
            """,
        }
    )
    assert list(code.operations("p.one")) == ["p.one"]
    assert list(code.operations("p.two", "p")) == ["p.one", "p.two"]


def test_what_the_manifest_says_about_a_function(code) -> None:
    code.write(
        {
            "jobs/__init__.py": "",
            "jobs/models.py": """
                from dataclasses import dataclass

                @dataclass
                class Listing:
                    title: str
            """,
            "jobs/ops.py": '''
                from __future__ import annotations

                from typing import Any, Optional

                from opflow import operation
                from jobs.models import Listing

                @operation(
                    name="jobs.fetch",
                    depends_on=["jobs.login"],
                    retries=0,
                    timeout_seconds=2.5,
                    cache="inputs",
                    cache_expiration_seconds=60,
                    tags=["net"],
                    executor="thread",
                )
                async def fetch(
                    keywords: str,
                    pages: int = 2,
                    extra: Optional[dict[str, Any]] = None,
                    since: float = float("-inf"),
                    sources: tuple[str, ...] = ("a", "b"),
                    options: dict[str, list[int]] = {"x": [1, 2]},  # noqa: B006
                    *,
                    strict: bool = False,
                ) -> list[Listing]:
                    """Fetch listings
                    from the network.

                    Details that are not the summary.
                    """
                    return []

                @operation(name="jobs.login")
                def login() -> None:
                    pass

                @operation(name="jobs.untyped_return")
                def untyped_return(x: int):
                    """   """
                    return x
            ''',
        }
    )
    ops = code.operations("jobs")
    assert ops["jobs.fetch"] == {
        "name": "jobs.fetch",
        "call": "jobs.ops:fetch",
        "async": True,
        "params": {
            "keywords": "str",
            "pages": {"type": "int", "default": 2},
            "extra": {"type": "dict[str, Any] | None", "default": None},
            "since": {"type": "float", "default": -math.inf},
            "sources": {"type": "tuple[str, ...]", "default": ["a", "b"]},
            "options": {"type": "dict[str, list[int]]", "default": {"x": [1, 2]}},
            "strict": {"type": "bool", "default": False},
        },
        "returns": "list[jobs.models.Listing]",
        "depends_on": ["jobs.login"],
        "executor": "thread",
        "retries": 0,
        "timeout_seconds": 2.5,
        "cache": "inputs",
        "cache_expiration_seconds": 60,
        "tags": ["net"],
        "doc": "Fetch listings from the network.",
    }
    assert ops["jobs.login"] == {
        "name": "jobs.login",
        "call": "jobs.ops:login",
        "returns": "None",
    }
    assert ops["jobs.untyped_return"] == {
        "name": "jobs.untyped_return",
        "call": "jobs.ops:untyped_return",
        "params": {"x": "int"},
    }


def test_types_of_every_common_shape_through_the_scanner(code) -> None:
    code.write(
        {
            "kinds/__init__.py": "",
            "kinds/models.py": """
                from typing import NamedTuple

                class Listing:
                    class Part:
                        pass

                class Pair(NamedTuple):
                    left: int
                    right: int
            """,
            "kinds/ops.py": """
                import collections.abc
                import typing
                from typing import Annotated, Any, Callable, Dict, List, Optional, Union

                from opflow import operation
                from kinds.models import Listing
                import kinds.models

                @operation(name="kinds.all")
                def every(
                    a: int,
                    b: list[int],
                    c: dict[str, Any],
                    d: List[int],
                    e: Dict[str, List["Listing"]],
                    f: Optional[str],
                    g: Union[int, str, None],
                    h: int | None,
                    i: Listing,
                    j: "kinds.models.Pair",
                    k: "Later",
                    l: Annotated[float, "unit: s"],
                    m: Callable[[int], str],
                    n: collections.abc.Iterable[Listing.Part],
                    o: typing.Tuple[int, ...],
                    p: bytes,
                    q: None,
                ) -> Optional[list[Listing]]:
                    return None

                class Later:
                    pass
            """,
        }
    )
    op = code.operations("kinds")["kinds.all"]
    assert op["params"] == {
        "a": "int",
        "b": "list[int]",
        "c": "dict[str, Any]",
        "d": "list[int]",
        "e": "dict[str, list[kinds.models.Listing]]",
        "f": "str | None",
        "g": "int | str | None",
        "h": "int | None",
        "i": "kinds.models.Listing",
        "j": "kinds.models.Pair",
        "k": "kinds.ops.Later",
        "l": "float",
        "m": "Callable[[int], str]",
        "n": "Iterable[kinds.models.Listing.Part]",
        "o": "tuple[int, ...]",
        "p": "bytes",
        "q": "None",
    }
    assert op["returns"] == "list[kinds.models.Listing] | None"


def test_named_outputs(code) -> None:
    code.write(
        {
            "ml/__init__.py": "",
            "ml/ops.py": """
                from dataclasses import dataclass
                from typing import NamedTuple, TypedDict

                from opflow import operation

                class Split(NamedTuple):
                    train: list[int]
                    test: list[int]

                class Stats(TypedDict):
                    mean: float
                    count: int

                @dataclass
                class Model:
                    weights: list[float]
                    score: float

                @operation(name="ml.split", outputs=["train", "test"])
                def split(rows: list[int]) -> Split:
                    return Split(rows, rows)

                @operation(name="ml.stats", outputs=["count"])
                def stats(rows: list[int]) -> Stats:
                    return {"mean": 0.0, "count": 0}

                @operation(name="ml.fit", outputs=["score", "weights"])
                def fit(rows: list[int]) -> Model:
                    return Model([], 0.0)

                @operation(name="ml.pair", outputs=["low", "high"])
                def pair(rows: list[int]) -> tuple[int, int]:
                    return min(rows), max(rows)

                @operation(name="ml.table", outputs=["a", "b"])
                def table(rows: list[int]) -> dict[str, list[int]]:
                    return {"a": rows, "b": rows}

                @operation(name="ml.given", outputs={"x": list[int], "y": "dict[str, Any]"})
                def given(rows: list[int]) -> dict:
                    return {"x": rows, "y": {}}
            """,
        }
    )
    ops = code.operations("ml")
    outputs = {name: op.get("outputs") for name, op in ops.items()}
    assert outputs == {
        "ml.fit": {"score": "float", "weights": "list[float]"},
        "ml.given": {"x": "list[int]", "y": "dict[str, Any]"},
        "ml.pair": {"low": "int", "high": "int"},
        "ml.split": {"train": "list[int]", "test": "list[int]"},
        "ml.stats": {"count": "int"},
        "ml.table": {"a": "list[int]", "b": "list[int]"},
    }
    assert all("returns" not in op for op in ops.values()), "outputs replace returns"


def test_explicit_sources_with_annotated_from(code) -> None:
    code.write(
        {
            "ml2.py": """
                from typing import Annotated

                from opflow import From, operation

                @operation(name="ml.score")
                def score(
                    model: Annotated[float, From("ml.fit")],
                    rows: Annotated[list[int], "doc", From("ml.split.test")] = [],  # noqa: B006
                    seed: Annotated[int, From("$seed")] = 1,
                ) -> float:
                    return model
            """
        }
    )
    assert code.operations("ml2")["ml.score"]["params"] == {
        "model": {"type": "float", "from": "ml.fit"},
        "rows": {"type": "list[int]", "default": [], "from": "ml.split.test"},
        "seed": {"type": "int", "default": 1, "from": "$seed"},
    }


def test_wrapped_functions_keep_the_wrapped_signature(code) -> None:
    code.write(
        {
            "wrapped.py": """
                import functools

                from opflow import operation

                def logged(func):
                    @functools.wraps(func)
                    def wrapper(*args, **kwargs):
                        return func(*args, **kwargs)
                    return wrapper

                @operation(name="w.double")
                @logged
                def double(x: int) -> int:
                    return 2 * x

                @logged
                @operation(name="w.triple")
                def triple(x: int) -> int:
                    return 3 * x
            """
        }
    )
    ops = code.operations("wrapped")
    assert ops["w.double"] == {
        "name": "w.double",
        "call": "wrapped:double",
        "params": {"x": "int"},
        "returns": "int",
    }
    assert ops["w.triple"]["call"] == "wrapped:triple"


# Refusals --------------------------------------------------------------------


def refusal(code, file: str, line: int, name: str, text: str) -> str:
    return f"{code.path(file)}:{line}: operation `{name}`: {text}"


def test_parameter_without_annotation(code) -> None:
    code.write(
        {
            "m.py": """
                from opflow import operation

                @operation(name="a.f")
                def f(x: int,
                      y,
                      z=3) -> int:
                    return x
            """
        }
    )
    assert code.refusals("m") == [
        refusal(
            code,
            "m.py",
            5,
            "a.f",
            "parameter `y` has no type annotation; annotate it (e.g. `y: str`) so the flow knows its type",
        ),
        refusal(
            code,
            "m.py",
            6,
            "a.f",
            "parameter `z` has no type annotation; annotate it (e.g. `z: str`) so the flow knows its type",
        ),
    ]


@pytest.mark.parametrize(
    ("default", "shown"),
    [
        ("object()", "`<object object at"),
        ("datetime.date(2024, 1, 1)", "`datetime.date(2024, 1, 1)` is a date"),
        ("{1, 2}", "`{1, 2}` is a set"),
        ("{1: 'a'}", "the dict key 1 is not a string"),
        ("[1, b'x']", "`b'x'` is a bytes"),
        ("print", "`<built-in function print>` is a builtin_function_or_method"),
        ("Color.RED", "`<Color.RED: 1>` is a Color"),
    ],
)
def test_non_literal_default(code, default: str, shown: str) -> None:
    code.write(
        {
            "m.py": f"""
                import datetime
                import enum

                from opflow import operation

                class Color(enum.Enum):
                    RED = 1

                @operation(name="a.f")
                def f(x: object = {default}) -> None:
                    pass
            """
        }
    )
    [text] = code.refusals("m")
    assert text.startswith(
        f"{code.path('m.py')}:10: operation `a.f`: parameter `x` has a default that is not a literal ({shown}"
    ), text
    assert text.endswith(
        "); use None, a bool, a number, a string, or a list or dict of those, or make the parameter required"
    )


def test_variadic_and_positional_only_parameters(code) -> None:
    code.write(
        {
            "m.py": """
                from opflow import operation

                @operation(name="a.f")
                def f(a: int, /, b: int, *args: int, c: int, **kwargs: int) -> None:
                    pass
            """
        }
    )
    assert code.refusals("m") == [
        refusal(
            code,
            "m.py",
            4,
            "a.f",
            "parameter `**kwargs` is variadic; opflow passes every argument by name, so list the parameters one by one",
        ),
        refusal(
            code,
            "m.py",
            4,
            "a.f",
            "parameter `*args` is variadic; opflow passes every argument by name, so list the parameters one by one",
        ),
        refusal(
            code,
            "m.py",
            4,
            "a.f",
            "parameter `a` is positional-only; opflow passes every argument by name, so remove the `/`",
        ),
    ]


def test_function_shapes_that_cannot_be_imported(code) -> None:
    code.write(
        {
            "m.py": """
                from opflow import operation

                lam = operation(name="a.lam")(lambda x: x)

                def factory(n: int):
                    @operation(name="a.closure")
                    def inner(x: int) -> int:
                        return x + n
                    return inner

                made = factory(1)

                class Service:
                    @operation(name="a.method")
                    def method(self, x: int) -> int:
                        return x

                    @operation(name="a.static")
                    @staticmethod
                    def static(x: int) -> int:
                        return x

                    @operation(name="a.klass")
                    @classmethod
                    def klass(cls, x: int) -> int:
                        return x

                @operation(name="a.agen")
                async def agen(x: int):
                    yield x

                @operation(name="a.gen")
                def gen(x: int):
                    yield x
            """
        }
    )
    assert code.refusals("m") == [
        refusal(
            code,
            "m.py",
            3,
            "a.lam",
            "a lambda cannot be an operation; define it with `def` at module level",
        ),
        refusal(
            code,
            "m.py",
            7,
            "a.closure",
            "`factory.<locals>.inner` is defined inside another function (a nested function or closure), so it cannot be imported; define it at module level",
        ),
        refusal(
            code,
            "m.py",
            15,
            "a.method",
            "`Service.method` is a method; make it a module-level function",
        ),
        refusal(
            code,
            "m.py",
            20,
            "a.static",
            "`Service.static` is a static method; make it a module-level function",
        ),
        refusal(
            code,
            "m.py",
            25,
            "a.klass",
            "`Service.klass` is a class method; make it a module-level function",
        ),
        refusal(
            code,
            "m.py",
            29,
            "a.agen",
            "an async generator cannot be an operation; return a list instead of yielding",
        ),
        refusal(
            code,
            "m.py",
            33,
            "a.gen",
            "a generator cannot be an operation; return a list instead of yielding",
        ),
    ]


def test_two_functions_with_the_same_name(code) -> None:
    code.write(
        {
            "pkg/__init__.py": "",
            "pkg/one.py": """
                from opflow import operation

                @operation(name="dup.step")
                def first() -> int:
                    return 1
            """,
            "pkg/two.py": """
                from opflow import operation


                @operation(name="dup.step")
                def second() -> int:
                    return 2

                @operation(name="dup.other")
                def other() -> int:
                    return 3
            """,
        }
    )
    result = code.scan("pkg")
    assert [str(r) for r in result.refusals] == [
        refusal(
            code,
            "pkg/two.py",
            4,
            "dup.step",
            f"`pkg.two:second` uses the same name as `pkg.one:first` ({code.path('pkg/one.py')}:3); give each operation its own name",
        )
    ]
    assert [op.name for op in result.operations] == ["dup.other"]


def test_types_the_grammar_cannot_express(code) -> None:
    code.write(
        {
            "m.py": """
                from typing import Literal, TypeVar

                from opflow import operation

                T = TypeVar("T")

                @operation(name="a.f")
                def f(
                    mode: Literal["fast", "slow"],
                    item: T,
                ) -> list[T]:
                    return [item]
            """
        }
    )
    assert code.refusals("m") == [
        refusal(
            code,
            "m.py",
            9,
            "a.f",
            "parameter `mode`: `Literal['fast', 'slow']` is a `Literal` type, which opflow's type grammar cannot express; use the type of its values (e.g. `str`)",
        ),
        refusal(
            code,
            "m.py",
            10,
            "a.f",
            "parameter `item`: `~T` is a type variable; opflow needs a concrete type such as `int`",
        ),
        refusal(
            code,
            "m.py",
            11,
            "a.f",
            "return type: `~T` is a type variable; opflow needs a concrete type such as `int`",
        ),
    ]


def test_annotation_that_cannot_be_evaluated(code) -> None:
    code.write(
        {
            "m.py": """
                from __future__ import annotations

                from typing import TYPE_CHECKING

                from opflow import operation

                if TYPE_CHECKING:
                    from decimal import Decimal

                @operation(name="a.f")
                def f(x: Decimal) -> int:
                    return 1
            """
        }
    )
    assert code.refusals("m") == [
        refusal(
            code,
            "m.py",
            11,
            "a.f",
            "cannot evaluate the type annotations (NameError: name 'Decimal' is not defined); import the names they use at module level (not only under `if TYPE_CHECKING:`)",
        ),
    ]


def test_outputs_that_cannot_be_typed(code) -> None:
    code.write(
        {
            "m.py": """
                from typing import NamedTuple

                from opflow import operation

                class Split(NamedTuple):
                    train: list[int]

                @operation(name="a.none", outputs=["x"])
                def none(rows: list[int]):
                    return rows

                @operation(name="a.plain", outputs=["x"])
                def plain(rows: list[int]) -> list[int]:
                    return rows

                @operation(name="a.missing", outputs=["train", "test"])
                def missing(rows: list[int]) -> Split:
                    return Split(rows)

                @operation(name="a.short", outputs=["a", "b", "c"])
                def short(rows: list[int]) -> tuple[int, int]:
                    return 1, 2
            """
        }
    )
    assert code.refusals("m") == [
        refusal(
            code,
            "m.py",
            9,
            "a.none",
            "`outputs` lists names only, but the function has no return annotation to take their types from; annotate the return or give outputs as a dict name → type",
        ),
        refusal(
            code,
            "m.py",
            13,
            "a.plain",
            "`outputs` lists names only, but the return annotation is not a NamedTuple, TypedDict, dataclass, tuple or dict; give outputs as a dict name → type",
        ),
        refusal(
            code,
            "m.py",
            17,
            "a.missing",
            "output `test` is not a field of the return type (its fields: `train`)",
        ),
        refusal(
            code,
            "m.py",
            21,
            "a.short",
            "`outputs` names 3 values but the return annotation is a tuple of 2",
        ),
    ]


def test_function_hidden_behind_a_wrapper_is_refused(code) -> None:
    code.write(
        {
            "m.py": """
                from opflow import operation

                def opaque(func):
                    def wrapper(x: int) -> int:
                        return func(x)
                    return wrapper

                @opaque
                @operation(name="a.hidden")
                def hidden(x: int) -> int:
                    return x
            """
        }
    )
    assert code.refusals("m") == [
        refusal(
            code,
            "m.py",
            10,
            "a.hidden",
            "`m:hidden` does not name this function (was it renamed, deleted or wrapped after decoration?); put @operation outermost on a module-level function",
        ),
    ]


def test_every_refusal_of_every_module_at_once(code) -> None:
    code.write(
        {
            "many/__init__.py": "",
            "many/a.py": """
                from opflow import operation

                @operation(name="many.a")
                def a(x) -> None:
                    pass
            """,
            "many/b.py": """
                from opflow import operation

                @operation(name="many.b")
                def b(*xs: int) -> None:
                    pass

                @operation(name="many.ok")
                def ok() -> None:
                    pass
            """,
            "many/c.py": """
                from opflow import operation

                @operation(name="many..c")
                def c() -> None:
                    pass
            """,
            "many/d.py": "def broken(:\n",
            "many/e.py": "import not_a_module_anywhere\n",
        }
    )
    result = code.scan("many")
    assert [str(r) for r in result.refusals] == [
        refusal(
            code,
            "many/a.py",
            4,
            "many.a",
            "parameter `x` has no type annotation; annotate it (e.g. `x: str`) so the flow knows its type",
        ),
        refusal(
            code,
            "many/b.py",
            4,
            "many.b",
            "parameter `*xs` is variadic; opflow passes every argument by name, so list the parameters one by one",
        ),
        f"{code.path('many/c.py')}:3: cannot import `many.c`: ValueError: @operation(name='many..c'): invalid operation name (segment 2 is empty); a name is dot-separated Python identifiers, e.g. \"scraping.stepstone.fetch\"",
        f"{code.path('many/d.py')}:1: cannot import `many.d`: SyntaxError: invalid syntax (d.py, line 1)",
        f"{code.path('many/e.py')}:1: cannot import `many.e`: ModuleNotFoundError: No module named 'not_a_module_anywhere'",
    ]
    assert [op.name for op in result.operations] == ["many.ok"]


def test_a_module_that_does_not_exist_is_a_usage_error(code) -> None:
    code.write({"present.py": ""})
    with pytest.raises(UsageError, match=r"no module named `absent`, `present.absent`"):
        code.scan("present", "absent", "present.absent")
    with pytest.raises(UsageError, match=r"`not a module` is not a module name"):
        code.scan("not a module")


def test_modules_imported_again_leave_their_old_functions_behind(code) -> None:
    import importlib
    import sys

    code.write(
        {
            "again.py": """
                from opflow import operation

                @operation(name="again.f")
                def f() -> int:
                    return 1
            """
        }
    )
    assert list(code.operations("again")) == ["again.f"]
    del sys.modules["again"]
    importlib.invalidate_caches()
    assert list(code.operations("again")) == ["again.f"]
