"""The kill switch end to end: gateway + simulator, 1,000 open orders over 20 accounts, 3 markets.

Issue 13 (Tests): ``POST /v1/risk/halt`` at gateway level with ``cancelOpen``: new orders are
refused, and every open order is cancelled AT THE SIMULATOR (its own order book is checked, not
only the gateway's database), while the gateway's records agree. How fast (issue 13: refused
within 1 s, cancelled within 5 s) is measured by ``bench/bench_kill_switch.py`` on the same drill
(``kill_switch_drill.py``): tests assert no timings. A per-account halt refuses that account only.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.gateway import auth, gateway_stack
from tests.integration.kill_switch_drill import (
    LIMITS,
    ROUTES,
    funded_tenant,
    halt_drill,
    resting_body,
    sim_active,
)


async def test_gateway_halt_refuses_new_orders_and_cancels_every_open_order(tmp_path: Path) -> None:
    result = await halt_drill(tmp_path)  # asserts every outcome, then reports its timings
    print(
        f"placed in {result.placed_s:.1f} s; refused after {result.refused_after_s:.3f} s, "
        f"all cancelled after {result.cancelled_after_s:.3f} s"
    )


async def test_an_account_halt_refuses_that_account_only(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path, tick_ms=0, risk_limits=LIMITS) as stack:
        halted, other = (await funded_tenant(stack, 0)), (await funded_tenant(stack, 1))
        resp = await stack.http.post(
            "/v1/orders", json=resting_body("spot", 1), headers=auth(halted.admin_key)
        )
        assert resp.status_code == 201, resp.text
        body = {"level": "account", "target": "main", "reason": "leaked key", "cancelOpen": True}
        resp = await stack.http.post("/v1/risk/halt", json=body, headers=auth(halted.admin_key))
        assert resp.status_code == 200, resp.text
        cancel = resp.json()["cancel"]
        assert cancel["cancelled"] == 1 and cancel["failures"] == [], resp.text
        assert sim_active(stack, [halted.sim_account["uid"]]) == 0
        for market, route in ROUTES.items():
            resp = await stack.http.post(
                route, json=resting_body(market, 2), headers=auth(halted.admin_key)
            )
            assert resp.status_code == 422, (market, resp.text)
            assert "risk.halted" in {f["code"] for f in resp.json()["failures"]}, resp.text
            resp = await stack.http.post(
                route, json=resting_body(market, 3), headers=auth(other.admin_key)
            )
            assert resp.status_code == 201, (market, resp.text)
        # the other account's orders are untouched by the halt
        assert sim_active(stack, [other.sim_account["uid"]]) == 3
