"""Orders, made up deterministically."""

from __future__ import annotations

from opflow import operation

from shop.models import Order

SKUS = ("apple", "pear", "plum")


@operation(name="shop.ingest.orders", tags=["ingest"])
def load_orders(count: int = 4) -> list[Order]:
    """Make `count` orders,
    cycling through the SKUs.

    Order `i` asks for `i + 1` items.
    """
    return [Order(id=i, sku=SKUS[i % len(SKUS)], quantity=i + 1) for i in range(count)]
