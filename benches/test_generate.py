"""The synthetic manifest generator: deterministic, valid for opflow, and the
same DAG for Kedro and Hamilton.

    /tmp/pyenv/bin/python -m pytest benches/test_generate.py

opflow is `$OPFLOW_BIN` or `target/debug/opflow` (tests that need it are
skipped when it is missing). Needs Python 3.11 (`tomllib`); not Kedro or
Hamilton, whose files are read with `ast`.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]
OPFLOW = Path(os.environ.get("OPFLOW_BIN", ROOT / "target" / "debug" / "opflow"))
N = 1500
SEED = 11
WIDTH = 24
FAN_IN = 4


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


generate = load("generate", ROOT / "benches" / "generate.py")


def write(out: Path, seed: int = SEED, ops: int = N, **kw) -> Path:
    args = {"width": WIDTH, "fan_in": FAN_IN, "kedro": True, "hamilton": True} | kw
    generate.generate(out, ops, seed, **args)
    return out


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return write(tmp_path_factory.mktemp("gen"))


@pytest.fixture(scope="module")
def operations(out: Path) -> list[dict]:
    return tomllib.loads((out / "operations.toml").read_text())["operations"]


def manifest_edges(operations: list[dict]) -> dict[str, list[str]]:
    """Each operation's upstreams, in parameter order."""
    edges = {}
    for op in operations:
        params = op.get("params", {})
        assert list(params) == [f"x{k}" for k in range(len(params))]
        assert all(p["type"] == "int" for p in params.values())
        edges[op["name"]] = [p["from"] for p in params.values()]
    return edges


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_same_seed_same_bytes(tmp_path: Path, out: Path) -> None:
    again = files(write(tmp_path / "again"))
    assert set(again) == {
        "operations.toml",
        "bench_ops.py",
        "kedro_pipeline.py",
        "hamilton_module.py",
    }
    assert again == files(out)


def test_other_seed_other_dag(tmp_path: Path, out: Path) -> None:
    other = files(write(tmp_path / "other", seed=SEED + 1))
    mine = files(out)
    for name in other:
        assert other[name] != mine[name], name


