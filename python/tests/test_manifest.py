"""Writing the manifest: key order, escaping (every value read back), and
rescanning into an existing manifest without losing anything but operations."""

from __future__ import annotations

import json
import math
import sys
from textwrap import dedent

import pytest
from opflow._manifest import (
    ManifestError,
    format_for,
    format_refusals,
    toml_value,
    write,
    yaml_string,
    yaml_value,
)
from opflow._scan import Operation, Param

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def op(name: str = "a.b", **fields: object) -> Operation:
    return Operation(
        name=name, call=f"m:{name.replace('.', '_')}", file="m.py", line=1, **fields
    )


FULL = op(
    "ml.fit",
    is_async=True,
    params=[
        Param("rows", "list[int]", 1),
        Param("ratio", "float", 2, has_default=True, default=0.5),
        Param("model", "float", 3, source="ml.base"),
        Param("seed", "int", 4, has_default=True, default=7, source="$seed"),
    ],
    outputs=[("weights", "list[float]"), ("score", "float")],
    depends_on=("ml.split", "ml.base"),
    executor="thread",
    retries=0,
    retry_delay_seconds=1.5,
    timeout_seconds=30,
    cache="inputs",
    cache_expiration_seconds=60,
    tags=("ml", "gpu"),
    doc='Fit "the" model.',
)


def test_toml_key_order_and_inline_tables() -> None:
    text = write([FULL, op("a.first", returns="int")], "toml").text
    assert text == dedent(
        """\
        #:schema opflow.schema.json
        version = 1

        [[operations]]
        name = "ml.fit"
        call = "m:ml_fit"
        async = true
        params = { rows = "list[int]", ratio = { type = "float", default = 0.5 }, model = { type = "float", from = "ml.base" }, seed = { type = "int", default = 7, from = "$seed" } }
        outputs = { weights = "list[float]", score = "float" }
        depends_on = ["ml.split", "ml.base"]
        executor = "thread"
        retries = 0
        retry_delay_seconds = 1.5
        timeout_seconds = 30
        cache = "inputs"
        cache_expiration_seconds = 60
        tags = ["ml", "gpu"]
        doc = "Fit \\"the\\" model."

        [[operations]]
        name = "a.first"
        call = "m:a_first"
        returns = "int"
        """
    )


def test_yaml_and_json_say_the_same() -> None:
    yaml = pytest.importorskip("yaml")
    operations = [FULL, op("a.first", returns="int")]
    from_toml = tomllib.loads(write(operations, "toml").text)
    from_yaml = yaml.safe_load(write(operations, "yaml").text)
    from_json = json.loads(write(operations, "json").text)
    assert from_toml == from_yaml == from_json
    assert write(operations, "yaml").text.startswith(
        "# yaml-language-server: $schema=opflow.schema.json\nversion: 1\n\noperations:\n  - name: ml.fit\n"
    )
    assert "$schema" not in write(operations, "json").text


HOSTILE = [
    'quote " and backslash \\ and \\n',
    "newline\nand\rreturn\ttab",
    "\x00\x01\x1f\x7f\x85\x9f nul and controls",
    "\u2028\u2029 separators \ufeff bom",
    "unicode: Grüße, 日本語, 🐍",
    "''' and \"\"\" and # not a comment",
    "]] [[operations]]\nname = 'injected'",
    "yes",
    "No",
    "null",
    "~",
    "",
    " leading and trailing ",
    "a: b",
    "- item",
    "{flow}",
    "1e3",
    "0x10",
    ".inf",
    "@at `tick` %pct &amp *star !bang |pipe >gt",
]

DEFAULTS = [
    0,
    -1,
    2**63,
    -(2**70),
    0.1,
    -0.0,
    1e300,
    1e-300,
    1e16,
    math.inf,
    -math.inf,
    True,
    False,
    "",
    [],
    {},
    [1, [2, [3.5, "x"]]],
    {"nested": {"list": [1, 2], "hostile key ]": "v"}, "": 1},
    *HOSTILE,
]


