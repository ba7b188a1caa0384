"""End to end: `map` (one run per element of a list) under a real Prefect
server, through the generated package's runner, as in `test_flows.py`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_flows import completed, error_line


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
