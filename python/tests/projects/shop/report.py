"""The sink of the flow: one summary."""

from __future__ import annotations

from typing import Any

from opflow import operation

from shop.models import Order, Priced


@operation(
    name="shop.report",
    # prices binds no parameter here: it only has to finish first
    depends_on=["shop.transform.price", "shop.transform.split", "shop.ingest.prices"],
)
def report(
    priced: list[Priced], small: list[Order], currency: str = "EUR"
) -> dict[str, Any]:
    """Totals of the priced large orders and a count of the small ones."""
    return {
        "currency": currency,
        "large_total": round(sum(p.amount for p in priced), 4),
        "priced": priced,
        "small_ids": [order.id for order in small],
    }
