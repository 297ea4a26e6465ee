"""The /v1/risk routes (issue 13): kill switch, resume, state, limits, blocked symbols.

The rules are RiskControl's (tests/kcgateway/gateway/test_risk_control.py); here: the HTTP
shapes, the status of each refusal, and that a halt over HTTP is in force for the order path
(``states_for``) when the answer arrives. Every test fails on main (no /v1/risk routes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.risk_control import CancelReport, RiskControl
from kcgateway.risk import Limits, TradingState, TradingStates
from kcgateway.risk.model import Level
from tests.helpers.gateway import Stack, Tenant, auth, gateway_stack


@dataclass
class Recorder:
    calls: list[tuple[Level, str]] = field(default_factory=list)

    async def cancel_open(self, level: Level, target: str) -> CancelReport:
        self.calls.append((level, target))
        return CancelReport(cancelled=2)


def _risk(stack: Stack) -> RiskControl:
    assert stack.services.risk is not None
    return stack.services.risk


def _states(stack: Stack, tenant: Tenant, key: str = "k") -> TradingStates:
    return _risk(stack).states_for(tenant.id, tenant.account_id, key)


async def _post(stack: Stack, path: str, key: str, body: dict[str, Any]) -> Any:
    return await stack.http.post(f"/v1/risk/{path}", json=body, headers=auth(key))


async def test_halt_then_resume_over_http(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        await _risk(stack).load()  # what main.prepare does before serving
        manager = await stack.key(tenant, Scope.RISK_MANAGE)
        recorder = Recorder()
        _risk(stack).canceller = recorder
        body = {"level": "account", "target": "main", "reason": "leak", "cancelOpen": True}
        resp = await _post(stack, "halt", manager, body)
        assert resp.status_code == 200, resp.text
        got = resp.json()
        assert got["state"] == "halted" and got["target"] == tenant.account_id
        assert got["tenantId"] == tenant.id and got["reason"] == "leak"
        assert got["cancel"] == {"cancelled": 2, "failures": [], "complete": True}
        assert recorder.calls == [(Level.ACCOUNT, tenant.account_id)]
        assert _states(stack, tenant).account is TradingState.HALTED  # in force on return

        state = (await stack.http.get("/v1/risk/state", headers=auth(manager))).json()
        assert state["gateway"] == "active"
        assert [(s["level"], s["state"]) for s in state["states"]] == [("account", "halted")]

        no_reason = {"level": "account", "target": "main"}
        assert (await _post(stack, "resume", manager, no_reason)).status_code == 422
        blank = {**no_reason, "reason": "   "}
        resp = await _post(stack, "resume", manager, blank)
        assert resp.status_code == 400 and resp.json()["field"] == "reason"
        assert _states(stack, tenant).account is TradingState.HALTED
        resp = await _post(stack, "resume", manager, {**no_reason, "reason": "checked"})
        assert resp.status_code == 200 and resp.json()["state"] == "active"
        assert _states(stack, tenant) == TradingStates()


async def test_a_tenant_cannot_halt_another_tenants_targets(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        victim = await stack.add_tenant("t1")
        other = await stack.add_tenant("t2")
        await _risk(stack).load()
        hostile = await stack.key(other, Scope.RISK_MANAGE)
        victim_key = victim.admin_key.split("_")[1]
        for level, target in (
            ("account", victim.account_id),
            ("key", victim_key),
            ("tenant", victim.id),
        ):
            body = {"level": level, "target": target, "reason": "hostile"}
            for path in ("halt", "resume"):
                resp = await _post(stack, path, hostile, body)
                assert resp.status_code == 404, resp.text
                assert resp.json()["error"] == "not_found"
            query = f"/v1/risk/limits?level={level}&target={target}"
            assert (await stack.http.get(query, headers=auth(hostile))).status_code == 404
        # t2's own account is called "main" too: the name resolves within t2 only
        body = {"level": "account", "target": "main", "reason": "mine"}
        assert (await _post(stack, "halt", hostile, body)).status_code == 200
        assert _states(stack, victim) == TradingStates()
        assert _states(stack, other).account is TradingState.HALTED
        state = (await stack.http.get("/v1/risk/state", headers=auth(victim.admin_key))).json()
        assert state["states"] == []


async def test_the_gateway_level_needs_admin(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        await _risk(stack).load()  # what main.prepare does before serving
        manager = await stack.key(tenant, Scope.RISK_MANAGE)
        body = {"level": "gateway", "reason": "incident"}
        resp = await _post(stack, "halt", manager, body)
        assert resp.status_code == 403 and resp.json()["field"] == "level"
        assert _states(stack, tenant).gateway is TradingState.ACTIVE
        resp = await _post(stack, "halt", tenant.admin_key, body)
        assert resp.status_code == 200, resp.text
        assert _states(stack, tenant).gateway is TradingState.HALTED
        state = (await stack.http.get("/v1/risk/state", headers=auth(manager))).json()
        assert state["gateway"] == "halted"
        resp = await _post(stack, "blocked-symbols", manager, {"symbol": "x-usdt", "reason": "p"})
        assert resp.status_code == 403
        resp = await _post(
            stack, "blocked-symbols", tenant.admin_key, {"symbol": "x-usdt", "reason": "pump"}
        )
        assert resp.status_code == 201 and resp.json()["symbol"] == "X-USDT"
        assert "X-USDT" in _risk(stack).limits_for(tenant.id, "a", "k").symbol_deny
        # a non-admin key sees the symbol, not why or by whom (it may name other tenants)
        [seen] = (await stack.http.get("/v1/risk/state", headers=auth(manager))).json()[
            "blockedSymbols"
        ]
        assert seen["symbol"] == "X-USDT" and seen["reason"] == "" and seen["actor"] == ""
        admin_view = (await stack.http.get("/v1/risk/state", headers=auth(tenant.admin_key))).json()
        assert admin_view["blockedSymbols"][0]["reason"] == "pump"


async def test_limits_put_get_round_trip(tmp_path: Path) -> None:
    async with gateway_stack(
        tmp_path, risk_limits=Limits(max_order_notional=Decimal(100_000))
    ) as stack:
        tenant = await stack.add_tenant("t1")
        await _risk(stack).load()  # what main.prepare does before serving
        manager = await stack.key(tenant, Scope.RISK_MANAGE)
        limits = {
            "maxOrderNotional": "2500.5",
            "dailyOrders": 40,
            "checkDuplicates": True,
            "symbolDeny": ["DOGE-USDT"],
            "minVolume24h": "5000000",
        }
        body = {"level": "account", "target": "main", "reason": "new bot", "limits": limits}
        resp = await stack.http.put("/v1/risk/limits", json=body, headers=auth(manager))
        assert resp.status_code == 200, resp.text
        assert resp.json()["overrides"] == limits
        query = "/v1/risk/limits?level=account&target=main"
        got = (await stack.http.get(query, headers=auth(manager))).json()
        assert got["overrides"] == limits
        assert got["reason"] == "new bot" and got["target"] == tenant.account_id
        effective = got["effective"]
        assert effective["maxOrderNotional"] == "2500.5"
        assert effective["symbolDeny"] == ["DOGE-USDT"]
        assert effective["priceCollarPct"] == "5"  # the gateway default shows through
        resolved = _risk(stack).limits_for(tenant.id, tenant.account_id, "k")
        assert str(resolved.max_order_notional) == "2500.5" and resolved.daily_orders == 40


async def test_bad_limits_are_refused_naming_the_field(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        await _risk(stack).load()  # what main.prepare does before serving
        manager = await stack.key(tenant, Scope.RISK_MANAGE)
        base = {"level": "account", "target": "main", "reason": "x"}
        for limits, status, named in (
            ({"maxNotional": "5"}, 422, "maxNotional"),  # unknown field
            ({"maxOrderNotional": 2500.5}, 422, "maxOrderNotional"),  # a JSON float
            ({"maxOrderNotional": "-5"}, 422, "maxOrderNotional"),
            ({"maxOrderNotional": "1e3"}, 422, "maxOrderNotional"),
            ({"dailyOrders": "40"}, 422, "dailyOrders"),
            ({"checkRates": "yes"}, 422, "checkRates"),
            ({"maxOrderNotional": "0"}, 400, "maxOrderNotional"),
            ({"priceCollarPct": "101"}, 400, "priceCollarPct"),
            ({"dailyOrders": 0}, 400, "dailyOrders"),
            ({"symbolAllow": ["BTC USDT"]}, 400, "symbolAllow"),
        ):
            body = {**base, "limits": limits}
            resp = await stack.http.put("/v1/risk/limits", json=body, headers=auth(manager))
            assert resp.status_code == status, (limits, resp.text)
            text = resp.text
            assert named in text, (limits, text)
        query = "/v1/risk/limits?level=account&target=main"
        assert (await stack.http.get(query, headers=auth(manager))).json()["overrides"] == {}
        resp = await stack.http.get("/v1/risk/limits?level=desk", headers=auth(manager))
        assert resp.status_code == 422
