"""Import modules, collect the functions `@operation` decorated, and describe
each one as the manifest will: call, parameters, types, defaults, settings.

Whatever the manifest cannot express is a `Refusal` naming the file and line,
collected across every module so that all are reported at once.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import inspect
import os
import pkgutil
import sys
import traceback
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from opflow._decorator import REGISTRY, From, OperationSpec
from opflow._types import (
    TypeRefused,
    dotted_name_problem,
    identifier_problem,
    render_type,
)

_PACKAGE_DIR = str(Path(__file__).resolve().parent)


class UsageError(Exception):
    """A command-line mistake (exit code 2): a module that does not exist."""


@dataclass(frozen=True, order=True)
class Refusal:
    """Something the manifest cannot express, at `file:line`."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{display_path(self.file)}:{self.line}: {self.message}"


@dataclass
class Param:
    name: str
    type: str
    line: int
    has_default: bool = False
    default: Any = None
    source: str | None = None


@dataclass
class Operation:
    """One operation as the manifest writes it (`None` / empty: key left out)."""

    name: str
    call: str
    file: str
    line: int
    is_async: bool = False
    params: list[Param] = field(default_factory=list)
    returns: str | None = None
    outputs: list[tuple[str, str]] | None = None
    depends_on: tuple[str, ...] = ()
    executor: str | None = None
    retries: int | None = None
    retry_delay_seconds: float | None = None
    timeout_seconds: float | None = None
    cache: str | None = None
    cache_expiration_seconds: float | None = None
    tags: tuple[str, ...] = ()
    doc: str | None = None


@dataclass
class ScanResult:
    operations: list[Operation]
    refusals: list[Refusal]
    modules: list[str]


def display_path(path: str) -> str:
    """`path` relative to the working folder when it lies inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith("..") else relative


def scan(targets: Sequence[str]) -> ScanResult:
    """Import `targets` (packages recursively) and describe their operations."""
    modules, refusals = import_modules(targets)
    operations: list[Operation] = []
    for obj, spec in collect(modules):
        described = describe(obj, spec)
        if isinstance(described, Operation):
            operations.append(described)
        else:
            refusals.extend(described)
    refusals.extend(_duplicates(operations))
    operations.sort(key=lambda op: op.name)
    return ScanResult(operations, sorted(set(refusals)), [m.__name__ for m in modules])


# Importing -------------------------------------------------------------------


def import_modules(targets: Sequence[str]) -> tuple[list[ModuleType], list[Refusal]]:
    """Import every target and, for packages, every submodule below it
    (`__main__` modules excepted). A target that does not exist is a
    `UsageError`; a module that fails to import is a refusal."""
    imported: dict[str, ModuleType] = {}
    refusals: list[Refusal] = []
    missing: list[str] = []
    for target in targets:
        problem = dotted_name_problem(target)
        if problem:
            raise UsageError(f"`{target}` is not a module name ({problem})")
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as error:
            if error.name and (
                target == error.name or target.startswith(error.name + ".")
            ):
                missing.append(target)
            else:
                refusals.append(_import_failure(target, error))
            continue
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: BLE001 - any failure (even SystemExit) is reported
            refusals.append(_import_failure(target, error))
            continue
        _walk(module, imported, refusals)
    if missing:
        names = ", ".join(f"`{name}`" for name in missing)
        raise UsageError(
            f"no module named {names}; give importable module or package names "
            "(the working folder and --path folders are searched)"
        )
    return list(imported.values()), refusals


def _walk(
    module: ModuleType, imported: dict[str, ModuleType], refusals: list[Refusal]
) -> None:
    if module.__name__ in imported:
        return
    imported[module.__name__] = module
    path = getattr(module, "__path__", None)
    if path is None:
        return
    children = sorted(
        pkgutil.iter_modules(path, module.__name__ + "."), key=lambda m: m.name
    )
    for child in children:
        if child.name.rsplit(".", 1)[-1] == "__main__" or child.name in imported:
            continue
        try:
            submodule = importlib.import_module(child.name)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: BLE001 - any failure (even SystemExit) is reported
            refusals.append(_import_failure(child.name, error))
            continue
        _walk(submodule, imported, refusals)


def _internal(filename: str) -> bool:
    return filename.startswith(("<frozen", _PACKAGE_DIR + os.sep))


def _import_failure(name: str, error: BaseException) -> Refusal:
    file, line = "<unknown>", 0
    if isinstance(error, SyntaxError) and error.filename:
        file, line = error.filename, error.lineno or 0
    else:
        frames = traceback.extract_tb(error.__traceback__)
        user = [frame for frame in frames if not _internal(frame.filename)]
        chosen = user[-1] if user else (frames[-1] if frames else None)
        if chosen is not None:
            file, line = chosen.filename, chosen.lineno or 0
    text = " ".join(str(error).split())
    kind = type(error).__name__
    return Refusal(
        file,
        line,
        f"cannot import `{name}`: {kind}: {text}"
        if text
        else f"cannot import `{name}`: {kind}",
    )


# Collecting ------------------------------------------------------------------


def collect(modules: Sequence[ModuleType]) -> list[tuple[Any, OperationSpec]]:
    """The decorated objects defined in `modules` (the current import of each:
    a module imported again leaves its old functions behind)."""
    namespaces = {module.__name__: vars(module) for module in modules}
    found: list[tuple[Any, OperationSpec]] = []
    seen: set[int] = set()
    for obj, spec in REGISTRY:
        func = _function_of(obj)
        module = getattr(obj, "__module__", None) or getattr(func, "__module__", None)
        namespace = namespaces.get(module) if isinstance(module, str) else None
        if namespace is None or id(obj) in seen:
            continue
        if getattr(inspect.unwrap(func), "__globals__", None) is not namespace:
            continue
        seen.add(id(obj))
        found.append((obj, spec))
    return found


def _function_of(obj: Any) -> Any:
    return obj.__func__ if isinstance(obj, (staticmethod, classmethod)) else obj


# Describing ------------------------------------------------------------------


@functools.cache
def _parse(file: str) -> ast.Module | None:
    try:
        return ast.parse(Path(file).read_text(encoding="utf-8"), file)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None


@dataclass
class _Where:
    """Lines of a function's parts, for precise refusals."""

    file: str
    definition: int
    params: dict[str, int]
    returns: int


