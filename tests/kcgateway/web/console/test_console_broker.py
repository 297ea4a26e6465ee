"""The Broker page's commission by day: KuCoin's rebate file, the tenant's sub-accounts only."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from kcgateway.gateway.console.broker_reads import CommissionDay, commission_by_day
from tests.helpers.gateway import auth, gateway_stack, order_body, warm_risk
from tests.kcgateway.web.console.test_console_pages import _signed_in
from tests.kcgateway.web.test_subaccounts_api import _broker, _register_sub_keys

D = Decimal
CSV = """Date,BrokerUID,AffiliateUID,UID,BizLine,Volume,TotalCommission,BrokerCommission,\
UserCommission
20261130,9,,111,Spot,100,0.2,0.1,0
20261201,9,,111,Spot,50,0.1,0.05,0
20261201,9,,222,Spot,10,0.02,0.01,0
20261201,9,,333,Spot,999,9,4.5,0
20261201,9,,111,Spot,oops,0.1,0.05,0
"""


def test_commission_by_day_sums_only_the_tenants_uids() -> None:
    assert commission_by_day(CSV, ["111", "222"]) == [
        CommissionDay("20261130", D(100), D("0.1")),
        CommissionDay("20261201", D(60), D("0.06")),  # 333 is another tenant's; 'oops' skipped
    ]
    assert commission_by_day(CSV, []) == []


async def test_broker_page_shows_the_tenants_commission(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("acme")
        other = await stack.add_tenant("other")
        client = await _signed_in(stack, tenant.admin_key)
        empty = await client.get("/ui/broker")
        assert "No broker configured" in empty.text and "No commission" in empty.text
        await _broker(stack)
        made = await stack.http.post(
            "/v1/broker/subaccounts", json={"name": "sub1"}, headers=auth(tenant.admin_key)
        )
        assert made.status_code == 201, made.text
        uid = made.json()["uid"]
        _register_sub_keys(stack, uid)
        await stack.sim_admin("POST", "/_sim/fund", {"uid": uid, "balances": {"USDT": "100000"}})
        await warm_risk(stack, tenant.id, made.json()["accountId"])
        market = order_body("sub1", type="market", size="0.01", price=None)
        placed = await stack.http.post("/v1/orders", json=market, headers=auth(tenant.admin_key))
        assert placed.status_code == 201, placed.text
        fees = sum(f.fee for f in stack.sim.state.exchange.fills(uid, start_ms=0, end_ms=2**62))
        assert fees > 0

        page = await client.get("/ui/broker")
        assert page.status_code == 200 and "KCGW_ND" in page.text
        assert 'id="commission-problem"' not in page.text, page.text
        assert page.text.count("<tr data-day=") == 1, page.text
        row = re.search(r'<tr data-day="\d{8}"><td>[^<]+</td><td class="num">([^<]+)</td>'
                        r'<td class="num">([^<]+)</td></tr>', page.text)  # fmt: skip
        assert row is not None and D(row.group(2)) == fees / 2  # the broker's half
        theirs = await _signed_in(stack, other.admin_key)
        assert "<tr data-day=" not in (await theirs.get("/ui/broker")).text  # not their subs
        await theirs.aclose()
        await client.aclose()
