"""`@operation`: record an operation's settings on a function, change nothing else."""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from opflow._types import check_type_string, dotted_name_problem, identifier_problem

F = TypeVar("F")

EXECUTORS = ("thread", "process")
CACHE_POLICIES = ("none", "inputs", "task_source", "default")
_U32_MAX = 2**32 - 1


@dataclass(frozen=True)
class OperationSpec:
    """What `@operation(...)` recorded. `None` means "not set": the manifest
    leaves the key out and the operation inherits `[defaults]`."""

    name: str
    depends_on: tuple[str, ...] = ()
    #: Named outputs: `(name, type)` pairs, the type a type string or a Python
    #: type (rendered when scanned); or names only (`type` None), typed from
    #: the return annotation.
    outputs: tuple[tuple[str, Any], ...] | None = None
    executor: str | None = None
    retries: int | None = None
    retry_delay_seconds: float | None = None
    timeout_seconds: float | None = None
    cache: str | None = None
    cache_expiration_seconds: float | None = None
    tags: tuple[str, ...] = ()
    #: Where the decorator was applied: `(file, line)`.
    defined_at: tuple[str, int] = ("<unknown>", 0)


@dataclass(frozen=True)
class From:
    """Where a parameter's value comes from, for `typing.Annotated`:
    `rows: Annotated[list[int], From("ml.split.test")]` writes
    `rows = { type = "list[int]", from = "ml.split.test" }`. The source is an
    operation (`a.b.c`), a named output (`a.b.c.output`) or a flow parameter
    (`$name`)."""

    source: str

    def __post_init__(self) -> None:
        if not isinstance(self.source, str):
            raise TypeError(
                f"From({self.source!r}): the source must be a string such as "
                '"a.b.c", "a.b.c.output" or "$name"'
            )
        if self.source.startswith("$"):
            problem = identifier_problem(self.source[1:])
        else:
            problem = dotted_name_problem(self.source)
        if problem:
            raise ValueError(
                f"From({self.source!r}): {problem}; write an operation name "
                '("a.b.c"), a named output ("a.b.c.output") or a flow parameter ("$name")'
            )


#: Every object `@operation` decorated, in order; the scanner keeps those of
#: the modules it imported.
REGISTRY: list[tuple[Any, OperationSpec]] = []

_ATTRIBUTE = "__opflow_operation__"


def operation(
    name: str,
    *,
    depends_on: Iterable[str] | None = None,
    outputs: Mapping[str, Any] | Iterable[str] | None = None,
    executor: str | None = None,
    retries: int | None = None,
    retry_delay_seconds: float | None = None,
    timeout_seconds: float | None = None,
    cache: str | None = None,
    cache_expiration_seconds: float | None = None,
    tags: Iterable[str] | None = None,
) -> Callable[[F], F]:
    """Mark a function as the opflow operation `name`.

    The function is returned unchanged (same object: callable, awaitable,
    same signature, same `__wrapped__`); the settings are checked here, so a
    mistake fails the import with a clear message, and `opflow scan` reads
    them to write the manifest. Settings left out inherit `[defaults]`.

    - `name`: the hierarchical name, `"scraping.stepstone.fetch"`;
    - `depends_on`: operations that must finish first;
    - `outputs`: named outputs of a function returning several values: a dict
      name → type (a type string or a Python type), or a list of names typed
      from the return annotation (a NamedTuple, TypedDict, dataclass or tuple);
    - `executor`: `"thread"` or `"process"` (CPU-bound sync work);
    - `retries`, `retry_delay_seconds`, `timeout_seconds`: Prefect's task settings;
    - `cache`: `"none"`, `"inputs"`, `"task_source"` or `"default"`, with
      `cache_expiration_seconds`;
    - `tags`: Prefect tags.
    """
    where = f"@operation(name={name!r})"
    name = _check_name(name, where)
    spec = OperationSpec(
        name=name,
        depends_on=_check_depends_on(depends_on, name, where),
        outputs=_check_outputs(outputs, where),
        executor=_check_choice(executor, "executor", EXECUTORS, where),
        retries=_check_count(retries, "retries", where),
        retry_delay_seconds=_check_seconds(
            retry_delay_seconds, "retry_delay_seconds", where
        ),
        timeout_seconds=_check_seconds(timeout_seconds, "timeout_seconds", where),
        cache=_check_choice(cache, "cache", CACHE_POLICIES, where),
        cache_expiration_seconds=_check_seconds(
            cache_expiration_seconds, "cache_expiration_seconds", where
        ),
        tags=_check_strings(tags, "tags", where),
        defined_at=_caller(),
    )

    def decorate(func: F) -> F:
        _check_target(func, spec, where)
        try:
            setattr(func, _ATTRIBUTE, spec)
        except (AttributeError, TypeError):  # e.g. a staticmethod on old Pythons
            pass
        REGISTRY.append((func, spec))
        return func

    return decorate


def get_operation(func: Any) -> OperationSpec | None:
    """The settings `@operation` recorded on `func`, or None."""
    spec = getattr(func, _ATTRIBUTE, None)
    return spec if isinstance(spec, OperationSpec) else None


