"""What the flows of this package share, and their runner.

- `Operation`: Prefect's `Task`, whose runs a flow also records by
  operation, so that `outcome` can wait for every operation and name the one
  that failed, and whose results `Results.task` keeps;
- `outcome`: what a flow returns once every operation has finished;
- `pick`: a named output of an operation's result;
- `hook`: a state hook (`module.path:function`) of a flow or an operation;
- `in_process`: a CPU-bound sync operation run in a process of its own;
- `subflows`: a flow's operations run in nested flows, one per group of
  the hierarchy, so that Prefect's UI shows it;
- `Results`: where each operation's last result is kept, and the state of
  each flow's last run, so part of a flow can run alone (`--select`) or a
  failed run resume (`--resume`); its `task` is the `task` of `_tasks.py`;
- `main`: the runner, `python -m <package> FLOW [--param NAME=VALUE]...`.

The same module, byte for byte, in every package opflow generates.
"""

import argparse
import contextlib
import contextvars
import dataclasses
import enum
import functools
import hashlib
import importlib
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
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cloudpickle
from prefect import Flow, Task, allow_failure, unmapped
from prefect.context import FlowRunContext
from prefect.exceptions import MappingLengthMismatch, UpstreamTaskError
from prefect.futures import PrefectFuture, PrefectFutureList, wait
from prefect.task_runners import TaskRunner
from prefect.utilities.annotations import BaseAnnotation

from ._select import SelectionError, select

TASK_RUNNERS = ("thread", "process", "dask", "ray")


def _process_state(name: str, make: Callable[[], Any]) -> Any:
    """The object of this process named `name`, made on first use.

    A task runner may pickle this module's functions by value (see the end of
    the module) and unpickle them in this process too, which sets the
    module's names anew: the state kept here is looked up by name, so every
    copy finds the same; another process makes its own.
    """
    kept = sys.__dict__.setdefault("_opflow_runtime", {})
    key = f"{__package__}.{name}"
    if key not in kept:
        kept[key] = make()
    return kept[key]


class _Local(dict):
    """A dict of this process (see `_process_state`): pickled, the
    receiver's own."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def __reduce__(self) -> tuple[Any, ...]:
        return (_local, (self.name,))


def _local(name: str) -> Any:
    return _process_state(name, lambda: _Local(name))


# The futures each flow run submitted, by run, in the order submitted, until
# the run ends (`outcome`, or a submit that fails).
_submitted: dict[Any, list[tuple[str, PrefectFuture[Any]]]] = _local("submitted")
# The futures of the run submitted last (the runner reports them when the
# run ends before `outcome`).
_last: dict[str, list[tuple[str, PrefectFuture[Any]]]] = _local("last")
# The final state of every operation of the last run, by name.
LAST_RUN: dict[str, str] = _local("last_run")


class OperationFailed(RuntimeError):
    """An operation of the flow failed; `operation` is its name."""

    def __init__(self, operation: str, error: BaseException) -> None:
        super().__init__(f"operation `{operation}` failed: {error}")
        self.operation = operation
        self.error = error


class Operation(Task):
    """A Prefect task whose submits are recorded for the flow run making them,
    and whose results are kept (see `Results`).

    Sent to another process (a process or Dask task runner pickles it), an
    operation is Prefect's own `Task`: only the flow's process records
    submits and keeps results, and this package may not be importable there
    by the name it has here (Prefect loads a deployment's flow from its file,
    as a package named after the file).
    """

    results: "Results | None" = None
    limits: dict[str, list[Any]] = {}  # noqa: RUF012 - replaced, never changed

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        return self._start(args, kwargs, mapped=False)

    def map(self, *args: Any, **kwargs: Any) -> Any:
        """`Task.map`, each element's run recorded as `name[index]`; the
        result is kept as the list of the elements' results. A source that
        failed stops the flow here, naming it (Prefect would wait for it and
        then fail to iterate it)."""
        return self._start(args, kwargs, mapped=True)

    def _start(self, args: Any, kwargs: Any, *, mapped: bool) -> Any:
        planning = _planning.get()
        if planning is not None:
            return planning.add(self, args, kwargs)
        context = FlowRunContext.get()
        run = _run_of(context)
        if run is not None and run.plan is not None and self.name not in run.plan.run:
            # Not selected: its last kept result, when a selected operation
            # takes it; else nothing (no selected operation depends on it).
            if self.name in run.plan.stored:
                return run.stored(self.name)
            return _Skipped(self.name)
        if run is not None and self.name in run.nodes:
            # A run of a selection listed its operations first: what they
            # depend on is known by name there. (A value read for it cannot
            # say where it came from: a small integer or `None` is one
            # object with a parameter's equal value.)
            fingerprint = run.nodes[self.name].fingerprint
        else:
            fingerprint = _fingerprint(self, args, kwargs, run.origins if run else {})
        kwargs = {key: _each(value) for key, value in kwargs.items()}
        if "wait_for" in kwargs:
            kwargs["wait_for"] = [w for w in _flat(kwargs["wait_for"]) if _future(w)]
        flow_run = _flow_run()
        nesting = _nesting.get()
        try:
            if mapped:
                for value in [*args, *kwargs.values()]:
                    if isinstance(value, PrefectFuture):
                        _raise_if_failed(value, flow_run)
                try:
                    result = _in(nesting, Task.map, self, args, kwargs)
                except MappingLengthMismatch as error:
                    raise OperationFailed(self.name, _lengths(kwargs)) from error
                futures = list(result)
                named = [(f"{self.name}[{i}]", f) for i, f in enumerate(futures)]
            else:
                result = _in(nesting, Task.submit, self, args, kwargs)
                futures = [result]
                named = [(self.name, result)]
        except BaseException:
            # The flow ends here, before `outcome`: keep nothing of its run.
            _submitted.pop(flow_run, None)
            if run is not None:
                run.end("FAILED")
            raise
        if flow_run is not None:
            runs = _submitted.setdefault(flow_run, [])
            runs.extend(named)
            _last["run"] = runs
        if run is not None:
            run.origins[id(result)] = self.name
            run.watch(self, futures, fingerprint, mapped=mapped)
        return result

    def __reduce__(self) -> tuple[Any, ...]:
        state = dict(self.__dict__)
        state.pop("results", None)  # kept by the flow's process only
        return (object.__new__, (Task,), state)


def _in(
    nesting: "_Nesting | None",
    start: Callable[..., Any],
    operation: Operation,
    args: Any,
    kwargs: Any,
) -> Any:
    """`start(operation, ...)` (`Task.submit` or `Task.map`) in the nested
    flow of the operation's group, or in the flow itself."""
    host = nesting.host_of(operation.name) if nesting is not None else None
    if host is None:
        return start(operation, *args, **kwargs)
    result = host.start(start, operation, args, kwargs)
    host.futures.extend(result if isinstance(result, list) else [result])
    return result


