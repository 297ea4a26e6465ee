"""The output of the pre-trade check: a :class:`Decision`, and the stable codes it uses.

A decision allows the order or denies it with EVERY failed check, each a :class:`Failure` with a
stable ``code`` and a sentence a person understands::

    risk.price_collar: buy at 75,000 is 12.0% above the reference 66,950; the limit is 5%

It may also carry an amended order (a market order turned into an IOC limit at the collar),
trading-state changes the engine must apply and persist (drawdown, detector), and the detector
signals with their evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from kcgateway.risk.model import Level, ProposedOrder, RecentOrder, TradingState

# Stable codes. Never rename one: callers and dashboards match on them.
STALE_DATA = "risk.stale_data"
BAD_ORDER = "risk.bad_order"
INTERNAL_ERROR = "risk.internal_error"
HALTED = "risk.halted"
REDUCING_ONLY = "risk.reducing_only"
SYMBOL_DENIED = "risk.symbol_denied"
SYMBOL_NOT_TRADABLE = "risk.symbol_not_tradable"
UNKNOWN_SYMBOL = "risk.unknown_symbol"
PRICE_COLLAR = "risk.price_collar"
BOOK_DEPTH = "risk.book_depth"
MAX_NOTIONAL = "risk.max_notional"
MAX_POSITION = "risk.max_position"
SYMBOL_EXPOSURE = "risk.symbol_exposure"
ACCOUNT_EXPOSURE = "risk.account_exposure"
MAX_OPEN_ORDERS = "risk.max_open_orders"
VOLUME_SHARE = "risk.volume_share"
THIN_SYMBOL = "risk.thin_symbol"
RATE = "risk.rate"
DAILY_ORDERS = "risk.daily_orders"
DAILY_TURNOVER = "risk.daily_turnover"
DUPLICATE = "risk.duplicate"
DRAWDOWN = "risk.drawdown"
DAILY_LOSS = "risk.daily_loss"
DORMANT_KEY = "risk.detector.dormant_key"
NEW_IP = "risk.detector.new_ip"
HOLDINGS_DUMP = "risk.detector.holdings_dump"
PUMP_BUY = "risk.detector.pump_buy"
COORDINATED_BUY = "risk.detector.coordinated_buy"


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed check: a stable code and a sentence that says what and by how much."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class StateChange:
    """Move ``level``/``target`` to ``state`` (the engine persists it and writes the audit log)."""

    level: Level
    target: str
    state: TradingState
    reason: str


class ActionKind(StrEnum):
    """What a detector signal calls for."""

    ALERT = "alert"
    HALT_KEY = "halt_key"
    HALT_ACCOUNT = "halt_account"
    BLOCK_SYMBOL = "block_symbol"


@dataclass(frozen=True, slots=True)
class Action:
    """One action: ``target`` is a key id, an account id or a symbol (empty for an alert)."""

    kind: ActionKind
    target: str = ""


@dataclass(frozen=True, slots=True)
class Signal:
    """A stolen-key detector finding, with the evidence a person needs to judge it.

    ``orders`` are the orders that make the pattern (the proposed one included, with
    ``at_ms`` = now); ``figures`` are the named values compared (prices, shares, times), each
    already formatted plainly.
    """

    code: str
    message: str
    actions: tuple[Action, ...]
    orders: tuple[RecentOrder, ...] = ()
    figures: tuple[tuple[str, str], ...] = ()

    def halts(self, account_id: str) -> bool:
        """True when the signal halts ``account_id``."""
        return Action(ActionKind.HALT_ACCOUNT, account_id) in self.actions


@dataclass(frozen=True, slots=True)
class Decision:
    """Allow, or deny with every failed check.

    ``order`` is what to send when allowed: the proposed order, or the amended one
    (``amended`` is True) when a market order was turned into an IOC limit at the collar.
    ``notional`` is the estimated quote value of that order (None when it could not be priced).
    ``state_changes`` move this order's account or key; a signal's ``actions`` may name other
    accounts and a symbol to block, which the engine applies too.
    """

    allowed: bool
    failures: tuple[Failure, ...] = ()
    order: ProposedOrder | None = None
    amended: bool = False
    notional: Decimal | None = None
    state_changes: tuple[StateChange, ...] = ()
    signals: tuple[Signal, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes of the failed checks, in the order they were found."""
        return tuple(f.code for f in self.failures)

    def explain(self) -> str:
        """Every failure on its own line (``code: sentence``), or "allowed"."""
        if self.allowed:
            return "allowed"
        return "\n".join(str(f) for f in self.failures)
