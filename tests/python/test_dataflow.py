"""End to end: `map` (one run per element of a list), triggers, hooks and
subflows under a real Prefect server, through the generated package's
runner, as in `test_flows.py`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_flows import completed, error_line
from test_run import api_call


def workdir_of(tmp_path: Path) -> Path:
    """A folder the operations write what they saw into."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    return workdir


# 1. One fetch per element, mapped again, joined in order --------------------

MAPPED = """\
version = 1

[[operations]]
name = "m.listing"
call = "mapped:listing"
returns = "list[int]"

[[operations]]
name = "m.fetch"
call = "mapped:fetch"
params = { item = { type = "int", from = "m.listing" }, workdir = "str" }
map = ["item"]
returns = "int"

[[operations]]
name = "m.double"
call = "mapped:double"
params = { value = { type = "int", from = "m.fetch" } }
map = ["value"]
returns = "int"

[[operations]]
name = "m.join"
call = "mapped:join"
params = { double = "list[int]", fetch = "list[int]" }
returns = "dict[str, list[int]]"
"""

MAPPED_PY = """\
import json
import time
from pathlib import Path


def listing() -> list[int]:
    return [1, 2, 3, 4, 5, 6]


def fetch(item: int, workdir: str) -> int:
    start = time.time()
    time.sleep(0.5)
    if item == 4 and (Path(workdir) / "fail").exists():
        raise ValueError(f"page {item} is missing")
    span = {"item": item, "start": start, "end": time.time()}
    (Path(workdir) / f"fetch-{item}.json").write_text(json.dumps(span))
    return item * 10


def double(value: int) -> int:
    return value * 2


def join(double: list[int], fetch: list[int]) -> dict[str, list[int]]:
    return {"double": double, "fetch": fetch}
"""


def test_map_runs_once_per_element_in_parallel_and_keeps_the_order(
    project, tmp_path: Path
) -> None:
    built = project(MAPPED, {"mapped.py": MAPPED_PY})
    workdir = workdir_of(tmp_path)

    run = built.run("m", workdir=str(workdir))

    assert completed(run) == {
        "double": [20, 40, 60, 80, 100, 120],
        "fetch": [10, 20, 30, 40, 50, 60],
    }
    spans = [json.loads((workdir / f"fetch-{i}.json").read_text()) for i in range(1, 7)]
    # The fetches overlap: some fetch starts before another has ended (one
    # after the other, each would start after the previous one's end).
    overlapping = [
        (a["item"], b["item"])
        for a in spans
        for b in spans
        if a is not b and a["start"] <= b["start"] < a["end"]
    ]
    assert overlapping, spans
    # The generated flow maps, with the other parameter the same for all.
    flow = (built.root / built.output / "m.py").read_text()
    assert "m_fetch_task.map(item=listing, workdir=unmapped(workdir))" in flow, flow


def test_a_failing_element_is_named_with_its_index(project, tmp_path: Path) -> None:
    built = project(MAPPED, {"mapped.py": MAPPED_PY})
    workdir = workdir_of(tmp_path)
    (workdir / "fail").write_text("yes")

    run = built.run("m", workdir=str(workdir))

    assert run.code == 1, run.stderr
    assert error_line(run) == (
        "error: operation `m.fetch[3]` failed: ValueError: page 4 is missing"
    )
    assert "Traceback" not in run.stderr, run.stderr
    # The other elements ran.
    assert sorted(p.name for p in workdir.glob("fetch-*.json")) == [
        f"fetch-{i}.json" for i in (1, 2, 3, 5, 6)
    ]


# 2. Zipped parameters --------------------------------------------------------

ZIPPED = """\
version = 1

[[operations]]
name = "z.names"
call = "zipped:names"
params = { count = "int" }
returns = "list[str]"

[[operations]]
name = "z.ages"
call = "zipped:ages"
returns = "tuple[int, ...]"

[[operations]]
name = "z.greet"
call = "zipped:greet"
params = { name = { type = "str", from = "z.names" }, age = { type = "int", from = "z.ages" }, greeting = { type = "str", default = "hello" } }
map = ["name", "age"]
returns = "str"
"""

