"""Combine the sources into one de-duplicated, sorted list."""

from __future__ import annotations

from opflow import operation

from jobs.models import Listing


@operation(name="scraping.merge")
def merge(stepstone: list[Listing], linkedin: list[Listing]) -> list[Listing]:
    """Drop duplicate listings and sort them by company and title.

    Two listings are duplicates when they have the same title and company,
    ignoring case; the first one wins.
    """
    seen: set[tuple[str, str]] = set()
    merged: list[Listing] = []
    for listing in [*stepstone, *linkedin]:
        key = (listing.title.casefold(), listing.company.casefold())
        if key not in seen:
            seen.add(key)
            merged.append(listing)
    return sorted(merged, key=lambda x: (x.company.casefold(), x.title.casefold()))
