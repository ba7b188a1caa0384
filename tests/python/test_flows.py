"""End to end: build small projects with opflow, run their flows under a real
Prefect server (`python -m orchestration FLOW --param k=v`) and check the results.

Every run costs a few seconds of Prefect start-up, so each test makes few runs and
checks several things per run. Side effects go to a folder given to the flow as the
`workdir` parameter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from textwrap import dedent


def completed(run) -> object:
    """The result of a run that must have succeeded, without any traceback."""
    assert run.code == 0, f"run failed ({run.code}):\n{run.stderr}"
    assert "Traceback" not in run.stderr, run.stderr
    return run.result


def error_line(run) -> str:
    """The runner's own last word on a failed run (Prefect logs come before it)."""
    lines = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert lines, run.stderr
    return lines[-1]


# 1. The seed example ---------------------------------------------------------


def test_seed_example_returns_what_the_functions_return(example) -> None:
    seed = example("scraping")
    direct = subprocess.run(
        [sys.executable, "run_direct.py"],
        cwd=seed.root,
        capture_output=True,
        text=True,
        check=True,
    )
    expected = json.loads(direct.stdout)
    assert expected, "the fixtures hold listings matching `python`"

    run = seed.run("scraping", keywords="python")

    assert completed(run) == expected


# 2. A diamond of sync and async operations -----------------------------------

DIAMOND = """\
version = 1

[[operations]]
name = "d.source"
call = "diamond:source"
params = { n = "int" }
returns = "int"

[[operations]]
name = "d.left"
call = "diamond:left"
async = true
params = { source = "int" }
returns = "int"

[[operations]]
name = "d.right"
call = "diamond:right"
params = { source = "int" }
returns = "int"

[[operations]]
name = "d.join"
call = "diamond:join"
params = { left = "int", right = "int" }
returns = "list[int]"
"""

DIAMOND_PY = """\
import asyncio


def source(n: int) -> int:
    return n * 10


async def left(source: int) -> int:
    await asyncio.sleep(0.05)
    return source + 1


def right(source: int) -> int:
    return source * 2


def join(left: int, right: int) -> list[int]:
    return [left, right]
"""


def test_diamond_mixes_sync_and_async(project) -> None:
    built = project(DIAMOND, {"diamond.py": DIAMOND_PY})

    # The flow of the `d.*` operations, and the root flow, with different inputs.
    assert completed(built.run("d", n=1)) == [11, 20]
    assert completed(built.run("all", n=7)) == [71, 140]


# 3. A deep chain ---------------------------------------------------------------


def test_chain_of_30_operations(project) -> None:
    steps = [f"s{i:02d}" for i in range(30)]
    manifest = ["version = 1"]
    module = []
    for i, step in enumerate(steps):
        arg = "start" if i == 0 else steps[i - 1]
        params = (
            '{ start = { type = "int", default = 0 } }'
            if i == 0
            else f'{{ {arg} = "int" }}'
        )
        manifest.append(
            dedent(f"""
            [[operations]]
            name = "c.{step}"
            call = "chain:{step}"
            params = {params}
            returns = "int"
            """)
        )
        module.append(f"def {step}({arg}: int) -> int:\n    return {arg} + 1\n")
    built = project("\n".join(manifest), {"chain.py": "\n\n".join(module)})

    assert completed(built.run("c")) == 30


# 4. A wide DAG -----------------------------------------------------------------


def test_wide_dag_of_200_operations_into_one_sink(project) -> None:
    names = [f"v{i:03d}" for i in range(200)]
    manifest = ["version = 1"]
    module = []
    for i, name in enumerate(names):
        manifest.append(
            dedent(f"""
            [[operations]]
            name = "w.{name}"
            call = "wide:{name}"
            returns = "int"
            """)
        )
        module.append(f"def {name}() -> int:\n    return {i}\n")
    params = ", ".join(f'{name} = "int"' for name in names)
    manifest.append(
        dedent(f"""
        [[operations]]
        name = "w.total"
        call = "wide:total"
        params = {{ {params} }}
        returns = "int"
        """)
    )
    signature = ", ".join(f"{name}: int" for name in names)
    module.append(f"def total({signature}) -> int:\n    return {' + '.join(names)}\n")
    built = project("\n".join(manifest), {"wide.py": "\n\n".join(module)})

    assert completed(built.run("w", timeout=120)) == sum(range(200))


