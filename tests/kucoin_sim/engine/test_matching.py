from decimal import Decimal

import pytest

from kucoin_sim.engine import (
    AccountType,
    DoneReason,
    L2Change,
    OrderEvent,
    OrderEventType,
    OrderStatus,
    Side,
    StopKind,
    Stp,
    TimeInForce,
    TradeEvent,
)
from tests.kucoin_sim.engine.helpers import T0, D, bal, exchange, limit, market, user


def test_price_time_priority_and_maker_price() -> None:
    ex = exchange()
    a, b, c = user(ex), user(ex), user(ex)
    first = limit(ex, a, Side.SELL, "30010", "0.1")
    second = limit(ex, b, Side.SELL, "30010", "0.1")
    better = limit(ex, b, Side.SELL, "30005", "0.1")
    taker = limit(ex, c, Side.BUY, "30020", "0.25")
    fills = ex.fills(c)
    assert [(f.counter_order_id, f.price, f.size) for f in reversed(fills)] == [
        (better.id, D("30005"), D("0.1")),
        (first.id, D("30010"), D("0.1")),
        (second.id, D("30010"), D("0.05")),
    ]
    assert taker.done_reason is DoneReason.FILLED
    assert ex.book("BTC-USDT").asks == [(D("30010"), D("0.05"))]


def test_limit_rests_remainder_and_book_never_crossed() -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    limit(ex, a, Side.SELL, "30000", "0.1")
    taker = limit(ex, b, Side.BUY, "30100", "0.3")
    assert taker.status is OrderStatus.OPEN and taker.deal_size == D("0.1")
    snap = ex.book("BTC-USDT")
    assert snap.bids == [(D("30100"), D("0.2"))] and snap.asks == []


def test_ioc_cancels_rest_and_fok_is_all_or_nothing() -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    limit(ex, a, Side.SELL, "30000", "0.1")
    ioc = limit(ex, b, Side.BUY, "30000", "0.3", tif=TimeInForce.IOC)
    assert ioc.deal_size == D("0.1") and ioc.cancelled_size == D("0.2")
    assert ioc.done_reason is DoneReason.CANCELED and not ioc.in_book
    limit(ex, a, Side.SELL, "30000", "0.1")
    fok = limit(ex, b, Side.BUY, "30000", "0.3", tif=TimeInForce.FOK)
    assert fok.deal_size == 0 and fok.done_reason is DoneReason.CANCELED
    assert ex.book("BTC-USDT").asks == [(D("30000"), D("0.1"))]
    assert bal(ex, b, "USDT")[1] == 0
    fok2 = limit(ex, b, Side.BUY, "30000", "0.1", tif=TimeInForce.FOK)
    assert fok2.done_reason is DoneReason.FILLED and fok2.deal_size == D("0.1")


def test_post_only_that_would_take_is_cancelled() -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    limit(ex, a, Side.SELL, "30000", "0.1")
    po = limit(ex, b, Side.BUY, "30000", "0.1", post_only=True)
    assert po.done_reason is DoneReason.CANCELED and po.deal_size == 0
    ok = limit(ex, b, Side.BUY, "29999.9", "0.1", post_only=True)
    assert ok.status is OrderStatus.OPEN and ok.post_only


def test_hidden_is_matchable_but_not_shown() -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    limit(ex, a, Side.SELL, "30000", "0.5", hidden=True)
    assert ex.book("BTC-USDT").asks == []
    taker = limit(ex, b, Side.BUY, "30000", "0.2")
    assert taker.deal_size == D("0.2")
    assert ex.book("BTC-USDT").asks == []


def test_iceberg_shows_slice_and_refills_at_back_of_queue() -> None:
    ex = exchange()
    a, b, c = user(ex), user(ex), user(ex)
    ice = limit(ex, a, Side.SELL, "30000", "1", iceberg=True, visible_size=D("0.1"))
    plain = limit(ex, b, Side.SELL, "30000", "0.2")
    assert ex.book("BTC-USDT").asks == [(D("30000"), D("0.3"))]
    limit(ex, c, Side.BUY, "30000", "0.15")
    # 0.1 from the iceberg's slice, which is then refilled behind the plain order: 0.05 from plain
    fills = list(reversed(ex.fills(c)))
    assert [(f.counter_order_id, f.size) for f in fills] == [
        (ice.id, D("0.1")),
        (plain.id, D("0.05")),
    ]
    assert ex.book("BTC-USDT").asks == [(D("30000"), D("0.25"))]
    big = limit(ex, c, Side.BUY, "30000", "1.05")
    assert big.done_reason is DoneReason.FILLED
    assert ex.book("BTC-USDT").asks == []


