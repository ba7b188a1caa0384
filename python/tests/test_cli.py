"""`python -m opflow scan` as the `opflow scan` command runs it: exit codes,
stdout and stderr."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

GOOD = """\
\"\"\"Module docstring.\"\"\"

from opflow import operation

print("imported")  # a module that prints must not spoil the manifest

@operation(name="etl.load")
def load(path: str) -> list[int]:
    return []

@operation(name="etl.total")
async def total(load: list[int]) -> int:
    return sum(load)
"""

BAD = """\
from opflow import operation

@operation(name="bad.one")
def one(x) -> int:
    return x

@operation(name="bad.two")
def two(*rest: int) -> int:
    return 0
"""


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_prints_the_manifest_on_stdout(tmp_path: Path, shim) -> None:
    root = project(tmp_path, {"etl.py": GOOD})
    done = shim("scan", "etl", cwd=root)
    assert done.returncode == 0, done.stderr
    assert done.stdout == dedent(
        """\
        #:schema opflow.schema.json
        version = 1

        [[operations]]
        name = "etl.load"
        call = "etl:load"
        params = { path = "str" }
        returns = "list[int]"

        [[operations]]
        name = "etl.total"
        call = "etl:total"
        async = true
        params = { load = "list[int]" }
        returns = "int"
        """
    )
    assert done.stderr == "imported\n"


def test_writes_and_rewrites_a_file_reporting_what_disappeared(
    tmp_path: Path, shim
) -> None:
    root = project(
        tmp_path, {"etl.py": GOOD, "src/extra.py": GOOD.replace("etl.", "extra.")}
    )
    done = shim("scan", "etl", "extra", "-p", "src", "-o", "operations.toml", cwd=root)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "wrote `operations.toml`: 4 operations" in done.stderr
    first = (root / "operations.toml").read_text()
    assert first.count("[[operations]]") == 4

    check = shim(
        "scan",
        "etl",
        "extra",
        "-p",
        "src",
        "-o",
        "operations.toml",
        "--check",
        cwd=root,
    )
    assert check.returncode == 0, check.stderr

    manifest = root / "operations.toml"
    manifest.write_text(
        first.replace(
            "version = 1\n", 'version = 1\n\n[project]\nname = "etl"  # kept\n', 1
        )
    )
    done = shim("scan", "etl", "-o", "operations.toml", cwd=root)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[1:] == [
        "note: operation `extra.load` is no longer defined; removed from `operations.toml`",
        "note: operation `extra.total` is no longer defined; removed from `operations.toml`",
        "wrote `operations.toml`: 2 operations",
    ]
    text = manifest.read_text()
    assert '[project]\nname = "etl"  # kept\n' in text
    assert "extra" not in text

    stale = shim(
        "scan",
        "etl",
        "extra",
        "-p",
        "src",
        "-o",
        "operations.toml",
        "--check",
        cwd=root,
    )
    assert stale.returncode == 1
    assert "error: `operations.toml` is stale" in stale.stderr
    assert manifest.read_text() == text


def test_refusals_exit_1_with_file_line_messages(tmp_path: Path, shim) -> None:
    root = project(tmp_path, {"bad.py": BAD, "operations.toml": "version = 1\n"})
    done = shim("scan", "bad", "-o", "operations.toml", cwd=root)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "bad.py:4: operation `bad.one`: parameter `x` has no type annotation; annotate it (e.g. `x: str`) so the flow knows its type",
        "bad.py:8: operation `bad.two`: parameter `*rest` is variadic; opflow passes every argument by name, so list the parameters one by one",
        "error: 2 problems found; no manifest written",
    ]
    assert (root / "operations.toml").read_text() == "version = 1\n"


def test_none_default_refused_in_toml_written_in_yaml(tmp_path: Path, shim) -> None:
    source = "from opflow import operation\n\n@operation(name='o.f')\ndef f(x: str | None = None) -> None:\n    pass\n"
    root = project(tmp_path, {"opt.py": source})
    done = shim("scan", "opt", cwd=root)
    assert done.returncode == 1
    assert done.stderr.startswith(
        "opt.py:4: operation `o.f`: parameter `x` defaults to None"
    )
    done = shim("scan", "opt", "--format", "yaml", cwd=root)
    assert done.returncode == 0, done.stderr
    assert 'x: { type: "str | None", default: null }' in done.stdout


def test_usage_errors_exit_2(tmp_path: Path, shim) -> None:
    root = project(tmp_path, {"etl.py": GOOD})
    cases = [
        (["scan"], "error: the following arguments are required: MODULE"),
        (
            ["scan", "etl", "--format", "xml"],
            "error: argument --format: invalid choice",
        ),
        (["scan", "nowhere"], "error: no module named `nowhere`"),
        (
            ["scan", "etl", "-o", "x.toml", "--format", "yaml"],
            "error: --format yaml does not match `x.toml`",
        ),
        (["scan", "etl", "--check"], "error: --check needs -o FILE"),
    ]
    for args, message in cases:
        done = shim(*args, cwd=root)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert done.stdout == ""


def test_other_commands_need_the_binary(tmp_path: Path, shim) -> None:
    # Every command but `scan` goes to the `opflow` binary (tests/python/
    # test_dist.py runs it installed); this Python has none, nor has PATH.
    for args in [[], ["--version"], ["build"]]:
        done = shim(*args, cwd=tmp_path, env={"PATH": str(tmp_path)})
        assert done.returncode == 1, (args, done.stderr)
        assert done.stderr.startswith(
            "error: the `opflow` binary is not installed beside this Python package"
        ), done.stderr
        assert "`python -m opflow scan` works without it" in done.stderr
        assert done.stdout == ""


def test_nothing_to_scan_exits_1(tmp_path: Path, shim) -> None:
    root = project(tmp_path, {"empty.py": "x = 1\n"})
    done = shim("scan", "empty", cwd=root)
    assert done.returncode == 1
    assert (
        done.stderr
        == "error: no function decorated with @operation in empty; no manifest written\n"
    )


def test_an_existing_manifest_that_cannot_be_merged_is_left_alone(
    tmp_path: Path, shim
) -> None:
    root = project(tmp_path, {"etl.py": GOOD, "operations.toml": "[project\n"})
    done = shim("scan", "etl", "-o", "operations.toml", cwd=root)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(
        "error: cannot merge into `operations.toml`: it is not valid TOML"
    )
    assert (root / "operations.toml").read_text() == "[project\n"


def test_format_follows_the_file_name(tmp_path: Path, shim) -> None:
    root = project(tmp_path, {"etl.py": GOOD})
    assert shim("scan", "etl", "-o", "ops.yaml", cwd=root).returncode == 0
    assert (
        (root / "ops.yaml")
        .read_text()
        .startswith("# yaml-language-server: $schema=opflow.schema.json\nversion: 1\n")
    )
    assert shim("scan", "etl", "-o", "ops.json", cwd=root).returncode == 0
    assert (
        (root / "ops.json")
        .read_text()
        .startswith('{\n  "version": 1,\n  "operations": [\n')
    )
    assert (
        shim(
            "scan", "etl", "-o", "ops.toml", "--schema", "../s.json", cwd=root
        ).returncode
        == 0
    )
    assert (
        (root / "ops.toml").read_text().startswith("#:schema ../s.json\nversion = 1\n")
    )
