"""The signal queue's statements, prebuilt for the hot path (:mod:`.fastsql`).

An accepted signal costs one read (its bot and the bot's sealed secrets) and a share of one
write (its replay id and its queue row, committed with the others that arrived meanwhile);
executing it, a write that marks it ``executing`` with its plan and one that finishes it and
moves the bot's position. Through the ORM each statement cost far more CPU than SQLite itself
(each one a hop to the driver's thread), on the event loop the intake, the executor and the
order router share, and the write lock was held meanwhile: acknowledgements waited behind
the executor's slow transactions. Prebuilt, they run inline in microseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update

from kcgateway.store.fastsql import Prepared, Row, Runner
from kcgateway.store.signal_tables import (
    BotPositionRow,
    BotRow,
    BotSecretRow,
    SignalRow,
    SignalSeenRow,
)

_BOTS = BotRow.__table__
_SECRETS = BotSecretRow.__table__
_BOT = Prepared(select(_BOTS).where(_BOTS.c.id == bindparam("id", type_=_BOTS.c.id.type)))
_BOT_SECRETS = Prepared(
    select(_SECRETS).where(_SECRETS.c.bot_id == bindparam("bot_id", type_=_SECRETS.c.bot_id.type))
)
_SEEN = Prepared(insert(SignalSeenRow))
_QUEUED = Prepared(insert(SignalRow))
_SIGNALS = SignalRow.__table__.c
_THIS_SIGNAL = _SIGNALS.seq == bindparam("row_seq", type_=_SIGNALS.seq.type)
_EXECUTING = Prepared(
    update(SignalRow)
    .where(_THIS_SIGNAL, _SIGNALS.status == "queued")
    .values(status="executing", plan=bindparam("new_plan", type_=_SIGNALS.plan.type))
    .returning(_SIGNALS.seq)
)
_FINISHED = Prepared(
    update(SignalRow)
    .where(_THIS_SIGNAL, or_(_SIGNALS.status == "queued", _SIGNALS.status == "executing"))
    .values(
        status=bindparam("new_status", type_=_SIGNALS.status.type),
        reason=bindparam("new_reason", type_=_SIGNALS.reason.type),
        orders=bindparam("new_orders", type_=_SIGNALS.orders.type),
        finished_at=bindparam("new_finished_at", type_=_SIGNALS.finished_at.type),
    )
    .returning(_SIGNALS.seq)
)
_POS = BotPositionRow.__table__.c
_THIS_POSITION = (
    _POS.bot_id == bindparam("key_bot", type_=_POS.bot_id.type),
    _POS.mode == bindparam("key_mode", type_=_POS.mode.type),
    _POS.symbol == bindparam("key_symbol", type_=_POS.symbol.type),
)
_POSITION = Prepared(select(_POS.size).where(*_THIS_POSITION))
_POSITION_SET = Prepared(
    update(BotPositionRow)
    .where(*_THIS_POSITION)
    .values(
        size=bindparam("new_size", type_=_POS.size.type),
        updated_at=bindparam("new_updated_at", type_=_POS.updated_at.type),
    )
)
_POSITION_NEW = Prepared(insert(BotPositionRow))
_NEXT = Prepared(
    select(SignalRow.__table__)
    .where(
        _SIGNALS.bot_id == bindparam("lane_bot", type_=_SIGNALS.bot_id.type),
        _SIGNALS.symbol == bindparam("lane_symbol", type_=_SIGNALS.symbol.type),
        or_(_SIGNALS.status == "queued", _SIGNALS.status == "executing"),
    )
    .order_by(_SIGNALS.seq)
    .limit(1)
)


async def bot_and_secrets(runner: Runner, bot_id: str) -> tuple[BotRow | None, list[Row]]:
    """The bot (a detached row object) and its secret rows; (None, []) when unknown."""
    found = await runner.rows(_BOT, {"id": bot_id})
    if not found:
        return None, []
    return BotRow(**found[0]), await runner.rows(_BOT_SECRETS, {"bot_id": bot_id})


async def queue_signals(
    runner: Runner, seen: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]]
) -> None:
    """Insert replay ids, then queue rows (in this order: ``seq`` follows arrival)."""
    await runner.many(_SEEN, seen)
    await runner.many(_QUEUED, rows)


async def next_signal(
    runner: Runner, bot_id: str, symbol: str
) -> tuple[SignalRow, BotRow, Decimal] | None:
    """The lane's oldest unfinished signal, its bot and the bot's position in that mode.

    Three statements, each its own snapshot: only the lane itself moves its rows and its
    position, and it is not running meanwhile.
    """
    found = await runner.rows(_NEXT, {"lane_bot": bot_id, "lane_symbol": symbol})
    if not found:
        return None
    row = SignalRow(**found[0])
    bots = await runner.rows(_BOT, {"id": bot_id})
    if not bots:
        return None
    where = {"key_bot": bot_id, "key_mode": row.mode, "key_symbol": symbol}
    held = await runner.rows(_POSITION, where)
    return row, BotRow(**bots[0]), held[0]["size"] if held else Decimal(0)


async def mark_executing(runner: Runner, seq: int, plan: dict[str, Any]) -> bool:
    """``queued`` -> ``executing`` with its plan; False when it was no longer queued."""
    return bool(await runner.rows(_EXECUTING, {"row_seq": seq, "new_plan": plan}))


async def finish_signal(
    runner: Runner,
    seq: int,
    *,
    status: str,
    reason: str | None,
    orders: list[str],
    now: datetime,
) -> bool:
    """Finish an unfinished row (compare-and-set); False when it was already finished."""
    params = {"row_seq": seq, "new_status": status, "new_reason": reason, "new_orders": orders}
    return bool(await runner.rows(_FINISHED, {**params, "new_finished_at": now}))


async def add_to_position(
    runner: Runner, key: tuple[str, str, str], fill: Decimal, now: datetime
) -> None:
    """Move the bot's position in (bot, mode, symbol) by ``fill`` (created at 0 if missing)."""
    where = {"key_bot": key[0], "key_mode": key[1], "key_symbol": key[2]}
    held = await runner.rows(_POSITION, where)
    if held:
        size = held[0]["size"] + fill
        await runner.rows(_POSITION_SET, {**where, "new_size": size, "new_updated_at": now})
    else:
        new = {"bot_id": key[0], "mode": key[1], "symbol": key[2], "size": fill}
        await runner.many(_POSITION_NEW, [{**new, "updated_at": now}])
