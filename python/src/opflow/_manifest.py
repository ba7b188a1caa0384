"""Write the manifest: TOML (every value by tomli-w), YAML or JSON.

Scanning into an existing manifest keeps everything that is not an operation:
its first-line schema directive, `version`, `[project]`, `[defaults]`,
`[flows.*]`, `[deploy]` and the comments around them, as they were written.
The operations are replaced: every `[[operations]]` table goes, with the
comment lines directly above it, and the scanned operations follow the kept
text, sorted by name.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import tomli_w

from opflow._scan import Operation, Refusal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

FORMATS = ("toml", "yaml", "json")
DEFAULT_SCHEMA = "opflow.schema.json"
TOML_DIRECTIVE = "#:schema "
YAML_DIRECTIVE = "# yaml-language-server: $schema="


class ManifestError(Exception):
    """An existing manifest that cannot be read or merged into."""


@dataclass
class Written:
    """The manifest's text, and the operations the existing file had that the
    scan no longer found."""

    text: str
    gone: list[str]


def format_for(path: str | None) -> str:
    """The format a manifest's file name implies (TOML unless .yaml/.yml/.json)."""
    if path is not None:
        lowered = path.lower()
        if lowered.endswith((".yaml", ".yml")):
            return "yaml"
        if lowered.endswith(".json"):
            return "json"
    return "toml"


# The data of an operation ------------------------------------------------------


def operation_data(op: Operation) -> dict[str, Any]:
    """The operation's keys in the manifest's order, defaults left out."""
    data: dict[str, Any] = {"name": op.name, "call": op.call}
    if op.is_async:
        data["async"] = True
    if op.params:
        params: dict[str, Any] = {}
        for param in op.params:
            if not param.has_default and param.source is None:
                params[param.name] = param.type
                continue
            table: dict[str, Any] = {"type": param.type}
            if param.has_default:
                table["default"] = param.default
            if param.source is not None:
                table["from"] = param.source
            params[param.name] = table
        data["params"] = params
    if op.returns is not None:
        data["returns"] = op.returns
    if op.outputs:
        data["outputs"] = dict(op.outputs)
    if op.depends_on:
        data["depends_on"] = list(op.depends_on)
    for key in (
        "executor",
        "retries",
        "retry_delay_seconds",
        "timeout_seconds",
        "cache",
        "cache_expiration_seconds",
    ):
        value = getattr(op, key)
        if value is not None:
            data[key] = value
    if op.tags:
        data["tags"] = list(op.tags)
    if op.doc is not None:
        data["doc"] = op.doc
    return data


def _nonfinite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _beyond_64_bits(value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not -(2**63) <= value < 2**64
    )


# What each format cannot hold: (test, what the value is, formats, how to fix).
_UNWRITABLE = [
    (
        lambda v: v is None,
        "None, which a TOML manifest cannot hold (TOML has no null)",
        ("toml",),
        "make the parameter required or give it a default other than None",
    ),
    (
        _nonfinite,
        "nan or infinity, which a {fmt} manifest cannot hold",
        ("json", "yaml"),
        "write the manifest as TOML",
    ),
    (
        _beyond_64_bits,
        "an integer beyond 64 bits, which opflow reads inexactly from YAML",
        ("yaml",),
        "write the manifest as TOML or JSON",
    ),
]


def format_refusals(operations: Sequence[Operation], fmt: str) -> list[Refusal]:
    """Defaults the chosen format cannot hold."""
    refusals: list[Refusal] = []
    for op in operations:
        for param in op.params:
            if not param.has_default:
                continue
            for test, what, formats, fix in _UNWRITABLE:
                if fmt not in formats or not _contains(param.default, test):
                    continue
                held = "" if test(param.default) else "a value holding "
                refusals.append(
                    Refusal(
                        op.file,
                        param.line,
                        f"operation `{op.name}`: parameter `{param.name}` defaults to "
                        f"{held}{what.format(fmt=fmt.upper())}; {fix}",
                    )
                )
    return refusals


def _contains(value: Any, test: Any) -> bool:
    if test(value):
        return True
    if isinstance(value, list):
        return any(_contains(item, test) for item in value)
    if isinstance(value, dict):
        return any(_contains(item, test) for item in value.values())
    return False


def write(
    operations: Sequence[Operation],
    fmt: str,
    existing: str | None = None,
    schema: str | None = None,
) -> Written:
    """The manifest holding `operations`, merged into the `existing` text if any.
    `schema` overrides the directive; by default the existing file's is kept."""
    data = [operation_data(op) for op in operations]
    if fmt == "toml":
        return _write_toml(data, existing, schema)
    if fmt == "yaml":
        return _write_yaml(data, existing, schema)
    if fmt == "json":
        return _write_json(data, existing)
    raise ValueError(f"unknown format {fmt!r}")


