"""The signal log: every signal with its source, verdict, orders and reason, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from kcgateway.store.database import Database
from kcgateway.store.signal_tables import SignalRow
from kcgateway.store.tables import OrderIntent


@dataclass(frozen=True, slots=True)
class SignalView:
    """One logged signal (the payload is the parsed signal, never the body)."""

    id: str
    bot_id: str
    source: str
    mode: str
    symbol: str | None
    action: str | None
    payload: dict[str, Any]
    status: str
    reason: str | None
    plan: dict[str, Any] | None
    orders: tuple[str, ...]
    received_at: datetime
    finished_at: datetime | None


def signal_view(row: SignalRow) -> SignalView:
    """The view of a stored signal."""
    return SignalView(
        row.id, row.bot_id, row.source, row.mode, row.symbol, row.action, dict(row.payload),
        row.status, row.reason, row.plan, tuple(row.orders), row.received_at, row.finished_at,
    )  # fmt: skip


async def find_signals(
    db: Database,
    tenant_id: str,
    *,
    bot_id: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[SignalView]:
    """The tenant's signals, newest first (optionally one bot's, or one status)."""
    query = select(SignalRow).where(SignalRow.tenant_id == tenant_id)
    if bot_id is not None:
        query = query.where(SignalRow.bot_id == bot_id)
    if status is not None:
        query = query.where(SignalRow.status == status)
    async with db.read() as session:
        rows = await session.scalars(query.order_by(SignalRow.seq.desc()).limit(limit))
        return [signal_view(r) for r in rows]


async def exchange_order_ids(db: Database, bot_id: str, mode: str) -> set[str]:
    """The exchange order ids of the orders the bot's signals made in ``mode``."""
    query = select(SignalRow.orders).where(SignalRow.bot_id == bot_id, SignalRow.mode == mode)
    async with db.read() as session:
        intents = {i for orders in (await session.scalars(query)) for i in orders}
        if not intents:
            return set()
        found = select(OrderIntent.exchange_order_id).where(OrderIntent.id.in_(intents))
        return {e for e in await session.scalars(found) if e}
