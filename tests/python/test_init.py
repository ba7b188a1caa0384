"""`opflow init` makes a project that runs at once, and whose manifest is what
`opflow scan` writes from its module."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


def test_watch_rescans_modules_and_rebuilds(tmp_path: Path) -> None:
    project = tmp_path / "hello"
    done = subprocess.run(
        [str(OPFLOW), "init", str(project)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    log = (tmp_path / "watch.log").open("w")
    watcher = subprocess.Popen(
        [
            str(OPFLOW),
            "build",
            "--watch",
            "--scan",
            "steps",
            "--python",
            sys.executable,
        ],
        cwd=project,
        stderr=log,
        stdout=log,
    )
    module = project / "run_cache" / "orchestration" / "_tasks.py"

    def wait_for(text: str) -> None:
        deadline = time.monotonic() + 30
        while text not in (module.read_text() if module.exists() else ""):
            assert time.monotonic() < deadline, (tmp_path / "watch.log").read_text()
            time.sleep(0.1)

    try:
        wait_for("Say hello to someone.")
        steps = project / "steps.py"
        steps.write_text(steps.read_text().replace("Say hello", "Greet"))
        wait_for("Greet to someone.")
        manifest = (project / "operations.toml").read_text()
        assert 'doc = "Greet to someone."' in manifest
    finally:
        watcher.kill()
        watcher.wait()
        log.close()
