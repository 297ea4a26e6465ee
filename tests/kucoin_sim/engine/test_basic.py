from decimal import Decimal

from kucoin_sim.engine import DoneReason, Liquidity, OrderStatus, Side
from tests.kucoin_sim.engine.helpers import D, bal, exchange, limit, user


def test_resting_limit_buy_holds_price_size_and_taker_fee() -> None:
    ex = exchange()
    a = user(ex)
    order = limit(ex, a, Side.BUY, "30000", "0.5")
    assert order.status is OrderStatus.OPEN and order.in_book
    assert bal(ex, a, "USDT") == (D(100000), D("15030.000"))  # 15000 * 1.002
    snap = ex.book("BTC-USDT")
    assert snap.bids == [(D("30000"), D("0.5"))] and snap.asks == []


def test_crossing_limit_fills_at_maker_price_with_fees_in_quote() -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    maker = limit(ex, a, Side.SELL, "30000", "0.5")
    taker = limit(ex, b, Side.BUY, "31000", "0.2")
    assert taker.status is OrderStatus.DONE and taker.done_reason is DoneReason.FILLED
    assert taker.deal_funds == D("6000.0") and taker.fee == D("12.0")
    # buyer: paid 6000 + 12 taker fee, got 0.2 BTC; nothing left on hold
    assert bal(ex, b, "USDT") == (D("93988.0"), 0)
    assert bal(ex, b, "BTC") == (D("10.2"), 0)
    # seller: 0.3 BTC still held, received 6000 - 6 maker fee
    assert bal(ex, a, "BTC") == (D("9.8"), D("0.3"))
    assert bal(ex, a, "USDT") == (D("105994.0"), 0)
    m = ex.get(a, maker.id)
    assert m is not None and m.deal_size == D("0.2") and m.status is OrderStatus.OPEN
    (tf,) = ex.fills(b)
    (mf,) = ex.fills(a)
    assert (
        tf.trade_id == mf.trade_id
        and tf.liquidity is Liquidity.TAKER
        and mf.liquidity is Liquidity.MAKER
    )
    assert tf.counter_order_id == maker.id and mf.counter_order_id == taker.id
    assert ex.ledger.fees["USDT"] == D("18.0")
    assert ex.book("BTC-USDT").asks == [(D("30000"), D("0.3"))]


def test_cancel_releases_hold() -> None:
    ex = exchange()
    a = user(ex)
    order = limit(ex, a, Side.SELL, "30000", "1.5")
    assert bal(ex, a, "BTC") == (D(10), D("1.5"))
    done = ex.cancel(a, order.id, 1)
    assert done.done_reason is DoneReason.CANCELED and done.cancelled_size == D("1.5")
    assert bal(ex, a, "BTC") == (D(10), Decimal(0))
    assert ex.book("BTC-USDT").asks == []
