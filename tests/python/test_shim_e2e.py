"""The Python shim end to end: `python -m opflow scan` writes the manifest from
decorated code, `opflow build` compiles it, and the flow, run under a real
Prefect server, returns what calling the functions directly returns."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest
from conftest import OPFLOW

ROOT = Path(__file__).resolve().parents[2]
SHIM = ROOT / "python" / "src"
PROJECTS = ROOT / "python" / "tests" / "projects"


@pytest.fixture(autouse=True)
def shim_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """This checkout's shim, for the scans and for the flow runs (the decorated
    modules import it)."""
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(SHIM), *filter(None, [path])])
    )
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")


def scan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "opflow", "scan", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"scan failed ({done.returncode}):\n{done.stderr}"
    return done


def completed(run) -> object:
    assert run.code == 0, f"run failed ({run.code}):\n{run.stderr}"
    assert "Traceback" not in run.stderr, run.stderr
    return run.result


def test_scraping_example_scanned_built_and_run(example) -> None:
    seed = example("scraping")
    committed = (seed.root / "operations.toml").read_bytes()

    scan("jobs", "-o", "operations.toml", cwd=seed.root)

    assert (seed.root / "operations.toml").read_bytes() == committed
    seed.build()
    direct = subprocess.run(
        [sys.executable, "run_direct.py"],
        cwd=seed.root,
        capture_output=True,
        text=True,
        check=True,
    )
    expected = json.loads(direct.stdout)
    assert expected
    assert completed(seed.run("scraping", keywords="python")) == expected


DIRECT = dedent(
    """
    import asyncio, dataclasses, json, sys

    from shop.ingest.orders import load_orders
    from shop.ingest.prices import fetch_prices
    from shop.report import report
    from shop.transform.price import price_orders
    from shop.transform.split import split_orders

    count, currency, threshold = json.loads(sys.argv[1])
    orders = load_orders(count)
    prices = asyncio.run(fetch_prices(currency))
    split = split_orders(orders, threshold)
    priced = asyncio.run(price_orders(split.large, prices))
    result = report(priced, split.small, currency)
    print(json.dumps(result, default=dataclasses.asdict))
    """
)


def test_hand_written_package_scanned_built_and_run(project) -> None:
    manifest = scan("shop", "--path", str(PROJECTS), cwd=PROJECTS).stdout
    assert manifest.startswith(
        "#:schema opflow.schema.json\nversion = 1\n\n[[operations]]\n"
    )
    modules = {
        str(path.relative_to(PROJECTS)): path.read_text()
        for path in sorted((PROJECTS / "shop").rglob("*.py"))
    }
    assert len(modules) == 9
    shop = project(manifest, modules)

    plan = json.loads(shop.opflow("plan", "--format", "json").stdout)
    [flow] = [f for f in plan["flows"] if f["name"] == "shop"]
    assert flow["stages"] == [
        ["shop.ingest.orders", "shop.ingest.prices"],
        ["shop.transform.split"],
        ["shop.transform.price"],
        ["shop.report"],
    ]
    assert [(p["name"], p["default"]) for p in flow["params"]] == [
        ("count", 4),
        ("currency", "EUR"),
        ("threshold", 3),
    ]
    ops = {op["name"]: op for op in flow["operations"]}
    assert ops["shop.transform.split"]["outputs"] == {
        "small": "list[shop.models.Order]",
        "large": "list[shop.models.Order]",
    }
    bindings = {
        (name, param): (binding["rule"], binding["from"])
        for name, op in ops.items()
        for param, binding in op["bindings"].items()
    }
    assert bindings == {
        ("shop.ingest.orders", "count"): ("flow_param", "$count"),
        ("shop.ingest.prices", "currency"): ("flow_param", "$currency"),
        ("shop.transform.split", "orders"): ("type", "shop.ingest.orders"),
        ("shop.transform.split", "threshold"): ("flow_param", "$threshold"),
        ("shop.transform.price", "large"): ("name", "shop.transform.split.large"),
        ("shop.transform.price", "prices"): ("type", "shop.ingest.prices"),
        ("shop.report", "priced"): ("type", "shop.transform.price"),
        ("shop.report", "small"): ("name", "shop.transform.split.small"),
        ("shop.report", "currency"): ("flow_param", "$currency"),
    }
    assert ops["shop.report"]["after"] == ["shop.ingest.prices"]

    params = {"count": 7, "currency": "USD", "threshold": 4}
    direct = subprocess.run(
        [sys.executable, "-c", DIRECT, json.dumps(list(params.values()))],
        cwd=shop.root,
        capture_output=True,
        text=True,
        check=True,
    )
    expected = json.loads(direct.stdout)
    assert expected["small_ids"] == [0, 1, 2]
    assert len(expected["priced"]) == 4

    assert completed(shop.run("shop", **params)) == expected
    defaults = completed(shop.run("all"))
    assert defaults["currency"] == "EUR" and defaults["small_ids"] == [0, 1]


HOSTILE = '''\
"""Values that are hard to write, in every format."""

from typing import Any, Optional

from opflow import operation

TEXT = "quote \\" backslash \\\\ tab\\t nul\\x00 del\\x7f bom\\ufeff 日本 🐍 \\'\\'\\' # ]] [[operations]]"


@operation(
    name="h.values",
    tags=["yes", "No", "~", "", " pad ", "a: b", "- x", "{f}", "1e3", ".inf", TEXT],
    retries=0,
    retry_delay_seconds=0.25,
    timeout_seconds=1e16,
    cache="inputs",
)
def values(
    a: int = 2**64 - 1,
    b: int = -(2**63),
    c: float = 1e-300,
    d: float = -0.0,
    f: str = TEXT,
    g: list[Any] = [1, [2.5, "x"], {"k": True}],
    h: dict[str, Any] = {"": 1, "key with ]": "v", "yes": "no", "日本": [False]},
    i: Optional[str] = "",
) -> dict[str, Any]:
    return {"a": a}


values.__doc__ = TEXT
'''


def test_the_three_formats_compile_to_the_same_flows(tmp_path: Path) -> None:
    opflow = Path(os.environ.get("OPFLOW_BIN", ROOT / "target" / "debug" / "opflow"))
    (tmp_path / "hostile.py").write_text(HOSTILE, encoding="utf-8")
    plans = {}
    packages = {}
    for fmt in ["toml", "yaml", "json"]:
        scan("hostile", "-o", f"operations.{fmt}", cwd=tmp_path)
        plan = subprocess.run(
            [str(opflow), "plan", f"operations.{fmt}", "--format", "json"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert plan.returncode == 0, plan.stderr
        plans[fmt] = json.loads(plan.stdout)
        out = tmp_path / f"out_{fmt}"
        build = subprocess.run(
            [str(opflow), "build", f"operations.{fmt}", "--out", str(out)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert build.returncode == 0, build.stderr
        # The package names its own folder (entrypoints, `python -m`):
        # `out_toml`, `out_yaml`, `out_json` read alike.
        packages[fmt] = {
            path.name: [
                line.replace(f"out_{fmt}", "out")
                for line in path.read_text(encoding="utf-8").splitlines()
                if f"operations.{fmt}" not in line and "opflow-digest" not in line
            ]
            for path in sorted(out.iterdir())
        }
    assert plans["toml"] == plans["yaml"] == plans["json"]
    defaults = {p["name"]: p["default"] for p in plans["toml"]["flows"][0]["params"]}
    assert defaults["a"] == str(2**64 - 1)  # beyond i64: a string in the plan
    assert defaults["f"] == (
        'quote " backslash \\ tab\t nul\x00 del\x7f bom\ufeff 日本 🐍 '
        "''' # ]] [[operations]]"
    )
    assert defaults["h"] == {"": 1, "key with ]": "v", "yes": "no", "日本": [False]}
    assert packages["toml"] == packages["yaml"] == packages["json"]


def test_opflow_scan_command_round_trips_the_example(tmp_path: Path) -> None:
    """The Rust `opflow scan` runs the shim with the project's Python."""
    root = tmp_path / "scraping"
    shutil.copytree(
        ROOT / "examples" / "scraping",
        root,
        ignore=shutil.ignore_patterns("run_cache", "__pycache__"),
    )

    def scan(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(OPFLOW), "scan", "jobs", "--python", sys.executable, *args],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )

    for manifest in ("operations.toml", "operations.yaml"):
        done = scan("-o", manifest, "--check")
        assert done.returncode == 0, done.stderr
    merge = root / "jobs" / "merge.py"
    merge.write_text(merge.read_text().replace("Drop duplicate", "Remove duplicate"))
    assert scan("-o", "operations.toml", "--check").returncode == 1
    before = (root / "operations.toml").read_text()
    done = scan("-o", "operations.toml")
    assert done.returncode == 0, done.stderr
    after = (root / "operations.toml").read_text()
    assert after == before.replace("Drop duplicate", "Remove duplicate")
