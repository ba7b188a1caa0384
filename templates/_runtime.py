"""What the flows of this package share, and their runner.

- `task`: Prefect's `task`, whose runs a flow also records by operation, so
  that `outcome` can wait for every operation and name the one that failed;
- `outcome`: what a flow returns once every operation has finished;
- `pick`: a named output of an operation's result;
- `in_process`: a CPU-bound sync operation run in a process of its own;
- `main`: the runner, `python -m <package> FLOW [--param NAME=VALUE]...`.

The same module, byte for byte, in every package opflow generates.
"""

import argparse
import dataclasses
import enum
import functools
import inspect
import json
import logging
import multiprocessing
import os
import signal
import sys
import sysconfig
import threading
import time
import traceback
import types
import typing
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import cloudpickle
from prefect import Task
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture, wait

TASK_RUNNERS = ("thread", "process", "dask", "ray")

# The final state of every operation of the last run, by name.
LAST_RUN: dict[str, str] = {}


class _Local(dict):
    """A dict of this process: pickled, it arrives empty."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), ())


# The futures each flow run submitted, by run, in the order submitted, until
# the run ends (`outcome`, or a submit that fails).
_submitted: dict[Any, list[tuple[str, PrefectFuture[Any]]]] = _Local()
# The futures of the run submitted last (the runner reports them when the
# run ends before `outcome`).
_last: dict[str, list[tuple[str, PrefectFuture[Any]]]] = {}


class OperationFailed(RuntimeError):
    """An operation of the flow failed; `operation` is its name."""

    def __init__(self, operation: str, error: BaseException) -> None:
        super().__init__(f"operation `{operation}` failed: {error}")
        self.operation = operation
        self.error = error


class Operation(Task):
    """A Prefect task whose submits are recorded for the flow run making them.

    Sent to another process (a process or Dask task runner pickles it), an
    operation is Prefect's own `Task`: only the flow's process records
    submits, and this package may not be importable there by the name it has
    here (Prefect loads a deployment's flow from its file, as a package named
    after the file).
    """

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        run = _flow_run()
        try:
            future = super().submit(*args, **kwargs)
        except BaseException:
            # The flow ends here, before `outcome`: keep nothing of its run.
            _submitted.pop(run, None)
            raise
        if run is not None:
            runs = _submitted.setdefault(run, [])
            runs.append((self.name, future))
            _last["run"] = runs
        return future

    def __reduce__(self) -> tuple[Any, ...]:
        return (object.__new__, (Task,), dict(self.__dict__))


def _flow_run() -> Any:
    """The id of the flow run being made here, or None outside of one."""
    context = FlowRunContext.get()
    return context.flow_run.id if context is not None and context.flow_run else None


def task(fn: Callable[..., Any], **options: Any) -> Operation:
    """`prefect.task(fn, **options)`, recorded (see `Operation`)."""
    return Operation(fn=fn, **options)


def _record(futures: list[tuple[str, PrefectFuture[Any]]]) -> None:
    LAST_RUN.clear()
    for name, future in futures:
        state = future.state
        LAST_RUN[name] = state.type.value if state is not None else "PENDING"


def outcome(sinks: Any) -> Any:
    """Wait for every operation of the run; raise the first failure (in the
    order they were submitted), else return the sinks' values: the future
    of one sink, or a dict of them by operation name."""
    futures = _submitted.pop(_flow_run(), [])
    wait([future for _, future in futures])
    _record(futures)
    for name, future in futures:
        if future.state.is_failed() or future.state.is_crashed():
            try:
                future.result()
            except BaseException as error:
                raise OperationFailed(name, error) from error
    if isinstance(sinks, dict):
        return {name: future.result() for name, future in sinks.items()}
    return sinks.result()


def pick(value: Any, name: str, index: int) -> Any:
    """A named output of an operation's result: a key of a dict, a field of a
    NamedTuple or another object, or a position in a plain tuple."""
    if isinstance(value, Mapping):
        if name in value:
            return value[name]
    elif isinstance(value, tuple) and not hasattr(type(value), "_fields"):
        if index < len(value):
            return value[index]
    elif hasattr(value, name):
        return getattr(value, name)
    raise LookupError(f"the result has no output `{name}`: {value!r:.200}")


_processes: ProcessPoolExecutor | None = None
_processes_lock = threading.Lock()


def in_process(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run a CPU-bound sync operation in a worker process; its thread only waits."""
    return _InProcess(function)


class _InProcess:
    """An operation that `in_process` runs in a worker process.

    Sent to another process (a process or Dask task runner pickles it), it is
    the operation's own function: there it already runs outside the flow's
    process, so it runs where it lands.
    """

    def __init__(self, function: Callable[..., Any]) -> None:
        functools.update_wrapper(self, function)
        self.function = function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        global _processes
        with _processes_lock:
            if _processes is None:
                # Fresh interpreters, not forks of this one and its threads.
                context = multiprocessing.get_context("spawn")
                _processes = ProcessPoolExecutor(mp_context=context)
        return _processes.submit(self.function, *args, **kwargs).result()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_itself, (self.function,))


def _itself(value: Any) -> Any:
    return value


# A process or Dask task runner pickles each task, and the flow with it, for
# another process, where this package may not be importable by the name it
# has here: what they reach of this module (`pick`, `outcome`, `_itself`)
# travels by value. `_submitted`, which holds the run's futures, arrives empty.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


# ---- the runner ----


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


def _package() -> Any:
    """This package: `FLOWS`, and `_path` (imported by it first)."""
    import importlib

    return importlib.import_module(__package__ or "")


