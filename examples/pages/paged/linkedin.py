"""The result pages to read, one page read, and the pages merged.

Each page is a fixture of the scraping example (`../scraping/fixtures`); a
read sleeps as long as a network round trip would take.
"""

import asyncio
import json

from jobs.merge import merge
from jobs.models import Listing
from jobs.scrapers import FIXTURES, LATENCY_SECONDS


def pages(max_pages: int = 3) -> list[int]:
    """The numbers of the result pages there are, at most `max_pages`."""
    found = []
    for page in range(1, max_pages + 1):
        if not (FIXTURES / f"linkedin_page{page}.json").exists():
            break
        found.append(page)
    return found


async def fetch_page(page: int, keywords: str) -> list[Listing]:
    """The listings of one result page whose title contains a keyword."""
    await asyncio.sleep(LATENCY_SECONDS)
    path = FIXTURES / f"linkedin_page{page}.json"
    items = json.loads(path.read_text(encoding="utf-8"))
    words = keywords.casefold().split()
    listings = [Listing.from_dict(item, source="linkedin") for item in items]
    return [x for x in listings if any(w in x.title.casefold() for w in words)]


def merge_pages(fetch: list[list[Listing]]) -> list[Listing]:
    """Every page's listings, duplicates dropped, sorted by company and title."""
    return merge([], [listing for page in fetch for listing in page])
