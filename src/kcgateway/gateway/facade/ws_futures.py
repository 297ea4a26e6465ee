"""The futures topics of the facade's private WebSocket, sans I/O (KuCoin's futures host).

``/contractMarket/tradeOrders`` is relayed from the gateway's event log like the spot order
topics (``ws_session.py``). Positions and the futures wallet are not in that log (the gateway
keeps no position book), so after a futures fill of the bound account the connection's pump
re-reads them from the exchange with the account's real credentials (:class:`Refresh` says
what to re-read) and the functions here shape KuCoin's messages:

- ``/contract/position:{symbol}``, subject ``position.change``: the exchange's position
  (``GET /api/v1/position``) with ``changeReason`` ``positionChange``, KuCoin's message for a
  change caused by a fill (ccxt parses it with its REST position parser);
- ``/contractAccount/wallet``, subject ``walletBalance.change``: the account overview
  (``GET /api/v1/account-overview``) in the message's fields: ``availableBalance``,
  ``holdBalance`` (order margin plus frozen funds), ``isolatedPosMargin`` (position margin),
  ``equity``, ``walletBalance`` (margin balance) [?].

Each shaping answers a key of the figures that make a change with the message: a re-read that
changed none of them is not sent again (each change once). Invariants: the key never holds a
time; nothing here reads a clock or the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

FUTURES_ORDERS = "/contractMarket/tradeOrders"
WALLET = "/contractAccount/wallet"
#: the position topic's prefix: ``/contract/position:XBTUSDTM``
POSITION = "/contract/position:"
_SYMBOL = re.compile(r"^[A-Za-z0-9]{1,40}$")
_POSITION_KEY = ("currentQty", "avgEntryPrice", "realisedPnl", "posMargin", "isOpen")
Frame = dict[str, Any]
Shaped = tuple[tuple[object, ...], Frame]


@dataclass(frozen=True, slots=True)
class Refresh:
    """What a futures event makes the pump re-read for one symbol's topics."""

    symbol: str
    position: bool
    wallet: bool


def position_topic(topic: str) -> str | None:
    """The symbol of a ``/contract/position:{symbol}`` topic (None: not one)."""
    if not topic.startswith(POSITION):
        return None
    symbol = topic[len(POSITION) :]
    return symbol if _SYMBOL.match(symbol) else None


def message(topic: str, subject: str, data: Frame) -> Frame:
    """KuCoin's private ``message`` frame."""
    return {
        "type": "message",
        "topic": topic,
        "subject": subject,
        "channelType": "private",
        "data": data,
    }


def position_message(symbol: str, position: Frame) -> Shaped | None:
    """(change key, ``position.change`` message) of a re-read position (None: not one)."""
    if not isinstance(position, dict) or position.get("symbol") not in (None, symbol):
        return None
    data = {"symbol": symbol, **position, "changeReason": "positionChange"}
    key = tuple(_text(position.get(name)) for name in _POSITION_KEY)
    return key, message(POSITION + symbol, "position.change", data)


def wallet_message(overview: Frame, now_ms: int) -> Shaped | None:
    """(change key, ``walletBalance.change`` message) of a re-read account overview."""
    if not isinstance(overview, dict) or not overview.get("currency"):
        return None
    hold = _dec(overview.get("orderMargin")) + _dec(overview.get("frozenFunds"))
    data = {
        "currency": overview["currency"],
        "availableBalance": _text(overview.get("availableBalance")),
        "holdBalance": str(hold),
        "isolatedPosMargin": _text(overview.get("positionMargin")),
        "equity": _text(overview.get("accountEquity")),
        "walletBalance": _text(overview.get("marginBalance")),
        "maxWithdrawAmount": _text(overview.get("maxWithdrawAmount")),
        "timestamp": str(now_ms),
    }
    key = (data["currency"], data["availableBalance"], data["holdBalance"],
           data["isolatedPosMargin"], data["walletBalance"])  # fmt: skip
    return key, message(WALLET, "walletBalance.change", data)


def _dec(value: object) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _text(value: object) -> str | None:
    """A figure as text (JSON numbers and strings alike), None kept."""
    if value is None or isinstance(value, bool):
        return None if value is None else str(value).lower()
    return str(value)
