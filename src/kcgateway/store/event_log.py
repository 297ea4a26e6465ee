"""The gateway's event log (``gateway_events``): appended in the writer's transaction, read by id.

Appends run inside whatever transaction reports the change (an intent's move, an alert), so an
event exists exactly when its change was committed. Ids increase in commit order: SQLite has
one writer, and on PostgreSQL :func:`append_events` first takes the transaction lock the audit
log's appends take (re-entrant within a transaction), so no transaction can commit a lower id
after a reader has seen a higher one. A reader that asks for ``id > last`` therefore never
skips an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    text,
)

from kcgateway.store.fastsql import Prepared, Runner
from kcgateway.store.tables import ExchangeAccount, GatewayEventRow

__all__ = [
    "EventFilter",
    "NewEvent",
    "StoredEvent",
    "append_events",
    "last_event_id",
    "prune_events",
    "read_events",
]

_EVENTS = cast(Table, GatewayEventRow.__table__)
_ACCOUNTS = cast(Table, ExchangeAccount.__table__)
_LOCK = Prepared(text("SELECT pg_advisory_xact_lock(:k)"))
_LOCK_KEY = 0x6B636777  # the audit log's key ("kcgw"): one order of appends for both logs
_COLUMNS = ("account_id", "kind", "scope", "subject", "data", "created_at")


def _param(name: str) -> Any:
    return bindparam(name, type_=_EVENTS.c[name].type)


#: an account's event: its tenant is read from the account in the same statement
_APPEND_FOR_ACCOUNT = Prepared(
    insert(_EVENTS).from_select(
        ["tenant_id", *_COLUMNS],
        select(_ACCOUNTS.c.tenant_id, *(_param(c) for c in _COLUMNS)).where(
            _ACCOUNTS.c.id == _param("account_id")
        ),
    )
)
#: an event of a tenant (or, tenant None, of the whole gateway) that no account owns
_APPEND_FOR_TENANT = Prepared(insert(_EVENTS))
_LAST = Prepared(select(func.max(_EVENTS.c.id).label("last")))


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. With ``account_id`` and no ``tenant_id``, the tenant is the account's.

    ``data``: JSON-ready (money as strings). ``scope``: the key scope that may see it.
    """

    kind: str
    scope: str
    subject: str
    data: dict[str, Any]
    account_id: str | None = None
    tenant_id: str | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as read back."""

    id: int
    tenant_id: str | None
    account_id: str | None
    kind: str
    subject: str
    data: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a follower may see.

    Its tenant's (and gateway-wide ones when ``gateway``), of the scopes in ``scopes``, and
    only ``kinds`` when given.
    """

    tenant_id: str
    scopes: frozenset[str]
    gateway: bool = False
    kinds: frozenset[str] = field(default_factory=frozenset)


async def append_events(ex: Runner, events: Sequence[NewEvent], *, now: datetime) -> None:
    """Append ``events`` in ``ex``'s transaction (the one that commits the change they report)."""
    if not events:
        return
    if ex.dialect_name == "postgresql":
        await ex.rows(_LOCK, {"k": _LOCK_KEY})
    for event in events:
        values = {
            "account_id": event.account_id,
            "kind": event.kind,
            "scope": event.scope,
            "subject": event.subject[:200],
            "data": event.data,
            "created_at": now,
        }
        if event.account_id is not None and event.tenant_id is None:
            await ex.rows(_APPEND_FOR_ACCOUNT, values)
        else:
            await ex.rows(_APPEND_FOR_TENANT, {**values, "tenant_id": event.tenant_id})


def _visible(which: EventFilter) -> ColumnElement[bool]:
    mine = _EVENTS.c.tenant_id == which.tenant_id
    tenant = or_(mine, _EVENTS.c.tenant_id.is_(None)) if which.gateway else mine
    scopes = _EVENTS.c.scope.in_(sorted(which.scopes)) if which.scopes else false()
    clause = and_(tenant, scopes)
    if which.kinds:
        clause = and_(clause, _EVENTS.c.kind.in_(sorted(which.kinds)))
    return clause


async def read_events(ex: Any, which: EventFilter, *, after: int, limit: int) -> list[StoredEvent]:
    """Up to ``limit`` events with ``id > after`` that ``which`` lets through, oldest first.

    ``ex``: an SQLAlchemy session or connection (the filter has ``IN`` lists, so it runs on the
    engine, not as a prebuilt statement).
    """
    query = (
        select(_EVENTS)
        .where(_EVENTS.c.id > after, _visible(which))
        .order_by(_EVENTS.c.id)
        .limit(limit)
    )
    result = await ex.execute(query)
    return [
        StoredEvent(
            int(r.id), r.tenant_id, r.account_id, r.kind, r.subject, dict(r.data), r.created_at
        )
        for r in result
    ]


async def last_event_id(ex: Runner) -> int:
    """The highest id ever appended and still stored (0 when the log is empty)."""
    rows = await ex.rows(_LAST, {})
    last = rows[0]["last"] if rows else None
    return int(last) if last is not None else 0


async def prune_events(ex: Any, *, before: datetime) -> int:
    """Delete events created before ``before``; how many were deleted.

    Never the newest one: it keeps the ids climbing on engines without ``AUTOINCREMENT``.
    """
    newest = select(func.max(_EVENTS.c.id)).scalar_subquery()
    query = delete(_EVENTS).where(_EVENTS.c.created_at < before, _EVENTS.c.id < newest)
    result = await ex.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)
