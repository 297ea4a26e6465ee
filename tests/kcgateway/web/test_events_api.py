"""GET /v1/events: resume after a drop gets every event once and in order; tenants and scopes.

The stream runs on a real loopback server (:mod:`tests.helpers.served`): ASGI in-process
transports buffer whole responses. Orders are placed and cancelled through the same app.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from kcgateway.client import AsyncGatewayClient, Event, Forbidden, Unauthenticated
from kcgateway.gateway import apikeys
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.keys import Operator
from tests.helpers.gateway import Stack, Tenant, auth, gateway_stack, order_body
from tests.helpers.served import CuttingProxy, served

#: orders placed and cancelled while the follower drops and resumes (about 3 events each).
#: The suite's time budget keeps it at 100 (about 10 s); the issue's full size is
#: ``KCGW_EVENTS_ORDERS=1000 pytest tests/kcgateway/web/test_events_api.py -k resume``.
ORDERS = int(os.environ.get("KCGW_EVENTS_ORDERS", "100"))
WAIT_S = 60.0 + ORDERS * 0.3  # hang protection only, never a timing assertion


async def _place_and_cancel(stack: Stack, tenant: Tenant, count: int, start: int = 0) -> list[str]:
    """``count`` resting orders, each cancelled: sent, acked/open, cancelled. Their ids."""
    ids: list[str] = []
    gate = asyncio.Semaphore(8)

    async def one(n: int) -> None:
        async with gate:
            # prices differ: the duplicate-order check refuses the same order twice at once
            body = order_body("main", clientOid=f"ev-{tenant.id[:8]}-{n}", price=str(60000 - n))
            resp = await stack.http.post("/v1/orders", json=body, headers=auth(tenant.admin_key))
            assert resp.status_code == 201, resp.text
            order_id = resp.json()["id"]
            ids.append(order_id)
            resp = await stack.http.delete(f"/v1/orders/{order_id}", headers=auth(tenant.admin_key))
            assert resp.status_code == 200, resp.text

    await one(start)  # alone: the risk engine loads a new account's figures on its first order
    await asyncio.gather(*(one(n) for n in range(start + 1, start + count)))
    return ids


async def _all_events(stack: Stack, key: str) -> list[dict[str, Any]]:
    """Every event ``key`` may see, from the JSON pages."""
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        resp = await stack.http.get(
            "/v1/events/page", params={"after": after, "limit": 1000}, headers=auth(key)
        )
        assert resp.status_code == 200, resp.text
        page = resp.json()
        found += page["events"]
        if not page["events"]:
            return found
        after = page["next"]


async def _collect_until(stream: Any, last_id: int, into: list[Event]) -> None:
    async for event in stream:
        into.append(event)
        if event.id >= last_id:
            return


async def test_resume_after_drops_gets_every_event_once_in_order(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack, served(stack.app) as base:
        tenant = await stack.add_tenant("t1")
        reader = await stack.key(tenant, Scope.READ)
        port = int(base.rsplit(":", 1)[1])
        proxy = CuttingProxy(port)
        url = await proxy.start()
        seen: list[Event] = []
        try:
            # a bot follows from the start, and the network drops under it twice
            async with AsyncGatewayClient(url, reader) as bot:
                stream = bot.events(after=0, read_timeout_s=10)
                producer = asyncio.create_task(_place_and_cancel(stack, tenant, ORDERS // 3))
                while len(seen) < ORDERS // 3:
                    seen.append(await asyncio.wait_for(anext(stream), WAIT_S))
                    if len(seen) in (20, 60):
                        proxy.cut()  # the client reconnects with Last-Event-ID by itself
                await producer
                await stream.aclose()
                stopped_at = bot.last_event_id
            # the bot is down while more orders change state, then restarts from its stored id
            await _place_and_cancel(stack, tenant, ORDERS - ORDERS // 3, start=ORDERS)
            expected = await _all_events(stack, reader)
            async with AsyncGatewayClient(url, reader) as bot:
                stream = bot.events(after=stopped_at)
                await asyncio.wait_for(_collect_until(stream, expected[-1]["id"], seen), WAIT_S)
                await stream.aclose()
        finally:
            await proxy.aclose()
        assert proxy.cuts >= 2
        ids = [e.id for e in seen]
        assert ids == [e["id"] for e in expected], "each event exactly once, in id order"
        states = [e.data["state"] for e in seen if e.kind == "order.state"]
        assert states.count("cancelled") == ORDERS
        assert len(seen) >= 3 * ORDERS  # sent, acked or open, cancelled


async def test_tenant_scope_and_kinds(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        one, two = await stack.add_tenant("t1"), await stack.add_tenant("t2")
        reader = await stack.key(one, Scope.READ)
        risky = await stack.key(one, Scope.READ, Scope.RISK_MANAGE)
        mine = await _place_and_cancel(stack, one, 3)
        theirs = await _place_and_cancel(stack, two, 3)
        alerts = stack.services.alerts
        assert alerts is not None
        now = datetime.now(UTC)
        await alerts.raise_alert(
            "test.one", "warning", ["x"], "about t1", {}, now, tenant_id=one.id
        )
        await alerts.raise_alert(
            "test.two", "warning", ["x"], "about t2", {}, now, tenant_id=two.id
        )
        await alerts.raise_alert("test.all", "critical", [], "gateway-wide", {}, now)

        seen = await _all_events(stack, reader)
        subjects = {e["subject"] for e in seen}
        assert set(mine) <= subjects, "a read key sees its tenant's order events"
        assert not set(theirs) & subjects, "another tenant's events never arrive"
        assert {e["accountId"] for e in seen} == {one.account_id}
        assert {e["kind"] for e in seen} == {"order.state"}, "no alerts without risk:manage"

        risk_view = await _all_events(stack, risky)
        alerts_seen = [e["data"]["kind"] for e in risk_view if e["kind"] == "alert"]
        assert alerts_seen == ["test.one"], "its tenant's alert only; gateway-wide needs admin"
        admin_view = await _all_events(stack, one.admin_key)
        admin_alerts = [e["data"]["kind"] for e in admin_view if e["kind"] == "alert"]
        assert admin_alerts == ["test.one", "test.all"]
        resp = await stack.http.get(
            "/v1/events/page", params={"kinds": "alert"}, headers=auth(one.admin_key)
        )
        assert {e["kind"] for e in resp.json()["events"]} == {"alert"}
        resp = await stack.http.get(
            "/v1/events/page", params={"kinds": "nope"}, headers=auth(reader)
        )
        assert resp.status_code == 400
        assert resp.json()["field"] == "kinds"


async def test_stream_refusals_and_live_start(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack, served(stack.app) as base:
        tenant = await stack.add_tenant("t1")
        trader = await stack.key(tenant, Scope.TRADE_SPOT)
        await _place_and_cancel(stack, tenant, 2)  # history a live follower must not get
        async with AsyncGatewayClient(base, "kgw_nope") as bot:
            try:
                await anext(bot.events())
            except Unauthenticated as exc:
                assert exc.status == 401
            else:  # pragma: no cover
                raise AssertionError("a bad key is refused, not retried forever")
        async with AsyncGatewayClient(base, trader) as bot:
            try:
                await anext(bot.events())
            except Forbidden as exc:
                assert exc.field is None or exc.error == "forbidden"
            else:  # pragma: no cover
                raise AssertionError("a key without read cannot follow")
        async with aiohttp.ClientSession() as http:
            bad = {**auth(tenant.admin_key), "Last-Event-ID": "x1"}
            async with http.get(base + "/v1/events", headers=bad) as resp:
                assert resp.status == 400
                assert (await resp.json())["field"] == "Last-Event-ID"
        history = await _all_events(stack, tenant.admin_key)
        async with AsyncGatewayClient(base, tenant.admin_key) as bot:
            stream = bot.events()  # no id: live events only
            first = asyncio.create_task(anext(stream))
            feed = stack.services.event_feed
            assert feed is not None
            while not feed.hub.followers:  # its start point is fixed once it follows
                await asyncio.sleep(0.01)
            fresh = await _place_and_cancel(stack, tenant, 1, start=10)
            event = await asyncio.wait_for(first, WAIT_S)
            await stream.aclose()
        assert event.id > history[-1]["id"]
        assert event.subject == fresh[0]


async def test_a_revoked_key_stream_ends_and_cannot_resume(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack, served(stack.app) as base:
        tenant = await stack.add_tenant("t1")
        reader = await stack.key(tenant, Scope.READ)
        feed = stack.services.event_feed
        assert feed is not None
        feed.poll_s = feed.recheck_s = 0.05
        async with AsyncGatewayClient(base, reader) as bot:
            stream = bot.events(after=0)
            first = asyncio.create_task(anext(stream))
            while not feed.hub.followers:
                await asyncio.sleep(0.01)
            presented = apikeys.parse_key(reader)
            assert presented is not None
            await stack.services.keys.revoke(tenant.id, presented.key_id, actor=Operator("test"))
            try:
                await asyncio.wait_for(first, WAIT_S)
            except Unauthenticated:
                pass  # the stream ended; the reconnect was refused
            else:  # pragma: no cover
                raise AssertionError("a revoked key kept following")
        assert feed.hub.followers == 0


async def test_the_websocket_stream_resumes_and_refuses_like_the_sse_one(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack, served(stack.app) as base:
        one, two = await stack.add_tenant("t1"), await stack.add_tenant("t2")
        reader = await stack.key(one, Scope.READ)
        trader = await stack.key(one, Scope.TRADE_SPOT)
        await _place_and_cancel(stack, one, 2)
        await _place_and_cancel(stack, two, 2)
        expected = [e["id"] for e in await _all_events(stack, reader)]
        feed = stack.services.event_feed
        assert feed is not None
        ws_url = base.replace("http", "ws", 1) + "/v1/events/ws"
        async with aiohttp.ClientSession() as http:
            for key, status in (("kgw_nope", 401), (trader, 403)):
                try:
                    await http.ws_connect(ws_url, headers=auth(key))
                except aiohttp.WSServerHandshakeError as exc:
                    assert exc.status == status
                else:  # pragma: no cover
                    raise AssertionError("the handshake is refused")
            headers = {**auth(reader), "Last-Event-ID": str(expected[1])}
            async with http.ws_connect(ws_url, headers=headers) as ws:
                assert (await ws.receive_json(timeout=WAIT_S)) == {"resumeAfter": expected[1]}
                got = [(await ws.receive_json(timeout=WAIT_S))["id"] for _ in expected[2:]]
                assert got == expected[2:], "the rest, once, in order; no other tenant's"
                assert feed.hub.followers == 1
        async with asyncio.timeout(WAIT_S):  # the server notices the client left
            while feed.hub.followers:
                await asyncio.sleep(0.02)
