"""The :class:`RiskControl` service (see the package docstring for what it guarantees)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.errors import ConfigError, Forbidden
from kcgateway.gateway import risk_overrides
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.gateway.keys import Actor, Operator, Principal
from kcgateway.gateway.risk_control.access import (
    GATEWAY,
    authorize,
    canonical,
    check_reason,
    check_symbol,
    is_admin,
    lookup,
    parse_level,
)
from kcgateway.gateway.risk_control.views import (
    BlockedSymbol,
    CancelReport,
    HaltResult,
    LimitsView,
    NoSuchTarget,
    OpenOrderCanceller,
    StateView,
    Target,
    state_view,
)
from kcgateway.risk import (
    ActionKind,
    DrawdownVerdict,
    LimitOverrides,
    Limits,
    Signal,
    StateChange,
    TradingState,
    TradingStates,
    resolve_limits,
)
from kcgateway.risk.model import Level
from kcgateway.store.database import Database
from kcgateway.store.tables import (
    BlockedSymbolRow,
    RiskGeneration,
    RiskLimitRow,
    RiskStateRow,
)
from kcgateway.tasks import stop_task

log = logging.getLogger("kcgateway.gateway.risk_control")
Now = Callable[[], datetime]
ACTIVE = TradingState.ACTIVE
HALTED = TradingState.HALTED
#: who the risk engine's changes are recorded as (an operator: only admin lifts them)
ENGINE = Operator("risk engine")
_ALL_ACTIVE = TradingStates()
#: resolved limits kept per (tenant, account, key) before the cache starts over
MAX_CACHED = 100_000


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
        #: the non-ACTIVE states, one dictionary per level (string keys: the fastest lookup)
        self._states: dict[Level, dict[str, TradingState]] = {lv: {} for lv in Level}
        #: the same four dictionaries in level order, for the hot path (no enum hashing)
        self._levels = tuple(self._states[lv] for lv in Level)
        self._overrides: dict[tuple[Level, str], LimitOverrides] = {}
        self._blocked: frozenset[str] = frozenset()
        self._gateway = self._base
        self._resolved: dict[tuple[str, str, str], Limits] = {}
        self._task: asyncio.Task[None] | None = None
        #: the engine's changes applied in memory and not yet persisted (kept over reloads)
        self._pending: dict[tuple[Level, str], TradingState] = {}
        self._pending_blocks: set[str] = set()
        self._writes: set[asyncio.Task[None]] = set()
        #: told of the generation each change made here committed (the change bus)
        self.on_change: Callable[[int], None] | None = None

    # ---- the hot path: memory only -------------------------------------------------------

    def states_for(self, tenant_id: str, account_id: str, key_id: str) -> TradingStates:
        """The four states that cover an order (dictionary lookups; no database read)."""
        if not self._loaded:
            raise ConfigError(
                "the risk states are not loaded: call `await RiskControl.load()` at start"
            )
        gateway, tenants, accounts, keys = self._levels
        if not (gateway or tenants or accounts or keys):
            return _ALL_ACTIVE
        return _combined(
            gateway.get(GATEWAY, ACTIVE),
            tenants.get(tenant_id, ACTIVE),
            accounts.get(account_id, ACTIVE),
            keys.get(key_id, ACTIVE),
        )

    def limits_for(self, tenant_id: str, account_id: str, key_id: str | None) -> Limits:
        """The limits resolved gateway -> tenant -> account -> key (cached; no database read)."""
        if not self._loaded:
            raise ConfigError(
                "the risk limits are not loaded: call `await RiskControl.load()` at start"
            )
        key_id = key_id or ""
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
        by_level: dict[Level, dict[str, TradingState]] = {lv: {} for lv in Level}
        for (level, target), value in states.items():
            if value is not ACTIVE:
                by_level[level][target] = value
        for (level, target), value in self._pending.items():  # not yet written: keep them
            if value.rank > by_level[level].get(target, ACTIVE).rank:
                by_level[level][target] = value
        self._states = by_level
        self._levels = tuple(by_level[lv] for lv in Level)
        self._overrides = overrides
        self._blocked = frozenset(symbols) | self._pending_blocks
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
        """Stop the background refresh (after the engine's pending writes)."""
        await self.drain()
        task, self._task = self._task, None
        await stop_task(task)

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
        if self.on_change is not None:
            self.on_change(generation)
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
        level = parse_level(level)
        authorize(actor, level)
        if level is Level.GATEWAY:
            return Target(level, GATEWAY, None)
        own = actor.tenant_id if isinstance(actor, Principal) else None
        text = target.strip()
        if not text and level is Level.TENANT and own is not None:
            text = own
        async with self._db.read() as session:
            found = await lookup(session, level, text, own if own is not None else tenant)
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
        reason = check_reason(reason)
        where = await self.resolve(level, target, actor=actor, tenant=tenant)
        await self._ensure_loaded()
        self._states[where.level][where.target] = HALTED  # refuse from now on
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
        reason = check_reason(reason)
        where = await self.resolve(level, target, actor=actor, tenant=tenant)
        await self._ensure_loaded()
        self._refuse_halted_key(actor, "resume")
        now = self._now()
        async with self._db.write() as session:
            row = await session.get(RiskStateRow, (where.level.value, where.target))
            if row is None:
                self._states[where.level].pop(where.target, None)
                return StateView(where.level, where.target, where.tenant_id, ACTIVE)
            if row.by_operator and not is_admin(actor):
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
        self._states[where.level].pop(where.target, None)
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
        reason = check_reason(reason)
        where = await self.resolve(level, target, actor=actor, tenant=tenant)
        await self._ensure_loaded()
        held = self._states[where.level]
        if state.rank >= held.get(where.target, ACTIVE).rank:
            held[where.target] = state
        view = await self._write_state(where, state, reason, actor, AuditAction.RISK_STATE_SET)
        held[where.target] = state
        return view

    async def apply_changes(
        self, changes: Iterable[StateChange], actor: Actor = ENGINE
    ) -> list[StateView]:
        """State changes (drawdown, detector), awaited: each only ever TIGHTENS.

        A change to a looser state than the one held is skipped (the engine never lifts a
        halt; a person resumes it with a reason).
        """
        applied: list[StateView] = []
        for change in changes:
            await self._ensure_loaded()
            target = canonical(change.level, change.target)
            current = self._states[change.level].get(target)
            if current is not None and current.rank >= change.state.rank:
                continue
            applied.append(
                await self.set_state(
                    change.level, change.target, change.state, change.reason, actor
                )
            )
        return applied

    # ---- the risk engine's callbacks: synchronous, in memory at once, persisted behind ----

    def apply(self, change: StateChange) -> None:
        """The engine's ``on_state_change``: tighten at once in memory, persist behind.

        The write and its audit record (actor ``risk engine``) run in the background; a looser
        change than the one held is ignored; until written, a reload keeps it.
        """
        target = canonical(change.level, change.target)
        held = self._states[change.level]
        if held.get(target, ACTIVE).rank >= change.state.rank:
            return
        held[target] = change.state
        self._pending[(change.level, target)] = change.state
        self._spawn(self._persist_change(change, target))

    def drawdown(self, tenant_id: str, account_id: str, verdict: DrawdownVerdict) -> None:
        """The engine's ``on_drawdown``: an account-level move for a verdict other than ACTIVE."""
        if verdict.state is not ACTIVE:
            reason = ": ".join(p for p in (verdict.code, verdict.reason) if p)
            self.apply(StateChange(Level.ACCOUNT, account_id, verdict.state, reason))

    def apply_signal(self, signal: Signal) -> None:
        """A detector signal's actions: halt keys and accounts, block symbols.

        Each takes effect at once and is persisted and audited behind (alerting is the alert
        store's).
        """
        reason = f"{signal.code}: {signal.message}"
        for action in signal.actions:
            if action.kind is ActionKind.HALT_KEY:
                self.apply(StateChange(Level.KEY, action.target, HALTED, reason))
            elif action.kind is ActionKind.HALT_ACCOUNT:
                self.apply(StateChange(Level.ACCOUNT, action.target, HALTED, reason))
            elif action.kind is ActionKind.BLOCK_SYMBOL and action.target:
                self._block_now(action.target, reason)

    def _block_now(self, symbol: str, reason: str) -> None:
        clean = symbol.strip().upper()
        if clean in self._blocked:
            return
        self._blocked = self._blocked | {clean}
        self._pending_blocks.add(clean)
        self._rebuild_gateway()
        self._spawn(self._persist_block(clean, reason))

    def _spawn(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _persist_change(self, change: StateChange, target: str) -> None:
        key = (change.level, target)
        try:
            where = await self.resolve(change.level, target, actor=ENGINE)
            action = (
                AuditAction.RISK_HALTED if change.state is HALTED else AuditAction.RISK_STATE_SET
            )
            await self._write_state(
                where,
                change.state,
                check_reason(change.reason or f"the risk engine moved it to {change.state.value}"),
                ENGINE,
                action,
            )
        except Exception:  # kept in memory: the refusal holds in this process
            log.exception("persisting the risk engine's %s of %s failed", change.state, target)
        finally:
            if self._pending.get(key) is change.state:
                del self._pending[key]

    async def _persist_block(self, symbol: str, reason: str) -> None:
        try:
            await self.block_symbol(symbol, ENGINE, reason)
        except Exception:
            log.exception("persisting the block of %s failed", symbol)
        finally:
            self._pending_blocks.discard(symbol)

    async def drain(self) -> None:
        """Wait for the engine's changes still being written (tests, shutdown)."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    def _refuse_halted_key(self, actor: Actor, verb: str) -> None:
        """Forbidden when the acting key is itself halted (a stolen key cannot free itself)."""
        if not isinstance(actor, Principal):
            return
        if self._states[Level.KEY].get(actor.key_id) is HALTED:
            raise Forbidden(
                f"this key is halted: it cannot {verb}; use another key of your tenant with "
                "risk:manage, or ask the operator",
                field="key",
            )

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
            view = state_view(row)
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
            authorize(actor, Level.TENANT)
        query = select(RiskStateRow)
        if isinstance(actor, Principal):
            query = query.where(
                (RiskStateRow.tenant_id == actor.tenant_id) | (RiskStateRow.level == "gateway")
            )
        async with self._db.read() as session:
            rows = (await session.scalars(query)).all()
        order = list(Level)
        views = [state_view(r) for r in rows]
        return sorted(views, key=lambda v: (order.index(v.level), v.target))

    # ---- blocked symbols -----------------------------------------------------------------

    async def block_symbol(self, symbol: str, actor: Actor, reason: str) -> BlockedSymbol:
        """Add ``symbol`` to the gateway deny-list at once (audited); the operator's or admin's."""
        reason = check_reason(reason)
        authorize(actor, Level.GATEWAY)
        clean = check_symbol(symbol)
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
            generation = await self._symbol_changed(
                session, AuditAction.RISK_SYMBOL_BLOCKED, clean, reason, actor, now
            )
        await self._settle(generation)
        return BlockedSymbol(clean, reason, actor.name, now)

    async def unblock_symbol(self, symbol: str, actor: Actor, reason: str) -> bool:
        """Take ``symbol`` off the deny-list (audited); False when it was not blocked."""
        reason = check_reason(reason)
        authorize(actor, Level.GATEWAY)
        clean = check_symbol(symbol)
        await self._ensure_loaded()
        now = self._now()
        async with self._db.write() as session:
            gone = await session.execute(
                delete(BlockedSymbolRow).where(BlockedSymbolRow.symbol == clean)
            )
            if not gone.rowcount:  # type: ignore[attr-defined]
                return False
            generation = await self._symbol_changed(
                session, AuditAction.RISK_SYMBOL_UNBLOCKED, clean, reason, actor, now
            )
        self._blocked = self._blocked - {clean}
        self._rebuild_gateway()
        await self._settle(generation)
        return True

    async def _symbol_changed(  # noqa: PLR0917 - one audited change, told in full
        self,
        session: AsyncSession,
        action: AuditAction,
        symbol: str,
        reason: str,
        actor: Actor,
        now: datetime,
    ) -> int:
        """Audit a block-list change at the gateway level and bump the generation."""
        where = Target(Level.GATEWAY, GATEWAY, None)
        detail = {"symbol": symbol, "reason": reason}
        await self._audit(session, action, where=where, actor=actor, now=now, detail=detail)
        return await self._bump(session)

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
        reason = check_reason(reason)
        overrides = risk_overrides.check_overrides(overrides)
        where = await self.resolve(level, target, actor=actor, tenant=tenant)
        await self._ensure_loaded()
        self._refuse_halted_key(actor, "change limits")
        now = self._now()
        stored = risk_overrides.to_json(overrides)
        async with self._db.write() as session:
            row = await session.get(RiskLimitRow, (where.level.value, where.target))
            if row is not None and row.by_operator and not is_admin(actor):
                raise Forbidden(
                    f"the limits of {where.subject} were set by {row.actor}: only an admin key "
                    "or the operator (`kcgateway risk limits set`) can change them",
                    field="target",
                )
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
                row.by_operator = not isinstance(actor, Principal)
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


def _combined(
    gateway: TradingState, tenant: TradingState, account: TradingState, key: TradingState
) -> TradingStates:
    """The TradingStates of four states; the all-ACTIVE one (nearly every order) is shared."""
    if gateway is ACTIVE and tenant is ACTIVE and account is ACTIVE and key is ACTIVE:
        return _ALL_ACTIVE
    return TradingStates(gateway, tenant, account, key)
