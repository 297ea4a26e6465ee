"""Order lists filter and page: account, symbol, state, a time range, an opaque cursor.

Intents are seeded straight into the store (with chosen times, several sharing one instant) so
the filters are checked against a known answer, without the exchange.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from kcgateway.store.ledger import NewIntent, OrderIntentRepository
from kcgateway.store.repositories import AccountRepository
from kcgateway.store.types import OrderState
from tests.helpers.gateway import Stack, auth, gateway_stack

T0 = datetime(2026, 11, 1, tzinfo=UTC)
STATES = (OrderState.OPEN, OrderState.FILLED, OrderState.REJECTED)
SYMBOLS = ("BTC-USDT", "ETH-USDT")


async def _seed(stack: Stack, tenant_id: str, main_id: str) -> list[dict[str, Any]]:
    """25 intents over two accounts, two symbols, three states; every third pair shares a time."""
    async with stack.services.db.write() as session:
        second = await AccountRepository(session).add(tenant_id, "second", now=T0)
        repo = OrderIntentRepository(session)
        seeded = []
        states, symbols = itertools.cycle(STATES), itertools.cycle(SYMBOLS)
        for i in range(25):
            account = (main_id, str(second))[i % 2]
            when = T0 + timedelta(minutes=i - i % 3 // 2)  # pairs share a minute
            intent = NewIntent(account, f"oid-{i}", next(symbols), "buy", "limit",
                               Decimal(60000), Decimal("0.001"), state=next(states))  # fmt: skip
            await repo.add(intent, now=when)
            seeded.append({"oid": f"oid-{i}", "account": account, "when": when,
                           "symbol": intent.symbol, "state": intent.state.value})  # fmt: skip
    return seeded


async def _oids(http: httpx.AsyncClient, key: str, query: str) -> list[str]:
    resp = await http.get(f"/v1/orders?{query}", headers=auth(key))
    assert resp.status_code == 200, resp.text
    return [o["clientOid"] for o in resp.json()]


def _expected(seeded: list[dict[str, Any]], **match: Any) -> list[str]:
    rows = [r for r in seeded if all(r[k] == v for k, v in match.items())]
    return [r["oid"] for r in rows]


async def _all_pages(http: httpx.AsyncClient, key: str, query: str) -> list[str]:
    found: list[str] = []
    cursor = ""
    for _ in range(50):
        resp = await http.get(f"/v1/orders?{query}{cursor}", headers=auth(key))
        assert resp.status_code == 200, resp.text
        found += [o["clientOid"] for o in resp.json()]
        nxt = resp.headers.get("x-next-cursor")
        if nxt is None:
            return found
        cursor = f"&cursor={nxt}"
    raise AssertionError("paging never ended")


async def test_filters_and_pages(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        key = tenant.admin_key
        seeded = await _seed(stack, tenant.id, tenant.account_id)
        newest = sorted(seeded, key=lambda r: r["when"], reverse=True)
        everything = await _all_pages(stack.http, key, "limit=4")
        assert sorted(everything) == sorted(r["oid"] for r in seeded)  # each once, none lost
        assert len(set(everything)) == len(seeded)
        whens = {r["oid"]: r["when"] for r in seeded}
        assert [whens[o] for o in everything] == [r["when"] for r in newest]  # newest first
        assert await _all_pages(stack.http, key, "limit=1000") == everything

        assert set(await _oids(stack.http, key, "state=open")) == set(
            _expected(seeded, state="open")
        )
        both = set(await _oids(stack.http, key, "state=open&state=rejected"))
        assert both == {r["oid"] for r in seeded if r["state"] != "filled"}
        second = set(await _all_pages(stack.http, key, "account=second&symbol=ETH-USDT&limit=2"))
        assert second == {
            r["oid"]
            for r in seeded
            if r["account"] != tenant.account_id and r["symbol"] == "ETH-USDT"
        }
        start, end = T0 + timedelta(minutes=5), T0 + timedelta(minutes=10)
        window = set(await _oids(stack.http, key, f"from={start:%Y-%m-%dT%H:%M:%SZ}"
                                 f"&to={end:%Y-%m-%dT%H:%M:%S}%2B00:00"))  # fmt: skip
        assert window == {r["oid"] for r in seeded if start <= r["when"] < end}
        assert await _oids(stack.http, key, "symbol=XRP-USDT") == []
        futures = await stack.http.get("/v1/futures/orders", headers=auth(key))
        assert futures.json() == []  # every seeded intent is spot


async def test_bad_filter_values_get_a_clear_422(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        h = auth(tenant.admin_key)
        bad = {
            "state=bogus": "query.state.0",
            "from=2026-11-01T00:00:00": "query.from",  # no zone
            "to=yesterday": "query.to",
            "limit=0": "query.limit",
            "limit=1001": "query.limit",
        }
        for query, where in bad.items():
            resp = await stack.http.get(f"/v1/orders?{query}", headers=h)
            assert resp.status_code == 422, (query, resp.text)
            body = resp.json()
            assert [p["field"] for p in body["problems"]] == [where], body
            assert body["hint"]
        by_use_case = {
            "cursor=not-a-cursor": "cursor",
            "cursor=MjAyNg": "cursor",  # base64 of a time without an id
            "from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z": "to",
        }
        for query, name in by_use_case.items():
            resp = await stack.http.get(f"/v1/margin/orders?{query}", headers=h)
            assert resp.status_code == 422, (query, resp.text)
            body = resp.json()
            assert (body["error"], body["field"]) == ("invalid_request", name), body
            assert body["message"] and body["hint"]
        resp = await stack.http.get("/v1/orders?account=not-mine", headers=h)
        assert resp.status_code == 404 and resp.json()["error"] == "not_found"
