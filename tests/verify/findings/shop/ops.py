from __future__ import annotations

from typing import Any

from shop.models import Split


def greet(shout: bool, name: str) -> str:
    return name.upper() if shout else name


async def fetch(url: str) -> bytes:
    return url.encode()


def load(data: bytes) -> int:
    return len(data)


def split(text: str, /, sep: str = ",") -> Split:
    parts = text.split(sep)
    return Split(parts, len(parts))


def count(items: list[int], *args: Any) -> int:
    return len(items) + len(args)


def anything(**options: Any) -> dict[str, Any]:
    return options


def pair(text: str) -> tuple[str, int]:
    return text, len(text)
