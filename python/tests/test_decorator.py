"""`@operation` records its settings, checks them at once, and changes nothing."""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import sys

import pytest
from opflow import From, OperationSpec, get_operation, operation


def test_returns_the_same_function_still_callable() -> None:
    def add(a: int, b: int = 2) -> int:
        """Add."""
        return a + b

    signature = inspect.signature(add)
    decorated = operation(name="math.add")(add)

    assert decorated is add
    assert add(1) == 3
    assert inspect.signature(add) == signature
    assert add.__name__ == "add" and add.__doc__ == "Add."
    assert not hasattr(add, "__wrapped__")


def test_async_function_stays_awaitable() -> None:
    @operation(name="io.fetch")
    async def fetch(n: int) -> list[int]:
        await asyncio.sleep(0)
        return list(range(n))

    assert inspect.iscoroutinefunction(fetch)
    assert asyncio.run(fetch(3)) == [0, 1, 2]


def test_wrapped_function_keeps_its_wrapped_chain() -> None:
    def inner(x: int) -> int:
        return x * 2

    @functools.wraps(inner)
    def wrapper(*args: object, **kwargs: object) -> object:
        return inner(*args, **kwargs)

    decorated = operation(name="w.double")(wrapper)

    assert decorated is wrapper
    assert decorated.__wrapped__ is inner
    assert inspect.signature(decorated) == inspect.signature(inner)
    assert decorated(4) == 8


def test_records_every_setting() -> None:
    line = sys._getframe().f_lineno + 2

    @operation(
        name="ml.split",
        depends_on=["ml.load"],
        outputs={"train": list[int], "test": "list[int]"},
        executor="process",
        retries=3,
        retry_delay_seconds=1.5,
        timeout_seconds=60,
        cache="inputs",
        cache_expiration_seconds=3600,
        tags=["ml", "cpu"],
    )
    def split(rows: list[int]) -> dict[str, list[int]]:
        return {"train": rows, "test": rows}

    spec = get_operation(split)
    assert isinstance(spec, OperationSpec)
    assert spec.name == "ml.split"
    assert spec.depends_on == ("ml.load",)
    assert spec.outputs == (("train", list[int]), ("test", "list[int]"))
    assert spec.executor == "process"
    assert (spec.retries, spec.retry_delay_seconds, spec.timeout_seconds) == (
        3,
        1.5,
        60,
    )
    assert (spec.cache, spec.cache_expiration_seconds) == ("inputs", 3600)
    assert spec.tags == ("ml", "cpu")
    assert spec.defined_at == (__file__, line)


def test_settings_left_out_are_none() -> None:
    @operation(name="flat")
    def flat() -> None:
        pass

    spec = get_operation(flat)
    assert spec is not None
    assert spec.depends_on == () and spec.tags == () and spec.outputs is None
    assert spec.executor is spec.retries is spec.timeout_seconds is spec.cache is None
    assert get_operation(test_settings_left_out_are_none) is None


def test_the_name_is_positional_too() -> None:
    @operation("a.b")
    def f() -> None:
        pass

    assert get_operation(f).name == "a.b"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "it is empty"),
        ("scraping..fetch", "segment 2 is empty"),
        (".fetch", "segment 1 is empty"),
        ("scraping.", "segment 2 is empty"),
        ("1scraping", "`1scraping` is not an ASCII Python identifier"),
        ("scraping.step-stone", "`step-stone` is not an ASCII Python identifier"),
        ("scraping.class", "`class` is a Python keyword"),
        ("scraping.None", "`None` is a Python keyword"),
        ("données.fetch", "`données` is not an ASCII Python identifier"),
        ("a b", "`a b` is not an ASCII Python identifier"),
    ],
)
def test_a_bad_name_raises_with_a_clear_message(name: str, problem: str) -> None:
    with pytest.raises(ValueError) as raised:
        operation(name=name)
    message = str(raised.value)
    assert message.startswith(f"@operation(name={name!r}): invalid operation name (")
    assert problem in message
    assert 'e.g. "scraping.stepstone.fetch"' in message


def test_bare_decorator_says_to_give_a_name() -> None:
    with pytest.raises(TypeError, match=r"with parentheses"):

        @operation  # type: ignore[arg-type]
        def f() -> None:
            pass


