"""opflow as a user installs it: the wheel (`pyproject.toml`, built by maturin
once per session with Cargo.toml's `dist` profile) installed into a fresh
virtualenv, and used from there with a PATH that holds no Rust toolchain.
The binary, the wheel and the Python package carry Cargo.toml's version."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import OPFLOW, ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

MATURIN = Path(sys.executable).parent / "maturin"
EXAMPLE = ROOT / "examples" / "scraping"
VERSION = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]
MAX_BINARY_BYTES = 25 * 1024 * 1024


@dataclass
class Installed:
    """A fresh virtualenv with the wheel installed, and the environment a user
    who activated it would have, minus any Rust toolchain."""

    wheel: Path
    venv: Path
    env: dict[str, str]

    @property
    def opflow(self) -> Path:
        return self.venv / "bin" / "opflow"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run(self, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(arg) for arg in args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built once with `maturin build` (cargo's target folder is
    the checkout's, so a rebuild compiles only what changed)."""
    out = tmp_path_factory.mktemp("wheelhouse")
    done = subprocess.run(
        [str(MATURIN), "build", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"maturin build failed:\n{done.stderr}"
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert pip.returncode == 0, f"pip install failed:\n{pip.stderr}"
    path = os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"])
    for tool in ["cargo", "rustc", "rustup"]:
        assert shutil.which(tool, path=path) is None, f"{tool} is on {path}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "OPFLOW_PYTHON", "CARGO_HOME", "RUSTUP_HOME"}
    }
    env.update(
        PATH=path,
        VIRTUAL_ENV=str(venv),
        OPFLOW_CACHE_DIR=str(root / "cache"),
        OPFLOW_DATA_DIR=str(root / "data"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return Installed(wheel, venv, env)


def example_copy(folder: Path) -> Path:
    copy = folder / "scraping"
    shutil.copytree(
        EXAMPLE, copy, ignore=shutil.ignore_patterns("run_cache", "__pycache__")
    )
    return copy


def test_the_wheel_carries_cargo_tomls_version(installed: Installed) -> None:
    assert installed.wheel.name.startswith(f"opflow-{VERSION}-")
    with zipfile.ZipFile(installed.wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(f"opflow-{VERSION}.dist-info/METADATA").decode()
    assert f"opflow-{VERSION}.data/scripts/opflow" in names
    assert "opflow/__init__.py" in names
    assert f"\nVersion: {VERSION}\n" in metadata
    requires = [
        line.removeprefix("Requires-Dist: ")
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist: ")
    ]
    unconditional = [req for req in requires if ";" not in req]
    assert [req.split(">=")[0] for req in unconditional] == ["tomli-w"]
    assert [req.split(">=")[0] for req in requires if ";" in req] == ["tomli"]

    done = installed.run(installed.opflow, "--version", cwd=installed.venv)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"opflow {VERSION}\n"

    done = installed.run(
        installed.python,
        "-c",
        "import importlib.metadata, opflow; "
        "print(importlib.metadata.version('opflow'), opflow.__version__, opflow.__file__)",
        cwd=installed.venv,
    )
    assert done.returncode == 0, done.stderr
    wheel_version, package_version, location = done.stdout.split()
    assert (wheel_version, package_version) == (VERSION, VERSION)
    assert Path(location).is_relative_to(installed.venv)


def test_python_m_opflow_reaches_the_binary(installed: Installed) -> None:
    binary = installed.run(installed.opflow, "--version", cwd=installed.venv)
    done = installed.run(
        installed.python, "-m", "opflow", "--version", cwd=installed.venv
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == binary.stdout == f"opflow {VERSION}\n"

    # Found beside the interpreter, not through PATH; the exit code comes back.
    env = {**installed.env, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(installed.python), "-m", "opflow", "frobnicate"],
        cwd=installed.venv,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "unrecognized subcommand 'frobnicate'" in done.stderr


def test_from_opflow_import_operation(installed: Installed, tmp_path: Path) -> None:
    (tmp_path / "ops.py").write_text(
        "from opflow import get_operation, operation\n\n\n"
        '@operation(name="a.b", retries=2)\n'
        "def b(x: int) -> int:\n"
        "    return x + 1\n\n\n"
        "print(b(1), get_operation(b).name)\n"
    )
    done = installed.run(installed.python, "ops.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2 a.b\n"


def test_the_installed_binary_builds_the_example(
    installed: Installed, tmp_path: Path
) -> None:
    mine = example_copy(tmp_path / "installed")
    reference = example_copy(tmp_path / "checkout")

    done = installed.run(installed.opflow, "build", "operations.toml", cwd=mine)
    assert done.returncode == 0, done.stderr
    subprocess.run(
        [str(OPFLOW), "build", "operations.toml"],
        cwd=reference,
        capture_output=True,
        check=True,
    )

    package = mine / "run_cache" / "orchestration"
    files = sorted(path.relative_to(package) for path in package.rglob("*"))
    assert Path("scraping.py") in files
    expected = reference / "run_cache" / "orchestration"
    assert files == sorted(path.relative_to(expected) for path in expected.rglob("*"))
    for name in files:
        if (package / name).is_file():
            assert (package / name).read_bytes() == (expected / name).read_bytes()
    done = installed.run(
        installed.opflow, "build", "operations.toml", "--check", cwd=mine
    )
    assert done.returncode == 0, done.stderr


def test_scan_round_trips_the_example(installed: Installed, tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    committed = (root / "operations.toml").read_bytes()

    # The binary's `scan` runs the scanner in the activated virtualenv's Python.
    done = installed.run(
        installed.opflow, "scan", "jobs", "-o", "operations.toml", cwd=root
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "wrote `operations.toml`: 3 operations\n"
    assert (root / "operations.toml").read_bytes() == committed

    # `python -m opflow scan`, the command opflow's hints name.
    def check(name: str) -> subprocess.CompletedProcess[str]:
        args = ["-m", "opflow", "scan", "jobs", "-o", name, "--check"]
        return installed.run(installed.python, *args, cwd=root)

    for name in ["operations.toml", "operations.yaml"]:
        done = check(name)
        assert done.returncode == 0, done.stderr
    (root / "operations.yaml").write_text("version: 1\n")
    done = check("operations.yaml")
    assert done.returncode == 1
    assert "`operations.yaml` is stale" in done.stderr


def test_the_installed_binary_is_small(installed: Installed) -> None:
    size = installed.opflow.stat().st_size
    assert size <= MAX_BINARY_BYTES, f"{size / 2**20:.1f} MiB"
