"""Repositories for what must never be lost: order intents, audit records, idempotency records.

As in :mod:`kcgateway.store.repositories`, each wraps one caller-owned session and takes ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.store.audit_chain import (
    AUDIT_KEY_INFO,
    GENESIS_HASH,  # re-exported: the store's callers import it from here
    AuditKeys,
    ChainCheck,
    ChainKey,
    chain_hash,
    record_body,
)
from kcgateway.store.fastsql import CoreRunner, Prepared, Runner
from kcgateway.store.repositories import new_id
from kcgateway.store.tables import AuditRecord, IdempotencyRecord, OrderIntent
from kcgateway.store.types import IntentId, OrderState

_INTENTS = cast(Table, OrderIntent.__table__)
_AUDIT = cast(Table, AuditRecord.__table__)

# The hot path's statements, built once and run by a fastsql Runner: raw SQLite on the
# embedded database, the engine elsewhere (see kcgateway.store.fastsql).
_HEAD = Prepared(select(_AUDIT.c.hash).order_by(_AUDIT.c.seq.desc()).limit(1))
_AUDIT_INSERT = Prepared(insert(_AUDIT))
_AUDIT_LOCK = Prepared(text("SELECT pg_advisory_xact_lock(:k)"))
_INSERT_INTENT = {
    name: Prepared(
        dialect.insert(_INTENTS)
        .on_conflict_do_nothing(index_elements=["account_id", "client_oid"])
        .returning(*_INTENTS.c)
    )
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
_INTENT_ID_BY_OID = Prepared(
    select(_INTENTS.c.id).where(
        _INTENTS.c.account_id == bindparam("account_id", type_=_INTENTS.c.account_id.type),
        _INTENTS.c.client_oid == bindparam("client_oid", type_=_INTENTS.c.client_oid.type),
    )
)
_INTENT_BY_OID = Prepared(
    select(*_INTENTS.c).where(
        _INTENTS.c.account_id == bindparam("account_id", type_=_INTENTS.c.account_id.type),
        _INTENTS.c.client_oid == bindparam("client_oid", type_=_INTENTS.c.client_oid.type),
    )
)
_MOVE = Prepared(
    update(_INTENTS)
    .where(
        _INTENTS.c.id == bindparam("intent_id", type_=_INTENTS.c.id.type),
        _INTENTS.c.state == bindparam("expected", type_=_INTENTS.c.state.type),
    )
    .values(
        state=bindparam("new_state", type_=_INTENTS.c.state.type),
        updated_at=bindparam("now", type_=_INTENTS.c.updated_at.type),
        exchange_order_id=func.coalesce(
            bindparam("new_exchange_id", type_=_INTENTS.c.exchange_order_id.type),
            _INTENTS.c.exchange_order_id,
        ),
        attention=None,  # a move is an answer: nothing left for the operator
        # why it was refused (a rejected or not_placed move); None for every other move
        reason=bindparam("new_reason", type_=_INTENTS.c.reason.type),
    )
    .returning(*_INTENTS.c)
)


async def insert_intent(ex: Runner, intent: NewIntent, *, now: datetime) -> OrderIntent | None:
    """See :meth:`OrderIntentRepository.insert`."""
    values = {
        "id": new_id(),
        "account_id": intent.account_id,
        "client_oid": intent.client_oid,
        "symbol": intent.symbol,
        "side": intent.side,
        "order_type": intent.order_type,
        "price": intent.price,
        "size": intent.size,
        "funds": intent.funds,
        "state": intent.state,
        "exchange_order_id": None,
        "market": intent.market,
        "margin_mode": intent.margin_mode,
        "leverage": intent.leverage,
        "reduce_only": intent.reduce_only,
        "close_order": intent.close_order,
        "auto_borrow": intent.auto_borrow,
        "auto_repay": intent.auto_repay,
        "attention": None,
        "created_at": now,
        "updated_at": now,
    }
    rows = await ex.rows(_INSERT_INTENT[ex.dialect_name], values)
    return OrderIntent(**rows[0]) if rows else None


async def intent_id_by_client_oid(ex: Runner, account_id: str, client_oid: str) -> str | None:
    """The id of the account's intent with this clientOid, if any."""
    rows = await ex.rows(_INTENT_ID_BY_OID, {"account_id": account_id, "client_oid": client_oid})
    return str(rows[0]["id"]) if rows else None


async def intent_by_client_oid(ex: Runner, account_id: str, client_oid: str) -> OrderIntent | None:
    """The account's intent with this clientOid (detached), if any: the order stream's lookup."""
    rows = await ex.rows(_INTENT_BY_OID, {"account_id": account_id, "client_oid": client_oid})
    return OrderIntent(**rows[0]) if rows else None


