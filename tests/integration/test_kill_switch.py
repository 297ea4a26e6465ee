"""The kill switch end to end: gateway + simulator, 1,000 open orders over 20 accounts, 3 markets.

Issue 13 (Tests): ``POST /v1/risk/halt`` at gateway level with ``cancelOpen``: new orders are
refused within 1 s of the halt call, and every open order is cancelled AT THE SIMULATOR within
5 s (its own order book is checked, not only the gateway's database). A per-account halt
refuses that account only.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.helpers.gateway import (
    Stack,
    Tenant,
    auth,
    futures_body,
    gateway_stack,
    order_body,
    stack_limits,
)

ACCOUNTS = 20
ORDERS = 1_000
CONCURRENCY = 24
#: the stack's limits let balances and last prices age 60 s: while 1,000 orders are placed on a
#: loaded 2-core machine they may pass the 5 s default (a full `make check` with coverage saw
#: XBTUSDTM's last price 5.7 s old); refused as stale would be correct, but this test is about
#: the halt
LIMITS = stack_limits()
ROUTES = {
    "spot": "/v1/orders",
    "margin": "/v1/margin/orders",
    "futures": "/v1/futures/orders",
}


async def _tenant(stack: Stack, n: int) -> Tenant:
    tenant = await stack.add_tenant(f"t{n}")
    for account_type in ("margin", "futures"):
        await stack.sim_admin(
            "POST",
            "/_sim/fund",
            {
                "uid": tenant.sim_account["uid"],
                "accountType": account_type,
                "balances": {"USDT": "500000"},
            },
        )
    return tenant


def _body(market: str, i: int) -> dict[str, Any]:
    """A resting buy well below the simulator's ~65,000 (never fills), one price per order."""
    price = str(Decimal(50_000) + Decimal(i))
    if market == "futures":
        return futures_body("main", price=price, size=1, leverage="5")
    body = order_body("main", price=price)
    if market == "margin":
        body["marginMode"] = "cross"
    return body


def _sim_active(stack: Stack, uids: list[str]) -> int:
    """Open orders at the simulator itself (every market) of these users."""
    exchange = stack.sim.state.exchange
    return sum(1 for uid in uids for o in exchange.orders(uid) if o.active)


async def _place_all(stack: Stack, tenants: list[Tenant]) -> None:
    jobs = [
        (tenants[i % ACCOUNTS], ("spot", "margin", "futures")[(i // ACCOUNTS) % 3], i)
        for i in range(ORDERS)
    ]
    queue: asyncio.Queue[tuple[Tenant, str, int]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    failures: list[str] = []

    async def worker() -> None:
        while not queue.empty():
            tenant, market, i = queue.get_nowait()
            resp = await stack.http.post(
                ROUTES[market], json=_body(market, i), headers=auth(tenant.admin_key)
            )
            if resp.status_code != 201:
                failures.append(f"{market} {resp.status_code} {resp.text[:300]}")

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    assert not failures, failures[:3]
    print(f"placed {ORDERS} orders in {time.monotonic() - began:.1f} s")


async def test_gateway_halt_refuses_at_once_and_cancels_every_open_order(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path, tick_ms=0, risk_limits=LIMITS) as stack:
        tenants = [await _tenant(stack, n) for n in range(ACCOUNTS)]
        uids = [t.sim_account["uid"] for t in tenants]
        await _place_all(stack, tenants)
        assert _sim_active(stack, uids) == ORDERS, "every order rests at the simulator"

        operator = tenants[0]
        body = {"level": "gateway", "reason": "kill switch drill", "cancelOpen": True}
        started = time.monotonic()
        halt = asyncio.create_task(
            stack.http.post("/v1/risk/halt", json=body, headers=auth(operator.admin_key))
        )
        # new orders: refused within 1 s of the call (while the cancel is still under way)
        refused_after = None
        probe = 0
        while refused_after is None:
            await asyncio.sleep(0.02)
            probe += 1
            tenant = tenants[probe % ACCOUNTS]
            resp = await stack.http.post(
                "/v1/orders", json=_body("spot", ORDERS + probe), headers=auth(tenant.admin_key)
            )
            if resp.status_code == 422 and resp.json().get("error") == "risk_rejected":
                assert "risk.halted" in {f["code"] for f in resp.json()["failures"]}, resp.text
                refused_after = time.monotonic() - started
            else:
                assert resp.status_code == 201, resp.text
                assert time.monotonic() - started < 1.0, "still accepting 1 s after the halt"
        assert refused_after < 1.0, refused_after
        # every open order, all markets, cancelled at the simulator within 5 s
        while (left := _sim_active(stack, uids)) > 0:
            assert time.monotonic() - started < 5.0, f"{left} orders still open after 5 s"
            await asyncio.sleep(0.05)
        cancelled_after = time.monotonic() - started
        resp = await halt
        assert resp.status_code == 200, resp.text
        report = resp.json()["cancel"]
        assert report["failures"] == [], report
        # the gateway's own records agree: nothing of it is left open
        for tenant in tenants[:3]:
            for route in ROUTES.values():
                listed = (await stack.http.get(route, headers=auth(tenant.admin_key))).json()
                assert listed and all(o["state"] == "cancelled" for o in listed), listed[:2]
        # and the halt holds for every market
        for market, route in ROUTES.items():
            resp = await stack.http.post(
                route, json=_body(market, 10 * ORDERS), headers=auth(tenants[5].admin_key)
            )
            assert resp.status_code == 422 and resp.json()["error"] == "risk_rejected", market
        print(f"refused after {refused_after:.3f} s, all cancelled after {cancelled_after:.3f} s")


async def test_an_account_halt_refuses_that_account_only(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path, tick_ms=0, risk_limits=LIMITS) as stack:
        halted, other = (await _tenant(stack, 0)), (await _tenant(stack, 1))
        resp = await stack.http.post(
            "/v1/orders", json=_body("spot", 1), headers=auth(halted.admin_key)
        )
        assert resp.status_code == 201, resp.text
        body = {"level": "account", "target": "main", "reason": "leaked key", "cancelOpen": True}
        resp = await stack.http.post("/v1/risk/halt", json=body, headers=auth(halted.admin_key))
        assert resp.status_code == 200, resp.text
        cancel = resp.json()["cancel"]
        assert cancel["cancelled"] == 1 and cancel["failures"] == [], resp.text
        assert _sim_active(stack, [halted.sim_account["uid"]]) == 0
        for market, route in ROUTES.items():
            resp = await stack.http.post(
                route, json=_body(market, 2), headers=auth(halted.admin_key)
            )
            assert resp.status_code == 422, (market, resp.text)
            assert "risk.halted" in {f["code"] for f in resp.json()["failures"]}, resp.text
            resp = await stack.http.post(
                route, json=_body(market, 3), headers=auth(other.admin_key)
            )
            assert resp.status_code == 201, (market, resp.text)
        # the other account's orders are untouched by the halt
        assert _sim_active(stack, [other.sim_account["uid"]]) == 3
