"""Fixtures for the Python tests: the opflow binary, a real Prefect server on
loopback for the whole session, and throwaway projects built with opflow."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPFLOW = Path(os.environ.get("OPFLOW_BIN", ROOT / "target" / "debug" / "opflow"))
PREFECT = Path(sys.executable).parent / "prefect"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prefect server on 127.0.0.1 for the session; stopped at the end."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": url,
    }
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(
                    "Prefect server did not start:\n"
                    + (home / "server.log").read_text()
                )
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@dataclass
class Run:
    """A finished `python -m <package> FLOW` run."""

    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def result(self) -> object:
        assert self.code == 0, f"run failed ({self.code}):\n{self.stderr}"
        return json.loads(self.stdout)


@dataclass
class Project:
    """A folder with a manifest and Python modules, built by opflow."""

    root: Path
    api: str
    manifest: str = "operations.toml"
    output: str = "run_cache/orchestration"

    def opflow(
        self, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(OPFLOW), *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
        )
        if check:
            assert done.returncode == 0, (
                f"opflow {' '.join(args)} failed:\n{done.stderr}"
            )
        return done

    def build(self) -> Path:
        self.opflow("build", self.manifest)
        return self.root / self.output

    def run(self, flow: str, timeout: float = 300, **params: object) -> Run:
        """Run a flow of the built package with `python -m`, as a user would."""
        package = self.root / self.output
        args = [sys.executable, "-m", package.name, flow]
        for name, value in params.items():
            text = value if isinstance(value, str) else json.dumps(value)
            args += ["--param", f"{name}={text}"]
        env = {
            **os.environ,
            "PREFECT_API_URL": self.api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
        start = time.monotonic()
        done = subprocess.run(
            args,
            cwd=package.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - start)


@pytest.fixture
def project(tmp_path: Path, prefect_api: str):
    """Make a project: `project(manifest_text, {"module.py": source, ...})`."""

    def make(manifest: str, modules: dict[str, str] | None = None) -> Project:
        (tmp_path / "operations.toml").write_text(manifest)
        for name, source in (modules or {}).items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source)
        built = Project(tmp_path, prefect_api)
        built.build()
        return built

    return make


@pytest.fixture
def example(tmp_path: Path, prefect_api: str):
    """A copy of an example of `examples/`, built."""

    def make(name: str) -> Project:
        root = tmp_path / name
        shutil.copytree(
            ROOT / "examples" / name,
            root,
            ignore=shutil.ignore_patterns("run_cache", "__pycache__"),
        )
        built = Project(root, prefect_api)
        built.build()
        return built

    return make
