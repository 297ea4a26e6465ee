from decimal import Decimal

import pytest

from kucoin_sim.engine import (
    AccountType,
    Codes,
    EngineError,
    Exchange,
    Limits,
    OrderRequest,
    OrderType,
    Side,
    StopKind,
    SymbolSpec,
    TimeInForce,
)
from tests.kucoin_sim.engine.helpers import SPEC, T0, D, exchange, limit, market, user


def place(ex: Exchange, uid: str, **kw: object) -> None:
    fields: dict[str, object] = {"price": D("30000"), "size": D("0.01")}
    fields.update(kw)
    ex.place(OrderRequest(uid, str(fields.pop("symbol", "BTC-USDT")), Side.BUY, **fields), T0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        ({"price": D("30000.05")}, Codes.PARAM, "Price increment invalid."),
        ({"price": D(0)}, Codes.PARAM, "price must be positive"),
        ({"price": None}, Codes.PARAM, "price is required"),
        ({"size": D("0.0101")}, Codes.PARAM, "Order size increment invalid."),
        ({"size": D("0.0001")}, Codes.PARAM, "Order size below the minimum requirement."),
        ({"size": D(1001)}, Codes.PARAM, "Order size above the maximum requirement."),
        ({"size": None}, Codes.PARAM, "size is required"),
        (
            {"price": D("100"), "size": D("0.001")},
            Codes.PARAM,
            "Order funds below the minimum requirement.",
        ),
        ({"symbol": "NOPE-USDT"}, Codes.NO_SYMBOL, "Symbol not exists"),
        (
            {"hidden": True, "iceberg": True, "visible_size": D("0.001")},
            Codes.PARAM,
            "An order cannot be both hidden and iceberg",
        ),
        ({"iceberg": True}, Codes.PARAM, "visibleSize invalid"),
        (
            {"iceberg": True, "visible_size": D("0.02")},
            Codes.PARAM,
            "visibleSize must not exceed size",
        ),
        ({"tif": TimeInForce.GTT}, Codes.PARAM, "cancelAfter must be positive for GTT orders"),
        ({"stop": StopKind.LOSS}, Codes.PARAM, "stopPrice is required"),
        (
            {"account_type": AccountType.MAIN},
            Codes.PARAM,
            "Spot orders trade from trade, trade_hf or margin",
        ),
    ],
)
def test_limit_rules(fields: dict[str, object], code: str, message: str) -> None:
    ex = exchange()
    a = user(ex)
    with pytest.raises(EngineError) as info:
        place(ex, a, **fields)
    assert (info.value.code, info.value.message) == (code, message)
    assert ex.orders(a) == []


@pytest.mark.parametrize(
    ("size", "funds", "message"),
    [
        (None, None, "Exactly one of size and funds is required for a market order"),
        ("0.01", "100", "Exactly one of size and funds is required for a market order"),
        (None, "0.5", "Order funds below the minimum requirement."),
        (None, "1000001", "Order funds above the maximum requirement."),
        (None, "10.001", "Order funds increment invalid."),
    ],
)
def test_market_rules(size: str | None, funds: str | None, message: str) -> None:
    ex = exchange()
    a = user(ex)
    with pytest.raises(EngineError) as info:
        market(ex, a, Side.BUY, size=size, funds=funds)
    assert info.value.code == Codes.PARAM and info.value.message == message


def test_disabled_symbol_is_400600() -> None:
    from dataclasses import replace

    ex = Exchange([replace(SPEC, enable_trading=False)])
    a = user(ex)
    with pytest.raises(EngineError) as info:
        limit(ex, a, Side.BUY, "30000", "0.01")
    assert info.value.code == Codes.NOT_TRADABLE


@pytest.mark.parametrize(
    ("acct", "code"), [(AccountType.TRADE, "200004"), (AccountType.TRADE_HF, "126013")]
)
def test_insufficient_balance_codes(acct: AccountType, code: str) -> None:
    ex = exchange()
    a = user(ex, usdt="100", btc="0", acct=acct)
    with pytest.raises(EngineError) as info:
        limit(ex, a, Side.BUY, "30000", "0.01", account_type=acct)
    assert info.value.code == code
    with pytest.raises(EngineError) as info:
        limit(ex, a, Side.SELL, "30000", "0.01", account_type=acct)
    assert info.value.code == code
    assert ex.orders(a) == []


