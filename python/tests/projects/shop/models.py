"""The data the operations pass between them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Order:
    id: int
    sku: str
    quantity: int


@dataclass(frozen=True)
class Priced:
    order_id: int
    amount: float
