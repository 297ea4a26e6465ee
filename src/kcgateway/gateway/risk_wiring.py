"""What the risk engine hands on, applied: state changes and signals to RiskControl, then alerts.

The engine (:mod:`kcgateway.gateway.risk_engine`) calls its callbacks synchronously, before the
decision is returned. :class:`RiskHandlers` gives it three:

- ``on_state_change``: this order's account or key moved (drawdown, detector): tightened at
  once in memory by :meth:`RiskControl.apply` (persisted and audited behind), and an alert;
- ``on_drawdown``: a drawdown verdict found on an equity update (not on an order): the same;
- ``on_signal``: a stolen-key detector signal: its actions (halt keys and accounts, block the
  symbol gateway-wide) through :meth:`RiskControl.apply_signal`, and an alert carrying the
  evidence (the orders, prices and times that make the pattern); the same signal triggered by
  the same key, account and symbol is alerted once per :data:`REPEAT_AFTER` (a halted key's
  next orders match the pattern again).

Alerts are written in the background (the order path never waits for them); a failure to store
one is logged and never undoes the halt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from kcgateway.gateway.alerts import AlertService, Severity
from kcgateway.gateway.risk_control import RiskControl
from kcgateway.risk import (
    DrawdownVerdict,
    Level,
    RecentOrder,
    Signal,
    StateChange,
    TradingState,
)

log = logging.getLogger("kcgateway.gateway.risk")
Now = Callable[[], datetime]
#: the alert kind of a trading-state change the engine made (drawdown, detector)
STATE_ALERT = "risk.state_change"
#: the same signal on the same subjects is alerted again only after this long
REPEAT_AFTER = timedelta(minutes=10)
MAX_REMEMBERED = 10_000


def _order_json(order: RecentOrder) -> dict[str, Any]:
    return {
        "tenantId": order.tenant_id,
        "accountId": order.account_id,
        "keyId": order.key_id,
        "market": order.market.value,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.order_type.value,
        "price": order.price,
        "size": order.size,
        "funds": order.funds,
        "notional": order.notional,
        "at": datetime.fromtimestamp(order.at_ms / 1000, UTC),
    }


def signal_evidence(signal: Signal) -> dict[str, Any]:
    """The alert evidence of a signal: its code, actions, figures and orders."""
    return {
        "code": signal.code,
        "message": signal.message,
        "actions": [{"kind": a.kind.value, "target": a.target} for a in signal.actions],
        "figures": dict(signal.figures),
        "orders": [_order_json(o) for o in signal.orders],
    }


def signal_subjects(signal: Signal) -> list[str]:
    """``account:ID``, ``key:ID``, ``symbol:XYZ``: what the signal acts on, else its orders'."""
    subjects = [f"{a.kind.value.removeprefix('halt_').removeprefix('block_')}:{a.target}"
                for a in signal.actions if a.target]  # fmt: skip
    if not subjects:  # an alert-only signal: whose orders made it
        for o in signal.orders:
            subjects += [f"key:{o.key_id}", f"account:{o.account_id}"]
    return list(dict.fromkeys(subjects))[:100]


def _trigger(signal: Signal) -> tuple[str, ...]:
    """The key, account and symbol of the newest order of the signal (the one just proposed)."""
    if not signal.orders:
        return (signal.message,)
    newest = max(signal.orders, key=lambda o: o.at_ms)
    return (newest.key_id, newest.account_id, newest.symbol)


class RiskHandlers:
    """The engine's callbacks over RiskControl and (when configured) the alert service."""

    def __init__(
        self,
        control: RiskControl,
        alerts: AlertService | None,
        *,
        now: Now = lambda: datetime.now(UTC),
    ) -> None:
        self.control = control
        self.alerts = alerts
        self._now = now
        #: tenant of each account seen, to file an account's alert under its tenant
        self.tenants: dict[str, str] = {}
        self._writes: set[asyncio.Task[None]] = set()
        #: when each (signal code, triggering key, account, symbol) was last alerted: a halted
        #: key's refused orders keep matching the same pattern: one alert, not one per order
        self._alerted: dict[tuple[str, tuple[str, ...]], datetime] = {}
        self.repeat_after = REPEAT_AFTER

    def on_state_change(self, change: StateChange) -> None:
        """Tighten at once (RiskControl ignores a looser one), then alert."""
        before = self._held(change.level, change.target)
        self.control.apply(change)
        if change.state.rank > before.rank:
            self._alert_state(change)

    def on_drawdown(self, tenant_id: str, account_id: str, verdict: DrawdownVerdict) -> None:
        """A drawdown verdict found on an equity update: the account moves, an alert."""
        self.tenants.setdefault(account_id, tenant_id)
        if verdict.state is TradingState.ACTIVE:
            return
        reason = ": ".join(p for p in (verdict.code, verdict.reason) if p)
        self.on_state_change(StateChange(Level.ACCOUNT, account_id, verdict.state, reason))

    def on_signal(self, signal: Signal) -> None:
        """Halt the accounts and keys it names, block its symbol, alert with the evidence."""
        self.control.apply_signal(signal)
        subjects = signal_subjects(signal)
        now = self._now()
        seen = (signal.code, _trigger(signal))
        last = self._alerted.get(seen)
        if last is not None and now - last < self.repeat_after:
            return
        if len(self._alerted) >= MAX_REMEMBERED:
            self._alerted.clear()
        self._alerted[seen] = now
        tenants = {o.tenant_id for o in signal.orders}
        tenant = next(iter(tenants)) if len(tenants) == 1 else None
        self._spawn(
            self._raise(
                signal.code,
                Severity.CRITICAL,
                subjects,
                f"{signal.code}: {signal.message}",
                signal_evidence(signal),
                tenant,
            )
        )

    def _held(self, level: Level, target: str) -> TradingState:
        """The state ``level``/``target`` holds now (before the change)."""
        states = self.control.states_for(
            target if level is Level.TENANT else "",
            target if level is Level.ACCOUNT else "",
            target if level is Level.KEY else "",
        )
        return {
            Level.GATEWAY: states.gateway,
            Level.TENANT: states.tenant,
            Level.ACCOUNT: states.account,
            Level.KEY: states.key,
        }[level]

    def _alert_state(self, change: StateChange) -> None:
        tenant = self.tenants.get(change.target) if change.level is Level.ACCOUNT else None
        severity = Severity.CRITICAL if change.state is TradingState.HALTED else Severity.WARNING
        self._spawn(
            self._raise(
                STATE_ALERT,
                severity,
                [f"{change.level.value}:{change.target}"],
                f"the risk engine moved {change.level.value} {change.target} to "
                f"{change.state.value}: {change.reason}"[:2000],
                {
                    "level": change.level.value,
                    "target": change.target,
                    "state": change.state.value,
                    "reason": change.reason,
                },
                tenant,
            )
        )

    async def _raise(  # noqa: PLR0917 - raise_alert's own shape
        self,
        kind: str,
        severity: Severity,
        subjects: list[str],
        summary: str,
        evidence: dict[str, Any],
        tenant_id: str | None,
    ) -> None:
        if self.alerts is None:
            log.warning("risk alert (no alert service): %s", summary.replace("\n", " ")[:500])
            return
        try:
            await self.alerts.raise_alert(
                kind, severity, subjects, " ".join(summary.split())[:2000], evidence,
                self._now(), tenant_id=tenant_id,
            )  # fmt: skip
        except Exception:  # the halt stands; the alert is only the notice of it
            log.exception("raising the risk alert %s failed", kind)

    def _spawn(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def drain(self) -> None:
        """Wait for the alerts still being written (tests, shutdown)."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)