# 5. Independent operations run at the same time -------------------------------

CONCURRENT = """\
version = 1

[[operations]]
name = "p.sync_a"
call = "sleepers:sync_a"
returns = "tuple[float, float]"

[[operations]]
name = "p.sync_b"
call = "sleepers:sync_b"
returns = "tuple[float, float]"

[[operations]]
name = "p.async_c"
call = "sleepers:async_c"
async = true
returns = "tuple[float, float]"
"""

CONCURRENT_PY = """\
import asyncio
import time


def sync_a() -> tuple[float, float]:
    start = time.time()
    time.sleep(1)
    return start, time.time()


def sync_b() -> tuple[float, float]:
    start = time.time()
    time.sleep(1)
    return start, time.time()


async def async_c() -> tuple[float, float]:
    start = time.time()
    await asyncio.sleep(1)
    return start, time.time()
"""


def test_independent_sync_and_async_operations_overlap(project) -> None:
    built = project(CONCURRENT, {"sleepers.py": CONCURRENT_PY})

    result = completed(built.run("p"))

    # Several sinks: the flow returns a dict by operation name.
    assert isinstance(result, dict)
    assert sorted(result) == ["p.async_c", "p.sync_a", "p.sync_b"]
    starts = [start for start, _ in result.values()]
    ends = [end for _, end in result.values()]
    for start, end in result.values():
        assert end - start >= 1.0
    assert max(ends) - min(starts) < 2.0, result


# 6. Retries --------------------------------------------------------------------

RETRIES = """\
version = 1

[[operations]]
name = "r.flaky"
call = "flaky:flaky"
params = { workdir = "str" }
returns = "int"
retries = 2
retry_delay_seconds = 0
"""

RETRIES_PY = """\
from pathlib import Path


def flaky(workdir: str) -> int:
    counter = Path(workdir) / "attempts"
    attempts = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempts))
    if attempts < 3:
        raise RuntimeError(f"attempt {attempts} fails")
    return attempts
"""


def test_retries_until_success(project, tmp_path: Path) -> None:
    built = project(RETRIES, {"flaky.py": RETRIES_PY})
    workdir = tmp_path / "work"
    workdir.mkdir()

    assert completed(built.run("r", workdir=str(workdir))) == 3
    assert (workdir / "attempts").read_text() == "3"


# 7. A failing operation --------------------------------------------------------

FAILURE = """\
version = 1

[[operations]]
name = "x.boom"
call = "failing:boom"
params = { workdir = "str" }
returns = "int"

[[operations]]
name = "x.after"
call = "failing:after"
params = { boom = "int", workdir = "str" }
returns = "int"
"""

FAILURE_PY = """\
from pathlib import Path


def boom(workdir: str) -> int:
    raise ValueError("the boom operation always fails")


def after(boom: int, workdir: str) -> int:
    (Path(workdir) / "after-ran").write_text("yes")
    return boom + 1
"""


def test_failed_operation_is_named_and_stops_its_downstream(
    project, tmp_path: Path
) -> None:
    built = project(FAILURE, {"failing.py": FAILURE_PY})
    workdir = tmp_path / "work"
    workdir.mkdir()

    run = built.run("x", workdir=str(workdir))

    assert run.code == 1, run.stderr
    assert error_line(run) == (
        "error: operation `x.boom` failed: ValueError: the boom operation always fails"
    )
    assert not (workdir / "after-ran").exists()
    # A failure in a few lines: the user's own frame, once, and no frame of
    # Prefect's or of the generated package's.
    assert run.stderr.count('failing.py", line') == 1, run.stderr
    assert "raise ValueError" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert "site-packages" not in run.stderr, run.stderr
    assert "_runtime.py" not in run.stderr, run.stderr
    assert len(run.stderr.splitlines()) <= 20, run.stderr


# 8. Ordering-only edges --------------------------------------------------------

PAIRS = ["one", "two", "three"]

ORDERING = "version = 1\n" + "".join(
    f"""
[[operations]]
name = "o.{pair}.write"
call = "ordering:write_{pair}"
params = {{ workdir = "str" }}
returns = "int"

[[operations]]
name = "o.{pair}.read"
call = "ordering:read_{pair}"
params = {{ workdir = "str" }}
depends_on = ["o.{pair}.write"]
returns = "str"
"""
    for pair in PAIRS
)

