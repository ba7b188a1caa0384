"""End to end: a flow's deployment settings (`[flows.X.deploy]`) as Prefect
sees them, through `opflow serve` and through `prefect deploy` of the
generated `prefect.yaml`.

Both use the session's Prefect server (conftest's `prefect_api`), so no other
server starts; `serve` and every process a test starts bind 127.0.0.1 and are
stopped by the test."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import OPFLOW, _free_port
from test_run import (
    DASK_PY,
    Opflow,
    api_call,
    create_process_pool,
    prefect_cli,
    start_background,
    stop_background,
    wait_for_deployment,
    write_project,
)


@pytest.fixture(scope="module")
def deployer(
    prefect_api: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Opflow]:
    """opflow pointed at the session's Prefect server."""
    root = tmp_path_factory.mktemp("opflow-deploy")
    yield Opflow(
        root / "data",
        root / "cache",
        extra={
            "PREFECT_API_URL": prefect_api,
            # `serve` looks for scheduled runs every 2 s rather than 10.
            "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        },
    )


def completed_runs(api: str, deployment: str) -> list[dict]:
    runs = api_call(
        api,
        "POST",
        "/flow_runs/filter",
        {
            "flow_runs": {
                "deployment_id": {"any_": [deployment]},
                "state": {"type": {"any_": ["COMPLETED"]}},
            }
        },
    )
    assert isinstance(runs, list)
    return runs


TICKS = """\
version = 1

[flows.ticks.deploy]
schedules = [
  {{ interval_seconds = 2, parameters = {{ out = "{out}" }} }},
  {{ cron = "0 6 * * 1-5", timezone = "Europe/Berlin", active = false, parameters = {{ out = "{out}", label = "cron" }} }},
]
concurrency_limit = 1
tags = ["prod"]

[[operations]]
name = "ticks.tick"
call = "tick_ops:tick"
params = {{ out = "str", label = {{ type = "str", default = "tick" }} }}
returns = "str"
"""

TICK_PY = """\
from pathlib import Path


def tick(out: str, label: str = "tick") -> str:
    with Path(out).open("a") as file:
        file.write(label + "\\n")
    return label
"""


def test_serve_runs_the_schedules_with_their_parameters(
    deployer: Opflow, prefect_api: str, tmp_path: Path
) -> None:
    out = tmp_path / "ticks.txt"
    root = write_project(
        tmp_path / "ticking",
        TICKS.format(out=out),
        {"tick_ops.py": TICK_PY},
    )
    log = tmp_path / "serve.log"
    argv = [str(OPFLOW), "serve", "--python", sys.executable]
    serve = start_background(argv, root, deployer.env, log)
    try:
        deployment = wait_for_deployment(prefect_api, "ticks/ticks", serve, log)
        schedules = sorted(
            deployment["schedules"], key=lambda s: "cron" in s["schedule"]
        )
        assert [s["schedule"].get("interval") for s in schedules] == [2.0, None]
        assert schedules[0]["active"] is True
        assert schedules[0]["parameters"] == {"out": str(out)}
        cron = schedules[1]
        assert cron["schedule"]["cron"] == "0 6 * * 1-5"
        assert cron["schedule"]["timezone"] == "Europe/Berlin"
        assert cron["active"] is False
        assert cron["parameters"] == {"out": str(out), "label": "cron"}
        assert deployment["tags"] == ["prod"]
        assert deployment["global_concurrency_limit"]["limit"] == 1

        # The interval schedule starts runs every 2 s, no one asking.
        deadline = time.monotonic() + 120
        while len(completed_runs(prefect_api, deployment["id"])) < 2:
            assert time.monotonic() < deadline, log.read_text()
            assert serve.poll() is None, log.read_text()
            time.sleep(1)
    finally:
        code, _ = stop_background(serve, signal.SIGINT, timeout=30)
    assert code == 0, log.read_text()
    runs = completed_runs(prefect_api, deployment["id"])
    assert all(run["auto_scheduled"] for run in runs), runs
    lines = out.read_text().splitlines()
    assert len(lines) >= 2
    assert set(lines) == {"tick"}, lines


DEPLOYED = """\
version = 1

[project]
name = "shop"

[flows.etl.deploy]
schedules = [
  { cron = "30 5 * * mon-fri", timezone = "America/New_York", parameters = { since = "2024" } },
  { interval_seconds = 900, active = false, parameters = { since = "2025", limit = 5 } },
  { rrule = "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9", parameters = { since = "2026" } },
]
concurrency_limit = 2
collision_strategy = "cancel_new"
tags = ["prod", "etl"]
work_queue = "nightly"
job_variables = { env = { LOG_LEVEL = "debug" } }

[[operations]]
name = "etl.load"
call = "shop_ops:load"
params = { since = "str", limit = { type = "int", default = 10 } }
returns = "str"
"""


def test_prefect_yaml_deploys_the_schedules_and_limits(
    deployer: Opflow, prefect_api: str, tmp_path: Path
) -> None:
    root = write_project(
        tmp_path / "deployed",
        DEPLOYED,
        {
            "shop_ops.py": "def load(since: str, limit: int = 10) -> str:\n    return since\n"
        },
    )
    built = deployer("build", cwd=root)
    assert built.code == 0, str(built)
    env = {**deployer.env, "PREFECT_HOME": str(tmp_path / "prefect-home")}

    create_process_pool(root, env)
    deploy = prefect_cli(
        root,
        env,
        "--no-prompt",
        "deploy",
        "--name",
        "etl",
        "--prefect-file",
        "run_cache/orchestration/prefect.yaml",
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr

    deployment = api_call(prefect_api, "GET", "/deployments/name/etl/etl")
    assert isinstance(deployment, dict)
    by_kind = {
        next(k for k in ("cron", "interval", "rrule") if s["schedule"].get(k)): s
        for s in deployment["schedules"]
    }
    assert by_kind["cron"]["schedule"]["cron"] == "30 5 * * mon-fri"
    assert by_kind["cron"]["schedule"]["timezone"] == "America/New_York"
    assert by_kind["cron"]["parameters"] == {"since": "2024"}
    assert by_kind["cron"]["active"] is True
    assert by_kind["interval"]["schedule"]["interval"] == 900.0
    assert by_kind["interval"]["active"] is False
    assert by_kind["interval"]["parameters"] == {"since": "2025", "limit": 5}
    # Prefect anchors a rule without a start at 2020-01-01.
    rrule = by_kind["rrule"]["schedule"]["rrule"]
    assert rrule.splitlines()[-1] == "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9", rrule
    assert deployment["global_concurrency_limit"]["limit"] == 2
    assert deployment["concurrency_options"] == {
        "collision_strategy": "CANCEL_NEW",
        "grace_period_seconds": None,
    }
    assert sorted(deployment["tags"]) == ["etl", "prod"]
    assert deployment["work_queue_name"] == "nightly"
    assert deployment["job_variables"]["env"] == {
        "PYTHONPATH": ".",
        "LOG_LEVEL": "debug",
    }


LAYERS = """\
version = 1

[presets.nightly]
b = "preset"
c = "preset"
d = "preset"

[[operations]]
name = "layers.show"
call = "layer_ops:show"
params = { a = { type = "str", default = "default" }, b = { type = "str", default = "default" }, c = { type = "str", default = "default" }, d = { type = "str", default = "default" }, n = { type = "int", default = 0 } }
returns = "dict[str, object]"
"""

LAYER_PY = """\
def show(a: str, b: str, c: str, d: str, n: int) -> dict[str, object]:
    return {"a": a, "b": b, "c": c, "d": d, "n": n}
"""


def test_preset_file_and_param_combine_in_order(
    deployer: Opflow, tmp_path: Path
) -> None:
    root = write_project(tmp_path / "layers", LAYERS, {"layer_ops.py": LAYER_PY})
    (root / "params.yaml").write_text("c: file\nd: file\nn: 3\n")
    done = deployer(
        "run",
        "layers",
        "--preset",
        "nightly",
        "--params-file",
        "params.yaml",
        "--param",
        "d=param",
        cwd=root,
    )
    assert done.code == 0, str(done)
    assert done.result == {
        "a": "default",
        "b": "preset",
        "c": "file",
        "d": "param",
        "n": 3,
    }

    # A file that does not fit the flow is refused, at its line, before
    # anything is built or Python starts; so is a preset the manifest does
    # not have.
    shutil.rmtree(root / "run_cache")
    (root / "bad.toml").write_text('c = "file"\nn = "three"\nf = 1\n')
    bad = deployer("run", "layers", "--params-file", "bad.toml", cwd=root)
    assert bad.code == 2, str(bad)
    assert "bad.toml:2:5" in bad.stderr, bad.stderr
    assert "opflow::deploy::parameter_type_mismatch" in bad.stderr, bad.stderr
    assert "bad.toml:3:1" in bad.stderr, bad.stderr
    assert "opflow::deploy::unknown_parameter" in bad.stderr, bad.stderr
    missing = deployer("run", "layers", "--preset", "nigthly", cwd=root)
    assert missing.code == 2, str(missing)
    assert "did you mean `nightly`?" in missing.stderr, missing.stderr
    assert not (root / "run_cache").exists()


RULED = """\
version = 1

[[operations]]
name = "ruled.pick"
call = "ruled_ops:pick"
params = { pages = { type = "int", default = 2, ge = 1 }, region = { type = "str", default = "eu", choices = ["eu", "us"] } }
returns = "str"
"""

RULED_PY = """\
def pick(pages: int, region: str) -> str:
    return f"{region}:{pages}"
"""


def test_parameter_rules_are_checked_before_python_and_by_prefect(
    deployer: Opflow, tmp_path: Path
) -> None:
    root = write_project(tmp_path / "ruled", RULED, {"ruled_ops.py": RULED_PY})
    done = deployer(
        "run", "ruled", "--param", "pages=3", "--param", "region=us", cwd=root
    )
    assert done.result == "us:3"

    shutil.rmtree(root / "run_cache")
    for param, rule in [("pages=0", "`ge = 1`"), ("region=mars", "`choices`")]:
        refused = deployer("run", "ruled", "--param", param, cwd=root)
        assert refused.code == 2, str(refused)
        assert "opflow::runtime::param_rule" in refused.stderr, refused.stderr
        assert rule in refused.stderr, refused.stderr
        assert not (root / "run_cache").exists()
    # From a parameters file, at the value's line.
    (root / "p.yaml").write_text("region: us\npages: 0\n")
    refused = deployer("run", "ruled", "--params-file", "p.yaml", cwd=root)
    assert refused.code == 2, str(refused)
    assert "p.yaml:2:8" in refused.stderr, refused.stderr
    assert "opflow::deploy::parameter_breaks_rule" in refused.stderr, refused.stderr
    assert "`ge = 1`" in refused.stderr, refused.stderr
    assert not (root / "run_cache").exists()

    # The flow's signature carries the rules: a run that does not go through
    # opflow's check (the package's own runner) is refused by Prefect.
    assert deployer("build", cwd=root).code == 0
    for param in ("pages=0", "region=mars"):
        direct = subprocess.run(
            [sys.executable, "-m", "orchestration", "ruled", "--param", param],
            cwd=root / "run_cache",
            env=deployer.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert direct.returncode != 0, direct.stdout + direct.stderr
        assert "ParameterTypeError" in direct.stderr, direct.stderr


LIMITED = "version = 1\n\n[limits.scarce]\nconcurrency = 2\n" + "".join(
    f"""
[[operations]]
name = "limited.op{i}"
call = "limited_ops:hold"
limits = ["scarce"]
returns = "list[float]"
"""
    for i in range(6)
)

LIMITED_PY = """\
import time


def hold() -> list[float]:
    start = time.time()
    time.sleep(0.6)
    return [start, time.time()]
"""


def test_a_shared_limit_bounds_operations_across_the_flow(
    deployer: Opflow, prefect_api: str, tmp_path: Path
) -> None:
    root = write_project(tmp_path / "limited", LIMITED, {"limited_ops.py": LIMITED_PY})
    done = deployer("run", "limited", cwd=root)
    assert done.code == 0, str(done)
    spans = sorted(done.result.values())
    assert len(spans) == 6
    # At every start, how many operations were running (itself included).
    most = max(sum(s <= start < e for s, e in spans) for start, _ in spans)
    assert most == 2, spans
    limit = api_call(prefect_api, "GET", "/v2/concurrency_limits/scarce")
    assert isinstance(limit, dict)
    assert limit["limit"] == 2


# The operations hold a shared limit: the wrapper that holds it travels to
# the workers with them.
CLUSTERED = """\
version = 1

[limits.cluster]
concurrency = 2

[defaults]
limits = ["cluster"]

[flows.d.dask]
address = "tcp://127.0.0.1:{port}"
""" + "".join(
    f"""
[[operations]]
name = "{flow}.{step}"
call = "pid_ops:{step}"
returns = "int"
"""
    for flow in ("d", "t")
    for step in ("a", "b", "c", "e")
)


def test_flows_run_on_a_dask_cluster_at_its_address(
    deployer: Opflow, tmp_path: Path
) -> None:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    root = write_project(
        tmp_path / "clustered", CLUSTERED.format(port=port), {"pid_ops.py": DASK_PY}
    )
    built = deployer("build", cwd=root)
    assert built.code == 0, str(built)
    # The scheduler and every worker import the operations' modules and
    # the generated package (the tasks are pickled by reference).
    env = {**deployer.env, "PYTHONPATH": f"{root}:{root / 'run_cache'}"}
    dask = str(Path(sys.executable).parent / "dask")
    local = ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]
    started = [
        start_background(
            [dask, "scheduler", "--port", str(port), "--no-show", *local],
            root,
            env,
            tmp_path / "scheduler.log",
        )
    ]
    try:
        for i in range(2):
            argv = [dask, "worker", address, "--no-nanny", "--nthreads", "1", *local]
            started.append(
                start_background(argv, root, env, tmp_path / f"worker{i}.log")
            )
        workers = {process.pid for process in started[1:]}
        deadline = time.monotonic() + 120
        for i in range(2):
            log = tmp_path / f"worker{i}.log"
            while "Registered to" not in log.read_text():
                assert time.monotonic() < deadline, log.read_text()
                assert started[i + 1].poll() is None, log.read_text()
                time.sleep(0.5)

        # The manifest's address, and the command line's for another flow.
        for argv in (["d"], ["t", "--task-runner", "dask", "--address", address]):
            done = deployer("run", *argv, cwd=root)
            assert done.code == 0, str(done)
            pids = set(done.result.values())
            assert pids <= workers, (pids, workers)
            assert len(pids) == 2, pids
    finally:
        for process in reversed(started):
            stop_background(process, signal.SIGTERM, timeout=30)
    assert all(process.poll() is not None for process in started)


NUMBERS = """\
version = 1

[flows.nums.deploy]
schedules = [
  { interval_seconds = 0.5, parameters = { ratio = 1e20, small = 1e-7, big = 123456789012345678901234567890 } },
]
tags = ["odd\\uFFFEtag", "plain"]

[[operations]]
name = "nums.show"
call = "num_ops:show"
params = { ratio = "float", small = "float", big = "int", huge = { type = "float", default = 1e300 } }
returns = "float"
"""


def test_prefect_yaml_keeps_floats_big_integers_and_odd_characters(
    deployer: Opflow, tmp_path: Path
) -> None:
    # PyYAML (what `prefect deploy` and `opflow serve` read prefect.yaml
    # with) reads `1e-07` or `1e+20` as strings, and refuses U+FFFE.
    import yaml

    root = write_project(
        tmp_path / "numbers",
        NUMBERS,
        {
            "num_ops.py": "def show(ratio: float, small: float, big: int, huge: float = 1e300) -> float:\n    return ratio\n"
        },
    )
    built = deployer("build", cwd=root)
    assert built.code == 0, str(built)
    loaded = yaml.safe_load(
        (root / "run_cache/orchestration/prefect.yaml").read_text(encoding="utf-8")
    )
    (nums,) = [d for d in loaded["deployments"] if d["name"] == "nums"]
    (schedule,) = nums["schedules"]
    assert schedule["interval"] == 0.5
    assert schedule["parameters"] == {
        "ratio": 1e20,
        "small": 1e-7,
        "big": 123456789012345678901234567890,
    }
    assert isinstance(schedule["parameters"]["ratio"], float)
    assert isinstance(schedule["parameters"]["big"], int)
    assert "odd\ufffetag" in nums["tags"]
    (everything,) = [d for d in loaded["deployments"] if d["name"] == "all"]
    assert everything["parameters"]["huge"] == 1e300
