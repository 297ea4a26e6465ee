"""/metrics moves after real calls: exchange calls, rate budgets, intents, reconciliation, WS."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from kcgateway.exchange.ws import StreamMetrics
from kcgateway.gateway.metrics import GatewayMetrics
from tests.helpers.gateway import Stack, auth, gateway_stack, order_body


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
