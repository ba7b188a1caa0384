"""Nothing in a manifest can make the generated code run anything the manifest
did not name as a `call`: hostile names, docs, defaults and types are either
refused with a diagnostic or come out as inert literals."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest
from conftest import OPFLOW, ROOT

HOSTILE = ROOT / "tests" / "build" / "hostile-strings"

# Every call the generated modules make outside their fixed helpers: Prefect's
# API, the task runner, and the tasks' `.submit`.
ALLOWED_CALLS = {
    "task",
    "Results",  # where results are kept: `RESULTS = Results(__file__, "...")`
    "flow",
    "ThreadPoolTaskRunner",
    "ProcessPoolTaskRunner",
    "DaskTaskRunner",
    "RayTaskRunner",
    "timedelta",
    "in_process",
    "outcome",
    "unmapped",  # the same value for every element of a map
    "allow_failure",  # an input of a `trigger = "all_done"` operation
    "Field",  # a flow parameter's rules, literals only: `Annotated[int, Field(ge=1)]`
}


def callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return f"{ast.unparse(func.value)}.{func.attr}"
    return ast.unparse(func)


SUBMIT = re.compile(r"^\w+_task(_\d+)*\.(submit|map)$")
# The runtime's `outcome`, `hook` (a state hook by its reference, a string
# literal) and `subflows` (the groups that run as nested flows, string
# literals), imported under another name when a parameter has it.
OUTCOME = re.compile(r"^(outcome|hook|subflows)(_\d+)?$")


def unexpected_calls(tree: ast.Module) -> list[str]:
    """Calls other than the allowed ones. The operations' callables are never
    called here: they are handed to `task`."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = callee(node)
        if name in ALLOWED_CALLS or SUBMIT.match(name) or OUTCOME.match(name):
            if name.startswith(("hook", "subflows")) and not all(
                isinstance(arg, ast.Constant) for arg in node.args
            ):
                found.append(name)
            continue
        found.append(name)
    return found


def strings(tree: ast.Module) -> set[str]:
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_hostile_strings_stay_literals() -> None:
    module = HOSTILE / "expected" / "evil.py"
    tree = ast.parse(module.read_text())
    tasks = ast.parse((HOSTILE / "expected" / "_tasks.py").read_text())
    assert unexpected_calls(tree) == []
    assert unexpected_calls(tasks) == []
    found = strings(tree) | strings(tasks)
    doc = (
        '"""); __import__(\'os\').system(\'echo pwned\'); ("""\x00 NUL \u2028'
        " separator \r\n CRLF"
    )
    assert doc in found
    assert "'; import os; os.system('echo pwned'); '\"\\" in found
    assert '}"; import os #' in found
    description = (
        'Ends with a quote" and has """ triple quotes, a backslash \\ and\n'
        "new lines; __import__('os').system('echo pwned')"
    )
    assert description in found
    # The flow's docstring is the description, escaped but intact.
    flow = next(
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "evil_flow"
    )
    assert ast.get_docstring(flow, clean=False).startswith('Ends with a quote"')
    # Then opflow's own parameters (which operations run), empty.
    assert [ast.unparse(d) for d in flow.args.defaults] == [
        repr("'; import os; os.system('echo pwned'); '\"\\"),
        "['a\"b', \"c'd\", '\\x00']",
        "''",
        "''",
    ]


def test_every_golden_module_calls_only_what_it_should() -> None:
    for expected in sorted((ROOT / "tests" / "build").glob("*/expected")):
        for path in expected.glob("*.py"):
            if path.name in {
                "__main__.py",
                "_path.py",
                "__init__.py",
                "_runtime.py",
                "_select.py",
            }:
                continue
            tree = ast.parse(path.read_text())
            assert unexpected_calls(tree) == [], path


def body(path: Path) -> str:
    """A generated file without its two header lines."""
    return path.read_text().split("\n", 2)[2]


def test_the_runtime_is_the_same_in_every_package() -> None:
    """Nothing of a manifest reaches `_runtime.py` or `_select.py` (the only
    modules with code of their own), so each is byte for byte the same in every
    golden package."""
    for name in ("_runtime.py", "_select.py"):
        copies = {
            body(path) for path in (ROOT / "tests" / "build").glob(f"*/expected/{name}")
        }
        assert copies == {(ROOT / "templates" / name).read_text()}, name


REFUSED = {
    "type": ('returns = "list[dict]); import os"', "opflow::resolve::invalid_type"),
    "call": ("call = \"os:system('ls')\"", "opflow::resolve::invalid_call"),
    "call-module": ("call = \"__import__('os'):x\"", "opflow::resolve::invalid_call"),
    "name": ('name = "a.b\\"); import os; (\\""', "opflow::hierarchy::invalid_name"),
    "param": ('params = { "x=1); import os; (y" = "int" }', "invalid_parameter_name"),
    "default": (
        'params = { x = { type = "str", default = 1979-05-27 } }',
        "invalid_default",
    ),
    "output": ('outputs = { "a-b" = "int" }', "invalid_parameter_name"),
}


@pytest.mark.parametrize("field", sorted(REFUSED))
def test_hostile_values_are_refused(field: str, tmp_path: Path) -> None:
    line, code = REFUSED[field]
    base = {"name": 'name = "a.b"', "call": 'call = "pkg.mod:f"'}
    key = line.split(" ", 1)[0]
    fields = {**base, key: line} if key in base else {**base, field: line}
    manifest = "version = 1\n\n[[operations]]\n" + "\n".join(fields.values()) + "\n"
    (tmp_path / "operations.toml").write_text(manifest)
    done = subprocess.run(
        [str(OPFLOW), "build"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert code in done.stderr, done.stderr
    assert not (tmp_path / "run_cache").exists()
