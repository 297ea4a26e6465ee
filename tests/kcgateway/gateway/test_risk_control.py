"""The risk control plane (issue 13): kill switch, states, limits and blocked symbols.

Each test would fail on main before this service existed; the properties are what the order
path relies on: a halt refuses through ``states_for`` before ``halt`` returns, every change
survives a new service over the same database and is audited with its actor and reason, and a
tenant cannot see or touch another tenant's targets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from kcgateway.errors import ConfigError, Forbidden, ValidationError
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.keys import Operator, Principal
from kcgateway.gateway.risk_control import (
    CancelReport,
    NoSuchTarget,
    RiskControl,
)
from kcgateway.risk import (
    Action,
    ActionKind,
    DrawdownVerdict,
    LimitOverrides,
    Limits,
    Signal,
    StateChange,
    TradingState,
    TradingStates,
)
from kcgateway.risk.model import Level
from kcgateway.store.database import Database
from kcgateway.store.repositories import AccountRepository, TenantRepository
from kcgateway.store.tables import AuditRecord, GatewayKey
from tests.helpers.databases import sqlite_database

NOW = datetime(2026, 6, 1, tzinfo=UTC)
OPERATOR = Operator("test-operator")
HALTED = TradingState.HALTED
ACTIVE = TradingState.ACTIVE


@dataclass
class Org:
    tenant: str
    account: str
    key: str
    manager: Principal
    admin: Principal


@dataclass
class RecordingCanceller:
    calls: list[tuple[Level, str]] = field(default_factory=list)
    fail: bool = False

    async def cancel_open(self, level: Level, target: str) -> CancelReport:
        self.calls.append((level, target))
        if self.fail:
            raise RuntimeError("exchange down")
        return CancelReport(cancelled=3)


async def _org(db: Database, name: str) -> Org:
    async with db.write() as session:
        tenant = await TenantRepository(session).add(name, now=NOW)
        account = await AccountRepository(session).add(tenant, "main", now=NOW)
        key = f"key{name}".ljust(12, "x")[:12]
        session.add(
            GatewayKey(
                key_id=key, tenant_id=tenant, owner="bot", secret_hmac=b"\0" * 32, last4="abcd",
                scopes=["trade:spot"], ip_allowlist=[], created_at=NOW,
            )
        )  # fmt: skip
    manager = Principal(f"mgr{name}", tenant, "ops", frozenset({Scope.RISK_MANAGE}))
    admin = Principal(f"adm{name}", tenant, "ops", frozenset({Scope.ADMIN}))
    return Org(tenant, account, key, manager, admin)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await sqlite_database(tmp_path / "risk.db")
    try:
        yield database
    finally:
        await database.aclose()


async def _service(db: Database, **kw: object) -> RiskControl:
    risk = RiskControl(db, now=lambda: NOW, **kw)  # type: ignore[arg-type]
    await risk.load()
    return risk


async def _audit(db: Database) -> list[AuditRecord]:
    async with db.read() as session:
        return list((await session.scalars(select(AuditRecord).order_by(AuditRecord.seq))).all())


async def test_states_for_before_load_refuses_rather_than_guessing(db: Database) -> None:
    risk = RiskControl(db)
    with pytest.raises(ConfigError, match="load"):
        risk.states_for("t", "a", "k")
    with pytest.raises(ConfigError, match="load"):
        risk.limits_for("t", "a", "k")


async def test_a_halt_refuses_at_once_through_states_for(db: Database) -> None:
    org = await _org(db, "a")
    risk = await _service(db)
    assert risk.states_for(org.tenant, org.account, org.key) == TradingStates()
    seen: list[TradingState] = []
    original = risk._write_state

    async def spy(*args: object, **kw: object) -> object:
        seen.append(risk.states_for(org.tenant, org.account, org.key).account)
        return await original(*args, **kw)  # type: ignore[arg-type]

    risk._write_state = spy  # type: ignore[method-assign]
    result = await risk.halt(Level.ACCOUNT, "main", "suspicious sells", org.manager)
    assert seen == [HALTED]  # already halted in memory while the write was under way
    assert result.state.state is HALTED
    assert result.cancel is None
    states = risk.states_for(org.tenant, org.account, org.key)
    assert states.account is HALTED
    assert states.strictest() == (HALTED, Level.ACCOUNT)
    # another tenant's account with the same name is untouched
    other = await _org(db, "b")
    assert risk.states_for(other.tenant, other.account, other.key) == TradingStates()


async def test_states_survive_a_new_service_over_the_same_database(db: Database) -> None:
    org = await _org(db, "a")
    risk = await _service(db)
    await risk.halt(Level.KEY, org.key, "leaked key", org.manager)
    await risk.halt(Level.GATEWAY, "", "exchange incident", OPERATOR)
    await risk.set_state(Level.TENANT, org.tenant, TradingState.REDUCING, "drawdown", OPERATOR)
    await risk.block_symbol("PUMP-USDT", OPERATOR, "coordinated buys")
    over = LimitOverrides(max_order_notional=Decimal("5000"), symbol_deny=frozenset({"X-USDT"}))
    await risk.set_limits(Level.ACCOUNT, org.account, over, "small account", org.manager)

    again = await _service(db)
    assert again.states_for(org.tenant, org.account, org.key) == TradingStates(
        gateway=HALTED, tenant=TradingState.REDUCING, account=ACTIVE, key=HALTED
    )
    limits = again.limits_for(org.tenant, org.account, org.key)
    assert limits.max_order_notional == Decimal("5000")
    assert limits.symbol_deny == frozenset({"X-USDT", "PUMP-USDT"})
    assert "PUMP-USDT" in again.gateway_limits.symbol_deny


async def test_every_change_is_audited_with_actor_and_reason(db: Database) -> None:
    org = await _org(db, "a")
    risk = await _service(db)
    await risk.halt(Level.ACCOUNT, org.account, "stop it", org.manager)
    await risk.resume(Level.ACCOUNT, org.account, "checked, fine", org.manager)
    await risk.set_limits(
        Level.TENANT, org.tenant, LimitOverrides(daily_orders=50), "trial tenant", OPERATOR
    )
    await risk.block_symbol("thin-usdt", OPERATOR, "pump")
    records = await _audit(db)
    got = [(r.action, r.actor, r.subject, r.tenant_id, r.detail.get("reason")) for r in records]
    assert got == [
        ("risk.halted", org.manager.key_id, f"account:{org.account}", org.tenant, "stop it"),
        ("risk.resumed", org.manager.key_id, f"account:{org.account}", org.tenant, "checked, fine"),
        ("risk.limits_set", "test-operator", f"tenant:{org.tenant}", org.tenant, "trial tenant"),
        ("risk.symbol_blocked", "test-operator", "gateway", None, "pump"),
    ]
    assert records[0].detail["from"] == "active" and records[0].detail["to"] == "halted"
    assert records[2].detail["after"] == {"daily_orders": 50}
    assert records[3].detail["symbol"] == "THIN-USDT"


async def test_a_tenant_cannot_reach_another_tenants_targets(db: Database) -> None:
    a, b = await _org(db, "a"), await _org(db, "b")
    risk = await _service(db)
    for level, target in (
        (Level.ACCOUNT, b.account),
        (Level.KEY, b.key),
        (Level.TENANT, b.tenant),
    ):
        for actor in (a.manager, a.admin):
            with pytest.raises(NoSuchTarget):
                await risk.halt(level, target, "hostile", actor)
            with pytest.raises(NoSuchTarget):
                await risk.limits(level, target, actor=actor)
    # an account NAME resolves within the caller's own tenant only
    await risk.halt(Level.ACCOUNT, "main", "mine", a.manager)
    assert risk.states_for(b.tenant, b.account, b.key) == TradingStates()
    assert risk.states_for(a.tenant, a.account, a.key).account is HALTED
    assert await risk.states(actor=b.manager) == []
    assert [v.target for v in await risk.states(actor=a.manager)] == [a.account]
    assert len(await _audit(db)) == 1


async def test_the_gateway_level_and_the_block_list_need_admin(db: Database) -> None:
    org = await _org(db, "a")
    risk = await _service(db)
    with pytest.raises(Forbidden, match="admin"):
        await risk.halt(Level.GATEWAY, "", "everyone stop", org.manager)
    with pytest.raises(Forbidden, match="admin"):
        await risk.block_symbol("BTC-USDT", org.manager, "no")
    with pytest.raises(Forbidden, match="admin"):
        await risk.set_limits(Level.GATEWAY, "", LimitOverrides(), "no", org.manager)
    assert risk.states_for(org.tenant, org.account, org.key) == TradingStates()
    result = await risk.halt("gateway", "", "exchange incident", org.admin)
    assert result.state.state is HALTED
    assert risk.states_for("any", "other", "tenant").gateway is HALTED


async def test_a_key_without_the_scope_is_forbidden(db: Database) -> None:
    org = await _org(db, "a")
    risk = await _service(db)
    reader = Principal("reader", org.tenant, "ops", frozenset({Scope.READ, Scope.TRADE_SPOT}))
    with pytest.raises(Forbidden, match="risk:manage"):
        await risk.halt(Level.ACCOUNT, org.account, "x", reader)
    with pytest.raises(Forbidden, match="risk:manage"):
        await risk.states(actor=reader)


@pytest.mark.parametrize("reason", ["", "   ", "\x1b[2Jforged"])
async def test_resume_and_halt_need_a_printable_reason(db: Database, reason: str) -> None:
    org = await _org(db, "a")
    risk = await _service(db)
    await risk.halt(Level.ACCOUNT, org.account, "stop", org.manager)
    with pytest.raises(ValidationError) as caught:
        await risk.resume(Level.ACCOUNT, org.account, reason, org.manager)
    assert caught.value.field == "reason"
    assert risk.states_for(org.tenant, org.account, org.key).account is HALTED
    with pytest.raises(ValidationError):
        await risk.halt(Level.KEY, org.key, reason, org.manager)


async def test_what_the_operator_or_engine_halted_only_admin_resumes(db: Database) -> None:
    org = await _org(db, "a")
    risk = await _service(db)
    engine = Operator("risk engine")
    change = StateChange(Level.KEY, org.key, HALTED, "dormant key from a new IP")
    await risk.apply_changes([change], engine)
    with pytest.raises(Forbidden, match="admin"):
        await risk.resume(Level.KEY, org.key, "it is me, honest", org.manager)
    assert risk.states_for(org.tenant, org.account, org.key).key is HALTED
    await risk.resume(Level.KEY, org.key, "rotated the key", org.admin)
    assert risk.states_for(org.tenant, org.account, org.key).key is ACTIVE


async def test_the_engine_only_tightens(db: Database) -> None:
    org = await _org(db, "a")
    risk = await _service(db)
    engine = Operator("risk engine")
    await risk.halt(Level.ACCOUNT, org.account, "manual", OPERATOR)
    applied = await risk.apply_changes(
        [StateChange(Level.ACCOUNT, org.account, TradingState.REDUCING, "drawdown 16%")], engine
    )
    assert applied == []
    assert risk.states_for(org.tenant, org.account, org.key).account is HALTED


async def test_cancel_open_asks_the_canceller_for_the_resolved_target(db: Database) -> None:
    org = await _org(db, "a")
    canceller = RecordingCanceller()
    risk = await _service(db, canceller=canceller)
    result = await risk.halt(Level.ACCOUNT, "main", "stop", org.manager, cancel_open=True)
    assert canceller.calls == [(Level.ACCOUNT, org.account)]
    assert result.cancel == CancelReport(cancelled=3)
    await risk.halt(Level.GATEWAY, "gateway", "all", OPERATOR, cancel_open=True)
    await risk.halt(Level.KEY, org.key, "key", OPERATOR, cancel_open=False)
    assert canceller.calls == [(Level.ACCOUNT, org.account), (Level.GATEWAY, "")]


async def test_a_failing_canceller_leaves_the_halt_in_place(db: Database) -> None:
    org = await _org(db, "a")
    risk = await _service(db, canceller=RecordingCanceller(fail=True))
    result = await risk.halt(Level.TENANT, "", "stop", org.manager, cancel_open=True)
    assert result.cancel is not None and not result.cancel.complete
    assert "RuntimeError" in result.cancel.failures[0]
    assert "exchange down" not in result.cancel.failures[0]  # no free text from below
    assert risk.states_for(org.tenant, org.account, org.key).tenant is HALTED
    no_canceller = await _service(db)
    result = await no_canceller.halt(Level.KEY, org.key, "stop", org.manager, cancel_open=True)
    assert result.cancel is not None and "no order canceller" in result.cancel.failures[0]


async def test_limits_resolve_gateway_tenant_account_key_tightest_wins(db: Database) -> None:
    org = await _org(db, "a")
    risk = await _service(db, gateway_limits=Limits(max_order_notional=Decimal(50_000)))
    assert risk.limits_for(org.tenant, org.account, org.key).max_order_notional == 50_000
    tighten = LimitOverrides(max_order_notional=Decimal(20_000))
    await risk.set_limits(Level.TENANT, org.tenant, tighten, "t", OPERATOR)
    loosen = LimitOverrides(max_order_notional=Decimal(90_000), daily_orders=10)
    await risk.set_limits(Level.KEY, org.key, loosen, "k", org.manager)
    got = risk.limits_for(org.tenant, org.account, org.key)
    assert got.max_order_notional == 20_000 and got.daily_orders == 10
    view = await risk.limits(Level.KEY, org.key, actor=org.manager)
    assert view.overrides == loosen and view.effective.max_order_notional == 20_000
    # the gateway level replaces (the operator may loosen), still below the tenant's cap
    await risk.set_limits(Level.GATEWAY, "", LimitOverrides(daily_orders=5), "g", OPERATOR)
    assert risk.limits_for(org.tenant, org.account, org.key).daily_orders == 5
    # clearing a level: an empty set of overrides
    await risk.set_limits(Level.TENANT, org.tenant, LimitOverrides(), "back to default", OPERATOR)
    assert risk.limits_for(org.tenant, org.account, org.key).max_order_notional == 50_000


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (LimitOverrides(max_order_notional=Decimal(0)), "maxOrderNotional"),
        (LimitOverrides(price_collar_pct=Decimal(150)), "priceCollarPct"),
        (LimitOverrides(daily_orders=0), "dailyOrders"),
        (LimitOverrides(symbol_deny=frozenset({"BTC USDT"})), "symbolDeny"),
        (
            LimitOverrides(drawdown_reducing_pct=Decimal(30), drawdown_halt_pct=Decimal(20)),
            "drawdownReducingPct",
        ),
    ],
)
async def test_bad_limit_values_are_refused_naming_the_field(
    db: Database, overrides: LimitOverrides, field: str
) -> None:
    org = await _org(db, "a")
    risk = await _service(db)
    with pytest.raises(ValidationError) as caught:
        await risk.set_limits(Level.ACCOUNT, org.account, overrides, "x", org.manager)
    assert caught.value.field == field
    assert await _audit(db) == []


async def test_a_change_by_another_process_is_picked_up_by_refresh(db: Database) -> None:
    org = await _org(db, "a")
    running = await _service(db)
    cli = await _service(db)
    await cli.halt(Level.ACCOUNT, org.account, "from the CLI", OPERATOR)
    assert running.states_for(org.tenant, org.account, org.key).account is ACTIVE
    assert await running.refresh() is True
    assert running.states_for(org.tenant, org.account, org.key).account is HALTED
    assert await running.refresh() is False
    # the running service's own change after the other's: it reloads and keeps both
    await cli.block_symbol("AAA-USDT", OPERATOR, "x")
    await running.halt(Level.KEY, org.key, "mine", OPERATOR)
    assert "AAA-USDT" in running.gateway_limits.symbol_deny
    await cli.resume(Level.ACCOUNT, org.account, "ok", OPERATOR)
    running.refresh_every_s = 0.05
    running.start()
    try:
        for _ in range(200):  # generous: a loaded 2-core machine
            if running.states_for(org.tenant, org.account, org.key).account is ACTIVE:
                break
            await asyncio.sleep(0.05)
        assert running.states_for(org.tenant, org.account, org.key).account is ACTIVE
        assert running.states_for(org.tenant, org.account, org.key).key is HALTED
    finally:
        await running.aclose()


async def test_unknown_level_and_target_are_clear(db: Database) -> None:
    org = await _org(db, "a")
    risk = await _service(db)
    with pytest.raises(ValidationError, match="unknown level 'desk'"):
        await risk.halt("desk", "x", "r", OPERATOR)
    with pytest.raises(NoSuchTarget, match="no such account 'nope'"):
        await risk.halt(Level.ACCOUNT, "nope", "r", org.manager)
    assert await risk.unblock_symbol("NEVER-USDT", OPERATOR, "r") is False


async def test_the_engine_callbacks_refuse_at_once_and_persist_behind(db: Database) -> None:
    """riskfeed's engine calls on_state_change / on_drawdown synchronously, per order."""
    org = await _org(db, "a")
    risk = await _service(db)
    risk.apply(StateChange(Level.KEY, org.key, HALTED, "risk.detector.dormant_key: woke up"))
    verdict = DrawdownVerdict(TradingState.REDUCING, "risk.drawdown", "16% from the peak")
    risk.drawdown(org.tenant, org.account, verdict)
    risk.drawdown(org.tenant, org.account, DrawdownVerdict(ACTIVE))  # no move
    # in force before anything was awaited
    assert risk.states_for(org.tenant, org.account, org.key) == TradingStates(
        account=TradingState.REDUCING, key=HALTED
    )
    await risk.load()  # a reload before the writes finished keeps them
    assert risk.states_for(org.tenant, org.account, org.key).key is HALTED
    await risk.drain()
    again = await _service(db)
    assert again.states_for(org.tenant, org.account, org.key) == TradingStates(
        account=TradingState.REDUCING, key=HALTED
    )
    got = {(r.action, r.actor, r.detail["reason"]) for r in await _audit(db)}
    assert got == {
        ("risk.halted", "risk engine", "risk.detector.dormant_key: woke up"),
        ("risk.state_set", "risk engine", "risk.drawdown: 16% from the peak"),
    }
    # a looser move never relaxes what is held
    risk.apply(StateChange(Level.KEY, org.key, TradingState.REDUCING, "later"))
    await risk.drain()
    assert risk.states_for(org.tenant, org.account, org.key).key is HALTED


