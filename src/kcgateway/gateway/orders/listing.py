"""Listing a tenant's order intents: filters, a stable order and an opaque cursor.

Every front end lists through :func:`page`: the tenant's intents, newest first, ordered by
``(created_at, id)`` descending (a total order: ids are unique, so no row is skipped or shown
twice between pages, and rows added meanwhile appear only on later reads of the first page).
Filters: account (id or name), market, symbol, states, a time range on ``created_at``
(``since``, the API's ``from``, inclusive; ``until``, the API's ``to``, exclusive). The
cursor is the last row's position, base64url of ``"<created_at ISO>|<id>"``: clients pass it
back unchanged and must not build it.

The cursor code is :mod:`kcgateway.gateway.paging`'s, shared with every other list.
A malformed cursor or an empty time range is an :class:`~kcgateway.errors.InvalidQuery`
naming the API's parameter (``cursor``, ``from``, ``to``, ``limit``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.gateway.orders.lifecycle import owned_account
from kcgateway.gateway.orders.model import IntentView, view
from kcgateway.gateway.paging import Position, Window, encode_cursor, keyset
from kcgateway.store.tables import ExchangeAccount, OrderIntent
from kcgateway.store.types import OrderState

MAX_LIMIT = 10_000


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
        return Window(self.limit, self.since, self.until, self.cursor).check(MAX_LIMIT)


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
    window = Window(q.limit, q.since, q.until, q.cursor)
    query = keyset(query, c.created_at, c.id, window, after)
    rows = list((await session.scalars(query)).all())
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    last = Position(rows[-1].created_at, rows[-1].id) if more and rows else None
    return Page([view(r) for r in rows], encode_cursor(last) if last else None)
