"""The durable signal queue: signals run in arrival order per (bot, symbol), each exactly once.

The queue is the ``signals`` table: a row is ``queued`` when the intake commits it. One lane (an
asyncio task) per (bot, symbol) takes that pair's oldest unfinished row by ``seq``, so a close
and the open behind it can never run out of order or at the same time; different pairs run in
parallel. A row goes:

``queued`` -- plan written (order terms, clientOid ``sig-<signal id>``) --> ``executing`` --
order placed through the :class:`~kcgateway.gateway.orders.router.OrderRouter` (risk engine,
exactly-once intents), fill read from the exchange --> ``done`` (the position moved by the
fill, in the SAME commit that finishes the row) | ``held`` | ``rejected`` | ``failed``.

After a restart :meth:`SignalExecutor.resume` starts a lane for every unfinished row. An
``executing`` row replays its stored plan: the router answers its clientOid with the intent
already placed (``ClientOidTaken``) instead of sending again, and the finishing commit is a
compare-and-set on the row's status, so neither the order nor the position move twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import select

from kcgateway.errors import ClientOidTaken, KcgatewayError
from kcgateway.exchange.rest import KuCoinClient
from kcgateway.gateway.alerts import AlertService
from kcgateway.gateway.bots.mirror import PaperMirror
from kcgateway.gateway.bots.model import (
    Action,
    Mode,
    OrderStyle,
    Plan,
    Signal,
    Sizing,
    plan,
    signal_from_json,
)
from kcgateway.gateway.bots.signal_metrics import SignalMetrics
from kcgateway.gateway.orders.model import OrderRequest
from kcgateway.gateway.orders.router import OrderRouter
from kcgateway.gateway.venue import Venues
from kcgateway.kucoin import models as m
from kcgateway.store.database import Database
from kcgateway.store.signal_queue import (
    add_to_position,
    finish_signal,
    mark_executing,
    next_signal,
)
from kcgateway.store.signal_tables import BotRow, SignalRow
from kcgateway.store.types import OrderState

log = logging.getLogger("kcgateway.signals")
UNFINISHED = ("queued", "executing")
_FAILED_STATES = (OrderState.REJECTED, OrderState.NOT_PLACED)
Lane = tuple[str, str]


@dataclass
class Finish:
    """How a row ends: its status, why, the intents it made, and the fill to add."""

    status: str
    reason: str | None = None
    orders: list[str] | None = None
    fill: Decimal = Decimal(0)


class SignalExecutor:
    """Runs queued signals lane by lane; :meth:`wake` is the intake's ``on_queued``."""

    def __init__(
        self,
        db: Database,
        orders: OrderRouter,
        venues: Venues,
        market: KuCoinClient,
        metrics: SignalMetrics,
        *,
        now: Callable[[], datetime],
        alerts: AlertService | None = None,
        fill_wait_s: float = 5.0,
        mirror: PaperMirror | None = None,
    ) -> None:
        self._db, self._orders, self._venues, self._market = db, orders, venues, market
        #: copies the reference book into the paper market just before a paper order
        self.mirror = mirror
        self._metrics, self._now, self._alerts = metrics, now, alerts
        self.fill_wait_s = fill_wait_s
        self._lanes: dict[Lane, asyncio.Task[None]] = {}
        self._dirty: set[Lane] = set()
        self._symbols: dict[str, m.Symbol] = {}
        #: False: accepted signals stay queued (a stopped gateway; tests of restarts)
        self.running = True

    def wake(self, bot_id: str, symbol: str) -> None:
        """Make sure the (bot, symbol) lane runs (or runs once more)."""
        if not self.running:
            return
        lane = (bot_id, symbol)
        self._dirty.add(lane)
        if lane not in self._lanes:
            self._lanes[lane] = asyncio.get_running_loop().create_task(self._run(lane))

    async def resume(self) -> int:
        """Start a lane for every unfinished signal (after a restart); how many lanes."""
        query = select(SignalRow.bot_id, SignalRow.symbol).where(SignalRow.status.in_(UNFINISHED))
        async with self._db.read() as session:
            lanes = {(b, s) for b, s in (await session.execute(query.distinct())).all() if s}
        for bot_id, symbol in lanes:
            self.wake(bot_id, symbol)
        return len(lanes)

    async def drain(self) -> None:
        """Wait until every lane is idle (tests, shutdown)."""
        while self._lanes:
            await asyncio.gather(*list(self._lanes.values()), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop every lane; unfinished rows stay in the table for the next start."""
        self.running = False
        lanes, self._lanes = list(self._lanes.values()), {}
        for task in lanes:
            task.cancel()
        for task in lanes:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, lane: Lane) -> None:
        try:
            while self.running:
                self._dirty.discard(lane)
                row = await self._next(lane)
                if row is None:
                    if lane in self._dirty:
                        continue
                    break
                await self._step(row)
        finally:
            if self._lanes.get(lane) is asyncio.current_task():
                del self._lanes[lane]

    async def _next(self, lane: Lane) -> tuple[SignalRow, BotRow, Decimal] | None:
        """The lane's oldest unfinished signal, its bot and the bot's position."""
        async with self._db.hot_read() as runner:
            return await next_signal(runner, *lane)

    async def _step(self, found: tuple[SignalRow, BotRow, Decimal]) -> None:
        row, bot, position = found
        try:
            terms = row.plan
            if row.status == "queued":
                terms = await self._decide(row, bot, position)
                if terms is None:
                    return
            assert terms is not None  # noqa: S101 - an executing row always has its plan
            await self._finish(row, bot, await self._execute(row, bot, terms))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an unexpected failure must not stall the lane
            log.exception("signal %s failed", row.id)
            await self._finish(
                row, bot, Finish("failed", f"{type(exc).__name__}: check the bot's orders")
            )

    # -- deciding ---------------------------------------------------------------------------

    async def _decide(
        self, row: SignalRow, bot: BotRow, position: Decimal
    ) -> dict[str, Any] | None:
        """Write the plan and mark the row ``executing``; or finish it (None) when no order."""
        signal = signal_from_json(row.payload)
        try:
            size, ref = await self._size(bot, signal)
        except KcgatewayError as exc:
            await self._finish(row, bot, Finish("rejected", f"cannot size the order: {exc}"))
            return None
        if size <= 0 and signal.action is not Action.CLOSE:
            await self._finish(row, bot, Finish("rejected", "the size rounds to zero"))
            return None
        decided = plan(signal, position, size, bot.max_position)
        if decided.verdict != "execute" or decided.side is None:
            status = {"noop": "done", "held": "held"}.get(decided.verdict, "rejected")
            await self._finish(row, bot, Finish(status, decided.reason))
            if status == "held":
                await self._alert(row, bot, signal, position, decided)
            return None
        terms = self._terms(row, bot, signal, decided, ref)
        async with self._db.hot_write() as runner:  # before the order is sent: durable
            await mark_executing(runner, row.seq, terms)
        return terms

    def _terms(
        self, row: SignalRow, bot: BotRow, signal: Signal, decided: Plan, ref: Decimal | None
    ) -> dict[str, Any]:
        account = bot.paper_account_id if row.mode == Mode.PAPER.value else bot.account_id
        terms: dict[str, Any] = {
            "account_id": account or bot.account_id, "side": decided.side,
            "size": str(decided.size), "target": str(decided.target),
            "client_oid": "sig-" + row.id.replace("-", ""), "type": "market",
        }  # fmt: skip
        if bot.order_style == OrderStyle.LIMIT.value and ref is not None:
            offset = (bot.limit_offset_pct or Decimal(0)) / 100
            price = ref * (1 - offset if decided.side == "buy" else 1 + offset)
            step = self._symbols[signal.symbol].price_increment
            terms.update(type="limit", price=str(price.quantize(step, ROUND_DOWN)),
                         timeout_s=bot.limit_timeout_s)  # fmt: skip
        return terms

    async def _size(self, bot: BotRow, signal: Signal) -> tuple[Decimal, Decimal | None]:
        """(open size, reference price): the signal's size, else the bot's sizing."""
        rules = await self._rules(signal.symbol)
        needs_ref = bot.order_style == OrderStyle.LIMIT.value or (
            signal.size is None
            and (signal.quote_amount is not None or bot.sizing != Sizing.SIZE.value)
        )
        ref = signal.price
        if ref is None and needs_ref:
            ticker = await self._market.market.ticker(signal.symbol)
            ref = ticker.price
        if signal.action is Action.CLOSE:
            return Decimal(0), ref
        if signal.size is not None:
            size = signal.size
        elif signal.quote_amount is not None and ref:
            size = signal.quote_amount / ref
        elif bot.sizing == Sizing.SIZE.value:
            size = bot.sizing_value
        elif not ref:
            raise KcgatewayError("no reference price for this symbol")
        elif bot.sizing == Sizing.QUOTE.value:
            size = bot.sizing_value / ref
        else:
            size = await self._equity(bot, rules.quote_currency) * bot.sizing_value / 100 / ref
        return size.quantize(rules.base_increment, ROUND_DOWN), ref

    async def _rules(self, symbol: str) -> m.Symbol:
        if symbol not in self._symbols:
            self._symbols[symbol] = await self._market.market.symbol(symbol)
        return self._symbols[symbol]

    async def _equity(self, bot: BotRow, currency: str) -> Decimal:
        account = bot.paper_account_id if bot.mode == Mode.PAPER.value else bot.account_id
        venue = await self._venues.for_account(account or bot.account_id)
        return sum(
            (
                a.available
                for a in await venue.balances()
                if a.currency == currency and a.type in ("trade", "trade_hf")
            ),
            Decimal(0),
        )

    # -- executing --------------------------------------------------------------------------

    async def _execute(self, row: SignalRow, bot: BotRow, terms: dict[str, Any]) -> Finish:
        price = terms.get("price")
        req = OrderRequest(
            account=terms["account_id"], symbol=row.symbol or "", side=terms["side"],
            order_type=terms["type"], price=None if price is None else Decimal(price),
            size=Decimal(terms["size"]), client_oid=terms["client_oid"],
        )  # fmt: skip
        actor = f"bot:{bot.id}"
        if self.mirror is not None and row.mode == Mode.PAPER.value:
            try:  # the paper order meets the reference book of this moment
                await self.mirror.sync(req.symbol)
            except KcgatewayError as exc:
                return Finish("rejected", f"the paper market cannot follow the reference: {exc}")
        try:
            placed = await self._orders.place(bot.tenant_id, actor, req, key_id=actor)
        except ClientOidTaken as taken:  # placed before a restart: never send it again
            intent_id = taken.intent_id
        except KcgatewayError as exc:
            return Finish("rejected", f"{type(exc).__name__}: {exc}")
        else:
            intent_id = placed.id
            if placed.state in _FAILED_STATES:
                return Finish("rejected", f"the order was {placed.state.value}", [intent_id])
        if terms["type"] == "limit":
            await asyncio.sleep(float(terms.get("timeout_s") or 0))
            with contextlib.suppress(KcgatewayError):
                await self._orders.cancel(bot.tenant_id, intent_id, actor)
        filled = await self._filled(terms, row.symbol or "")
        signed = filled if terms["side"] == "buy" else -filled
        size = Decimal(terms["size"])
        note = None if filled == size else f"filled {filled} of {size}"
        return Finish("done", note, [intent_id], signed)

    async def _filled(self, terms: dict[str, Any], symbol: str) -> Decimal:
        """The order's filled size at the exchange once it is no longer active (or time is up)."""
        venue = await self._venues.for_account(terms["account_id"])
        deadline = asyncio.get_running_loop().time() + self.fill_wait_s
        while True:  # an order just acknowledged may not be listed yet: None means "look again"
            found = await venue.resolve(terms["client_oid"], symbol)
            if found is not None and not found.active:
                return found.deal_size
            if asyncio.get_running_loop().time() > deadline:
                return Decimal(0) if found is None else found.deal_size
            await asyncio.sleep(0.02)

    # -- finishing --------------------------------------------------------------------------

    async def _finish(self, row: SignalRow, bot: BotRow, end: Finish) -> None:
        """Finish the row and move the position in one commit (only if still unfinished)."""
        now = self._now()
        async with self._db.hot_write() as runner:
            finished = await finish_signal(
                runner, row.seq, status=end.status, reason=end.reason, orders=end.orders or [],
                now=now,
            )  # fmt: skip
            if not finished:
                return
            if end.fill:
                await add_to_position(runner, (bot.id, row.mode, row.symbol or ""), end.fill, now)
        self._metrics.executed.labels(end.status).inc()

    async def _alert(
        self, row: SignalRow, bot: BotRow, signal: Signal, position: Decimal, decided: Plan
    ) -> None:
        if self._alerts is None:
            return
        await self._alerts.raise_alert(
            "signal.position_mismatch", "warning", [bot.id, signal.symbol],
            f"bot {bot.name} held a signal: {decided.reason}",
            {"signal": row.id, "action": signal.action.value, "position": str(position),
             "stated_prev": signal.prev_position, "stated_after": signal.position},
            self._now(), tenant_id=bot.tenant_id,
        )  # fmt: skip
