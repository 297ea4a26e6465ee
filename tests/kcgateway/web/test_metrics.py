"""/metrics moves after real calls: exchange calls, rate budgets, intents, reconciliation, WS."""

from __future__ import annotations

import random
import re
import secrets
import string
from pathlib import Path

import pytest
from sqlalchemy import select

from kcgateway.exchange.ws import StreamMetrics
from kcgateway.gateway.metrics import GatewayMetrics, method_label, tightest_budgets
from kcgateway.kucoin.endpoints import ENDPOINTS
from kcgateway.store.tables import CredentialRow
from tests.helpers.gateway import Stack, auth, gateway_stack, order_body, warm_risk


def _value(text: str, name: str, **labels: str) -> float:
    """The sample of ``name`` whose labels include ``labels`` (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if not match:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


async def _scrape(stack: Stack) -> str:
    resp = await stack.http.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    return resp.text


async def test_exchange_calls_and_rate_budget_follow_real_calls(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        before = await _scrape(stack)
        calls = "kcgateway_exchange_calls_total"
        placed_before = _value(before, calls, endpoint="/api/v1/hf/orders", code="200000")
        h = auth(tenant.admin_key)
        resp = await stack.http.post("/v1/orders", json=order_body("main"), headers=h)
        assert resp.status_code == 201, resp.text
        assert (await stack.http.get("/v1/symbols", headers=h)).status_code == 200
        text = await _scrape(stack)
        placed = _value(text, calls, endpoint="/api/v1/hf/orders", method="POST", status="200")
        assert placed == placed_before + 1
        assert _value(text, calls, endpoint="/api/v2/symbols", code="200000") >= 1
        # a refusal is counted under its KuCoin code and HTTP status: connect an unknown key
        fake = secrets.token_hex(8)
        body = {"name": "x", "apiKey": fake, "secret": fake, "passphrase": fake}
        resp = await stack.http.post("/v1/accounts", json=body, headers=h)
        assert resp.status_code == 422, resp.text
        code = resp.json()["exchangeCode"]
        text = await _scrape(stack)
        assert _value(text, calls, endpoint="/api/v1/user/api-key", code=code) == 1
        assert _value(text, calls, endpoint="/api/v1/user/api-key", code=code, status="200") == 0
        # the budget the exchange reported, per client and pool
        spot_left = _value(text, "kcgateway_exchange_rate_remaining", pool="spot")
        spot_limit = _value(text, "kcgateway_exchange_rate_limit", pool="spot")
        assert 0 < spot_left < spot_limit
        assert _value(text, "kcgateway_exchange_rate_limit", client="public", pool="public") > 0
        # order intents by state
        assert _value(text, "kcgateway_order_intents", state="acked") == 1


async def test_reconciliation_passes_and_resolutions(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path, timeout_s=0.3, grace_s=0.5) as stack:
        tenant = await stack.add_tenant("t1")
        await warm_risk(stack, tenant.id, tenant.account_id)  # 0.3 s exchange timeout
        await stack.sim_admin(
            "POST",
            "/_sim/faults",
            {"kind": "lose_response", "pathPrefix": "/api/v1/hf/orders", "method": "POST"},
        )
        h = auth(tenant.admin_key)
        resp = await stack.http.post("/v1/orders", json=order_body("main"), headers=h)
        assert resp.status_code == 202, resp.text
        text = await _scrape(stack)
        lost = _value(
            text, "kcgateway_exchange_calls_total", endpoint="/api/v1/hf/orders", status="0"
        )
        assert lost >= 1, "the lost answer is counted with no HTTP status"
        assert _value(text, "kcgateway_order_intents", state="unknown") == 1
        assert _value(text, "kcgateway_reconcile_resolved_total") == 0
        await stack.services.reconcile_once()
        text = await _scrape(stack)
        assert _value(text, "kcgateway_reconcile_passes_total", result="ok") == 1
        assert _value(text, "kcgateway_reconcile_resolved_total", outcome="open") == 1
        assert _value(text, "kcgateway_order_intents", state="open") == 1


async def test_a_failed_reconciliation_pass_is_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with gateway_stack(tmp_path) as stack:

        async def broken() -> int:
            raise RuntimeError("database gone")

        monkeypatch.setattr(stack.services.orders, "reconcile", broken)
        await stack.services.reconcile_once()
        text = await _scrape(stack)
        assert _value(text, "kcgateway_reconcile_passes_total", result="failed") == 1
        assert _value(text, "kcgateway_reconcile_passes_total", result="ok") == 0


async def test_ws_gaps_and_reconnects_are_exposed(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        metrics = stack.services.metrics
        metrics.on_ws_gap("book")
        metrics.on_ws_gap("book")
        metrics.on_ws_reconnect("private")
        text = await _scrape(stack)
        assert _value(text, "kcgateway_ws_gaps_total", kind="book") == 2
        assert _value(text, "kcgateway_ws_reconnects_total", kind="private") == 1


def test_stream_feeds_plug_in_through_the_stream_metrics_protocol() -> None:
    metrics = GatewayMetrics()
    hooks: StreamMetrics = metrics.stream_metrics("book")
    hooks.gap("BTC-USDT")
    hooks.reconnected("closed")
    hooks.resynced("BTC-USDT")
    hooks.lag("BTC-USDT", 5)
    text = metrics.exposition().decode()
    assert _value(text, "kcgateway_ws_gaps_total", kind="book") == 1
    assert _value(text, "kcgateway_ws_reconnects_total", kind="book") == 1
    assert _value(text, "kcgateway_ws_resyncs_total", kind="book") == 1
    assert "BTC-USDT" not in text


def test_stream_event_hook_maps_each_event() -> None:
    metrics = GatewayMetrics()
    for event in ("gap", "gap", "reconnect", "resync", "something-new"):
        metrics.on_stream_event("private_spot", event)
    text = metrics.exposition().decode()
    assert _value(text, "kcgateway_ws_gaps_total", kind="private_spot") == 2
    assert _value(text, "kcgateway_ws_reconnects_total", kind="private_spot") == 1
    assert _value(text, "kcgateway_ws_resyncs_total", kind="private_spot") == 1


def test_each_bundle_has_its_own_registry() -> None:
    one, two = GatewayMetrics(), GatewayMetrics()
    one.on_ws_gap("book")
    assert b'kcgateway_ws_gaps_total{kind="book"} 1.0' in one.exposition()
    assert b"kcgateway_ws_gaps_total{" not in two.exposition()


def _request_series(text: str) -> set[str]:
    """The labels of every ``kcgateway_http_requests_total`` series except /metrics's own."""
    found = re.findall(r"^kcgateway_http_requests_total\{(.*)\} ", text, flags=re.MULTILINE)
    return {labels for labels in found if 'route="/metrics"' not in labels}