def _hostile_operation() -> Operation:
    return op(
        "h.x",
        params=[
            Param(f"p{i}", "Any", i, has_default=True, default=value)
            for i, value in enumerate(DEFAULTS)
        ],
        tags=tuple(HOSTILE),
        doc=HOSTILE[-1],
    )


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def test_toml_reads_back_every_value() -> None:
    operation = _hostile_operation()
    doc = tomllib.loads(write([operation], "toml").text)
    [read] = doc["operations"]
    for i, value in enumerate(DEFAULTS):
        assert _same(read["params"][f"p{i}"]["default"], value), value
    assert read["tags"] == HOSTILE
    for value in DEFAULTS:
        assert _same(tomllib.loads(f"v = {toml_value(value)}")["v"], value), value


def test_toml_nan() -> None:
    assert toml_value(math.nan) == "nan"
    operation = op(params=[Param("x", "float", 1, has_default=True, default=math.nan)])
    doc = tomllib.loads(write([operation], "toml").text)
    assert math.isnan(doc["operations"][0]["params"]["x"]["default"])


def test_yaml_reads_back_every_value() -> None:
    yaml = pytest.importorskip("yaml")
    for value in [*DEFAULTS, None, math.nan, [None, {"k": None}]]:
        text = f"v: {yaml_value(value)}\n"
        read = yaml.safe_load(text)["v"]
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(read)
        else:
            assert _same(read, value), (value, text, read)
    doc = yaml.safe_load(write([_hostile_operation()], "yaml").text)
    assert doc["operations"][0]["tags"] == HOSTILE
    assert doc["operations"][0]["doc"] == HOSTILE[-1]


def test_yaml_plain_strings_only_where_safe() -> None:
    assert yaml_string("scraping.stepstone.fetch") == "scraping.stepstone.fetch"
    assert (
        yaml_string("Fetch listings (all pages) from the site.")
        == "Fetch listings (all pages) from the site."
    )
    assert yaml_string("jobs.scrapers:fetch") == '"jobs.scrapers:fetch"'
    assert yaml_string("list[int]") == '"list[int]"'
    assert yaml_string("str | None") == '"str | None"'
    assert yaml_string("yes") == '"yes"'
    assert yaml_string("a,b") == '"a,b"'


def test_json_is_plain_json() -> None:
    text = write([FULL], "json").text
    doc = json.loads(text)
    assert list(doc) == ["version", "operations"]
    assert doc["operations"][0]["params"]["ratio"] == {"type": "float", "default": 0.5}
    assert text.endswith("}\n")


def test_formats_refuse_defaults_they_cannot_hold() -> None:
    operations = [
        op(
            "a.b",
            params=[
                Param("maybe", "str | None", 7, has_default=True, default=None),
                Param(
                    "inner", "list[int | None]", 8, has_default=True, default=[1, None]
                ),
                Param("big", "float", 9, has_default=True, default=math.inf),
                Param("huge", "int", 10, has_default=True, default=2**64),
                Param("fits", "int", 11, has_default=True, default=2**64 - 1),
            ],
        )
    ]
    prefix = "m.py:{}: operation `a.b`: parameter `{}` defaults to "
    assert [str(r) for r in format_refusals(operations, "toml")] == [
        prefix.format(7, "maybe")
        + "None, which a TOML manifest cannot hold (TOML has no null); make the "
        "parameter required or give it a default other than None",
        prefix.format(8, "inner")
        + "a value holding None, which a TOML manifest cannot hold (TOML has no "
        "null); make the parameter required or give it a default other than None",
    ]
    assert [str(r) for r in format_refusals(operations, "json")] == [
        prefix.format(9, "big")
        + "nan or infinity, which a JSON manifest cannot hold; write the manifest as TOML",
    ]
    assert [str(r) for r in format_refusals(operations, "yaml")] == [
        prefix.format(9, "big")
        + "nan or infinity, which a YAML manifest cannot hold; write the manifest as TOML",
        prefix.format(10, "huge")
        + "an integer beyond 64 bits, which opflow reads inexactly from YAML; write "
        "the manifest as TOML or JSON",
    ]
    assert (
        'maybe: { type: "str | None", default: null }' in write(operations, "yaml").text
    )


def test_format_from_the_file_name() -> None:
    assert format_for(None) == "toml"
    assert format_for("operations.toml") == "toml"
    assert format_for("ops.YAML") == format_for("ops.yml") == "yaml"
    assert format_for("ops.json") == "json"
    assert format_for("manifest") == "toml"


# Rescanning ------------------------------------------------------------------

