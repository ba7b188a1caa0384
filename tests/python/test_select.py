"""The selection grammar's Python twin, `_select.py`, as a generated package
carries it: every case of `tests/select/corpus.toml` gives the same names, or
the same problems, as the compiler's own selection (`src/select.rs`, whose
tests read the same corpus)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from types import ModuleType

import pytest
from conftest import OPFLOW, ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

CORPUS = tomllib.loads((ROOT / "tests" / "select" / "corpus.toml").read_text())
SUGGESTION = re.compile(r"did you mean `([^`]*)`")


@pytest.fixture(scope="module")
def select_module(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """`_select` imported from the package opflow builds for the corpus's manifest."""
    root = tmp_path_factory.mktemp("select")
    (root / "operations.toml").write_text(CORPUS["manifest"])
    done = subprocess.run(
        [str(OPFLOW), "build"], cwd=root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    path = root / "run_cache" / "orchestration" / "_select.py"
    assert (
        path.read_text().split("\n", 2)[2]
        == (ROOT / "templates" / "_select.py").read_text()
    )
    spec = importlib.util.spec_from_file_location("_select", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered first, as an import would: dataclasses look their module up.
    sys.modules["_select"] = module
    spec.loader.exec_module(module)
    return module


def case_id(case: dict) -> str:
    return f"select={case.get('select')!r} exclude={case.get('exclude', '')!r}"


@pytest.mark.parametrize("case", CORPUS["cases"], ids=case_id)
def test_corpus_case(select_module: ModuleType, case: dict) -> None:
    flow = case.get("flow", "all")
    ops = [op for op in CORPUS["graph"] if flow in op["flows"]]
    select, error = select_module.select, select_module.SelectionError
    if "expect" in case:
        assert (
            select(ops, case.get("select"), case.get("exclude", "")) == case["expect"]
        )
        return
    with pytest.raises(error) as raised:
        select(ops, case.get("select"), case.get("exclude", ""))
    found = []
    for problem in raised.value.problems:
        entry = {"option": problem.option, "code": problem.code, "term": problem.term}
        suggestion = SUGGESTION.search(problem.help)
        if suggestion:
            entry["suggest"] = suggestion.group(1)
        found.append(entry)
    assert found == case["errors"]
    # The message names every bad term, and the close name when there is one.
    message = str(raised.value)
    for expected in case["errors"]:
        assert repr(expected["term"]) in message
        if "suggest" in expected:
            assert f"did you mean `{expected['suggest']}`?" in message


def test_suggestions_are_the_compilers(select_module: ModuleType) -> None:
    """Jaro-Winkler as `strsim` computes it (the compiler's "did you mean"),
    with the same threshold and tie-break."""
    did_you_mean = select_module.did_you_mean
    names = ["scraping.merge", "scraping.stepstone.fetch", "scraping.linkedin.fetch"]
    assert did_you_mean("scraping.merg", names) == "scraping.merge"
    assert did_you_mean("scraping.linkdin.fetch", names) == "scraping.linkedin.fetch"
    assert did_you_mean("billing", names) is None
    assert did_you_mean("", names) is None
    assert did_you_mean("ab", ["ac", "ad"]) is None
    assert select_module._jaro_winkler("cheeseburger", "cheese fries") == pytest.approx(
        0.866, abs=0.001
    )