def _locate(func: Any) -> _Where:
    code = getattr(inspect.unwrap(func), "__code__", None)
    if code is None:
        return _Where("<unknown>", 0, {}, 0)
    file, first = code.co_filename, code.co_firstlineno
    tree = _parse(file)
    if tree is not None:
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if node.name != code.co_name:
                continue
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            if first not in (start, node.lineno):
                continue
            arguments = node.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
            every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
            params = {arg.arg: arg.lineno for arg in every}
            returns = node.returns.lineno if node.returns is not None else node.lineno
            return _Where(file, node.lineno, params, returns)
    return _Where(file, first, {}, first)


def describe(obj: Any, spec: OperationSpec) -> Operation | list[Refusal]:
    """The operation `obj` is, or every reason it cannot be one."""
    func = _function_of(obj)
    where = _locate(func)
    label = f"operation `{spec.name}`"
    refusals: list[Refusal] = []

    def refuse(line: int, message: str) -> None:
        refusals.append(Refusal(where.file, line, f"{label}: {message}"))

    shape = _shape_problem(obj, func)
    if shape:
        refuse(where.definition, shape)
        return refusals

    module_name = func.__module__
    qualname = func.__qualname__
    call = f"{module_name}:{qualname}"
    if dotted_name_problem(module_name) or dotted_name_problem(qualname):
        refuse(
            where.definition,
            f"`{call}` is not a `module:qualname` of ASCII identifiers; rename the "
            "module or function",
        )
    elif not _resolves_to(sys.modules.get(module_name), qualname, obj):
        refuse(
            where.definition,
            f"`{call}` does not name this function (was it renamed, deleted or "
            "wrapped after decoration?); put @operation outermost on a module-level function",
        )

    globalns = getattr(inspect.unwrap(func), "__globals__", {})
    try:
        hints = typing.get_type_hints(obj, include_extras=True)
    except Exception as error:  # noqa: BLE001 - any failure means: cannot evaluate
        hints = None
        text = " ".join(str(error).split())
        refuse(
            where.definition,
            f"cannot evaluate the type annotations ({type(error).__name__}: {text}); "
            "import the names they use at module level (not only under `if TYPE_CHECKING:`)",
        )

    params: list[Param] = []
    for param in inspect.signature(obj).parameters.values():
        line = where.params.get(param.name, where.definition)
        if param.kind is param.VAR_POSITIONAL or param.kind is param.VAR_KEYWORD:
            star = "*" if param.kind is param.VAR_POSITIONAL else "**"
            refuse(
                line,
                f"parameter `{star}{param.name}` is variadic; opflow passes every argument "
                "by name, so list the parameters one by one",
            )
            continue
        if param.kind is param.POSITIONAL_ONLY:
            refuse(
                line,
                f"parameter `{param.name}` is positional-only; opflow passes every "
                "argument by name, so remove the `/`",
            )
            continue
        problem = identifier_problem(param.name)
        if problem:
            refuse(line, f"parameter `{param.name}`: {problem}; rename it")
            continue
        if param.annotation is inspect.Parameter.empty:
            refuse(
                line,
                f"parameter `{param.name}` has no type annotation; annotate it "
                f"(e.g. `{param.name}: str`) so the flow knows its type",
            )
            continue
        entry = Param(param.name, "", line)
        if hints is not None:
            hint = hints.get(param.name, param.annotation)
            try:
                entry.type = render_type(hint, globalns)
            except TypeRefused as error:
                refuse(line, f"parameter `{param.name}`: {error}")
            sources = _sources(hint)
            if len(sources) > 1:
                refuse(
                    line,
                    f"parameter `{param.name}` has {len(sources)} `From(...)`; keep one",
                )
            elif sources:
                entry.source = sources[0]
        if param.default is not inspect.Parameter.empty:
            problem = literal_problem(param.default)
            if problem:
                refuse(
                    line,
                    f"parameter `{param.name}` has a default that is not a literal "
                    f"({problem}); use None, a bool, a number, a string, or a list or "
                    "dict of those, or make the parameter required",
                )
            else:
                entry.has_default = True
                entry.default = _plain(param.default)
        params.append(entry)

    returns: str | None = None
    outputs: list[tuple[str, str]] | None = None
    if hints is not None:
        if spec.outputs is not None:
            outputs = _outputs(
                spec, hints, globalns, lambda m: refuse(where.returns, m)
            )
        elif "return" in hints:
            try:
                returns = render_type(hints["return"], globalns)
            except TypeRefused as error:
                refuse(where.returns, f"return type: {error}")

    if refusals:
        return refusals
    return Operation(
        name=spec.name,
        call=call,
        file=where.file,
        line=spec.defined_at[1]
        if spec.defined_at[0] == where.file
        else where.definition,
        is_async=inspect.iscoroutinefunction(obj),
        params=params,
        returns=returns,
        outputs=outputs,
        depends_on=spec.depends_on,
        executor=spec.executor,
        retries=spec.retries,
        retry_delay_seconds=spec.retry_delay_seconds,
        timeout_seconds=spec.timeout_seconds,
        cache=spec.cache,
        cache_expiration_seconds=spec.cache_expiration_seconds,
        tags=spec.tags,
        doc=first_paragraph(inspect.getdoc(obj)),
    )


