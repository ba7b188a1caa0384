from __future__ import annotations

from typing import Any, Optional

from shop.models import Split


def greet(shout: bool, name: str, punctuation: str = "!") -> str:
    return (name.upper() if shout else name) + punctuation


async def fetch(url: str) -> bytes:
    return url.encode()


def split(text: str, sep: str = ",") -> Split:
    parts = text.split(sep)
    return Split(parts, len(parts))


def anything(**options: Any) -> dict[str, Any]:
    return options


def maybe(count: Optional[int], items) -> "list[int]":  # noqa: UP037, UP045 - the spellings opflow normalises
    return [count or 0, *items]