def test_name_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="the name must be a string, got int"):
        operation(name=3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"depends_on": "a.b"}, TypeError, r"`depends_on` must be a list of strings"),
        ({"depends_on": [1]}, TypeError, r"`depends_on` must hold strings, got int"),
        (
            {"depends_on": ["a..b"]},
            ValueError,
            r"entry 'a..b' is not an operation name",
        ),
        ({"depends_on": ["x.y"]}, ValueError, r"cannot depend on itself"),
        ({"depends_on": ["a", "a"]}, ValueError, r"lists 'a' twice"),
        ({"outputs": {}}, ValueError, r"`outputs` is empty"),
        ({"outputs": "train"}, TypeError, r"`outputs` must be a dict of name"),
        ({"outputs": 3}, TypeError, r"`outputs` must be a dict of name"),
        ({"outputs": {"class": int}}, ValueError, r"output name 'class' is invalid"),
        ({"outputs": {1: int}}, TypeError, r"output names must be strings"),
        ({"outputs": ["a", "a"]}, ValueError, r"output 'a' is listed twice"),
        (
            {"outputs": {"a": "list[int"}},
            ValueError,
            r"type 'list\[int' of output `a` is invalid",
        ),
        (
            {"outputs": {"a": "Listing"}},
            ValueError,
            r"neither a builtin nor a `typing` name",
        ),
        (
            {"executor": "dask"},
            ValueError,
            r'`executor` must be one of "thread", "process"',
        ),
        ({"cache": "always"}, ValueError, r'`cache` must be one of "none", "inputs"'),
        ({"cache": None}, None, None),
        ({"retries": -1}, ValueError, r"`retries` must be between 0 and"),
        ({"retries": 2**32}, ValueError, r"`retries` must be between 0 and"),
        ({"retries": True}, TypeError, r"`retries` must be an integer"),
        ({"retries": 1.5}, TypeError, r"`retries` must be an integer"),
        ({"retry_delay_seconds": -0.5}, ValueError, r"finite, non-negative"),
        ({"timeout_seconds": math.inf}, ValueError, r"finite, non-negative"),
        ({"timeout_seconds": math.nan}, ValueError, r"finite, non-negative"),
        ({"timeout_seconds": "10"}, TypeError, r"must be a number of seconds"),
        ({"cache_expiration_seconds": -1}, ValueError, r"finite, non-negative"),
        ({"tags": "etl"}, TypeError, r"`tags` must be a list of strings"),
        ({"tags": ["etl", 2]}, TypeError, r"`tags` must hold strings"),
    ],
)
def test_bad_settings_raise_when_the_decorator_runs(
    kwargs: dict[str, object], error: type[Exception] | None, message: str | None
) -> None:
    if error is None:
        operation(name="x.y", **kwargs)  # type: ignore[arg-type]
        return
    with pytest.raises(error, match=message) as raised:
        operation(name="x.y", **kwargs)  # type: ignore[arg-type]
    assert str(raised.value).startswith("@operation(name='x.y'): ")


def test_async_function_in_a_process_pool_is_refused() -> None:
    with pytest.raises(ValueError, match=r"cannot run in a process pool"):

        @operation(name="a.b", executor="process")
        async def f() -> None:
            pass


def test_decorating_twice_is_refused() -> None:
    @operation(name="a.first")
    def f() -> None:
        pass

    with pytest.raises(ValueError, match=r"already an operation as `a.first`"):
        operation(name="a.second")(f)


@pytest.mark.parametrize(
    "target",
    [int, functools.partial(print, "x"), len, object()],
    ids=["class", "partial", "builtin", "instance"],
)
def test_only_functions_can_be_decorated(target: object) -> None:
    with pytest.raises(
        TypeError, match=r"decorates a function \(`def` or `async def`\)"
    ):
        operation(name="a.b")(target)  # type: ignore[arg-type]


def test_from_checks_its_source() -> None:
    assert From("a.b.c").source == "a.b.c"
    assert From("$keywords").source == "$keywords"
    with pytest.raises(ValueError, match=r"From\('a..b'\): segment 2 is empty"):
        From("a..b")
    with pytest.raises(ValueError, match=r"From\('\$1x'\)"):
        From("$1x")
    with pytest.raises(TypeError, match=r"the source must be a string"):
        From(3)  # type: ignore[arg-type]


def test_the_package_does_not_import_prefect() -> None:
    import subprocess

    code = "import sys, opflow, opflow.cli; print('prefect' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
