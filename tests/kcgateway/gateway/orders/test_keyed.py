"""Keyed placement in the service layer: any front end renders the outcome its own way.

The render here is a CLI-like one (a line of text), to show that nothing of the rule depends
on HTTP: the first answer is stored and replayed, another request under the key is refused, and
a concurrent retry that collides on the derived clientOid answers with that intent only when it
is the same order.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kcgateway.errors import ClientOidTaken, IdempotencyConflict
from kcgateway.gateway.idempotency import Idempotency, Reply
from kcgateway.gateway.orders.keyed import KeyedOrder, Outcome, outcome, place_keyed
from kcgateway.gateway.orders.model import OrderRequest
from tests.kcgateway.gateway.orders.test_router import ScriptedVenue, _router, req


def _text(result: Outcome) -> Reply:
    if result.error is not None:
        return Reply(1, f"error: {type(result.error).__name__}")
    assert result.view is not None
    return Reply(0, f"{result.view.state.value} {result.view.client_oid}")


def _order(tenant: str, build: object, fingerprint: str = "f1") -> KeyedOrder:
    return KeyedOrder(tenant, "cli", "a", None, build, route="cli place", fingerprint=fingerprint)  # type: ignore[arg-type]


async def test_a_key_places_once_and_replays_the_first_answer(tmp_path: Path) -> None:
    venue = ScriptedVenue()
    router, _clock, db, tenant = await _router(tmp_path, venue)
    async with db:
        keys = Idempotency(db)
        built: list[str | None] = []

        def build(oid: str | None) -> OrderRequest:
            built.append(oid)
            return req(client_oid=oid)

        first = await place_keyed(router, keys, _order(tenant, build), "k-1", _text)
        again = await place_keyed(router, keys, _order(tenant, build), "k-1", _text)
        assert first.status == 0 and first.body.startswith("acked ik")
        assert (again.status, again.body, again.replayed) == (0, first.body, True)
        assert len(venue.placed) == 1 and venue.placed[0] == built[0], "sent once, derived oid"
        with pytest.raises(IdempotencyConflict):
            await place_keyed(router, keys, _order(tenant, build, "f2"), "k-1", _text)
        unkeyed = await place_keyed(router, keys, _order(tenant, build), None, _text)
        assert unkeyed.status == 0 and len(venue.placed) == 2


async def test_a_colliding_retry_answers_the_same_order_and_refuses_another(
    tmp_path: Path,
) -> None:
    router, _clock, db, tenant = await _router(tmp_path, ScriptedVenue())
    async with db:
        placed = await router.place(tenant, "k", req(client_oid="oid-7"))
        same = await outcome(router, tenant, "k", req(client_oid="oid-7"), keyed=True)
        assert same.retried and same.view is not None and same.view.id == placed.id
        other = req(client_oid="oid-7", price=Decimal(101))
        refused = await outcome(router, tenant, "k", other, keyed=True)
        assert isinstance(refused.error, ClientOidTaken) and refused.error.intent_id == placed.id
        unkeyed = await outcome(router, tenant, "k", req(client_oid="oid-7"), keyed=False)
        assert isinstance(unkeyed.error, ClientOidTaken), "without a key a reuse is refused"
