"""Price the large orders."""

from __future__ import annotations

import asyncio

from opflow import operation

from shop.models import Order, Priced


@operation(
    name="shop.transform.price",
    # `large` binds to the named output of split, `prices` by type
    depends_on=["shop.transform.split", "shop.ingest.prices"],
    timeout_seconds=60,
)
async def price_orders(large: list[Order], prices: dict[str, float]) -> list[Priced]:
    """The amount of every large order."""
    await asyncio.sleep(0.01)
    return [
        Priced(order.id, round(order.quantity * prices[order.sku], 4))
        for order in large
    ]
