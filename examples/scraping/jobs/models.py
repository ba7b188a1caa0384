"""The one data type the operations pass between them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Listing:
    """A job listing as one source publishes it."""

    title: str
    company: str
    location: str
    url: str
    source: str

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | None = None) -> Listing:
        """Build a listing from a JSON object; `source` overrides `data["source"]`."""
        return cls(
            title=data["title"],
            company=data["company"],
            location=data["location"],
            url=data["url"],
            source=source if source is not None else data["source"],
        )

    def to_dict(self) -> dict[str, str]:
        """The listing as a JSON-serialisable dict (inverse of `from_dict`)."""
        return asdict(self)
