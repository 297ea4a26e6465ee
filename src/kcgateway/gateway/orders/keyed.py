"""Placing under an ``Idempotency-Key``, for every market and every front end (SECURITY.md 3).

Without a key the order is placed once. With one, the first answer is stored and replayed for
the same key and request; another request under the key is refused
(:class:`~kcgateway.errors.IdempotencyConflict`); a concurrent retry that collides on the key's
derived clientOid answers with that intent when it is the same order (:func:`same_order`), and
is refused as :class:`~kcgateway.errors.ClientOidTaken` otherwise.

This module decides; it does not render. :func:`place_keyed` hands each :class:`Outcome` to the
front end's ``render`` (HTTP JSON today; a CLI or a KuCoin-shaped facade tomorrow), and stores
what ``render`` returns so a replay is byte for byte the first answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kcgateway.errors import ClientOidTaken, KcgatewayError, NoSuchObject
from kcgateway.gateway.idempotency import Idempotency, Reply
from kcgateway.gateway.orders.markets import SPOT
from kcgateway.gateway.orders.model import (
    IntentView,
    OrderRequest,
    idempotent_client_oid,
    same_order,
)
from kcgateway.gateway.orders.router import OrderRouter


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one placement came to: an intent (``view``) or a refusal (``error``).

    ``retried`` is True when a concurrent retry of the same key answered with the intent the
    first attempt created (HTTP shows it as 200, not 201).
    """

    view: IntentView | None = None
    error: KcgatewayError | None = None
    retried: bool = False


#: turns an outcome into the front end's stored answer; raises what it cannot render
Render = Callable[[Outcome], Reply]


@dataclass(frozen=True, slots=True)
class KeyedOrder:
    """One placement request as the front end parsed it.

    ``build(clientOid)`` makes the order (the derived clientOid when the caller gave none);
    ``route`` and ``fingerprint`` identify "the same request" for the key's replay.
    ``source_ip`` is the caller's address (the risk engine's detector reads it); ``actor`` is
    the acting gateway key's id.
    """

    tenant_id: str
    actor: str
    account: str
    client_oid: str | None
    build: Callable[[str | None], OrderRequest]
    market: str = SPOT
    route: str = ""
    fingerprint: str = ""
    source_ip: str | None = None


async def outcome(
    orders: OrderRouter,
    tenant_id: str,
    actor: str,
    req: OrderRequest,
    *,
    keyed: bool,
    source_ip: str | None = None,
) -> Outcome:
    """Place ``req``; every refusal of the tree becomes a value (so it can be stored)."""
    try:
        return Outcome(await orders.place(tenant_id, actor, req, source_ip=source_ip))
    except ClientOidTaken as exc:
        if not keyed:
            return Outcome(error=exc)
        # a concurrent retry of the same Idempotency-Key: answer with that intent
        try:
            same = await orders.get(tenant_id, exc.intent_id, req.terms.market)
        except NoSuchObject:  # the clientOid names an order of another market
            return Outcome(error=exc)
        if not same_order(same, req):  # another order reusing this clientOid: refuse
            return Outcome(error=exc)
        return Outcome(same, retried=True)
    except KcgatewayError as exc:
        return Outcome(error=exc)


async def place_keyed(
    orders: OrderRouter,
    idempotency: Idempotency,
    order: KeyedOrder,
    idempotency_key: str | None,
    render: Render,
) -> Reply:
    """Place ``order`` once per Idempotency-Key (or once, without a key); the rendered reply.

    A replayed reply has ``replayed`` set. What ``render`` returns for the first attempt is
    stored, so every retry of the key gets exactly that answer.
    """
    if idempotency_key is None:
        req = order.build(None)
        return render(
            await outcome(
                orders, order.tenant_id, order.actor, req, keyed=False, source_ip=order.source_ip
            )
        )
    # the derived clientOid differs per market, so one key reused on another market's route
    # is a new order there, not a collision with this market's intent
    scope = order.account if order.market == SPOT else f"{order.account}\n{order.market}"
    oid = order.client_oid or idempotent_client_oid(order.tenant_id, scope, idempotency_key)

    def first() -> Awaitable[Reply]:
        return _rendered(orders, order, order.build(oid), render)

    return await idempotency.run(
        f"{order.tenant_id}:POST {order.route}", idempotency_key, order.fingerprint, first
    )


async def _rendered(
    orders: OrderRouter, order: KeyedOrder, req: OrderRequest, render: Render
) -> Reply:
    return render(
        await outcome(
            orders, order.tenant_id, order.actor, req, keyed=True, source_ip=order.source_ip
        )
    )
