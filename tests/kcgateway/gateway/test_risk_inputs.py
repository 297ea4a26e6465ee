"""The activity tracker: windows, daily totals reset at 00:00 UTC, key use and addresses."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from kcgateway.clock import FakeClock
from kcgateway.gateway.risk_inputs import LISTED_FOR_MS, ActivityTracker, MarketData, day_of
from kcgateway.kucoin import models as m
from kcgateway.risk import MarketKind, OrderType, ProposedOrder, Side, Stamped

D = Decimal
MIDNIGHT = int(datetime(2026, 12, 2, tzinfo=UTC).timestamp() * 1000)


def _order(account: str = "a1", key: str = "k1", side: Side = Side.BUY) -> ProposedOrder:
    return ProposedOrder(
        "t1", account, key, MarketKind.SPOT, "BTC-USDT", side, OrderType.LIMIT, D(100), D(1)
    )


def test_daily_count_and_turnover_reset_at_utc_midnight() -> None:
    tracker = ActivityTracker()
    tracker.record(_order(), D(100), "10.0.0.1", MIDNIGHT - 2_000)
    tracker.record(_order(), D(50), "10.0.0.1", MIDNIGHT - 1_000)
    before = tracker.snapshot(_order(), "10.0.0.1", MIDNIGHT - 1)
    assert (before.daily_order_count, before.daily_turnover) == (2, D(150))
    after = tracker.snapshot(_order(), "10.0.0.1", MIDNIGHT)
    assert (after.daily_order_count, after.daily_turnover) == (0, D(0))
    assert after.key_submissions_ms == (MIDNIGHT - 2_000, MIDNIGHT - 1_000)  # rates still count
    tracker.record(_order(), D(7), None, MIDNIGHT + 5)
    today = tracker.snapshot(_order(), None, MIDNIGHT + 6)
    assert (today.daily_order_count, today.daily_turnover) == (1, D(7))
    assert day_of(MIDNIGHT) == "2026-12-02" and day_of(MIDNIGHT - 1) == "2026-12-01"


def test_windows_are_per_key_and_per_account_and_old_entries_drop() -> None:
    tracker = ActivityTracker(keep_ms=60_000)
    tracker.record(_order("a1", "k1"), D(1), "10.0.0.1", 1_000)
    tracker.record(_order("a1", "k2"), D(1), "10.0.0.2", 2_000)
    tracker.record(_order("a2", "k3", Side.SELL), D(1), None, 3_000)
    seen = tracker.snapshot(_order("a1", "k1"), "10.0.0.9", 4_000)
    assert seen.key_submissions_ms == (1_000,)
    assert seen.account_submissions_ms == (1_000, 2_000)
    assert [o.key_id for o in seen.recent_orders] == ["k1", "k2"]
    assert [o.account_id for o in seen.symbol_buys] == ["a1", "a1"]  # a2 sold
    assert seen.key_last_used_ms == 1_000 and seen.key_known_ips == frozenset({"10.0.0.1"})
    assert seen.source_ip == "10.0.0.9"
    late = tracker.snapshot(_order("a1", "k1"), None, 61_500)
    assert late.key_submissions_ms == () and late.account_submissions_ms == (2_000,)
    assert [o.key_id for o in late.recent_orders] == ["k2"]


def test_a_refused_buy_joins_the_symbols_buy_flow_and_nothing_else() -> None:
    """The coordinated-buy detector must see stolen keys' refused attempts (halted accounts)."""
    tracker = ActivityTracker()
    tracker.record_refused_buy(_order("a1", "k1"), D(100), 1_000)
    tracker.record_refused_buy(_order("a2", "k2", Side.SELL), D(100), 1_500)  # not a buy
    seen = tracker.snapshot(_order("a3", "k3"), None, 2_000)
    assert [o.account_id for o in seen.symbol_buys] == ["a1"]
    mine = tracker.snapshot(_order("a1", "k1"), None, 2_000)
    assert mine.key_submissions_ms == () and mine.account_submissions_ms == ()
    assert mine.recent_orders == () and mine.daily_order_count == 0
    assert mine.key_last_used_ms is None and mine.key_known_ips == frozenset()


class _Tickers:
    def __init__(self) -> None:
        self.last: dict[str, str] = {"PUMP-USDT": "10", "BTC-USDT": "65000"}

    async def all_tickers(self) -> m.AllTickers:
        items = [
            m.TickerStats(symbol=s, last=D(p), vol_value=D(5_000_000 if s == "BTC-USDT" else 10))
            for s, p in self.last.items()
        ]
        return m.AllTickers(time=0, ticker=items)


class _Client:
    def __init__(self) -> None:
        self.market = _Tickers()


async def test_the_baseline_moves_slowly_so_a_burst_stands_out() -> None:
    client = _Client()
    clock = FakeClock()
    market = MarketData(client, books=None, futures_books=None, clock=clock)  # type: ignore[arg-type]
    await market.refresh_tickers()
    assert market.rank[("spot", "BTC-USDT")].value == 1
    assert market.rank[("spot", "PUMP-USDT")].value == 2
    client.market.last["PUMP-USDT"] = "20"  # a pump doubles the price
    for _ in range(2):  # two minutes of refreshes
        clock.advance(60_000)
        await market.refresh_tickers()
    baseline = market.baseline[("spot", "PUMP-USDT")]
    assert D(10) < baseline.value < D(11)  # still near the pre-burst price
    assert baseline.as_of_ms == clock.now_ms()


async def test_a_symbol_is_unknown_only_against_a_current_list_that_lacks_it() -> None:
    clock = FakeClock()
    market = MarketData(_Client(), books=None, futures_books=None, clock=clock)  # type: ignore[arg-type]
    now = clock.now_ms()
    assert not market.unlisted("spot", "NOPE-USDT", now)  # no list read yet: not known either way
    rules = Stamped(object(), now)
    market.rules[("spot", "BTC-USDT")] = rules  # type: ignore[assignment]
    market.rules[("spot", "GONE-USDT")] = Stamped(object(), now - 1)  # type: ignore[assignment]
    market.listed_at["spot"] = now
    assert not market.unlisted("spot", "BTC-USDT", now)
    assert market.unlisted("spot", "NOPE-USDT", now)
    assert market.unlisted("spot", "GONE-USDT", now)  # in an earlier list, not in the last one
    assert not market.unlisted("futures", "NOPEUSDTM", now)  # the contract list was never read
    later = now + LISTED_FOR_MS + 1  # an old list decides nothing: rules freshness fails closed
    assert not market.unlisted("spot", "NOPE-USDT", later)
    view = await market.view(MarketKind.SPOT, "NOPE-USDT", now)
    assert view.listed is False and view.rules is None and view.book is None