@pytest.mark.parametrize(
    ("stp", "taker_deal", "maker_left", "taker_status"),
    [
        (Stp.CN, "0", "0.2", DoneReason.CANCELED),
        (Stp.CO, "0.1", None, None),
        (Stp.CB, "0", None, DoneReason.CANCELED),
    ],
)
def test_stp_modes(
    stp: Stp, taker_deal: str, maker_left: str | None, taker_status: DoneReason | None
) -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    own = limit(ex, a, Side.SELL, "30000", "0.2")
    limit(ex, b, Side.SELL, "30001", "0.1")
    taker = limit(ex, a, Side.BUY, "30001", "0.1", stp=stp)
    assert taker.deal_size == D(taker_deal)
    maker = ex.get(a, own.id)
    assert maker is not None
    if maker_left is None:
        assert maker.done_reason is DoneReason.CANCELED
    else:
        assert maker.active and maker.remaining == D(maker_left)
    if taker_status is not None:
        assert taker.done_reason is taker_status
    assert ex.fills(a) == [] or all(f.counter_order_id != own.id for f in ex.fills(a))


def test_stp_dc_decreases_both() -> None:
    ex = exchange()
    a = user(ex)
    own = limit(ex, a, Side.SELL, "30000", "0.5")
    taker = limit(ex, a, Side.BUY, "30000", "0.2", stp=Stp.DC)
    assert taker.done_reason is DoneReason.CANCELED and taker.deal_size == 0
    maker = ex.get(a, own.id)
    assert maker is not None and maker.remaining == D("0.3") and maker.active
    assert bal(ex, a, "BTC") == (D(10), D("0.3"))
    assert ex.book("BTC-USDT").asks == [(D("30000"), D("0.3"))]
    bigger = limit(ex, a, Side.BUY, "30000", "0.5", stp=Stp.DC)
    assert bigger.status is OrderStatus.OPEN and bigger.remaining == D("0.2")
    assert ex.get(a, own.id).done_reason is DoneReason.CANCELED  # type: ignore[union-attr]


def test_self_trade_without_stp_trades() -> None:
    ex = exchange()
    a = user(ex)
    limit(ex, a, Side.SELL, "30000", "0.2")
    taker = limit(ex, a, Side.BUY, "30000", "0.2")
    assert taker.done_reason is DoneReason.FILLED and len(ex.fills(a)) == 2


def test_market_buy_by_funds_and_size() -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    limit(ex, a, Side.SELL, "30000", "0.1")
    limit(ex, a, Side.SELL, "31000", "0.1")
    by_funds = market(ex, b, Side.BUY, funds="4550")
    # 3000 at 30000 (0.1) then 1550 -> 0.05 at 31000
    assert by_funds.deal_size == D("0.15") and by_funds.deal_funds == D("4550.0")
    assert by_funds.done_reason is DoneReason.FILLED
    by_size = market(ex, b, Side.BUY, size="0.5")
    assert by_size.deal_size == D("0.05") and by_size.done_reason is DoneReason.CANCELED
    assert bal(ex, b, "USDT")[1] == 0 and bal(ex, a, "BTC")[1] == 0


def test_market_sell_by_size_and_by_funds() -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    limit(ex, a, Side.BUY, "30000", "0.1")
    limit(ex, a, Side.BUY, "29000", "0.2")
    by_size = market(ex, b, Side.SELL, size="0.15")
    assert by_size.deal_funds == D("3000.0") + D("1450.0")
    by_funds = market(ex, b, Side.SELL, funds="2900")
    assert by_funds.deal_size == D("0.1") and by_funds.deal_funds == D("2900.0")
    assert bal(ex, b, "BTC") == (D("9.75"), 0)


def test_market_order_on_empty_book_is_cancelled() -> None:
    ex = exchange()
    b = user(ex)
    order = market(ex, b, Side.BUY, size="0.1")
    assert order.done_reason is DoneReason.CANCELED and order.deal_size == 0


