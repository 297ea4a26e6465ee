"""The event log: who sees what, fills and balance changes from the private stream, retention."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from kcgateway.errors import ValidationError
from kcgateway.exchange.services.orders import SpotOrder
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.event_feed import EventFeed, EventKind, filter_for, kept, parse_kinds
from kcgateway.settings import load_settings
from kcgateway.store.event_log import NewEvent
from tests.helpers.gateway import Stack, gateway_stack
from tests.kcgateway.gateway.test_events import (
    _counter_account,
    _direct,
    _place,
    _sell_through,
    _streaming,
)

WAIT_S = 30.0  # hang protection only


def test_what_each_key_may_follow() -> None:
    read = filter_for("t1", {Scope.READ})
    assert read.scopes == {"read"} and not read.gateway and read.tenant_id == "t1"
    risk = filter_for("t1", {Scope.RISK_MANAGE})
    assert risk.scopes == {"risk:manage"}
    assert filter_for("t1", {Scope.TRADE_SPOT}).scopes == frozenset()
    admin = filter_for("t1", {Scope.ADMIN}, frozenset({"alert"}))
    assert admin.gateway and admin.scopes == {"read", "risk:manage"} and admin.kinds == {"alert"}
    assert parse_kinds(" order.state, alert ") == {"order.state", "alert"}
    assert parse_kinds(None) == frozenset()
    with pytest.raises(ValidationError) as bad:
        parse_kinds("order.state,secret-thing")
    assert bad.value.field == "kinds" and "secret-thing" not in bad.value.message


def test_retention_is_configured_in_days() -> None:
    assert load_settings({}).event_retention_days == 30
    days = load_settings({"KCGW_EVENT_RETENTION_DAYS": "7"}).event_retention_days
    assert kept(days) == timedelta(days=7)
    assert kept(0) is None  # keep every event


def _feed(stack: Stack) -> EventFeed:
    feed = stack.services.event_feed
    assert feed is not None
    return feed


async def _kinds_seen(stack: Stack, tenant_id: str) -> dict[str, list[dict[str, object]]]:
    events = await _feed(stack).page(filter_for(tenant_id, {Scope.READ}), after=0, limit=1000)
    seen: dict[str, list[dict[str, object]]] = {}
    for event in events:
        seen.setdefault(event.kind, []).append(event.data)
    return seen


async def test_a_fill_and_its_balance_changes_are_events(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        stream = await _streaming(stack, tenant)
        placed = await _place(stack, tenant, price="60000", size="0.002")
        async with asyncio.timeout(WAIT_S):  # the risk engine follows the balances it trades
            while "/account/balance" not in stream.feed.subscribed:
                await asyncio.sleep(0.05)
        async with _direct(stack, _counter_account(stack)) as other:
            await other.spot.hf.place_order(_sell_through(stack, "60000", "0.002"))
        async with asyncio.timeout(WAIT_S):
            while True:
                seen = await _kinds_seen(stack, tenant.id)
                if EventKind.FILL in seen and EventKind.BALANCE in seen:
                    states = [d["state"] for d in seen[EventKind.ORDER]]
                    if "filled" in states:
                        break
                await asyncio.sleep(0.05)
        fill = seen[EventKind.FILL][0]
        assert fill["clientOid"] == placed["clientOid"]
        assert fill["size"] == "0.002" and fill["price"] == "60000"
        assert {b["currency"] for b in seen[EventKind.BALANCE]} >= {"BTC"}


async def test_followers_wake_on_a_commit_and_old_events_are_pruned(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        feed = _feed(stack)
        feed.poll_s = 3600.0  # only the hub's poke can wake the follower
        which = filter_for(tenant.id, {Scope.READ})
        stream = feed.follow(which, after=await feed.last_id())
        first = asyncio.create_task(anext(stream))
        while not feed.hub.followers:
            await asyncio.sleep(0.01)
        note = NewEvent("balance", "read", "USDT", {"n": 1}, account_id=tenant.account_id)
        await feed.append([note])
        event = await asyncio.wait_for(first, WAIT_S)
        assert event is not None and event.data == {"n": 1}
        await stream.aclose()
        assert feed.hub.followers == 0
        metrics = await stack.services.refresh_metrics()
        assert b"kcgateway_event_followers 0.0" in metrics
        # retention: everything older goes, except the newest event (the ids keep climbing)
        newest = await feed.last_id()
        feed.retention = timedelta(days=1)
        assert await feed.prune() == 0
        feed._now = lambda: datetime.now(UTC) + timedelta(days=2)
        assert await feed.prune() == newest - 1
        assert await feed.last_id() == newest
        await feed.append([note])
        assert await feed.last_id() == newest + 1


async def test_an_order_adopted_from_behind_the_gateway_is_an_event(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        await _place(stack, tenant, price="40000")  # the account trades BTC-USDT
        async with _direct(stack, tenant.sim_account) as own:
            await own.spot.hf.place_order(
                SpotOrder(
                    symbol="BTC-USDT", side="buy", order_type="limit", price=Decimal("30000"),
                    size=Decimal("0.001"), funds=None, client_oid="behind-our-back",
                )
            )  # fmt: skip
        assert await stack.services.orders.adopt_strays(tenant.account_id) == ["behind-our-back"]
        seen = await _kinds_seen(stack, tenant.id)
        adopted = [d for d in seen[EventKind.ORDER] if d["clientOid"] == "behind-our-back"]
        assert len(adopted) == 1
        assert adopted[0]["state"] == "open" and adopted[0]["previousState"] is None
        assert str(adopted[0]["reason"]).startswith("adopted")
