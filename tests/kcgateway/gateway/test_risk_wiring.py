"""What the risk engine hands on reaches RiskControl and the alerts, through the real order path.

Fails on a gateway where the engine is not wired: orders are never checked, no key is halted,
nothing is alerted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from kcgateway.gateway.alerts import AlertFilter
from kcgateway.gateway.apikeys import Scope, parse_key
from kcgateway.gateway.risk_wiring import RiskHandlers
from kcgateway.risk import (
    Action,
    ActionKind,
    DrawdownVerdict,
    MarketKind,
    OrderType,
    RecentOrder,
    Side,
    Signal,
    TradingState,
)
from tests.helpers.gateway import Stack, auth, gateway_stack, order_body

DAY_MS = 86_400_000


def _handlers(stack: Stack) -> RiskHandlers:
    handlers = stack.services.risk_handlers
    assert handlers is not None
    return handlers


async def _alerts(stack: Stack, kind: str | None = None) -> list[object]:
    alerts = stack.services.alerts
    assert alerts is not None
    await _handlers(stack).drain()
    return list(await alerts.find(AlertFilter(kind=kind)))


async def test_a_dormant_key_from_a_new_address_is_halted_alerted_and_refused(
    tmp_path: Path,
) -> None:
    async with gateway_stack(tmp_path, tick_ms=0) as stack:
        tenant = await stack.add_tenant("t1")
        bot = await stack.key(tenant, Scope.TRADE_SPOT, Scope.READ)
        presented = parse_key(bot)
        assert presented is not None
        home, away = stack.client("10.0.0.1"), stack.client("10.9.9.9")
        try:
            resp = await home.post("/v1/orders", json=order_body("main"), headers=auth(bot))
            assert resp.status_code == 201, resp.text
            engine = stack.services.risk_engine
            assert engine is not None
            # the key's known address came from the web layer (the caller's address)
            assert engine.activity.known_ips[presented.key_id] == {"10.0.0.1"}
            # the key sleeps for 8 days, then trades from an address it never used
            use = engine.activity.key_uses[presented.key_id]
            assert use.last_ms is not None
            use.last_ms -= 8 * DAY_MS
            body = order_body("main", price="60001")
            resp = await away.post("/v1/orders", json=body, headers=auth(bot))
            assert resp.status_code == 422, resp.text
            codes = {f["code"] for f in resp.json()["failures"]}
            assert {"risk.detector.dormant_key", "risk.detector.new_ip"} <= codes, resp.text
            risk = stack.services.risk
            assert risk is not None
            states = risk.states_for(tenant.id, tenant.account_id, presented.key_id)
            assert states.key is TradingState.HALTED and states.account is TradingState.ACTIVE
            # the halt holds from the old address too; another key of the tenant still trades
            body = order_body("main", price="60002")
            resp = await home.post("/v1/orders", json=body, headers=auth(bot))
            assert resp.status_code == 422, resp.text
            assert "risk.halted" in {f["code"] for f in resp.json()["failures"]}, resp.text
            body = order_body("main", price="60003")
            resp = await stack.http.post("/v1/orders", json=body, headers=auth(tenant.admin_key))
            assert resp.status_code == 201, resp.text
            kinds = {a.kind for a in await _alerts(stack)}  # type: ignore[attr-defined]
            assert {"risk.detector.dormant_key", "risk.detector.new_ip"} <= kinds, kinds
            # one alert per pattern: the halted key's refused orders match it again
            (dormant,) = await _alerts(stack, "risk.detector.dormant_key")
            evidence = dormant.evidence  # type: ignore[attr-defined]
            assert evidence["actions"][0] == {"kind": "halt_key", "target": presented.key_id}
            assert evidence["orders"][0]["keyId"] == presented.key_id
            await risk.drain()
            persisted = await risk.states(actor=_operator())
            assert [(s.level.value, s.target) for s in persisted] == [("key", presented.key_id)]
        finally:
            await home.aclose()
            await away.aclose()


async def test_every_request_is_key_use_and_a_woken_key_that_polls_first_is_still_dormant(
    tmp_path: Path,
) -> None:
    """A read counts as use (a polling bot is not dormant); a poll after 8 idle days does not
    hide those days from the key's first order (docs: kcgateway.risk.key_use)."""
    async with gateway_stack(tmp_path, tick_ms=0) as stack:
        tenant = await stack.add_tenant("t1")
        bot = await stack.key(tenant, Scope.TRADE_SPOT, Scope.READ)
        presented = parse_key(bot)
        assert presented is not None
        engine = stack.services.risk_engine
        assert engine is not None
        resp = await stack.http.post("/v1/orders", json=order_body("main"), headers=auth(bot))
        assert resp.status_code == 201, resp.text
        use = engine.activity.key_uses[presented.key_id]
        assert use.last_ms is not None
        use.last_ms -= 8 * DAY_MS  # the key sleeps for 8 days
        slept_from = use.last_ms
        resp = await stack.http.get("/v1/balances?account=main", headers=auth(bot))
        assert resp.status_code == 200, resp.text
        assert use.last_ms > slept_from + 8 * DAY_MS - 60_000  # the read was a use
        body = order_body("main", price="60001")
        resp = await stack.http.post("/v1/orders", json=body, headers=auth(bot))
        assert resp.status_code == 201, resp.text  # same address: an alert, no halt
        kinds = {a.kind for a in await _alerts(stack)}  # type: ignore[attr-defined]
        assert "risk.detector.dormant_key" in kinds, kinds
        # that order closed the stretch: the key's next order is not dormant again
        (alert,) = await _alerts(stack, "risk.detector.dormant_key")
        body = order_body("main", price="60002")
        resp = await stack.http.post("/v1/orders", json=body, headers=auth(bot))
        assert resp.status_code == 201, resp.text
        assert len(await _alerts(stack, "risk.detector.dormant_key")) == 1, alert


