"""`opflow verify` on the golden projects of `tests/verify/<case>/`: a
manifest, a small Python package, and `errors.txt`, the hand-written
`LINE:COL CODE` of every finding (none for a project whose code agrees).
Also `opflow run` and `build --verify`, which refuse a manifest the code
disagrees with before anything runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import OPFLOW, ROOT

CASES = sorted(p for p in (ROOT / "tests" / "verify").iterdir() if p.is_dir())


def _opflow(*args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        [str(OPFLOW), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
    )


def _expected(case: Path) -> list[str]:
    path = case / "errors.txt"
    return path.read_text().split("\n")[:-1] if path.exists() else []


def test_there_are_cases_with_and_without_findings() -> None:
    names = [case.name for case in CASES]
    assert "clean" in names and "findings" in names
    codes = {line.split()[1] for line in _expected(ROOT / "tests/verify/findings")}
    every = {
        "import_failed",
        "no_such_callable",
        "not_a_function",
        "async_mismatch",
        "unknown_parameter",
        "missing_parameter",
        "type_mismatch",
        "return_type_mismatch",
        "unknown_output",
    }
    assert codes == {f"opflow::verify::{code}" for code in every}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_verify_finds_what_errors_txt_says(case: Path, tmp_path: Path) -> None:
    # The whole tree: a case may use another's package (`python_path`).
    shutil.copytree(case.parent, tmp_path / "verify")
    root = tmp_path / "verify" / case.name
    done = _opflow("verify", "--python", sys.executable, "--format", "json", cwd=root)
    findings = json.loads(done.stdout)
    got = [f"{d['line']}:{d['column']} {d['code']}" for d in findings]
    assert got == _expected(case), done.stderr
    assert done.returncode == (1 if got else 0), done.stderr
    for finding in findings:
        assert finding["severity"] == "error"
        assert finding["help"], finding
        assert finding["file"].startswith("operations.")
    # Nothing but imports ran, and nothing was written beside the project.
    assert not (root / "run_cache").exists()


def test_human_output_names_the_places_and_helps(tmp_path: Path) -> None:
    root = tmp_path / "findings"
    shutil.copytree(ROOT / "tests/verify/findings", root)
    done = _opflow("verify", "--python", sys.executable, "--color", "never", cwd=root)
    assert done.returncode == 1
    err = done.stderr
    assert "`shop.ops:greet` takes no parameter `shuot`" in err
    assert "help: did you mean `shout`?" in err
    assert (
        "cannot import `shop.broken`: RuntimeError: the database is not configured"
        in err
    )
    assert "did you mean `fetch`?" in err
    assert "error: 14 problems found" in err


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    done = _opflow("verify", "--format", "nope", cwd=tmp_path)
    assert done.returncode == 2
    done = _opflow("verify", cwd=tmp_path)  # no manifest here
    assert done.returncode == 2
    assert "opflow::manifest::not_found" in done.stderr


def test_run_and_build_verify_refuse_before_anything_runs(
    tmp_path: Path, prefect_api: str
) -> None:
    root = tmp_path / "typo"
    root.mkdir()
    (root / "hello.py").write_text(
        "def greet(name: str, shout: bool = False) -> str:\n"
        "    return name.upper() if shout else name\n"
    )
    (root / "operations.toml").write_text(
        'version = 1\n\n[[operations]]\nname = "greet"\ncall = "hello:greet"\n'
        'params = { name = "str", shuot = { type = "bool", default = true } }\n'
        'returns = "str"\n'
    )
    env = {
        "PREFECT_API_URL": prefect_api,
        "OPFLOW_CACHE_DIR": str(tmp_path / "cache"),
        "OPFLOW_DATA_DIR": str(tmp_path / "data"),
    }
    done = _opflow(
        "run", "--param", "name=Ada", "--python", sys.executable, cwd=root, env=env
    )
    assert done.returncode == 1, done.stderr
    assert "opflow::verify::unknown_parameter" in done.stderr
    assert "did you mean `shout`?" in done.stderr
    assert "Traceback" not in done.stderr
    assert "ParameterBindError" not in done.stderr
    assert done.stdout == ""

    shutil.rmtree(root / "run_cache")  # `run` built the package before verifying
    done = _opflow("build", "--verify", "--python", sys.executable, cwd=root)
    assert done.returncode == 1
    assert "opflow::verify::unknown_parameter" in done.stderr
    assert not (root / "run_cache").exists()

    # Fixed, the same run goes through.
    text = (root / "operations.toml").read_text().replace("shuot", "shout")
    (root / "operations.toml").write_text(text)
    done = _opflow(
        "run", "--param", "name=Ada", "--python", sys.executable, cwd=root, env=env
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == "ADA"
