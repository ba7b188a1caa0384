"""Combine the sources into one de-duplicated, sorted list."""

from __future__ import annotations

from jobs.models import Listing


def merge(stepstone: list[Listing], linkedin: list[Listing]) -> list[Listing]:
    """Drop duplicates (same title and company, ignoring case; first one wins), sort."""
    seen: set[tuple[str, str]] = set()
    merged: list[Listing] = []
    for listing in [*stepstone, *linkedin]:
        key = (listing.title.casefold(), listing.company.casefold())
        if key not in seen:
            seen.add(key)
            merged.append(listing)
    return sorted(merged, key=lambda x: (x.company.casefold(), x.title.casefold()))
