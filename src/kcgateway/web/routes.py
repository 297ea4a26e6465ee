"""The /v1 spot routes: orders (built by market_orders.py), balances, symbols."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.orders.markets import SPOT
from kcgateway.web.auth import Reader, services_of
from kcgateway.web.market_orders import MarketRoutes, order_routes
from kcgateway.web.schemas import (
    AUTHED,
    EXCHANGE,
    BalanceOut,
    OrderBody,
    SymbolOut,
    balance_json,
    error_responses,
    symbol_json,
)

router = order_routes(
    MarketRoutes(
        SPOT, OrderBody, Scope.TRADE_SPOT, "", "spot (HF or classic by the account's mode)"
    ),
    APIRouter(prefix="/v1"),
)


@router.get(
    "/balances",
    response_model=list[BalanceOut],
    responses=error_responses(*AUTHED, *EXCHANGE, 404, 409),
)
async def balances(
    request: Request, principal: Reader, account: Annotated[str, Query(min_length=1)]
) -> list[dict[str, Any]]:
    """Balances of one of the tenant's accounts (id or name)."""
    lines = await services_of(request).balances(principal.tenant_id, account)
    return [balance_json(a) for a in lines]


@router.get(
    "/symbols", response_model=list[SymbolOut], responses=error_responses(*AUTHED, *EXCHANGE)
)
async def symbols(request: Request, principal: Reader) -> list[dict[str, Any]]:
    """Spot symbols and their trading rules."""
    return [symbol_json(s) for s in await services_of(request).symbols()]
