"""The /v1/margin routes: margin orders (cross or isolated, HF margin endpoints), fills, balances.

Writes need ``trade:margin``; reads need ``read``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.orders.markets import MARGIN
from kcgateway.web.auth import Reader, services_of
from kcgateway.web.list_params import Cursor, From, To, window
from kcgateway.web.market_orders import Account, MarketRoutes, Symbol, order_routes
from kcgateway.web.market_schemas import (
    FillOut,
    MarginBalanceOut,
    MarginOrderBody,
)
from kcgateway.web.schemas import AUTHED, EXCHANGE, error_responses

router = order_routes(
    MarketRoutes(MARGIN, MarginOrderBody, Scope.TRADE_MARGIN, "margin_", "margin"),
    APIRouter(prefix="/v1/margin"),
)

Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/fills", responses=error_responses(*AUTHED, *EXCHANGE, 404))
async def margin_fills(  # noqa: PLR0917 - FastAPI passes route parameters positionally
    request: Request,
    principal: Reader,
    account: Account,
    symbol: Symbol,
    margin_mode: Annotated[Literal["cross", "isolated"], Query(alias="marginMode")] = "cross",
    since: From = None,
    until: To = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> list[FillOut]:
    """The account's margin fills on ``symbol``, newest first.

    ``from``/``to`` select among the newest ``limit`` fills; read from the exchange: no cursor.
    """
    reads = services_of(request).reads
    fills = await reads.margin_fills(
        principal.tenant_id, account, symbol, margin_mode, limit=limit,
        window=window(limit, since, until, cursor),
    )  # fmt: skip
    return [FillOut.of(f) for f in fills]


@router.get("/balances", responses=error_responses(*AUTHED, *EXCHANGE, 404))
async def margin_balances(
    request: Request, principal: Reader, account: Account
) -> list[MarginBalanceOut]:
    """The account's cross-margin balances."""
    lines = await services_of(request).reads.margin_balances(principal.tenant_id, account)
    return [MarginBalanceOut.of(a) for a in lines]
