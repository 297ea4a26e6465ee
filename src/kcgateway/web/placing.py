"""Placing an order over HTTP, for every market: Idempotency-Key handling and the reply.

``POST /v1/orders``, ``/v1/margin/orders`` and ``/v1/futures/orders`` all go through
:func:`place_keyed` (SECURITY.md section 3): without a key the order is placed once; with one,
the first reply is stored and replayed for the same key and body, another body is a 409, and
a concurrent retry that collides on the key's derived clientOid answers with that intent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Request, Response

from kcgateway.gateway.idempotency import MAX_KEY_LEN, Reply, request_hash
from kcgateway.gateway.keys import Principal
from kcgateway.gateway.markets import SPOT
from kcgateway.gateway.orders import (
    ClientOidTaken,
    IntentView,
    NoSuchObject,
    OrderRequest,
    idempotent_client_oid,
)
from kcgateway.gateway.services import GatewayServices
from kcgateway.store.types import OrderState
from kcgateway.web.auth import services_of
from kcgateway.web.errors import describe

JSON = "application/json"
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=MAX_KEY_LEN)]
Render = Callable[[IntentView], dict[str, Any]]


def status_of(view: IntentView) -> int:
    """201 placed, 202 outcome still unknown (the reconciler settles it), 422 refused."""
    if view.state in (OrderState.REJECTED, OrderState.NOT_PLACED):
        return 422
    if view.state in (OrderState.UNKNOWN, OrderState.SENT, OrderState.PERSISTED):
        return 202
    return 201


def reply_of(view: IntentView, render: Render, status: int | None = None) -> Reply:
    """The stored/returned reply for an intent."""
    body = json.dumps(render(view), separators=(",", ":"))
    return Reply(status or status_of(view), body)


def described(exc: BaseException) -> Reply:
    """The reply for an expected failure (callers checked :func:`describe` knows it)."""
    known = describe(exc)
    assert known is not None  # noqa: S101 - callers checked
    return Reply(*known)


async def place_reply(
    services: GatewayServices,
    principal: Principal,
    req: OrderRequest,
    *,
    keyed: bool,
    render: Render,
) -> Reply:
    """Place and turn every expected failure into a reply (so it can be stored and replayed)."""
    try:
        view = await services.orders.place(principal.tenant_id, principal.key_id, req)
    except ClientOidTaken as exc:
        if keyed:  # a concurrent retry of the same Idempotency-Key: answer with that intent
            try:
                same = await services.orders.get(
                    principal.tenant_id, exc.intent_id, req.terms.market
                )
            except NoSuchObject:  # the clientOid names an order of another market
                return described(exc)
            if not _same_order(same, req):  # another order reusing this clientOid: refuse
                return described(exc)
            return reply_of(same, render, 200)
        return described(exc)
    except Exception as exc:
        if describe(exc) is None:
            raise
        return described(exc)
    return reply_of(view, render)


async def place_keyed(
    request: Request,
    principal: Principal,
    idempotency_key: str | None,
    *,
    account: str,
    client_oid: str | None,
    build: Callable[[str | None], OrderRequest],
    render: Render,
    market: str = SPOT,
) -> Response:
    """Place ``build(clientOid)`` once per Idempotency-Key (or once, without a key)."""
    services = services_of(request)
    if idempotency_key is None:
        reply = await place_reply(services, principal, build(None), keyed=False, render=render)
        return Response(reply.body, status_code=reply.status, media_type=JSON)
    # the derived clientOid differs per market, so one key reused on another market's route
    # is a new order there, not a collision with this market's intent
    scope = account if market == SPOT else f"{account}\n{market}"
    oid = client_oid or idempotent_client_oid(principal.tenant_id, scope, idempotency_key)
    route = request.url.path
    fingerprint = request_hash("POST", route, await request.body())
    reply = await services.idempotency.run(
        f"{principal.tenant_id}:POST {route}",
        idempotency_key,
        fingerprint,
        lambda: place_reply(services, principal, build(oid), keyed=True, render=render),
    )
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else {}
    return Response(reply.body, status_code=reply.status, media_type=JSON, headers=headers)


def _same_order(view: IntentView, req: OrderRequest) -> bool:
    """True when the stored intent is this request's order (not another one reusing its oid)."""
    ours = (req.symbol, req.side, req.order_type, req.price, req.size, req.funds)
    return ours == (view.symbol, view.side, view.order_type, view.price, view.size, view.funds)
