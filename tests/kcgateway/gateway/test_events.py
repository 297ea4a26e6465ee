"""Private order events move intents in real time, over loopback against the simulator.

The periodic reconciler is NOT running in these tests (``services.start()`` is never called;
only the order event service is started), so every move seen here comes from the stream or
from the per-account reconciliation the stream triggers after (re)subscribing.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from kcgateway.exchange.private_feed import OrderChange
from kcgateway.exchange.rest import KuCoinClient
from kcgateway.exchange.services.orders import SpotOrder
from kcgateway.gateway.events import AccountStream, OrderEvents, intent_state
from kcgateway.kucoin.signing import Credentials
from kcgateway.secret import Secret
from kcgateway.store.types import OrderState
from tests.helpers.gateway import Stack, Tenant, auth, gateway_stack, order_body


async def _until(predicate: Callable[[], Any], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.02)


def _events(stack: Stack) -> OrderEvents:
    events = stack.services.events
    assert events is not None
    return events


async def _streaming(stack: Stack, tenant: Tenant) -> AccountStream:
    """Start the event service and wait for the account's first reconciliation (subscribed)."""
    events = _events(stack)
    events.start()

    async def ready() -> bool:
        stream = events.streams.get(tenant.account_id)
        return stream is not None and stream.applied["reconciled"] >= 1

    await _until(ready)
    return events.streams[tenant.account_id]


async def _stored_state(stack: Stack, tenant: Tenant, intent_id: str) -> OrderState:
    """The state in the database (``orders.list`` reads it without asking the exchange)."""
    views = await stack.services.orders.list(tenant.id)
    return next(v.state for v in views if v.id == intent_id)


async def _reaches(stack: Stack, tenant: Tenant, intent_id: str, state: OrderState) -> None:
    async def there() -> bool:
        return await _stored_state(stack, tenant, intent_id) is state

    await _until(there)


def _direct(stack: Stack, account: dict[str, Any]) -> KuCoinClient:
    creds = Credentials(account["apiKey"], Secret(account["secret"]), Secret(account["passphrase"]))
    return KuCoinClient(creds, hosts=stack.sim.hosts)


def _counter_account(stack: Stack) -> dict[str, Any]:
    return stack.sim.create_account(
        {
            "hf": True,
            "balances": {"USDT": "1000000", "BTC": "50"},
            "secret": secrets.token_hex(16),
            "passphrase": secrets.token_hex(8),
        }
    )


async def _place(stack: Stack, tenant: Tenant, **over: Any) -> dict[str, Any]:
    resp = await stack.http.post(
        "/v1/orders", json=order_body("main", **over), headers=auth(tenant.admin_key)
    )
    assert resp.status_code == 201, resp.text
    placed: dict[str, Any] = resp.json()
    return placed


def _sell_through(stack: Stack, price: str, size: str) -> SpotOrder:
    """A sell at ``price`` big enough to take every better bid first, then ``size`` more."""
    ahead = sum(
        (s for p, s in stack.sim.state.exchange.book("BTC-USDT").bids if p > Decimal(price)),
        Decimal(0),
    )
    return SpotOrder(
        symbol="BTC-USDT", side="sell", order_type="limit", price=Decimal(price),
        size=ahead + Decimal(size), funds=None, client_oid=f"c{secrets.token_hex(8)}",
    )  # fmt: skip


