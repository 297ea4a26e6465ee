"""The pages' server side without a browser: paging, filters, detail, what each key sees."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from kcgateway.gateway.apikeys import Scope
from tests.helpers.console_seed import seed_orders
from tests.helpers.gateway import Stack, gateway_stack


async def _signed_in(stack: Stack, key: str) -> httpx.AsyncClient:
    client = stack.client()
    page = await client.get("/ui/login")
    nonce = page.cookies["kcgw_login"]
    client.cookies.set("kcgw_login", nonce)
    answer = await client.post("/ui/login", data={"key": key, "nonce": nonce})
    assert answer.status_code == 303
    client.cookies.set("kcgw_console", answer.cookies["kcgw_console"])
    return client


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-state="([a-z_]+)">', html)


async def test_orders_page_on_the_server_with_filters(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        other = await stack.add_tenant("t2")
        await seed_orders(stack.services.db, tenant.account_id, 120)
        await seed_orders(stack.services.db, other.account_id, 7)
        client = await _signed_in(stack, tenant.admin_key)
        first = await client.get("/ui/orders")
        assert "120 orders; page 1 of 3." in first.text and len(_rows(first.text)) == 50
        assert 'href="/ui/orders?page=2" rel="next"' in first.text
        last = await client.get("/ui/orders", params={"page": 3})
        assert len(_rows(last.text)) == 20 and 'rel="next"' not in last.text
        opened = await client.get("/ui/orders/table", params={"state": "open"})
        assert set(_rows(opened.text)) == {"open"} and "30 orders" in opened.text
        assert "<html" not in opened.text  # the htmx partial: the table alone
        eth = await client.get("/ui/orders", params={"symbol": "eth-usdt", "state": "filled"})
        assert "10 orders" in eth.text  # i % 3 == 1 and i % 4 == 0: i = 4, 16, ... 112
        bad = await client.get("/ui/orders", params={"state": "nope"})
        assert bad.status_code == 400 and "state must be one of" in bad.text
        foreign = await client.get("/ui/orders", params={"account": other.account_id})
        assert foreign.status_code == 404  # another tenant's account is nobody's
        overview = await client.get("/ui")
        assert '<strong id="open-orders">30</strong>' in overview.text
        assert "Risk state" in overview.text and "Recent alerts" in overview.text
        await client.aclose()


async def test_a_read_key_sees_overview_and_orders_only(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        await seed_orders(stack.services.db, tenant.account_id, 3)
        client = await _signed_in(stack, await stack.key(tenant, Scope.READ))
        overview = await client.get("/ui")
        assert overview.status_code == 200 and "Risk state" not in overview.text
        orders = await client.get("/ui/orders")
        assert 'id="place-form"' not in orders.text and len(_rows(orders.text)) == 3
        order_id = re.findall(r'href="/ui/orders/([0-9a-f-]{36})"', orders.text)[0]
        detail = await client.get(f"/ui/orders/{order_id}")
        assert detail.status_code == 200 and 'id="cancel"' not in detail.text
        for path in ("/ui/keys", "/ui/risk"):
            assert (await client.get(path)).status_code == 403
        await client.aclose()


async def test_the_audit_page_shows_the_tenants_records_to_an_admin_only(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        other = await stack.add_tenant("t2")
        reader = await stack.key(tenant, Scope.READ)
        client = await _signed_in(stack, tenant.admin_key)
        page = await client.get("/ui/audit")
        actions = re.findall(r'<tr data-action="([a-z_.]+)">', page.text)
        assert "key.created" in actions and 'href="/ui/audit"' in page.text
        assert other.id not in page.text  # another tenant's records are not listed
        keys_only = await client.get("/ui/audit", params={"action": "key."})
        assert set(re.findall(r'<tr data-action="([a-z_.]+)">', keys_only.text)) == {"key.created"}
        await client.aclose()
        client = await _signed_in(stack, reader)
        assert (await client.get("/ui/audit")).status_code == 403
        assert 'href="/ui/audit"' not in (await client.get("/ui")).text
        await client.aclose()


async def test_orders_filter_by_day(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        start = datetime(2026, 11, 30, 0, 0, 30, tzinfo=UTC)  # 31 on the 30th, 9 on the 29th
        await seed_orders(stack.services.db, tenant.account_id, 40, start=start)
        client = await _signed_in(stack, tenant.admin_key)
        on_30 = await client.get("/ui/orders", params={"from": "2026-11-30"})
        assert "31 orders" in on_30.text and 'value="2026-11-30"' in on_30.text
        on_29 = await client.get(
            "/ui/orders/table", params={"from": "2026-11-29", "to": "2026-11-29"}
        )
        assert "9 orders" in on_29.text and "from=2026-11-29&amp;to=2026-11-29" in on_29.text
        bad = await client.get("/ui/orders", params={"from": "30/11/2026"})
        assert bad.status_code == 400 and "from must be a date such as" in bad.text
        backwards = await client.get(
            "/ui/orders", params={"from": "2026-11-30", "to": "2026-11-29"}
        )
        assert backwards.status_code == 400 and "same day as" in backwards.text
        # the viewer's day (tz: the browser's offset, UTC minus local, in minutes): at UTC+1
        # the 30th began at 23:00 UTC on the 29th and holds all 40; at UTC-1 it holds none
        east = await client.get(
            "/ui/orders/table", params={"from": "2026-11-30", "to": "2026-11-30", "tz": "-60"}
        )
        assert "40 orders" in east.text and "tz=-60" in east.text, east.text
        west = await client.get("/ui/orders/table", params={"from": "2026-11-30", "tz": "60"})
        assert "0 orders" in west.text or "No orders" in west.text, west.text
        far = await client.get("/ui/orders", params={"from": "2026-11-30", "tz": "9999"})
        assert far.status_code == 400 and "tz must be between" in far.text
        await client.aclose()


async def test_audit_chain_verification_state_on_the_page(tmp_path: Path) -> None:
    from sqlalchemy import select, update

    from kcgateway.store.tables import AuditRecord

    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        reader = await _signed_in(stack, await stack.key(tenant, Scope.READ))
        refused = await reader.get("/ui/audit/verify")
        assert refused.status_code == 403 and "admin" in refused.text
        await reader.aclose()
        client = await _signed_in(stack, tenant.admin_key)
        assert 'href="/ui/audit/verify"' in (await client.get("/ui/audit")).text
        intact = await client.get("/ui/audit/verify")
        assert (
            intact.status_code == 200
            and '<p id="chain-state" class="state state-active">intact' in intact.text
        )
        async with stack.services.db.write() as session:
            seq = await session.scalar(select(AuditRecord.seq).order_by(AuditRecord.seq).limit(1))
            await session.execute(
                update(AuditRecord).where(AuditRecord.seq == seq).values(actor="someone-else")
            )
        broken = await client.get("/ui/audit/verify")
        assert f"broken at record {seq}" in broken.text
        await client.aclose()
