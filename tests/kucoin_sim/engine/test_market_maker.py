from decimal import Decimal

import pytest

from kucoin_sim.engine import (
    DEFAULT_CONTRACTS,
    DEFAULT_SYMBOLS,
    AccountType,
    DoneReason,
    EngineError,
    Exchange,
    MarketMakerConfig,
    OrderRequest,
    OrderType,
    Side,
    StopKind,
)
from tests.kucoin_sim.engine.helpers import SPEC, T0, D, exchange, limit, user


def maker_exchange(seed: int = 5) -> Exchange:
    ex = exchange(seed)
    ex.add_market_maker(
        MarketMakerConfig(
            "BTC-USDT", D(30000), spread=D("0.001"), step=D("0.001"), levels=5, size=D("0.1")
        ),
        T0,
    )
    return ex


def test_maker_quotes_levels_around_mid() -> None:
    ex = maker_exchange()
    snap = ex.book("BTC-USDT")
    assert [p for p, _ in snap.bids] == [
        D("29970.0"),
        D("29940.0"),
        D("29910.0"),
        D("29880.0"),
        D("29850.0"),
    ]
    assert [p for p, _ in snap.asks] == [
        D("30030.0"),
        D("30060.0"),
        D("30090.0"),
        D("30120.0"),
        D("30150.0"),
    ]
    assert all(s == D("0.1") for _, s in snap.bids + snap.asks)
    assert ex.mark_price("BTC-USDT") == D(30000)


def test_market_order_fills_against_maker_and_maker_is_not_limited() -> None:
    ex = maker_exchange()
    a = user(ex)
    order = ex.place(OrderRequest(a, "BTC-USDT", Side.BUY, OrderType.MARKET, size=D("0.15")), T0)
    assert order.deal_size == D("0.15") and order.deal_funds == D("3003.0") + D("1503.0")
    for i in range(300):  # far beyond the 200-per-symbol limit
        ex.tick(T0 + i * 1000)
    assert len(ex.book("BTC-USDT").bids) == 5


def test_random_walk_is_seeded_and_moves() -> None:
    a, b, c = maker_exchange(1), maker_exchange(1), maker_exchange(2)
    for ex in (a, b, c):
        for i in range(20):
            ex.tick(T0 + i)
    assert a.makers["BTC-USDT"].mid == b.makers["BTC-USDT"].mid != c.makers["BTC-USDT"].mid
    assert a.makers["BTC-USDT"].mid != D(30000)
    assert a.book("BTC-USDT") == b.book("BTC-USDT")


def test_set_price_trades_through_resting_orders_and_triggers_stops() -> None:
    ex = maker_exchange()
    a = user(ex)
    resting = limit(ex, a, Side.SELL, "30500", "0.05")
    stop = limit(ex, a, Side.SELL, "25000", "0.01", stop=StopKind.LOSS, stop_price=D("29000"))
    ex.set_price("BTC-USDT", D(31000), T0 + 1)
    assert ex.get(a, resting.id).done_reason is DoneReason.FILLED  # type: ignore[union-attr]
    ex.set_price("BTC-USDT", D(28000), T0 + 2)
    assert ex.last_price("BTC-USDT") is not None
    triggered = ex.get(a, stop.id)
    assert (
        triggered is not None
        and triggered.stop_triggered
        and triggered.done_reason is DoneReason.FILLED
    )


def test_set_price_without_maker_sets_last_price() -> None:
    ex = exchange()
    ex.set_price("BTC-USDT", D(123), T0)
    assert ex.last_price("BTC-USDT") == D(123) and ex.mark_price("BTC-USDT") == D(123)


