"""Every way the store appends audit records chains them with the database's audit key.

Runs on SQLite (the raw hot-path runner) and on PostgreSQL (the Core runner).
"""

from __future__ import annotations

import os
import pickle
from datetime import UTC, datetime

import pytest

from kcgateway.store.audit_chain import GENESIS_HASH, AuditKeys, ChainCheck, ChainKey, chain_hash
from kcgateway.store.database import Database
from kcgateway.store.fastsql import CoreRunner
from kcgateway.store.ledger import AuditEntry, AuditRepository, append_audit, body_of

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def test_every_write_path_chains_with_the_audit_key(db: Database) -> None:
    key = ChainKey("audit:test", os.urandom(32))
    db.use_audit_key(key)
    entry = AuditEntry("k1", "order.state", "i1", {"from": "sent", "to": "acked"}, "t1")
    async with db.hot_write() as runner:  # the order hot path
        await append_audit(runner, [entry, entry], now=NOW)
    async with db.write() as session:  # every other use case (keys, accounts, tenants...)
        await AuditRepository(session).append(actor="a", action="x", subject="s", now=NOW)
        await AuditRepository(session).append_many([entry], now=NOW)
    async with db.write_connection() as conn:
        await append_audit(CoreRunner(conn), [entry], now=NOW)
    async with db.read() as session:
        rows = list(await AuditRepository(session).all())
        assert [r.key_id for r in rows] == ["audit:test"] * 5
        assert await AuditRepository(session).verify(AuditKeys([key])) is None
        assert await AuditRepository(session).verify() == rows[0].seq, "unkeyed check refuses"
    other = ChainKey("audit:test", os.urandom(32))  # same id, another key: a forger's guess
    async with db.read() as session:
        assert await AuditRepository(session).verify(AuditKeys([other])) == rows[0].seq
    # the keyed hash is what ChainKey computes, never the bare SHA-256 link
    first = rows[0]
    assert first.hash == key.digest(GENESIS_HASH, body_of(first))
    assert first.hash != chain_hash(GENESIS_HASH, body_of(first), None)


def test_a_chain_key_never_shows_or_pickles_its_key() -> None:
    raw = os.urandom(32)
    key = ChainKey("audit:abc", raw)
    assert raw.hex() not in repr(key) and "audit:abc" in repr(key)
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        ChainKey("audit:short", b"x" * 16)


def test_the_key_id_is_covered() -> None:
    raw = os.urandom(32)
    assert ChainKey("audit:a", raw).digest("p", "b") != ChainKey("audit:b", raw).digest("p", "b")


def test_an_empty_chain_with_a_recorded_legacy_head_is_cut() -> None:
    keys = AuditKeys([ChainKey("audit:a", os.urandom(32))], legacy_head="1" * 64)
    check = ChainCheck(keys)
    check.finish()
    assert check.broken_at == 0 and "switch point" in str(check.problem)
    fresh = ChainCheck(AuditKeys([ChainKey("audit:a", os.urandom(32))]))
    fresh.finish()
    assert fresh.broken_at is None