def _gone(old: list[str], data: list[dict[str, Any]]) -> list[str]:
    new = {op["name"] for op in data}
    return sorted({name for name in old if name not in new})


# TOML ----------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    """A value as TOML, inline: scalars and keys by tomli-w, tables inline."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    line = tomli_w.dumps({"v": value})
    assert line.startswith("v = ") and line.endswith("\n"), line
    return line[len("v = ") : -1]


def toml_key(key: str) -> str:
    line = tomli_w.dumps({key: 0})
    assert line.endswith(" = 0\n"), line
    return line[: -len(" = 0\n")]


def toml_operation(op: dict[str, Any]) -> str:
    return "[[operations]]\n" + "".join(
        f"{toml_key(k)} = {toml_value(v)}\n" for k, v in op.items()
    )


def _write_toml(
    data: list[dict[str, Any]], existing: str | None, schema: str | None
) -> Written:
    old_doc: dict[str, Any] = {}
    directive = None
    kept = "version = 1\n"
    if existing is not None:
        try:
            old_doc = tomllib.loads(existing)
        except tomllib.TOMLDecodeError as error:
            raise ManifestError(f"it is not valid TOML ({error})") from None
        _check_version(old_doc.get("version"))
        directive, kept = _toml_without_operations(existing)
        if "version" not in old_doc:
            kept = "version = 1\n" + ("\n" if kept.strip() else "") + kept
    ref = schema or directive or DEFAULT_SCHEMA
    text = f"{TOML_DIRECTIVE}{ref}\n" + kept
    for op in data:
        text += "\n" + toml_operation(op)
    _verify_toml(text, old_doc, data)
    old_names = [
        op.get("name") for op in old_doc.get("operations", []) if isinstance(op, dict)
    ]
    return Written(text, _gone([n for n in old_names if isinstance(n, str)], data))


def _check_version(version: Any) -> None:
    if version is not None and version != 1:
        raise ManifestError(
            f"it has `version = {version!r}`, and this scanner writes version 1; "
            "update opflow's Python package"
        )


def _verify_toml(
    text: str, old_doc: dict[str, Any], data: list[dict[str, Any]]
) -> None:
    """The written text reads back as exactly what was meant (a guard against
    any escaping or merging mistake: never write a manifest that says otherwise)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise AssertionError(f"opflow wrote invalid TOML ({error}):\n{text}") from None
    expected = {k: v for k, v in old_doc.items() if k != "operations"}
    expected["version"] = 1
    expected["operations"] = data
    if not _same(doc, expected):
        raise AssertionError(f"opflow's TOML does not read back as written:\n{text}")


def _same(a: Any, b: Any) -> bool:
    if (
        isinstance(a, float)
        and isinstance(b, float)
        and math.isnan(a)
        and math.isnan(b)
    ):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


_KEY_PART = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*""")


def _first_key(text: str) -> tuple[str | None, int]:
    """The first segment of the key `text` starts with, and where the whole
    (dotted) key ends."""
    match = _KEY_PART.match(text)
    if not match:
        return None, 0
    first = _unquote_key(match.group(1))
    end = match.end()
    while end < len(text) and text[end] == ".":
        more = _KEY_PART.match(text, end + 1)
        if not more:
            break
        end = more.end()
    return first, end


def _unquote_key(part: str) -> str:
    if part.startswith('"'):
        try:
            return tomllib.loads(f"k = {part}")["k"]
        except tomllib.TOMLDecodeError:
            return part
    if part.startswith("'"):
        return part[1:-1]
    return part


@dataclass
class _Chunk:
    kind: str  # blank, comment, header, keyval
    key: str | None
    start: int
    end: int


def _value_end(lines: list[str], index: int, pos: int) -> int:
    """The line after the one where the value starting at `lines[index][pos:]` ends."""
    depth = 0
    mode: str | None = None  # inside a multi-line string: its quotes
    line_no = index
    while line_no < len(lines):
        line = lines[line_no]
        j = pos if line_no == index else 0
        while j < len(line):
            if mode is not None:
                if mode == '"""' and line[j] == "\\":
                    j += 2
                elif line.startswith(mode, j):
                    j += 3
                    while j < len(line) and line[j] == mode[0]:
                        j += 1
                    mode = None
                else:
                    j += 1
                continue
            char = line[j]
            if char == "#":
                break
            if line.startswith('"""', j) or line.startswith("'''", j):
                mode = line[j : j + 3]
                j += 3
            elif char == '"':
                j += 1
                while j < len(line) and line[j] != '"':
                    j += 2 if line[j] == "\\" else 1
                j += 1
            elif char == "'":
                end = line.find("'", j + 1)
                j = len(line) if end < 0 else end + 1
            else:
                if char in "[{":
                    depth += 1
                elif char in "]}":
                    depth -= 1
                j += 1
        line_no += 1
        if mode is None and depth <= 0:
            return line_no
    return len(lines)