ZIPPED_PY = """\
def names(count: int) -> list[str]:
    return ["ada", "bob", "cy"][:count]


def ages() -> tuple[int, ...]:
    return (36, 41, 29)


def greet(name: str, age: int, greeting: str = "hello") -> str:
    return f"{greeting} {name} ({age})"
"""


def test_zipped_parameters_and_a_length_mismatch_naming_both(project) -> None:
    built = project(ZIPPED, {"zipped.py": ZIPPED_PY})

    run = built.run("z", count=3)
    assert completed(run) == ["hello ada (36)", "hello bob (41)", "hello cy (29)"]

    short = built.run("z", count=2)
    assert short.code == 1, short.stderr
    assert error_line(short) == (
        "error: operation `z.greet` failed: ValueError: the lists of the mapped "
        "parameters differ in length: `name` has 2, `age` has 3 (the parameters "
        "are zipped: element i of each goes to run i)"
    )


# 3. The example: one fetch per result page -----------------------------------

DIRECT = """\
import asyncio, json, sys
sys.path[:0] = [".", "../scraping"]
from jobs.merge import merge
from jobs.scrapers import fetch_linkedin
listings = asyncio.run(fetch_linkedin("python engineer", pages=3))
print(json.dumps([x.to_dict() for x in merge([], listings)]))
"""


def test_pages_example_reads_every_page_and_merges_them(example, tmp_path) -> None:
    # The example takes `jobs` from the scraping example beside it.
    example("scraping")
    pages = example("pages")
    direct = subprocess.run(
        [sys.executable, "-c", DIRECT],
        cwd=pages.root,
        capture_output=True,
        text=True,
        check=True,
    )
    expected = json.loads(direct.stdout)
    assert len(expected) > 2, "listings on several pages match"

    run = pages.run("linkedin", keywords="python engineer")

    assert completed(run) == expected
    plan = pages.opflow("plan", "operations.toml").stdout
    assert "  stage 2: linkedin.fetch[*]\n" in plan, plan
    # Each fetch holds the shared limit; the deployment has its schedule.
    package = pages.root / "run_cache" / "orchestration"
    assert 'limits={"linkedin": [2, None]}' in (package / "_tasks.py").read_text()
    deployments = (package / "prefect.yaml").read_text()
    assert '- cron: "0 6 * * 1-5"\n        timezone: "Europe/Berlin"' in deployments
    assert "concurrency_limit: 1" in deployments


# 4. Part of a flow: a mapped operation is selected, kept and resumed whole ---