def _flow_run() -> Any:
    """The id of the flow run being made here, or None outside of one."""
    context = FlowRunContext.get()
    return context.flow_run.id if context is not None and context.flow_run else None


def _plain(value: Any) -> Any:
    """A value without Prefect's annotations (`unmapped`, `allow_failure`)."""
    while isinstance(value, BaseAnnotation):
        value = value.unwrap()
    return value


def _each(value: Any) -> Any:
    """A list of futures (a mapped operation's) whose failures are allowed,
    as a list of futures each allowed to fail (Prefect reads the annotation
    on the future itself)."""
    if isinstance(value, allow_failure) and isinstance(value.unwrap(), list):
        return [allow_failure(item) for item in value.unwrap()]
    return value


def _flat(waits: list[Any]) -> list[Any]:
    """`wait_for` with a mapped operation's futures one by one."""
    flat: list[Any] = []
    for wait_for in waits:
        item = _each(wait_for)
        flat.extend(item if isinstance(item, list) else [item])
    return flat


def _future(value: Any) -> bool:
    """Whether `value` is a future, annotated or not (a selection leaves out
    an ordering edge to an operation it does not run)."""
    return isinstance(_plain(value), PrefectFuture)


def _failed_as_none(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, given `None` for each argument whose upstream failed: with
    `allow_failure`, Prefect passes the upstream's exception (or nothing,
    for one that never ran)."""

    def none(value: Any) -> Any:
        if isinstance(value, list):
            return [None if isinstance(v, BaseException) else v for v in value]
        return None if isinstance(value, BaseException) else value

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            args = tuple(none(v) for v in args)
            return await fn(*args, **{k: none(v) for k, v in kwargs.items()})

        return run_async

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        args = tuple(none(v) for v in args)
        return fn(*args, **{k: none(v) for k, v in kwargs.items()})

    return run


def hook(reference: str) -> Callable[..., Any]:
    """The state hook `module.path:function`, imported now, as an import
    statement would import it."""
    module, _, qualname = reference.partition(":")
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _lengths(kwargs: dict[str, Any]) -> ValueError:
    """The lengths of the lists a map zips, naming each parameter."""
    lengths = []
    for key, value in kwargs.items():
        if isinstance(value, PrefectFuture):
            value = value.result()
        if key != "wait_for" and not isinstance(value, unmapped):
            try:
                lengths.append(f"`{key}` has {len(value)}")
            except TypeError:
                continue
    return ValueError(
        "the lists of the mapped parameters differ in length: "
        + ", ".join(lengths)
        + " (the parameters are zipped: element i of each goes to run i)"
    )


def _settle(futures: list[Any]) -> None:
    """Wait for every future to end. A process pool's future of an
    operation whose input failed raises as it is waited for (Prefect's
    `UpstreamTaskError`), where a thread pool's ends not run: its state
    tells either way. Anything else raised (the server gone) ends the run."""
    for future in futures:
        try:
            future.wait()
        except UpstreamTaskError:
            continue


def _raise_if_failed(future: PrefectFuture[Any], flow_run: Any) -> None:
    """Wait for the source of a map; when it did not complete, raise the
    failure of the first operation of the run that failed."""
    _settle([future])
    if future.state is not None and future.state.is_completed():
        return
    submitted = _submitted.get(flow_run, [])
    _settle([f for _, f in submitted])
    _record(submitted)
    for name, done in submitted:
        if done.state.is_failed() or done.state.is_crashed():
            try:
                done.result()
            except BaseException as error:
                raise OperationFailed(name, error) from error
    future.result()


class Results:
    """Where the operations' last results are kept, by operation name, with
    the state of each flow's last run: a folder (relative to the folder of
    the file `here`, or absolute), or a Prefect storage block (`block`, its
    slug: `s3-bucket/results`). Values are written with Prefect's serializer
    of that name (`pickle`, `json`, ...)."""

    def __init__(
        self,
        here: str = "",
        folder: str = "",
        *,
        block: str = "",
        serializer: str = "pickle",
    ) -> None:
        self.here = here
        self.folder = folder
        self.block = block
        self.serializer = serializer
        self._storage: Any = None
        self._result_store: Any = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent to another process (with a task), only its settings: results
        # are kept by the flow's process. As a `Results`, it would carry this
        # module's classes by value, and a Dask scheduler in the flow's process
        # unpickling them would replace their methods (`Operation.submit`)
        # with copies bound to copies of this module's state.
        state = {**self.__dict__, "_storage": None, "_result_store": None}
        return (types.SimpleNamespace, (), state)

    def task(
        self,
        fn: Callable[..., Any],
        *,
        persist: bool = True,
        results: "Results | None" = None,
        all_done: bool = False,
        limits: dict[str, list[Any]] | None = None,
        **options: Any,
    ) -> Operation:
        """`prefect.task(fn, **options)`, recorded (see `Operation`), its
        result kept here (or in `results`) unless `persist` is false, holding
        its shared `limits` while it runs (see `limited`). With `all_done`,
        an argument whose upstream failed is `None`."""
        if all_done:
            fn = _failed_as_none(fn)
        operation = Operation(fn=limited(fn, limits) if limits else fn, **options)
        operation.results = (results or self) if persist else None
        operation.limits = limits or {}
        return operation

    def storage(self) -> Any:
        if self._storage is None:
            if self.block:
                from prefect.blocks.core import Block

                self._storage = Block.load(self.block)
            else:
                from prefect.filesystems import LocalFileSystem

                folder = Path(self.here).parent / Path(self.folder).expanduser()
                self._storage = LocalFileSystem(basepath=str(folder.resolve()))
        return self._storage

    def _store(self) -> Any:
        """Prefect's result store over `storage()`, made once."""
        if self._result_store is None:
            from prefect.results import ResultStore
            from prefect.serializers import Serializer

            serializer = Serializer(type=self.serializer)
            self._result_store = ResultStore(
                result_storage=self.storage(), serializer=serializer
            )
        return self._result_store

    def keep(self, name: str, value: Any) -> None:
        self._store().write(value, key=name)

    def has(self, name: str) -> bool:
        return self._store().exists(name)

    def load(self, name: str) -> Any:
        return self._store().read(name).result

    def last_run(self, flow: str) -> dict[str, Any] | None:
        """What the state file says of `flow`'s last run, if there was one:
        its first line, each operation's last record, its status."""
        try:
            text = self.storage().read_path(f".runs/{flow}.jsonl").decode()
        except Exception:  # noqa: BLE001 - no state file, or one unreadable
            return None
        state: dict[str, Any] | None = None
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short when the process was killed
            if state is None:
                state = {**record, "operations": {}}
            elif "operation" in record:
                state["operations"][record.pop("operation")] = record
            else:
                state.update(record)
        return state

    def record_run(self, flow: str, record: dict[str, Any], first: bool) -> None:
        """Add a line to `flow`'s state file (`first`: start it anew). A
        folder's file is appended to; a block's is written whole."""
        line = json.dumps(record, default=str) + "\n"
        path = f".runs/{flow}.jsonl"
        if self.block:
            storage = self.storage()
            old = b""
            if not first:
                try:
                    old = storage.read_path(path)
                except Exception:  # noqa: BLE001 - none yet
                    old = b""
            storage.write_path(path, old + line.encode())
            return
        file = Path(self.storage().basepath) / path
        file.parent.mkdir(parents=True, exist_ok=True)
        with file.open("w" if first else "a", encoding="utf-8") as out:
            out.write(line)