def _toml_chunks(lines: list[str]) -> list[_Chunk]:
    chunks: list[_Chunk] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped:
            chunks.append(_Chunk("blank", None, i, i + 1))
            i += 1
        elif stripped.startswith("#"):
            chunks.append(_Chunk("comment", None, i, i + 1))
            i += 1
        elif stripped.startswith("["):
            key, _ = _first_key(stripped.lstrip("["))
            chunks.append(_Chunk("header", key, i, i + 1))
            i += 1
        else:
            offset = len(lines[i]) - len(lines[i].lstrip())
            key, end = _first_key(lines[i][offset:])
            equals = lines[i].find("=", offset + end)
            stop = _value_end(lines, i, equals + 1 if equals >= 0 else len(lines[i]))
            chunks.append(_Chunk("keyval", key, i, stop))
            i = stop
    return chunks


def _toml_without_operations(text: str) -> tuple[str | None, str]:
    """The file's first-line directive (if any) and the rest of its text
    without the operations."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    directive = None
    if lines and lines[0].startswith(TOML_DIRECTIVE):
        directive = lines[0][len(TOML_DIRECTIVE) :].strip() or None
        lines = lines[1:]
    chunks = _toml_chunks(lines)
    # Which table each chunk belongs to; comment lines right above a header
    # belong to that header's table.
    owner: list[str | None] = []
    table: str | None = None
    for chunk in chunks:
        if chunk.kind == "header":
            table = chunk.key
        owner.append(table)
    for index, chunk in enumerate(chunks):
        if chunk.kind != "header":
            continue
        back = index - 1
        while back >= 0 and chunks[back].kind == "comment":
            owner[back] = chunk.key
            back -= 1
    dropped = [
        owner[i] == "operations" or (owner[i] is None and chunk.key == "operations")
        for i, chunk in enumerate(chunks)
    ]
    return directive, _join_kept(lines, chunks, dropped)


def _join_kept(
    lines: list[str], chunks: Sequence[_Chunk], dropped: Sequence[bool]
) -> str:
    """The kept chunks' lines; where something was dropped, no doubled blank line."""
    out: list[str] = []
    gap = False
    for chunk, drop in zip(chunks, dropped):
        if drop:
            gap = True
            continue
        if chunk.kind == "blank" and gap and (not out or not out[-1].strip()):
            continue
        out.extend(lines[chunk.start : chunk.end])
        if chunk.kind != "blank":
            gap = False
    while out and not out[-1].strip():
        out.pop()
    return "".join(out)


# YAML ----------------------------------------------------------------------------

_YAML_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_ .()/'-]*\Z")
_YAML_SPECIAL = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}
_YAML_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\0": "\\0",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}


def yaml_string(text: str) -> str:
    """A string as a YAML scalar: plain when that cannot be misread, else
    double-quoted with every character outside YAML's printable set escaped."""
    if (
        _YAML_PLAIN.match(text)
        and not text.endswith(" ")
        and text.lower() not in _YAML_SPECIAL
        and "  " not in text
    ):
        return text
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _YAML_ESCAPES:
            out.append(_YAML_ESCAPES[char])
        elif (
            code < 0x20
            or 0x7F <= code <= 0x9F
            or 0xD800 <= code <= 0xDFFF
            or code in (0xFEFF, 0xFFFE, 0xFFFF)
        ):
            out.append(f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def yaml_value(value: Any) -> str:
    """A value as YAML in flow style (one line)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        mantissa, _, exponent = text.partition("e")
        if "." not in mantissa:  # YAML 1.1 readers want a dot: 1e+16 -> 1.0e+16
            text = mantissa + ".0" + ("e" + exponent if exponent else "")
        return text
    if isinstance(value, str):
        return yaml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return (
            "{ "
            + ", ".join(f"{yaml_string(k)}: {yaml_value(v)}" for k, v in value.items())
            + " }"
        )
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def yaml_operation(op: dict[str, Any]) -> str:
    lines: list[str] = []
    for key, value in op.items():
        lead = "  - " if not lines else "    "
        if key in ("params", "outputs"):
            lines.append(f"{lead}{key}:")
            lines.extend(
                f"      {yaml_string(k)}: {yaml_value(v)}" for k, v in value.items()
            )
        else:
            lines.append(f"{lead}{key}: {yaml_value(value)}")
    return "\n".join(lines) + "\n"


_YAML_KEY = re.compile(
    r"""(?P<key>[A-Za-z_$][A-Za-z0-9_-]*|"(?:[^"\\]|\\.)*"|'(?:[^']|'')*')[ \t]*:(?:[ \t]|$)"""
)


