"""The /v1/futures routes: futures orders (lots), fills, positions, balances, contracts.

Writes need ``trade:futures``; reads need ``read``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.keys import Principal
from kcgateway.gateway.markets import FUTURES
from kcgateway.web import market_orders as mo
from kcgateway.web.auth import Reader, require, services_of
from kcgateway.web.market_orders import Account, Symbol
from kcgateway.web.market_schemas import (
    ContractOut,
    FuturesBalanceOut,
    FuturesFillOut,
    FuturesOrderBody,
    OrderOut,
    PositionOut,
    order_json,
)
from kcgateway.web.placing import IdempotencyKey, place_keyed
from kcgateway.web.schemas import AUTHED, EXCHANGE, error_responses

router = APIRouter(prefix="/v1/futures")
FuturesTrader = Annotated[Principal, Depends(require(Scope.TRADE_FUTURES))]


@router.post("/orders", status_code=201, response_model=OrderOut, responses=mo.PLACE_RESPONSES)
async def place_futures_order(
    body: FuturesOrderBody,
    request: Request,
    principal: FuturesTrader,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Place a futures order (size in lots). Exactly once per intent; Idempotency-Key as spot."""
    return await place_keyed(
        request,
        principal,
        idempotency_key,
        account=body.account,
        client_oid=body.client_oid,
        build=body.to_request,
        render=order_json,
        market=FUTURES,
    )


@router.get("/orders", responses=error_responses(*AUTHED))
async def list_futures_orders(
    request: Request, principal: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[OrderOut]:
    """The tenant's futures order intents, newest first."""
    return await mo.list_of(request, principal, FUTURES, limit)


@router.get("/orders/{order_id}", responses=error_responses(*AUTHED, *EXCHANGE, 404, 409))
async def get_futures_order(order_id: str, request: Request, principal: Reader) -> OrderOut:
    """One futures intent (refreshed from the exchange while it may still change)."""
    return await mo.one_of(request, principal, FUTURES, order_id)


@router.delete("/orders/{order_id}", responses=mo.CANCEL_RESPONSES)
async def cancel_futures_order(
    order_id: str, request: Request, principal: FuturesTrader
) -> OrderOut:
    """Cancel a futures order by the gateway's id."""
    return await mo.cancel_one(request, principal, FUTURES, order_id)


@router.delete(
    "/orders/by-client-oid/{client_oid}",
    responses=error_responses(*AUTHED, *EXCHANGE, 400, 404, 409),
)
async def cancel_futures_by_client_oid(
    client_oid: str, request: Request, principal: FuturesTrader
) -> OrderOut:
    """Cancel a futures order by clientOid."""
    return await mo.cancel_by_oid(request, principal, FUTURES, client_oid)


@router.delete("/orders", responses=error_responses(*AUTHED, *EXCHANGE, 404, 409))
async def cancel_futures_symbol(
    request: Request, principal: FuturesTrader, account: Account, symbol: Symbol
) -> list[OrderOut]:
    """Cancel every futures order of the account on ``symbol``."""
    return await mo.cancel_all(request, principal, FUTURES, account, symbol)


@router.get("/fills", responses=error_responses(*AUTHED, *EXCHANGE, 404))
async def futures_fills(
    request: Request,
    principal: Reader,
    account: Account,
    symbol: Annotated[str | None, Query(min_length=3, max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[FuturesFillOut]:
    """The account's futures fills (on ``symbol`` if given), newest first."""
    reads = services_of(request).reads
    fills = await reads.futures_fills(principal.tenant_id, account, symbol, limit=limit)
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