def _shape_problem(obj: Any, func: Any) -> str | None:
    """Why `obj` cannot be imported and called as `module:qualname`, or None."""
    if isinstance(obj, (staticmethod, classmethod)):
        kind = "static method" if isinstance(obj, staticmethod) else "class method"
        return f"`{func.__qualname__}` is a {kind}; make it a module-level function"
    if func.__name__ == "<lambda>":
        return "a lambda cannot be an operation; define it with `def` at module level"
    if "<locals>" in func.__qualname__:
        return (
            f"`{func.__qualname__}` is defined inside another function (a nested "
            "function or closure), so it cannot be imported; define it at module level"
        )
    if "." in func.__qualname__:
        return f"`{func.__qualname__}` is a method; make it a module-level function"
    target = inspect.unwrap(func)
    if inspect.isasyncgenfunction(target) or inspect.isasyncgenfunction(func):
        return "an async generator cannot be an operation; return a list instead of yielding"
    if inspect.isgeneratorfunction(target) or inspect.isgeneratorfunction(func):
        return "a generator cannot be an operation; return a list instead of yielding"
    return None


def _resolves_to(module: ModuleType | None, qualname: str, obj: Any) -> bool:
    target: Any = module
    for part in qualname.split("."):
        target = getattr(target, part, None)
        if target is None:
            return False
    while target is not None:
        if target is obj:
            return True
        target = getattr(target, "__wrapped__", None)
    return False


def _sources(hint: Any) -> list[str]:
    if typing.get_origin(hint) is not typing.Annotated:
        return []
    return [
        meta.source
        for meta in getattr(hint, "__metadata__", ())
        if isinstance(meta, From)
    ]


