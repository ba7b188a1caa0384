"""The package opflow generates is a fixpoint of `ruff format` and clean under
`ruff check` for every valid manifest, not only the goldens: generated
manifests push what can outgrow a line (operation names and segments past 88
characters, hierarchies down to `max_depth`, many and long parameters, long
types, docs and defaults, many modules to import, named outputs, ordering-only
edges, process executors, mapped operations with their other parameters
`unmapped`, operations that run after failures with their inputs
`allow_failure`, state hooks of flows and operations, flows whose groups run
as nested flows, their bodies indented once more, flow parameters whose
rules go into their annotations), and the types, defaults and names ruff or Python
would trip on (`typing`'s abstract collections, standard-library classes,
`None` defaults, `Never` and `type[...]` in unions, `__debug__` as a name,
flows whose bounded function names agree, callables from the standard
library); every one is built, and ruff checks all the packages in one batch
with its default rules."""

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
# What ruff rewrites or sorts elsewhere: `typing`'s aliases of collections
# (UP035, UP006), classes of the standard library (isort's sections), the
# bottom type (RUF020, PYI050).
TYPING_GENERICS = [
    "Callable[[int], str]",
    "Callable[..., Any]",
    "Sequence[int]",
    "typing.Sequence[str]",
    "Iterable[str]",
    "Iterator[int]",
    "Mapping[str, int]",
    "MutableMapping[str, bytes]",
    "AbstractSet[int]",
    "Collection[str]",
    "Awaitable[int]",
    "AsyncIterator[str]",
    "Generator[int, None, None]",
    "Deque[int]",
    "typing.Deque[str]",
    "DefaultDict[str, int]",
    "Counter[str]",
    "OrderedDict[str, int]",
    "ChainMap[str, int]",
    "Match[str]",
    "Pattern[bytes]",
    "Type[int]",
    "Text",
    "Hashable",
    "Sized",
    "Never",
    "NoReturn",
    "typing.NoReturn",
]
STDLIB_TYPES = [
    "datetime.date",
    "datetime.datetime",
    "pathlib.Path",
    "decimal.Decimal",
    "uuid.UUID",
    "collections.abc.Sequence[int]",
    "collections.OrderedDict[str, int]",
    "typing.Any",
    "os.PathLike[str]",
    "xml.etree.ElementTree.Element",
    "__future__._Feature",
    "builtins.int",
    "builtins.list[int]",
]
# Callables of the standard library sort with it in `_tasks.py`.
STDLIB_CALLS = [
    "os.path:join",
    "json:dumps",
    "datetime:timedelta",
    "typing:cast",
    # A builtin imported by name is the builtin (ruff's UP029).
    "builtins:open",
    "io:open",
    "builtins:str.upper",
    "builtins:print",
]
# Flow parameters Prefect takes that are near the ones it refuses.
ODD_NAMES = [
    "model_name",
    "args",
    "kwargs",
    "cls",
    "fn",
    "v_args",
    "flow",
    "outcome",
    "subflows",
    "hook",
]


def word(rng: random.Random) -> str:
    """A name segment: short, or long enough to outgrow a line on its own."""
    if rng.random() < 0.25:
        return "_".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30)))
    return rng.choice(WORDS) + str(rng.randint(0, 9))


def dotted_type(rng: random.Random, modules: list[str]) -> str:
    return f"{rng.choice(modules)}.{word(rng).capitalize()}"


def base_type(rng: random.Random, modules: list[str]) -> str:
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(BASES)
    if roll < 0.6:
        return rng.choice(TYPING_GENERICS)
    if roll < 0.75:
        return rng.choice(STDLIB_TYPES)
    return dotted_type(rng, modules)


def type_string(rng: random.Random, modules: list[str], depth: int = 0) -> str:
    roll = rng.random()
    if depth > 2 or roll < 0.3:
        return base_type(rng, modules)
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
    if roll < 0.85:
        return f"Optional[{type_string(rng, modules, depth + 1)}]"
    if roll < 0.9:
        # Unions ruff simplifies: several `type[...]` (PYI055), the bottom type
        # beside others (RUF020).
        first, second = (type_string(rng, modules, depth + 1) for _ in range(2))
        return rng.choice(
            [
                f"type[{first}] | type[{second}]",
                f"Type[{first}] | {second} | type[int]",
                f"Never | {first}",
                f"{first} | NoReturn | None",
                f"Union[{first}, typing.Never]",
            ]
        )
    members = {type_string(rng, modules, depth + 1) for _ in range(rng.randint(2, 5))}
    members.discard("None")
    members.discard("Any")
    return " | ".join(sorted(members) + ["None"])


