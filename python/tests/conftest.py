"""Fixtures: throwaway Python packages to scan, imported in this process and
forgotten afterwards, and the shim's command line run as a user runs it."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from opflow import _manifest, _scan

SRC = Path(__file__).resolve().parents[1] / "src"


class Code:
    """A folder of modules on `sys.path`; `scan()` and `manifest()` read them."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, files: dict[str, str]) -> Code:
        for name, text in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
        importlib.invalidate_caches()
        return self

    def path(self, name: str) -> str:
        """How refusals name a file of this folder (relative to the working folder)."""
        return _scan.display_path(str(self.root / name))

    def scan(self, *modules: str) -> _scan.ScanResult:
        return _scan.scan(list(modules))

    def refusals(self, *modules: str) -> list[str]:
        return [str(refusal) for refusal in self.scan(*modules).refusals]

    def operations(self, *modules: str) -> dict[str, dict[str, Any]]:
        """Operation name → the data the manifest writes; fails on refusals."""
        result = self.scan(*modules)
        assert not result.refusals, "\n".join(map(str, result.refusals))
        return {op.name: _manifest.operation_data(op) for op in result.operations}

    def manifest(
        self, *modules: str, fmt: str = "toml", existing: str | None = None
    ) -> str:
        result = self.scan(*modules)
        assert not result.refusals, "\n".join(map(str, result.refusals))
        return _manifest.write(result.operations, fmt, existing).text


@pytest.fixture
def code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Code]:
    """Modules written into a temporary folder, importable for this test only."""
    root = tmp_path / "code"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)
    yield Code(root)
    for name in set(sys.modules) - before:
        del sys.modules[name]


@pytest.fixture
def shim():
    """Run `python -m opflow ARGS...`: `shim("scan", "pkg", cwd=folder)`."""
    return run_shim


def run_shim(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m opflow ARGS...` in `cwd`, with this checkout's package importable."""
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(SRC), *filter(None, [environment.get("PYTHONPATH")])]
    )
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "opflow", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
