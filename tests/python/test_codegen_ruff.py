"""The package opflow generates is a fixpoint of `ruff format` and clean under
`ruff check` for every valid manifest, not only the goldens: generated
manifests push what can outgrow a line (operation names and segments past 88
characters, hierarchies down to `max_depth`, many and long parameters, long
types, docs and defaults, many modules to import, named outputs, ordering-only
edges, process executors), every one is built, and ruff checks all the
packages in one batch."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from test_goldens import defined_names

ROOT = Path(__file__).resolve().parents[2]
OPFLOW = os.environ.get("OPFLOW_BIN", str(ROOT / "target" / "debug" / "opflow"))
RUFF = Path(sys.executable).parent / "ruff"
MANIFESTS = 40

WORDS = ["etl", "load", "x", "report", "scraping", "stepstone", "fetch", "a", "data"]
BASES = ["int", "str", "float", "bool", "bytes", "Any", "None"]


def word(rng: random.Random) -> str:
    """A name segment: short, or long enough to outgrow a line on its own."""
    if rng.random() < 0.25:
        return "_".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30)))
    return rng.choice(WORDS) + str(rng.randint(0, 9))


def dotted_type(rng: random.Random, modules: list[str]) -> str:
    return f"{rng.choice(modules)}.{word(rng).capitalize()}"


def type_string(rng: random.Random, modules: list[str], depth: int = 0) -> str:
    roll = rng.random()
    if depth > 2 or roll < 0.3:
        return rng.choice(BASES) if rng.random() < 0.6 else dotted_type(rng, modules)
    if roll < 0.5:
        return f"list[{type_string(rng, modules, depth + 1)}]"
    if roll < 0.65:
        inner = ", ".join(
            type_string(rng, modules, depth + 1) for _ in range(rng.randint(2, 4))
        )
        return f"tuple[{inner}]"
    if roll < 0.8:
        key = type_string(rng, modules, depth + 1)
        return f"dict[str, {key}]"
    if roll < 0.9:
        return f"Optional[{type_string(rng, modules, depth + 1)}]"
    members = {type_string(rng, modules, depth + 1) for _ in range(rng.randint(2, 5))}
    members.discard("None")
    members.discard("Any")
    return " | ".join(sorted(members) + ["None"])


def default(rng: random.Random) -> tuple[str, object]:
    roll = rng.random()
    if roll < 0.25:
        return "int", rng.randint(-(10**30), 10**30)
    if roll < 0.5:
        return "str", "long text " * rng.randint(0, 20) + 'with "quotes" and \\'
    if roll < 0.75:
        return "list[int]", [rng.randint(0, 10**9) for _ in range(rng.randint(0, 40))]
    return "dict[str, float]", {
        word(rng): rng.random() * 1000 for _ in range(rng.randint(0, 12))
    }


def manifest(seed: int) -> dict:
    rng = random.Random(seed)
    # The operations' packages sit beside the manifest (first-party); the
    # types' come from libraries (third-party).
    modules = [
        "ops_" + ".".join(word(rng) for _ in range(rng.randint(1, 4)))
        for _ in range(rng.randint(1, 12))
    ]
    libraries = [
        "lib_" + ".".join(word(rng) for _ in range(rng.randint(1, 4)))
        for _ in range(rng.randint(1, 6))
    ]
    roots = sorted({module.split(".")[0] for module in modules})
    operations: list[dict] = []
    names: set[str] = set()
    for index in range(rng.randint(2, 14)):
        depth = rng.randint(1, 8)
        name = ".".join(word(rng) for _ in range(depth))
        if name in names or any(
            other.startswith(name + ".") or name.startswith(other + ".")
            for other in names
        ):
            continue
        names.add(name)
        op: dict = {
            "name": name,
            "call": f"{rng.choice(modules)}:{word(rng)}",
            "params": {},
        }
        earlier = operations[:]
        for j in range(rng.randint(0, 12)):
            pname = f"p{index}_{j}_{word(rng)}"
            if earlier and rng.random() < 0.4:
                up = rng.choice(earlier)
                if up.get("outputs") and rng.random() < 0.6:
                    output = rng.choice(sorted(up["outputs"]))
                    op["params"][pname] = {
                        "type": up["outputs"][output],
                        "from": f"{up['name']}.{output}",
                    }
                else:
                    op["params"][pname] = {
                        "type": up.get("returns", "int"),
                        "from": up["name"],
                    }
            elif rng.random() < 0.5:
                ty, value = default(rng)
                op["params"][pname] = {"type": ty, "default": value}
            else:
                op["params"][pname] = type_string(rng, libraries)
        if rng.random() < 0.25:
            op["outputs"] = {
                f"out{k}_{word(rng)}": type_string(rng, libraries)
                for k in range(rng.randint(1, 3))
            }
        else:
            op["returns"] = type_string(rng, libraries)
        if earlier and rng.random() < 0.3:
            op["depends_on"] = sorted(
                {rng.choice(earlier)["name"] for _ in range(rng.randint(1, 4))}
            )
        if rng.random() < 0.3:
            op["doc"] = "A doc that goes on. " * rng.randint(1, 30)
        if rng.random() < 0.2:
            op["executor"] = "process"
        if rng.random() < 0.2:
            op["tags"] = [word(rng) for _ in range(rng.randint(1, 12))]
        if rng.random() < 0.2:
            op["cache"] = "inputs"
            op["cache_expiration_seconds"] = 3600
        operations.append(op)
    return {
        "version": 1,
        "project": {"name": "props", "python_path": ["."]},
        "flows": {},
        "operations": operations,
    }, roots


def test_generated_packages_are_ruff_formatted_and_clean(tmp_path: Path) -> None:
    packages = []
    roots: set[str] = set()
    for seed in range(MANIFESTS):
        data, first_party = manifest(seed)
        roots.update(first_party)
        folder = tmp_path / f"m{seed}"
        folder.mkdir()
        (folder / "operations.json").write_text(json.dumps(data, indent=1))
        done = subprocess.run(
            [
                OPFLOW,
                "build",
                str(folder / "operations.json"),
                "--out",
                str(folder / "pkg"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        # Every generated manifest is valid: a refusal is the generator's bug.
        assert done.returncode == 0, f"seed {seed}:\n{done.stderr[-3000:]}"
        packages.append(str(folder / "pkg"))
        twice = {
            name: modules
            for name, modules in defined_names(folder / "pkg").items()
            if len(modules) > 1
        }
        assert not twice, f"seed {seed}: {twice}"
    assert len(packages) == MANIFESTS
    formatted = subprocess.run(
        [str(RUFF), "format", "--isolated", "--check", "--diff", *packages],
        capture_output=True,
        text=True,
        check=False,
    )
    assert formatted.returncode == 0, (
        formatted.stdout[-6000:] + formatted.stderr[-2000:]
    )
    known = ", ".join(f'"{root}"' for root in sorted(roots))
    checked = subprocess.run(
        [
            str(RUFF),
            "check",
            "--isolated",
            "--config",
            f"lint.isort.known-first-party = [{known}]",
            *packages,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout[-6000:] + checked.stderr[-2000:]