def default(rng: random.Random, modules: list[str]) -> tuple[str, object]:
    roll = rng.random()
    if roll < 0.15:
        # A `None` default of a type that does not say so (RUF013), among
        # the types opflow does not judge defaults by.
        unjudged = [t for t in TYPING_GENERICS if t != "Text"]
        unjudged += [t for t in STDLIB_TYPES if not t.startswith("builtins.")]
        unjudged += ["bytes", "object"]
        return rng.choice([*unjudged, dotted_type(rng, modules)]), None
    if roll < 0.25:
        return "int", rng.randint(-(10**30), 10**30)
    if roll < 0.5:
        return "str", "long text " * rng.randint(0, 20) + 'with "quotes" and \\'
    if roll < 0.75:
        return "list[int]", [rng.randint(0, 10**9) for _ in range(rng.randint(0, 40))]
    return "dict[str, float]", {
        word(rng): rng.random() * 1000 for _ in range(rng.randint(0, 12))
    }


def rules(rng: random.Random, ty: str, value: object) -> dict:
    """Rules the default keeps, for the annotation to carry: bounds and
    choices of integers; of strings, choices, lengths and a pattern that can
    outgrow a line, with quotes, backslashes and commas in it."""
    if ty == "int" and isinstance(value, int):
        if rng.random() < 0.3:
            return {"choices": [value, value + 1, -7]}
        return {"ge": -1e31, "le": 1e31}
    if ty == "str" and isinstance(value, str):
        if rng.random() < 0.3:
            return {"choices": [value, 'other, "quoted"']}
        alternatives = "|".join(word(rng) for _ in range(rng.randint(1, 24)))
        return {
            "pattern": f'^(?:{alternatives}|[ ,"\\\\]|\\w)*$',
            "min_length": 0,
            "max_length": len(value) + rng.randint(0, 100),
        }
    return {}


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
    odd_names = rng.sample(ODD_NAMES, len(ODD_NAMES))
    # Two flows whose function names would agree: a long name, and a name
    # that is its bounded form.
    long_flow = "_".join(rng.choice(WORDS) for _ in range(12))
    clashing = [long_flow, bounded(long_flow, 40)] if rng.random() < 0.3 else []
    for index in range(rng.randint(2, 14)):
        depth = rng.randint(1, 8)
        name = ".".join(word(rng) for _ in range(depth))
        if clashing:
            name = f"{clashing.pop()}.{word(rng)}"
        elif rng.random() < 0.1:
            # A last segment Python cannot bind: the future is named apart.
            name = ".".join(word(rng) for _ in range(min(depth, 7))) + ".__debug__"
        if name in names or any(
            other.startswith(name + ".") or name.startswith(other + ".")
            for other in names
        ):
            continue
        names.add(name)
        call = f"{rng.choice(modules)}:{word(rng)}"
        if rng.random() < 0.15:
            call = rng.choice(STDLIB_CALLS)
        op: dict = {"name": name, "call": call, "params": {}}
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
                        "type": gives(up),
                        "from": up["name"],
                    }
            elif rng.random() < 0.5:
                ty, value = default(rng, libraries)
                op["params"][pname] = {"type": ty, "default": value}
                if rng.random() < 0.5 and (found := rules(rng, ty, value)):
                    # A flow parameter by name: not bound to an operation
                    # by its type.
                    op["params"][pname].update(found, **{"from": f"${pname}"})
            elif rng.random() < 0.1 and odd_names:
                op["params"][pname] = {
                    "type": type_string(rng, libraries),
                    "from": f"${odd_names.pop()}",
                }
            else:
                op["params"][pname] = type_string(rng, libraries)
        # A mapped operation: one parameter takes one element of a list
        # an earlier operation gives; it declares `returns`, not `outputs`.
        lists = [(up, element(gives(up))) for up in earlier if "outputs" not in up]
        lists = [(up, inner) for up, inner in lists if inner is not None]
        mapped = bool(lists) and rng.random() < 0.3
        if mapped:
            up, inner = rng.choice(lists)
            pname = f"m{index}_{word(rng)}"
            op["params"][pname] = {"type": inner, "from": up["name"]}
            op["map"] = [pname]
        # (Not with the bottom type: `NoReturn | None` is `None`.)
        bottom = any(
            "NoReturn" in str(p) or "Never" in str(p) for p in op["params"].values()
        )
        if not mapped and not bottom and rng.random() < 0.15:
            # Runs whatever its upstream's outcome: what it takes accepts
            # None (bound by `from`, by name or by type).
            op["trigger"] = "all_done"
            for pname, param in op["params"].items():
                if isinstance(param, dict):
                    param["type"] = f"{param['type']} | None"
                else:
                    op["params"][pname] = f"{param} | None"
        if rng.random() < 0.15:
            # State hooks, some with references long enough to split.
            for key in rng.sample(["on_failure", "on_completion"], rng.randint(1, 2)):
                op[key] = [
                    f"{rng.choice(modules)}:{word(rng)}"
                    for _ in range(rng.randint(1, 3))
                ]
        if rng.random() < 0.25 and not mapped:
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
    flows: dict = {}
    dotted = [op["name"] for op in operations if "." in op["name"]]
    if dotted and rng.random() < 0.5:
        # A flow's state hooks.
        top = dotted[0].split(".")[0]
        flows[top] = {
            key: [
                f"{rng.choice(modules)}:{word(rng)}" for _ in range(rng.randint(1, 3))
            ]
            for key in ("on_failure", "on_completion", "on_cancellation")
            if rng.random() < 0.6
        }
    for top in sorted({name.split(".")[0] for name in dotted}):
        if rng.random() < 0.5:
            # Each group a nested flow: the body within `with subflows(...)`.
            flows.setdefault(top, {})["subflows"] = True
    return {
        "version": 1,
        "project": {"name": "props", "python_path": ["."]},
        "flows": flows,
        "operations": operations,
    }, roots