def runner(built, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m orchestration ARGS...` in the built project, as a user would."""
    package = built.root / built.output
    return subprocess.run(
        [sys.executable, "-m", package.name, *args],
        cwd=package.parent,
        env={
            **os.environ,
            "PREFECT_API_URL": built.api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_mapped_operation_is_kept_selected_and_resumed_whole(
    project, tmp_path: Path
) -> None:
    built = project(MAPPED, {"mapped.py": MAPPED_PY})
    workdir = workdir_of(tmp_path)
    (workdir / "fail").write_text("yes")
    param = f"workdir={workdir}"
    expected = {
        "double": [20, 40, 60, 80, 100, 120],
        "fetch": [10, 20, 30, 40, 50, 60],
    }

    failed = runner(built, "m", "--param", param)
    assert failed.returncode == 1, failed.stderr
    assert "operation `m.fetch[3]` failed" in failed.stderr, failed.stderr
    lines = (built.root / ".opflow/results/.runs/m.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    # The mapped operation is one record, in the worst of its elements' states.
    states = {r["operation"]: r["state"] for r in records if "operation" in r}
    assert states["m.fetch"] == "FAILED", records
    assert states["m.listing"] == "COMPLETED", records

    (workdir / "fail").unlink()
    resumed = runner(built, "m", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == expected
    assert "1 of 4 operations are not run again" in resumed.stderr, resumed.stderr

    # Only `double` and `join` run: `double` maps over the kept list of
    # `fetch`'s results.
    for kept in workdir.glob("fetch-*.json"):
        kept.unlink()
    part = runner(built, "m", "--param", param, "--select", "m.double", "m.join")
    assert part.returncode == 0, part.stderr
    assert json.loads(part.stdout) == expected
    assert not list(workdir.glob("fetch-*.json"))


# 5. trigger = "all_done": a cleanup runs after its upstream failed ------------

ALL_DONE = """\
version = 1

[[operations]]
name = "c.load"
call = "cleanup_ops:load"
returns = "int"

[[operations]]
name = "c.boom"
call = "cleanup_ops:boom"
params = { load = "int" }
returns = "int"

[[operations]]
name = "c.side"
call = "cleanup_ops:side"
params = { workdir = "str" }
returns = "list[int]"

[[operations]]
name = "c.cleanup"
call = "cleanup_ops:cleanup"
params = { load = "int | None", boom = "int | None", workdir = "str" }
depends_on = ["c.load", "c.boom", "c.side"]
trigger = "all_done"
returns = "str"
"""

ALL_DONE_PY = """\
import json
from pathlib import Path


def load() -> int:
    return 7


def boom(load: int) -> int:
    raise ValueError("boom failed after load")


def side(workdir: str) -> list[int]:
    return [1, 2]


def cleanup(load: int | None, boom: int | None, workdir: str) -> str:
    (Path(workdir) / "cleanup.json").write_text(json.dumps([load, boom]))
    return "cleaned"
"""


def test_an_all_done_cleanup_runs_after_a_failure_and_the_run_fails(
    project, tmp_path: Path
) -> None:
    built = project(ALL_DONE, {"cleanup_ops.py": ALL_DONE_PY})
    workdir = workdir_of(tmp_path)

    run = built.run("c", workdir=str(workdir))

    assert run.code == 1, run.stderr
    assert error_line(run) == (
        "error: operation `c.boom` failed: ValueError: boom failed after load"
    )
    # The cleanup ran once its upstream finished: the failed one gave it None.
    assert json.loads((workdir / "cleanup.json").read_text()) == [7, None]
    flow = (built.root / built.output / "c.py").read_text()
    assert "boom=allow_failure(boom)" in flow, flow
    assert "wait_for=[allow_failure(side)]" in flow, flow


# 6. State hooks ---------------------------------------------------------------

HOOKS = """\
version = 1

[flows.h]
on_failure = ["hook_ops:flow_failed"]
on_completion = ["hook_ops:flow_completed"]

[[operations]]
name = "h.first"
call = "hook_ops:first"
params = { workdir = "str" }
returns = "int"
on_completion = ["hook_ops:task_completed"]

[[operations]]
name = "h.boom"
call = "hook_ops:boom"
params = { first = "int" }
returns = "int"
on_failure = ["hook_ops:task_failed"]
"""

HOOKS_PY = """\
import json
from pathlib import Path

WORKDIR = []


def first(workdir: str) -> int:
    WORKDIR.append(workdir)
    return 1


def boom(first: int) -> int:
    raise ValueError("boom")


def _note(name: str, **fields: object) -> None:
    (Path(WORKDIR[0]) / f"{name}.json").write_text(json.dumps(fields))


def flow_failed(flow, flow_run, state) -> None:
    workdir = flow_run.parameters["workdir"]
    note = {"flow": flow.name, "failed": state.is_failed()}
    (Path(workdir) / "flow_failed.json").write_text(json.dumps(note))


def flow_completed(flow, flow_run, state) -> None:
    (Path(flow_run.parameters["workdir"]) / "flow_completed.json").write_text("{}")


def task_completed(task, task_run, state) -> None:
    _note("task_completed", task=task.name, completed=state.is_completed())


def task_failed(task, task_run, state) -> None:
    _note("task_failed", task=task.name, failed=state.is_failed())
"""


def test_state_hooks_are_called_with_the_flow_or_task_and_the_state(
    project, tmp_path: Path
) -> None:
    built = project(HOOKS, {"hook_ops.py": HOOKS_PY})
    workdir = workdir_of(tmp_path)

    run = built.run("h", workdir=str(workdir))

    assert run.code == 1, run.stderr
    assert error_line(run) == "error: operation `h.boom` failed: ValueError: boom"

    def note(name: str) -> object:
        return json.loads((workdir / f"{name}.json").read_text())

    assert note("flow_failed") == {"flow": "h", "failed": True}
    assert not (workdir / "flow_completed.json").exists()
    assert note("task_completed") == {"task": "h.first", "completed": True}
    assert note("task_failed") == {"task": "h.boom", "failed": True}
    flow = (built.root / built.output / "h.py").read_text()
    assert 'on_failure=[hook("hook_ops:flow_failed")],' in flow, flow


# 5. Subflows: each group a nested flow, visible through Prefect's API --------

NESTED = """\
version = 1

[flows.nest]
subflows = true

[[operations]]
name = "nest.pages.listing"
call = "nested_ops:listing"
returns = "list[int]"

[[operations]]
name = "nest.pages.fetch"
call = "nested_ops:fetch"
params = { item = { type = "int", from = "nest.pages.listing" } }
map = ["item"]
returns = "int"

[[operations]]
name = "nest.index.deep.build"
call = "nested_ops:build"
params = { fetch = { type = "list[int]", from = "nest.pages.fetch" }, fail = "bool" }
returns = "int"

[[operations]]
name = "nest.timing.slow"
call = "nested_ops:slow"
params = { workdir = "str" }
returns = "str"

[[operations]]
name = "nest.other.fast"
call = "nested_ops:fast"
returns = "int"

[[operations]]
name = "nest.timing.after_fast"
call = "nested_ops:after_fast"
params = { fast = { type = "int", from = "nest.other.fast" }, workdir = "str" }
returns = "int"

[[operations]]
name = "nest.report"
call = "nested_ops:report"
params = { build = { type = "int", from = "nest.index.deep.build" }, slow = { type = "str", from = "nest.timing.slow" }, after_fast = { type = "int", from = "nest.timing.after_fast" } }
returns = "dict[str, int | str]"
"""

NESTED_PY = """\
import json
import time
from pathlib import Path


def _span(workdir: str, name: str, start: float) -> None:
    span = {"start": start, "end": time.time()}
    (Path(workdir) / f"{name}.json").write_text(json.dumps(span))


def listing() -> list[int]:
    return [1, 2, 3]


def fetch(item: int) -> int:
    time.sleep(0.2)
    return item * 10


def build(fetch: list[int], fail: bool) -> int:
    if fail:
        raise ValueError("the index is broken")
    return sum(fetch)


def slow(workdir: str) -> str:
    start = time.time()
    time.sleep(1.5)
    _span(workdir, "slow", start)
    return "slow"


def fast() -> int:
    time.sleep(0.1)
    return 1


def after_fast(fast: int, workdir: str) -> int:
    _span(workdir, "after_fast", time.time())
    return fast + 1


def report(build: int, slow: str, after_fast: int) -> dict[str, int | str]:
    return {"build": build, "slow": slow, "after_fast": after_fast}
"""


def _api(api: str, path: str, body: dict) -> list[dict]:
    """A filter query of Prefect's REST API (`api_call`, which retries a busy server)."""
    return api_call(api, "POST", f"/{path}", body)


def _run_tree(api: str, run: dict) -> dict:
    """A flow run as Prefect's API holds it: its state, the operations it
    ran (task runs, by operation), and its nested flow runs (by flow)."""
    tasks = _api(api, "task_runs/filter", {"flow_runs": {"id": {"any_": [run["id"]]}}})
    children = _api(
        api,
        "flow_runs/filter",
        {"flow_runs": {"parent_task_run_id": {"any_": [t["id"] for t in tasks]}}},
    )
    parents = {child["parent_task_run_id"] for child in children}
    flows = {}
    for child in children:
        flow = _api(
            api, "flows/filter", {"flows": {"id": {"any_": [child["flow_id"]]}}}
        )
        flows[flow[0]["name"]] = _run_tree(api, child)
    operations = sorted(
        t["name"].rsplit("-", 1)[0] for t in tasks if t["id"] not in parents
    )
    return {"state": run["state_type"], "operations": operations, "flows": flows}


def _last_run_tree(api: str, flow: str) -> dict:
    runs = _api(
        api,
        "flow_runs/filter",
        {"flows": {"name": {"any_": [flow]}}, "sort": "START_TIME_DESC", "limit": 1},
    )
    return _run_tree(api, runs[0])


def test_subflows_nest_each_group_and_give_the_flat_flows_result(
    project, tmp_path: Path, prefect_api: str
) -> None:
    built = project(NESTED, {"nested_ops.py": NESTED_PY})
    workdir = workdir_of(tmp_path)
    module = (built.root / built.output / "nest.py").read_text()
    assert "    with subflows(" in module, module

    nested = completed(built.run("nest", workdir=str(workdir), fail=False))

    def group(state: str, operations: list[str], flows: dict | None = None) -> dict:
        return {"state": state, "operations": operations, "flows": flows or {}}

    fetches = ["nest.pages.fetch"] * 3
    assert _last_run_tree(prefect_api, "nest") == group(
        "COMPLETED",
        ["nest.report"],
        {
            "nest.pages": group("COMPLETED", [*fetches, "nest.pages.listing"]),
            "nest.index": group(
                "COMPLETED",
                [],
                {"nest.index.deep": group("COMPLETED", ["nest.index.deep.build"])},
            ),
            "nest.timing": group(
                "COMPLETED", ["nest.timing.after_fast", "nest.timing.slow"]
            ),
            "nest.other": group("COMPLETED", ["nest.other.fast"]),
        },
    )
    # Across groups, an operation started as soon as its input was ready:
    # `after_fast` (group `timing`) did not wait for `slow`, of its own group,
    # but for `fast`, of another.
    spans = {
        name: json.loads((workdir / f"{name}.json").read_text())
        for name in ("slow", "after_fast")
    }
    assert spans["after_fast"]["start"] < spans["slow"]["end"], spans

    # A failure fails its group's flow and each one holding it, not the others.
    failed = built.run("nest", workdir=str(workdir), fail=True)
    assert failed.code == 1, failed.stderr
    assert error_line(failed) == (
        "error: operation `nest.index.deep.build` failed: ValueError: the index is broken"
    )
    tree = _last_run_tree(prefect_api, "nest")
    assert tree["state"] == "FAILED"
    assert tree["flows"]["nest.index"]["state"] == "FAILED"
    assert tree["flows"]["nest.index"]["flows"]["nest.index.deep"]["state"] == "FAILED"
    assert tree["flows"]["nest.pages"]["state"] == "COMPLETED"

    # The same manifest without subflows: the same result, and no nested runs.
    manifest = built.root / built.manifest
    manifest.write_text(NESTED.replace("subflows = true", "subflows = false"))
    built.build()
    flat = completed(built.run("nest", workdir=str(workdir), fail=False))
    assert flat == nested == {"build": 60, "slow": "slow", "after_fast": 2}
    assert _last_run_tree(prefect_api, "nest")["flows"] == {}

    # On a process pool: the operations run in other processes, under their
    # groups' runs, and the failure is named as on threads (a process pool's
    # future of an operation whose input failed raises as it is waited for).
    manifest.write_text(NESTED.replace("subflows = true", PROCESS_NESTED))
    built.build()
    failed = built.run("nest", workdir=str(workdir), fail=True)
    assert failed.code == 1, failed.stderr
    assert error_line(failed) == (
        "error: operation `nest.index.deep.build` failed: ValueError: the index is broken"
    )
    tree = _last_run_tree(prefect_api, "nest")
    assert tree["flows"]["nest.index"]["state"] == "FAILED"
    assert tree["flows"]["nest.pages"] == group(
        "COMPLETED", [*fetches, "nest.pages.listing"]
    )


PROCESS_NESTED = """\
subflows = true
task_runner = "process"\
"""


def test_ctrl_c_ends_a_run_with_subflows_at_once(project, tmp_path: Path) -> None:
    built = project(NESTED, {"nested_ops.py": NESTED_PY})
    workdir = workdir_of(tmp_path)
    package = built.root / built.output
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            package.name,
            "nest",
            "--param",
            f"workdir={workdir}",
            "--param",
            "fail=false",
        ],
        cwd=package.parent,
        env={**os.environ, "PREFECT_API_URL": built.api},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stderr is not None
    seen = ""
    # Interrupted while the nested flows start, one after another.
    while "Beginning subflow run" not in seen:
        line = process.stderr.readline()
        assert line, seen
        seen += line
    os.killpg(process.pid, signal.SIGINT)
    start = time.monotonic()
    _, rest = process.communicate(timeout=60)
    assert process.returncode == 130, seen + rest
    assert "error: flow `nest` was cancelled" in rest
    # Not held by the nested flows, nor by the operations still sleeping.
    assert time.monotonic() - start < 15, seen + rest
