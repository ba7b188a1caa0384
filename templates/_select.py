"""Selections of a flow's operations (README: Running part of a flow).

The same module, byte for byte, in every package opflow generates.
"""

from typing import Any


class SelectionError(ValueError):
    """A selection that names nothing, or cannot be read."""


def select(ops: list[dict[str, Any]], text: str, exclude: str = "") -> list[str]:
    """The names of the operations `text` selects and `exclude` does not."""
    names = [op["name"] for op in ops]
    up = {op["name"]: op["upstream"] for op in ops}
    down: dict[str, list[str]] = {}
    for op in ops:
        for u in op["upstream"]:
            down.setdefault(u, []).append(op["name"])

    def closure(start: str, edges: dict[str, list[str]]) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for n in edges.get(todo.pop(), []):
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen

    def term(word: str) -> set[str]:
        result: set[str] | None = None
        for part in word.split(","):
            before = part.startswith("+")
            after = part.endswith("+")
            core = part.strip("+")
            if core.startswith("tag:"):
                atom = {op["name"] for op in ops if core[4:] in op["tags"]}
            elif core.endswith(".*"):
                atom = {n for n in names if n.startswith(core[:-1])}
            else:
                atom = {core} if core in up else set()
            if not atom:
                raise SelectionError(f"`{part}` selects no operation")
            full = set(atom)
            for n in atom:
                if before:
                    full |= closure(n, up)
                if after:
                    full |= closure(n, down)
            result = full if result is None else result & full
        return result or set()

    chosen: set[str] = set()
    for word in text.split():
        chosen |= term(word)
    if not text.split():
        chosen = set(names)
    for word in exclude.split():
        chosen -= term(word)
    if not chosen:
        raise SelectionError("the selection is empty")
    return [n for n in names if n in chosen]
