"""The pure parts: what each action does from each position, and each profile's body checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from kcgateway.gateway.bots.model import Action, Signal, pick_symbol, plan
from kcgateway.gateway.bots.profiles import (
    Invalid,
    Refusal,
    parse_time,
    plain_signal,
    standard_headers,
    threecommas_signal,
)

D = Decimal
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def sig(action: str, prev: str | None = None, after: str | None = None) -> Signal:
    return Signal(Action(action), "BTC-USDT", prev_position=prev, position=after)


@pytest.mark.parametrize(
    ("action", "position", "side", "size", "target"),
    [
        ("buy", "0", "buy", "1", "1"),
        ("sell", "0", "sell", "1", "-1"),
        ("close", "2", "sell", "2", "0"),
        ("close", "-2", "buy", "2", "0"),
        ("reverse", "1", "sell", "2", "-1"),  # close and open in ONE order
        ("reverse", "-1", "buy", "2", "1"),
    ],
)
def test_actions(action: str, position: str, side: str, size: str, target: str) -> None:
    decided = plan(sig(action), D(position), D(1), D(10))
    assert (decided.verdict, decided.side, decided.size, decided.target) == (
        "execute", side, D(size), D(target),
    )  # fmt: skip


def test_stated_positions_hold_instead_of_guessing() -> None:
    assert plan(sig("close", prev="long"), D(-1), D(1), D(10)).verdict == "held"
    assert plan(sig("buy", after="short"), D(0), D(1), D(10)).verdict == "held"
    assert plan(sig("close", prev="short", after="flat"), D(-1), D(1), D(10)).verdict == "execute"


def test_nothing_to_do_and_limits() -> None:
    assert plan(sig("close"), D(0), D(1), D(10)).verdict == "noop"
    assert plan(sig("reverse"), D(0), D(1), D(10)).verdict == "rejected"
    assert plan(sig("reverse", after="short"), D(0), D(1), D(10)).target == D(-1)
    refused = plan(sig("buy"), D(10), D(1), D(10))
    assert refused.verdict == "rejected" and "maxPosition" in (refused.reason or "")
    assert plan(sig("sell"), D(11), D(1), D(10)).verdict == "execute", "reducing is allowed"


def test_symbols_match_tradingview_tickers() -> None:
    allowed = ("BTC-USDT", "ETH-USDT")
    assert pick_symbol("KUCOIN:ETHUSDT", allowed) == "ETH-USDT"
    assert pick_symbol(None, ("BTC-USDT",)) == "BTC-USDT"
    with pytest.raises(ValueError, match="not allowed"):
        pick_symbol("DOGEUSDT", allowed)


def test_standard_headers_window() -> None:
    ts = int(NOW.timestamp())
    ok = {"webhook-id": "m1", "webhook-timestamp": str(ts - 300), "webhook-signature": "v1,x"}
    assert standard_headers(ok, NOW) == ("m1", ts - 300, "v1,x")
    for bad in ({**ok, "webhook-timestamp": str(ts - 301)}, {**ok, "webhook-timestamp": "x"},
                {k: v for k, v in ok.items() if k != "webhook-id"}):  # fmt: skip
        with pytest.raises(Refusal):
            standard_headers(bad, NOW)


def test_bodies() -> None:
    body = {"action": "BUY", "symbol": "BTCUSDT", "size": "0.5", "price": 100}
    assert plain_signal(body, ("BTC-USDT",)).size == D("0.5")
    with pytest.raises(Invalid):
        plain_signal({**body, "size": "-1"}, ("BTC-USDT",))
    with pytest.raises(Invalid):
        plain_signal({**body, "market_position": "sideways"}, ("BTC-USDT",))
    assert parse_time("2026-12-02T12:00:00Z") == NOW.timestamp()
    assert parse_time(int(NOW.timestamp() * 1000)) == NOW.timestamp()
    order = {"amount": "50", "currency_type": "quote"}
    three = {"bot_uuid": "b", "action": "enter_short", "timestamp": NOW.isoformat(),
             "tv_instrument": "BTCUSDT", "order": order}  # fmt: skip
    parsed = threecommas_signal(three, "b", ("BTC-USDT",), NOW + timedelta(seconds=5))
    assert (parsed.action, parsed.quote_amount, parsed.position) == (Action.SELL, D(50), "short")
    with pytest.raises(Refusal):  # max_lag is enforced, and capped at 300 s
        threecommas_signal(
            {**three, "max_lag": "4"}, "b", ("BTC-USDT",), NOW + timedelta(seconds=5)
        )
