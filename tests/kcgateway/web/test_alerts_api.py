"""GET /v1/alerts: scope risk:manage, tenant scoping, filters, delivery state; metrics."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kcgateway.gateway.alert_delivery import DeliveryPolicy
from kcgateway.gateway.alerts import AlertFilter, AlertService, Severity
from kcgateway.gateway.apikeys import Scope
from kcgateway.vault.webhook import new_secret
from tests.helpers import leaksuite
from tests.helpers.gateway import Stack, auth, gateway_stack

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _alerts(stack: Stack) -> AlertService:
    alerts = stack.services.alerts
    assert alerts is not None  # main.build_services wires it
    return alerts


async def _raise(stack: Stack, at: datetime, tenant: str | None, kind: str, **kw: Any) -> str:
    view = await _alerts(stack).raise_alert(
        kind,
        kw.get("severity", Severity.CRITICAL),
        kw.get("subjects", ["account:main"]),
        kw.get("summary", "10 accounts bought XYZ-USDT within 40 s"),
        kw.get("evidence", {"symbol": "XYZ-USDT", "orders": [{"id": "o1", "price": "1.25"}]}),
        at,
        tenant_id=tenant,
    )
    return view.id


async def test_alerts_are_listed_per_tenant_with_evidence_and_filters(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        one, two = await stack.add_tenant("t1"), await stack.add_tenant("t2")
        mine = await _raise(stack, T0, one.id, "risk.stolen_key")
        newer = await _raise(
            stack, T0 + timedelta(minutes=5), one.id, "risk.pump", severity="warning"
        )
        await _raise(stack, T0, two.id, "risk.stolen_key", summary="not yours")
        wide = await _raise(stack, T0, None, "risk.symbol_blocked", subjects=["symbol:XYZ-USDT"])

        risk = await stack.key(one, Scope.RISK_MANAGE)
        resp = await stack.http.get("/v1/alerts", headers=auth(risk))
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert [a["id"] for a in body] == [newer, mine]  # own tenant only, newest first
        first = body[1]
        assert first["tenantId"] == one.id and first["kind"] == "risk.stolen_key"
        assert first["severity"] == "critical" and first["subjects"] == ["account:main"]
        assert first["evidence"]["orders"][0]["price"] == "1.25"
        assert first["createdAt"].startswith("2026-11-30T12:00:00")
        assert first["delivery"] is None  # no webhook configured

        admin = await stack.http.get("/v1/alerts", headers=auth(one.admin_key))
        assert {a["id"] for a in admin.json()} == {newer, mine, wide}  # plus gateway-wide

        by_kind = await stack.http.get("/v1/alerts?kind=risk.pump", headers=auth(risk))
        assert [a["id"] for a in by_kind.json()] == [newer]
        since = (T0 + timedelta(minutes=1)).isoformat()
        recent = await stack.http.get("/v1/alerts", params={"since": since}, headers=auth(risk))
        assert [a["id"] for a in recent.json()] == [newer]
        naive = await stack.http.get(
            "/v1/alerts", params={"since": "2026-11-30T12:01:00"}, headers=auth(risk)
        )
        assert [a["id"] for a in naive.json()] == [newer]  # no zone: UTC
        limited = await stack.http.get("/v1/alerts?limit=1", headers=auth(risk))
        assert [a["id"] for a in limited.json()] == [newer]
        for bad in ("limit=0", "limit=100000", "kind=Not%20A%20Code", "since=yesterday"):
            refused = await stack.http.get(f"/v1/alerts?{bad}", headers=auth(risk))
            assert refused.status_code == 422, (bad, refused.text)

        reader = await stack.key(one, Scope.READ)
        denied = await stack.http.get("/v1/alerts", headers=auth(reader))
        assert denied.status_code == 403 and "risk:manage" in denied.text


async def test_delivery_state_is_listed_and_alerts_are_counted_in_metrics(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # the secret file lives outside the data directory, which the leak scan reads for canaries
    secret_file = tmp_path_factory.mktemp("hook") / "hook.secret"
    refusing = socket.socket()  # bound, never listening: connecting is refused
    refusing.bind(("127.0.0.1", 0))
    port = refusing.getsockname()[1]
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        secret = new_secret()
        leaksuite.register("alert webhook secret", secret.reveal())
        alerts = _alerts(stack)
        await alerts.set_webhook(
            f"http://127.0.0.1:{port}/nowhere?token=abc", secret_file, secret, actor="test"
        )
        await _raise(stack, datetime.now(UTC), tenant.id, "risk.stolen_key")
        await alerts.deliver_due()  # refused: a failed attempt
        resp = await stack.http.get("/v1/alerts", headers=auth(tenant.admin_key))
        [alert] = resp.json()
        delivery = alert["delivery"]
        assert delivery["state"] == "pending" and delivery["attempts"] == 1
        assert delivery["lastError"].startswith("no answer from the receiver")
        assert delivery["nextAttemptAt"] is not None and delivery["deliveredAt"] is None
        assert delivery["id"].startswith("msg_")

        text = (await stack.http.get("/metrics")).text
        assert 'kcgateway_alerts_total{kind="risk.stolen_key",severity="critical"} 1.0' in text
        assert 'kcgateway_alert_deliveries_total{result="failed"} 1.0' in text
        assert "kcgateway_alert_deliveries_dead 0.0" in text
        assert "token=abc" not in text and "token=abc" not in resp.text
    refusing.close()


async def test_retry_requeues_only_dead_deliveries_the_key_can_see(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    secret_file = tmp_path_factory.mktemp("hook") / "hook.secret"
    async with gateway_stack(tmp_path) as stack:
        one, two = await stack.add_tenant("t1"), await stack.add_tenant("t2")
        secret = new_secret()
        leaksuite.register("alert webhook secret", secret.reveal())
        alerts = _alerts(stack)
        alerts.policy = DeliveryPolicy(max_attempts=1)  # the first failure is final
        await alerts.set_webhook("http://127.0.0.1:9/x", secret_file, secret, actor="test")
        secret_file.chmod(0o644)  # every attempt fails before anything is sent
        now = datetime.now(UTC)
        mine = await _raise(stack, now, one.id, "risk.stolen_key")
        theirs = await _raise(stack, now, two.id, "risk.stolen_key")
        wide = await _raise(stack, now, None, "risk.symbol_blocked")
        await alerts.deliver_due()
        states = {
            a.id: a.delivery.state.value for a in await alerts.find(AlertFilter()) if a.delivery
        }
        assert states == {mine: "dead", theirs: "dead", wide: "dead"}

        risk = await stack.key(one, Scope.RISK_MANAGE)
        other = await stack.http.post(f"/v1/alerts/retry?alertId={theirs}", headers=auth(risk))
        assert other.status_code == 200 and other.json() == {"requeued": 0}  # not its tenant's
        resp = await stack.http.post("/v1/alerts/retry", headers=auth(risk))
        assert resp.json() == {"requeued": 1}
        admin = await stack.http.post("/v1/alerts/retry", headers=auth(two.admin_key))
        assert admin.json() == {"requeued": 2}  # its tenant's and the gateway-wide one
        states = {
            a.id: a.delivery.state.value for a in await alerts.find(AlertFilter()) if a.delivery
        }
        assert states == {mine: "pending", theirs: "pending", wide: "pending"}
        reader = await stack.key(one, Scope.READ)
        denied = await stack.http.post("/v1/alerts/retry", headers=auth(reader))
        assert denied.status_code == 403