async def test_a_coordinated_buy_signal_halts_accounts_and_blocks_the_symbol(db: Database) -> None:
    a, b = await _org(db, "a"), await _org(db, "b")
    risk = await _service(db)
    signal = Signal(
        code="risk.detector.coordinated_buy",
        message="5 accounts bought PUMP-USDT within 2 minutes",
        actions=(
            Action(ActionKind.HALT_ACCOUNT, a.account),
            Action(ActionKind.HALT_ACCOUNT, b.account),
            Action(ActionKind.BLOCK_SYMBOL, "PUMP-USDT"),
            Action(ActionKind.ALERT),
        ),
    )
    risk.apply_signal(signal)
    assert risk.states_for(a.tenant, a.account, a.key).account is HALTED
    assert risk.states_for(b.tenant, b.account, b.key).account is HALTED
    assert "PUMP-USDT" in risk.limits_for(a.tenant, a.account, a.key).symbol_deny
    await risk.drain()
    again = await _service(db)
    assert "PUMP-USDT" in again.limits_for(b.tenant, b.account, None).symbol_deny
    assert again.states_for(b.tenant, b.account, b.key).account is HALTED
    actions = sorted(r.action for r in await _audit(db))
    assert actions == ["risk.halted", "risk.halted", "risk.symbol_blocked"]


