"""Listing a tenant's order intents: filters, a stable order and an opaque cursor.

Every front end lists through :func:`page`: the tenant's intents, newest first, ordered by
``(created_at, id)`` descending (a total order: ids are unique, so no row is skipped or shown
twice between pages, and rows added meanwhile appear only on later reads of the first page).
Filters: account (id or name), market, symbol, states, a time range on ``created_at``
(``since``, the API's ``from``, inclusive; ``until``, the API's ``to``, exclusive). The
cursor is the last row's position, base64url of ``"<created_at ISO>|<id>"``: clients pass it
back unchanged and must not build it.

A malformed cursor or an empty time range is an :class:`~kcgateway.errors.InvalidQuery`
naming the API's parameter (``cursor``, ``from``, ``to``, ``limit``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.errors import InvalidQuery
from kcgateway.gateway.orders.lifecycle import owned_account
from kcgateway.gateway.orders.model import IntentView, view
from kcgateway.store.tables import ExchangeAccount, OrderIntent
from kcgateway.store.types import OrderState

MAX_LIMIT = 10_000
_BAD_CURSOR = (
    "cursor is not one the gateway gave: pass back the X-Next-Cursor header of the previous page"
)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the last row's ``created_at`` and id."""

    created_at: datetime
    id: str


def encode_cursor(position: Position) -> str:
    """The opaque cursor of ``position``. Pure."""
    raw = f"{position.created_at.isoformat()}|{position.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position a cursor of :func:`encode_cursor` names; InvalidQuery otherwise. Pure."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, intent_id = raw.partition("|")
        created_at = datetime.fromisoformat(when)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidQuery(_BAD_CURSOR, field="cursor") from None
    if not intent_id or created_at.tzinfo is None:
        raise InvalidQuery(_BAD_CURSOR, field="cursor")
    return Position(created_at, intent_id)


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """Which of the tenant's intents to list; every filter is optional."""

    limit: int = 100
    account: str | None = None
    market: str | None = None
    symbol: str | None = None
    states: Sequence[OrderState] = ()
    since: datetime | None = None
    until: datetime | None = None
    cursor: str | None = None

    def check(self) -> Position | None:
        """InvalidQuery for a bad limit, time range or cursor; the cursor's position."""
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidQuery(f"limit must be 1 to {MAX_LIMIT}", field="limit")
        for value, name in ((self.since, "from"), (self.until, "to")):
            if value is not None and value.tzinfo is None:
                raise InvalidQuery(f"{name} needs a time zone (e.g. Z)", field=name)
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise InvalidQuery("to must be later than from", field="to")
        return decode_cursor(self.cursor) if self.cursor is not None else None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of intents; ``next_cursor`` is None on the last page."""

    items: list[IntentView]
    next_cursor: str | None


async def page(session: AsyncSession, tenant_id: str, q: OrderQuery) -> Page:
    """The page of the tenant's intents ``q`` asks for (NoSuchObject: an account not theirs)."""
    after = q.check()
    c = OrderIntent
    query = (
        select(c)
        .join(ExchangeAccount, ExchangeAccount.id == c.account_id)
        .where(ExchangeAccount.tenant_id == tenant_id)
        .order_by(c.created_at.desc(), c.id.desc())
        .limit(q.limit + 1)
    )
    if q.account is not None:
        owned = await owned_account(session, tenant_id, q.account, include_removed=True)
        query = query.where(c.account_id == owned.id)
    if q.market is not None:
        query = query.where(c.market == q.market)
    if q.symbol is not None:
        query = query.where(c.symbol == q.symbol)
    if q.states:
        query = query.where(c.state.in_(q.states))
    if q.since is not None:
        query = query.where(c.created_at >= q.since)
    if q.until is not None:
        query = query.where(c.created_at < q.until)
    if after is not None:
        older = c.created_at < after.created_at
        query = query.where(or_(older, and_(c.created_at == after.created_at, c.id < after.id)))
    rows = list((await session.scalars(query)).all())
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    last = Position(rows[-1].created_at, rows[-1].id) if more and rows else None
    return Page([view(r) for r in rows], encode_cursor(last) if last else None)