def test_gtt_expires() -> None:
    ex = exchange()
    a = user(ex)
    order = limit(ex, a, Side.BUY, "30000", "0.1", tif=TimeInForce.GTT, cancel_after_s=5)
    ex.expire(T0 + 4999)
    assert ex.get(a, order.id).active  # type: ignore[union-attr]
    ex.expire(T0 + 5000)
    done = ex.get(a, order.id)
    assert done is not None and done.done_reason is DoneReason.CANCELED
    assert bal(ex, a, "USDT")[1] == 0


def test_stop_loss_and_entry_trigger_on_last_price() -> None:
    ex = exchange()
    a, b, c = user(ex), user(ex), user(ex)
    stop = limit(ex, c, Side.SELL, "29000", "0.1", stop=StopKind.LOSS, stop_price=D("29500"))
    entry = limit(ex, c, Side.BUY, "31500", "0.1", stop=StopKind.ENTRY, stop_price=D("31000"))
    assert stop.status is OrderStatus.NEW and not stop.in_book
    assert bal(ex, c, "BTC")[1] == D("0.1")  # stops hold at placement
    assert ex.book("BTC-USDT").asks == []
    limit(ex, a, Side.BUY, "29400", "0.1")
    limit(ex, b, Side.SELL, "29400", "0.05")  # last = 29400 <= 29500 -> stop triggers
    triggered = ex.get(c, stop.id)
    assert triggered is not None and triggered.stop_triggered
    assert triggered.deal_size == D("0.05") and triggered.status is OrderStatus.OPEN
    assert ex.get(c, entry.id).status is OrderStatus.NEW  # type: ignore[union-attr]
    ex.set_price("BTC-USDT", D("31000"), T0)
    assert ex.get(c, entry.id).stop_triggered  # type: ignore[union-attr]


def test_events_sequence_l2_and_order_lifecycle() -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    ex.drain_events()
    limit(ex, a, Side.SELL, "30000", "0.3")
    limit(ex, b, Side.BUY, "30000", "0.1")
    events = ex.drain_events()
    l2 = [e for e in events if isinstance(e, L2Change)]
    assert [(e.side, e.price, e.size, e.sequence) for e in l2] == [
        (Side.SELL, D("30000"), D("0.3"), 1),
        (Side.SELL, D("30000"), D("0.2"), 2),
    ]
    assert ex.book("BTC-USDT").sequence == 2
    kinds = [(e.type, e.order.side) for e in events if isinstance(e, OrderEvent)]
    assert kinds == [
        (OrderEventType.RECEIVED, Side.SELL),
        (OrderEventType.OPEN, Side.SELL),
        (OrderEventType.RECEIVED, Side.BUY),
        (OrderEventType.MATCH, Side.BUY),
        (OrderEventType.MATCH, Side.SELL),
        (OrderEventType.FILLED, Side.BUY),
    ]
    (trade,) = [e for e in events if isinstance(e, TradeEvent)]
    assert trade.side is Side.BUY and trade.size == D("0.1")
    assert ex.drain_events() == []


def test_hf_account_trades_from_trade_hf() -> None:
    ex = exchange()
    a = user(ex, acct=AccountType.TRADE_HF)
    b = user(ex, acct=AccountType.TRADE_HF)
    limit(ex, a, Side.SELL, "30000", "0.1", account_type=AccountType.TRADE_HF)
    limit(ex, b, Side.BUY, "30000", "0.1", account_type=AccountType.TRADE_HF)
    assert bal(ex, b, "BTC", AccountType.TRADE_HF) == (D("10.1"), Decimal(0))


def test_partial_cancel_keeps_priority_and_shrinks_hold() -> None:
    from kucoin_sim.engine import Codes, EngineError

    ex = exchange()
    a, b, c = user(ex), user(ex), user(ex)
    first = limit(ex, a, Side.SELL, "30000", "0.5")
    limit(ex, b, Side.SELL, "30000", "0.1")
    ex.drain_events()
    after = ex.cancel_partial(a, first.id, D("0.2"), T0)
    assert after.remaining == D("0.3") and after.cancelled_size == D("0.2") and after.active
    assert bal(ex, a, "BTC") == (D(10), D("0.3"))
    events = ex.drain_events()
    update = [e for e in events if isinstance(e, OrderEvent)]
    assert update[0].type is OrderEventType.UPDATE and update[0].old_size == D("0.5")
    assert [e.size for e in events if isinstance(e, L2Change)] == [D("0.4")]
    taker = limit(ex, c, Side.BUY, "30000", "0.3")
    assert ex.fills(c)[0].counter_order_id == first.id and taker.deal_size == D("0.3")
    assert ex.get(a, first.id).done_reason is DoneReason.FILLED  # type: ignore[union-attr]
    for bad in (D(0), D("0.0001")):
        with pytest.raises(EngineError) as info:
            ex.cancel_partial(b, ex.orders(b, status="active")[0].id, bad, T0)
        assert info.value.code == Codes.PARAM
    with pytest.raises(EngineError):
        ex.cancel_partial(a, first.id, D("0.1"), T0)
    whole = ex.cancel_partial(b, ex.orders(b, status="active")[0].id, D(5), T0)
    assert whole.done_reason is DoneReason.CANCELED