def _results() -> Results:
    """The package's results (`RESULTS` of `_tasks.py`)."""
    return importlib.import_module(f"{__package__}._tasks").RESULTS


@functools.cache
def _source(fn: Callable[..., Any]) -> str:
    """A callable's source (its name when there is none), read once."""
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return getattr(fn, "__qualname__", repr(fn))


def _fingerprint(
    operation: Operation, args: Any, kwargs: Any, origins: Mapping[int, str]
) -> str:
    """What an operation's run depends on besides its inputs' values: its
    code, its settings, and where each input comes from (an operation, by
    name: a future in `origins` by id, or a stand-in while planning; else
    the value itself)."""
    source = _source(operation.fn)

    def origin(value: Any) -> str:
        value = _plain(value)
        if isinstance(value, _Planned):
            return f"<{value.name}>"
        if id(value) in origins:
            return f"<{origins[id(value)]}>"
        if isinstance(value, list):
            return "[" + ", ".join(origin(v) for v in value) + "]"
        return repr(value)

    inputs = [origin(value) for value in args]
    inputs += [f"{key}={origin(value)}" for key, value in sorted(kwargs.items())]
    text = "\n".join([source, operation.name, repr(operation.retries), *inputs])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class _Skipped:
    """What a submit of an operation that is neither run nor read returns."""

    name: str


@dataclasses.dataclass(frozen=True)
class _Planned:
    """What a submit returns while a flow's operations are only being listed."""

    name: str


@dataclasses.dataclass
class _Node:
    name: str
    # Every operation it waits for (the graph's edges, for `+X` and the like).
    upstream: list[str]
    # Those whose values it takes: what a run that skips them reads back.
    inputs: list[str]
    tags: list[str]
    pick: bool
    fingerprint: str
    results: "Results | None"

    @property
    def kept(self) -> bool:
        """Whether its last result can be read back."""
        return self.results is not None and self.results.has(self.name)


