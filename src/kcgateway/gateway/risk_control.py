"""The risk CONTROL plane: trading states, limit overrides and the symbol block list.

The pure :mod:`kcgateway.risk` decides one order from its inputs; this service holds two of
them, per level (gateway, tenant, account, key), and changes them:

- **Trading states** (ACTIVE, REDUCING, HALTED). :meth:`RiskControl.halt` is the kill switch: the
  state is set in memory BEFORE anything is written, so an order checked after ``halt`` was
  entered is refused even while the write is still under way; then it is persisted with its
  audit record, and with ``cancel_open`` the injected :class:`OpenOrderCanceller` cancels every
  open order under the target. :meth:`RiskControl.resume` is the opposite direction and the
  opposite order: persisted first, relaxed in memory only once committed (a failed write leaves
  the target halted). A reason is required for both.
- **Limits.** The gateway holds a complete :class:`~kcgateway.risk.Limits` (settings and
  defaults, with the fields the operator set at the gateway level replacing them, and the
  blocked symbols added to its deny-list); a tenant, an account and a key hold
  :class:`~kcgateway.risk.LimitOverrides`, which can only tighten.
- **Blocked symbols**: the gateway-wide deny-list, which the stolen-key detector's
  ``block_symbol`` action adds to (:meth:`RiskControl.block_symbol`).

The order path calls :meth:`RiskControl.states_for` and :meth:`RiskControl.limits_for` per order:
both read memory only (dictionary lookups; the resolved limits are cached per tenant, account
and key). Every change is persisted and written to the audit log with its actor and reason in
the same transaction, and bumps a generation number; a running gateway reads that number every
``refresh_every_s`` (0.5 s) and reloads when another process (the CLI) changed something.

Who may act (enforced here, whatever the front end): a key needs ``risk:manage`` and acts on its
own tenant, accounts and keys only (anyone else's is :class:`NoSuchTarget`, as if it did not
exist); the gateway level and the block list need ``admin`` (or the operator). A state set by the
operator or the risk engine is lifted only by an ``admin`` key or the operator, so a stolen key
that holds ``risk:manage`` cannot resume what the detector halted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.errors import ConfigError, Forbidden, ValidationError
from kcgateway.gateway import risk_overrides
from kcgateway.gateway.apikeys import Scope, check_text
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.gateway.keys import Actor, Principal
from kcgateway.risk import (
    LimitOverrides,
    Limits,
    StateChange,
    TradingState,
    TradingStates,
    resolve_limits,
)
from kcgateway.risk.model import Level
from kcgateway.store.database import Database
from kcgateway.store.tables import (
    BlockedSymbolRow,
    ExchangeAccount,
    GatewayKey,
    RiskGeneration,
    RiskLimitRow,
    RiskStateRow,
    Tenant,
)

log = logging.getLogger("kcgateway.gateway.risk_control")
Now = Callable[[], datetime]
ACTIVE = TradingState.ACTIVE
HALTED = TradingState.HALTED
#: the gateway level's only target
GATEWAY = ""
_ALL_ACTIVE = TradingStates()
#: resolved limits kept per (tenant, account, key) before the cache starts over
MAX_CACHED = 100_000


class NoSuchTarget(LookupError):
    """Nothing the caller may act on has this level and name (another tenant's looks the same)."""

    def __init__(self, level: Level, target: str) -> None:
        super().__init__(f"no {level.value} {target!r} here")
        self.level = level
        self.target = target


@dataclass(frozen=True, slots=True)
class CancelReport:
    """What cancelling the open orders under a halted target did.

    ``cancelled``: orders the exchange cancelled; ``failures``: one sentence per account and
    market whose cancel-all failed (never a secret), empty when everything was cancelled.
    """

    cancelled: int = 0
    failures: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when nothing failed."""
        return not self.failures


class OpenOrderCanceller(Protocol):
    """Cancels every open order under a target (wired to the order router's cancel-all calls).

    ``target`` is the canonical id: a tenant, account or key id, "" for the gateway.
    """

    async def cancel_open(self, level: Level, target: str) -> CancelReport:
        """Cancel every open order under ``level``/``target``; never raises for one failure."""
        ...


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved level and target: ``target`` is the id, ``tenant_id`` None for the gateway."""

    level: Level
    target: str
    tenant_id: str | None

    @property
    def subject(self) -> str:
        """The audit subject: ``gateway``, ``tenant:<id>``, ``account:<id>``, ``key:<id>``."""
        return "gateway" if self.level is Level.GATEWAY else f"{self.level.value}:{self.target}"


@dataclass(frozen=True, slots=True)
class StateView:
    """The state of one target, who set it, why and since when (ACTIVE: ``since`` None)."""

    level: Level
    target: str
    tenant_id: str | None
    state: TradingState
    reason: str = ""
    actor: str = ""
    since: datetime | None = None
    by_operator: bool = False


@dataclass(frozen=True, slots=True)
class HaltResult:
    """The halted state, and what cancelling its open orders did (None: not asked)."""

    state: StateView
    cancel: CancelReport | None


@dataclass(frozen=True, slots=True)
class BlockedSymbol:
    """A symbol on the gateway-wide deny-list."""

    symbol: str
    reason: str
    actor: str
    since: datetime


@dataclass(frozen=True, slots=True)
class LimitsView:
    """A level's own overrides and the limits in force there (resolved from the gateway down).

    For a key, ``effective`` folds gateway, tenant and key (an order adds its account's).
    """

    level: Level
    target: str
    tenant_id: str | None
    overrides: LimitOverrides
    effective: Limits
    actor: str | None = None
    reason: str | None = None
    updated_at: datetime | None = None


def _state_view(row: RiskStateRow) -> StateView:
    return StateView(
        Level(row.level), row.target, row.tenant_id, TradingState(row.state), row.reason,
        row.actor, row.updated_at, row.by_operator,
    )  # fmt: skip


def _is_admin(actor: Actor) -> bool:
    return not isinstance(actor, Principal) or Scope.ADMIN in actor.scopes


def _authorize(actor: Actor, level: Level) -> None:
    """Forbidden unless the actor holds risk:manage (and admin for the gateway level)."""
    if isinstance(actor, Principal) and not actor.allows(Scope.RISK_MANAGE):
        raise Forbidden(
            "this key lacks the risk:manage scope: use a key that holds it", field="scopes"
        )
    if level is Level.GATEWAY and not _is_admin(actor):
        raise Forbidden(
            "the gateway level is the operator's: use an admin key or `kcgateway risk`",
            field="level",
        )


def _reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise ValidationError(
            "a reason is required: say why (it is kept in the audit log)", field="reason"
        )
    return check_text(reason, "reason", max_len=1000)


def _symbol(symbol: str) -> str:
    clean = symbol.strip().upper()
    risk_overrides.check_overrides(LimitOverrides(symbol_deny=frozenset({clean})))
    return clean


class RiskControl:
    """Holds the trading states, limit overrides and blocked symbols of every level."""

    def __init__(
        self,
        db: Database,
        *,
        gateway_limits: Limits | None = None,
        canceller: OpenOrderCanceller | None = None,
        now: Now = lambda: datetime.now(UTC),
        refresh_every_s: float = 0.5,
    ) -> None:
        self._db = db
        self._base = gateway_limits if gateway_limits is not None else Limits()
        self.canceller = canceller
        self._now = now
        self.refresh_every_s = refresh_every_s
        self._loaded = False
        self._generation = -1
        self._states: dict[tuple[Level, str], TradingState] = {}
        self._overrides: dict[tuple[Level, str], LimitOverrides] = {}
        self._blocked: frozenset[str] = frozenset()
        self._gateway = self._base
        self._resolved: dict[tuple[str, str, str], Limits] = {}
        self._task: asyncio.Task[None] | None = None

    # ---- the hot path: memory only -------------------------------------------------------

    def states_for(self, tenant_id: str, account_id: str, key_id: str) -> TradingStates:
        """The four states that cover an order (dictionary lookups; no database read)."""
        if not self._loaded:
            raise ConfigError(
                "the risk states are not loaded: call `await RiskControl.load()` at start"
            )
        states = self._states
        if not states:
            return _ALL_ACTIVE
        return TradingStates(
            states.get((Level.GATEWAY, GATEWAY), ACTIVE),
            states.get((Level.TENANT, tenant_id), ACTIVE),
            states.get((Level.ACCOUNT, account_id), ACTIVE),
            states.get((Level.KEY, key_id), ACTIVE),
        )

    def limits_for(self, tenant_id: str, account_id: str, key_id: str) -> Limits:
        """The limits resolved gateway -> tenant -> account -> key (cached; no database read)."""
        if not self._loaded:
            raise ConfigError(
                "the risk limits are not loaded: call `await RiskControl.load()` at start"
            )
        found = self._resolved.get((tenant_id, account_id, key_id))
        if found is not None:
            return found
        get = self._overrides.get
        limits = resolve_limits(
            self._gateway,
            get((Level.TENANT, tenant_id)),
            get((Level.ACCOUNT, account_id)),
            get((Level.KEY, key_id)),
        )
        if len(self._resolved) >= MAX_CACHED:
            self._resolved.clear()
        self._resolved[(tenant_id, account_id, key_id)] = limits
        return limits

    @property
    def gateway_limits(self) -> Limits:
        """The gateway's complete limits (blocked symbols included in ``symbol_deny``)."""
        return self._gateway

    @property
    def blocked(self) -> frozenset[str]:
        """The symbols blocked gateway-wide."""
        return self._blocked

    # ---- loading and refreshing ----------------------------------------------------------

    async def load(self) -> None:
        """Read every state, override and blocked symbol (at start; after a change elsewhere)."""
        async with self._db.read() as session:
            generation = await session.scalar(select(RiskGeneration.generation))
            state_rows = (await session.scalars(select(RiskStateRow))).all()
            limit_rows = (await session.scalars(select(RiskLimitRow))).all()
            symbols = (await session.scalars(select(BlockedSymbolRow.symbol))).all()
        states = {(Level(r.level), r.target): TradingState(r.state) for r in state_rows}
        overrides = {
            (Level(r.level), r.target): risk_overrides.from_json(r.overrides) for r in limit_rows
        }
        self._states = {k: v for k, v in states.items() if v is not ACTIVE}
        self._overrides = overrides
        self._blocked = frozenset(symbols)
        self._rebuild_gateway()
        self._generation = int(generation or 0)
        self._loaded = True

    async def refresh(self) -> bool:
        """Reload when another process changed something; True when it did."""
        async with self._db.read() as session:
            generation = int(await session.scalar(select(RiskGeneration.generation)) or 0)
        if self._loaded and generation == self._generation:
            return False
        await self.load()
        return True

    def start(self) -> None:
        """Keep refreshing in the background (call from a running event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # a failed read is retried on the next tick; it never stops
                log.exception("risk control refresh failed")
            await asyncio.sleep(self.refresh_every_s)

    async def aclose(self) -> None:
        """Stop the background refresh."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _ensure_loaded(self) -> None:
        if not self._loaded:
            await self.load()

    def _rebuild_gateway(self) -> None:
        own = risk_overrides.apply_to_gateway(
            self._base, self._overrides.get((Level.GATEWAY, GATEWAY))
        )
        if self._blocked:
            own = risk_overrides.replace_deny(own, own.symbol_deny | self._blocked)
        self._gateway = own
        self._resolved = {}

    async def _bump(self, session: AsyncSession) -> int:
        """Bump the generation in the caller's transaction; the new value."""
        query = (
            update(RiskGeneration)
            .where(RiskGeneration.id == 1)
            .values(generation=RiskGeneration.generation + 1)
            .returning(RiskGeneration.generation)
        )
        bumped = await session.scalar(query)
        if bumped is None:  # the row was lost: start it again
            session.add(RiskGeneration(id=1, generation=1))
            return 1
        return int(bumped)

    async def _settle(self, generation: int) -> None:
        """After a commit: keep up with the generation, or reload if another process moved it."""
        if generation == self._generation + 1:
            self._generation = generation
        else:
            await self.load()

    # ---- targets ---------------------------------------------------------------------------

    async def resolve(
        self, level: Level | str, target: str, *, actor: Actor, tenant: str | None = None
    ) -> Target:
        """The level and target as ids, if the actor may act on it.

        ``target``: a tenant id (or name, for the operator), an account id or name, a key id;
        ignored for the gateway. ``tenant`` (the operator's): the tenant an account name is
        looked up in. Forbidden without the scope (or admin, for the gateway); NoSuchTarget for
        what does not exist or belongs to another tenant.
        """
        level = _level(level)
        _authorize(actor, level)
        if level is Level.GATEWAY:
            return Target(level, GATEWAY, None)
        own = actor.tenant_id if isinstance(actor, Principal) else None
        text = target.strip()
        if not text and level is Level.TENANT and own is not None:
            text = own
        async with self._db.read() as session:
            found = await _lookup(session, level, text, own if own is not None else tenant)
        if found is None or (own is not None and found.tenant_id != own):
            raise NoSuchTarget(level, target)
        return found

    # ---- trading states ------------------------------------------------------------------

    async def halt(
        self,
        level: Level | str,
        target: str,
        reason: str,
        actor: Actor,
        cancel_open: bool = False,
        *,
        tenant: str | None = None,
    ) -> HaltResult:
        """The kill switch: HALTED at once (in memory first), persisted, audited.

        With ``cancel_open`` the canceller then cancels every open order under the target; a
        failure there leaves the halt in place and is reported in :class:`CancelReport`. If the
        write fails, the error is raised and this process stays halted until its next reload.
        """
        reason = _reason(reason)
        where = await self.resolve(level, target, actor=actor, tenant=tenant)
        await self._ensure_loaded()
        self._states[(where.level, where.target)] = HALTED  # refuse from now on
        view = await self._write_state(where, HALTED, reason, actor, AuditAction.RISK_HALTED)
        report = await self._cancel(where) if cancel_open else None
        return HaltResult(view, report)

    async def resume(
        self,
        level: Level | str,
        target: str,
        reason: str,
        actor: Actor,
        *,
        tenant: str | None = None,
    ) -> StateView:
        """Back to ACTIVE: persisted and audited first, relaxed in memory once committed.

        Forbidden for a key without ``admin`` when the operator or the risk engine set the state.
        """
        reason = _reason(reason)
        where = await self.resolve(level, target, actor=actor, tenant=tenant)
        await self._ensure_loaded()
        now = self._now()
        async with self._db.write() as session:
            row = await session.get(RiskStateRow, (where.level.value, where.target))
            if row is None:
                self._states.pop((where.level, where.target), None)
                return StateView(where.level, where.target, where.tenant_id, ACTIVE)
            if row.by_operator and not _is_admin(actor):
                raise Forbidden(
                    f"{where.subject} was set {row.state} by {row.actor}: only an admin key or "
                    "the operator (`kcgateway risk resume`) can lift it",
                    field="target",
                )
            await session.delete(row)
            detail = {"from": row.state, "to": ACTIVE.value, "reason": reason}
            await self._audit(
                session, AuditAction.RISK_RESUMED, where=where, actor=actor, now=now, detail=detail
            )
            generation = await self._bump(session)
        self._states.pop((where.level, where.target), None)
        await self._settle(generation)
        return StateView(where.level, where.target, where.tenant_id, ACTIVE)

    async def set_state(
        self,
        level: Level | str,
        target: str,
        state: TradingState,
        reason: str,
        actor: Actor,
        *,
        tenant: str | None = None,
    ) -> StateView:
        """Set any state (REDUCING, say), persisted and audited.

        A stricter state takes effect at once, a looser one after the commit, like
        :meth:`halt` and :meth:`resume`.
        """
        if state is ACTIVE:
            return await self.resume(level, target, reason, actor, tenant=tenant)
        if state is HALTED:
            return (await self.halt(level, target, reason, actor, tenant=tenant)).state
        reason = _reason(reason)
        where = await self.resolve(level, target, actor=actor, tenant=tenant)
        await self._ensure_loaded()
        key = (where.level, where.target)
        current = self._states.get(key, ACTIVE)
        if state.rank >= current.rank:
            self._states[key] = state
        view = await self._write_state(where, state, reason, actor, AuditAction.RISK_STATE_SET)
        self._states[key] = state
        return view

    async def apply(self, changes: Iterable[StateChange], actor: Actor) -> list[StateView]:
        """The risk engine's state changes (drawdown, detector): each only ever TIGHTENS.

        A change to a looser state than the one held is skipped (the engine never lifts a
        halt; a person resumes it with a reason).
        """
        applied: list[StateView] = []
        for change in changes:
            await self._ensure_loaded()
            current = self._states.get((change.level, _canonical(change.level, change.target)))
            if current is not None and current.rank >= change.state.rank:
                continue
            applied.append(
                await self.set_state(
                    change.level, change.target, change.state, change.reason, actor
                )
            )
        return applied

    async def _write_state(
        self, where: Target, state: TradingState, reason: str, actor: Actor, action: AuditAction
    ) -> StateView:
        now = self._now()
        async with self._db.write() as session:
            row = await session.get(RiskStateRow, (where.level.value, where.target))
            before = ACTIVE.value if row is None else row.state
            if row is None:
                row = RiskStateRow(level=where.level.value, target=where.target)
                session.add(row)
            row.tenant_id = where.tenant_id
            row.state = state.value
            row.reason = reason
            row.actor = actor.name
            row.by_operator = not isinstance(actor, Principal)
            row.updated_at = now
            detail = {"from": before, "to": state.value, "reason": reason}
            await self._audit(session, action, where=where, actor=actor, now=now, detail=detail)
            generation = await self._bump(session)
            view = _state_view(row)
        await self._settle(generation)
        return view

    async def _cancel(self, where: Target) -> CancelReport:
        if self.canceller is None:
            return CancelReport(
                failures=("open orders were not cancelled: no order canceller is configured",)
            )
        try:
            return await self.canceller.cancel_open(where.level, where.target)
        except Exception as exc:  # the halt stands whatever the cancel does
            log.exception("cancelling the open orders of %s failed", where.subject)
            return CancelReport(
                failures=(f"cancelling the open orders failed ({type(exc).__name__}): retry",)
            )

    async def states(self, *, actor: Actor) -> list[StateView]:
        """Every state other than ACTIVE the actor may see, widest level first.

        A key sees the gateway's and its own tenant's.
        """
        if isinstance(actor, Principal) and not actor.allows(Scope.RISK_MANAGE):
            _authorize(actor, Level.TENANT)
        query = select(RiskStateRow)
        if isinstance(actor, Principal):
            query = query.where(
                (RiskStateRow.tenant_id == actor.tenant_id) | (RiskStateRow.level == "gateway")
            )
        async with self._db.read() as session:
            rows = (await session.scalars(query)).all()
        order = list(Level)
        views = [_state_view(r) for r in rows]
        return sorted(views, key=lambda v: (order.index(v.level), v.target))

    # ---- blocked symbols -----------------------------------------------------------------

    async def block_symbol(self, symbol: str, actor: Actor, reason: str) -> BlockedSymbol:
        """Add ``symbol`` to the gateway deny-list at once (audited); the operator's or admin's."""
        reason = _reason(reason)
        _authorize(actor, Level.GATEWAY)
        clean = _symbol(symbol)
        await self._ensure_loaded()
        self._blocked = self._blocked | {clean}
        self._rebuild_gateway()
        now = self._now()
        async with self._db.write() as session:
            row = await session.get(BlockedSymbolRow, clean)
            if row is None:
                row = BlockedSymbolRow(symbol=clean)
                session.add(row)
            row.reason, row.actor, row.blocked_at = reason, actor.name, now
            where = Target(Level.GATEWAY, GATEWAY, None)
            detail = {"symbol": clean, "reason": reason}
            await self._audit(
                session,
                AuditAction.RISK_SYMBOL_BLOCKED,
                where=where,
                actor=actor,
                now=now,
                detail=detail,
            )
            generation = await self._bump(session)
        await self._settle(generation)
        return BlockedSymbol(clean, reason, actor.name, now)

    async def unblock_symbol(self, symbol: str, actor: Actor, reason: str) -> bool:
        """Take ``symbol`` off the deny-list (audited); False when it was not blocked."""
        reason = _reason(reason)
        _authorize(actor, Level.GATEWAY)
        clean = _symbol(symbol)
        await self._ensure_loaded()
        now = self._now()
        async with self._db.write() as session:
            gone = await session.execute(
                delete(BlockedSymbolRow).where(BlockedSymbolRow.symbol == clean)
            )
            if not gone.rowcount:  # type: ignore[attr-defined]
                return False
            where = Target(Level.GATEWAY, GATEWAY, None)
            detail = {"symbol": clean, "reason": reason}
            await self._audit(
                session,
                AuditAction.RISK_SYMBOL_UNBLOCKED,
                where=where,
                actor=actor,
                now=now,
                detail=detail,
            )
            generation = await self._bump(session)
        self._blocked = self._blocked - {clean}
        self._rebuild_gateway()
        await self._settle(generation)
        return True

    async def blocked_symbols(self) -> list[BlockedSymbol]:
        """The blocked symbols, oldest first."""
        query = select(BlockedSymbolRow).order_by(BlockedSymbolRow.blocked_at)
        async with self._db.read() as session:
            rows = (await session.scalars(query)).all()
        return [BlockedSymbol(r.symbol, r.reason, r.actor, r.blocked_at) for r in rows]

    # ---- limits ----------------------------------------------------------------------------

    async def limits(
        self, level: Level | str, target: str, *, actor: Actor, tenant: str | None = None
    ) -> LimitsView:
        """A level's own overrides and the limits in force there."""
        where = await self.resolve(level, target, actor=actor, tenant=tenant)
        async with self._db.read() as session:
            row = await session.get(RiskLimitRow, (where.level.value, where.target))
        await self._ensure_loaded()
        own = risk_overrides.from_json(row.overrides) if row is not None else LimitOverrides()
        return LimitsView(
            where.level, where.target, where.tenant_id, own, self._effective(where),
            None if row is None else row.actor, None if row is None else row.reason,
            None if row is None else row.updated_at,
        )  # fmt: skip

    async def set_limits(
        self,
        level: Level | str,
        target: str,
        overrides: LimitOverrides,
        reason: str,
        actor: Actor,
        *,
        tenant: str | None = None,
    ) -> LimitsView:
        """REPLACE the level's overrides (empty: none), persisted and audited with the change.

        A tenant, account or key can only tighten what is above it; the gateway level (admin)
        replaces the gateway's own limits field by field.
        """
        reason = _reason(reason)
        overrides = risk_overrides.check_overrides(overrides)
        where = await self.resolve(level, target, actor=actor, tenant=tenant)
        await self._ensure_loaded()
        now = self._now()
        stored = risk_overrides.to_json(overrides)
        async with self._db.write() as session:
            row = await session.get(RiskLimitRow, (where.level.value, where.target))
            before = {} if row is None else dict(row.overrides)
            if risk_overrides.is_empty(overrides):
                if row is not None:
                    await session.delete(row)
            else:
                if row is None:
                    row = RiskLimitRow(level=where.level.value, target=where.target)
                    session.add(row)
                row.tenant_id, row.overrides, row.reason = where.tenant_id, stored, reason
                row.actor, row.updated_at = actor.name, now
            detail = {"before": before, "after": stored, "reason": reason}
            await self._audit(
                session,
                AuditAction.RISK_LIMITS_SET,
                where=where,
                actor=actor,
                now=now,
                detail=detail,
            )
            generation = await self._bump(session)
        key = (where.level, where.target)
        if risk_overrides.is_empty(overrides):
            self._overrides.pop(key, None)
        else:
            self._overrides[key] = overrides
        self._rebuild_gateway()
        await self._settle(generation)
        return LimitsView(
            where.level, where.target, where.tenant_id, overrides, self._effective(where),
            actor.name, reason, now,
        )  # fmt: skip

    def _effective(self, where: Target) -> Limits:
        get = self._overrides.get
        if where.level is Level.GATEWAY:
            return self._gateway
        if where.level is Level.TENANT:
            return resolve_limits(self._gateway, get((Level.TENANT, where.target)))
        tenant = get((Level.TENANT, where.tenant_id or ""))
        return resolve_limits(self._gateway, tenant, get((where.level, where.target)))

    async def _audit(
        self,
        session: AsyncSession,
        action: AuditAction,
        *,
        where: Target,
        actor: Actor,
        now: datetime,
        detail: Mapping[str, object],
    ) -> None:
        await record(
            session, action, actor=actor.name, subject=where.subject, now=now,
            tenant_id=where.tenant_id, detail={"level": where.level.value, **detail},
        )  # fmt: skip


def _level(level: Level | str) -> Level:
    if isinstance(level, Level):
        return level
    try:
        return Level(str(level).strip().lower())
    except ValueError:
        valid = ", ".join(lv.value for lv in Level)
        raise ValidationError(
            f"unknown level {level!r}: use one of {valid}", field="level"
        ) from None


def _canonical(level: Level, target: str) -> str:
    return GATEWAY if level is Level.GATEWAY else target


async def _lookup(
    session: AsyncSession, level: Level, text: str, tenant: str | None
) -> Target | None:
    """The target by id (or by name within ``tenant``, for tenants and accounts)."""
    if not text:
        return None
    if level is Level.TENANT:
        row_t = await session.get(Tenant, text)
        if row_t is None:
            row_t = await session.scalar(select(Tenant).where(Tenant.name == text))
        return None if row_t is None else Target(level, row_t.id, row_t.id)
    if level is Level.ACCOUNT:
        row_a = await session.get(ExchangeAccount, text)
        if row_a is None and tenant is not None:
            row_a = await session.scalar(
                select(ExchangeAccount).where(
                    ExchangeAccount.tenant_id == tenant, ExchangeAccount.name == text
                )
            )
        return None if row_a is None else Target(level, row_a.id, row_a.tenant_id)
    row_k = await session.get(GatewayKey, text)
    return None if row_k is None else Target(level, row_k.key_id, row_k.tenant_id)