async def test_arbitrary_methods_create_at_most_one_series(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        before = _request_series(await _scrape(stack))
        rng = random.Random(12)
        methods = {"".join(rng.choices(string.ascii_uppercase, k=10)) for _ in range(50)}
        for method in methods:
            resp = await stack.http.request(method, "/healthz")
            assert resp.status_code == 405
            resp = await stack.http.request(method.lower(), "/nowhere")
            assert resp.status_code == 404
        text = await _scrape(stack)
        new = _request_series(text) - before
        assert new == {'method="other",route="/healthz",status="405"',
                       'method="other",route="unmatched",status="404"'}  # fmt: skip
        assert _value(text, "kcgateway_http_requests_total", method="other") == 2 * len(methods)
        assert not any(m in text for m in methods | {m.lower() for m in methods})
        assert [method_label(m) for m in ("GET", "POST", "DELETE", "get", "BREW")] == [
            "GET", "POST", "DELETE", "other", "other"
        ]  # fmt: skip


async def test_metrics_name_no_credential_and_no_account(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenants = [await stack.add_tenant(name) for name in ("t1", "t2")]
        for tenant in tenants:
            h = auth(tenant.admin_key)
            resp = await stack.http.post("/v1/orders", json=order_body("main"), headers=h)
            assert resp.status_code == 201, resp.text
        async with stack.services.db.read() as session:
            credential_ids = list((await session.scalars(select(CredentialRow.id))).all())
        assert len(credential_ids) == 2
        text = await _scrape(stack)
        for identifier in [*credential_ids, *(t.account_id for t in tenants)]:
            assert identifier not in text
        clients = set(re.findall(r'client="([^"]*)"', text))
        assert clients <= {"public", "onboarding", "private"}
        # the signed clients' budget is still there: the tightest account's
        left = _value(text, "kcgateway_exchange_rate_remaining", client="private", pool="spot")
        quota = _value(text, "kcgateway_exchange_rate_limit", client="private", pool="spot")
        assert 0 < left < quota


def test_the_private_budget_is_the_tightest_account_in_a_live_window() -> None:
    now = [100.0]
    metrics = GatewayMetrics(clock=lambda: now[0])
    endpoint = next(e for e in ENDPOINTS.values() if e.pool.value == "spot")
    busy, idle = metrics.exchange_observer("private"), metrics.exchange_observer("private")
    busy.on_call(endpoint, http_status=200, code="200000", ratelimit=(4000, 100, 5_000))
    idle.on_call(endpoint, http_status=200, code="200000", ratelimit=(4000, 3900, 30_000))
    assert tightest_budgets(metrics.observers(), now[0]) == {("private", "spot"): (4000, 100)}
    now[0] += 6  # the busy account's window is over: its pool is full again
    assert tightest_budgets(metrics.observers(), now[0]) == {("private", "spot"): (4000, 3900)}
    text = metrics.exposition().decode()
    assert 'kcgateway_exchange_rate_remaining{client="private",pool="spot"} 3900.0' in text
    del busy, idle  # their clients are gone: so are their budgets
    assert "kcgateway_exchange_rate_remaining{" not in metrics.exposition().decode()