def _operator() -> object:
    from kcgateway.gateway.keys import Operator

    return Operator("test")


async def test_a_coordinated_buy_signal_halts_every_account_and_blocks_the_symbol(
    tmp_path: Path,
) -> None:
    async with gateway_stack(tmp_path, tick_ms=0) as stack:
        one, two = await stack.add_tenant("t1"), await stack.add_tenant("t2")
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        orders = tuple(
            RecentOrder(t.id, t.account_id, "k", "KCS-USDT", Side.BUY, OrderType.LIMIT,
                        Decimal(12), Decimal(1), None, Decimal(12), now_ms, MarketKind.SPOT)
            for t in (one, two)
        )  # fmt: skip
        signal = Signal(
            "risk.detector.coordinated_buy",
            "2 accounts of the gateway bought (or tried to buy) thin KCS-USDT within 1 s",
            (
                Action(ActionKind.HALT_ACCOUNT, one.account_id),
                Action(ActionKind.HALT_ACCOUNT, two.account_id),
                Action(ActionKind.BLOCK_SYMBOL, "KCS-USDT"),
                Action(ActionKind.ALERT),
            ),
            orders,
            (("accounts", "2"),),
        )
        _handlers(stack).on_signal(signal)
        risk = stack.services.risk
        assert risk is not None
        for t in (one, two):  # at once, in memory
            assert risk.states_for(t.id, t.account_id, "k").account is TradingState.HALTED
        assert "KCS-USDT" in risk.blocked and "KCS-USDT" in risk.gateway_limits.symbol_deny
        (alert,) = await _alerts(stack, "risk.detector.coordinated_buy")
        assert alert.tenant_id is None, "two tenants: a gateway-wide alert"  # type: ignore[attr-defined]
        assert set(alert.subjects) == {  # type: ignore[attr-defined]
            f"account:{one.account_id}",
            f"account:{two.account_id}",
            "symbol:KCS-USDT",
        }
        assert len(alert.evidence["orders"]) == 2  # type: ignore[attr-defined]
        resp = await stack.http.post(
            "/v1/orders", json=order_body("main"), headers=auth(one.admin_key)
        )
        assert resp.status_code == 422 and resp.json()["error"] == "risk_rejected", resp.text
        await risk.drain()
        assert [b.symbol for b in await risk.blocked_symbols()] == ["KCS-USDT"]


async def test_a_drawdown_verdict_moves_the_account_and_raises_an_alert(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path, tick_ms=0) as stack:
        tenant = await stack.add_tenant("t1")
        handlers = _handlers(stack)
        verdict = DrawdownVerdict(TradingState.REDUCING, "risk.drawdown", "equity 16% below peak")
        handlers.on_drawdown(tenant.id, tenant.account_id, verdict)
        risk = stack.services.risk
        assert risk is not None
        states = risk.states_for(tenant.id, tenant.account_id, "k")
        assert states.account is TradingState.REDUCING
        (alert,) = await _alerts(stack, "risk.state_change")
        assert alert.tenant_id == tenant.id  # type: ignore[attr-defined]
        assert "reducing" in alert.summary and "16%" in alert.summary  # type: ignore[attr-defined]
        # REDUCING: a buy (an increase) is refused, with the code saying why
        resp = await stack.http.post(
            "/v1/orders", json=order_body("main"), headers=auth(tenant.admin_key)
        )
        assert resp.status_code == 422, resp.text
        assert "risk.reducing_only" in {f["code"] for f in resp.json()["failures"]}
        # a looser verdict never lifts it, and raises no second alert
        handlers.on_drawdown(tenant.id, tenant.account_id, verdict)
        assert len(await _alerts(stack, "risk.state_change")) == 1


async def test_a_resend_of_an_accepted_order_is_that_order_not_a_risk_refusal(
    tmp_path: Path,
) -> None:
    """A retry after a lost answer or a restart (same clientOid) finds the intent it placed.

    The exactly-once kill run found a submission with an intent AND a risk refusal: the first
    attempt was sent, the gateway restarted, and the retry ran the risk check again (stale
    figures right after the restart) and was refused. Here the account is halted in between.
    """
    from kcgateway.gateway.keys import Operator
    from kcgateway.risk.model import Level

    async with gateway_stack(tmp_path, tick_ms=0) as stack:
        tenant = await stack.add_tenant("t1")
        body = {**order_body("main"), "clientOid": "resend-1"}
        first = await stack.http.post("/v1/orders", json=body, headers=auth(tenant.admin_key))
        assert first.status_code == 201, first.text
        risk = stack.services.risk
        assert risk is not None
        await risk.halt(Level.ACCOUNT, tenant.account_id, "test", Operator("t"), tenant=tenant.id)
        # a new Idempotency-Key (the first reply was never stored), the same order: that order
        headers = {**auth(tenant.admin_key), "Idempotency-Key": "after-a-restart"}
        again = await stack.http.post("/v1/orders", json=body, headers=headers)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        # without a key the same clientOid is named as taken (409), still not a risk refusal
        bare = await stack.http.post("/v1/orders", json=body, headers=auth(tenant.admin_key))
        assert bare.status_code == 409 and bare.json()["error"] == "client_oid_taken", bare.text
        # a new order of the halted account is refused by the risk engine, as it must be
        other = {**order_body("main"), "clientOid": "resend-2"}
        refused = await stack.http.post("/v1/orders", json=other, headers=auth(tenant.admin_key))
        assert refused.status_code == 422 and refused.json()["error"] == "risk_rejected"