def test_duplicate_client_oid_of_active_order() -> None:
    ex = exchange()
    a = user(ex)
    first = limit(ex, a, Side.BUY, "30000", "0.01", client_oid="x-1")
    with pytest.raises(EngineError) as info:
        limit(ex, a, Side.BUY, "30000", "0.01", client_oid="x-1")
    assert info.value.code == Codes.PARAM
    ex.cancel_by_client_oid(a, "x-1", T0)
    second = limit(ex, a, Side.BUY, "30000", "0.01", client_oid="x-1")
    latest = ex.get_by_client_oid(a, "x-1")
    assert latest is not None and latest.id == second.id != first.id
    hf = user(ex, acct=AccountType.TRADE_HF)
    limit(ex, hf, Side.BUY, "30000", "0.01", client_oid="y", account_type=AccountType.TRADE_HF)
    with pytest.raises(EngineError) as info:
        limit(ex, hf, Side.BUY, "30000", "0.01", client_oid="y", account_type=AccountType.TRADE_HF)
    assert info.value.code == Codes.DUPLICATE_HF


def test_active_order_limits_count_stops() -> None:
    ex = exchange(limits=Limits(per_account=3, per_symbol=2))
    a = user(ex)
    limit(ex, a, Side.BUY, "30000", "0.01")
    limit(ex, a, Side.SELL, "31000", "0.01", stop=StopKind.ENTRY, stop_price=D("32000"))
    with pytest.raises(EngineError) as info:
        limit(ex, a, Side.BUY, "30000", "0.01")
    assert info.value.code == Codes.TOO_MANY
    ex.cancel_all(a, None, None, T0)
    limit(ex, a, Side.BUY, "30000", "0.01")
    other = Exchange(
        [
            SPEC,
            SymbolSpec(
                **{
                    **{f: getattr(SPEC, f) for f in SPEC.__dataclass_fields__},
                    "symbol": "ETH-USDT",
                    "base": "ETH",
                }
            ),
        ],
        limits=Limits(per_account=2, per_symbol=5),
    )
    b = other.create_user()
    other.fund(b, AccountType.TRADE, "USDT", D(10**6))
    other.place(OrderRequest(b, "BTC-USDT", Side.BUY, price=D(30000), size=D("0.01")), T0)
    other.place(OrderRequest(b, "ETH-USDT", Side.BUY, price=D(3000), size=D("0.01")), T0)
    with pytest.raises(EngineError) as info:
        other.place(OrderRequest(b, "ETH-USDT", Side.BUY, price=D(3000), size=D("0.01")), T0)
    assert info.value.code == Codes.TOO_MANY


def test_filled_orders_do_not_count_towards_limits() -> None:
    ex = exchange(limits=Limits(per_account=1, per_symbol=1))
    a, b = user(ex), user(ex)
    for _ in range(3):
        limit(ex, a, Side.SELL, "30000", "0.01")
        limit(ex, b, Side.BUY, "30000", "0.01")


def test_cancel_unknown_or_foreign_or_done_order() -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    order = limit(ex, a, Side.BUY, "30000", "0.01")
    for uid, oid in ((a, "0" * 24), (b, order.id)):
        with pytest.raises(EngineError) as info:
            ex.cancel(uid, oid, T0)
        assert (info.value.code, info.value.message) == (
            "400100",
            "order_not_exist_or_not_allow_to_cancel",
        )
    ex.cancel(a, order.id, T0)
    with pytest.raises(EngineError) as info:
        ex.cancel(a, order.id, T0, AccountType.TRADE_HF)
    assert info.value.code == Codes.NOT_FOUND_HF
    with pytest.raises(EngineError):
        ex.cancel_by_client_oid(a, "missing", T0)
    assert ex.get(b, order.id) is None


def test_post_only_ignored_for_ioc() -> None:
    ex = exchange()
    a, b = user(ex), user(ex)
    limit(ex, a, Side.SELL, "30000", "0.01")
    order = limit(ex, b, Side.BUY, "30000", "0.01", post_only=True, tif=TimeInForce.IOC)
    assert order.deal_size == D("0.01") and not order.post_only


def test_market_type_string() -> None:
    assert (
        OrderType.MARKET == "market"
        and Side.BUY.opposite is Side.SELL
        and Side.SELL.opposite is Side.BUY
    )
    assert isinstance(EngineError("1", "m"), Exception) and str(EngineError("1", "m")) == "1: m"
    assert Decimal(0) == 0