async def move_intent(
    ex: Runner,
    intent_id: str,
    *,
    expected: OrderState,
    new: OrderState,
    now: datetime,
    exchange_order_id: str | None = None,
    reason: dict[str, str] | None = None,
) -> OrderIntent | None:
    """See :meth:`OrderIntentRepository.move` (a None exchange id keeps the stored one).

    ``reason`` is why the intent was refused (:class:`kcgateway.gateway.reasons.Reason` as
    JSON), stored with the move; every move without one clears it.
    """
    params = {
        "intent_id": intent_id,
        "expected": expected,
        "new_state": new,
        "now": now,
        "new_exchange_id": exchange_order_id,
        "new_reason": reason,
    }
    rows = await ex.rows(_MOVE, params)
    return OrderIntent(**rows[0]) if rows else None


async def _locked_head(ex: Runner) -> str:
    """The last record's hash, with the append lock taken (PostgreSQL; SQLite's writer is one).

    LIMIT 1: without it the async drivers buffer EVERY hash of the log before the first is
    picked, so each append cost grew with the log (measured: ~15 ms CPU per order after a few
    thousand records).
    """
    if ex.dialect_name == "postgresql":
        await ex.rows(_AUDIT_LOCK, {"k": _AUDIT_LOCK_KEY})
    head = await ex.rows(_HEAD, {})
    return str(head[0]["hash"]) if head else GENESIS_HASH


async def append_audit(ex: Runner, entries: Sequence[AuditEntry], *, now: datetime) -> str:
    """See :meth:`AuditRepository.append_many`."""
    key: ChainKey | None = ex.info.get(AUDIT_KEY_INFO)
    prev = await _locked_head(ex)
    rows = []
    for entry in entries:
        detail = dict(entry.detail or {})
        digest = audit_hash(
            prev, tenant_id=entry.tenant_id, actor=entry.actor, action=entry.action,
            subject=entry.subject, detail=detail, created_at=now, key=key,
        )  # fmt: skip
        rows.append(
            {
                "tenant_id": entry.tenant_id,
                "actor": entry.actor,
                "action": entry.action,
                "subject": entry.subject,
                "detail": detail,
                "created_at": now,
                "prev_hash": prev,
                "hash": digest,
                "key_id": None if key is None else key.key_id,
            }
        )
        prev = digest
    await ex.many(_AUDIT_INSERT, rows)
    return str(prev)


_AUDIT_LOCK_KEY = 0x6B636777  # "kcgw": serialises appends on PostgreSQL