def test_command_line(tmp_path: Path, out: Path) -> None:
    command = [sys.executable, str(ROOT / "benches" / "generate.py")]
    command += ["--ops", str(N), "--seed", str(SEED), "--width", str(WIDTH)]
    command += ["--fan-in", str(FAN_IN), "--out", str(tmp_path), "--kedro"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    assert done.stdout.startswith(f"{N} operations, ")
    mine = files(out)
    del mine["hamilton_module.py"]
    assert files(tmp_path) == mine


def test_shape(operations: list[dict]) -> None:
    names = [op["name"] for op in operations]
    assert len(names) == N
    assert len(set(names)) == N
    depths = {len(name.split(".")) for name in names}
    assert depths == {2, 3, 4, 5}
    flows = {name.split(".")[0] for name in names}
    assert len(flows) == 20
    position = {name: i for i, name in enumerate(names)}
    edges = manifest_edges(operations)
    counts = set()
    for name, ups in edges.items():
        i = position[name]
        counts.add(len(ups))
        assert len(set(ups)) == len(ups)
        for up in ups:
            # Earlier, within the window, and in the same flow by default.
            assert i - WIDTH <= position[up] < i
            assert up.split(".")[0] == name.split(".")[0]
    assert counts == set(range(FAN_IN + 1))


def test_cross_flow_edges(tmp_path: Path) -> None:
    write(tmp_path, ops=400, cross_flow=0.5, kedro=False, hamilton=False)
    text = (tmp_path / "operations.toml").read_text()
    edges = manifest_edges(tomllib.loads(text)["operations"])
    crossing = [
        (name, up)
        for name, ups in edges.items()
        for up in ups
        if up.split(".")[0] != name.split(".")[0]
    ]
    assert crossing


def test_bad_arguments(tmp_path: Path) -> None:
    command = [sys.executable, str(ROOT / "benches" / "generate.py")]
    done = subprocess.run(
        [*command, "--ops", "0", "--out", str(tmp_path)],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 2
    assert b"--ops must be at least 1" in done.stderr


def needs_opflow() -> None:
    if not OPFLOW.is_file():
        pytest.skip(f"{OPFLOW} not built (cargo build, or set OPFLOW_BIN)")


def test_opflow_checks_it(out: Path) -> None:
    needs_opflow()
    done = subprocess.run(
        [str(OPFLOW), "check", "--format", "short", str(out / "operations.toml")],
        capture_output=True,
        check=False,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{N} operations in 20 flows, plus `all`" in done.stdout + done.stderr


def test_opflow_binds_every_parameter_explicitly(out: Path) -> None:
    needs_opflow()
    done = subprocess.run(
        [str(OPFLOW), "plan", "--format", "json", str(out / "operations.toml")],
        capture_output=True,
        text=True,
        check=True,
    )
    flows = {flow["name"]: flow for flow in json.loads(done.stdout)["flows"]}
    assert flows["all"]["params"] == []
    bound = {
        op["name"]: [b["from"] for b in op["bindings"].values()]
        for op in flows["all"]["operations"]
    }
    rules = {
        b["rule"] for op in flows["all"]["operations"] for b in op["bindings"].values()
    }
    assert rules == {"explicit"}
    ops = tomllib.loads((out / "operations.toml").read_text())["operations"]
    assert bound == manifest_edges(ops)


def test_opflow_builds_it(tmp_path: Path) -> None:
    needs_opflow()
    write(tmp_path, ops=200, kedro=False, hamilton=False)
    subprocess.run(
        [str(OPFLOW), "build", str(tmp_path / "operations.toml"), "--out", "pkg"],
        cwd=tmp_path,
        capture_output=True,
        check=True,
    )
    modules = sorted((tmp_path / "pkg").glob("*.py"))
    # A module per flow and for `all`, and `__init__`, `__main__`, `_path`,
    # `_runtime`, `_select`, `_tasks`.
    assert len(modules) == 20 + 1 + 6
    for module in modules:
        py_compile.compile(str(module), doraise=True)


def kedro_edges(path: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Each node's inputs, and the function each one calls, read with `ast`."""
    edges, funcs = {}, {}
    for call in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(call, ast.Call) and getattr(call.func, "id", "") == "node"):
            continue
        kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
        assert kw["name"] == kw["outputs"]
        edges[kw["outputs"]] = list(kw["inputs"] or [])
        funcs[kw["outputs"]] = ast.unparse(call.args[0])
    return edges, funcs


def test_kedro_same_dag(out: Path, operations: list[dict]) -> None:
    edges, funcs = kedro_edges(out / "kedro_pipeline.py")
    assert edges == manifest_edges(operations)
    assert funcs == {
        op["name"]: op["call"].replace(":", ".") for op in operations
    }  # the very functions the manifest calls


def test_hamilton_same_dag(out: Path, operations: list[dict]) -> None:
    tree = ast.parse((out / "hamilton_module.py").read_text())
    functions = {
        f.name: [a.arg for a in f.args.args]
        for f in tree.body
        if isinstance(f, ast.FunctionDef)
    }
    by_func = {op["call"].split(":")[1]: op["name"] for op in operations}
    assert len(functions) == N
    edges = {by_func[f]: [by_func[a] for a in args] for f, args in functions.items()}
    assert edges == manifest_edges(operations)


def test_functions_compute_the_same(out: Path, operations: list[dict]) -> None:
    """The manifest's calls and Hamilton's functions give the same values."""
    ops_module = load("bench_ops", out / "bench_ops.py")
    hamilton = load("hamilton_module", out / "hamilton_module.py")
    by_op: dict[str, int] = {}
    for op in operations:  # in topological order
        args = [by_op[p["from"]] for p in op.get("params", {}).values()]
        by_op[op["name"]] = getattr(ops_module, op["call"].split(":")[1])(*args)
    by_func: dict[str, int] = {}
    for op in operations:
        func = getattr(hamilton, op["call"].split(":")[1])
        names = func.__code__.co_varnames[: func.__code__.co_argcount]
        by_func[func.__name__] = func(**{name: by_func[name] for name in names})
    assert {op["name"]: by_func[op["call"].split(":")[1]] for op in operations} == by_op
    assert len(set(by_op.values())) > N // 2  # not all the same constant
