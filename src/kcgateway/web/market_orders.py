"""What the margin and futures order routes share: list, get, cancel three ways, for a market.

The use cases are the spot ones (:class:`~kcgateway.gateway.orders.OrderRouter`) limited to one
market: another market's order id or clientOid is a 404 here, as another tenant's is.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request

from kcgateway.gateway.keys import Principal
from kcgateway.web.auth import services_of
from kcgateway.web.market_schemas import OrderOut
from kcgateway.web.schemas import AUTHED, EXCHANGE, ErrorOut, error_responses

#: the query parameters the market routes share
Account = Annotated[str, Query(min_length=1, max_length=200, description="account id or name")]
Symbol = Annotated[str, Query(min_length=3, max_length=40)]

#: the POST routes' extra answers (201 is the route's own status)
PLACE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **error_responses(*AUTHED, *EXCHANGE, 400, 404, 409),
    422: {
        "model": OrderOut | ErrorOut,
        "description": "The order was refused: an intent (rejected, not_placed) or an error "
        "(invalid_request with problems, risk_rejected, exchange_rejected).",
    },
    202: {"model": OrderOut, "description": "sent, outcome unknown: the reconciler settles it"},
    200: {"model": OrderOut, "description": "a concurrent retry of the same Idempotency-Key"},
}


#: a cancel by id or clientOid
CANCEL_RESPONSES = error_responses(*AUTHED, *EXCHANGE, 400, 404, 409)


async def list_of(
    request: Request, principal: Principal, market: str, limit: int
) -> list[OrderOut]:
    """The tenant's intents of ``market``, newest first."""
    orders = services_of(request).orders
    return [
        OrderOut.of(v) for v in await orders.list(principal.tenant_id, limit=limit, market=market)
    ]


async def one_of(request: Request, principal: Principal, market: str, order_id: str) -> OrderOut:
    """One intent of ``market`` (refreshed from the exchange while it may still change)."""
    orders = services_of(request).orders
    return OrderOut.of(await orders.get(principal.tenant_id, order_id, market))


async def cancel_one(
    request: Request, principal: Principal, market: str, order_id: str
) -> OrderOut:
    """Cancel an intent of ``market`` by the gateway's id."""
    orders = services_of(request).orders
    view = await orders.cancel(principal.tenant_id, order_id, principal.key_id, market)
    return OrderOut.of(view)


async def cancel_by_oid(
    request: Request, principal: Principal, market: str, client_oid: str
) -> OrderOut:
    """Cancel an intent of ``market`` by its clientOid."""
    orders = services_of(request).orders
    found = await orders.by_client_oid(principal.tenant_id, client_oid, market)
    view = await orders.cancel(principal.tenant_id, found.id, principal.key_id, market)
    return OrderOut.of(view)


async def cancel_all(
    request: Request, principal: Principal, market: str, account: str, symbol: str
) -> list[OrderOut]:
    """Cancel every open order of the account on ``symbol`` in ``market``."""
    orders = services_of(request).orders
    views = await orders.cancel_symbol(
        principal.tenant_id, account, symbol, principal.key_id, market
    )
    return [OrderOut.of(v) for v in views]