def test_default_config_builds_with_makers_on_spot_and_futures() -> None:
    from kucoin_sim.engine import EngineConfig

    ex = Exchange.from_config(EngineConfig(), seed=9, now_ms=T0)
    assert set(ex.makers) == {m.symbol for m in EngineConfig().market_makers}
    for spec in DEFAULT_SYMBOLS:
        snap = ex.book(spec.symbol)
        assert snap.bids and snap.asks and snap.bids[0][0] < snap.asks[0][0]
    for contract in DEFAULT_CONTRACTS:
        assert ex.book(contract.symbol).asks
    uid = ex.create_user()
    ex.fund(uid, AccountType.FUTURES, "USDT", D(10000), T0)
    order = ex.place(
        OrderRequest(uid, "XBTUSDTM", Side.BUY, OrderType.MARKET, size=D(5), leverage=D(10)), T0
    )
    assert order.deal_size == 5
    assert ex.position(uid, "XBTUSDTM").current_qty == 5
    ex.tick(T0 + 1000)
    assert ex.position(uid, "XBTUSDTM").mark_price == ex.mark_price("XBTUSDTM")
    assert isinstance(SPEC.symbol, str) and Decimal(1) == 1


def test_maker_private_events_are_not_recorded_but_public_ones_are() -> None:
    from kucoin_sim.engine import BalanceEvent, L2Change, OrderEvent, TradeEvent

    ex = maker_exchange()
    a = user(ex)
    ex.drain_events()
    ex.tick(T0 + 1000)
    events = ex.drain_events()
    assert any(isinstance(e, L2Change) for e in events)
    assert not any(isinstance(e, OrderEvent | BalanceEvent) for e in events)
    ex.place(OrderRequest(a, "BTC-USDT", Side.BUY, OrderType.MARKET, size=D("0.01")), T0 + 2000)
    events = ex.drain_events()
    assert {e.order.uid for e in events if isinstance(e, OrderEvent)} == {a}
    assert {e.uid for e in events if isinstance(e, BalanceEvent)} == {a}
    assert len([e for e in events if isinstance(e, TradeEvent)]) == 1


def test_mirrored_book_quotes_the_given_levels_and_stops_walking() -> None:
    ex = maker_exchange()
    bids = [(D("29990.0"), D("0.004")), (D("29980.5"), D("0.02"))]
    asks = [(D("30010.3"), D("0.004")), (D("30011.1"), D("0.004")), (D("30020.0"), D(1))]
    ex.mirror_book("BTC-USDT", bids, asks, T0)
    snap = ex.book("BTC-USDT")
    assert (list(snap.bids), list(snap.asks)) == (bids, asks)
    for i in range(5):  # a mirrored maker no longer walks: the book stays the reference's
        ex.tick(T0 + (i + 1) * 1000)
    assert list(ex.book("BTC-USDT").asks) == asks
    a = user(ex)
    order = ex.place(OrderRequest(a, "BTC-USDT", Side.BUY, OrderType.MARKET, size=D("0.01")), T0)
    fills = [(f.price, f.size) for f in ex.fills(a, symbol="BTC-USDT")]
    assert order.deal_size == D("0.01")  # level by level, as the reference book would fill it
    assert sorted(fills) == [
        (D("30010.3"), D("0.004")),
        (D("30011.1"), D("0.004")),
        (D("30020.0"), D("0.002")),
    ]


def test_a_new_mirrored_book_replaces_the_old_and_trades_through_resting_orders() -> None:
    ex = exchange(3)  # no market maker yet: mirroring starts one
    a = user(ex)
    ex.mirror_book("BTC-USDT", [(D(100), D(1))], [(D(101), D(1))], T0)
    rest = limit(ex, a, Side.BUY, "100.5", "0.5")
    ex.mirror_book("BTC-USDT", [(D(99), D(1))], [(D("100.2"), D(1))], T0 + 1)
    rested = ex.registry.get(rest.id)
    assert rested is not None and not rested.active and rested.deal_size == D("0.5")
    snap = ex.book("BTC-USDT")
    assert list(snap.bids) == [(D(99), D(1))] and list(snap.asks) == [(D("100.2"), D("0.5"))]
    assert ex.markets["BTC-USDT"].tape.last_price is not None


def test_a_crossed_or_empty_level_is_refused() -> None:
    ex = exchange(3)
    with pytest.raises(EngineError):
        ex.mirror_book("BTC-USDT", [(D(101), D(1))], [(D(100), D(1))], T0)
    with pytest.raises(EngineError):
        ex.mirror_book("BTC-USDT", [(D(100), D(0))], [], T0)
