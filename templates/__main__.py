"""Run a flow of this package and print its result as JSON.

    python -m {{ package }} FLOW [--param NAME=VALUE]... [--task-runner NAME]
    python -m {{ package }} --serve

A value is given to the flow as written when the parameter takes a `str`
(`str`, `str | None`, ...), and read as JSON otherwise (numbers, booleans,
lists, tables), falling back to the text; Prefect then checks it against the
parameter's type. Exit status: 0 when the flow completed, 1 when it failed
(naming the failed operation), 2 for a usage error, 130 when interrupted.
`--serve` serves every flow as a deployment until interrupted.
"""

import argparse
import dataclasses
import enum
import inspect
import json
import os
import signal
import sys
import time
import types
import typing
from pathlib import Path
from typing import Any

from . import FLOWS, _path

TASK_RUNNERS = ("thread", "process", "dask", "ray")


def _takes_str(annotation: Any) -> bool:
    """`str`, or a union with `str` in it (`str | None`)."""
    if annotation is str:
        return True
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    return union and str in typing.get_args(annotation)


def _value(text: str, annotation: Any) -> Any:
    """A `--param` value: as written for a parameter that takes a string, else JSON."""
    if _takes_str(annotation):
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


def _task_runner(name: str) -> Any:
    if name == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner()
    if name == "process":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner()
    if name == "dask":
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(
            cluster_kwargs={"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}
        )
    from prefect_ray import RayTaskRunner

    return RayTaskRunner()


def _serve() -> int:
    """Serve every flow as a deployment named after it, until interrupted."""
    from prefect import serve

    # Flow runs start in fresh processes that load each flow from its file:
    # they need the operations' modules on their path too.
    here = Path(__file__).resolve().parent
    paths = [str((here / entry).resolve()) for entry in _path.PYTHON_PATH]
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(paths + ([old] if old else []))
    deployments = [flow.to_deployment(name=name) for name, flow in FLOWS.items()]
    try:
        serve(*deployments)
    except KeyboardInterrupt:
        return 0
    return 0


_interrupted = False


def _interrupt(signum: int, frame: Any) -> None:
    """First Ctrl-C: cancel the run, letting Prefect record it (it waits for the
    operations already running). Second: quit at once."""
    global _interrupted
    if _interrupted:
        os._exit(130)
    _interrupted = True
    print(
        "cancelling: waiting for the running operations to stop "
        "(Ctrl-C again to quit now)",
        file=sys.stderr,
        flush=True,
    )
    signal.default_int_handler(signum, frame)


def _report(path: str | None, **fields: Any) -> None:
    if path:
        Path(path).write_text(json.dumps(fields))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m {{ package }}",
        description="Run a flow and print its result as JSON.",
    )
    parser.add_argument("flow", nargs="?", help="the flow to run")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a flow parameter (repeatable)",
    )
    parser.add_argument(
        "--json-param",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help=argparse.SUPPRESS,  # what `opflow run` passes: always JSON
    )
    parser.add_argument("--task-runner", choices=TASK_RUNNERS)
    parser.add_argument("--serve", action="store_true", help="serve every flow")
    parser.add_argument("--report", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return _serve()
    if args.flow is None:
        parser.error("give the flow to run, or --serve")

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
    given = [(item, False) for item in args.param]
    given += [(item, True) for item in args.json_param]
    for item, is_json in given:
        name, sep, text = item.partition("=")
        if not sep or name not in signature.parameters:
            known = ", ".join(signature.parameters) or "none"
            print(
                f"error: `{name}` is not a parameter of `{args.flow}` "
                f"(parameters: {known})",
                file=sys.stderr,
            )
            return 2
        if is_json:
            params[name] = json.loads(text)
        else:
            params[name] = _value(text, signature.parameters[name].annotation)
    if args.task_runner:
        flow = flow.with_options(task_runner=_task_runner(args.task_runner))

    module = sys.modules[flow.fn.__module__]
    signal.signal(signal.SIGINT, _interrupt)
    start = time.monotonic()
    try:
        result = flow(**params)
    except KeyboardInterrupt:
        _report(args.report, seconds=time.monotonic() - start, cancelled=True)
        print(f"error: flow `{args.flow}` was cancelled", file=sys.stderr)
        sys.stderr.flush()
        # Prefect has recorded the run's end; a sync operation still sleeping
        # in a worker thread cannot be interrupted, so do not wait for it.
        os._exit(130)
    except Exception as error:  # noqa: BLE001 - any failure of the run is reported the same way
        operation = getattr(error, "operation", None)
        states = getattr(module, "LAST_RUN", {})
        _report(
            args.report,
            seconds=time.monotonic() - start,
            states=states,
            operation=operation,
        )
        if operation is not None:
            cause = error.__cause__ or error
            print(f"error: operation `{operation}` failed: {cause}", file=sys.stderr)
        else:
            print(f"error: flow `{args.flow}` failed: {error}", file=sys.stderr)
        return 1
    _report(
        args.report,
        seconds=time.monotonic() - start,
        states=getattr(module, "LAST_RUN", {}),
    )
    print(json.dumps(result, default=_jsonable, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