def test_partial_cancel_of_waiting_stop_and_check_does_not_place() -> None:
    from kucoin_sim.engine import Codes, EngineError, OrderRequest, OrderType

    ex = exchange()
    a = user(ex)
    stop = limit(ex, a, Side.SELL, "29000", "0.5", stop=StopKind.LOSS, stop_price=D("29500"))
    ex.cancel_partial(a, stop.id, D("0.2"), T0)
    assert bal(ex, a, "BTC") == (D(10), D("0.3"))
    req = OrderRequest(a, "BTC-USDT", Side.BUY, price=D("30000"), size=D("0.01"))
    assert ex.check(req, T0) == req and len(ex.orders(a)) == 1
    bad = OrderRequest(a, "BTC-USDT", Side.BUY, price=D("30000.01"), size=D("0.01"))
    with pytest.raises(EngineError):
        ex.check(bad, T0)
    funds = ex.place(
        OrderRequest(
            a,
            "BTC-USDT",
            Side.BUY,
            OrderType.MARKET,
            funds=D(10),
            stop=StopKind.ENTRY,
            stop_price=D(40000),
        ),
        T0,
    )
    assert funds.active and bal(ex, a, "USDT")[1] == D("10.020")
    with pytest.raises(EngineError) as info:
        ex.cancel_partial(a, funds.id, D("0.1"), T0)
    assert (info.value.code, info.value.message) == (
        Codes.PARAM,
        "A market order by funds cannot be partly cancelled",
    )


def test_stop_already_due_triggers_at_once() -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    limit(ex, a, Side.SELL, "30000", "0.1")
    limit(ex, b, Side.BUY, "30000", "0.05")  # last = 30000
    stop = limit(ex, b, Side.BUY, "30000", "0.05", stop=StopKind.ENTRY, stop_price=D("29000"))
    assert stop.stop_triggered and stop.done_reason is DoneReason.FILLED
    waiting = limit(ex, b, Side.BUY, "30000", "0.01", stop=StopKind.ENTRY, stop_price=D("31000"))
    assert not waiting.stop_triggered and waiting.status is OrderStatus.NEW


def test_partial_cancel_of_a_buy_shrinks_quote_hold_and_stop_sell_by_funds_holds_base() -> None:
    from kucoin_sim.engine import OrderRequest, OrderType

    ex = exchange()
    a = user(ex)
    buy = limit(ex, a, Side.BUY, "30000", "0.5")
    ex.cancel_partial(a, buy.id, D("0.2"), T0)
    assert bal(ex, a, "USDT")[1] == D("30000") * D("0.3") * D("1.002")
    stop = ex.place(
        OrderRequest(
            a,
            "BTC-USDT",
            Side.SELL,
            OrderType.MARKET,
            funds=D(100),
            stop=StopKind.LOSS,
            stop_price=D("29999.9"),
        ),
        T0,
    )
    assert stop.hold == D("0.004")  # 100 / 29999.9 = 0.00333.. rounded up to the 0.001 increment


@pytest.mark.parametrize(
    "display", [{"hidden": True}, {"iceberg": True, "visible_size": D("0.05")}, {}]
)
def test_hidden_and_iceberg_makers_pay_the_taker_rate(display: dict[str, object]) -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    limit(ex, a, Side.SELL, "30000", "0.1", **display)
    limit(ex, b, Side.BUY, "30000", "0.05")
    (fill,) = ex.fills(a)
    expected = D("0.002") if display else D("0.001")
    assert fill.fee_rate == expected and fill.fee == D("1500.0") * expected
    assert fill.liquidity.value == "maker"