def _caller() -> tuple[str, int]:
    """File and line of the `@operation(...)` expression."""
    frame = sys._getframe(2)
    return frame.f_code.co_filename, frame.f_lineno


def _check_target(func: Any, spec: OperationSpec, where: str) -> None:
    if any(entry is func for entry, _ in REGISTRY) or get_operation(func) is not None:
        previous = get_operation(func)
        also = f" as `{previous.name}`" if previous else ""
        raise ValueError(
            f"{where}: this function is already an operation{also}; decorate it once"
        )
    if isinstance(func, (staticmethod, classmethod)):
        return  # refused by the scanner, with its file and line: a method
    if not callable(func) or not inspect.isfunction(inspect.unwrap(func)):
        kind = "a class" if inspect.isclass(func) else f"a {type(func).__name__}"
        raise TypeError(
            f"{where} decorates a function (`def` or `async def`), not {kind}"
        )
    if spec.executor == "process" and inspect.iscoroutinefunction(func):
        raise ValueError(
            f"{where}: an `async def` function cannot run in a process pool; "
            'drop `executor="process"` (async operations run on the event loop)'
        )


def _check_name(name: Any, where: str) -> str:
    if callable(name) and not isinstance(name, str):
        raise TypeError(
            "@operation needs the operation's name: write "
            '`@operation(name="flow.step")` (with parentheses), not a bare `@operation`'
        )
    if not isinstance(name, str):
        raise TypeError(
            f"{where}: the name must be a string, got {type(name).__name__}"
        )
    problem = dotted_name_problem(name)
    if problem:
        raise ValueError(
            f"{where}: invalid operation name ({problem}); a name is dot-separated "
            'Python identifiers, e.g. "scraping.stepstone.fetch"'
        )
    return name


def _check_strings(values: Any, argument: str, where: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(
            f"{where}: `{argument}` must be a list of strings, "
            f'e.g. {argument}=["{values if isinstance(values, str) else "..."}"]'
        )
    items = tuple(values)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(
                f"{where}: `{argument}` must hold strings, got {type(item).__name__} {item!r}"
            )
    return items


def _check_depends_on(values: Any, name: str, where: str) -> tuple[str, ...]:
    names = _check_strings(values, "depends_on", where)
    seen: set[str] = set()
    for dep in names:
        problem = dotted_name_problem(dep)
        if problem:
            raise ValueError(
                f"{where}: `depends_on` entry {dep!r} is not an operation name ({problem})"
            )
        if dep == name:
            raise ValueError(f"{where}: an operation cannot depend on itself")
        if dep in seen:
            raise ValueError(f"{where}: `depends_on` lists {dep!r} twice")
        seen.add(dep)
    return names


def _check_outputs(outputs: Any, where: str) -> tuple[tuple[str, Any], ...] | None:
    if outputs is None:
        return None
    if isinstance(outputs, Mapping):
        pairs = tuple(outputs.items())
    elif isinstance(outputs, (str, bytes)) or not isinstance(outputs, Iterable):
        raise TypeError(
            f"{where}: `outputs` must be a dict of name → type "
            '(e.g. outputs={"train": list[int], "test": list[int]}) or a list of names'
        )
    else:
        pairs = tuple((item, None) for item in outputs)
    if not pairs:
        raise ValueError(
            f"{where}: `outputs` is empty; leave it out for a single return value"
        )
    seen: set[str] = set()
    for key, tp in pairs:
        if not isinstance(key, str):
            raise TypeError(f"{where}: output names must be strings, got {key!r}")
        problem = identifier_problem(key)
        if problem:
            raise ValueError(f"{where}: output name {key!r} is invalid ({problem})")
        if key in seen:
            raise ValueError(f"{where}: output {key!r} is listed twice")
        seen.add(key)
        if isinstance(tp, str):
            problem = check_type_string(tp)
            if problem:
                raise ValueError(
                    f"{where}: the type {tp!r} of output `{key}` is invalid: {problem}"
                )
    return pairs


def _check_choice(
    value: Any, argument: str, choices: tuple[str, ...], where: str
) -> str | None:
    if value is None:
        return None
    if value not in choices or not isinstance(value, str):
        allowed = ", ".join(f'"{c}"' for c in choices)
        raise ValueError(
            f"{where}: `{argument}` must be one of {allowed}, got {value!r}"
        )
    return value


def _check_count(value: Any, argument: str, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{where}: `{argument}` must be an integer, got {value!r}")
    if not 0 <= value <= _U32_MAX:
        raise ValueError(
            f"{where}: `{argument}` must be between 0 and {_U32_MAX}, got {value}"
        )
    return value


def _check_seconds(value: Any, argument: str, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{where}: `{argument}` must be a number of seconds, got {value!r}"
        )
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"{where}: `{argument}` must be a finite, non-negative number of seconds, got {value!r}"
        )
    return value


__all__ = ["From", "OperationSpec", "get_operation", "operation"]
