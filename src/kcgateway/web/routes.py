"""The /v1 trading routes: orders, balances, symbols. Each declares its scope (see auth.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from kcgateway.gateway.idempotency import MAX_KEY_LEN, Reply, request_hash
from kcgateway.gateway.keys import Principal
from kcgateway.gateway.orders import (
    ClientOidTaken,
    IntentView,
    OrderRequest,
    idempotent_client_oid,
)
from kcgateway.gateway.services import GatewayServices
from kcgateway.store.types import OrderState
from kcgateway.web.auth import Reader, Trader, services_of
from kcgateway.web.errors import describe
from kcgateway.web.schemas import OrderBody, balance_json, intent_json, symbol_json

router = APIRouter(prefix="/v1")
_JSON = "application/json"
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=MAX_KEY_LEN)]


def _status(view: IntentView) -> int:
    if view.state in (OrderState.REJECTED, OrderState.NOT_PLACED):
        return 422
    if view.state in (OrderState.UNKNOWN, OrderState.SENT, OrderState.PERSISTED):
        return 202
    return 201


def _reply_of(view: IntentView, status: int | None = None) -> Reply:
    body = json.dumps(intent_json(view), separators=(",", ":"))
    return Reply(status or _status(view), body)


async def _place(
    services: GatewayServices, principal: Principal, req: OrderRequest, *, keyed: bool
) -> Reply:
    """Place and turn every expected failure into a reply (so it can be stored and replayed)."""
    try:
        view = await services.orders.place(principal.tenant_id, principal.key_id, req)
    except ClientOidTaken as exc:
        if keyed:  # a retry of the same order (concurrent, or after a crash): that intent
            view = await services.orders.get(principal.tenant_id, exc.intent_id)
            if _same_order(view, req):
                return _reply_of(view, 200)
        return _described(exc)
    except Exception as exc:
        if describe(exc) is None:
            raise
        return _described(exc)
    return _reply_of(view)


def _same_order(view: IntentView, req: OrderRequest) -> bool:
    """True when the stored intent is this request's order (not another one reusing its oid)."""
    ours = (req.symbol, req.side, req.order_type, req.price, req.size, req.funds)
    return ours == (view.symbol, view.side, view.order_type, view.price, view.size, view.funds)


def _described(exc: BaseException) -> Reply:
    described = describe(exc)
    assert described is not None  # noqa: S101 - callers checked
    return Reply(*described)


@router.post("/orders", status_code=201)
async def place_order(
    body: OrderBody, request: Request, principal: Trader, idempotency_key: IdempotencyKey = None
) -> Response:
    """Place a spot order (HF or classic by the account's mode). Exactly once per intent."""
    services = services_of(request)
    if idempotency_key is None:
        reply = await _place(services, principal, body.to_request(), keyed=False)
        return Response(reply.body, status_code=reply.status, media_type=_JSON)
    oid = body.client_oid or idempotent_client_oid(
        principal.tenant_id, body.account, idempotency_key
    )
    fingerprint = request_hash("POST", "/v1/orders", await request.body())
    reply = await services.idempotency.run(
        f"{principal.tenant_id}:POST /v1/orders",
        idempotency_key,
        fingerprint,
        lambda: _place(services, principal, body.to_request(oid), keyed=True),
    )
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else {}
    return Response(reply.body, status_code=reply.status, media_type=_JSON, headers=headers)


@router.get("/orders")
async def list_orders(
    request: Request, principal: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """The tenant's order intents, newest first."""
    views = await services_of(request).orders.list(principal.tenant_id, limit=limit)
    return [intent_json(v) for v in views]


@router.get("/orders/{order_id}")
async def get_order(order_id: str, request: Request, principal: Reader) -> dict[str, Any]:
    """One intent (refreshed from the exchange while it may still change)."""
    return intent_json(await services_of(request).orders.get(principal.tenant_id, order_id))


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
    view = await orders.by_client_oid(principal.tenant_id, client_oid)
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
