"""Pages of the tenant's keys, accounts and signals (:mod:`kcgateway.gateway.paging`).

Each list is newest first by ``(created_at, id)`` (signals: ``(received_at, id)``) and pages
with the order lists' cursor. The services (:class:`~kcgateway.gateway.keys.KeyService`,
:class:`~kcgateway.gateway.accounts.AccountService`, the bot service) call these with their
session; the rules for a bad filter (a 422 naming the parameter) are here, not in the routes.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.errors import InvalidQuery
from kcgateway.gateway.paging import Paged, Position, Window, cut, keyset
from kcgateway.store.signal_tables import SignalRow
from kcgateway.store.tables import ExchangeAccount, GatewayKey

V = TypeVar("V")

#: the most rows one page of keys, accounts or signals holds
PAGE_MAX = 500
#: a signal's verdicts (its status in the log), from arrival to its end
VERDICTS = ("queued", "executing", "done", "held", "rejected", "refused", "failed")


class KeyState(StrEnum):
    """A key's state for listing: ``active`` (not revoked) or ``revoked``."""

    ACTIVE = "active"
    REVOKED = "revoked"


async def key_page(
    session: AsyncSession,
    tenant_id: str,
    state: KeyState | None,
    window: Window,
    show: Callable[[GatewayKey], V],
) -> Paged[V]:
    """The page of the tenant's keys ``window`` asks for, optionally only one state."""
    after = window.check(PAGE_MAX)
    query = select(GatewayKey).where(GatewayKey.tenant_id == tenant_id)
    if state is KeyState.ACTIVE:
        query = query.where(GatewayKey.revoked_at.is_(None))
    elif state is KeyState.REVOKED:
        query = query.where(GatewayKey.revoked_at.is_not(None))
    query = keyset(query, GatewayKey.created_at, GatewayKey.key_id, window, after)
    rows = (await session.scalars(query)).all()
    return cut(rows, window.limit, lambda r: Position(r.created_at, r.key_id), show)


async def account_page(
    session: AsyncSession, tenant_id: str, window: Window, show: Callable[[ExchangeAccount], V]
) -> Paged[V]:
    """The page of the tenant's connected (not removed) accounts ``window`` asks for."""
    after = window.check(PAGE_MAX)
    query = select(ExchangeAccount).where(
        ExchangeAccount.tenant_id == tenant_id, ExchangeAccount.removed_at.is_(None)
    )
    query = keyset(query, ExchangeAccount.created_at, ExchangeAccount.id, window, after)
    rows = (await session.scalars(query)).all()
    return cut(rows, window.limit, lambda r: Position(r.created_at, r.id), show)


async def signal_page(
    session: AsyncSession,
    tenant_id: str,
    *,
    bot_id: str | None,
    verdict: str | None,
    window: Window,
    show: Callable[[SignalRow], V],
) -> Paged[V]:
    """The page of the tenant's signals (one bot's, one verdict's) ``window`` asks for."""
    after = window.check(PAGE_MAX)
    if verdict is not None and verdict not in VERDICTS:
        raise InvalidQuery(f"verdict must be one of {', '.join(VERDICTS)}", field="verdict")
    query = select(SignalRow).where(SignalRow.tenant_id == tenant_id)
    if bot_id is not None:
        query = query.where(SignalRow.bot_id == bot_id)
    if verdict is not None:
        query = query.where(SignalRow.status == verdict)
    if after is not None and not after.id.isdigit():
        raise InvalidQuery("cursor is not one this list gave out", field="cursor")
    # ties in time are broken by ``seq``, the order signals were accepted and executed in (the
    # random signal id would list two signals of one millisecond in random order)
    query = keyset(query, SignalRow.received_at, SignalRow.seq, window, after, parse_id=int)
    rows = (await session.scalars(query)).all()
    return cut(rows, window.limit, lambda r: Position(r.received_at, str(r.seq)), show)
