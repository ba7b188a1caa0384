"""Every expected file of the golden packages (tests/build/*/expected) compiles,
is formatted as `ruff format` leaves it and is clean under `ruff check`."""

from __future__ import annotations

import ast
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted(path.parent for path in (ROOT / "tests" / "build").glob("*/expected"))
RUFF = Path(sys.executable).parent / "ruff"


def test_there_are_golden_packages() -> None:
    assert len(CASES) >= 5


def first_party(expected: Path) -> list[str]:
    """The packages the operations' callables come from: in the user's project they
    sit beside the manifest, so ruff's isort counts them as first-party."""
    roots = set()
    for path in expected.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                root = node.module.split(".")[0]
                third_party = root.startswith("prefect") or root == "pydantic"
                if root not in sys.stdlib_module_names and not third_party:
                    roots.add(root)
    return sorted(roots)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_expected_files_compile(case: Path, tmp_path: Path) -> None:
    files = sorted((case / "expected").glob("*.py"))
    assert files
    for path in files:
        py_compile.compile(
            str(path), cfile=str(tmp_path / (path.name + "c")), doraise=True
        )


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_expected_files_are_ruff_formatted(case: Path) -> None:
    done = subprocess.run(
        [str(RUFF), "format", "--isolated", "--check", "--diff", "."],
        cwd=case / "expected",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_expected_files_are_ruff_clean(case: Path) -> None:
    expected = case / "expected"
    known = ", ".join(f'"{root}"' for root in first_party(expected))
    done = subprocess.run(
        [
            str(RUFF),
            "check",
            "--isolated",
            "--config",
            f"lint.isort.known-first-party = [{known}]",
            ".",
        ],
        cwd=expected,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_prefect_yaml_names_every_flow_entrypoint(case: Path) -> None:
    import yaml

    expected = case / "expected"
    document = yaml.safe_load((expected / "prefect.yaml").read_text())
    flows = ast.parse((expected / "__init__.py").read_text())
    registered = {
        node.value: value.id
        for node_dict in ast.walk(flows)
        if isinstance(node_dict, ast.Dict)
        for node, value in zip(node_dict.keys, node_dict.values, strict=True)
        if isinstance(node, ast.Constant) and isinstance(value, ast.Name)
    }
    # Each flow's own deployment, then one per preset: `flow-preset` (a flow's
    # name has no `-`).
    flow_of = {d["name"]: d["name"].split("-", 1)[0] for d in document["deployments"]}
    assert {name for name, flow in flow_of.items() if name == flow} == set(registered)
    for deployment in document["deployments"]:
        path, function = deployment["entrypoint"].rsplit(":", 1)
        # By import path from the manifest's folder (`run_cache.orchestration.etl`),
        # or by file where the output folder's path is not one.
        name = (
            Path(path).name if path.endswith(".py") else path.rsplit(".", 1)[1] + ".py"
        )
        module = expected / name
        names = {
            node.name
            for node in ast.parse(module.read_text()).body
            if isinstance(node, ast.FunctionDef)
        }
        assert function == registered[flow_of[deployment["name"]]]
        assert function in names
        assert deployment["work_pool"]["name"] == "opflow"


def defined_names(package: Path) -> dict[str, list[str]]:
    """Each name a module of the package defines at its top level (functions,
    classes, assignments; not imports), and the modules defining it."""
    defined: dict[str, list[str]] = {}
    for path in sorted(package.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            else:
                names = []
            for name in names:
                defined.setdefault(name, []).append(path.name)
    return defined


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_no_name_is_defined_in_two_modules(case: Path) -> None:
    defined = defined_names(case / "expected")
    assert "OperationFailed" in defined, sorted(defined)
    twice = {name: modules for name, modules in defined.items() if len(modules) > 1}
    assert not twice, twice
