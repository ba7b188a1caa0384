"""Faults at run time: a timed-out async operation, Ctrl-C during `opflow run`,
and the local Prefect server dying mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import OPFLOW

NAPS = """\
import asyncio


async def nap(seconds: float) -> int:
    await asyncio.sleep(seconds)
    return 1


def after(nap: int) -> int:
    return nap + 1
"""

MANIFEST = """\
version = 1

[[operations]]
name = "slow.nap"
call = "naps:nap"
async = true
params = {{ seconds = "float" }}
returns = "int"
{timeout}

[[operations]]
name = "slow.after"
call = "naps:after"
params = {{ nap = "int" }}
returns = "int"
"""


@pytest.fixture
def slow(tmp_path: Path):
    """A project of two operations, the first sleeping; and opflow's env."""

    def make(timeout: str = "") -> tuple[Path, dict[str, str]]:
        (tmp_path / "operations.toml").write_text(MANIFEST.format(timeout=timeout))
        (tmp_path / "naps.py").write_text(NAPS)
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env["OPFLOW_DATA_DIR"] = str(tmp_path / "data")
        env["OPFLOW_CACHE_DIR"] = str(tmp_path / "cache")
        return tmp_path, env

    yield make
    env = {**os.environ, "OPFLOW_DATA_DIR": str(tmp_path / "data")}
    subprocess.run([str(OPFLOW), "server", "stop"], env=env, check=False)


def run(root: Path, env: dict[str, str], seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            str(OPFLOW),
            "run",
            "--python",
            sys.executable,
            "--param",
            f"seconds={seconds}",
        ],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_line(process: subprocess.Popen[str], text: str, limit: float) -> str:
    """Read stderr until `text` shows up; returns what was read."""
    assert process.stderr is not None
    seen = ""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen += line
        if text in line:
            return seen
    raise AssertionError(f"no {text!r} within {limit} s:\n{seen}")


def group_alive(pgid: int) -> list[str]:
    done = subprocess.run(
        ["pgrep", "-g", str(pgid)], capture_output=True, text=True, check=False
    )
    return done.stdout.split()


def test_async_operation_times_out_and_is_named(slow) -> None:
    root, env = slow(timeout="timeout_seconds = 1")
    start = time.monotonic()
    process = run(root, env, 30)
    _, err = process.communicate(timeout=240)
    assert process.returncode == 1, err
    assert "operation `slow.nap` failed" in err
    assert "timed out" in err.lower() or "timeout" in err.lower()
    assert "failed at `slow.nap`" in err
    # The server start is in there too; the operation itself stopped after 1 s.
    assert time.monotonic() - start < 120


def test_ctrl_c_cancels_the_run_and_leaves_no_process(slow) -> None:
    root, env = slow()
    process = run(root, env, 60)
    wait_for_line(process, "Beginning flow run", 240)
    os.killpg(process.pid, signal.SIGINT)
    time.sleep(1)
    os.killpg(process.pid, signal.SIGINT)
    _, rest = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "cancelling: waiting for the running operations" in rest
    assert "flow `slow` cancelled" in rest
    time.sleep(0.5)
    assert group_alive(process.pid) == []


def test_server_killed_mid_run_then_the_next_run_recovers(slow) -> None:
    root, env = slow()
    process = run(root, env, 20)
    wait_for_line(process, "Beginning flow run", 240)
    state = json.loads((root / "data" / "server" / "state.json").read_text())
    os.killpg(state["pid"], signal.SIGKILL)
    _, err = process.communicate(timeout=240)
    assert process.returncode == 1, err
    assert "flow `slow` failed" in err
    # Said last, after the summary, as a diagnostic with its code.
    summary = err.rindex("flow `slow` failed")
    assert "opflow::runtime::server" in err[summary:], err
    assert "the local Prefect server stopped during the run" in err[summary:], err
    again = run(root, env, 0.1)
    out, err = again.communicate(timeout=240)
    assert again.returncode == 0, err
    assert "starting a local Prefect server" in err
    assert json.loads(out) == 2
