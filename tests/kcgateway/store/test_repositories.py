"""The repository suite: every test runs on SQLite and on PostgreSQL (the ``db`` fixture)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.exc import IntegrityError, StatementError

from kcgateway.store.database import Database
from kcgateway.store.fastsql import CoreRunner
from kcgateway.store.ledger import (
    GENESIS_HASH,
    AuditEntry,
    AuditRepository,
    DuplicateIntent,
    IdempotencyRepository,
    NewIntent,
    OrderIntentRepository,
    move_intent,
)
from kcgateway.store.records import BrokerInfo, CredentialRecord, Rewrap, SealedField
from kcgateway.store.repositories import (
    AccountRepository,
    CredentialRepository,
    GatewayKeyRepository,
    NotFoundInStore,
    TenantRepository,
)
from kcgateway.store.tables import AuditRecord, GatewayKey, Tenant
from kcgateway.store.types import OrderState

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def _tenant_and_account(db: Database) -> tuple[str, str]:
    async with db.write() as s:
        tenant = await TenantRepository(s).add(_name("t"), now=NOW)
        account = await AccountRepository(s).add(tenant, _name("a"), now=NOW, sub_uid="123")
    return tenant, account


def _record(tenant: str, *, kek_id: str = "local:aaaa", broker: bool = False) -> CredentialRecord:
    return CredentialRecord(
        credential_id=str(uuid.uuid4()),
        tenant_id=tenant,
        api_key=_name("key"),
        key_version=2,
        v=1,
        alg="AES-256-GCM",
        kek_id=kek_id,
        wrapped_dek=secrets.token_bytes(60),
        fields={
            "secret": SealedField(secrets.token_bytes(12), secrets.token_bytes(52)),
            "passphrase": SealedField(secrets.token_bytes(12), secrets.token_bytes(30)),
        },
        broker=BrokerInfo("PARTNER", "BROKER", verify=False) if broker else None,
    )


async def test_tenants_and_accounts(db: Database) -> None:
    name = _name("tenant")
    async with db.write() as s:
        tenant_id = await TenantRepository(s).add(name, now=NOW)
        accounts = AccountRepository(s)
        second = await accounts.add(tenant_id, "zeta", now=NOW)
        first = await accounts.add(tenant_id, "alpha", now=NOW)
    async with db.read() as s:
        tenant = await TenantRepository(s).get(tenant_id)
        assert (tenant.name, tenant.created_at) == (name, NOW)
        assert (await TenantRepository(s).by_name(name)) is not None
        assert await TenantRepository(s).by_name(_name("nobody")) is None
        listed = await AccountRepository(s).for_tenant(tenant_id)
        assert [a.id for a in listed] == [first, second]
        assert (await AccountRepository(s).get(first)).exchange == "kucoin"
        with pytest.raises(NotFoundInStore):
            await TenantRepository(s).get(str(uuid.uuid4()))
        with pytest.raises(NotFoundInStore):
            await AccountRepository(s).get(str(uuid.uuid4()))


async def test_unique_names_and_foreign_keys_are_enforced(db: Database) -> None:
    name = _name("tenant")
    async with db.write() as s:
        await TenantRepository(s).add(name, now=NOW)
    with pytest.raises(IntegrityError):
        async with db.write() as s:
            await TenantRepository(s).add(name, now=NOW)
    with pytest.raises(IntegrityError):
        async with db.write() as s:
            await AccountRepository(s).add(str(uuid.uuid4()), "orphan", now=NOW)


async def test_credentials_round_trip_sealed_and_rewrap_is_compare_and_set(db: Database) -> None:
    tenant, _ = await _tenant_and_account(db)
    plain, broker = _record(tenant), _record(tenant, kek_id="local:bbbb", broker=True)
    async with db.write() as s:
        repo = CredentialRepository(s)
        await repo.add(plain, now=NOW)
        await repo.add(broker, now=NOW + timedelta(seconds=1))
    async with db.read() as s:
        repo = CredentialRepository(s)
        assert await repo.get(plain.credential_id) == plain
        assert await repo.get(broker.credential_id) == broker
        assert sorted(await repo.ids_for_tenant(tenant)) == sorted(
            [plain.credential_id, broker.credential_id]
        )
        pending = await repo.not_on_kek("local:bbbb", limit=10)
        assert plain.credential_id in {r.credential_id for r in pending}
        assert broker.credential_id not in {r.credential_id for r in pending}
        with pytest.raises(NotFoundInStore):
            await repo.get(str(uuid.uuid4()))
    change = Rewrap(plain.credential_id, "local:aaaa", plain.wrapped_dek, "local:bbbb", b"new")
    stale = Rewrap(plain.credential_id, "local:aaaa", b"stale", "local:bbbb", b"other")
    async with db.write() as s:
        assert not await CredentialRepository(s).rewrap(stale, now=NOW)
        assert await CredentialRepository(s).rewrap(change, now=NOW)
        assert not await CredentialRepository(s).rewrap(change, now=NOW)  # already moved
    async with db.read() as s:
        moved = await CredentialRepository(s).get(plain.credential_id)
        assert (moved.kek_id, moved.wrapped_dek, moved.fields) == (
            "local:bbbb",
            b"new",
            plain.fields,
        )
        assert (await CredentialRepository(s).count_by_kek()).get("local:bbbb", 0) >= 2
    async with db.write() as s:
        assert await CredentialRepository(s).delete(plain.credential_id)
        assert not await CredentialRepository(s).delete(plain.credential_id)
    async with db.read() as s:
        with pytest.raises(NotFoundInStore):
            await CredentialRepository(s).get(plain.credential_id)


async def test_gateway_keys_store_an_hmac_and_revoke_once(db: Database) -> None:
    tenant, _ = await _tenant_and_account(db)
    key_id = _name("kid")
    digest = secrets.token_bytes(32)
    async with db.write() as s:
        await GatewayKeyRepository(s).add(
            GatewayKey(
                key_id=key_id,
                tenant_id=tenant,
                owner="bot-1",
                secret_hmac=digest,
                last4="a1B2",
                scopes=["read", "trade:spot"],
                ip_allowlist=["10.0.0.0/8"],
                created_at=NOW,
                expires_at=NOW + timedelta(days=90),
            )
        )
    later = NOW + timedelta(hours=1)
    async with db.write() as s:
        keys = GatewayKeyRepository(s)
        await keys.touch(key_id, now=later)
        assert await keys.revoke(key_id, now=later)
        assert not await keys.revoke(key_id, now=later + timedelta(hours=1))
    async with db.read() as s:
        key = await GatewayKeyRepository(s).get(key_id)
        assert key is not None
        assert (key.secret_hmac, key.scopes, key.ip_allowlist) == (
            digest,
            ["read", "trade:spot"],
            ["10.0.0.0/8"],
        )
        assert (key.last_used_at, key.revoked_at, key.expires_at) == (
            later,
            later,
            NOW + timedelta(days=90),
        )
        assert [k.key_id for k in await GatewayKeyRepository(s).for_owner(tenant, "bot-1")] == [
            key_id
        ]
        assert await GatewayKeyRepository(s).get(_name("missing")) is None


async def test_order_intents_keep_exact_decimals(db: Database) -> None:
    _, account = await _tenant_and_account(db)
    tiny, huge = Decimal("0.000000000000000001"), Decimal("12345678901234567890.123456789012345678")
    async with db.write() as s:
        intent_id = await OrderIntentRepository(s).add(
            NewIntent(account, "oid-1", "BTC-USDT", "buy", "limit", price=huge, size=tiny),
            now=NOW,
        )
    async with db.read() as s:
        intent = await OrderIntentRepository(s).get(intent_id)
        assert intent is not None
        assert (intent.price, intent.size, intent.funds) == (huge, tiny, None)
        assert isinstance(intent.price, Decimal)
        assert intent.state is OrderState.PERSISTED
        assert intent.created_at == NOW and intent.created_at.tzinfo is not None


async def test_client_oid_is_unique_per_account_only(db: Database) -> None:
    _, account = await _tenant_and_account(db)
    _, other = await _tenant_and_account(db)
    intent = NewIntent(account, "dup", "ETH-USDT", "sell", "market", funds=Decimal("10"))
    async with db.write() as s:
        repo = OrderIntentRepository(s)
        first = await repo.add(intent, now=NOW)
        with pytest.raises(DuplicateIntent, match="dup"):
            await repo.add(intent, now=NOW)
        # the session is still usable after the refused insert (savepoint)
        await repo.add(NewIntent(other, "dup", "ETH-USDT", "sell", "market"), now=NOW)
    async with db.read() as s:
        found = await OrderIntentRepository(s).by_client_oid(account, "dup")
        assert found is not None and found.id == first
        assert await OrderIntentRepository(s).by_client_oid(account, "nope") is None


async def test_intent_state_changes_are_compare_and_set(db: Database) -> None:
    _, account = await _tenant_and_account(db)
    oid = _name("oid")
    async with db.write() as s:
        repo = OrderIntentRepository(s)
        intent_id = await repo.add(NewIntent(account, oid, "BTC-USDT", "buy", "limit"), now=NOW)
        assert await repo.set_state(
            intent_id, expected=OrderState.PERSISTED, new=OrderState.SENT, now=NOW
        )
        assert not await repo.set_state(
            intent_id, expected=OrderState.PERSISTED, new=OrderState.SENT, now=NOW
        )
        assert await repo.set_state(
            intent_id,
            expected=OrderState.SENT,
            new=OrderState.UNKNOWN,
            now=NOW,
            exchange_order_id="ex-1",
        )
    async with db.read() as s:
        unknown = await OrderIntentRepository(s).in_states([OrderState.UNKNOWN])
        assert intent_id in [i.id for i in unknown]
        row = await OrderIntentRepository(s).get(intent_id)
        assert row is not None and row.exchange_order_id == "ex-1"


async def test_floats_and_naive_times_are_refused(db: Database) -> None:
    _, account = await _tenant_and_account(db)
    bad_price = NewIntent(account, _name("f"), "BTC-USDT", "buy", "limit", price=0.1)  # type: ignore[arg-type]
    with pytest.raises(StatementError, match="Decimal"):
        async with db.write() as s:
            await OrderIntentRepository(s).add(bad_price, now=NOW)
    nan = NewIntent(account, _name("n"), "BTC-USDT", "buy", "limit", size=Decimal("NaN"))
    with pytest.raises(StatementError, match="finite"):
        async with db.write() as s:
            await OrderIntentRepository(s).add(nan, now=NOW)
    with pytest.raises(StatementError, match="timezone-aware"):
        async with db.write() as s:
            await TenantRepository(s).add(_name("t"), now=datetime(2026, 1, 1))


async def test_audit_log_is_a_verifiable_hash_chain(db: Database) -> None:
    async with db.write() as s:
        first = await AuditRepository(s).append(
            actor="admin", action="tenant.create", subject="t1", now=NOW, detail={"n": 1}
        )
    async with db.write() as s:
        second = await AuditRepository(s).append(
            actor="admin", action="key.revoke", subject="k1", now=NOW, tenant_id="t1"
        )
    assert second.prev_hash == first.hash != GENESIS_HASH
    async with db.read() as s:
        assert await AuditRepository(s).verify() is None
    async with db.write() as s:  # tamper with history, as an attacker with SQL access would
        await s.execute(
            update(AuditRecord).where(AuditRecord.seq == first.seq).values(subject="forged")
        )
    async with db.read() as s:
        assert await AuditRepository(s).verify() == first.seq
    async with db.write() as s:  # put it back so the shared PostgreSQL chain stays valid
        await s.execute(
            update(AuditRecord).where(AuditRecord.seq == first.seq).values(subject="t1")
        )


async def test_audit_chain_cannot_fork(db: Database) -> None:
    async with db.write() as s:
        head = await AuditRepository(s).append(actor="a", action="x", subject="y", now=NOW)
    fork = AuditRecord(
        actor="a",
        action="x",
        subject="fork",
        detail={},
        created_at=NOW,
        prev_hash=head.prev_hash,
        hash=secrets.token_hex(32),
    )
    with pytest.raises(IntegrityError):
        async with db.write() as s:
            s.add(fork)


async def test_idempotency_records_replay_the_first_response(db: Database) -> None:
    scope, key = _name("key"), _name("idem")
    async with db.write() as s:
        first = await IdempotencyRepository(s).save(
            scope, key, request_hash="h1", status=201, body='{"ok":1}', now=NOW
        )
        again = await IdempotencyRepository(s).save(
            scope, key, request_hash="h2", status=500, body="x", now=NOW
        )
    assert again == first
    async with db.read() as s:
        stored = await IdempotencyRepository(s).get(scope, key)
        assert stored is not None
        assert (stored.request_hash, stored.status, stored.body) == ("h1", 201, '{"ok":1}')
        assert await IdempotencyRepository(s).get(scope, "other") is None
    async with db.write() as s:
        assert await IdempotencyRepository(s).purge_before(NOW) == 0
        assert await IdempotencyRepository(s).purge_before(NOW + timedelta(seconds=1)) >= 1
    async with db.read() as s:
        assert await IdempotencyRepository(s).get(scope, key) is None


async def test_read_sessions_do_not_commit(db: Database) -> None:
    name = _name("rolled-back")
    async with db.read() as s:
        await TenantRepository(s).add(name, now=NOW)
    async with db.read() as s:
        assert await TenantRepository(s).by_name(name) is None
        assert (await s.execute(text("SELECT 1"))).scalar() == 1


class _Abort(Exception):
    pass


async def test_a_rolled_back_write_leaves_nothing_even_after_a_savepoint(db: Database) -> None:
    _, account = await _tenant_and_account(db)
    oid = _name("rollback")
    with pytest.raises(_Abort):
        async with db.write() as s:
            # the savepoint is the first statement of the transaction
            await OrderIntentRepository(s).add(
                NewIntent(account, oid, "X-Y", "buy", "limit"), now=NOW
            )
            raise _Abort
    async with db.read() as s:
        assert await OrderIntentRepository(s).by_client_oid(account, oid) is None


async def test_insert_returns_the_stored_row_or_none_for_a_taken_client_oid(db: Database) -> None:
    # the order hot path: one INSERT ... ON CONFLICT DO NOTHING RETURNING, no savepoint
    _, account = await _tenant_and_account(db)
    price, size = Decimal("60000"), Decimal("0.001")
    new = NewIntent(account, _name("oid"), "BTC-USDT", "buy", "limit", price, size)
    async with db.write() as s:
        repo = OrderIntentRepository(s)
        row = await repo.insert(new, now=NOW)
        assert row is not None
        assert await repo.insert(new, now=NOW) is None, "same (account, clientOid)"
        # the transaction is still usable after the refused insert
        assert await repo.insert(replace(new, client_oid=_name("oid2")), now=NOW) is not None
    async with db.read() as s:
        stored = await OrderIntentRepository(s).get(row.id)
    assert stored is not None
    # what RETURNING gave is what a re-read gives (PostgreSQL's NUMERIC scale included)
    columns = (
        "id", "account_id", "client_oid", "symbol", "side", "order_type", "price", "size",
        "funds", "state", "exchange_order_id", "created_at", "updated_at",
    )  # fmt: skip
    assert [str(getattr(row, c)) for c in columns] == [str(getattr(stored, c)) for c in columns]
    assert row.state is OrderState.PERSISTED and row.price == price


async def test_move_is_compare_and_set_and_returns_the_updated_row(db: Database) -> None:
    _, account = await _tenant_and_account(db)
    later = NOW + timedelta(seconds=3)
    async with db.write() as s:
        repo = OrderIntentRepository(s)
        row = await repo.insert(NewIntent(account, _name("m"), "BTC-USDT", "buy", "limit"), now=NOW)
        assert row is not None
        moved = await repo.move(
            row.id, expected=OrderState.PERSISTED, new=OrderState.SENT, now=later,
            exchange_order_id="ex-7",
        )  # fmt: skip
        assert moved is not None
        assert (moved.state, moved.exchange_order_id, moved.updated_at) == (
            OrderState.SENT, "ex-7", later
        )  # fmt: skip
        assert moved.created_at == NOW
        again = await repo.move(
            row.id, expected=OrderState.PERSISTED, new=OrderState.SENT, now=later
        )
        assert again is None, "no longer persisted: someone moved first"


async def test_a_refusing_move_keeps_its_reason_on_every_engine(db: Database) -> None:
    _, account = await _tenant_and_account(db)
    reason = {"code": "exchange_rejected", "message": "Balance insufficient!",
              "exchangeCode": "200004", "hint": "deposit"}  # fmt: skip
    async with db.write() as s:
        repo = OrderIntentRepository(s)
        row = await repo.insert(NewIntent(account, _name("r"), "BTC-USDT", "buy", "limit"), now=NOW)
        assert row is not None and row.reason is None
        runner = CoreRunner(s)
        sent = await move_intent(runner, row.id, expected=OrderState.PERSISTED,
                                 new=OrderState.SENT, now=NOW)  # fmt: skip
        assert sent is not None and sent.reason is None
        refused = await move_intent(runner, row.id, expected=OrderState.SENT,
                                    new=OrderState.REJECTED, now=NOW, reason=reason)  # fmt: skip
        assert refused is not None and refused.reason == reason
    async with db.read() as s:
        stored = await OrderIntentRepository(s).get(row.id)
    assert stored is not None and stored.reason == reason  # as RETURNING gave it


async def test_append_many_chains_like_append_and_verifies(db: Database) -> None:
    async with db.write() as s:
        head = await AuditRepository(s).append_many(
            [
                AuditEntry("k1", "order.intent", "i1", {"price": "1"}, "t1"),
                AuditEntry("k1", "order.state", "i1", {"from": "persisted", "to": "sent"}),
            ],
            now=NOW,
        )
        single = await AuditRepository(s).append(actor="k1", action="x", subject="i1", now=NOW)
        assert await AuditRepository(s).append_many([], now=NOW) == single.hash
    async with db.read() as s:
        rows = await AuditRepository(s).all()
        assert await AuditRepository(s).verify() is None
    mine = rows[-3:]
    assert [r.action for r in mine] == ["order.intent", "order.state", "x"]
    assert mine[1].prev_hash == mine[0].hash and mine[1].hash == head == single.prev_hash
    assert mine[0].tenant_id == "t1" and mine[1].detail == {"from": "persisted", "to": "sent"}


async def test_write_connection_commits_or_rolls_back_like_write(db: Database) -> None:
    tenants = Tenant.__table__
    name = _name("conn")
    async with db.write_connection() as conn:
        await conn.execute(insert(tenants).values(id=str(uuid.uuid4()), name=name, created_at=NOW))
    with pytest.raises(RuntimeError, match="boom"):
        async with db.write_connection() as conn:
            row = {"id": str(uuid.uuid4()), "name": name + "-lost", "created_at": NOW}
            await conn.execute(insert(tenants).values(**row))
            raise RuntimeError("boom")
    async with db.read_connection() as conn:
        names = set((await conn.execute(text("SELECT name FROM tenants"))).scalars())
    assert name in names and name + "-lost" not in names