ORDERING_PY = "import time\nfrom pathlib import Path\n" + "".join(
    f"""

def write_{pair}(workdir: str) -> int:
    time.sleep({0.1 * (i + 1):.1f})  # late, so a reader that did not wait finds nothing
    return (Path(workdir) / "{pair}").write_text("written by {pair}")


def read_{pair}(workdir: str) -> str:
    return (Path(workdir) / "{pair}").read_text()
"""
    for i, pair in enumerate(PAIRS)
)


def test_depends_on_without_a_parameter_orders_the_operations(
    project, tmp_path: Path
) -> None:
    built = project(ORDERING, {"ordering.py": ORDERING_PY})

    for attempt in range(2):
        workdir = tmp_path / f"work{attempt}"
        workdir.mkdir()
        result = completed(built.run("o", workdir=str(workdir)))
        assert result == {f"o.{pair}.read": f"written by {pair}" for pair in PAIRS}


# 9. Named outputs --------------------------------------------------------------

NAMED_OUTPUTS = """\
version = 1

[[operations]]
name = "ml.split"
call = "outputs:split"
params = { rows = "list[int]", ratio = { type = "float", default = 0.5 } }
outputs = { train = "list[int]", test = "list[int]" }

[[operations]]
name = "ml.fit"
call = "outputs:fit"
params = { train = "list[int]" }
depends_on = ["ml.split"]
returns = "int"

[[operations]]
name = "ml.score"
call = "outputs:score"
params = { model = { type = "int", from = "ml.fit" }, rows = { type = "list[int]", from = "ml.split.test" } }
returns = "list[int]"

[[operations]]
name = "t.pair"
call = "outputs:pair"
outputs = { word = "str", number = "int" }

[[operations]]
name = "t.use"
call = "outputs:use"
params = { number = "int", text = { type = "str", from = "t.pair.word" } }
depends_on = ["t.pair"]
returns = "str"
"""

NAMED_OUTPUTS_PY = """\
def split(rows: list[int], ratio: float = 0.5) -> dict[str, list[int]]:
    cut = int(len(rows) * ratio)
    return {"train": rows[:cut], "test": rows[cut:]}


def fit(train: list[int]) -> int:
    return sum(train)


def score(model: int, rows: list[int]) -> list[int]:
    return [model, *rows]


def pair() -> tuple[str, int]:
    return "ab", 3


def use(number: int, text: str) -> str:
    return text * number
"""


def test_named_outputs_of_a_dict_and_of_a_tuple(project) -> None:
    built = project(NAMED_OUTPUTS, {"outputs.py": NAMED_OUTPUTS_PY})

    result = completed(built.run("all", rows=[1, 2, 3, 4, 5, 6], ratio=0.5))

    assert result == {"ml.score": [6, 4, 5, 6], "t.use": "ababab"}


# 10. The process executor ------------------------------------------------------

EXECUTORS = """\
version = 1

[[operations]]
name = "e.in_thread"
call = "pids:in_thread"
returns = "int"

[[operations]]
name = "e.in_process"
call = "pids:in_process"
executor = "process"
returns = "list[int]"
"""

EXECUTORS_PY = """\
import os


def in_thread() -> int:
    return os.getpid()


def in_process() -> list[int]:
    return [os.getpid(), os.getppid()]
"""


def test_process_executor_runs_in_another_process(project) -> None:
    built = project(EXECUTORS, {"pids.py": EXECUTORS_PY})

    result = completed(built.run("e"))

    thread_pid = result["e.in_thread"]
    process_pid, parent_pid = result["e.in_process"]
    assert process_pid != thread_pid
    # The worker is a child of the process that runs the flow (and its threads).
    assert parent_pid == thread_pid


# 11. Flow parameters are checked by Prefect -------------------------------------

PARAMETERS = """\
version = 1

[[operations]]
name = "v.first"
call = "params:first"
params = { n = "int", m = "int", workdir = "str" }
returns = "list[str]"
"""

PARAMETERS_PY = """\
from pathlib import Path


def first(n: int, m: int, workdir: str) -> list[str]:
    (Path(workdir) / "first-ran").write_text("yes")
    return [repr(n), repr(m)]
"""


