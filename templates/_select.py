"""Selection: the part of a flow to run, in dbt's grammar.

The twin of opflow's own selection (`opflow plan --select`, `src/select.rs`),
for a flow run that is given a selection: `select(ops, text, exclude)` over a
plain description of the flow's operations, each a mapping with `name`,
`tags`, `flows` (the flows it belongs to) and `upstream` (the names it waits
for), in the flow's order.

- atoms: `NAME`, `PREFIX.*`, `tag:T`, `flow:F`;
- graph operators: `+X` (with its upstream), `X+` (with its downstream),
  `N+X` / `X+N` (so many steps), `+X+`;
- words are a union, parts joined by commas an intersection; `exclude` (the
  same syntax) is subtracted.

The same module, byte for byte, in every package opflow generates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

METHODS = ("tag", "flow")
DIGITS = "0123456789"
MAX_DEPTH = 2**64 - 1


@dataclasses.dataclass(frozen=True)
class Problem:
    """One bad term: its option, its text, a stable code, what is wrong and
    what to do (`suggestion`: the close name, when there is one)."""

    option: str
    term: str
    code: str
    message: str
    help: str
    suggestion: str | None = None


class SelectionError(ValueError):
    """A selection that cannot be made; `problems` lists every bad term."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(
            "\n".join(
                f"{p.option} {p.term!r}: {p.message} ({p.code}); {p.help}"
                for p in problems
            )
        )


@dataclasses.dataclass(frozen=True)
class Part:
    text: str
    kind: str
    value: str
    parents: tuple[int | None] | None
    children: tuple[int | None] | None


def select(
    ops: Sequence[Mapping[str, object]], text: str | None, exclude: str = ""
) -> list[str]:
    """The names of the selected operations, in the order of `ops`; `text`
    None selects every operation. Raises `SelectionError`."""
    names = [str(op["name"]) for op in ops]
    problems: list[Problem] = []
    if text is None:
        chosen: set[str] | None = set(names)
    elif not text.strip():
        problems.append(
            Problem(
                "--select",
                text,
                "opflow::select::empty",
                "the selection names nothing",
                "name operations: `NAME`, `PREFIX.*`, `tag:T`, `flow:F`",
            )
        )
        chosen = None
    else:
        chosen = _evaluate(ops, "--select", text, problems)
    removed = (
        _evaluate(ops, "--exclude", exclude, problems) if exclude.strip() else set()
    )
    if problems or chosen is None or removed is None:
        raise SelectionError(problems)
    selected = [name for name in names if name in chosen and name not in removed]
    if not selected:
        raise SelectionError(
            [
                Problem(
                    "--exclude",
                    exclude,
                    "opflow::select::empty",
                    "`--exclude` leaves nothing selected",
                    "exclude fewer operations, or select more",
                )
            ]
        )
    return selected


def _evaluate(
    ops: Sequence[Mapping[str, object]],
    option: str,
    text: str,
    problems: list[Problem],
) -> set[str] | None:
    before = len(problems)
    chosen: set[str] = set()
    for word in text.split():
        parts = []
        for piece in word.split(","):
            try:
                parts.append(_part(piece))
            except _Bad as bad:
                problems.append(
                    Problem(option, piece, "opflow::select::syntax", *bad.args)
                )
        if len(parts) != len(word.split(",")):
            continue
        result: set[str] | None = None
        whole = True
        for part in parts:
            found = _match(ops, option, part, problems)
            if found is None:
                whole = False
            else:
                result = found if result is None else result & found
        if not whole:
            continue
        if not result:
            problems.append(
                Problem(
                    option,
                    word,
                    "opflow::select::no_match",
                    "no operation matches every part",
                    "a comma is an intersection, a space a union",
                )
            )
            continue
        chosen |= result
    return None if len(problems) > before else chosen


class _Bad(Exception):
    """A malformed part: (message, help)."""


def _part(text: str) -> Part:
    if not text:
        raise _Bad(
            "an empty part",
            "a comma joins two parts of one term, without spaces: `tag:source,etl.*`",
        )
    rest = text
    digits = len(rest) - len(rest.lstrip(DIGITS))
    parents = None
    if digits or rest.startswith("+"):
        if not rest[digits:].startswith("+"):
            raise _Bad(
                "a depth is a number followed by `+`",
                "write `2+NAME` for NAME and two steps of its upstream",
            )
        parents = (_depth(rest[:digits]),)
        rest = rest[digits + 1 :]
    trailing = len(rest) - len(rest.rstrip(DIGITS))
    children = None
    if rest[: len(rest) - trailing].endswith("+"):
        end = len(rest) - trailing
        children = (_depth(rest[end:]),)
        rest = rest[: end - 1]
    if not rest:
        raise _Bad(
            "`+` with nothing to select",
            "put the operator beside what it applies to: `+NAME`, `NAME+`",
        )
    if "+" in rest:
        raise _Bad(
            "`+` comes only first or last, once each",
            "`+NAME` selects NAME and its upstream, `NAME+` its downstream",
        )
    if ":" in rest:
        method, value = rest.split(":", 1)
        if method not in METHODS:
            raise _Bad(
                f"no method `{method}`",
                "the methods are `tag:` (operations with a tag) and `flow:` (the operations of a flow)",
            )
        if not value:
            raise _Bad(
                f"`{method}:` names nothing",
                f"write the {method}'s name after the colon: `{method}:NAME`",
            )
        if method == "flow":
            _name(value)
        return Part(text, method, value, parents, children)
    if rest.endswith(".*"):
        _name(rest[:-2])
        return Part(text, "prefix", rest[:-2], parents, children)
    _name(rest)
    return Part(text, "name", rest, parents, children)


