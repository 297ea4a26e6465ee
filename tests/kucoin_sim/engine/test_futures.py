from decimal import Decimal

import pytest

from kucoin_sim.engine import (
    DEFAULT_CONTRACTS,
    AccountType,
    Codes,
    EngineError,
    Exchange,
    MarginMode,
    OrderRequest,
    OrderType,
    Side,
)
from tests.kucoin_sim.engine.helpers import T0, D

SYM = "XBTUSDTM"


def setup() -> tuple[Exchange, str, str, str]:
    ex = Exchange([], DEFAULT_CONTRACTS, seed=3)
    users = []
    for _ in range(3):
        uid = ex.create_user()
        ex.fund(uid, AccountType.FUTURES, "USDT", D(10000), T0)
        users.append(uid)
    return ex, users[0], users[1], users[2]


def fut(
    ex: Exchange,
    uid: str,
    side: Side,
    size: int | None = None,
    price: str | None = None,
    **kw: object,
):  # type: ignore[no-untyped-def]
    typ = OrderType.LIMIT if price is not None else OrderType.MARKET
    req = OrderRequest(
        uid,
        SYM,
        side,
        typ,
        price=None if price is None else D(price),
        size=None if size is None else D(size),
        **kw,
    )  # type: ignore[arg-type]
    return ex.place(req, T0)


def held(ex: Exchange, uid: str) -> tuple[Decimal, Decimal]:
    (b,) = ex.balances(uid, AccountType.FUTURES, "USDT")
    return b.balance, b.holds


def test_open_and_close_a_position_with_margin_fees_and_pnl() -> None:
    ex, a, b, c = setup()
    maker = fut(ex, a, Side.SELL, 10, "30000", leverage=D(5))
    assert maker.hold == D("60.18")  # 300 * (1/5 + 0.0006)
    taker = fut(ex, b, Side.BUY, 4, leverage=D(10))
    assert taker.deal_size == 4 and taker.deal_funds == D("120.0000")
    assert held(ex, b) == (D("9999.928"), D("12"))
    assert held(ex, a) == (D("9999.976"), D("60.156"))
    pb = ex.position(b, SYM)
    assert (pb.current_qty, pb.avg_entry_price, pb.pos_margin) == (4, D(30000), D(12))
    pa = ex.position(a, SYM)
    assert (pa.current_qty, pa.pos_margin) == (-4, D(24))
    ex.cancel(a, maker.id, T0)
    fut(ex, c, Side.BUY, 4, "31000", leverage=D(1))
    close = fut(ex, b, Side.SELL, close_order=True)
    assert close.reduce_only and close.side is Side.SELL and close.deal_size == 4
    assert held(ex, b) == (D("10003.8536"), 0)
    pb = ex.position(b, SYM)
    assert not pb.is_open and pb.realised_pnl == D("3.8536")
    pa = ex.position(a, SYM)
    assert pa.mark_price == D(31000) and pa.unrealised_pnl == D("-4.000")
    assert ex.positions(b) == [] and [p.symbol for p in ex.positions(a)] == [SYM]
    ov = ex.account_overview(a)
    assert ov.unrealised_pnl == D("-4.000") and ov.position_margin == D(24)
    assert ov.order_margin == 0 and ov.account_equity == D("9995.976")
    assert ov.available_balance == D("9999.976") - D(24) - 4


def test_position_flip_and_average_price() -> None:
    ex, a, b, _ = setup()
    fut(ex, a, Side.SELL, 10, "30000", leverage=D(2))
    fut(ex, b, Side.BUY, 2, leverage=D(2))
    fut(ex, b, Side.BUY, 2, "30000", leverage=D(2))
    fut(ex, a, Side.SELL, 3, "30100", leverage=D(2))
    fut(ex, b, Side.BUY, 9, leverage=D(2))
    assert ex.position(b, SYM).avg_entry_price == ((D(30000) * 10 + D(30100) * 3) / 13).quantize(
        D("0.00000001")
    )
    fut(ex, a, Side.BUY, 10, "29000", leverage=D(2))
    flip = fut(ex, b, Side.SELL, 10, leverage=D(2))
    assert flip.deal_size == 10
    pos = ex.position(b, SYM)
    assert pos.current_qty == 3 and pos.avg_entry_price == (
        (D(30000) * 10 + D(30100) * 3) / 13
    ).quantize(D("0.00000001"))
    fut(ex, a, Side.BUY, 10, "28000", leverage=D(2))
    flip = fut(ex, b, Side.SELL, 10, leverage=D(2))
    pos = ex.position(b, SYM)
    assert pos.current_qty == -7 and pos.avg_entry_price == D(28000)
    (acct,) = ex.balances(b, AccountType.FUTURES, "USDT")
    assert acct.holds == pos.pos_margin


