from __future__ import annotations

from typing import NamedTuple


class Split(NamedTuple):
    head: list[str]
    count: int


LIMIT = 10
