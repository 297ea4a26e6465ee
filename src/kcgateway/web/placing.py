"""Placing an order over HTTP, for every market: the keyed placement's outcome as JSON.

``POST /v1/orders``, ``/v1/margin/orders`` and ``/v1/futures/orders`` all go through
:func:`kcgateway.gateway.orders.keyed.place_keyed` (the Idempotency-Key and same-order rules
live there); this module only parses the request and renders the :class:`Outcome`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Request, Response

from kcgateway.gateway.idempotency import MAX_KEY_LEN, Reply, request_hash
from kcgateway.gateway.keys import Principal
from kcgateway.gateway.orders.keyed import KeyedOrder, Outcome, place_keyed
from kcgateway.gateway.orders.markets import SPOT
from kcgateway.gateway.orders.model import IntentView, OrderRequest
from kcgateway.store.types import OrderState
from kcgateway.web.auth import caller_ip, services_of
from kcgateway.web.errors import describe

JSON = "application/json"
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=MAX_KEY_LEN)]
ViewJson = Callable[[IntentView], dict[str, Any]]


def status_of(view: IntentView) -> int:
    """201 placed, 202 outcome still unknown (the reconciler settles it), 422 refused."""
    if view.state in (OrderState.REJECTED, OrderState.NOT_PLACED):
        return 422
    if view.state in (OrderState.UNKNOWN, OrderState.SENT, OrderState.PERSISTED):
        return 202
    return 201


def renderer(view_json: ViewJson) -> Callable[[Outcome], Reply]:
    """The HTTP rendering of a placement outcome (raises an error the table does not know)."""

    def render(outcome: Outcome) -> Reply:
        if outcome.error is not None:
            known = describe(outcome.error)
            if known is None:
                raise outcome.error
            return Reply(*known)
        assert outcome.view is not None  # noqa: S101 - an outcome is a view or an error
        body = json.dumps(view_json(outcome.view), separators=(",", ":"))
        return Reply(200 if outcome.retried else status_of(outcome.view), body)

    return render


async def place_keyed_http(
    request: Request,
    principal: Principal,
    idempotency_key: str | None,
    *,
    account: str,
    client_oid: str | None,
    build: Callable[[str | None], OrderRequest],
    render: ViewJson,
    market: str = SPOT,
) -> Response:
    """Place ``build(clientOid)`` once per Idempotency-Key (or once, without a key)."""
    services = services_of(request)
    route = request.url.path
    fingerprint = ""
    if idempotency_key is not None:
        fingerprint = request_hash("POST", route, await request.body())
    order = KeyedOrder(
        principal.tenant_id, principal.key_id, account, client_oid, build, market, route,
        fingerprint, caller_ip(request, services),
    )  # fmt: skip
    reply = await place_keyed(
        services.orders, services.idempotency, order, idempotency_key, renderer(render)
    )
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else {}
    return Response(reply.body, status_code=reply.status, media_type=JSON, headers=headers)
