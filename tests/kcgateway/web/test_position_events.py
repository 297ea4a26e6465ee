"""``position`` events: a futures position opened and closed through the gateway is pushed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from tests.helpers.gateway import Stack, auth, futures_body, gateway_stack


async def _positions(stack: Stack, key: str, want: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:  # the engine reads positions at its account refreshes (every 2 s)
        resp = await stack.http.get(
            "/v1/events/page", params={"after": 0, "kinds": "position"}, headers=auth(key)
        )
        assert resp.status_code == 200, resp.text
        events: list[dict[str, Any]] = resp.json()["events"]
        if len(events) >= want:
            return events
        assert time.monotonic() < deadline, f"{len(events)} position events of {want}"
        await asyncio.sleep(0.2)


async def test_opening_and_closing_a_futures_position_are_two_events(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        await stack.fund(tenant, "futures", {"USDT": "500000"})
        other = await stack.add_tenant("t2")
        h = auth(tenant.admin_key)
        buy = futures_body("main", type="market", price=None, size=2)
        resp = await stack.http.post("/v1/futures/orders", json=buy, headers=h)
        assert resp.status_code == 201, resp.text
        (opened,) = await _positions(stack, tenant.admin_key, 1)
        assert opened["subject"] == "XBTUSDTM" and opened["accountId"] == tenant.account_id
        data = opened["data"]
        assert (data["currentQty"], data["previousQty"], data["isOpen"]) == ("2", "0", True)
        assert data["avgEntryPrice"] and data["markPrice"] and data["settleCurrency"] == "USDT"

        sell = futures_body("main", side="sell", type="market", price=None, size=2,
                            reduceOnly=True)  # fmt: skip
        resp = await stack.http.post("/v1/futures/orders", json=sell, headers=h)
        assert resp.status_code == 201, resp.text
        events = await _positions(stack, tenant.admin_key, 2)
        assert len(events) == 2, events  # nothing told twice
        closed = events[1]["data"]
        assert (closed["currentQty"], closed["previousQty"], closed["isOpen"]) == ("0", "2", False)

        resp = await stack.http.get(  # another tenant sees none of it
            "/v1/events/page", params={"after": 0, "kinds": "position"},
            headers=auth(other.admin_key),
        )  # fmt: skip
        assert resp.json()["events"] == []
