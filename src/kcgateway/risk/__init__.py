"""Pre-trade risk: pure rules that turn an order and what is known about it into a Decision.

Nothing here does I/O or reads a clock: the engine in ``gateway/`` gathers the inputs (each
figure stamped with the time it was true), passes ``now_ms``, and applies what the decision
says (send or refuse the order, persist state changes, raise alerts, block symbols).
``docs/risk.md`` explains every check, its default and the trading states.

Entry points:

- :func:`evaluate`: the full pre-trade check of one order (or cancel) -> :class:`Decision`;
- :func:`resolve_limits`: gateway -> tenant -> account -> key limits, the tightest wins;
- :func:`assess_drawdown`: the state an equity update calls for;
- the detector's functions (:mod:`kcgateway.risk.detector`) over any order flow, for example
  :func:`coordinated_buys` over the gateway-wide flow.
"""

from kcgateway.risk.decision import (
    Action,
    ActionKind,
    Decision,
    Failure,
    Signal,
    StateChange,
)
from kcgateway.risk.detector import coordinated_buys
from kcgateway.risk.drawdown import DrawdownVerdict, assess_drawdown, mark_equity
from kcgateway.risk.limits import LimitOverrides, Limits, resolve_limits
from kcgateway.risk.model import (
    AccountView,
    Book,
    CancelRequest,
    Level,
    MarketKind,
    MarketView,
    OpenOrder,
    OrderType,
    Position,
    ProposedOrder,
    RecentActivity,
    RecentOrder,
    Side,
    Stamped,
    SymbolRules,
    TradingState,
    TradingStates,
)
from kcgateway.risk.pretrade import evaluate

__all__ = [
    "AccountView",
    "Action",
    "ActionKind",
    "Book",
    "CancelRequest",
    "Decision",
    "DrawdownVerdict",
    "Failure",
    "Level",
    "LimitOverrides",
    "Limits",
    "MarketKind",
    "MarketView",
    "OpenOrder",
    "OrderType",
    "Position",
    "ProposedOrder",
    "RecentActivity",
    "RecentOrder",
    "Side",
    "Signal",
    "Stamped",
    "StateChange",
    "SymbolRules",
    "TradingState",
    "TradingStates",
    "assess_drawdown",
    "coordinated_buys",
    "evaluate",
    "mark_equity",
    "resolve_limits",
]
