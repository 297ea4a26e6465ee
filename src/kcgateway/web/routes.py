"""The /v1 trading routes: orders, balances, symbols. Each declares its scope (see auth.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from kcgateway.web.auth import Reader, Trader, services_of
from kcgateway.web.placing import IdempotencyKey, place_keyed
from kcgateway.web.schemas import (
    AUTHED,
    EXCHANGE,
    BalanceOut,
    ErrorOut,
    IntentOut,
    OrderBody,
    SymbolOut,
    balance_json,
    error_responses,
    intent_json,
    symbol_json,
)

router = APIRouter(prefix="/v1")


_PLACE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **error_responses(*AUTHED, *EXCHANGE, 400, 404, 409),
    200: {"model": IntentOut, "description": "A concurrent retry of the same Idempotency-Key."},
    202: {"model": IntentOut, "description": "Sent, outcome not known yet: it is reconciled."},
    422: {
        "model": IntentOut | ErrorOut,
        "description": "The order was refused: an intent (rejected, not_placed) or an error "
        "(invalid_request with problems, risk_rejected, exchange_rejected).",
    },
}


@router.post("/orders", status_code=201, response_model=IntentOut, responses=_PLACE_RESPONSES)
async def place_order(
    body: OrderBody, request: Request, principal: Trader, idempotency_key: IdempotencyKey = None
) -> Response:
    """Place a spot order (HF or classic by the account's mode). Exactly once per intent."""
    return await place_keyed(
        request,
        principal,
        idempotency_key,
        account=body.account,
        client_oid=body.client_oid,
        build=body.to_request,
        render=intent_json,
    )


@router.get("/orders", response_model=list[IntentOut], responses=error_responses(*AUTHED))
async def list_orders(
    request: Request, principal: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """The tenant's order intents, newest first."""
    views = await services_of(request).orders.list(principal.tenant_id, limit=limit, market="spot")
    return [intent_json(v) for v in views]


@router.get(
    "/orders/{order_id}",
    response_model=IntentOut,
    responses=error_responses(*AUTHED, *EXCHANGE, 404, 409),
)
async def get_order(order_id: str, request: Request, principal: Reader) -> dict[str, Any]:
    """One intent (refreshed from the exchange while it may still change)."""
    return intent_json(await services_of(request).orders.get(principal.tenant_id, order_id, "spot"))


@router.delete(
    "/orders/{order_id}",
    response_model=IntentOut,
    responses=error_responses(*AUTHED, *EXCHANGE, 400, 404, 409),
)
async def cancel_order(order_id: str, request: Request, principal: Trader) -> dict[str, Any]:
    """Cancel by the gateway's order id."""
    orders = services_of(request).orders
    return intent_json(await orders.cancel(principal.tenant_id, order_id, principal.key_id))


@router.delete(
    "/orders/by-client-oid/{client_oid}",
    response_model=IntentOut,
    responses=error_responses(*AUTHED, *EXCHANGE, 400, 404, 409),
)
async def cancel_by_client_oid(
    client_oid: str, request: Request, principal: Trader
) -> dict[str, Any]:
    """Cancel by clientOid."""
    orders = services_of(request).orders
    view = await orders.by_client_oid(principal.tenant_id, client_oid, "spot")
    return intent_json(await orders.cancel(principal.tenant_id, view.id, principal.key_id))


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
