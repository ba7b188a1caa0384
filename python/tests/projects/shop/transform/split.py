"""Split orders by size: one operation, two named outputs."""

from __future__ import annotations

from typing import NamedTuple

from opflow import operation

from shop.models import Order


class Split(NamedTuple):
    small: list[Order]
    large: list[Order]


@operation(
    name="shop.transform.split",
    depends_on=["shop.ingest.orders"],  # `orders` binds by type
    outputs=["small", "large"],  # typed from the NamedTuple
)
def split_orders(orders: list[Order], threshold: int = 3) -> Split:
    """Orders below `threshold` items are small, the others large."""
    small = [order for order in orders if order.quantity < threshold]
    large = [order for order in orders if order.quantity >= threshold]
    return Split(small, large)
