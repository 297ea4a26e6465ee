"""What the console's pages show, read for one session's principal (its tenant only).

Every read here is the tenant's and goes through the services the /v1 routes use (orders,
accounts, balances, risk states, alerts); this module only gathers and pages. Exchange
failures while reading balances become a line of text on the page, not an error page: the
overview must stay readable when the exchange is not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select

from kcgateway.errors import ConfigError, KcgatewayError, NoSuchObject
from kcgateway.gateway import risk_overrides
from kcgateway.gateway.accounts import AccountView
from kcgateway.gateway.alerts import AlertFilter
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.audit import ChainReport, verify_chain
from kcgateway.gateway.console.curves import Point
from kcgateway.gateway.console.sessions import ConsoleSession
from kcgateway.gateway.orders.lifecycle import owned_account
from kcgateway.gateway.orders.model import IntentView, view
from kcgateway.gateway.services import GatewayServices
from kcgateway.kucoin import models as m
from kcgateway.store.alert_store import AlertView
from kcgateway.store.tables import AuditRecord, ExchangeAccount, OrderIntent
from kcgateway.store.types import OrderState

log = logging.getLogger("kcgateway.gateway.console")
T = TypeVar("T")
#: the states of an order that may still fill or be cancelled
LIVE_STATES = (OrderState.ACKED, OrderState.OPEN)
MAX_PER_PAGE = 200
MARKETS = ("spot", "margin", "futures")


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """The Orders page's filters (all optional) and the page asked for (1-based)."""

    account: str | None = None
    symbol: str | None = None
    state: OrderState | None = None
    market: str | None = None
    page: int = 1
    per_page: int = 50
    #: created at or after (inclusive) and before (exclusive)
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of the tenant's orders, newest first, and how many match in all."""

    orders: Sequence[IntentView]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the matching orders fill (at least one)."""
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True, slots=True)
class AccountBalances:
    """One account and its balances (``problem`` says why they could not be read)."""

    account: AccountView
    balances: Sequence[m.Account] = ()
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class LevelState:
    """The trading state of one level and target as the console shows it."""

    level: str
    target: str
    label: str
    state: str
    reason: str = ""
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Trades:
    """An account's spot fills on one symbol and its futures positions.

    ``problems`` says why a part could not be read from the exchange.
    """

    account: AccountView
    symbol: str
    fills: Sequence[m.Fill] = ()
    positions: Sequence[m.Position] = ()
    problems: Sequence[str] = ()
    #: the tenant's accounts (the page's account picker)
    accounts: Sequence[AccountView] = ()


@dataclass(frozen=True, slots=True)
class OrderStep:
    """One step of an order's life from the audit log: when, who, what, and why."""

    at: datetime
    actor: str
    action: str
    from_state: str
    to_state: str
    reason: str


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of the tenant's audit records, newest first, and how many match."""

    records: Sequence[AuditRecord]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the matching records fill (at least one)."""
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True, slots=True)
class Overview:
    """The Overview page."""

    accounts: Sequence[AccountBalances]
    open_orders: int
    states: Sequence[LevelState] = ()
    alerts: Sequence[AlertView] = ()
    risk_visible: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class ConsoleReads:
    """The pages' reads over the services bundle."""

    def __init__(self, services: GatewayServices) -> None:
        self._services = services

    async def orders(self, session: ConsoleSession, which: OrderFilter) -> OrderPage:
        """A page of the tenant's orders matching ``which`` (needs ``read``)."""
        tenant = session.require(Scope.READ).tenant_id
        per_page = min(max(which.per_page, 1), MAX_PER_PAGE)
        page = max(which.page, 1)
        query = select(OrderIntent).join(
            ExchangeAccount, ExchangeAccount.id == OrderIntent.account_id
        )
        query = query.where(ExchangeAccount.tenant_id == tenant)
        async with self._services.db.read() as db:
            if which.account:
                owned = await owned_account(db, tenant, which.account, include_removed=True)
                query = query.where(OrderIntent.account_id == owned.id)
            if which.symbol:
                query = query.where(OrderIntent.symbol == which.symbol.strip().upper())
            if which.state is not None:
                query = query.where(OrderIntent.state == which.state)
            if which.market:
                query = query.where(OrderIntent.market == which.market)
            if which.since is not None:
                query = query.where(OrderIntent.created_at >= which.since)
            if which.until is not None:
                query = query.where(OrderIntent.created_at < which.until)
            total = await db.scalar(select(func.count()).select_from(query.subquery()))
            newest = query.order_by(OrderIntent.created_at.desc(), OrderIntent.id)
            rows = await db.scalars(newest.offset((page - 1) * per_page).limit(per_page))
            orders = [view(r) for r in rows.all()]
        return OrderPage(orders, int(total or 0), page, per_page)

    async def order(self, session: ConsoleSession, intent_id: str) -> IntentView:
        """One of the tenant's orders, any market (NoSuchObject for anyone else's)."""
        tenant = session.require(Scope.READ).tenant_id
        return await self._services.orders.intents.view_of(
            (await self._services.orders.intents.owned(tenant, intent_id, None)).id
        )

    async def history(self, session: ConsoleSession, intent_id: str) -> list[OrderStep]:
        """The order's audited steps, oldest first (the order must be the tenant's)."""
        found = await self.order(session, intent_id)
        query = (
            select(AuditRecord)
            .where(AuditRecord.subject == found.id, AuditRecord.action.like("order.%"))
            .order_by(AuditRecord.seq)
        )
        async with self._services.db.read() as db:
            rows = (await db.scalars(query)).all()
        return [_step(r) for r in rows]

    async def trades(self, session: ConsoleSession, account: str | None, symbol: str) -> Trades:
        """Fills and positions of one of the tenant's accounts (the first when none is named)."""
        tenant = session.require(Scope.READ).tenant_id
        accounts = await self.accounts(session)
        chosen = next((a for a in accounts if account in (a.id, a.name)), None)
        if chosen is None and account:
            raise NoSuchObject("account", hint="pick one of the tenant's accounts")
        if chosen is None:
            if not accounts:
                raise NoSuchObject("account", hint="connect one with `kcgateway accounts add`")
            chosen = accounts[0]
        reads = self._services.reads
        fills, positions = await asyncio.gather(  # two exchange reads at once
            _attempt(reads.spot_fills(tenant, chosen.id, symbol, limit=100), "spot fills"),
            _attempt(reads.positions(tenant, chosen.id), "futures positions"),
        )
        problems = [p for p in (fills, positions) if isinstance(p, str)]
        return Trades(
            chosen,
            symbol,
            fills if isinstance(fills, list) else [],
            [p for p in positions if p.current_qty] if isinstance(positions, list) else [],
            problems,
            accounts,
        )

    async def audit(
        self, session: ConsoleSession, *, action: str = "", subject: str = "", page: int = 1
    ) -> AuditPage:
        """The tenant's audit records (admin), filtered by action prefix and subject."""
        tenant = session.require(Scope.ADMIN).tenant_id
        query = select(AuditRecord).where(AuditRecord.tenant_id == tenant)
        if action:
            query = query.where(AuditRecord.action.startswith(action, autoescape=True))
        if subject:
            query = query.where(AuditRecord.subject == subject)
        page, per_page = max(page, 1), 50
        async with self._services.db.read() as db:
            total = await db.scalar(select(func.count()).select_from(query.subquery()))
            newest = query.order_by(AuditRecord.seq.desc())
            rows = await db.scalars(newest.offset((page - 1) * per_page).limit(per_page))
            found = list(rows.all())
        return AuditPage(found, int(total or 0), page, per_page)

    async def verify_audit(self, session: ConsoleSession) -> ChainReport:
        """Walk the whole audit chain with the deployment's keys (admin), as `audit verify`.

        ConfigError when this gateway cannot read its audit key file (it then says which).
        """
        session.require(Scope.ADMIN)
        read_keys = self._services.audit_keys
        if read_keys is None:
            raise ConfigError("the audit keys are not available to this gateway")
        return await verify_chain(self._services.db, keys=read_keys())

    async def open_orders(self, tenant_id: str) -> int:
        """How many of the tenant's orders may still fill."""
        query = (
            select(func.count())
            .select_from(OrderIntent)
            .join(ExchangeAccount, ExchangeAccount.id == OrderIntent.account_id)
            .where(ExchangeAccount.tenant_id == tenant_id, OrderIntent.state.in_(LIVE_STATES))
        )
        async with self._services.db.read() as db:
            return int(await db.scalar(query) or 0)

    async def accounts(self, session: ConsoleSession) -> list[AccountView]:
        """The tenant's accounts."""
        tenant = session.require(Scope.READ).tenant_id
        return await self._services.accounts.list(tenant)

    async def _balances(self, tenant_id: str, account: AccountView) -> AccountBalances:
        try:
            lines = await self._services.balances(tenant_id, account.id)
        except KcgatewayError as exc:
            log.info("console: balances of %s unavailable (%s)", account.id, type(exc).__name__)
            return AccountBalances(account, problem=f"balances unavailable ({type(exc).__name__})")
        shown = [b for b in lines if b.balance or b.holds]
        return AccountBalances(account, sorted(shown, key=lambda b: (b.currency, b.type)))

    async def overview(self, session: ConsoleSession) -> Overview:
        """Accounts with balances, the open orders count, and (risk:manage) states and alerts."""
        principal = session.require(Scope.READ)
        accounts = await self.accounts(session)
        balances = await asyncio.gather(*(self._balances(principal.tenant_id, a) for a in accounts))
        opened = await self.open_orders(principal.tenant_id)
        if not session.can(Scope.RISK_MANAGE):
            return Overview(balances, opened)
        states = await self.states(session, accounts)
        alerts = await self.alerts(session, limit=10)
        return Overview(balances, opened, states, alerts, risk_visible=True)

    async def equity_curves(
        self, session: ConsoleSession, accounts: Sequence[AccountView], since: datetime
    ) -> dict[str, list[Point]]:
        """The sampled equity of each of the tenant's ``accounts`` since ``since`` (read)."""
        tenant = session.require(Scope.READ).tenant_id
        history = self._services.equity_history
        if history is None:
            return {}
        owned = {a.id for a in await self._services.accounts.list(tenant)}
        return await history.curves([a.id for a in accounts if a.id in owned], since)

    async def states(
        self, session: ConsoleSession, accounts: Sequence[AccountView] | None = None
    ) -> list[LevelState]:
        """Gateway, tenant, each account and this key, each with its state (risk:manage)."""
        principal = session.require(Scope.RISK_MANAGE)
        risk = self._services.risk
        found = {} if risk is None else {
            (v.level.value, v.target): v for v in await risk.states(actor=principal)
        }  # fmt: skip
        if accounts is None:
            accounts = await self.accounts(session)
        levels = [
            ("gateway", "", "gateway"),
            ("tenant", principal.tenant_id, "your tenant"),
            *(("account", a.id, f"account {a.name}") for a in accounts),
            ("key", principal.key_id, f"key {principal.key_id} (this session)"),
        ]
        out = []
        for level, target, label in levels:
            key = (level, "" if level == "gateway" else target)
            v = found.get(key)
            state = v.state.value if v else "active"
            out.append(
                LevelState(
                    level, target, label, state, v.reason if v else "", v.since if v else None
                )
            )
        return out

    async def alerts(self, session: ConsoleSession, *, limit: int = 20) -> list[AlertView]:
        """The tenant's newest alerts (admin: gateway-wide ones too); needs risk:manage."""
        principal = session.require(Scope.RISK_MANAGE)
        if self._services.alerts is None:
            return []
        which = AlertFilter(
            tenant_id=principal.tenant_id, gateway=Scope.ADMIN in principal.scopes, limit=limit
        )
        return await self._services.alerts.find(which)

    async def limits(self, session: ConsoleSession) -> list[tuple[str, str]]:
        """The limits in force for the tenant, as (name, value) text pairs (risk:manage)."""
        principal = session.require(Scope.RISK_MANAGE)
        if self._services.risk is None:
            return []
        found = await self._services.risk.limits("tenant", "", actor=principal)
        wire = risk_overrides.to_wire(found.effective, only_set=False)
        return [(name, _text(value)) for name, value in sorted(wire.items())]


async def _attempt(work: Awaitable[T], what: str) -> T | str:
    """``work``'s result, or a line saying it could not be read from the exchange."""
    try:
        return await work
    except KcgatewayError as exc:
        log.info("console: %s unavailable (%s)", what, type(exc).__name__)
        return f"{what} unavailable ({type(exc).__name__})"


def _step(row: AuditRecord) -> OrderStep:
    detail = row.detail or {}
    reason = detail.get("reason") or detail.get("error") or ""
    return OrderStep(
        row.created_at, row.actor, row.action, str(detail.get("from", "")),
        str(detail.get("to", "")), str(reason),
    )  # fmt: skip


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)
