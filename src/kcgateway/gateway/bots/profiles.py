"""The three ways a signal proves it is the bot owner's, and its body in the bot's terms. Pure.

Each check returns a :class:`Refusal` reason or a :class:`Parsed` signal; the intake
(``intake.py``) opens the vault only after the cheap checks passed.

- ``standard`` (https://www.standardwebhooks.com): ``webhook-id``, ``webhook-timestamp``
  within ±300 s of ``now``, ``webhook-signature`` a space-separated list of ``v1,<base64>``
  (one per live secret while a secret rotates). The id is the replay id.
- ``tradingview``: TradingView cannot sign, so three things together: the per-bot URL token
  (256 bits, in the query ``?token=``), the sender's address in the bot's allow-list
  (TradingView's published addresses by default) and the ``secret`` field of the JSON body. The
  body must carry ``"timestamp": "{{timenow}}"`` (±300 s); the replay id is the body's SHA-256.
- ``3commas``: 3Commas' custom-signal JSON (``secret``, ``bot_uuid`` = the bot id, ``action``
  enter_long / exit_long / enter_short / exit_short, ``timestamp``, ``max_lag`` (at most 300 s,
  enforced), ``trigger_price``, ``tv_instrument``, ``order{amount, currency_type}``). The replay
  id is the body's SHA-256.

Example TradingView alert message::

    {"secret": "<bot secret>", "timestamp": "{{timenow}}", "symbol": "{{ticker}}",
     "action": "{{strategy.order.action}}", "size": "{{strategy.order.contracts}}",
     "price": "{{close}}", "prev_market_position": "{{strategy.prev_market_position}}",
     "market_position": "{{strategy.market_position}}"}
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from kcgateway.gateway.bots.model import (
    Action,
    Signal,
    decimal_field,
    pick_symbol,
    stated,
)

MAX_BODY = 20 * 1024
TOLERANCE_S = 300
MAX_ID = 128

_3COMMAS = {
    "enter_long": (Action.BUY, "long"),
    "exit_long": (Action.CLOSE, "flat"),
    "enter_short": (Action.SELL, "short"),
    "exit_short": (Action.CLOSE, "flat"),
}


class Refusal(Exception):
    """Why a signal is refused (logged and counted; the sender sees only "refused")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Invalid(Exception):
    """The sender proved who it is but the signal cannot be executed as written."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """A signal that passed its profile's checks: its replay id and its meaning."""

    message_id: str
    signal: Signal


def body_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or Refusal."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refusal("body is not JSON") from None
    if not isinstance(data, dict):
        raise Refusal("body is not a JSON object")
    return data


def body_id(body: bytes) -> str:
    """The replay id of a body-authenticated signal: its SHA-256."""
    return hashlib.sha256(body).hexdigest()


def standard_headers(headers: dict[str, str], now: datetime) -> tuple[str, int, str]:
    """(id, timestamp, signatures) of a Standard Webhooks request, or Refusal."""
    msg_id = headers.get("webhook-id", "")
    raw_ts = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not msg_id or not raw_ts or not signatures:
        raise Refusal("missing webhook-id, webhook-timestamp or webhook-signature")
    if len(msg_id) > MAX_ID:
        raise Refusal("webhook-id too long")
    try:
        ts = int(raw_ts)
    except ValueError:
        raise Refusal("webhook-timestamp is not an integer") from None
    check_fresh(ts, now, TOLERANCE_S)
    return msg_id, ts, signatures


def check_fresh(ts: float, now: datetime, tolerance_s: float) -> None:
    """Refusal when ``ts`` (epoch seconds) is more than ``tolerance_s`` from ``now``."""
    if abs(now.timestamp() - ts) > tolerance_s:
        raise Refusal("stale or future timestamp")


def parse_time(raw: object) -> float:
    """Epoch seconds from an ISO 8601 string (TradingView's {{timenow}}) or a number."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw) / (1000 if raw > 10**11 else 1)
    if isinstance(raw, str) and raw:
        if raw.isdigit():
            return parse_time(int(raw))
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise Refusal("timestamp missing or unreadable")


def plain_signal(data: dict[str, Any], symbols: tuple[str, ...]) -> Signal:
    """The generic body (standard and tradingview): action, symbol, size, price, positions."""
    try:
        action = Action(str(data.get("action", "")).lower())
    except ValueError:
        raise Invalid("action must be buy, sell, close or reverse") from None
    try:
        return Signal(
            action, pick_symbol(data.get("symbol"), symbols), decimal_field(data, "size"),
            decimal_field(data, "quote_amount"), decimal_field(data, "price"),
            stated(data.get("prev_market_position")), stated(data.get("market_position")),
        )  # fmt: skip
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def threecommas_signal(
    data: dict[str, Any], bot_id: str, symbols: tuple[str, ...], now: datetime
) -> Signal:
    """3Commas' custom signal, after its bot_uuid and max_lag checks (Refusal otherwise)."""
    if data.get("bot_uuid") != bot_id:
        raise Refusal("bot_uuid does not match the bot")
    try:
        lag = min(float(data.get("max_lag", TOLERANCE_S)), TOLERANCE_S)
    except (TypeError, ValueError):
        raise Refusal("max_lag is not a number") from None
    check_fresh(parse_time(data.get("timestamp")), now, lag)
    found = _3COMMAS.get(str(data.get("action", "")))
    if found is None:
        raise Invalid("action must be enter_long, exit_long, enter_short or exit_short")
    action, position = found
    raw_order = data.get("order")
    order: dict[str, Any] = raw_order if isinstance(raw_order, dict) else {}
    try:
        amount = decimal_field(order, "amount")
        quote = str(order.get("currency_type", "base")).lower() in {"quote", "margin_percent"}
        return Signal(
            action, pick_symbol(data.get("tv_instrument") or data.get("symbol"), symbols),
            None if quote else amount, amount if quote else None,
            decimal_field(data, "trigger_price"), None, position,
        )  # fmt: skip
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def quote_size(amount: Decimal, price: Decimal) -> Decimal:
    """Base size bought by ``amount`` of quote at ``price`` (before rounding to the increment)."""
    return amount / price
