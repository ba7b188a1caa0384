"""What the code says about the manifest's operations, for `opflow verify`.

Reads a JSON spec on stdin (or from the file named by the first argument):
``{"paths": [folder, ...], "operations": [{"id": 0, "call": "mod:qualname"}, ...]}``,
imports each operation's module (nothing but the imports runs) and writes,
on stdout, one fact per operation:

- ``{"id", "error": "import_failed" | "no_such_callable" | "not_a_function",
  "message", "candidates"}`` when the callable cannot be had (the message is
  the exception, the missing attribute, or what the name is: "a class");
- else ``{"id", "async", "params": [{"name", "kind", "default", "type"}],
  "returns", "fields"}``: the function's signature, its annotations in the
  manifest's type grammar (``None`` when absent or not expressible) and what
  the return type's fields are (``{"names": [...]}`` for a NamedTuple,
  dataclass or TypedDict, ``{"count": n}`` for a tuple, ``{"any": true}`` for
  ``dict[str, V]``, ``None`` when the type does not tell).

opflow compares them with the manifest (``src/verify.rs``), so the type
comparison is the binder's. What the imported modules print goes to stderr.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import sys
import typing
from typing import Any

from opflow._scan import _fields_of
from opflow._types import TypeRefused, render_type

_KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: "positional_only",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional_or_keyword",
    inspect.Parameter.VAR_POSITIONAL: "var_positional",
    inspect.Parameter.KEYWORD_ONLY: "keyword_only",
    inspect.Parameter.VAR_KEYWORD: "var_keyword",
}


def _import(module: str, cache: dict[str, Any]) -> Any:
    if module not in cache:
        try:
            cache[module] = importlib.import_module(module)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: BLE001 - any failure (even SystemExit) is a finding
            text = " ".join(str(error).split())
            kind = type(error).__name__
            cache[module] = f"{kind}: {text}" if text else kind
    return cache[module]


def _type(annotation: Any, globalns: dict[str, Any]) -> str | None:
    try:
        return render_type(annotation, globalns)
    except TypeRefused:
        return None


def _fields(annotation: Any) -> dict[str, Any] | None:
    fields = _fields_of(annotation)
    if fields is None:
        return None
    if "#" in fields:
        return {"count": len(fields["#"])}
    if "*" in fields:
        return {"any": True}
    return {"names": list(fields)}


def describe(call: str, modules: dict[str, Any]) -> dict[str, Any]:
    """The facts about one `module:qualname`."""
    module_name, _, qualname = call.partition(":")
    module = _import(module_name, modules)
    if isinstance(module, str):
        return {"error": "import_failed", "message": module}
    target: Any = module
    owner: Any = module
    for part in qualname.split("."):
        if not hasattr(target, part):
            names = [name for name in dir(target) if not name.startswith("_")]
            return {
                "error": "no_such_callable",
                "message": f"`{getattr(target, '__name__', module_name)}` has no attribute `{part}`",
                "candidates": names,
            }
        owner, target = target, getattr(target, part)
    del owner
    if inspect.isclass(target) or not callable(target):
        kind = (
            "a class"
            if inspect.isclass(target)
            else f"a value of type `{type(target).__name__}`"
        )
        return {"error": "not_a_function", "message": kind}
    unwrapped = inspect.unwrap(target)
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        signature = None
    globalns = getattr(unwrapped, "__globals__", {})
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception:  # noqa: BLE001 - annotations that cannot be evaluated are not compared
        hints = {}
    params = []
    if signature is not None:
        for param in signature.parameters.values():
            hint = hints.get(param.name)
            params.append(
                {
                    "name": param.name,
                    "kind": _KINDS[param.kind],
                    "default": param.default is not inspect.Parameter.empty,
                    "type": None if hint is None else _type(hint, globalns),
                }
            )
    returns = hints.get("return")
    return {
        "async": inspect.iscoroutinefunction(target)
        or inspect.iscoroutinefunction(unwrapped),
        "signature": signature is not None,
        "params": params,
        "returns": None if returns is None else _type(returns, globalns),
        "fields": None if returns is None else _fields(returns),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        with open(argv[0], encoding="utf-8") as file:
            spec = json.load(file)
    else:
        spec = json.load(sys.stdin)
    for folder in reversed(spec.get("paths", [])):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    modules: dict[str, Any] = {}
    facts = []
    with contextlib.redirect_stdout(sys.stderr):  # what modules print is not ours
        for operation in spec["operations"]:
            fact = describe(operation["call"], modules)
            fact["id"] = operation["id"]
            facts.append(fact)
    json.dump(facts, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
