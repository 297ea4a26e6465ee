"""The /v1/margin routes: margin orders (cross or isolated, HF margin endpoints), fills, balances.

Writes need ``trade:margin``; reads need ``read``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.keys import Principal
from kcgateway.gateway.markets import MARGIN
from kcgateway.web import market_orders as mo
from kcgateway.web.auth import Reader, require, services_of
from kcgateway.web.market_orders import Account, Symbol
from kcgateway.web.market_schemas import (
    FillOut,
    MarginBalanceOut,
    MarginOrderBody,
    OrderOut,
    order_json,
)
from kcgateway.web.placing import IdempotencyKey, place_keyed
from kcgateway.web.schemas import AUTHED, EXCHANGE, error_responses

router = APIRouter(prefix="/v1/margin")
MarginTrader = Annotated[Principal, Depends(require(Scope.TRADE_MARGIN))]

Limit = Annotated[int, Query(ge=1, le=500)]


@router.post("/orders", status_code=201, response_model=OrderOut, responses=mo.PLACE_RESPONSES)
async def place_margin_order(
    body: MarginOrderBody,
    request: Request,
    principal: MarginTrader,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Place a margin order. Exactly once per intent; Idempotency-Key as for spot."""
    return await place_keyed(
        request,
        principal,
        idempotency_key,
        account=body.account,
        client_oid=body.client_oid,
        build=body.to_request,
        render=order_json,
        market=MARGIN,
    )


@router.get("/orders", responses=error_responses(*AUTHED))
async def list_margin_orders(
    request: Request, principal: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[OrderOut]:
    """The tenant's margin order intents, newest first."""
    return await mo.list_of(request, principal, MARGIN, limit)


@router.get("/orders/{order_id}", responses=error_responses(*AUTHED, *EXCHANGE, 404, 409))
async def get_margin_order(order_id: str, request: Request, principal: Reader) -> OrderOut:
    """One margin intent (refreshed from the exchange while it may still change)."""
    return await mo.one_of(request, principal, MARGIN, order_id)


@router.delete("/orders/{order_id}", responses=mo.CANCEL_RESPONSES)
async def cancel_margin_order(order_id: str, request: Request, principal: MarginTrader) -> OrderOut:
    """Cancel a margin order by the gateway's id."""
    return await mo.cancel_one(request, principal, MARGIN, order_id)


@router.delete(
    "/orders/by-client-oid/{client_oid}",
    responses=error_responses(*AUTHED, *EXCHANGE, 400, 404, 409),
)
async def cancel_margin_by_client_oid(
    client_oid: str, request: Request, principal: MarginTrader
) -> OrderOut:
    """Cancel a margin order by clientOid."""
    return await mo.cancel_by_oid(request, principal, MARGIN, client_oid)


@router.delete("/orders", responses=error_responses(*AUTHED, *EXCHANGE, 404, 409))
async def cancel_margin_symbol(
    request: Request, principal: MarginTrader, account: Account, symbol: Symbol
) -> list[OrderOut]:
    """Cancel every margin order (cross and isolated) of the account on ``symbol``."""
    return await mo.cancel_all(request, principal, MARGIN, account, symbol)


@router.get("/fills", responses=error_responses(*AUTHED, *EXCHANGE, 404))
async def margin_fills(  # noqa: PLR0917 - FastAPI passes route parameters positionally
    request: Request,
    principal: Reader,
    account: Account,
    symbol: Symbol,
    margin_mode: Annotated[Literal["cross", "isolated"], Query(alias="marginMode")] = "cross",
    limit: Limit = 100,
) -> list[FillOut]:
    """The account's margin fills on ``symbol``, newest first."""
    reads = services_of(request).reads
    fills = await reads.margin_fills(principal.tenant_id, account, symbol, margin_mode, limit=limit)
    return [FillOut.of(f) for f in fills]


@router.get("/balances", responses=error_responses(*AUTHED, *EXCHANGE, 404))
async def margin_balances(
    request: Request, principal: Reader, account: Account
) -> list[MarginBalanceOut]:
    """The account's cross-margin balances."""
    lines = await services_of(request).reads.margin_balances(principal.tenant_id, account)
    return [MarginBalanceOut.of(a) for a in lines]
