"""Scrapers that read the shipped fixture pages instead of the network."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from opflow import operation

from jobs.models import Listing

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LATENCY_SECONDS = 0.2  # stands in for the network round trip


def _load(path: Path, source: str) -> list[Listing]:
    items = json.loads(path.read_text(encoding="utf-8"))
    return [Listing.from_dict(item, source=source) for item in items]


def _matching(listings: list[Listing], keywords: str) -> list[Listing]:
    words = keywords.casefold().split()
    return [x for x in listings if any(w in x.title.casefold() for w in words)]


@operation(name="scraping.stepstone.fetch")
async def fetch_stepstone(keywords: str) -> list[Listing]:
    """Fetch listings from StepStone whose title matches the keywords.

    A title matches when it contains any of the keywords, ignoring case.
    """
    await asyncio.sleep(LATENCY_SECONDS)
    return _matching(_load(FIXTURES / "stepstone.json", "stepstone"), keywords)


@operation(name="scraping.linkedin.fetch")
async def fetch_linkedin(keywords: str, pages: int = 2) -> list[Listing]:
    """Fetch the first result pages from LinkedIn and keep the matching listings.

    Reads the first `pages` pages (fewer when the results end sooner) and keeps
    the listings whose title contains any of the keywords, ignoring case.
    """
    await asyncio.sleep(LATENCY_SECONDS)
    listings: list[Listing] = []
    for page in range(1, pages + 1):
        path = FIXTURES / f"linkedin_page{page}.json"
        if not path.exists():  # past the last page
            break
        listings += _load(path, "linkedin")
    return _matching(listings, keywords)