def _producers(nodes: dict[str, _Node]) -> dict[str, str]:
    """The operation each named output's pick takes its value from."""
    return {n.name: n.inputs[0] for n in nodes.values() if n.pick}


class _Planning:
    """The operations a flow's body submits, listed without running any."""

    def __init__(self) -> None:
        self.nodes: dict[str, _Node] = {}

    def add(self, operation: Operation, args: Any, kwargs: Any) -> _Planned:
        # An operation in `wait_for` (`depends_on`) only comes first: it
        # passes no value, so it is upstream but not an input.
        values = [*args, *(v for k, v in kwargs.items() if k != "wait_for")]
        inputs = _planned(values)
        upstream = inputs + [
            name for name in _planned([kwargs.get("wait_for")]) if name not in inputs
        ]
        self.nodes[operation.name] = _Node(
            name=operation.name,
            upstream=upstream,
            inputs=inputs,
            tags=sorted(operation.tags),
            pick=getattr(operation.fn, "__wrapped__", operation.fn) is pick,
            fingerprint=_fingerprint(operation, args, kwargs, {}),
            results=operation.results,
        )
        return _Planned(operation.name)


def _planned(values: list[Any]) -> list[str]:
    """The operations these values (or the lists among them) stand for."""
    names = []
    for value in values:
        value = _plain(value)
        for item in value if isinstance(value, list) else [value]:
            item = _plain(item)
            if isinstance(item, _Planned) and item.name not in names:
                names.append(item.name)
    return names


class _Var:
    """A context variable of this process (see `_process_state`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.var: contextvars.ContextVar[Any] = contextvars.ContextVar(
            name, default=None
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_var, (self.name,))

    def get(self) -> Any:
        return self.var.get()

    def set(self, value: Any) -> contextvars.Token[Any]:
        return self.var.set(value)

    def reset(self, token: contextvars.Token[Any]) -> None:
        self.var.reset(token)


def _var(name: str) -> Any:
    return _process_state(name, lambda: _Var(name))


# The operations being listed, while a flow's body is planned.
_planning = _var("opflow_planning")


# The nested flows of the flow run being made here (see `subflows`).
_nesting = _var("opflow_nesting")
# The nested flow a host thread runs (see `_Host`), for its body to find.
_hosting = _var("opflow_hosting")


@contextlib.contextmanager
def subflows(*groups: str) -> Iterator[None]:
    """Within it, each operation the flow submits runs in the nested flow
    of its group (`scraping.stepstone` for `scraping.stepstone.fetch`), and
    each group's flow in its own group's, so that Prefect's UI shows the
    hierarchy the operations are named in.

    The nested flows start first, one after another (a group before those
    within it; started side by side, they contend for the server and each
    starts later), each then waiting on a thread of its own for the submits
    of its operations. Their operations run on the flow's task runner, so
    they run as in the flat flow: each starts as soon as its inputs are
    ready, wherever those were made. A selection starts only the
    groups of the operations it runs. On the way out, each nested flow ends
    once its operations (and its nested flows) have, failed when one did.
    """
    context = FlowRunContext.get()
    if _planning.get() is not None or context is None or context.flow_run is None:
        yield
        return
    run = _run_of(context)
    if run is not None and run.plan is not None:
        chosen = run.plan.run
        groups = tuple(g for g in groups if any(c.startswith(g + ".") for c in chosen))
    nesting = _Nesting(groups)
    token = _nesting.set(nesting)
    interrupted = False
    try:
        nesting.start()
        yield
    except (KeyboardInterrupt, SystemExit):
        interrupted = True
        raise
    finally:
        _nesting.reset(token)
        # Interrupted, the run ends now: the nested flows are not waited for.
        nesting.close(wait=not interrupted)


class _Shared(TaskRunner):
    """The task runner of a nested flow: the flow's own (one thread pool,
    one Dask cluster for the whole run); only the flow run that the task
    runs are recorded under differs."""

    def __init__(self, outer: TaskRunner[Any] | None = None) -> None:
        super().__init__()
        self.outer = outer

    def duplicate(self) -> "_Shared":
        # Called as the nested flow starts, in its parent's run.
        context = FlowRunContext.get()
        outer = context.task_runner if context is not None else None
        return _Shared(outer.outer if isinstance(outer, _Shared) else outer)

    def submit(
        self,
        task: Any,
        parameters: dict[str, Any],
        wait_for: Any = None,
        dependencies: Any = None,
    ) -> Any:
        if self.outer is None:
            raise RuntimeError("a nested flow of opflow runs only within its flow")
        return self.outer.submit(task, parameters, wait_for, dependencies)


# The nested flow of each group, made once in the process.
_group_flows: dict[str, Flow[Any, Any]] = _local("group_flows")


def _group_flow(group: str) -> "Flow[Any, Any]":
    made = _group_flows.get(group)
    if made is None:
        made = Flow(
            _nested,
            name=group,
            description=f"The operations named `{group}.*`.",
            task_runner=_Shared(),
            validate_parameters=False,
        )
        _group_flows[group] = made
    return made


def _nested() -> list[Any]:
    """The body of a group's nested flow (see `_Host`)."""
    return _hosting.get().serve()


