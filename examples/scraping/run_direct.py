"""Run the three operations by hand, without Prefect, and print the result as JSON.

The generated `scraping` flow must return the same listings for the same inputs.
"""

import asyncio
import json

from jobs.merge import merge
from jobs.scrapers import fetch_linkedin, fetch_stepstone


async def main(keywords: str = "python") -> None:
    stepstone, linkedin = await asyncio.gather(
        fetch_stepstone(keywords), fetch_linkedin(keywords)
    )
    merged = merge(stepstone, linkedin)
    print(json.dumps([x.to_dict() for x in merged], indent=2, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
