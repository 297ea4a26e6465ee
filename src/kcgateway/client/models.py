"""What the client returns: orders and events, parsed from the gateway's JSON. Money is Decimal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["Event", "Order"]


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass(frozen=True, slots=True)
class Order:
    """An order intent as ``/v1/orders`` shows it. ``raw``: the whole answer."""

    id: str
    client_oid: str
    account: str
    market: str
    symbol: str
    side: str
    type: str
    state: str
    price: Decimal | None
    size: Decimal | None
    funds: Decimal | None
    exchange_order_id: str | None
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Order:
        """Parse one order answer."""
        return cls(
            id=data["id"],
            client_oid=data["clientOid"],
            account=data["account"],
            market=data.get("market", "spot"),
            symbol=data["symbol"],
            side=data["side"],
            type=data["type"],
            state=data["state"],
            price=_dec(data.get("price")),
            size=_dec(data.get("size")),
            funds=_dec(data.get("funds")),
            exchange_order_id=data.get("exchangeOrderId"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Event:
    """One event of ``GET /v1/events``: resume after ``id``.

    ``kind``: ``order.state`` (``data["state"]``, ``data["previousState"]``), ``order.fill``,
    ``balance``, ``position`` (``data["currentQty"]``, ``data["previousQty"]``) or ``alert``.
    ``data``: JSON, money as strings.
    """

    id: int
    kind: str
    subject: str
    account_id: str | None
    created_at: str
    data: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        """Parse one event (an SSE ``data:`` line or an entry of ``/v1/events/page``)."""
        return cls(
            id=int(data["id"]),
            kind=data["kind"],
            subject=data.get("subject", ""),
            account_id=data.get("accountId"),
            created_at=data.get("createdAt", ""),
            data=dict(data.get("data") or {}),
        )
