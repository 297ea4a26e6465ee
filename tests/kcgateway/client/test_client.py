"""kcgateway.client against a served gateway: one Idempotency-Key across retries, typed refusals.

:class:`DroppingProxy` forwards to the gateway and, for the first order placements, drops the
connection AFTER the gateway answered: the order exists, the client never hears of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kcgateway.client import (
    AsyncGatewayClient,
    Backoff,
    Forbidden,
    GatewayClient,
    GatewayUnavailable,
    InvalidRequest,
    NotFound,
    OrderRejected,
    Unauthenticated,
)
from kcgateway.client.errors import error_for
from kcgateway.gateway.apikeys import Scope
from tests.helpers.gateway import gateway_stack
from tests.helpers.served import served

FAST = Backoff(base_s=0.01, cap_s=0.05)


class DroppingProxy:
    """HTTP proxy to ``target`` that hangs up on the first ``drops`` POSTs after forwarding."""

    def __init__(self, target: str, drops: int) -> None:
        self.target = target
        self.drops = drops
        self.posts: list[tuple[str | None, bytes]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                request.method, self.target + request.path_qs, headers=headers, data=body
            ) as resp,
        ):
            answer = await resp.read()
            status, kind = resp.status, resp.content_type
        if request.method == "POST":
            self.posts.append((request.headers.get("Idempotency-Key"), body))
            if self.drops > 0:
                self.drops -= 1
                assert request.transport is not None
                request.transport.abort()  # the order was placed; its answer is lost
        return web.Response(status=status, body=answer, content_type=kind)


@asynccontextmanager
async def proxied(target: str, drops: int) -> AsyncIterator[tuple[str, DroppingProxy]]:
    proxy = DroppingProxy(target, drops)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", proxy
    finally:
        await runner.cleanup()


async def test_a_lost_answer_is_retried_with_the_same_idempotency_key(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack, served(stack.app) as base:
        tenant = await stack.add_tenant("t1")
        async with (
            proxied(base, drops=2) as (url, proxy),
            AsyncGatewayClient(url, tenant.admin_key, backoff=FAST) as gw,
        ):
            order = await gw.place_order(
                "main", "BTC-USDT", "buy", price=Decimal("60000"), size=Decimal("0.001")
            )
        assert len(proxy.posts) == 3, "two lost answers, then the replayed one"
        assert len({key for key, _ in proxy.posts}) == 1, "one Idempotency-Key for every try"
        assert len({body for _, body in proxy.posts}) == 1, "the same body (and clientOid)"
        assert proxy.posts[0][0]
        placed = await stack.sim_admin("GET", f"/_sim/orders?clientOid={order.client_oid}")
        assert placed["accepted"] == 1, "placed exactly once"
        assert order.price == Decimal("60000") and order.state in ("acked", "open")


async def test_refusals_are_typed_with_their_reasons(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack, served(stack.app) as base:
        tenant = await stack.add_tenant("t1")
        reader = await stack.key(tenant, Scope.READ)
        async with AsyncGatewayClient(base, tenant.admin_key, backoff=FAST) as gw:
            with pytest.raises(InvalidRequest) as risk:
                await gw.place_order("main", "BTC-USDT", "buy", price="60000", size="100")
            assert risk.value.error == "risk_rejected"
            assert risk.value.failures and risk.value.failures[0]["code"].startswith("risk.")
            with pytest.raises(NotFound) as missing:
                await gw.get_order("nope")
            assert missing.value.error == "not_found"
        async with AsyncGatewayClient(base, reader, backoff=FAST) as gw:
            with pytest.raises(Forbidden):
                await gw.place_order("main", "BTC-USDT", "buy", price="60000", size="0.001")
        async with AsyncGatewayClient(base, "kgw_nope", backoff=FAST) as gw:
            with pytest.raises(Unauthenticated):
                await gw.list_orders()
        # nobody listening: retried, then one clear error
        async with AsyncGatewayClient("http://127.0.0.1:9", "k", retries=1, backoff=FAST) as gw:
            with pytest.raises(GatewayUnavailable) as down:
                await gw.list_orders()
            assert down.value.error == "no_answer"


def test_a_rejected_order_carries_the_order_and_its_reason() -> None:
    body = {"id": "i1", "state": "rejected", "reason": "size below the minimum"}
    exc = error_for(422, body)
    assert isinstance(exc, OrderRejected)
    assert exc.reason == "size below the minimum" and exc.order["id"] == "i1"
    assert "size below the minimum" in str(exc)
    assert isinstance(error_for(422, {"error": "invalid_request", "message": "m"}), InvalidRequest)
    assert isinstance(error_for(503, "not json"), GatewayUnavailable)


async def test_the_blocking_client_places_cancels_and_reads_events(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack, served(stack.app) as base:
        tenant = await stack.add_tenant("t1")

        def bot() -> tuple[str, list[str], int | None]:
            with GatewayClient(base, tenant.admin_key) as gw:
                order = gw.place_order("main", "BTC-USDT", "buy", price="60000", size="0.001")
                gw.cancel_order(order.id)
                events = gw.events(after=0)
                states = []
                for event in events:
                    states.append(event.data["state"])
                    if event.data["state"] == "cancelled":
                        break
                events.close()
                return order.id, states, gw.last_event_id

        order_id, states, last = await asyncio.to_thread(bot)
        assert states[0] == "sent" and states[-1] == "cancelled"
        assert last is not None and last >= len(states)
        got = await stack.http.get(
            f"/v1/orders/{order_id}", headers={"Authorization": f"Bearer {tenant.admin_key}"}
        )
        assert got.json()["state"] == "cancelled"


async def test_a_key_still_in_progress_is_retried_until_answered(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack, served(stack.app) as base:
        tenant = await stack.add_tenant("t1")
        stack.services.idempotency.wait_s = 0.2  # a second try hears "in progress" quickly
        router = stack.services.orders
        place = router.place

        async def slow_place(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(2.0)  # the first try is still at the exchange when it times out
            return await place(*args, **kwargs)

        router.place = slow_place  # type: ignore[method-assign]
        client = AsyncGatewayClient(base, tenant.admin_key, backoff=FAST, timeout_s=0.5, retries=20)
        async with client as gw:  # the retry finds the key in progress (409), and tries again
            order = await gw.place_order(
                "main", "BTC-USDT", "buy", price=Decimal("60000"), size=Decimal("0.001")
            )
        placed = await stack.sim_admin("GET", f"/_sim/orders?clientOid={order.client_oid}")
        assert placed["accepted"] == 1