async def test_counter_order_at_the_sim_fills_the_intent_within_a_second(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        stream = await _streaming(stack, tenant)
        placed = await _place(stack, tenant, price="60000", size="0.002")
        await _reaches(stack, tenant, placed["id"], OrderState.OPEN)
        async with _direct(stack, _counter_account(stack)) as other:
            await other.spot.hf.place_order(_sell_through(stack, "60000", "0.002"))
        await _reaches(stack, tenant, placed["id"], OrderState.FILLED)
        assert stream.applied["moved"] >= 2  # open, then filled
        assert stack.services._reconciler is None  # the periodic reconciler never ran


async def test_cancel_at_the_sim_cancels_the_intent(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        await _streaming(stack, tenant)
        placed = await _place(stack, tenant, price="40000")
        await _reaches(stack, tenant, placed["id"], OrderState.OPEN)
        async with _direct(stack, tenant.sim_account) as own:
            await own.spot.hf.cancel_by_client_oid(placed["clientOid"], "BTC-USDT")
        await _reaches(stack, tenant, placed["id"], OrderState.CANCELLED)


async def test_an_order_placed_behind_the_gateway_is_adopted(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        stream = await _streaming(stack, tenant)
        await _place(stack, tenant, price="40000")  # the account trades BTC-USDT
        async with _direct(stack, tenant.sim_account) as own:
            await own.spot.hf.place_order(
                SpotOrder(
                    symbol="BTC-USDT",
                    side="buy",
                    order_type="limit",
                    price=Decimal("30000"),
                    size=Decimal("0.001"),
                    funds=None,
                    client_oid="behind-our-back",
                )
            )

        async def adopted() -> bool:
            views = await stack.services.orders.list(tenant.id)
            return any(v.client_oid == "behind-our-back" for v in views)

        await _until(adopted)
        assert stream.applied["stray"] >= 1
        views = await stack.services.orders.list(tenant.id)
        stray = next(v for v in views if v.client_oid == "behind-our-back")
        assert stray.state is OrderState.OPEN


async def test_events_lost_in_a_drop_are_reconciled_after_the_reconnect(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        stream = await _streaming(stack, tenant)
        placed = await _place(stack, tenant, price="60000", size="0.002")
        await _reaches(stack, tenant, placed["id"], OrderState.OPEN)
        # the fill's events never reach us ...
        fault = {"kind": "skip", "topic": "/spotMarket/tradeOrdersV2", "count": 50}
        await stack.sim_admin("POST", "/_sim/ws/faults", fault)
        async with _direct(stack, _counter_account(stack)) as other:
            await other.spot.hf.place_order(_sell_through(stack, "60000", "0.002"))
        await asyncio.sleep(0.3)
        assert await _stored_state(stack, tenant, placed["id"]) is OrderState.OPEN
        passes = stream.applied["reconciled"]
        # ... until the connection drops: the reconnect's reconciliation finds the fill
        await stack.sim_admin("POST", "/_sim/ws/faults", {"kind": "drop"})

        async def settled() -> bool:
            return await _stored_state(stack, tenant, placed["id"]) is OrderState.FILLED

        await _until(settled)
        assert stream.applied["reconciled"] > passes
        counts = _events(stack).counts.counts
        assert counts["private_spot", "reconnect"] >= 1
        assert counts["private_spot", "resync"] >= 2


async def test_late_and_repeated_events_change_nothing(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        placed = await _place(stack, tenant, price="40000")
        orders = stack.services.orders
        oid, order_id = placed["clientOid"], placed["exchangeOrderId"]
        assert await orders.apply_exchange_event(
            tenant.account_id, oid, OrderState.CANCELLED, order_id
        )
        # a late "open" and a repeated "canceled" are not transitions from cancelled
        for state in (OrderState.OPEN, OrderState.CANCELLED):
            moved = await orders.apply_exchange_event(tenant.account_id, oid, state, order_id)
            assert moved is False
        assert await _stored_state(stack, tenant, placed["id"]) is OrderState.CANCELLED
        assert await orders.apply_exchange_event(
            tenant.account_id, "nobody", OrderState.OPEN, "x"
        ) is None  # fmt: skip


def test_event_types_map_to_intent_states() -> None:
    def change(kind: str) -> OrderChange:
        return OrderChange(symbol="BTC-USDT", order_id="1", type=kind, status="open")

    assert intent_state(change("open")) is OrderState.OPEN
    assert intent_state(change("match")) is OrderState.OPEN
    assert intent_state(change("update")) is OrderState.OPEN
    assert intent_state(change("filled")) is OrderState.FILLED
    assert intent_state(change("canceled")) is OrderState.CANCELLED
    assert intent_state(change("received")) is None
    assert intent_state(change("triggered")) is None


async def test_futures_orders_follow_their_own_feed_once_the_account_trades_futures(
    tmp_path: Path,
) -> None:
    from tests.helpers.gateway import futures_body

    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        await stack.sim_admin(
            "POST",
            "/_sim/fund",
            {"uid": tenant.sim_account["uid"], "accountType": "futures",
             "balances": {"USDT": "500000"}},
        )  # fmt: skip
        events = _events(stack)
        await _streaming(stack, tenant)
        assert events.futures_streams == {}, "no futures feed before any futures intent"
        resp = await stack.http.post(
            "/v1/futures/orders",
            json=futures_body("main", price="30000"),
            headers=auth(tenant.admin_key),
        )
        assert resp.status_code == 201, resp.text
        placed = resp.json()
        await events.rescan()
        stream = events.futures_streams[tenant.account_id]

        async def subscribed() -> bool:
            return stream.applied["reconciled"] >= 1

        await _until(subscribed)
        await _reaches(stack, tenant, placed["id"], OrderState.OPEN)
        async with _direct(stack, tenant.sim_account) as own:  # cancelled behind our back
            await own.futures.cancel_by_client_oid(placed["clientOid"], "XBTUSDTM")
        await _reaches(stack, tenant, placed["id"], OrderState.CANCELLED)
        assert stream.applied["moved"] >= 1
        assert stack.services._reconciler is None  # the periodic reconciler never ran
