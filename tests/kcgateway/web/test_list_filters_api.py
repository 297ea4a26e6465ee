"""Every list other than orders filters and pages like the order lists, table-driven.

One stack for everything: keys, accounts, alerts and signals are seeded straight into the store
(with chosen times, pairs sharing one instant), then each list is read page by page (every row
once, newest first) and through one filter; fills are read from the simulator. Bad values get
the same clear 422 as the order lists, naming the parameter.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.keys import Operator
from kcgateway.store.repositories import AccountRepository
from kcgateway.store.signal_tables import SignalRow
from tests.helpers.gateway import Stack, Tenant, auth, gateway_stack, order_body
from tests.helpers.signals import add_paper_account, create_bot

T0 = datetime(2026, 11, 1, tzinfo=UTC)
N = 7  # rows seeded per list; pages of 2 need 4 reads


def _when(i: int) -> datetime:
    """Seeded times: rows 0 and 1, 2 and 3, ... share a minute (the id breaks the tie)."""
    return T0 + timedelta(minutes=i // 2)


@dataclass(frozen=True)
class Listed:
    """A list route, the field that names a row, and the ids of its seeded rows by time."""

    path: str
    id_field: str
    seeded: dict[str, datetime]


async def _accounts(stack: Stack, tenant: Tenant) -> dict[str, datetime]:
    seeded = {}
    async with stack.services.db.write() as session:
        for i in range(N):
            seeded[str(await AccountRepository(session).add(tenant.id, f"a{i}", now=_when(i)))] = (
                _when(i)
            )
    return seeded


async def _alerts(stack: Stack, tenant: Tenant) -> dict[str, datetime]:
    alerts = stack.services.alerts
    assert alerts is not None
    seeded = {}
    for i in range(N):
        kind = ("risk.breach", "exchange.down")[i % 2]
        view = await alerts.raise_alert(
            kind, "warning", ["BTC-USDT"], f"alert {i}", {"i": i}, _when(i), tenant_id=tenant.id
        )
        seeded[view.id] = _when(i)
    return seeded


async def _signals(stack: Stack, tenant: Tenant) -> dict[str, datetime]:
    await add_paper_account(stack, tenant)  # a bot starts in paper mode
    bot = await create_bot(stack, tenant.admin_key, "standard")
    seeded = {}
    async with stack.services.db.write() as session:
        for i in range(N):
            row_id = uuid.uuid4().hex
            session.add(SignalRow(
                id=row_id, bot_id=bot["id"], tenant_id=tenant.id, source="standard", mode="live",
                symbol="BTC-USDT", action="buy", payload={}, status=("done", "refused")[i % 2],
                reason=None, plan=None, orders=[], received_at=_when(i), finished_at=None,
            ))  # fmt: skip
            seeded[row_id] = _when(i)
    return seeded


async def _keys(stack: Stack, tenant: Tenant) -> dict[str, datetime]:
    # keys take the service's clock: their times are real, so compare against its own listing
    for i in range(N - 1):
        _, view = await stack.services.keys.create(
            tenant_id=tenant.id, owner=f"k{i}", scopes=frozenset({Scope.READ}),
            actor=Operator("test"),
        )  # fmt: skip
        if i % 2:
            await stack.services.keys.revoke(tenant.id, view.key_id, actor=Operator("test"))
    return {v.key_id: v.created_at for v in await stack.services.keys.list(tenant.id)}


async def _pages(http: httpx.AsyncClient, key: str, listed: Listed, query: str) -> list[str]:
    """Every page of ``listed`` (2 rows a page) with ``query``: the ids in the order shown."""
    found: list[str] = []
    cursor = ""
    for _ in range(20):
        resp = await http.get(f"{listed.path}?limit=2{query}{cursor}", headers=auth(key))
        assert resp.status_code == 200, resp.text
        found += [row[listed.id_field] for row in resp.json()]
        nxt = resp.headers.get("x-next-cursor")
        if nxt is None:
            return found
        cursor = f"&cursor={nxt}"
    raise AssertionError("paging never ended")


def _in(seeded: dict[str, datetime], since: datetime, until: datetime) -> set[str]:
    return {i for i, at in seeded.items() if since <= at < until}


async def test_lists_page_newest_first_and_filter(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        lists = [
            Listed("/v1/accounts", "id", await _accounts(stack, tenant)),
            Listed("/v1/alerts", "id", await _alerts(stack, tenant)),
            Listed("/v1/signals", "id", await _signals(stack, tenant)),
            Listed("/v1/keys", "keyId", await _keys(stack, tenant)),
        ]
        key = tenant.admin_key
        for listed in lists:
            ours = await _pages(stack.http, key, listed, "")
            seeded = [i for i in ours if i in listed.seeded]
            assert sorted(seeded) == sorted(listed.seeded), listed.path  # each once, none lost
            times = [listed.seeded[i] for i in seeded]
            assert times == sorted(times, reverse=True), listed.path  # newest first
        # one filter per list, against the seeded answer
        accounts, alerts, signals, keys = lists
        since, until = _when(2), _when(5)
        window = f"&from={since.isoformat()}&to={until.isoformat()}".replace("+", "%2B")
        assert set(await _pages(stack.http, key, accounts, window)) == _in(
            accounts.seeded, since, until
        )
        shown = await _pages(stack.http, key, alerts, "&kind=exchange.down")
        assert shown and set(shown) == {a for i, a in enumerate(alerts.seeded) if i % 2}
        assert set(await _pages(stack.http, key, alerts, window)) == _in(
            alerts.seeded, since, until
        )
        shown = await _pages(stack.http, key, signals, "&verdict=refused")
        assert shown and set(shown) == {s for i, s in enumerate(signals.seeded) if i % 2}
        assert set(await _pages(stack.http, key, signals, window)) == _in(
            signals.seeded, since, until
        )
        views = {v.key_id: v for v in await stack.services.keys.list(tenant.id)}
        revoked = {k for k, v in views.items() if v.revoked_at is not None}
        assert revoked and set(await _pages(stack.http, key, keys, "&state=revoked")) == revoked
        active = await _pages(stack.http, key, keys, "&state=active")
        assert set(active) == set(views) - revoked


async def test_fills_take_a_time_window(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        h = auth(tenant.admin_key)
        buy = order_body("main", type="market", price=None, size=None, funds="100")
        assert (await stack.http.post("/v1/orders", json=buy, headers=h)).status_code == 201
        now = datetime.now(UTC)
        before = (now - timedelta(hours=1)).isoformat().replace("+", "%2B")
        after = (now + timedelta(hours=1)).isoformat().replace("+", "%2B")
        base = "/v1/fills?account=main&symbol=BTC-USDT"
        found = (await stack.http.get(f"{base}&from={before}", headers=h)).json()
        assert len(found) == 1
        assert (await stack.http.get(f"{base}&from={after}", headers=h)).json() == []
        assert (await stack.http.get(f"{base}&to={before}", headers=h)).json() == []


FILLS = "account=main&symbol=BTC-USDT"
BAD_SHAPE = [  # a value of the wrong shape: 422 naming query.<name>
    ("/v1/keys", "state=lost", "query.state"),
    ("/v1/keys", "limit=0", "query.limit"),
    ("/v1/accounts", "from=2026-11-01T00:00:00", "query.from"),  # no zone
    ("/v1/alerts", "to=yesterday", "query.to"),
    ("/v1/signals", "limit=501", "query.limit"),
    ("/v1/fills", f"{FILLS}&from=2026-11-01T00:00:00", "query.from"),
    ("/v1/futures/fills", "account=main&to=soon", "query.to"),
]
BAD_VALUE = [  # well formed but wrong: 422 invalid_request naming the parameter
    ("/v1/keys", "cursor=not-a-cursor", "cursor"),
    ("/v1/accounts", "cursor=MjAyNg", "cursor"),  # base64 of a time without an id
    ("/v1/alerts", "from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "to"),
    ("/v1/alerts", "since=2026-11-01T00:00:00&from=2026-11-01T00:00:00Z", "from"),
    ("/v1/signals", "verdict=maybe", "verdict"),
    ("/v1/signals", "cursor=%21%21", "cursor"),
    ("/v1/fills", f"{FILLS}&cursor=abc", "cursor"),  # fills come from the exchange: no cursor
    ("/v1/fills", f"{FILLS}&from=2026-11-01T00:00:00Z&to=2026-11-09T00:00:00Z", "to"),  # > 7 days
    ("/v1/margin/fills", f"{FILLS}&from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "to"),
    ("/v1/futures/fills", "account=main&cursor=abc", "cursor"),
]


async def test_bad_values_get_the_order_lists_422(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        h = auth(tenant.admin_key)
        for path, query, where in BAD_SHAPE:
            resp = await stack.http.get(f"{path}?{query}", headers=h)
            assert resp.status_code == 422, (path, query, resp.text)
            body: dict[str, Any] = resp.json()
            assert [p["field"] for p in body["problems"]] == [where], (path, body)
        for path, query, name in BAD_VALUE:
            resp = await stack.http.get(f"{path}?{query}", headers=h)
            assert resp.status_code == 422, (path, query, resp.text)
            body = resp.json()
            assert (body["error"], body["field"]) == ("invalid_request", name), (path, body)
            assert body["message"] and body["hint"]
        resp = await stack.http.get("/v1/signals?bot=not-mine", headers=h)
        assert resp.status_code == 404, resp.text