class _Host:
    """A group's nested flow, run on a thread of its own: its body keeps its
    run's context, through which the flow's body submits the group's
    operations, and returns their futures when released."""

    def __init__(self, group: str, parent: "_Host | None") -> None:
        self.group = group
        self.parent = parent
        self.children: list[_Host] = []
        self.futures: list[Any] = []
        self.context: contextvars.Context | None = None
        self.error: BaseException | None = None
        self.state: Any = None
        self.ready = threading.Event()
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        if parent is not None:
            parent.children.append(self)

    def begin(self) -> None:
        """Start the nested flow, on a thread of its own."""
        self.thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._run,),
            name=f"opflow-flow-{self.group}",
            daemon=True,
        )
        self.thread.start()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()

    def _run(self) -> None:
        try:
            if self.parent is not None:
                self.parent.ready.wait()
                if self.parent.context is None:
                    raise RuntimeError(
                        f"its group's flow `{self.parent.group}` did not start"
                    )
                # In the parent's run, where its body waits.
                self.parent.context.copy().run(self._flow)
            else:
                self._flow()
        except BaseException as error:  # noqa: BLE001 - told to whoever submits
            self.error = error
        finally:
            self.ready.set()

    def _flow(self) -> None:
        _hosting.set(self)
        self.state = _group_flow(self.group)(return_state=True)

    def serve(self) -> list[Any]:
        self.context = contextvars.copy_context()
        self.ready.set()
        self.released.wait()
        for child in self.children:
            child.join()
        return [*self.futures, *(c.state for c in self.children if c.state)]

    def start(
        self, start: Callable[..., Any], operation: Operation, args: Any, kwargs: Any
    ) -> Any:
        self.ready.wait()
        if self.context is None:
            raise OperationFailed(
                operation.name,
                RuntimeError(
                    f"its nested flow `{self.group}` did not start: {self.error}"
                ),
            )
        with self.lock:
            return self.context.run(start, operation, *args, **kwargs)


class _Nesting:
    """The nested flows of a flow run, by group, started in turn."""

    def __init__(self, groups: tuple[str, ...]) -> None:
        self.hosts: dict[str, _Host] = {}
        # In the order given, each group after those it is in (a group's
        # flow starts in its parent's run).
        listed = set(groups)
        for group in groups:
            parts = group.split(".")
            for name in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
                if name in listed and name not in self.hosts:
                    self.hosts[name] = _Host(name, self.host_of(name))

    def start(self) -> None:
        """Start every nested flow, in turn."""
        for host in self.hosts.values():
            host.begin()
            host.ready.wait()

    def host_of(self, name: str) -> _Host | None:
        """The host of the deepest group `name` is in, if any."""
        while "." in name:
            name = name.rpartition(".")[0]
            host = self.hosts.get(name)
            if host is not None:
                return host
        return None

    def close(self, *, wait: bool = True) -> None:
        """Release every nested flow to end; with `wait`, once they have."""
        for host in self.hosts.values():
            host.released.set()
        for host in self.hosts.values() if wait else ():
            host.join()


def operations_of(flow: Any, parameters: dict[str, Any]) -> dict[str, _Node]:
    """The operations `flow` submits with these parameters, none of them run."""
    planning = _Planning()
    token = _planning.set(planning)
    try:
        flow.fn(**parameters)
    finally:
        _planning.reset(token)
    return planning.nodes


def _prefixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


class NotKept(RuntimeError):
    """A selection reads a result that was never kept."""


@dataclasses.dataclass
class _Plan:
    """The operations to run, and those whose kept results are read instead."""

    run: set[str]
    stored: set[str]


def plan(nodes: dict[str, _Node], flow: str, chosen: str, exclude: str) -> _Plan:
    """The plan of a selection: the operations it names run; a named output
    runs when an operation that runs takes it; every other operation whose
    result one that runs takes is read from where it was kept. Raises
    `SelectionError` for a bad selection, `NotKept` naming each operation
    whose result the selection needs and was never kept."""
    producer = _producers(nodes)
    ops = [
        {
            "name": node.name,
            "tags": node.tags,
            # The flow running, and every prefix of the name: the flows
            # the operation is one of its own (a flow's upstream is not).
            "flows": [flow, *_prefixes(node.name)],
            "upstream": [producer.get(up, up) for up in node.upstream],
        }
        for node in nodes.values()
        if not node.pick
    ]
    run = set(select(ops, chosen if chosen.strip() else None, exclude))
    for node in nodes.values():
        if node.name in run:
            run.update(up for up in node.inputs if up in producer)
    # Only inputs are read back: an ordering-only dependency passes nothing.
    stored = {up for name in run for up in nodes[name].inputs if up not in run}
    missing = sorted(name for name in stored if not nodes[name].kept)
    if missing:
        inputs = {
            n.name: [producer.get(up, up) for up in n.inputs]
            for n in nodes.values()
            if not n.pick
        }
        lines = []
        for name in missing:
            takers = sorted(n for n in run if name in inputs.get(n, ()))
            why = " (its results are not kept)" if nodes[name].results is None else ""
            lines.append(f"`{name}`{why}, an input of {', '.join(takers)}")
        first = min(n for n in run if missing[0] in inputs.get(n, ()))
        raise NotKept(
            "nothing ran: these operations' results were never kept: "
            + "; ".join(lines)
            + f". Select them too, e.g. `--select '+{first}'`"
            " (the operation and everything upstream)."
        )
    return _Plan(run=run, stored=stored)