@dataclass(frozen=True, slots=True)
class NewIntent:
    """What an order intent is made of. Money is Decimal."""

    account_id: str
    client_oid: str
    symbol: str
    side: str
    order_type: str
    price: Decimal | None = None
    size: Decimal | None = None
    funds: Decimal | None = None
    state: OrderState = OrderState.PERSISTED
    market: str = "spot"
    margin_mode: str | None = None
    leverage: Decimal | None = None
    reduce_only: bool = False
    close_order: bool = False
    auto_borrow: bool = False
    auto_repay: bool = False


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit record to append (see :meth:`AuditRepository.append_many`)."""

    actor: str
    action: str
    subject: str
    detail: dict[str, Any] | None = None
    tenant_id: str | None = None


class DuplicateIntent(Exception):
    """An intent with this (account, clientOid) already exists."""


class OrderIntentRepository:
    """Order intents; (account_id, client_oid) is unique."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, intent: NewIntent, *, now: datetime) -> IntentId:
        """Insert; raises :class:`DuplicateIntent` if the clientOid is taken for the account."""
        row = OrderIntent(
            id=new_id(),
            account_id=intent.account_id,
            client_oid=intent.client_oid,
            symbol=intent.symbol,
            side=intent.side,
            order_type=intent.order_type,
            price=intent.price,
            size=intent.size,
            funds=intent.funds,
            state=intent.state,
            market=intent.market,
            margin_mode=intent.margin_mode,
            leverage=intent.leverage,
            reduce_only=intent.reduce_only,
            close_order=intent.close_order,
            auto_borrow=intent.auto_borrow,
            auto_repay=intent.auto_repay,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._s.begin_nested():
                self._s.add(row)
        except IntegrityError as exc:
            raise DuplicateIntent(
                f"clientOid {intent.client_oid} already used on account {intent.account_id}"
            ) from exc
        return IntentId(row.id)

    async def insert(self, intent: NewIntent, *, now: datetime) -> OrderIntent | None:
        """Insert in one statement; the stored row, or None if the clientOid is taken.

        The order hot path's form of :meth:`add`: ``INSERT ... ON CONFLICT (account_id,
        client_oid) DO NOTHING RETURNING ...`` (SQLite 3.35+ and PostgreSQL) needs no
        SAVEPOINT and no re-read, and returns the values as stored (PostgreSQL's NUMERIC
        scale included). The returned object is not attached to the session.
        """
        return await insert_intent(CoreRunner(self._s), intent, now=now)

    async def move(
        self,
        intent_id: str,
        *,
        expected: OrderState,
        new: OrderState,
        now: datetime,
        exchange_order_id: str | None = None,
    ) -> OrderIntent | None:
        """:meth:`set_state` returning the row as updated (None: it was not in ``expected``).

        One ``UPDATE ... RETURNING`` statement (Core, no ORM session synchronisation); the
        returned object is not attached to the session.
        """
        return await move_intent(
            CoreRunner(self._s), intent_id, expected=expected, new=new, now=now,
            exchange_order_id=exchange_order_id,
        )  # fmt: skip

    async def get(self, intent_id: str) -> OrderIntent | None:
        """The intent, if any."""
        return await self._s.get(OrderIntent, intent_id)

    async def by_client_oid(self, account_id: str, client_oid: str) -> OrderIntent | None:
        """The intent with this clientOid on this account, if any."""
        query = select(OrderIntent).where(
            OrderIntent.account_id == account_id, OrderIntent.client_oid == client_oid
        )
        return await self._s.scalar(query)

    async def set_state(
        self,
        intent_id: str,
        *,
        expected: OrderState,
        new: OrderState,
        now: datetime,
        exchange_order_id: str | None = None,
    ) -> bool:
        """Move ``expected -> new`` atomically; False if the intent was not in ``expected``."""
        values: dict[str, Any] = {"state": new, "updated_at": now}
        if exchange_order_id is not None:
            values["exchange_order_id"] = exchange_order_id
        result = await self._s.execute(
            update(OrderIntent)
            .where(OrderIntent.id == intent_id, OrderIntent.state == expected)
            .values(**values)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def in_states(self, states: Sequence[OrderState]) -> Sequence[OrderIntent]:
        """Intents in any of ``states`` (for the reconciler), oldest first."""
        query = (
            select(OrderIntent)
            .where(OrderIntent.state.in_(list(states)))
            .order_by(OrderIntent.created_at, OrderIntent.id)
        )
        return (await self._s.scalars(query)).all()


def audit_hash(
    prev_hash: str,
    *,
    tenant_id: str | None,
    actor: str,
    action: str,
    subject: str,
    detail: dict[str, Any],
    created_at: datetime,
    key: ChainKey | None = None,
) -> str:
    """The record's hash: HMAC-SHA256 under ``key`` (v2), SHA-256 without (v1). Pure.

    Both cover the previous hash and the canonical JSON of the record
    (:mod:`kcgateway.store.audit_chain`).
    """
    body = record_body(
        tenant_id=tenant_id, actor=actor, action=action, subject=subject, detail=detail,
        created_at=created_at,
    )  # fmt: skip
    return chain_hash(prev_hash, body, key)


def body_of(rec: AuditRecord) -> str:
    """The canonical JSON a stored record's hash covers."""
    return record_body(
        tenant_id=rec.tenant_id, actor=rec.actor, action=rec.action, subject=rec.subject,
        detail=rec.detail, created_at=rec.created_at,
    )  # fmt: skip


class AuditRepository:
    """The append-only audit log. There is no update or delete method, on purpose."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def append(
        self,
        *,
        actor: str,
        action: str,
        subject: str,
        now: datetime,
        detail: dict[str, Any] | None = None,
        tenant_id: str | None = None,
    ) -> AuditRecord:
        """Append one record chained to the last one. Call inside ``Database.write()``.

        Keyed with the audit key the session carries (``Database.use_audit_key``), if any.
        """
        key: ChainKey | None = self._s.info.get(AUDIT_KEY_INFO)
        prev = await _locked_head(CoreRunner(self._s))
        detail = dict(detail or {})
        rec = AuditRecord(
            tenant_id=tenant_id,
            actor=actor,
            action=action,
            subject=subject,
            detail=detail,
            created_at=now,
            prev_hash=prev,
            key_id=None if key is None else key.key_id,
        )
        rec.hash = chain_hash(prev, body_of(rec), key)
        self._s.add(rec)
        await self._s.flush()
        return rec

    async def append_many(self, entries: Sequence[AuditEntry], *, now: datetime) -> str:
        """Append records chained in order, reading the head once; returns the new head.

        Same chain as calling :meth:`append` for each entry, in one INSERT (Core, no flush).
        Call inside ``Database.write()``.
        """
        return await append_audit(CoreRunner(self._s), entries, now=now)

    async def all(self) -> Sequence[AuditRecord]:
        """Every record, in order."""
        return (await self._s.scalars(select(AuditRecord).order_by(AuditRecord.seq))).all()

    async def count(self) -> int:
        """How many records there are."""
        return int(await self._s.scalar(select(func.count()).select_from(AuditRecord)) or 0)

    async def page(self, *, after_seq: int, limit: int) -> Sequence[AuditRecord]:
        """Up to ``limit`` records after ``after_seq``, in order (to walk a long chain)."""
        query = (
            select(AuditRecord)
            .where(AuditRecord.seq > after_seq)
            .order_by(AuditRecord.seq)
            .limit(limit)
        )
        return (await self._s.scalars(query)).all()

    async def last(self) -> AuditRecord | None:
        """The newest record (the chain's head), if any."""
        return await self._s.scalar(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1))

    async def verify(self, keys: AuditKeys | None = None) -> int | None:
        """The ``seq`` of the first record that breaks the chain, or None when it is intact.

        Without ``keys`` only an unkeyed (v1) chain verifies.
        """
        check = ChainCheck(keys)
        for rec in await self.all():
            check.receive(
                seq=rec.seq, prev_hash=rec.prev_hash, digest=rec.hash, key_id=rec.key_id,
                body=body_of(rec),
            )  # fmt: skip
        check.finish()
        return check.broken_at


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The response first given for an idempotency key."""

    request_hash: str
    status: int
    body: str
    created_at: datetime


PENDING = -1
"""The response status of a claimed Idempotency-Key whose first request is still running (no
front end answers with a negative status: HTTP's are 1xx-5xx, a CLI's exit codes 0-255)."""


class IdempotencyRepository:
    """First responses per (scope, Idempotency-Key)."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, scope: str, key: str) -> StoredResponse | None:
        """The stored response, if any."""
        row = await self._s.get(IdempotencyRecord, (scope, key))
        if row is None:
            return None
        return StoredResponse(
            row.request_hash, row.response_status, row.response_body, row.created_at
        )

    async def save(
        self, scope: str, key: str, *, request_hash: str, status: int, body: str, now: datetime
    ) -> StoredResponse:
        """Store a response; if one is already stored (a race), return that one instead."""
        row = IdempotencyRecord(
            scope=scope,
            key=key,
            request_hash=request_hash,
            response_status=status,
            response_body=body,
            created_at=now,
        )
        existing = await self._insert(row)
        return existing if existing is not None else StoredResponse(request_hash, status, body, now)

    async def claim(
        self, scope: str, key: str, *, request_hash: str, now: datetime
    ) -> StoredResponse | None:
        """Mark the key as being answered (status :data:`PENDING`); None if this call did.

        Otherwise the record already there (pending or answered), as it is.
        """
        row = IdempotencyRecord(
            scope=scope, key=key, request_hash=request_hash, response_status=PENDING,
            response_body="", created_at=now,
        )  # fmt: skip
        return await self._insert(row)

    async def _insert(self, row: IdempotencyRecord) -> StoredResponse | None:
        """Insert ``row``; None if it went in, else the record already under its key."""
        try:
            async with self._s.begin_nested():
                self._s.add(row)
        except IntegrityError:
            existing = await self.get(row.scope, row.key)
            if existing is None:  # pragma: no cover - the conflicting row vanished
                raise
            return existing
        return None

    async def retake(self, scope: str, key: str, *, stale_before: datetime, now: datetime) -> bool:
        """Take over a pending claim made before ``stale_before`` (its process died)."""
        result = await self._s.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.scope == scope,
                IdempotencyRecord.key == key,
                IdempotencyRecord.response_status == PENDING,
                IdempotencyRecord.created_at < stale_before,
            )
            .values(created_at=now)
        )
        return int(getattr(result, "rowcount", 0)) == 1

    async def finish(self, scope: str, key: str, *, status: int, body: str) -> None:
        """Store the answer of a pending claim."""
        await self._s.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.scope == scope,
                IdempotencyRecord.key == key,
                IdempotencyRecord.response_status == PENDING,
            )
            .values(response_status=status, response_body=body)
        )

    async def release(self, scope: str, key: str) -> None:
        """Drop a pending claim (the answer was not final): the next try runs the request."""
        await self._s.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope,
                IdempotencyRecord.key == key,
                IdempotencyRecord.response_status == PENDING,
            )
        )

    async def purge_before(self, cutoff: datetime) -> int:
        """Delete records created before ``cutoff``; returns how many."""
        result = await self._s.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)
        )
        return int(getattr(result, "rowcount", 0))
