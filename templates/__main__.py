"""Run a flow of this package and print its result as JSON.

    python -m {{ package }} FLOW [--param NAME=VALUE]...

A value is given to the flow as written when the parameter takes a `str`
(`str`, `str | None`, ...), and read as JSON otherwise (numbers, booleans, lists, tables), falling back to
the text; Prefect then checks it against the parameter's type. Exit status:
0 when the flow completed, 1 when it failed (naming the failed operation),
2 for a usage error.
"""

import argparse
import dataclasses
import enum
import inspect
import json
import sys
import typing
from typing import Any

from . import FLOWS


def _value(text: str, annotation: Any) -> Any:
    """A `--param` value: as written for a parameter that takes a string, else JSON."""
    if annotation is str or str in typing.get_args(annotation):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "_asdict"):
        return value._asdict()
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m {{ package }}",
        description="Run a flow and print its result as JSON.",
    )
    parser.add_argument("flow", help="the flow to run")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a flow parameter (repeatable)",
    )
    args = parser.parse_args(argv)

    flow = FLOWS.get(args.flow)
    if flow is None:
        known = ", ".join(sorted(FLOWS))
        print(
            f"error: no flow named `{args.flow}`; the flows are: {known}",
            file=sys.stderr,
        )
        return 2
    signature = inspect.signature(flow.fn)
    params: dict[str, Any] = {}
    for item in args.param:
        name, sep, text = item.partition("=")
        if not sep or name not in signature.parameters:
            known = ", ".join(signature.parameters) or "none"
            print(
                f"error: `{name}` is not a parameter of `{args.flow}` "
                f"(parameters: {known})",
                file=sys.stderr,
            )
            return 2
        params[name] = _value(text, signature.parameters[name].annotation)

    try:
        result = flow(**params)
    except Exception as error:  # noqa: BLE001 - any failure of the run is reported the same way
        operation = getattr(error, "operation", None)
        if operation is not None:
            cause = error.__cause__ or error
            print(f"error: operation `{operation}` failed: {cause}", file=sys.stderr)
        else:
            print(f"error: flow `{args.flow}` failed: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, default=_jsonable, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