class _Run:
    """A flow run: its operations, its plan, its state file."""

    def __init__(self, flow: str, run_id: Any, parameters: dict[str, Any]) -> None:
        self.id = run_id
        self.flow = flow
        self.nodes: dict[str, _Node] = {}
        self.plan: _Plan | None = None
        self.results = _results()
        self.lock = threading.Condition()
        self.values: dict[str, Any] = {}
        # The operation each future stands for, by id (alive as long as the
        # flow, so no other object takes its id meanwhile).
        self.origins: dict[int, str] = {}
        self.watched = 0
        self.ended = 0
        self.ended_as = ""
        self.keeper = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="opflow-keep"
        )
        self.state: dict[str, Any] = {
            "run": str(run_id),
            "flow": flow,
            "parameters": parameters,
            "status": "RUNNING",
        }

    def stored(self, name: str) -> Any:
        with self.lock:
            if name not in self.values:
                self.values[name] = self.nodes[name].results.load(name)
            return self.values[name]

    def watch(
        self,
        operation: Operation,
        futures: list[Any],
        fingerprint: str,
        *,
        mapped: bool,
    ) -> None:
        """Keep the operation's result and state once it ends: of a mapped
        one, the list of its elements' results, in the worst of their states."""
        with self.lock:
            self.watched += 1
        pending = [len(futures)]

        def keep() -> None:
            _settle(futures)  # done: this only takes their final states
            kind = _worst(
                [f.state.type.value if f.state else "PENDING" for f in futures]
            )
            if kind == "COMPLETED" and operation.results is not None:
                try:
                    values = [f.result() for f in futures]
                    value = values if mapped else values[0]
                    operation.results.keep(operation.name, value)
                except Exception as error:  # noqa: BLE001 - reported, the run goes on
                    logging.getLogger("opflow").warning(
                        "the result of `%s` was not kept: %s", operation.name, error
                    )
                    kind = "NOT_KEPT"
            with self.lock:
                record = {"operation": operation.name, "state": kind}
                self.save({**record, "fingerprint": fingerprint})
                self.ended += 1
                self.lock.notify_all()

        def done(_: Any) -> None:
            with self.lock:
                pending[0] -= 1
                if pending[0] > 0:
                    return
            # A done callback may run on a task runner's own loop (Dask's),
            # which must not wait: the keeping is done on the run's own thread.
            self.keeper.submit(keep)

        if not futures:
            pending[0] = 1
            done(None)
        for future in futures:
            future.add_done_callback(done)

    def save(self, record: dict[str, Any] | None = None) -> None:
        """Start the state file (no `record`), or add `record` to it."""
        try:
            self.results.record_run(self.flow, record or self.state, record is None)
        except Exception as error:  # noqa: BLE001 - reported, the run goes on
            logging.getLogger("opflow").warning("the run state was not kept: %s", error)

    def end(self, status: str) -> None:
        """Wait (a little) for the results being kept, then record how the run ended."""
        with self.lock:
            self.lock.wait_for(lambda: self.ended >= self.watched, timeout=30)
            if not self.ended_as:
                self.ended_as = status
                self.save({"status": status})
        self.keeper.shutdown(wait=False)
        _runs.pop(self.id, None)


# Each flow run's `_Run` until its `outcome`, by run id; and the last one made.
_runs: dict[Any, _Run] = _local("runs")
_current: dict[str, _Run] = _local("current")


def _run_of(context: Any) -> _Run | None:
    """The run of `context`, made on its first submit (with a selection, its
    operations are listed and the selection planned first)."""
    if context is None or context.flow_run is None:
        return None
    run_id = context.flow_run.id
    run = _runs.get(run_id)
    if run is not None:
        return run
    parameters = dict(context.parameters or {})
    chosen = parameters.pop("opflow_select", "") or ""
    exclude = parameters.pop("opflow_exclude", "") or ""
    run = _Run(context.flow.name, run_id, parameters)
    _runs[run_id] = run
    _current["run"] = run
    if chosen.strip() or exclude.strip():
        run.nodes = operations_of(context.flow, dict(context.parameters or {}))
        run.plan = plan(run.nodes, context.flow.name, chosen, exclude)
        run.state["selected"] = sorted(run.plan.run)
    run.save()
    return run


def _worst(kinds: list[str]) -> str:
    """The state of a mapped operation: failed when an element failed,
    completed when all completed (or there were none), else the first other."""
    for bad in ("CRASHED", "FAILED"):
        if bad in kinds:
            return bad
    others = [kind for kind in kinds if kind != "COMPLETED"]
    return others[0] if others else "COMPLETED"


def _record(futures: list[tuple[str, PrefectFuture[Any]]]) -> None:
    """The final state of every operation; a mapped one's elements
    (`name[index]`) count as one operation, in the worst of their states."""
    LAST_RUN.clear()
    elements: dict[str, list[str]] = {}
    for name, future in futures:
        state = future.state
        kind = state.type.value if state is not None else "PENDING"
        base, bracket, _ = name.partition("[")
        if bracket:
            elements.setdefault(base, []).append(kind)
            LAST_RUN[base] = _worst(elements[base])
        else:
            LAST_RUN[name] = kind


