"""Scrapers that read the shipped fixture pages instead of the network."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from jobs.models import Listing

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LATENCY_SECONDS = 0.2  # stands in for the network round trip


def _load(path: Path, source: str) -> list[Listing]:
    items = json.loads(path.read_text(encoding="utf-8"))
    return [Listing.from_dict(item, source=source) for item in items]


def _matching(listings: list[Listing], keywords: str) -> list[Listing]:
    words = keywords.casefold().split()
    return [x for x in listings if any(w in x.title.casefold() for w in words)]


async def fetch_stepstone(keywords: str) -> list[Listing]:
    """Listings from StepStone whose title contains any of the keywords."""
    await asyncio.sleep(LATENCY_SECONDS)
    return _matching(_load(FIXTURES / "stepstone.json", "stepstone"), keywords)


async def fetch_linkedin(keywords: str, pages: int = 2) -> list[Listing]:
    """Listings from the first `pages` LinkedIn result pages matching the keywords."""
    await asyncio.sleep(LATENCY_SECONDS)
    listings: list[Listing] = []
    for page in range(1, pages + 1):
        path = FIXTURES / f"linkedin_page{page}.json"
        if not path.exists():  # past the last page
            break
        listings += _load(path, "linkedin")
    return _matching(listings, keywords)