def _serve(package: Any) -> int:
    """Serve every flow as a deployment named after it, until interrupted."""
    from prefect import serve

    # Flow runs start in fresh processes that load each flow from its file:
    # they need the operations' modules on their path too.
    here = Path(__file__).resolve().parent
    paths = [str((here / entry).resolve()) for entry in package._path.PYTHON_PATH]
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(paths + ([old] if old else []))
    deployments = [
        flow.to_deployment(name=name) for name, flow in package.FLOWS.items()
    ]
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


class _Brief(logging.Formatter):
    """A log line without its traceback, and only its first line."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        brief = logging.makeLogRecord(record.__dict__)
        brief.exc_info = None
        brief.exc_text = None
        brief.stack_info = None
        brief.msg = brief.getMessage().split("\n", 1)[0]
        brief.args = None
        return self.inner.format(brief)


def _logging(output: str, log: str | None) -> None:
    """Prefect's console log as `--output` asks: `verbose` as Prefect prints
    it; `brief` one line a record, no traceback; `quiet` warnings and errors
    only, likewise. With `log`, the full log also goes to that file."""
    root = logging.getLogger()
    consoles = [h for h in root.handlers if type(h).__name__ == "PrefectConsoleHandler"]
    if output != "verbose":
        for handler in consoles:
            handler.setFormatter(_Brief(handler.formatter))
            if output == "quiet":
                handler.setLevel(logging.WARNING)
    if log:
        try:
            handler = logging.FileHandler(log, mode="w", encoding="utf-8")
        except OSError as error:
            print(f"warning: cannot write the log to {log}: {error}", file=sys.stderr)
            return
        handler.setFormatter(
            logging.Formatter("%(asctime)s | %(levelname)-7s | %(name)s - %(message)s")
        )
        root.addHandler(handler)
        for name in ("prefect.flow_runs", "prefect.task_runs"):
            logger = logging.getLogger(name)
            if not logger.propagate:
                logger.addHandler(handler)


def _own_frames(error: BaseException) -> list[traceback.FrameSummary]:
    """The frames of a traceback in the user's code: none of Python's, of
    installed packages' (Prefect's), or of this package's."""
    here = Path(__file__).resolve().parent
    installed = {
        Path(path).resolve()
        for name in ("stdlib", "platstdlib", "purelib", "platlib")
        if (path := sysconfig.get_paths().get(name))
    }
    frames = []
    for frame in traceback.extract_tb(error.__traceback__):
        if not frame.filename or frame.filename.startswith("<"):
            continue
        path = Path(frame.filename).resolve()
        if path.is_relative_to(here) or any(path.is_relative_to(p) for p in installed):
            continue
        if "site-packages" in path.parts:
            continue
        frames.append(frame)
    return frames


def _describe(flow_name: str, error: BaseException, log: str | None) -> str:
    """A failure in a few lines: the operation, the error, the user's frames."""
    cause = error.error if isinstance(error, OperationFailed) else error
    what = f"{type(cause).__name__}: {cause}".rstrip(": ")
    if isinstance(error, OperationFailed):
        lines = [f"error: operation `{error.operation}` failed: {what}"]
    else:
        lines = [f"error: flow `{flow_name}` failed: {what}"]
    frames = _own_frames(cause)[-6:]
    for frame in frames:
        lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    if log:
        lines.append(f"the full log: {log}")
    return "\n".join(lines)


def _report(path: str | None, **fields: Any) -> None:
    if path:
        Path(path).write_text(json.dumps(fields))


def main(argv: list[str] | None = None) -> int:
    """The runner: run a flow and print its result as JSON, or serve them all.

    A value is given to the flow as written when the parameter takes a `str`
    (`str`, `str | None`, ...), and read as JSON otherwise (numbers, booleans,
    lists, tables), falling back to the text; Prefect then checks it against
    the parameter's type. Exit status: 0 when the flow completed, 1 when it
    failed (naming the failed operation), 2 for a usage error, 130 when
    interrupted. `--serve` serves every flow as a deployment until interrupted.
    """
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}",
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
    parser.add_argument(
        "--output",
        choices=("brief", "verbose", "quiet"),
        default="brief",
        help="Prefect's log: one line a record (brief), as Prefect prints it "
        "(verbose), or warnings and errors only (quiet)",
    )
    parser.add_argument("--log", metavar="FILE", help="also write the full log here")
    parser.add_argument("--report", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    package = _package()
    if args.serve:
        return _serve(package)
    if args.flow is None:
        parser.error("give the flow to run, or --serve")

    flow = package.FLOWS.get(args.flow)
    if flow is None:
        known = ", ".join(sorted(package.FLOWS))
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
        if not sep:
            print(
                f"error: `--param {item}` has no value: write NAME=VALUE",
                file=sys.stderr,
            )
            return 2
        if name not in signature.parameters:
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

    _logging(args.output, args.log)
    signal.signal(signal.SIGINT, _interrupt)
    start = time.monotonic()
    _last.clear()
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
        if not isinstance(error, OperationFailed):
            # The run ended before `outcome`: record what its operations did,
            # as far as Prefect can still say (its server may be gone).
            try:
                last = _last.get("run", [])
                wait([future for _, future in last], timeout=10)
                _record(last)
            except Exception:  # noqa: BLE001 - the report goes on without them
                LAST_RUN.clear()
        _report(
            args.report,
            seconds=time.monotonic() - start,
            states=LAST_RUN,
            operation=getattr(error, "operation", None),
        )
        print(_describe(args.flow, error, args.log), file=sys.stderr)
        return 1
    _report(args.report, seconds=time.monotonic() - start, states=LAST_RUN)
    print(json.dumps(result, default=_jsonable, indent=2, ensure_ascii=False))
    return 0