def outcome(sinks: Any) -> Any:
    """Wait for every operation of the run; raise the first failure (in the
    order they were submitted), else return the sinks' values: the future
    of one sink, or a dict of them by operation name. A sink that did not
    run (not selected) is left out; a result read instead is given."""
    if _planning.get() is not None:
        return None
    run_id = _flow_run()
    futures = _submitted.pop(run_id, [])
    run = _runs.pop(run_id, None)
    _settle([future for _, future in futures])
    _record(futures)
    for name, future in futures:
        if future.state.is_failed() or future.state.is_crashed():
            if run is not None:
                run.end("FAILED")
            try:
                future.result()
            except BaseException as error:
                raise OperationFailed(name, error) from error
    if run is not None:
        run.end("COMPLETED")
    values = sinks if isinstance(sinks, dict) else {"": sinks}
    kept = {}
    for key, value in values.items():
        if isinstance(value, _Skipped):
            # Not run: its kept result, as a full run would have returned it.
            node = run.nodes.get(value.name) if run is not None else None
            if node is None or not node.kept:
                continue
            value = run.stored(value.name)
        kept[key] = _result(value)
    return kept if isinstance(sinks, dict) else kept.get("")


def _result(value: Any) -> Any:
    if isinstance(value, PrefectFutureList):
        return value.result()
    return value.result() if isinstance(value, PrefectFuture) else value


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


# The shared limits this process found or made on the server (see `_process_state`).
# No lock: two threads may both create one, and the second finds it made.
_limits_known: set[str] = _process_state("limits_known", set)


def ensure_limits(limits: Mapping[str, list[Any]], update: bool = False) -> None:
    """Create each shared limit (name: [concurrency, per second or None]) the
    Prefect server lacks, once per process; with `update`, also set those it
    has to these numbers. Prefect does not limit at all by a limit its server
    lacks."""
    todo = {n: v for n, v in limits.items() if update or n not in _limits_known}
    if not todo:
        return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        for name, (limit, per_second) in todo.items():
            decay = float(per_second or 0)
            try:
                have = client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                create = GlobalConcurrencyLimitCreate(
                    name=name, limit=limit, slot_decay_per_second=decay
                )
                try:
                    client.create_global_concurrency_limit(create)
                except ObjectAlreadyExists:
                    pass  # made meanwhile, by another thread or process
            else:
                if update and (have.limit, have.slot_decay_per_second) != (
                    limit,
                    decay,
                ):
                    change = GlobalConcurrencyLimitUpdate(
                        limit=limit, slot_decay_per_second=decay
                    )
                    client.update_global_concurrency_limit(name, change)
            _limits_known.add(name)


def limited(
    function: Callable[..., Any], limits: dict[str, list[Any]]
) -> Callable[..., Any]:
    """`function`, holding its shared limits: a limit without a rate is held
    while it runs (Prefect's `concurrency`); one with a rate is taken when it
    starts, and its slot comes back at that rate (`rate_limit`)."""
    held = [name for name, (_, rate) in limits.items() if not rate]
    rated = [name for name, (_, rate) in limits.items() if rate]

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            from prefect.concurrency.asyncio import concurrency, rate_limit

            ensure_limits(limits)
            if rated:
                await rate_limit(rated)
            if not held:
                return await function(*args, **kwargs)
            async with concurrency(held):
                return await function(*args, **kwargs)

        return run_async

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        from prefect.concurrency.sync import concurrency, rate_limit

        ensure_limits(limits)
        if rated:
            rate_limit(rated)
        if not held:
            return function(*args, **kwargs)
        with concurrency(held):
            return function(*args, **kwargs)

    return run


def _declared_limits(package: Any) -> dict[str, list[Any]]:
    """Every shared limit an operation of the package holds."""
    tasks = importlib.import_module(f"{package.__name__}._tasks")
    limits: dict[str, list[Any]] = {}
    for value in vars(tasks).values():
        if isinstance(value, Operation):
            limits.update(value.limits)
    return limits


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
# travels by value. The state that holds runs is the receiving process's
# own (`_Local`, `_Var`: see `_process_state`), and nothing sent carries a
# class with state (`Operation` pickles as a `Task`, `Results` as its
# settings).
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


