"""Signal bots: authenticated webhooks turned into orders, with paper trading first.

Signals (Standard Webhooks, TradingView, 3Commas) become orders through the same order router
and risk engine as ``/v1``.

- ``model.py``: bots and signals as values; :func:`~.model.plan` (pure);
- ``profiles.py``: the three authentication profiles and their bodies (pure);
- ``service.py``: create, list, pause, resume, promote, rotate, delete (audited);
- ``intake.py``: ``POST /v1/signals/{botId}``: refuse, or remember the id and queue;
- ``executor.py``: the durable per-(bot, symbol) queue, exactly once across restarts;
- ``mirror.py``: the paper market follows a reference market's book;
- ``log.py``: the signal log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from kcgateway.errors import NoSuchObject
from kcgateway.exchange.rest import KuCoinClient
from kcgateway.gateway.bots.executor import SignalExecutor
from kcgateway.gateway.bots.intake import Ack, Incoming, SignalIntake
from kcgateway.gateway.bots.log import SignalView, exchange_order_ids, find_signals, signal_view
from kcgateway.gateway.bots.mirror import PaperMirror
from kcgateway.gateway.bots.performance import (
    BotFill,
    Performance,
    books,
    equity_curve,
    max_drawdown,
)
from kcgateway.gateway.bots.ports import SecretBox
from kcgateway.gateway.bots.service import Actor, BotService, BotView, check_actor
from kcgateway.gateway.bots.signal_metrics import SignalMetrics
from kcgateway.gateway.lists import signal_page
from kcgateway.gateway.market_reads import AccountReads
from kcgateway.gateway.paging import Paged, Window
from kcgateway.store.database import Database

if TYPE_CHECKING:
    from kcgateway.gateway.services import GatewayServices

__all__ = ["Ack", "Incoming", "SignalBots", "build_signal_bots"]


@dataclass
class SignalBots:
    """The bot use cases in one bundle (built by ``main.build_services``)."""

    db: Database
    bots: BotService
    intake: SignalIntake
    executor: SignalExecutor
    metrics: SignalMetrics
    now: Callable[[], datetime]
    reads: AccountReads
    market: KuCoinClient
    mirror: PaperMirror | None = None

    async def receive(self, incoming: Incoming) -> Ack:
        """Authenticate and queue one signal (see ``intake.py``)."""
        return await self.intake.receive(incoming)

    async def signals(
        self,
        actor: Actor,
        tenant_id: str,
        *,
        bot: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[SignalView]:
        """The signal log of the tenant (or one of its bots), newest first."""
        check_actor(actor, tenant_id)
        bot_id = None
        if bot is not None:
            try:
                bot_id = (await self.bots.get(actor, tenant_id, bot)).id
            except NoSuchObject:
                return []
        return await find_signals(self.db, tenant_id, bot_id=bot_id, status=status, limit=limit)

    async def signal_page(
        self, actor: Actor, tenant_id: str, *, bot: str | None, verdict: str | None, window: Window
    ) -> Paged[SignalView]:
        """A page of the signal log, newest first (:mod:`~kcgateway.gateway.lists`)."""
        check_actor(actor, tenant_id)
        bot_id = None if bot is None else (await self.bots.get(actor, tenant_id, bot)).id
        async with self.db.read() as session:
            return await signal_page(
                session, tenant_id, bot_id=bot_id, verdict=verdict, window=window, show=signal_view
            )

    async def fills(self, actor: Actor, tenant_id: str, bot: str) -> tuple[BotView, list[BotFill]]:
        """The bot and its own fills in its current mode (the account it trades there)."""
        view = await self.bots.get(actor, tenant_id, bot)
        account = (view.paper_account_id if view.mode == "paper" else None) or view.account_id
        ids = await exchange_order_ids(self.db, view.id, view.mode)
        fills: list[BotFill] = []
        for symbol in view.symbols:
            found = await self.reads.spot_fills(tenant_id, account, symbol, limit=500)
            fills += [
                BotFill(f.symbol, f.side, f.price, f.size, f.fee, f.fee_currency, f.created_at)
                for f in found
                if f.order_id in ids
            ]
        return view, fills

    async def performance(self, actor: Actor, tenant_id: str, bot: str) -> Performance:
        """Trades, fees, realized and unrealized P&L of the bot's own fills in its mode."""
        return await self.report(*await self.fills(actor, tenant_id, bot))

    async def report(self, view: BotView, fills: list[BotFill]) -> Performance:
        """The performance of ``fills`` (:meth:`fills`' answer), marked at the last prices."""
        per_symbol = books(fills)
        last = {s: (await self.market.market.ticker(s)).price for s in per_symbol}
        now_ms = int(self.now().timestamp() * 1000)
        curve = equity_curve(fills, last, now_ms)
        return Performance(view.id, view.mode, per_symbol, last, curve, max_drawdown(curve))

    async def start(self) -> None:
        """Resume the signals a previous process accepted but did not finish."""
        self.executor.running = True
        if self.mirror is not None:
            self.mirror.follow(await self.bots.paper_symbols())
            self.mirror.start()
        await self.executor.resume()

    async def aclose(self) -> None:
        """Stop the lanes (unfinished signals stay queued for the next start)."""
        await self.executor.aclose()
        if self.mirror is not None:
            await self.mirror.aclose()


def build_signal_bots(
    services: GatewayServices,
    vault: SecretBox,
    *,
    now: Callable[[], datetime],
    mirror: PaperMirror | None = None,
) -> SignalBots:
    """The bundle over the gateway's database, order router, venues, alerts and metrics.

    ``mirror``: the paper market follows a reference market (None: the simulator's own book).
    """
    metrics = SignalMetrics(services.metrics.registry)
    executor = SignalExecutor(
        services.db, services.orders, services.venues, services.market, metrics,
        now=now, alerts=services.alerts, mirror=mirror,
    )  # fmt: skip
    intake = SignalIntake(services.db, vault, metrics, now=now, on_queued=executor.wake)
    bots = BotService(services.db, vault, now=now)
    return SignalBots(
        services.db, bots, intake, executor, metrics, now, services.reads, services.market,
        mirror,
    )  # fmt: skip