def _outputs(
    spec: OperationSpec,
    hints: dict[str, Any],
    globalns: dict[str, Any],
    refuse: Any,
) -> list[tuple[str, str]] | None:
    assert spec.outputs is not None
    typed_from_return: dict[str, Any] = {}
    if any(tp is None for _, tp in spec.outputs):
        if "return" not in hints:
            refuse(
                "`outputs` lists names only, but the function has no return annotation "
                "to take their types from; annotate the return or give outputs as a dict "
                "name → type"
            )
            return None
        fields = _fields_of(hints["return"])
        if fields is None:
            refuse(
                "`outputs` lists names only, but the return annotation is not a "
                "NamedTuple, TypedDict, dataclass, tuple or dict; give outputs as a "
                "dict name → type"
            )
            return None
        typed_from_return = fields
    result: list[tuple[str, str]] = []
    failed = False
    for position, (name, tp) in enumerate(spec.outputs):
        if isinstance(tp, str):
            result.append((name, tp))
            continue
        if tp is None:
            if "*" in typed_from_return:
                tp = typed_from_return["*"]
            elif "#" in typed_from_return:
                types_ = typed_from_return["#"]
                if len(types_) != len(spec.outputs):
                    refuse(
                        f"`outputs` names {len(spec.outputs)} values but the return "
                        f"annotation is a tuple of {len(types_)}"
                    )
                    return None
                tp = types_[position]
            elif name in typed_from_return:
                tp = typed_from_return[name]
            else:
                known = ", ".join(f"`{k}`" for k in typed_from_return) or "none"
                refuse(
                    f"output `{name}` is not a field of the return type (its fields: {known})"
                )
                failed = True
                continue
        try:
            result.append((name, render_type(tp, globalns)))
        except TypeRefused as error:
            refuse(f"output `{name}`: {error}")
            failed = True
    return None if failed else result


def _fields_of(tp: Any) -> dict[str, Any] | None:
    """Field name → type of a return annotation; `{"#": [...]}` for a tuple
    (by position), `{"*": V}` for `dict[str, V]`."""
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is tuple and args and Ellipsis not in args:
        return {"#": list(args)}
    if origin is dict and len(args) == 2:
        return {"*": args[1]}
    if isinstance(tp, type):
        try:
            hints = typing.get_type_hints(tp, include_extras=True)
        except Exception:  # noqa: BLE001 - the fields' types cannot be evaluated
            return None
        if issubclass(tp, tuple) and hasattr(tp, "_fields"):
            return {name: hints.get(name, Any) for name in tp._fields}
        if typing.is_typeddict(tp):
            return dict(hints)
        if dataclasses.is_dataclass(tp):
            return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(tp)}
    return None


_MAX_LITERAL_DEPTH = 32


def literal_problem(value: Any, depth: int = 0) -> str | None:
    """Why `value` is not a literal a manifest can hold, or None."""
    if depth > _MAX_LITERAL_DEPTH:
        return "it is nested too deeply"
    if value is None or isinstance(value, (bool, str)):
        return None
    if type(value) in (int, float):
        return None
    if type(value) in (list, tuple):
        for item in value:
            problem = literal_problem(item, depth + 1)
            if problem:
                return problem
        return None
    if type(value) is dict:
        for key, item in value.items():
            if not isinstance(key, str):
                return f"the dict key {key!r} is not a string"
            problem = literal_problem(item, depth + 1)
            if problem:
                return problem
        return None
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"`{text}` is a {type(value).__name__}"


def _plain(value: Any) -> Any:
    """A literal with tuples as lists (what the manifest's arrays hold)."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def first_paragraph(doc: str | None) -> str | None:
    """The docstring's first paragraph, its lines joined by single spaces."""
    if not doc:
        return None
    lines: list[str] = []
    for line in inspect.cleandoc(doc).splitlines():
        if not line.strip():
            if lines:
                break
            continue
        lines.append(line.strip())
    text = " ".join(lines)
    return text or None


def _duplicates(operations: list[Operation]) -> list[Refusal]:
    by_name: dict[str, list[Operation]] = {}
    for op in operations:
        by_name.setdefault(op.name, []).append(op)
    refusals: list[Refusal] = []
    for name, group in by_name.items():
        if len(group) < 2:
            continue
        group.sort(key=lambda op: (op.file, op.line))
        first = group[0]
        for op in group[1:]:
            refusals.append(
                Refusal(
                    op.file,
                    op.line,
                    f"operation `{name}`: `{op.call}` uses the same name as `{first.call}` "
                    f"({display_path(first.file)}:{first.line}); give each operation its own name",
                )
            )
        for op in group:
            operations.remove(op)
    return refusals