def _task_runner(name: str, address: str | None = None) -> Any:
    if name == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner()
    if name == "process":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner()
    if name == "dask":
        from prefect_dask import DaskTaskRunner

        if address:
            return DaskTaskRunner(address=address)
        return DaskTaskRunner(
            cluster_kwargs={"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}
        )
    from prefect_ray import RayTaskRunner

    return RayTaskRunner(address=address) if address else RayTaskRunner()


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
    deployments = _deployments(package)
    try:
        serve(*deployments)
    except KeyboardInterrupt:
        return 0
    return 0


def _deployments(package: Any) -> list[Any]:
    """Every deployment of `prefect.yaml`, beside this file, as `serve` takes
    it: its flow (found by the entrypoint's function), name, parameters,
    tags, schedules and concurrency limit. The work pool's settings are for
    workers; served flows run here."""
    from datetime import timedelta

    import yaml
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Schedule

    flows = {flow.fn.__name__: (name, flow) for name, flow in package.FLOWS.items()}
    text = (Path(__file__).resolve().parent / "prefect.yaml").read_text()
    deployments = []
    for spec in yaml.safe_load(text)["deployments"]:
        name, flow = flows[spec["entrypoint"].rsplit(":", 1)[1]]
        limit = spec.get("concurrency_limit")
        if isinstance(limit, dict):
            limit = ConcurrencyLimitConfig(**limit)
        schedules = []
        for schedule in spec.get("schedules") or []:
            if "interval" in schedule:
                schedule["interval"] = timedelta(seconds=schedule["interval"])
            schedules.append(Schedule(**schedule))
        deployments.append(
            flow.to_deployment(
                name=spec["name"],
                # A flow's own deployment runs with its defaults, as written
                # in the flow; others (presets) with theirs.
                parameters=None if spec["name"] == name else spec.get("parameters"),
                tags=spec.get("tags"),
                schedules=schedules or None,
                concurrency_limit=limit,
                # Loaded by file, a flow module takes its own name (`etl`),
                # which hides a package of that name the operations import.
                entrypoint_type=EntrypointType.MODULE_PATH,
            )
        )
    return deployments


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


def _resume(flow: Any, name: str, given: dict[str, Any]) -> dict[str, Any] | None:
    """The parameters that rerun what did not complete in `name`'s last run:
    its own, with those given instead, and a selection of every operation
    that did not complete, whose code, settings or inputs changed since, or
    that is downstream of one of these; and of every completed one whose
    result was not kept and that one of these takes (with its downstream)."""
    last = _results().last_run(name)
    if last is None:
        print(f"error: flow `{name}` has no run to resume", file=sys.stderr)
        return None
    if last.get("status") == "COMPLETED":
        print(
            f"error: the last run of `{name}` ({last.get('run')}) completed: "
            "nothing to resume",
            file=sys.stderr,
        )
        return None
    params = {**last.get("parameters", {}), **given}
    nodes = operations_of(flow, {**params, "opflow_select": "", "opflow_exclude": ""})
    done = last.get("operations", {})
    # A run of a selection covered only those: the others are read, as then.
    scope = set(last.get("selected", nodes))
    ops = {n: node for n, node in nodes.items() if not node.pick and n in scope}
    completed = {n for n in ops if done.get(n, {}).get("state") == "COMPLETED"}
    changed = sorted(
        n for n in completed if done[n].get("fingerprint") != ops[n].fingerprint
    )
    rerun = set(ops) - completed | set(changed)
    downstream: dict[str, list[str]] = {}
    for node in nodes.values():
        for up in node.upstream:
            downstream.setdefault(up, []).append(node.name)
    producer = _producers(nodes)
    # A completed operation whose result cannot be read back (`persist =
    # false`, or removed since) runs again when one that runs takes it.
    lost = {n for n in completed if not ops[n].kept}
    todo = list(rerun)
    while todo:
        op = todo.pop()
        inputs = [producer.get(up, up) for up in nodes[op].inputs]
        for other in downstream.get(op, []) + [up for up in inputs if up in lost]:
            if other not in rerun:
                rerun.add(other)
                todo.append(other)
    rerun &= set(ops)
    status = str(last.get("status", "")).lower()
    print(
        f"resuming the {status} run {last.get('run')} of `{name}`: "
        f"{len(ops) - len(rerun)} of {len(ops)} operations are not run again",
        file=sys.stderr,
    )
    if changed:
        print(
            "changed since that run, so run again: " + ", ".join(changed),
            file=sys.stderr,
        )
    if not rerun:
        print("error: every operation completed: nothing to resume", file=sys.stderr)
        return None
    params["opflow_select"] = " ".join(sorted(rerun))
    return params


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
    parser.add_argument(
        "--select",
        nargs="+",
        default=[],
        metavar="TERM",
        help="run only these operations; inputs from others are read from "
        "their last kept results (README: Running part of a flow)",
    )
    parser.add_argument(
        "--exclude", nargs="+", default=[], metavar="TERM", help="but not these"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="run again what did not complete in the flow's last run",
    )
    parser.add_argument("--task-runner", choices=TASK_RUNNERS)
    parser.add_argument(
        "--address", help="the Dask or Ray cluster of --task-runner, by its address"
    )
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
    # opflow's numbers for the shared limits, on the server before any run.
    limits = _declared_limits(package)
    if limits:
        ensure_limits(limits, update=True)
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
    if args.resume:
        resumed = _resume(flow, args.flow, params)
        if resumed is None:
            return 1
        params = resumed
    if args.select or args.exclude:
        params["opflow_select"] = " ".join(
            [params.get("opflow_select", ""), *args.select]
        ).strip()
        params["opflow_exclude"] = " ".join(args.exclude)
    if args.task_runner:
        runner = _task_runner(args.task_runner, args.address)
        flow = flow.with_options(task_runner=runner)

    _logging(args.output, args.log)
    signal.signal(signal.SIGINT, _interrupt)
    start = time.monotonic()
    _last.clear()
    try:
        result = flow(**params)
    except KeyboardInterrupt:
        if "run" in _current:
            _current["run"].end("CANCELLED")
        _report(args.report, seconds=time.monotonic() - start, cancelled=True)
        print(f"error: flow `{args.flow}` was cancelled", file=sys.stderr)
        sys.stderr.flush()
        # Prefect has recorded the run's end; a sync operation still sleeping
        # in a worker thread cannot be interrupted, so do not wait for it.
        os._exit(130)
    except (SelectionError, NotKept) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # noqa: BLE001 - any failure of the run is reported the same way
        if "run" in _current:
            _current["run"].end("FAILED")
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
