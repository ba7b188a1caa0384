"""`opflow init` makes a project that runs at once, and whose manifest is what
`opflow scan` writes from its module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import OPFLOW


def test_init_then_run_and_scan(tmp_path: Path, prefect_api: str) -> None:
    project = tmp_path / "hello"
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    env["OPFLOW_CACHE_DIR"] = str(tmp_path / "cache")

    def opflow(*args: str, cwd: Path = project) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(OPFLOW), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    done = opflow("init", str(project), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    done = opflow("run", "--python", sys.executable, "--param", "name=World", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout == '"HELLO, WORLD!"\n'
    assert "Traceback" not in done.stderr
    scan = ("scan", "steps", "--python", sys.executable, "-o", "operations.toml")
    done = opflow(*scan, "--check")
    assert done.returncode == 0, done.stderr
