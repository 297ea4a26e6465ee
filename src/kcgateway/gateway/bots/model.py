"""Bots and signals as values: the bot's settings, a parsed signal, and the plan it becomes.

Pure: no I/O, no clock. A bot's *position* per symbol is a signed base size (long > 0,
short < 0; on spot a "short" sells inventory the account already holds) that only its own
fills move. :func:`plan` turns an action and the current position into at most ONE order: a
``reverse`` closes and opens in the same order (``|position| + size`` the other way), so there
is no moment at which only half of it happened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from kcgateway.errors import ValidationError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}$")
SYMBOL = re.compile(r"^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$")


class Profile(StrEnum):
    """How a bot's signals prove they come from its owner."""

    STANDARD = "standard"
    TRADINGVIEW = "tradingview"
    THREECOMMAS = "3commas"


class Mode(StrEnum):
    """Paper trades the simulated account; live the bot's real account."""

    PAPER = "paper"
    LIVE = "live"


class BotState(StrEnum):
    """Active bots execute signals; paused ones log and refuse them."""

    ACTIVE = "active"
    PAUSED = "paused"


class Sizing(StrEnum):
    """How much one buy/sell signal trades when it states no size."""

    SIZE = "size"  # a fixed base size
    QUOTE = "quote"  # a fixed quote amount, at the reference price
    EQUITY_PCT = "equity_pct"  # a percent of the account's quote balance


class OrderStyle(StrEnum):
    """Market orders, or limit orders at an offset from the reference with a timeout."""

    MARKET = "market"
    LIMIT = "limit"


class Action(StrEnum):
    """What a signal asks for."""

    BUY = "buy"
    SELL = "sell"
    CLOSE = "close"
    REVERSE = "reverse"


STATED = ("long", "short", "flat")


@dataclass(frozen=True, slots=True)
class BotSpec:
    """What a bot is asked to be, as a front end received it (accounts by id or name)."""

    name: str
    account: str
    symbols: tuple[str, ...]
    sizing: Sizing
    sizing_value: Decimal
    max_position: Decimal
    profile: Profile
    order_style: OrderStyle = OrderStyle.MARKET
    limit_offset_pct: Decimal | None = None
    limit_timeout_s: int | None = None
    paper_account: str = "paper"
    ip_allowlist: tuple[str, ...] = ()


def check_spec(spec: BotSpec) -> None:
    """ValidationError naming the field and the fix, for any unusable setting."""
    if not NAME.match(spec.name):
        raise ValidationError("name: 1-100 letters, digits, space, _ . -", field="name")
    if not spec.symbols or len(spec.symbols) > 50:
        raise ValidationError("symbols: give 1 to 50 symbols like BTC-USDT", field="symbols")
    for symbol in spec.symbols:
        if not SYMBOL.match(symbol):
            raise ValidationError(f"symbols: {symbol!r} is not like BTC-USDT", field="symbols")
    if spec.sizing_value <= 0 or (spec.sizing is Sizing.EQUITY_PCT and spec.sizing_value > 100):
        raise ValidationError(
            "sizingValue must be > 0 (and at most 100 for equity_pct)", field="sizingValue"
        )
    if spec.max_position <= 0:
        raise ValidationError("maxPosition must be > 0 (a base size)", field="maxPosition")
    if spec.order_style is OrderStyle.LIMIT:
        offset, timeout = spec.limit_offset_pct, spec.limit_timeout_s
        if offset is None or not Decimal(0) <= offset < Decimal(50):
            raise ValidationError(
                "limitOffsetPct: 0 <= x < 50 for limit bots", field="limitOffsetPct"
            )
        if timeout is None or not 1 <= timeout <= 3600:
            raise ValidationError("limitTimeoutS: 1 to 3600 for limit bots", field="limitTimeoutS")


