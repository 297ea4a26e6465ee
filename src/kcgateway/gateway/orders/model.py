"""What an order is before and after it is stored: the request, its checks, the intent's view.

Pure: no I/O here. The router (``router.py``) validates a request with :func:`validate`, asks
its market (``markets.py``) for the rest, and shows stored intents as :class:`IntentView`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from kcgateway.errors import ValidationError
from kcgateway.exchange.services.base import check_client_oid
from kcgateway.gateway.orders.markets import SPOT_TERMS, MarketTerms, terms_of
from kcgateway.gateway.reasons import Reason
from kcgateway.gateway.venue import ExchangeOrder
from kcgateway.store.tables import OrderIntent
from kcgateway.store.types import OrderState

S = OrderState


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order as a front end received it. ``account`` is an account id or name."""

    account: str
    symbol: str
    side: str
    order_type: str = "limit"
    price: Decimal | None = None
    size: Decimal | None = None
    funds: Decimal | None = None
    client_oid: str | None = None
    time_in_force: str | None = None
    terms: MarketTerms = SPOT_TERMS


@dataclass(frozen=True, slots=True)
class IntentView:
    """An intent as every front end shows it (one view for every market)."""

    id: str
    account_id: str
    client_oid: str
    symbol: str
    side: str
    order_type: str
    price: Decimal | None
    size: Decimal | None
    funds: Decimal | None
    state: OrderState
    exchange_order_id: str | None
    created_at: datetime
    updated_at: datetime
    terms: MarketTerms = SPOT_TERMS
    #: why an operator must look at it (e.g. its account's credential cannot be read)
    attention: str | None = None
    #: why it was refused (rejected / not_placed); None otherwise
    reason: Reason | None = None


def view(row: OrderIntent) -> IntentView:
    """The API view of a stored intent."""
    return IntentView(
        row.id,
        row.account_id,
        row.client_oid,
        row.symbol,
        row.side,
        row.order_type,
        row.price,
        row.size,
        row.funds,
        row.state,
        row.exchange_order_id,
        row.created_at,
        row.updated_at,
        terms_of(row),
        row.attention,
        Reason.from_json(row.reason) if row.reason else None,
    )


def _positive(value: Decimal | None, name: str) -> None:
    if value is not None and (not value.is_finite() or value <= 0):
        raise ValidationError(f"{name} must be a positive number", field=name)


def validate(req: OrderRequest) -> None:
    """Shape checks (``received``): raises ValidationError naming the field. Pure."""
    if req.side not in ("buy", "sell"):
        raise ValidationError("side must be buy or sell", field="side")
    for value, name in ((req.price, "price"), (req.size, "size"), (req.funds, "funds")):
        _positive(value, name)
    if req.order_type == "limit":
        if req.price is None or req.size is None or req.funds is not None:
            raise ValidationError("a limit order needs price and size (no funds)", field="price")
    elif req.order_type == "market":
        if (req.size is None) == (req.funds is None) or req.price is not None:
            raise ValidationError(
                "a market order needs size or funds (one, no price)", field="size"
            )
    else:
        raise ValidationError("type must be limit or market", field="type")
    check_client_oid(req.client_oid)


def risk_check(amount: Decimal, max_notional: Decimal) -> str | None:
    """PLACEHOLDER risk check (``risk_ok``): a reason to refuse, or None. Pure.

    Only a maximum notional per order, on the amount the order's market worked out (an order
    it cannot value is refused before this). The risk engine of SECURITY.md section 4
    replaces this.
    """
    if amount > max_notional:
        return f"notional {amount:f} exceeds the per-order maximum {max_notional:f}"
    return None


def state_of(order: ExchangeOrder) -> OrderState:
    """Where an order found at the exchange stands. Pure."""
    if order.active:
        return S.OPEN
    return S.CANCELLED if order.cancelled else S.FILLED


def same_order(view: IntentView, req: OrderRequest) -> bool:
    """True when the stored intent is this request's order (not another one reusing its oid)."""
    ours = (req.symbol, req.side, req.order_type, req.price, req.size, req.funds)
    return ours == (view.symbol, view.side, view.order_type, view.price, view.size, view.funds)


def idempotent_client_oid(tenant_id: str, account: str, idempotency_key: str) -> str:
    """A clientOid derived from an Idempotency-Key: concurrent retries collide on the intent."""
    digest = hashlib.sha256(f"{tenant_id}\n{account}\n{idempotency_key}".encode()).hexdigest()
    return f"ik{digest[:38]}"


def intent_detail(row: OrderIntent) -> dict[str, str | None]:
    """The audit detail of a new intent."""

    def text(v: Decimal | None) -> str | None:
        return None if v is None else str(v)

    return {
        "account_id": row.account_id,
        "client_oid": row.client_oid,
        "symbol": row.symbol,
        "side": row.side,
        "type": row.order_type,
        "price": text(row.price),
        "size": text(row.size),
        "funds": text(row.funds),
        "market": row.market,
    }
