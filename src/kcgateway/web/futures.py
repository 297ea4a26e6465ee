"""The /v1/futures routes: futures orders (lots), fills, positions, balances, contracts.

Writes need ``trade:futures``; reads need ``read``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.orders.markets import FUTURES
from kcgateway.web.auth import Reader, services_of
from kcgateway.web.list_params import Cursor, From, To, window
from kcgateway.web.market_orders import Account, MarketRoutes, order_routes
from kcgateway.web.market_schemas import (
    ContractOut,
    FuturesBalanceOut,
    FuturesFillOut,
    FuturesOrderBody,
    PositionOut,
)
from kcgateway.web.schemas import AUTHED, EXCHANGE, error_responses

router = order_routes(
    MarketRoutes(
        FUTURES, FuturesOrderBody, Scope.TRADE_FUTURES, "futures_", "futures (size in lots)"
    ),
    APIRouter(prefix="/v1/futures"),
)


@router.get("/fills", responses=error_responses(*AUTHED, *EXCHANGE, 404))
async def futures_fills(  # noqa: PLR0917 - FastAPI passes route parameters positionally
    request: Request,
    principal: Reader,
    account: Account,
    symbol: Annotated[str | None, Query(min_length=3, max_length=40)] = None,
    since: From = None,
    until: To = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[FuturesFillOut]:
    """The account's futures fills (on ``symbol`` if given), newest first.

    ``from``/``to`` select among the newest ``limit`` fills; read from the exchange: no cursor.
    """
    reads = services_of(request).reads
    fills = await reads.futures_fills(
        principal.tenant_id, account, symbol, limit=limit,
        window=window(limit, since, until, cursor),
    )  # fmt: skip
    return [FuturesFillOut.of(f) for f in fills]


@router.get("/positions", responses=error_responses(*AUTHED, *EXCHANGE, 404))
async def futures_positions(
    request: Request, principal: Reader, account: Account
) -> list[PositionOut]:
    """The account's futures positions."""
    positions = await services_of(request).reads.positions(principal.tenant_id, account)
    return [PositionOut.of(p) for p in positions]


@router.get("/balances", responses=error_responses(*AUTHED, *EXCHANGE, 404))
async def futures_balances(
    request: Request,
    principal: Reader,
    account: Account,
    currency: Annotated[str, Query(min_length=2, max_length=16)] = "USDT",
) -> FuturesBalanceOut:
    """The account's futures account overview in one settlement currency."""
    reads = services_of(request).reads
    return FuturesBalanceOut.of(
        await reads.futures_overview(principal.tenant_id, account, currency)
    )


@router.get("/symbols", responses=error_responses(*AUTHED, *EXCHANGE))
async def futures_symbols(request: Request, principal: Reader) -> list[ContractOut]:
    """Active futures contracts and their trading rules."""
    return [ContractOut.of(c) for c in await services_of(request).reads.contracts()]
