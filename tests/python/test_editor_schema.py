"""The committed schema works in real editor tooling: Taplo (the engine of Even
Better TOML) and check-jsonschema (the same JSON Schema rules as
yaml-language-server) accept every example and golden manifest, and both flag a
misspelt field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schema" / "opflow.schema.json"
BIN = Path(sys.executable).parent
MANIFESTS = sorted(
    [
        *(ROOT / "examples").glob("*/operations.*"),
        *(ROOT / "tests" / "build").glob("*/operations.*"),
        *(ROOT / "tests" / "cases").glob("valid-*/operations.*"),
        ROOT / "templates" / "init" / "operations.toml",
    ]
)


def taplo(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "taplo"), "check", "--schema", SCHEMA.as_uri(), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--schemafile", str(SCHEMA), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_there_are_manifests_to_check() -> None:
    assert len(MANIFESTS) >= 10


@pytest.mark.parametrize(
    "manifest", MANIFESTS, ids=[str(m.relative_to(ROOT)) for m in MANIFESTS]
)
def test_manifest_is_valid_for_editor_tooling(manifest: Path) -> None:
    if manifest.suffix == ".toml":
        done = taplo(manifest)
        assert done.returncode == 0, done.stdout + done.stderr
    done = check_jsonschema(manifest)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("suffix", [".toml", ".yaml"])
def test_a_misspelt_field_is_flagged(suffix: str, tmp_path: Path) -> None:
    example = (ROOT / "examples" / "scraping" / f"operations{suffix}").read_text()
    broken = tmp_path / f"operations{suffix}"
    broken.write_text(example.replace("retries", "retires", 1))
    assert "retires" in broken.read_text()
    done = check_jsonschema(broken)
    assert done.returncode == 1
    assert "retires" in done.stdout + done.stderr
    if suffix == ".toml":
        done = taplo(broken)
        assert done.returncode == 1
        assert "'retires' was unexpected" in done.stdout + done.stderr


def test_the_directive_resolves_for_taplo() -> None:
    """Without `--schema`, taplo follows the manifest's own `#:schema` line."""
    manifest = ROOT / "examples" / "scraping" / "operations.toml"
    assert manifest.read_text().startswith("#:schema ../../schema/opflow.schema.json")
    done = subprocess.run(
        [str(BIN / "taplo"), "check", str(manifest)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
