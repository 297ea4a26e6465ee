"""The /v1 trading routes: orders, balances, symbols. Each declares its scope (see auth.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from kcgateway.web.auth import Reader, Trader, services_of
from kcgateway.web.placing import IdempotencyKey, place_keyed
from kcgateway.web.schemas import OrderBody, balance_json, intent_json, symbol_json

router = APIRouter(prefix="/v1")


@router.post("/orders", status_code=201)
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


@router.get("/orders")
async def list_orders(
    request: Request, principal: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """The tenant's order intents, newest first."""
    views = await services_of(request).orders.list(principal.tenant_id, limit=limit, market="spot")
    return [intent_json(v) for v in views]


@router.get("/orders/{order_id}")
async def get_order(order_id: str, request: Request, principal: Reader) -> dict[str, Any]:
    """One intent (refreshed from the exchange while it may still change)."""
    return intent_json(await services_of(request).orders.get(principal.tenant_id, order_id, "spot"))


@router.delete("/orders/{order_id}")
async def cancel_order(order_id: str, request: Request, principal: Trader) -> dict[str, Any]:
    """Cancel by the gateway's order id."""
    orders = services_of(request).orders
    return intent_json(await orders.cancel(principal.tenant_id, order_id, principal.key_id))


@router.delete("/orders/by-client-oid/{client_oid}")
async def cancel_by_client_oid(
    client_oid: str, request: Request, principal: Trader
) -> dict[str, Any]:
    """Cancel by clientOid."""
    orders = services_of(request).orders
    view = await orders.by_client_oid(principal.tenant_id, client_oid, "spot")
    return intent_json(await orders.cancel(principal.tenant_id, view.id, principal.key_id))


@router.get("/balances")
async def balances(
    request: Request, principal: Reader, account: Annotated[str, Query(min_length=1)]
) -> list[dict[str, Any]]:
    """Balances of one of the tenant's accounts (id or name)."""
    lines = await services_of(request).balances(principal.tenant_id, account)
    return [balance_json(a) for a in lines]


@router.get("/symbols")
async def symbols(request: Request, principal: Reader) -> list[dict[str, Any]]:
    """Spot symbols and their trading rules."""
    return [symbol_json(s) for s in await services_of(request).symbols()]
