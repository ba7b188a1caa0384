"""The scraping example carries the decorators; its committed manifests are
exactly what `python -m opflow scan jobs` writes into them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scraping"


@pytest.mark.parametrize("name", ["operations.toml", "operations.yaml"])
def test_scan_reproduces_the_committed_manifest(
    tmp_path: Path, shim, name: str
) -> None:
    committed = (EXAMPLE / name).read_bytes()
    copy = tmp_path / name
    shutil.copyfile(EXAMPLE / name, copy)

    done = shim("scan", "jobs", "--path", str(EXAMPLE), "-o", str(copy), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stderr == f"wrote `{copy}`: 3 operations\n"
    assert copy.read_bytes() == committed


def test_committed_manifests_are_fresh(shim) -> None:
    for name in ["operations.toml", "operations.yaml"]:
        done = shim("scan", "jobs", "-o", name, "--check", cwd=EXAMPLE)
        assert done.returncode == 0, done.stderr


def test_scan_from_nothing_writes_only_the_operations(tmp_path: Path, shim) -> None:
    done = shim("scan", "jobs", "--path", str(EXAMPLE), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    committed = (EXAMPLE / "operations.toml").read_text()
    operations = committed[committed.index("[[operations]]") :]
    assert done.stdout == "#:schema opflow.schema.json\nversion = 1\n\n" + operations