def _yaml_chunks(lines: list[str]) -> list[_Chunk]:
    chunks: list[_Chunk] = []
    for i, line in enumerate(lines):
        if not line.strip():
            chunks.append(_Chunk("blank", None, i, i + 1))
        elif line[0] in " \t":
            chunks.append(_Chunk("inner", None, i, i + 1))
        elif line.startswith("#"):
            chunks.append(_Chunk("comment", None, i, i + 1))
        elif line.startswith(("---", "...")):
            chunks.append(_Chunk("marker", None, i, i + 1))
        else:
            match = _YAML_KEY.match(line)
            if not match:
                raise ManifestError(
                    f"line {i + 1} is not a top-level `key:` line; the scanner merges "
                    "into block-style YAML only"
                )
            key = match.group("key")
            if key[0] in "\"'":
                key = key[1:-1]
            chunks.append(_Chunk("header", key, i, i + 1))
    return chunks


def _yaml_scalar(text: str) -> str:
    text = text.strip()
    if text.startswith('"'):
        end = text.rfind('"')
        try:
            return json.loads(text[: end + 1])
        except ValueError:
            return text[1:end]
    if text.startswith("'"):
        end = text.rfind("'")
        return text[1:end].replace("''", "'")
    return re.split(r"\s+#", text, maxsplit=1)[0].strip()


def _yaml_operation_names(lines: list[str]) -> list[str]:
    """Names of the operations in the (block-style) lines of `operations:`."""
    names: list[str] = []
    key_column: int | None = None
    dash_column: int | None = None
    for line in lines:
        item = re.match(r"([ \t]*)-[ \t]+", line)
        if item and (dash_column is None or len(item.group(1)) == dash_column):
            dash_column = len(item.group(1))
            key_column = item.end()
            rest = line[item.end() :]
        elif key_column is not None and len(line) - len(line.lstrip()) == key_column:
            rest = line[key_column:]
        else:
            continue
        match = re.match(r"name[ \t]*:(.*)", rest)
        if match:
            names.append(_yaml_scalar(match.group(1)))
    return names


def _write_yaml(
    data: list[dict[str, Any]], existing: str | None, schema: str | None
) -> Written:
    directive = None
    kept = "version: 1\n"
    old_names: list[str] = []
    if existing is not None:
        lines = existing.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        if lines and lines[0].startswith(YAML_DIRECTIVE):
            directive = lines[0][len(YAML_DIRECTIVE) :].strip() or None
            lines = lines[1:]
        chunks = _yaml_chunks(lines)
        owner: list[str | None] = []
        current: str | None = None
        for chunk in chunks:
            if chunk.kind == "header":
                current = chunk.key
            owner.append(current)
        for index, chunk in enumerate(chunks):
            if chunk.kind == "header":
                back = index - 1
                while back >= 0 and chunks[back].kind == "comment":
                    owner[back] = chunk.key
                    back -= 1
        dropped = [key == "operations" for key in owner]
        old_names = _yaml_operation_names(
            [
                line
                for chunk, drop in zip(chunks, dropped)
                if drop
                for line in lines[chunk.start : chunk.end]
            ]
        )
        versions = [
            chunk
            for chunk in chunks
            if chunk.kind == "header" and chunk.key == "version"
        ]
        for chunk in versions:
            value = _yaml_scalar(lines[chunk.start].split(":", 1)[1])
            _check_version(int(value) if value.isdigit() else value)
        kept = _join_kept(lines, chunks, dropped)
        if not versions:
            kept = "version: 1\n" + ("\n" if kept.strip() else "") + kept
    ref = schema or directive or DEFAULT_SCHEMA
    text = f"{YAML_DIRECTIVE}{ref}\n" + kept
    if data:
        text += "\noperations:\n" + "\n".join(yaml_operation(op) for op in data)
    else:
        text += "\noperations: []\n"
    return Written(text, _gone(old_names, data))


# JSON ----------------------------------------------------------------------------


def _write_json(data: list[dict[str, Any]], existing: str | None) -> Written:
    doc: dict[str, Any] = {"version": 1}
    old_names: list[str] = []
    if existing is not None:
        try:
            old = json.loads(existing)
        except ValueError as error:
            raise ManifestError(f"it is not valid JSON ({error})") from None
        if not isinstance(old, dict):
            raise ManifestError("it is not a JSON object")
        _check_version(old.get("version"))
        for key, value in old.items():
            if key not in ("version", "operations"):
                doc[key] = value
        old_names = [
            op["name"]
            for op in old.get("operations") or []
            if isinstance(op, dict) and isinstance(op.get("name"), str)
        ]
    doc["operations"] = data
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return Written(text, _gone(old_names, data))