EXISTING = dedent(
    '''\
    #:schema ../schema/opflow.schema.json
    # A manifest someone wrote by hand.
    version = 1

    [project]
    name = "jobs"   # the project
    python_path = [
      ".",
      "src",   # [[operations]] in a comment
    ]

    # Settings every operation inherits.
    [defaults]
    retries = 1

    # This comment belongs to the first operation and goes with it.
    [[operations]]
    name = "old.gone"
    call = "m:gone"
    doc = """
    [[operations]]
    a multi-line string that looks like a header
    """

    [[operations]]
    name = "a.b"
    call = "m:old"
    params = { x = { type = "int", default = [
      1,
    ] } }

    [flows.old]   # after the operations: kept, moved above them
    description = 'single [quoted] \\ string'

    [[operations]]
    name = "also.gone"
    call = "m:also"

    [deploy]
    work_pool = "pool"
    '''
)

KEPT = dedent(
    """\
    #:schema ../schema/opflow.schema.json
    # A manifest someone wrote by hand.
    version = 1

    [project]
    name = "jobs"   # the project
    python_path = [
      ".",
      "src",   # [[operations]] in a comment
    ]

    # Settings every operation inherits.
    [defaults]
    retries = 1

    [flows.old]   # after the operations: kept, moved above them
    description = 'single [quoted] \\ string'

    [deploy]
    work_pool = "pool"

    [[operations]]
    name = "a.b"
    call = "m:a_b"
    returns = "int"
    """
)


def test_rescan_keeps_everything_but_the_operations() -> None:
    written = write([op("a.b", returns="int")], "toml", EXISTING)
    assert written.text == KEPT
    assert written.gone == ["also.gone", "old.gone"]


def test_rescan_is_stable() -> None:
    first = write([op("a.b", returns="int")], "toml", EXISTING).text
    again = write([op("a.b", returns="int")], "toml", first)
    assert again.text == first
    assert again.gone == []


def test_rescan_directive_and_version() -> None:
    bare = '[project]\nname = "x"\n'
    assert write([op()], "toml", bare).text.startswith(
        '#:schema opflow.schema.json\nversion = 1\n\n[project]\nname = "x"\n\n[[operations]]\n'
    )
    assert write([op()], "toml", bare, schema="s.json").text.startswith(
        "#:schema s.json\n"
    )
    assert write([op()], "toml", KEPT, schema="other.json").text.startswith(
        "#:schema other.json\n# A manifest someone wrote by hand.\nversion = 1\n"
    )


def test_rescan_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ManifestError, match=r"it is not valid TOML"):
        write([op()], "toml", "[project\n")
    with pytest.raises(ManifestError, match=r"it has `version = 2`"):
        write([op()], "toml", "version = 2\n")
    with pytest.raises(ManifestError, match=r"it is not valid JSON"):
        write([op()], "json", "{")
    with pytest.raises(ManifestError, match=r"line 2 is not a top-level `key:` line"):
        write([op()], "yaml", "version: 1\n{project: {}}\n")


def test_rescan_yaml() -> None:
    existing = dedent(
        """\
        # yaml-language-server: $schema=../schema.json
        version: 1
        project:
          name: jobs  # the project
        # about the operations: goes with them
        operations:
          - name: old.gone
            call: "m:gone"
            params:
              name: str   # a parameter called name is not an operation
          # between operations
          - call: "m:old"
            name: 'a.b'
        defaults:
          retries: 1
        """
    )
    written = write([op("a.b", returns="int")], "yaml", existing)
    assert written.text == dedent(
        """\
        # yaml-language-server: $schema=../schema.json
        version: 1
        project:
          name: jobs  # the project
        defaults:
          retries: 1

        operations:
          - name: a.b
            call: "m:a_b"
            returns: int
        """
    )
    assert written.gone == ["old.gone"]
    assert write([op("a.b", returns="int")], "yaml", written.text).text == written.text


def test_rescan_json() -> None:
    existing = json.dumps(
        {
            "project": {"name": "jobs"},
            "version": 1,
            "operations": [{"name": "old.gone", "call": "m:x"}],
            "deploy": {"work_pool": "p"},
        }
    )
    written = write([op()], "json", existing)
    doc = json.loads(written.text)
    assert list(doc) == ["version", "project", "deploy", "operations"]
    assert doc["project"] == {"name": "jobs"}
    assert written.gone == ["old.gone"]