def test_flow_parameters_are_validated_and_coerced(project, tmp_path: Path) -> None:
    built = project(PARAMETERS, {"params.py": PARAMETERS_PY})
    workdir = tmp_path / "work"
    workdir.mkdir()

    wrong = built.run("v", n="abc", m="4", workdir=str(workdir))
    assert wrong.code == 1, wrong.stderr
    assert (
        error_line(wrong)
        == "error: flow `v` failed: ParameterTypeError: Flow run received invalid parameters:"
    )
    assert "n: Input should be a valid integer" in wrong.stderr
    assert not (workdir / "first-ran").exists()

    # `3` is read as JSON; `"4"` is a JSON string that Prefect turns into an int.
    right = built.run("v", n="3", m='"4"', workdir=str(workdir))
    assert completed(right) == ["3", "4"]
    assert (workdir / "first-ran").exists()


# 12. The runner's usage errors --------------------------------------------------

RUNNER = """\
version = 1

[[operations]]
name = "a.one"
call = "runner:one"
params = { n = "int" }
returns = "int"

[[operations]]
name = "b.two"
call = "runner:two"
returns = "int"
"""

RUNNER_PY = """\
def one(n: int) -> int:
    return n


def two() -> int:
    return 2
"""


def test_runner_rejects_an_unknown_flow_or_parameter(project) -> None:
    built = project(RUNNER, {"runner.py": RUNNER_PY})

    unknown_flow = built.run("nope")
    assert unknown_flow.code == 2, unknown_flow.stderr
    assert "no flow named `nope`" in unknown_flow.stderr
    assert "a, all, b" in unknown_flow.stderr

    unknown_param = built.run("a", n=1, colour="red")
    assert unknown_param.code == 2, unknown_param.stderr
    assert "`colour` is not a parameter of `a`" in unknown_param.stderr
    assert unknown_param.stdout == ""


# Bugs found by these tests ------------------------------------------------------

TUPLE_OUTPUTS = """\
version = 1

[[operations]]
name = "t.pair"
call = "tuples:pair"
outputs = { index = "int", count = "int" }

[[operations]]
name = "t.use"
call = "tuples:use"
params = { index = "int", count = "int" }
depends_on = ["t.pair"]
returns = "list[int]"
"""

TUPLE_OUTPUTS_PY = """\
def pair() -> tuple[int, int]:
    return 5, 7


def use(index: int, count: int) -> list[int]:
    return [index, count]
"""


def test_tuple_outputs_named_like_tuple_methods(project) -> None:
    built = project(TUPLE_OUTPUTS, {"tuples.py": TUPLE_OUTPUTS_PY})

    assert completed(built.run("t")) == [5, 7]


MISSING_OUTPUT = """\
version = 1

[[operations]]
name = "k.split"
call = "missing:split"
outputs = { train = "list[int]", test = "list[int]" }

[[operations]]
name = "k.fit"
call = "missing:fit"
params = { test = "list[int]" }
depends_on = ["k.split"]
returns = "int"
"""

MISSING_OUTPUT_PY = """\
def split() -> dict[str, list[int]]:
    return {"train": [1, 2]}  # no "test"


def fit(test: list[int]) -> int:
    return len(test)
"""


def test_missing_named_output_names_the_operation(project) -> None:
    built = project(MISSING_OUTPUT, {"missing.py": MISSING_OUTPUT_PY})

    run = built.run("k")

    assert run.code == 1, run.stderr
    assert error_line(run).startswith("error: operation `k.split"), run.stderr


OPTIONAL_TEXT = """\
version = 1

[[operations]]
name = "s.echo"
call = "echo:echo"
params = { tag = "str | None" }
returns = "str | None"
"""

OPTIONAL_TEXT_PY = """\
def echo(tag: str | None) -> str | None:
    return tag
"""


def test_optional_text_parameter_that_looks_like_a_number(project) -> None:
    built = project(OPTIONAL_TEXT, {"echo.py": OPTIONAL_TEXT_PY})

    assert completed(built.run("s", tag="123")) == "123"


# 13. The same Python process runs flows again and again -------------------------

SUBMIT_FAILS = """\
version = 1

[[operations]]
name = "f.first"
call = "submit_fails:first"
returns = "int"

[[operations]]
name = "f.second"
call = "submit_fails:second"
params = { n = "int" }
returns = "int"
"""

# `second` takes no `n`: its submit fails (Prefect binds the arguments), after
# `first` was submitted and before the flow reaches `outcome`.
SUBMIT_FAILS_PY = """\
def first() -> int:
    return 1


def second() -> int:
    return 2
"""

