"""The hot path's prebuilt statements: same rows as the engine, same transaction rules.

Every ``db`` test runs on SQLite (raw ``sqlite3`` runner) and on PostgreSQL (Core runner).
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import bindparam, insert, select

from kcgateway.store.database import Database, open_database
from kcgateway.store.fastsql import CoreRunner, Prepared, SqliteRunner
from kcgateway.store.ledger import (
    AuditEntry,
    AuditRepository,
    NewIntent,
    OrderIntentRepository,
    append_audit,
    insert_intent,
    intent_id_by_client_oid,
    move_intent,
)
from kcgateway.store.migrate import upgrade
from kcgateway.store.repositories import AccountRepository, TenantRepository
from kcgateway.store.tables import ExchangeAccount, OrderIntent, Tenant
from kcgateway.store.types import OrderState

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
COLUMNS = [c.key for c in OrderIntent.__table__.columns]


def _as_dict(row: OrderIntent) -> dict[str, object]:
    return {key: getattr(row, key) for key in COLUMNS}


async def _account(db: Database) -> str:
    async with db.write() as s:
        tenant = await TenantRepository(s).add(f"t-{uuid.uuid4().hex[:8]}", now=NOW)
        return await AccountRepository(s).add(tenant, "main", now=NOW)


def _intent(account: str, **changes: object) -> NewIntent:
    fields: dict[str, object] = {
        "account_id": account,
        "client_oid": uuid.uuid4().hex,
        "symbol": "BTC-USDT",
        "side": "buy",
        "order_type": "limit",
        "price": Decimal("60000.123456789012345678"),
        "size": Decimal("0.000000000000000001"),
        "state": OrderState.SENT,
        "market": "margin",
        "margin_mode": "cross",
        "leverage": Decimal("3"),
        "auto_borrow": True,
    }
    fields.update(changes)
    return NewIntent(**fields)  # type: ignore[arg-type]


async def test_insert_returns_what_the_engine_reads_back(db: Database) -> None:
    account = await _account(db)
    async with db.hot_write() as runner:
        row = await insert_intent(runner, _intent(account), now=NOW)
    assert row is not None
    async with db.read() as s:
        stored = await OrderIntentRepository(s).get(row.id)
    assert stored is not None
    assert _as_dict(row) == _as_dict(stored)
    # exact money and aware UTC timestamps, as the column types promise
    assert row.size == Decimal("0.000000000000000001") and row.created_at == NOW
    assert row.created_at.tzinfo is not None and row.state is OrderState.SENT


async def test_move_and_lookup_by_client_oid(db: Database) -> None:
    account = await _account(db)
    intent = _intent(account)
    async with db.hot_write() as runner:
        row = await insert_intent(runner, intent, now=NOW)
        assert row is not None
        later = NOW + timedelta(seconds=1)
        moved = await move_intent(
            runner, row.id, expected=OrderState.SENT, new=OrderState.ACKED, now=later,
            exchange_order_id="ex-1",
        )  # fmt: skip
        again = await move_intent(
            runner, row.id, expected=OrderState.SENT, new=OrderState.UNKNOWN, now=later
        )
        assert await intent_id_by_client_oid(runner, account, intent.client_oid) == row.id
        assert await intent_id_by_client_oid(runner, account, "nobody") is None
    assert moved is not None and again is None  # compare-and-set: the second one lost
    assert (moved.state, moved.exchange_order_id, moved.updated_at) == (
        OrderState.ACKED,
        "ex-1",
        later,
    )
    async with db.hot_write() as runner:  # a None exchange id keeps the stored one
        kept = await move_intent(
            runner, row.id, expected=OrderState.ACKED, new=OrderState.OPEN, now=later
        )
    assert kept is not None and kept.exchange_order_id == "ex-1"


async def test_a_taken_client_oid_inserts_nothing(db: Database) -> None:
    account = await _account(db)
    intent = _intent(account)
    async with db.hot_write() as runner:
        first = await insert_intent(runner, intent, now=NOW)
        second = await insert_intent(runner, intent, now=NOW)
    assert first is not None and second is None


async def test_audit_appended_on_the_hot_path_verifies(db: Database) -> None:
    entries = [
        AuditEntry("k1", "order.intent", "i1", {"price": "1.5", "nested": {"a": [1]}}, "t1"),
        AuditEntry("k1", "order.state", "i1", {"from": "persisted", "to": "sent"}),
    ]
    async with db.hot_write() as runner:
        head = await append_audit(runner, entries, now=NOW)
    async with db.read() as s:
        repo = AuditRepository(s)
        rows = list(await repo.all())
        assert await repo.verify() is None
    assert rows[-1].hash == head and rows[-2].detail == {"price": "1.5", "nested": {"a": [1]}}
    assert rows[-1].created_at == NOW


async def test_hot_write_rolls_back_on_error(db: Database) -> None:
    account = await _account(db)
    intent = _intent(account)
    with pytest.raises(RuntimeError, match="boom"):
        async with db.hot_write() as runner:
            assert await insert_intent(runner, intent, now=NOW) is not None
            raise RuntimeError("boom")
    async with db.hot_read() as runner:
        assert await intent_id_by_client_oid(runner, account, intent.client_oid) is None
    async with db.hot_write() as runner:  # the connection is usable again
        assert await insert_intent(runner, intent, now=NOW) is not None


async def test_hot_write_rolls_back_when_cancelled(db: Database) -> None:
    account = await _account(db)
    intent = _intent(account)
    inserted = asyncio.Event()

    async def stuck() -> None:
        async with db.hot_write() as runner:
            await insert_intent(runner, intent, now=NOW)
            inserted.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(stuck())
    await inserted.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with db.hot_read() as runner:
        assert await intent_id_by_client_oid(runner, account, intent.client_oid) is None


async def test_both_runners_give_the_same_rows(db: Database) -> None:
    """The Core runner on the same statement returns what the hot runner returns."""
    account = await _account(db)
    async with db.hot_write() as runner:
        row = await insert_intent(runner, _intent(account), now=NOW)
    assert row is not None
    async with db.read_connection() as conn:
        core = await intent_id_by_client_oid(CoreRunner(conn), account, row.client_oid)
    async with db.hot_read() as runner:
        hot = await intent_id_by_client_oid(runner, account, row.client_oid)
    assert core == hot == row.id


def test_statements_that_need_the_engine_are_refused() -> None:
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect(paramstyle="qmark")
    # a Python-side column default (exchange="kucoin") is computed by the engine at execution
    defaults = Prepared(insert(ExchangeAccount.__table__))
    with pytest.raises(ValueError, match="needs SQLAlchemy"):
        defaults.compiled(dialect, frozenset({"id", "tenant_id", "name", "created_at"}))
    expanding = Prepared(
        select(Tenant.__table__.c.id).where(
            Tenant.__table__.c.name.in_(bindparam("names", expanding=True))
        )
    )
    with pytest.raises(ValueError, match=r"expanding|IN lists"):
        expanding.compiled(dialect, frozenset({"names"}))
    required = Prepared(select(Tenant.__table__).where(Tenant.__table__.c.id == bindparam("id")))
    with pytest.raises(ValueError, match="required"):
        required.compiled(dialect, frozenset())


async def _sqlite_db(tmp_path: Path) -> Database:
    db = open_database(f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}")
    await upgrade(db.engine)
    return db


async def test_a_lock_held_by_another_process_is_waited_for(tmp_path: Path) -> None:
    db = await _sqlite_db(tmp_path)
    account = await _account(db)
    other = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # as a CLI command writing would
    asyncio.get_running_loop().call_later(0.05, other.rollback)
    try:
        async with db.hot_write() as runner:  # waits (without blocking the loop), then writes
            assert await insert_intent(runner, _intent(account), now=NOW) is not None
    finally:
        other.close()
        await db.aclose()


async def test_a_lock_held_too_long_is_an_error(tmp_path: Path) -> None:
    db = await _sqlite_db(tmp_path)
    await db.aclose()
    path = tmp_path / "busy.db"
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)  # as kcgateway opens it
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    runner = SqliteRunner(conn, db.engine.dialect, busy_budget_s=0.02)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await runner.begin_immediate()
    finally:
        other.rollback()
        other.close()
        runner.close()


async def test_the_intent_by_client_oid_is_the_row_the_engine_reads(db: Database) -> None:
    from kcgateway.store.ledger import intent_by_client_oid

    account = await _account(db)
    new = _intent(account)
    async with db.hot_write() as runner:
        inserted = await insert_intent(runner, new, now=NOW)
    assert inserted is not None
    async with db.hot_read() as runner:
        found = await intent_by_client_oid(runner, account, new.client_oid)
        missing = await intent_by_client_oid(runner, account, "nope")
    async with db.read() as s:
        stored = await OrderIntentRepository(s).by_client_oid(account, new.client_oid)
    assert found is not None and stored is not None and missing is None
    assert _as_dict(found) == _as_dict(stored)
