"""The order router (place, get, cancel) and the reconciler, with a scripted venue."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kcgateway.errors import OutcomeUnknown, ValidationError
from kcgateway.gateway import orders as o
from kcgateway.gateway.venue import ExchangeOrder
from kcgateway.store.database import open_database
from kcgateway.store.migrate import upgrade
from kcgateway.store.repositories import AccountRepository, TenantRepository
from kcgateway.store.types import OrderState

D = Decimal


def req(**kw: Any) -> o.OrderRequest:
    base: dict[str, Any] = {"account": "a", "symbol": "BTC-USDT", "side": "buy",
                            "price": D("100"), "size": D("2")}  # fmt: skip
    base.update(kw)
    return o.OrderRequest(**base)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"side": "hold"}, "side"),
        ({"price": None}, "price"),
        ({"price": D("-1")}, "price"),
        ({"size": D("NaN")}, "size"),
        ({"order_type": "market", "price": None, "size": None}, "size"),
        ({"order_type": "market", "funds": D("5")}, "size"),
        ({"order_type": "stop"}, "type"),
        ({"client_oid": "bad oid!"}, "client_oid"),
    ],
)
def test_validate_names_the_field(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        o.validate(req(**kw))
    assert info.value.field == field


def test_placeholder_risk_check_is_a_max_notional() -> None:
    assert o.risk_check(D("200"), D("200")) is None
    assert "exceeds" in (o.risk_check(D("200"), D("199.99")) or "")


def test_state_of_exchange_orders() -> None:
    assert o.state_of(ExchangeOrder("x", True, False, D(0))) is OrderState.OPEN
    assert o.state_of(ExchangeOrder("x", False, True, D(0))) is OrderState.CANCELLED
    assert o.state_of(ExchangeOrder("x", False, False, D(1))) is OrderState.FILLED


def test_transitions_never_leave_a_final_state() -> None:
    finals = {OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED, OrderState.NOT_PLACED}
    assert not finals & set(o.TRANSITIONS)
    assert OrderState.SENT not in o.TRANSITIONS[OrderState.UNKNOWN], "never resend"


def test_idempotent_client_oid_is_stable_and_valid() -> None:
    a = o.idempotent_client_oid("t", "acct", "key-1")
    assert a == o.idempotent_client_oid("t", "acct", "key-1")
    assert a != o.idempotent_client_oid("t2", "acct", "key-1")
    assert len(a) == 40
    o.validate(req(client_oid=a))


@dataclass
class ScriptedVenue:
    """Place raises what ``outcome`` says; resolve answers from ``exchange``."""

    outcome: BaseException | None = None
    exchange: dict[str, ExchangeOrder] = field(default_factory=dict)
    placed: list[str] = field(default_factory=list)
    resolve_error: BaseException | None = None
    crash_after_placing: bool = False

    async def place(self, order: Any) -> Any:
        self.placed.append(order.client_oid)
        if self.crash_after_placing:
            self.exchange[order.client_oid] = ExchangeOrder("ex-c", True, False, D(0))
            raise asyncio.CancelledError  # the gateway dies after the exchange executed
        if self.outcome is not None:
            raise self.outcome
        self.exchange[order.client_oid] = ExchangeOrder("ex-1", True, False, D(0))
        return type("Placed", (), {"order_id": "ex-1"})()

    async def resolve(self, client_oid: str, symbol: str) -> ExchangeOrder | None:
        if self.resolve_error is not None:
            raise self.resolve_error
        return self.exchange.get(client_oid)


@dataclass
class OneVenue:
    venue: ScriptedVenue

    async def for_account(self, account_id: str) -> ScriptedVenue:
        return self.venue


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def _router(tmp_path: Path, venue: ScriptedVenue) -> tuple[o.OrderRouter, Clock, Any, str]:
    db = open_database(f"sqlite+aiosqlite:///{tmp_path / 'o.db'}")
    await upgrade(db.engine)
    clock = Clock()
    async with db.write() as s:
        tenant = await TenantRepository(s).add("t", now=clock.now)
        await AccountRepository(s).add(tenant, "a", now=clock.now)
    router = o.OrderRouter(
        db, OneVenue(venue), max_notional=D(1000), grace=timedelta(seconds=30),  # type: ignore[arg-type]
        settle_after=timedelta(seconds=10), now=clock,
    )  # fmt: skip
    return router, clock, db, tenant


async def test_unknown_then_found_is_open(tmp_path: Path) -> None:
    venue = ScriptedVenue(outcome=OutcomeUnknown("x", reason="timeout"))
    router, _clock, db, tenant = await _router(tmp_path, venue)
    async with db:
        view = await router.place(tenant, "k", req())
        assert view.state is OrderState.UNKNOWN
        assert await router.reconcile() == 1, "not found yet and inside the grace period"
        venue.exchange[view.client_oid] = ExchangeOrder("ex-9", True, False, D(0))
        assert await router.reconcile() == 0
        final = await router.get(tenant, view.id)
        assert final.state is OrderState.OPEN and final.exchange_order_id == "ex-9"
        assert venue.placed == [view.client_oid], "sent exactly once"


async def test_unknown_and_never_found_is_not_placed_after_grace(tmp_path: Path) -> None:
    venue = ScriptedVenue(outcome=OutcomeUnknown("x", reason="5xx"))
    router, clock, db, tenant = await _router(tmp_path, venue)
    async with db:
        view = await router.place(tenant, "k", req())
        clock.now += timedelta(seconds=29)
        assert await router.reconcile() == 1
        clock.now += timedelta(seconds=2)
        assert await router.reconcile() == 0
        assert (await router.get(tenant, view.id)).state is OrderState.NOT_PLACED
        assert venue.placed == [view.client_oid]


async def test_rejected_and_stale_persisted(tmp_path: Path) -> None:
    from kcgateway.errors import InsufficientFunds
    from kcgateway.store.ledger import NewIntent, OrderIntentRepository

    venue = ScriptedVenue(outcome=InsufficientFunds("200004", "no money"))
    router, clock, db, tenant = await _router(tmp_path, venue)
    async with db:
        view = await router.place(tenant, "k", req())
        assert view.state is OrderState.REJECTED
        with pytest.raises(o.NotCancellable):
            await router.cancel(tenant, view.id, "k")
        with pytest.raises(o.NoSuchObject):
            await router.get("other-tenant", view.id)
        with pytest.raises(o.RiskRejected):
            await router.place(tenant, "k", req(size=D("100")))
        with pytest.raises(o.NoSuchObject):
            await router.place(tenant, "k", req(account="nope"))
        # an intent left persisted by a crash before sending is closed as not placed
        async with db.write() as s:
            account = (await AccountRepository(s).for_tenant(tenant))[0]
            await OrderIntentRepository(s).add(
                NewIntent(account.id, "crashed-1", "BTC-USDT", "buy", "limit", D(1), D(1)),
                now=clock.now,
            )
        assert await router.reconcile() == 1
        clock.now += timedelta(seconds=31)
        assert await router.reconcile() == 0
        crashed = await router.by_client_oid(tenant, "crashed-1")
        assert crashed.state is OrderState.NOT_PLACED
        assert "crashed-1" not in venue.placed


async def test_get_falls_back_to_the_stored_state_when_the_exchange_is_down(
    tmp_path: Path,
) -> None:
    from kcgateway.errors import ExchangeUnavailable

    venue = ScriptedVenue()
    router, _clock, db, tenant = await _router(tmp_path, venue)
    async with db:
        view = await router.place(tenant, "k", req())
        assert view.state is OrderState.ACKED
        venue.resolve_error = ExchangeUnavailable("503000", "down")
        assert (await router.get(tenant, view.id)).state is OrderState.ACKED
        assert await router.reconcile() == 1, "deferred, not lost"
        venue.resolve_error = None
        assert (await router.get(tenant, view.id)).state is OrderState.OPEN


@pytest.mark.parametrize("executed", [True, False])
async def test_killed_between_send_and_ack(tmp_path: Path, executed: bool) -> None:
    """The intent is left 'sent'; the reconciler settles it by clientOid, never resends."""
    venue = ScriptedVenue(crash_after_placing=executed)
    if not executed:
        venue.outcome = asyncio.CancelledError()
    router, clock, db, tenant = await _router(tmp_path, venue)
    async with db:
        with pytest.raises(asyncio.CancelledError):
            await router.place(tenant, "k", req(client_oid="crash-1"))
        assert (await router.by_client_oid(tenant, "crash-1")).state is OrderState.SENT
        assert await router.reconcile() == 1, "a request may still be in flight"
        clock.now += timedelta(seconds=11)
        pending = await router.reconcile()
        if executed:
            assert pending == 0
            assert (await router.by_client_oid(tenant, "crash-1")).state is OrderState.OPEN
        else:
            assert pending == 1, "not found, but inside the grace period"
            clock.now += timedelta(seconds=30)
            assert await router.reconcile() == 0
            view = await router.by_client_oid(tenant, "crash-1")
            assert view.state is OrderState.NOT_PLACED
        assert venue.placed == ["crash-1"]


async def test_place_returns_what_a_re_read_shows_and_audits_every_step(tmp_path: Path) -> None:
    from kcgateway.store.ledger import AuditRepository

    venue = ScriptedVenue()
    router, clock, db, tenant = await _router(tmp_path, venue)
    async with db:
        placed = await router.place(tenant, "k", req(client_oid="hot-1"))
        assert placed.state is OrderState.ACKED and placed.exchange_order_id == "ex-1"
        assert placed == await router.intents.view_of(placed.id), "the view built without a re-read"
        async with db.read() as s:
            audit = await AuditRepository(s).all()
            assert await AuditRepository(s).verify() is None
        steps = [(r.action, r.detail.get("from"), r.detail.get("to")) for r in audit]
        assert steps == [
            ("order.intent", None, None),
            ("order.state", "persisted", "sent"),
            ("order.state", "sent", "acked"),
        ]
        assert audit[0].tenant_id == tenant and audit[0].detail["price"] == "100"
        # the same clientOid names the first intent; nothing is sent again
        with pytest.raises(o.ClientOidTaken) as taken:
            await router.place(tenant, "k", req(client_oid="hot-1"))
        assert taken.value.intent_id == placed.id
        # the account by its id works too; another tenant's account is not found
        by_id = await router.place(tenant, "k", req(account=placed.account_id))
        assert by_id.account_id == placed.account_id
        async with db.write() as s:
            other = await TenantRepository(s).add("other", now=clock.now)
        with pytest.raises(o.NoSuchObject):
            await router.place(other, "k", req(account=placed.account_id))
        assert venue.placed == ["hot-1", by_id.client_oid]


async def test_place_re_reads_when_the_reconciler_moved_first(tmp_path: Path) -> None:
    # the outcome's compare-and-set loses (the reconciler settled the intent meanwhile):
    # place answers with the stored state, not with its own stale idea of it
    from kcgateway.store.ledger import OrderIntentRepository

    venue = ScriptedVenue()
    router, clock, db, tenant = await _router(tmp_path, venue)
    real_place = venue.place

    async def place_then_settled_elsewhere(order: Any) -> Any:
        placed = await real_place(order)
        async with db.write() as s:
            repo = OrderIntentRepository(s)
            row = await repo.by_client_oid((await repo.in_states([OrderState.SENT]))[0].account_id,
                                           order.client_oid)  # fmt: skip
            assert row is not None
            await repo.set_state(row.id, expected=OrderState.SENT, new=OrderState.FILLED,
                                 now=clock.now)  # fmt: skip
        return placed

    venue.place = place_then_settled_elsewhere  # type: ignore[method-assign]
    async with db:
        view = await router.place(tenant, "k", req(client_oid="raced-1"))
        assert view.state is OrderState.FILLED


def test_risk_refusal_shows_plain_decimals_not_exponents() -> None:
    big = D("6E+3") * D("1000")  # a JSON number such as 6e3 parses like this
    assert o.risk_check(big, D("1E+5")) == ("notional 6000000 exceeds the per-order maximum 100000")


@dataclass
class CountingVenue(ScriptedVenue):
    """Records how many resolve calls are in flight at once."""

    in_flight: int = 0
    most: int = 0

    async def resolve(self, client_oid: str, symbol: str) -> ExchangeOrder | None:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        for _ in range(5):  # an exchange round trip: let the other lookups start
            await asyncio.sleep(0)
        self.in_flight -= 1
        return await super().resolve(client_oid, symbol)


async def test_a_reconcile_pass_looks_intents_up_concurrently(tmp_path: Path) -> None:
    """One lookup at a time fell behind order intake (acked intents took minutes to settle)."""
    venue = CountingVenue(outcome=OutcomeUnknown("x", reason="timeout"))
    router, _clock, db, tenant = await _router(tmp_path, venue)
    async with db:
        views = [await router.place(tenant, "k", req(client_oid=f"c-{i}")) for i in range(40)]
        for view in views:
            venue.exchange[view.client_oid] = ExchangeOrder("ex", True, False, D(0))
        assert await router.reconcile() == 0
        assert 1 < venue.most <= o.RECONCILE_CONCURRENCY
        states = {(await router.get(tenant, v.id)).state for v in views}
        assert states == {OrderState.OPEN}


@dataclass
class HeldVenue(ScriptedVenue):
    """place() waits for ``release`` before the order reaches the exchange."""

    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def place(self, order: Any) -> Any:
        await self.release.wait()
        return await super().place(order)


async def test_the_reconciler_leaves_an_intent_this_process_is_still_sending(
    tmp_path: Path,
) -> None:
    """Found by scripts/exactly_once.py on PostgreSQL: a send slower than settle_after + grace
    (rate-limit waits, a starved machine) was marked not_placed while still in flight; the
    order then landed, the ack lost its compare-and-set, and the client got 422 for an order
    that exists."""
    venue = HeldVenue()
    router, clock, db, tenant = await _router(tmp_path, venue)
    async with db:
        placing = asyncio.create_task(router.place(tenant, "k", req(client_oid="slow-1")))
        while not (await router.list(tenant)):  # the intent is committed as 'sent'
            await asyncio.sleep(0)
        clock.now += timedelta(seconds=60)  # past settle_after and the grace period
        assert await router.reconcile() == 1, "still being sent: not settled, not not_placed"
        assert (await router.by_client_oid(tenant, "slow-1")).state is OrderState.SENT
        venue.release.set()
        view = await placing
        assert view.state is OrderState.ACKED, "the exchange's answer is recorded"
        assert await router.reconcile() == 0
        assert (await router.by_client_oid(tenant, "slow-1")).state is OrderState.OPEN
        assert venue.placed == ["slow-1"]


async def test_refresh_open_settles_what_no_stream_reported_a_batch_at_a_time(
    tmp_path: Path,
) -> None:
    venue = ScriptedVenue()
    router, _clock, db, tenant = await _router(tmp_path, venue)
    async with db:
        views = [await router.place(tenant, "k", req(client_oid=f"open-{i}")) for i in range(3)]
        assert await router.reconcile() == 0  # acked -> open (the exchange lists them active)
        for v in views:  # all three fill at the exchange; no stream event reaches the gateway
            venue.exchange[v.client_oid] = ExchangeOrder("ex-1", False, False, D(1))
        assert await router.refresh_open(max_lookups=2) == 2
        states = [(await router.intents.view_of(v.id)).state for v in views]
        assert states.count(OrderState.FILLED) == 2 and states.count(OrderState.OPEN) == 1
        assert await router.refresh_open(max_lookups=2) == 1, "the next batch goes on from there"
        assert {(await router.intents.view_of(v.id)).state for v in views} == {OrderState.FILLED}
        assert await router.refresh_open() == 0
        assert venue.placed == [v.client_oid for v in views], "looked up, never resent"


@pytest.mark.parametrize("outcome", [None, OutcomeUnknown("x", reason="timeout")])
async def test_an_order_waits_for_one_fsync_the_intent_before_the_send(
    tmp_path: Path, outcome: BaseException | None
) -> None:
    """synchronous=FULL: the intent's commit is durable before the call; the outcome's is not
    waited for (a power loss that drops it leaves the intent 'sent' for the reconciler, see
    test_killed_between_send_and_ack)."""
    import threading

    from kcgateway.store.fastsql import SqliteRunner

    venue = ScriptedVenue(outcome=outcome)
    router, _clock, db, tenant = await _router(tmp_path, venue)
    seen: list[tuple[str, bool]] = []  # (statement, on the loop thread)
    loop = threading.get_ident()

    def trace(sql: str) -> None:
        if sql == "COMMIT" or sql.startswith("PRAGMA synchronous"):
            seen.append((sql, threading.get_ident() == loop))

    async with db:
        async with db.hot_write() as runner:
            assert isinstance(runner, SqliteRunner)
            raw = runner._conn
        raw.set_trace_callback(trace)
        view = await router.place(tenant, "k", req())
        placing, seen[:] = list(seen), []
        # a later move the reconciler makes from what the exchange says: not waited for either
        venue.exchange[view.client_oid] = ExchangeOrder("ex-2", False, True, D(0))
        _clock.now += timedelta(seconds=11)
        await router.reconcile()
        raw.set_trace_callback(None)
        assert (await router.get(tenant, view.id)).state is not view.state
    relaxed = [
        ("PRAGMA synchronous=NORMAL", True),
        ("COMMIT", True),  # no fsync waited for
        ("PRAGMA synchronous=FULL", True),
    ]
    # the intent: on the commit thread, waiting for the fsync; then the outcome, relaxed
    assert placing == [("COMMIT", False), *relaxed]
    assert seen == relaxed