AGAIN_AND_AGAIN = """\
import json
import sys

sys.path.insert(0, "run_cache")
import orchestration  # noqa: E402
from orchestration import _runtime  # noqa: E402

errors = []
for _ in range(2):
    try:
        orchestration.FLOWS["f"](n=1)
    except Exception as error:  # noqa: BLE001
        errors.append(type(error).__name__)
kept = {
    "futures": {str(run): len(futures) for run, futures in _runtime._submitted.items()},
    "runs": [str(run) for run in _runtime._runs],
}
print(json.dumps({"errors": errors, "kept": kept}))
"""


def test_a_flow_failing_before_its_outcome_keeps_nothing(project) -> None:
    built = project(SUBMIT_FAILS, {"submit_fails.py": SUBMIT_FAILS_PY})

    done = subprocess.run(
        [sys.executable, "-c", AGAIN_AND_AGAIN],
        cwd=built.root,
        env={**os.environ, "PREFECT_API_URL": built.api},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert json.loads(last) == {
        "errors": ["ParameterBindError"] * 2,
        "kept": {"futures": {}, "runs": []},
    }


# 14. Tasks and flows pickle for a process that cannot import the package ----------

PICKLED = """\
version = 1

[flows.x]
task_runner = "process"

[[operations]]
name = "x.split"
call = "work_split:split"
params = { n = "int" }
outputs = { low = "int", high = "int" }

[[operations]]
name = "x.crunch"
call = "work_split:crunch"
executor = "process"
params = { low = "int", high = "int" }
depends_on = ["x.split"]
returns = "int"
"""

PICKLED_PY = """\
def split(n: int) -> dict[str, int]:
    return {"low": n, "high": n * 10}


def crunch(low: int, high: int) -> int:
    return sum(range(low, high))
"""

# As a process worker does: the flow loaded from its file (a package named
# after the file), pickled while a run of it is in progress.
PICKLE_FROM_FILE = """\
import sys
import threading

import cloudpickle
from prefect.flows import load_flow_from_entrypoint

flow = load_flow_from_entrypoint("run_cache/orchestration/x.py:x_flow")
runtime = next(m for n, m in sys.modules.items() if n.endswith("._runtime"))
runtime._submitted["a run"] = [("x.split", threading.Lock())]
tasks = {n: v for n, v in flow.fn.__globals__.items() if n.endswith("_task")}
sys.stdout.buffer.write(cloudpickle.dumps((flow, tasks)))
"""

# A fresh process elsewhere, with only the operations' modules on its path.
UNPICKLE_ELSEWHERE = """\
import json
import pickle
import sys

from prefect import Task

import work_split

flow, tasks = pickle.loads(sys.stdin.buffer.read())
print(json.dumps({
    "flow": flow.name,
    "tasks": sorted(n for n, t in tasks.items() if type(t) is Task),
    "crunch is the function": tasks["x_crunch_task"].fn is work_split.crunch,
    "high": tasks["x_split_high_task"].fn({"low": 3, "high": 30}, "high", 1),
    "crunch": tasks["x_crunch_task"].fn(3, 30),
    "package imported": [
        n for n in sys.modules if n == "x" or n.startswith(("x.", "orchestration"))
    ],
}))
"""


def test_tasks_and_flows_pickle_for_a_process_without_the_package(
    project, tmp_path: Path
) -> None:
    built = project(PICKLED, {"work_split.py": PICKLED_PY})
    env = {"PYTHONPATH": str(built.root)}
    pickled = subprocess.run(
        [sys.executable, "-c", PICKLE_FROM_FILE],
        cwd=built.root,
        env={**os.environ, **env},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert pickled.returncode == 0, pickled.stderr.decode()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    loaded = subprocess.run(
        [sys.executable, "-c", UNPICKLE_ELSEWHERE],
        cwd=elsewhere,
        env={**os.environ, **env},
        input=pickled.stdout,
        capture_output=True,
        timeout=120,
        check=False,
    )

    assert loaded.returncode == 0, loaded.stderr.decode()
    assert json.loads(loaded.stdout) == {
        "flow": "x",
        "tasks": [
            "x_crunch_task",
            "x_split_high_task",
            "x_split_low_task",
            "x_split_task",
        ],
        "crunch is the function": True,
        "high": 30,
        "crunch": 432,
        "package imported": [],
    }