def test_price_protection_refuses_limit_and_truncates_market() -> None:
    from kucoin_sim.engine import Codes, EngineError

    ex = exchange()  # priceLimitRate 0.1: bound 33000 above a 30000 best ask
    a, b = user(ex), user(ex)
    limit(ex, a, Side.SELL, "30000", "0.1")
    limit(ex, a, Side.SELL, "34000", "0.1")
    with pytest.raises(EngineError) as info:
        limit(ex, b, Side.BUY, "34000", "0.2")
    assert info.value.code == Codes.PARAM and "price protection" in info.value.message
    assert bal(ex, b, "USDT")[1] == 0 and ex.orders(b) == []
    ok = limit(ex, b, Side.BUY, "34000", "0.05")
    assert ok.deal_size == D("0.05") and ok.done_reason is DoneReason.FILLED
    swept = market(ex, b, Side.BUY, size="0.2")
    assert swept.deal_size == D("0.05") and swept.done_reason is DoneReason.CANCELED
    limit(ex, a, Side.BUY, "20000", "0.1")
    limit(ex, a, Side.BUY, "29000", "0.1")
    sold = market(ex, b, Side.SELL, size="0.2")
    assert sold.deal_size == D("0.1") and ex.fills(b)[0].price == D(29000)


def test_triggered_stop_beyond_protection_is_cancelled() -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    limit(ex, a, Side.SELL, "30000", "0.1")
    limit(ex, a, Side.SELL, "34000", "0.1")
    stop = limit(ex, b, Side.BUY, "34000", "0.2", stop=StopKind.ENTRY, stop_price=D("31000"))
    ex.set_price("BTC-USDT", D(31000), T0)
    done = ex.get(b, stop.id)
    assert done is not None and done.stop_triggered and done.done_reason is DoneReason.CANCELED
    assert done.deal_size == 0 and bal(ex, b, "USDT")[1] == 0


def test_stop_filter_lists_waiting_stops_apart_from_normal_orders() -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    waiting = limit(ex, b, Side.BUY, "25000", "0.01", stop=StopKind.LOSS, stop_price=D("20000"))
    fired = limit(ex, b, Side.BUY, "25000", "0.01", stop=StopKind.ENTRY, stop_price=D("29000"))
    normal = limit(ex, b, Side.BUY, "26000", "0.01")
    limit(ex, a, Side.SELL, "30000", "0.01")
    limit(ex, b, Side.BUY, "30000", "0.01")  # last 30000: the entry stop fires and rests
    assert [o.id for o in ex.orders(b, status="active", stop=True)] == [waiting.id]
    assert {o.id for o in ex.orders(b, status="active", stop=False)} == {fired.id, normal.id}
    cancelled = ex.cancel_all(b, None, None, T0, stop=False)
    assert {o.id for o in cancelled} == {fired.id, normal.id}
    assert [o.id for o in ex.orders(b, status="active")] == [waiting.id]


def test_alter_recreates_with_new_price_and_size_and_same_client_oid() -> None:
    from kucoin_sim.engine import Codes, EngineError

    ex = exchange()
    a, b = user(ex), user(ex)
    old = limit(ex, a, Side.BUY, "29000", "0.5", client_oid="alt-1")
    limit(ex, b, Side.SELL, "29500", "0.1")
    new = ex.alter(a, old.id, T0, new_price=D("29500"))
    assert new.id != old.id and new.client_oid == "alt-1" and new.deal_size == D("0.1")
    assert new.remaining == D("0.4") and new.status is OrderStatus.OPEN
    assert ex.get(a, old.id).done_reason is DoneReason.CANCELED  # type: ignore[union-attr]
    assert ex.get_by_client_oid(a, "alt-1").id == new.id  # type: ignore[union-attr]
    smaller = ex.alter(a, new.id, T0, new_size=D("0.2"))
    assert smaller.price == D("29500") and smaller.size == D("0.2")
    assert bal(ex, a, "USDT")[1] == D("29500") * D("0.2") * D("1.002")
    with pytest.raises(EngineError) as info:
        ex.alter(a, old.id, T0, new_price=D(1))
    assert info.value.code == Codes.PARAM
    with pytest.raises(EngineError):
        ex.alter(a, smaller.id, T0, new_price=D("29500.01"))
    assert not ex.get(a, smaller.id).active  # type: ignore[union-attr]
    stop = limit(ex, a, Side.BUY, "20000", "0.1", stop=StopKind.LOSS, stop_price=D("20000"))
    with pytest.raises(EngineError):
        ex.alter(a, stop.id, T0, new_price=D("21000"))