def _depth(digits: str) -> int | None:
    if not digits:
        return None
    depth = int(digits)
    if depth > MAX_DEPTH:
        raise _Bad("the depth is too large", "write a smaller number of steps")
    return depth


def _name(text: str) -> None:
    for segment in text.split("."):
        good = (
            segment
            and segment[0] not in DIGITS
            and all(c.isascii() and (c.isalnum() or c == "_") for c in segment)
        )
        if not good:
            if "*" in segment:
                message = "`*` comes only at the end, as `PREFIX.*`"
            elif not segment:
                message = "an empty name segment"
            else:
                message = "not an operation name"
            raise _Bad(
                message,
                "operation names are dot-separated identifiers (`etl.load`)",
            )


def _under(name: str, prefix: str) -> bool:
    return len(name) > len(prefix) + 1 and name.startswith(prefix + ".")


def _match(
    ops: Sequence[Mapping[str, object]],
    option: str,
    part: Part,
    problems: list[Problem],
) -> set[str] | None:
    names = [str(op["name"]) for op in ops]

    def hit(op: Mapping[str, object]) -> bool:
        name = str(op["name"])
        if part.kind == "name":
            return name == part.value
        if part.kind == "prefix":
            return _under(name, part.value)
        if part.kind == "tag":
            return part.value in _strings(op["tags"])
        return part.value in _strings(op["flows"])

    matched = [str(op["name"]) for op in ops if hit(op)]
    if not matched:
        message, help, suggestion = _no_match(ops, names, part)
        problems.append(
            Problem(
                option,
                part.text,
                "opflow::select::no_match",
                message,
                help,
                suggestion,
            )
        )
        return None
    found = set(matched)
    if part.parents is not None:
        up = {str(op["name"]): _strings(op["upstream"]) for op in ops}
        found |= _reach(matched, up, part.parents[0])
    if part.children is not None:
        down: dict[str, list[str]] = {name: [] for name in names}
        for op in ops:
            for producer in _strings(op["upstream"]):
                if producer in down:
                    down[producer].append(str(op["name"]))
        found |= _reach(matched, down, part.children[0])
    return found


def _no_match(
    ops: Sequence[Mapping[str, object]], names: list[str], part: Part
) -> tuple[str, str, str | None]:
    value = part.value
    if part.kind == "name":
        under = sum(1 for name in names if _under(name, value))
        if under:
            return (
                "no operation has this name",
                f"did you mean `{value}.*`? `{value}` is the prefix of {under} operations",
                f"{value}.*",
            )
        close = did_you_mean(value, names)
        return ("no operation has this name", _mean(close), close)
    if part.kind == "prefix" and value in names:
        return ("no operation is under this prefix", _mean(value), value)
    if part.kind == "prefix":
        prefixes = {name[:i] for name in names for i, c in enumerate(name) if c == "."}
        close = did_you_mean(value, sorted(prefixes))
        suggestion = f"{close}.*" if close else None
        return ("no operation is under this prefix", _mean(suggestion), suggestion)
    key = "tags" if part.kind == "tag" else "flows"
    known = sorted({t for op in ops for t in _strings(op[key])})
    close = did_you_mean(value, known)
    return (f"no operation has this {part.kind}", _mean(close), close)


def _mean(close: str | None) -> str:
    return f"did you mean `{close}`?" if close else "no close name"


def _strings(value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        return []
    return [str(item) for item in value]


def _reach(
    start: list[str], following: dict[str, list[str]], depth: int | None
) -> set[str]:
    seen = set(start)
    frontier = list(start)
    steps = 0
    while frontier and (depth is None or steps < depth):
        step = []
        for name in frontier:
            for other in following.get(name, []):
                if other not in seen:
                    seen.add(other)
                    step.append(other)
        frontier = step
        steps += 1
    return seen


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to `name` by Jaro-Winkler similarity (at least
    0.8; ties to the first in byte order), as opflow suggests names."""
    if not name:
        return None
    best: tuple[float, str] | None = None
    for candidate in candidates:
        if candidate == name:
            continue
        score = _jaro_winkler(name, candidate)
        if score < 0.8:
            continue
        if (
            best is None
            or score > best[0]
            or (score == best[0] and candidate < best[1])
        ):
            best = (score, candidate)
    return best[1] if best else None


def _jaro_winkler(a: str, b: str) -> float:
    sim = _jaro(a, b)
    if sim <= 0.7:
        return sim
    prefix = 0
    for x, y in zip(a[:4], b):
        if x != y:
            break
        prefix += 1
    return sim + 0.1 * prefix * (1.0 - sim)


def _jaro(a: str, b: str) -> float:
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    search = max(max(len(a), len(b)) // 2 - 1, 0)
    a_flags = [False] * len(a)
    b_flags = [False] * len(b)
    matches = 0
    for i, x in enumerate(a):
        low = i - search if i > search else 0
        high = min(len(b), i + search + 1)
        for j in range(low, high):
            if x == b[j] and not b_flags[j]:
                a_flags[i] = b_flags[j] = True
                matches += 1
                break
    if not matches:
        return 0.0
    transpositions = 0
    j = 0
    for i, x in enumerate(a):
        if a_flags[i]:
            while not b_flags[j]:
                j += 1
            if x != b[j]:
                transpositions += 1
            j += 1
    transpositions //= 2
    return (
        matches / len(a) + matches / len(b) + (matches - transpositions) / matches
    ) / 3.0