def test_reduce_only_and_close_without_position_are_refused() -> None:
    ex, a, _, _ = setup()
    with pytest.raises(EngineError) as info:
        fut(ex, a, Side.SELL, 1, "30000", reduce_only=True)
    assert info.value.code == Codes.FUTURES
    with pytest.raises(EngineError):
        fut(ex, a, Side.SELL, close_order=True)


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"size": None}, Codes.PARAM),
        ({"size": D("1.5")}, Codes.PARAM),
        ({"size": D(10_000_000)}, Codes.FUTURES),
        ({"leverage": D(200)}, Codes.FUTURES),
        ({"price": D("30000.05")}, Codes.PARAM),
        ({"symbol": "NOPEUSDTM"}, Codes.NO_SYMBOL),
    ],
)
def test_futures_order_rules(kw: dict[str, object], code: str) -> None:
    ex, a, _, _ = setup()
    fields: dict[str, object] = {"price": D(30000), "size": D(1)}
    fields.update(kw)
    symbol = str(fields.pop("symbol", SYM))
    with pytest.raises(EngineError) as info:
        ex.place(OrderRequest(a, symbol, Side.BUY, **fields), T0)  # type: ignore[arg-type]
    assert info.value.code == code


def test_qty_and_value_qty_convert_to_lots() -> None:
    ex, a, _, _ = setup()
    o1 = ex.place(OrderRequest(a, SYM, Side.BUY, price=D(30000), qty=D("0.005")), T0)
    o2 = ex.place(OrderRequest(a, SYM, Side.BUY, price=D(30000), value_qty=D(100)), T0)
    assert (o1.size, o2.size) == (5, 3)
    with pytest.raises(EngineError):
        ex.place(OrderRequest(a, SYM, Side.BUY, OrderType.MARKET, value_qty=D(100)), T0)


def test_margin_mode_and_cross_leverage() -> None:
    ex, a, _, _ = setup()
    assert ex.get_margin_mode(a, SYM) is MarginMode.ISOLATED
    assert ex.get_cross_leverage(a, SYM) == 3
    ex.set_cross_leverage(a, SYM, D(10))
    ex.set_margin_mode(a, SYM, MarginMode.CROSS)
    order = fut(ex, a, Side.BUY, 1, "30000", leverage=D(50))
    assert order.leverage == 10 and order.margin_mode is MarginMode.CROSS
    with pytest.raises(EngineError):
        ex.set_margin_mode(a, SYM, MarginMode.ISOLATED)
    with pytest.raises(EngineError):
        ex.set_cross_leverage(a, SYM, D(0))
    with pytest.raises(EngineError):
        ex.set_cross_leverage(a, "NOPE", D(2))


def test_insufficient_margin() -> None:
    ex, a, _, _ = setup()
    with pytest.raises(EngineError) as info:
        fut(ex, a, Side.BUY, 2000, "30000", leverage=D(1))
    assert info.value.code == Codes.BALANCE


def test_position_events_follow_fills() -> None:
    from kucoin_sim.engine import PositionEvent

    ex, a, b, _ = setup()
    fut(ex, a, Side.SELL, 3, "30000", leverage=D(3))
    ex.drain_events()
    fut(ex, b, Side.BUY, 2, leverage=D(2))
    events = [e for e in ex.drain_events() if isinstance(e, PositionEvent)]
    assert [(e.uid, e.current_qty) for e in events] == [(b, 2), (a, -2)]
    assert events[0].avg_entry_price == D(30000) and events[0].pos_margin == D(30)


def test_market_sell_through_levels_is_not_cut_by_its_margin() -> None:
    ex, a, b, _ = setup()
    fut(ex, a, Side.BUY, 1, "30000", leverage=D(1))
    fut(ex, a, Side.BUY, 1, "20000", leverage=D(1))
    sell = fut(ex, b, Side.SELL, 3, leverage=D(1))
    assert sell.deal_size == 2 and sell.cancelled_size == 1
    assert sell.hold == 0 and ex.position(b, SYM).current_qty == -2
    assert ex.position(b, SYM).pos_margin == D(50)


def test_market_order_hold_caps_fills_when_stp_skips_to_worse_prices() -> None:
    from kucoin_sim.engine import Stp

    ex, a, b, _ = setup()
    fut(ex, b, Side.SELL, 5, "30000", leverage=D(1))
    fut(ex, a, Side.SELL, 2, "40000", leverage=D(1))
    buy = fut(ex, b, Side.BUY, 4, leverage=D(1), stp=Stp.CO)
    # hold was priced on b's own 30000 offer; CO cancels it and the 40000 lots cost more
    assert 0 < buy.deal_size < 4
    assert ex.balances(b, AccountType.FUTURES, "USDT")[0].holds == ex.position(b, SYM).pos_margin


def test_disabled_contract_and_partial_cancel_releases_margin() -> None:
    from dataclasses import replace

    ex = Exchange([], [replace(DEFAULT_CONTRACTS[0], enable_trading=False), DEFAULT_CONTRACTS[1]])
    uid = ex.create_user()
    ex.fund(uid, AccountType.FUTURES, "USDT", D(10000))
    with pytest.raises(EngineError) as info:
        ex.place(OrderRequest(uid, SYM, Side.BUY, price=D(30000), size=D(1)), T0)
    assert info.value.code == Codes.NOT_TRADABLE
    order = ex.place(
        OrderRequest(uid, "ETHUSDTM", Side.BUY, price=D(3000), size=D(10), leverage=D(2)), T0
    )
    ex.cancel_partial(uid, order.id, D(4), T0)
    left = ex.get(uid, order.id)
    assert left is not None and left.hold == D("3000") * 6 * D("0.01") * (D("0.5") + D("0.0006"))
    assert ex.balances(uid, AccountType.FUTURES)[0].holds == left.hold
