"""Prices, as if fetched from a slow service."""

from __future__ import annotations

import asyncio

from opflow import operation

BASE = {"apple": 0.5, "pear": 0.75, "plum": 1.25}
RATES = {"EUR": 1.0, "USD": 1.1, "GBP": 0.85}


@operation(name="shop.ingest.prices", retries=2, retry_delay_seconds=0, tags=["ingest"])
async def fetch_prices(currency: str = "EUR") -> dict[str, float]:
    """Unit prices by SKU in `currency`."""
    await asyncio.sleep(0.05)
    rate = RATES[currency]
    return {sku: round(price * rate, 4) for sku, price in BASE.items()}