async def test_the_hot_path_reads_no_database(tmp_path: Path) -> None:
    """states_for and limits_for answer from memory: they work with the database closed."""
    database = await sqlite_database(tmp_path / "hot.db")
    org = await _org(database, "a")
    risk = await _service(database)
    await risk.halt(Level.ACCOUNT, org.account, "stop", OPERATOR)
    await risk.set_limits(Level.KEY, org.key, LimitOverrides(daily_orders=7), "k", OPERATOR)
    await database.aclose()
    for _ in range(3):
        assert risk.states_for(org.tenant, org.account, org.key).account is HALTED
        assert risk.limits_for(org.tenant, org.account, org.key).daily_orders == 7
        assert risk.states_for(org.tenant, "other", "key") == TradingStates()


async def test_a_halted_key_cannot_free_itself_or_loosen_limits(db: Database) -> None:
    org = await _org(db, "a")
    risk = await _service(db)
    manager = Principal(org.key, org.tenant, "ops", frozenset({Scope.RISK_MANAGE}))
    await risk.halt(Level.ACCOUNT, org.account, "stop", manager)
    tighter = LimitOverrides(daily_orders=10)
    await risk.set_limits(Level.ACCOUNT, org.account, tighter, "tight", manager)
    await risk.halt(Level.KEY, org.key, "this key leaked", manager)
    with pytest.raises(Forbidden, match="this key is halted"):
        await risk.resume(Level.ACCOUNT, org.account, "let me trade", manager)
    with pytest.raises(Forbidden, match="this key is halted"):
        await risk.set_limits(Level.ACCOUNT, org.account, LimitOverrides(), "loosen", manager)
    # halting more is still possible (it only tightens)
    await risk.halt(Level.TENANT, "", "everything", manager)
    assert risk.states_for(org.tenant, org.account, org.key).account is HALTED
    assert risk.limits_for(org.tenant, org.account, org.key).daily_orders == 10


async def test_limits_the_operator_set_only_admin_changes(db: Database) -> None:
    org = await _org(db, "a")
    risk = await _service(db)
    cap = LimitOverrides(max_order_notional=Decimal(1000))
    await risk.set_limits(Level.TENANT, org.tenant, cap, "trial tenant", OPERATOR)
    with pytest.raises(Forbidden, match="only an admin key"):
        await risk.set_limits(Level.TENANT, "", LimitOverrides(), "lift the cap", org.manager)
    assert risk.limits_for(org.tenant, org.account, org.key).max_order_notional == 1000
    await risk.set_limits(Level.TENANT, "", LimitOverrides(), "paid now", org.admin)
    assert risk.limits_for(org.tenant, org.account, org.key).max_order_notional == 100_000
