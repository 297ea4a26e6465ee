from kucoin_sim.engine import Side
from tests.kucoin_sim.engine.helpers import T0, D, exchange, limit, user


def trade(ex, a, b, price: str, size: str, now: int) -> None:  # type: ignore[no-untyped-def]
    limit(ex, a, Side.SELL, price, size, now)
    limit(ex, b, Side.BUY, price, size, now)


def test_candles_rows_in_kucoin_order_newest_first() -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    minute = T0 // 60_000 * 60_000
    trade(ex, a, b, "30000", "0.1", minute + 1_000)
    trade(ex, a, b, "30500", "0.2", minute + 20_000)
    trade(ex, a, b, "29900", "0.1", minute + 40_000)
    trade(ex, a, b, "30100", "0.3", minute + 61_000)
    start = minute // 1000
    rows = [c.row() for c in ex.candles("BTC-USDT", 60, start, start + 3600)]
    assert rows == [
        [str(start + 60), "30100", "30100", "30100", "30100", "0.3", "9030.0"],
        [str(start), "30000", "29900", "30500", "29900", "0.4", "12090.0"],
    ]
    hour = ex.candles("BTC-USDT", 3600, start - 3600, start + 3600)
    assert (
        len(hour) == 1
        and hour[0].open == D(30000)
        and hour[0].close == D(30100)
        and hour[0].volume == D("0.7")
    )
    assert ex.candles("BTC-USDT", 60, start + 120, start + 3600) == []


def test_ticker_trades_and_stats() -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    assert ex.ticker("BTC-USDT").price is None and ex.stats_24h("BTC-USDT", T0).volume == 0
    trade(ex, a, b, "30000", "0.1", T0)
    trade(ex, a, b, "33000", "0.1", T0 + 60_000)
    limit(ex, a, Side.SELL, "34000", "0.5")
    limit(ex, b, Side.BUY, "32000", "0.25")
    t = ex.ticker("BTC-USDT")
    assert (t.price, t.size, t.best_bid, t.best_bid_size, t.best_ask, t.best_ask_size) == (
        D(33000),
        D("0.1"),
        D(32000),
        D("0.25"),
        D(34000),
        D("0.5"),
    )
    assert t.time_ms == T0 + 60_000 and t.sequence == ex.book("BTC-USDT").sequence
    trades = ex.trades("BTC-USDT", 10)
    assert [x.price for x in trades] == [D(33000), D(30000)] and trades[0].side is Side.BUY
    assert ex.trades("BTC-USDT", 0) == []
    stats = ex.stats_24h("BTC-USDT", T0 + 120_000)
    assert (stats.open, stats.high, stats.low, stats.last) == (
        D(30000),
        D(33000),
        D(30000),
        D(33000),
    )
    assert stats.change_price == D(3000) and stats.change_rate == D("0.1000")
    assert stats.volume == D("0.2") and stats.turnover == D("6300.0")
    later = ex.stats_24h("BTC-USDT", T0 + 3 * 86_400_000)
    assert (
        later.volume == 0
        and later.last == D(33000)
        and later.change_rate == 0
        and later.change_price == 0
    )


def test_book_depth_and_time() -> None:
    ex = exchange()
    a = user(ex)
    for p in ("30000", "30010", "30020"):
        limit(ex, a, Side.SELL, p, "0.1")
    snap = ex.book("BTC-USDT", 2, now_ms=T0)
    assert snap.asks == [(D(30000), D("0.1")), (D(30010), D("0.1"))] and snap.time_ms == T0