@dataclass(frozen=True, slots=True)
class Signal:
    """A signal after authentication, in the bot's terms (the log keeps it as JSON)."""

    action: Action
    symbol: str
    size: Decimal | None = None
    quote_amount: Decimal | None = None
    price: Decimal | None = None
    prev_position: str | None = None
    position: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The payload column: decimals as strings."""
        out: dict[str, Any] = {"action": self.action.value, "symbol": self.symbol}
        for key in ("size", "quote_amount", "price"):
            value = getattr(self, key)
            if value is not None:
                out[key] = str(value)
        for key in ("prev_position", "position"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def signal_from_json(data: dict[str, Any]) -> Signal:
    """Inverse of :meth:`Signal.as_json`."""

    def dec(key: str) -> Decimal | None:
        return Decimal(data[key]) if key in data else None

    return Signal(
        Action(data["action"]), data["symbol"], dec("size"), dec("quote_amount"), dec("price"),
        data.get("prev_position"), data.get("position"),
    )  # fmt: skip


def decimal_field(data: dict[str, Any], key: str) -> Decimal | None:
    """A positive decimal from a string or number field; None when absent or empty."""
    raw = data.get(key)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ValueError(f"{key} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{key} must be > 0")
    return value


def pick_symbol(raw: object, allowed: tuple[str, ...]) -> str:
    """The allowed symbol a signal names (BTC-USDT, BTCUSDT or BINANCE:BTCUSDT all match).

    With one allowed symbol the field may be left out.
    """
    if raw is None or raw == "":
        if len(allowed) == 1:
            return allowed[0]
        raise ValueError("symbol missing (the bot trades several)")
    text = str(raw).upper().rsplit(":", 1)[-1].replace("-", "").replace("/", "")
    for symbol in allowed:
        if symbol.replace("-", "") == text:
            return symbol
    raise ValueError("symbol not allowed for this bot")


def stated(raw: object) -> str | None:
    """A stated position (long, short, flat) or None."""
    if raw is None or raw == "":
        return None
    text = str(raw).lower()
    if text not in STATED:
        raise ValueError("market positions are long, short or flat")
    return text


def side_of(position: Decimal) -> str:
    """long, short or flat."""
    return "long" if position > 0 else "short" if position < 0 else "flat"


@dataclass(frozen=True, slots=True)
class Plan:
    """What a signal does: at most one order, and the position it should leave."""

    side: str | None
    size: Decimal
    target: Decimal
    verdict: str  # "execute", "noop", "held" or "rejected"
    reason: str | None = None


def plan(signal: Signal, position: Decimal, size: Decimal, max_position: Decimal) -> Plan:
    """The order for ``signal`` from ``position`` (``size``: the open size, already resolved)."""
    if signal.prev_position is not None and signal.prev_position != side_of(position):
        return Plan(
            None,
            Decimal(0),
            position,
            "held",
            _mismatch("prev_market_position", signal.prev_position, position),
        )
    target = _target(signal, position, size)
    if target is None:
        return Plan(
            None,
            Decimal(0),
            position,
            "rejected",
            "nothing to reverse: the bot is flat and no market_position says which way",
        )
    if signal.position is not None and signal.position != side_of(target):
        return Plan(
            None,
            Decimal(0),
            position,
            "held",
            _mismatch("market_position", signal.position, target),
        )
    if abs(target) > max_position and abs(target) > abs(position):
        return Plan(
            None,
            Decimal(0),
            position,
            "rejected",
            f"the position would be {target}, beyond maxPosition {max_position}",
        )
    delta = target - position
    if delta == 0:
        return Plan(None, Decimal(0), position, "noop", "already there")
    return Plan("buy" if delta > 0 else "sell", abs(delta), target, "execute")


def _target(signal: Signal, position: Decimal, size: Decimal) -> Decimal | None:
    action = signal.action
    if action is Action.BUY:
        return position + size
    if action is Action.SELL:
        return position - size
    if action is Action.CLOSE:
        return Decimal(0)
    if position > 0 or (position == 0 and signal.position == "short"):
        return -size
    if position < 0 or (position == 0 and signal.position == "long"):
        return size
    return None


def _mismatch(field: str, said: str, position: Decimal) -> str:
    return f"the signal's {field} is {said} but the bot is {side_of(position)} ({position}): held"
