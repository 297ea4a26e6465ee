"""The gateway's own event log that bots follow and resume from (``GET /v1/events``).

KuCoin never replays the private events a client missed while disconnected; the gateway does.
Every order state change, fill, balance change and alert is appended to ``gateway_events``
(:mod:`kcgateway.store.event_log`) with a gateway-wide increasing id, in the same transaction
as the change where there is one (an intent's move: ``orders/lifecycle.py``; an alert: the
alert store). A follower reads ``id > last`` from the database, so a client that comes back
with its last id gets everything it missed, then the live events, each exactly once and in
order.

Delivery stays cheap: one in-process :class:`EventHub` is poked after each commit that
appended events and wakes every follower at once; each follower then reads its next page by
id. The hub relays the poke to the other instances on the same database (the change bus,
:mod:`kcgateway.gateway.cluster.bus`), whose hubs wake their followers in turn. Followers also
look every ``poll_s`` without a poke, for events another process (the CLI) appended or whose
poke was lost.

Who sees what (:func:`filter_for`): a key sees its own tenant's events only; order, fill and
balance events need ``read``; alerts need ``risk:manage`` (as ``GET /v1/alerts``); gateway-wide
alerts (no tenant) need ``admin``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

from kcgateway.errors import ValidationError
from kcgateway.exchange.private_feed import BalanceChange
from kcgateway.gateway.apikeys import Scope
from kcgateway.kucoin import models as m
from kcgateway.store.alert_store import AlertView
from kcgateway.store.database import Database
from kcgateway.store.event_log import (
    EventFilter,
    NewEvent,
    StoredEvent,
    append_events,
    last_event_id,
    prune_events,
    read_events,
)
from kcgateway.store.tables import OrderIntent
from kcgateway.store.types import OrderState
from kcgateway.tasks import stop_task

__all__ = [
    "EventFeed",
    "EventHub",
    "EventKind",
    "StoredEvent",
    "filter_for",
    "order_event",
    "parse_kinds",
]

log = logging.getLogger("kcgateway.gateway.event_feed")
Now = Callable[[], datetime]
StillAllowed = Callable[[], Awaitable[bool]]
MAX_PAGE = 1000


class EventKind(StrEnum):
    """What an event reports (the SSE ``event:`` field)."""

    ORDER = "order.state"
    FILL = "order.fill"
    BALANCE = "balance"
    POSITION = "position"
    ALERT = "alert"


#: the scope a key needs to see each kind
SCOPE_OF = {
    EventKind.ORDER: Scope.READ,
    EventKind.FILL: Scope.READ,
    EventKind.BALANCE: Scope.READ,
    EventKind.POSITION: Scope.READ,
    EventKind.ALERT: Scope.RISK_MANAGE,
}


def parse_kinds(text: str | None) -> frozenset[str]:
    """``order.state,alert`` -> those kinds; empty for every kind. ValidationError if unknown."""
    if not text:
        return frozenset()
    kinds = {k.strip() for k in text.split(",") if k.strip()}
    valid = {k.value for k in EventKind}
    unknown = sorted(kinds - valid)
    if unknown:
        raise ValidationError(
            f"an unknown event kind was asked for; valid kinds: {', '.join(sorted(valid))}",
            field="kinds",
        )
    return frozenset(kinds)


def filter_for(
    tenant_id: str, scopes: Iterable[Scope], kinds: frozenset[str] = frozenset()
) -> EventFilter:
    """What a key of ``tenant_id`` holding ``scopes`` may follow. Pure."""
    held = frozenset(scopes)
    admin = Scope.ADMIN in held
    visible = frozenset(s.value for s in SCOPE_OF.values() if admin or s in held)
    return EventFilter(tenant_id=tenant_id, scopes=visible, gateway=admin, kinds=kinds)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def order_event(
    row: OrderIntent,
    previous: OrderState | None,
    reason: str | None = None,
    *,
    tenant_id: str | None = None,
) -> NewEvent:
    """The ``order.state`` event of an intent now in ``row.state`` (was ``previous``).

    Without ``tenant_id`` the append reads it from the intent's account.
    """
    data: dict[str, Any] = {
        "orderId": row.id,
        "clientOid": row.client_oid,
        "accountId": row.account_id,
        "market": row.market,
        "symbol": row.symbol,
        "side": row.side,
        "type": row.order_type,
        "price": _money(row.price),
        "size": _money(row.size),
        "funds": _money(row.funds),
        "state": OrderState(row.state).value,
        "previousState": None if previous is None else previous.value,
        "exchangeOrderId": row.exchange_order_id,
        "reason": reason,
    }
    return NewEvent(
        EventKind.ORDER.value, Scope.READ.value, row.id, data,
        account_id=row.account_id, tenant_id=tenant_id,
    )  # fmt: skip


def fill_event(account_id: str, fill: dict[str, Any]) -> NewEvent:
    """An ``order.fill`` event (``fill``: JSON-ready, money as strings)."""
    subject = str(fill.get("clientOid") or fill.get("exchangeOrderId") or "")
    return NewEvent(EventKind.FILL.value, Scope.READ.value, subject, fill, account_id=account_id)


def balance_event(account_id: str, change: BalanceChange) -> NewEvent:
    """The ``balance`` event of one private balance change (money as strings)."""
    data: dict[str, Any] = {
        "currency": change.currency,
        "total": str(change.total),
        "available": str(change.available),
        "hold": str(change.hold),
        "availableChange": str(change.available_change),
        "holdChange": str(change.hold_change),
        "relationEvent": change.relation_event,
    }
    return NewEvent(
        EventKind.BALANCE.value, Scope.READ.value, change.currency, data, account_id=account_id
    )


def position_event(
    account_id: str, symbol: str, position: m.Position | None, previous_qty: Decimal
) -> NewEvent:
    """The ``position`` event of a futures position whose quantity moved (None: now closed)."""
    data: dict[str, Any] = {
        "symbol": symbol,
        "currentQty": "0" if position is None else str(position.current_qty),
        "previousQty": str(previous_qty),
        "isOpen": position is not None,
    }
    if position is not None:
        data |= {
            "avgEntryPrice": _money(position.avg_entry_price),
            "markPrice": _money(position.mark_price),
            "unrealisedPnl": _money(position.unrealised_pnl),
            "realisedPnl": _money(position.realised_pnl),
            "leverage": _money(position.leverage),
            "marginMode": position.margin_mode,
            "liquidationPrice": _money(position.liquidation_price),
            "settleCurrency": position.settle_currency,
        }
    return NewEvent(EventKind.POSITION.value, Scope.READ.value, symbol, data, account_id=account_id)


def alert_event(alert: AlertView) -> NewEvent:
    """The ``alert`` event of a stored alert (no tenant: a gateway-wide one, admin keys only)."""
    data: dict[str, Any] = {
        "alertId": alert.id,
        "kind": alert.kind,
        "severity": alert.severity,
        "subjects": list(alert.subjects),
        "summary": alert.summary,
        "evidence": alert.evidence,
    }
    return NewEvent(
        EventKind.ALERT.value, Scope.RISK_MANAGE.value, alert.id, data, tenant_id=alert.tenant_id
    )


def kept(days: float) -> timedelta | None:
    """The retention for ``KCGW_EVENT_RETENTION_DAYS`` (0: keep every event). Pure."""
    return timedelta(days=days) if days > 0 else None


class EventHub:
    """Wakes every follower after a commit that appended events: one asyncio.Event per round.

    A follower takes :meth:`armed` BEFORE it reads, so a poke between its read and its wait is
    never lost.
    """

    def __init__(self) -> None:
        self._round = asyncio.Event()
        self.followers = 0
        #: told of every local commit that appended events (the change bus tells other instances)
        self.relay: Callable[[], None] | None = None

    def notify(self) -> None:
        """After a local commit that appended events: wake the followers, tell other instances."""
        self.wake()
        if self.relay is not None:
            self.relay()

    def wake(self) -> None:
        """Wake everyone waiting on the current round and start the next one."""
        current, self._round = self._round, asyncio.Event()
        current.set()

    def armed(self) -> asyncio.Event:
        """The round a follower will wait on."""
        return self._round


class EventFeed:
    """Append, page through and follow the event log."""

    def __init__(
        self,
        db: Database,
        *,
        now: Now,
        poll_s: float = 2.0,
        page_size: int = 500,
        retention: timedelta | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.hub = EventHub()
        self._db = db
        self._now = now
        self.poll_s = poll_s
        #: how often a follower's key is checked again (revoked or expired: the stream ends)
        self.recheck_s = 30.0
        self.page_size = page_size
        #: events older than this are pruned (None keeps every event)
        self.retention = retention
        self._pruner: asyncio.Task[None] | None = None
        if registry is not None:
            gauge = Gauge(
                "kcgateway_event_followers",
                "Clients following GET /v1/events now",
                registry=registry,
            )
            gauge.set_function(lambda: self.hub.followers)

    async def append(self, events: Sequence[NewEvent]) -> None:
        """Append events in a transaction of their own (changes with no stored row: fills)."""
        if not events:
            return
        async with self._db.hot_write(durable=False) as conn:
            await append_events(conn, events, now=self._now())
        self.hub.notify()

    async def balance_changed(self, account_id: str, change: BalanceChange) -> None:
        """Append the ``balance`` event of one private balance change of ``account_id``."""
        await self.append([balance_event(account_id, change)])

    async def position_changed(
        self, account_id: str, symbol: str, position: m.Position | None, previous_qty: Decimal
    ) -> None:
        """Append the ``position`` event of one futures position of ``account_id`` that moved."""
        await self.append([position_event(account_id, symbol, position, previous_qty)])

    async def last_id(self) -> int:
        """The newest event's id (0 for an empty log): where a client without an id starts."""
        async with self._db.hot_read() as conn:
            return await last_event_id(conn)

    async def page(self, which: EventFilter, *, after: int, limit: int) -> list[StoredEvent]:
        """Up to ``limit`` visible events after ``after``, oldest first."""
        async with self._db.read() as session:
            return await read_events(session, which, after=after, limit=min(limit, MAX_PAGE))

    async def follow(
        self, which: EventFilter, *, after: int, still_allowed: StillAllowed | None = None
    ) -> AsyncIterator[StoredEvent | None]:
        """Every visible event after ``after``, then live ones; None on an idle poll.

        Each event once, in id order. The None lets the caller send a keep-alive. Ends when
        ``still_allowed`` (asked every :attr:`recheck_s`) says the key may no longer follow:
        revoked or expired keys do not keep a stream open.
        """
        self.hub.followers += 1
        loop = asyncio.get_running_loop()
        checked = loop.time()
        try:
            while True:
                if still_allowed is not None and loop.time() - checked >= self.recheck_s:
                    if not await still_allowed():
                        return
                    checked = loop.time()
                wake = self.hub.armed()
                events = await self.page(which, after=after, limit=self.page_size)
                for event in events:
                    after = event.id
                    yield event
                if len(events) == self.page_size:
                    continue
                try:
                    await asyncio.wait_for(wake.wait(), self.poll_s)
                except TimeoutError:
                    yield None
        finally:
            self.hub.followers -= 1

    async def prune(self) -> int:
        """Delete events older than the retention (never the newest one); how many."""
        if self.retention is None:
            return 0
        async with self._db.write() as session:
            return await prune_events(session, before=self._now() - self.retention)

    def start(self, every_s: float = 3600.0) -> None:
        """Prune every ``every_s`` while the gateway runs (when a retention is set)."""
        if self.retention is not None and self._pruner is None:
            self._pruner = asyncio.get_running_loop().create_task(self._prune_forever(every_s))

    async def _prune_forever(self, every_s: float) -> None:
        while True:
            try:
                pruned = await self.prune()
                if pruned:
                    log.info("pruned %d events older than %s", pruned, self.retention)
            except Exception:  # the next round tries again
                log.exception("event pruning failed")
            await asyncio.sleep(every_s)

    async def aclose(self) -> None:
        """Stop pruning."""
        task, self._pruner = self._pruner, None
        await stop_task(task)
