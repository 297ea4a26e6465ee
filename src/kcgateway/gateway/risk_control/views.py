"""What the risk control plane hands out: views, reports, the canceller protocol, its errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from kcgateway.errors import NoSuchObject
from kcgateway.risk import LimitOverrides, Limits, TradingState
from kcgateway.risk.model import Level
from kcgateway.store.tables import RiskStateRow

#: where an operator finds the names a level takes (the CLI prints it; HTTP answers never echo)
_WHERE_TO_LOOK = {
    "tenant": "see `kcgateway tenants list`",
    "account": "see `kcgateway accounts list --tenant NAME` (a name needs --tenant)",
    "key": "see `kcgateway keys list --tenant NAME`",
}


class NoSuchTarget(NoSuchObject):
    """Nothing the caller may act on has this level and name (another tenant's looks the same)."""

    def __init__(self, level: Level, target: str) -> None:
        super().__init__(level.value, name=target, hint=_WHERE_TO_LOOK.get(level.value, ""))
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


def state_view(row: RiskStateRow) -> StateView:
    """The view of a stored state row."""
    return StateView(
        Level(row.level), row.target, row.tenant_id, TradingState(row.state), row.reason,
        row.actor, row.updated_at, row.by_operator,
    )  # fmt: skip