def gives(op: dict) -> str:
    """The type of what an operation gives a consumer: its return type, or
    the list of them when it is mapped."""
    returns = op.get("returns", "int")
    return f"list[{returns}]" if op.get("map") else returns


def element(ty: str) -> str | None:
    """`T` of a type written `list[T]` (the whole type, not a union member)."""
    if not ty.startswith("list[") or not ty.endswith("]"):
        return None
    depth = 0
    for position, char in enumerate(ty):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth == 0 and 4 < position < len(ty) - 1:
            return None
    return ty[5:-1]


def bounded(ident: str, limit: int) -> str:
    """The compiler's bounded identifier (`render::python::bounded`): the
    first characters and a digest (FNV-1a) of the whole."""
    if len(ident) <= limit:
        return ident
    digest = 0xCBF29CE484222325
    for byte in ident.encode():
        digest = ((digest ^ byte) * 0x100000001B3) % 2**64
    return f"{ident[: limit - 7].rstrip('_')}_{digest & 0xFFFFFF:06x}"


def test_generated_packages_are_ruff_formatted_and_clean(tmp_path: Path) -> None:
    packages = []
    roots: set[str] = set()
    nested = 0
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
        nested += any(
            "    with subflows" in module.read_text()
            for module in (folder / "pkg").glob("*.py")
        )
    assert len(packages) == MANIFESTS
    # The nested bodies are among what ruff checks.
    assert nested >= MANIFESTS // 5, nested
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


def standard_library_table() -> list[str]:
    """The compiler's list of the standard library's modules (`STDLIB` in
    src/render/layout.rs)."""
    text = (ROOT / "src" / "render" / "layout.rs").read_text(encoding="utf-8")
    body = text.split('const STDLIB: &str = "', 1)[1].split('";', 1)[0]
    return body.replace("\\\n", " ").split()


def test_the_standard_library_is_what_ruff_sorts_as_such(tmp_path: Path) -> None:
    """Every module of the table, and no other of the standard library's
    (any Python's), is one ruff's isort sorts into the standard library's
    section for Python 3.11; on Python 3.11 the table is
    `sys.stdlib_module_names`."""
    table = standard_library_table()
    assert table == sorted(table)
    assert len(table) > 250
    if sys.version_info[:2] == (3, 11):
        assert set(table) == set(sys.stdlib_module_names)
    candidates = (set(table) | set(sys.stdlib_module_names)) - {"__future__"}
    source = tmp_path / "imports.py"
    lines = [f"import {module}" for module in sorted(candidates)]
    source.write_text("\n".join([*lines, "import zzz_not_the_standard_library", ""]))
    subprocess.run(
        [
            str(RUFF),
            "check",
            "--isolated",
            "--target-version",
            "py311",
            "--select",
            "I",
            "--fix",
            "--quiet",
            str(source),
        ],
        check=False,
    )
    standard, third = source.read_text().split("\n\n", 1)
    assert "zzz_not_the_standard_library" in third
    ruffs = {line.removeprefix("import ") for line in standard.splitlines()}
    assert ruffs == set(table) - {"__future__"}
