from __future__ import annotations

import contextlib
import json
import pickle
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcgateway import errors
from kcgateway.kucoin import models as m
from kcgateway.secret import Secret

from . import model_samples as s


def _both(parser: Callable[[object], Any], data: object) -> Any:
    """Parse from decoded objects and from raw JSON bytes; both must agree."""
    from_objects = parser(data)
    from_bytes = parser(json.dumps(data).encode())
    assert from_objects == from_bytes
    return from_bytes


# --- envelope ---


def test_envelope_success_returns_raw_data() -> None:
    raw = b'{"code":"200000","data":{"orderId":"o1","clientOid":"c1"}}'
    data = m.parse_envelope(raw, http_status=200, request_path="/api/v1/hf/orders")
    assert m.parse_order_placed(data) == m.OrderPlaced(order_id="o1", client_oid="c1")


def test_envelope_accepts_code_200_and_numeric_code_and_missing_data() -> None:
    assert bytes(m.parse_envelope(b'{"code":"200","data":true}')) == b"true"
    assert bytes(m.parse_envelope(b'{"code":200000,"data":1}')) == b"1"
    assert bytes(m.parse_envelope(b'{"code":"200000"}')) == b"null"


def test_envelope_error_code_raises_mapped_exception() -> None:
    raw = b'{"code":"400100","msg":"account.available.amount","success":false,"data":null}'
    with pytest.raises(errors.InvalidParameter) as info:
        m.parse_envelope(raw, http_status=400, request_path="/p", request_id="rid")
    exc = info.value
    assert (exc.code, exc.message, exc.http_status, exc.request_path, exc.request_id) == (
        "400100",
        "account.available.amount",
        400,
        "/p",
        "rid",
    )


def test_envelope_error_on_http_200_is_still_an_error() -> None:
    with pytest.raises(errors.InsufficientFunds):
        m.parse_envelope(b'{"code":"200004","msg":"Balance insufficient!"}', http_status=200)


def test_envelope_429_keeps_reset() -> None:
    with pytest.raises(errors.RateLimited) as info:
        m.parse_envelope(
            b'{"code":"429000","msg":"Too Many Requests"}', http_status=429, reset_ms=900
        )
    assert info.value.reset_ms == 900


def test_envelope_unknown_code_is_never_success() -> None:
    with pytest.raises(errors.UnknownExchangeError):
        m.parse_envelope(b'{"code":"123456","data":{"orderId":"x"}}', http_status=200)


def test_success_code_on_error_status_is_an_error() -> None:
    with pytest.raises(errors.ExchangeUnavailable) as info:
        m.parse_envelope(b'{"code":"200000","data":null}', http_status=503)
    assert info.value.code == "http_503"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (502, errors.ExchangeUnavailable),
        (429, errors.RateLimited),
        (404, errors.NotFound),
        (403, errors.UnknownExchangeError),
    ],
)
def test_non_json_error_body_maps_by_status(status: int, expected: type[Exception]) -> None:
    body = b"<html>Bad Gateway</html>"
    with pytest.raises(expected) as info:
        m.parse_envelope(body, http_status=status, request_path="/p")
    assert "html" not in str(info.value)


@pytest.mark.parametrize("body", [b"<html>", b"[]", b'{"data":1}', b'{"code":null}', b""])
def test_non_envelope_on_success_status_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(errors.ProtocolError):
        m.parse_envelope(body, http_status=200)
    with pytest.raises(errors.ProtocolError):
        m.parse_envelope(body)


# --- errors name the path ---


def test_wrong_type_names_the_payload_path() -> None:
    # a JSON number is a valid decimal (futures sends numbers); a list is not
    bad = s.page([s.HF_ORDER, dict(s.HF_ORDER, price=12.5), s.HF_ORDER, s.HF_ORDER])
    bad["items"][3] = dict(s.HF_ORDER, price=["1"])
    for data in (json.dumps(bad).encode(), bad):
        with pytest.raises(errors.ProtocolError) as info:
            m.parse_hf_orders_page(data)
        assert info.value.path == "data.items[3].price"
        assert str(info.value).endswith("at data.items[3].price")


def test_missing_required_field_and_bad_json() -> None:
    with pytest.raises(errors.ProtocolError) as info:
        m.parse_symbol({k: v for k, v in s.SYMBOL.items() if k != "priceIncrement"})
    assert "priceIncrement" in info.value.message
    with pytest.raises(errors.ProtocolError) as info:
        m.parse_symbols(b'[{"symbol":')
    assert info.value.path == "data"
    with pytest.raises(errors.ProtocolError) as info:
        m.parse_server_time("x")
    assert info.value.path == "data"


def test_invalid_decimal_string_is_rejected() -> None:
    with pytest.raises(errors.ProtocolError) as info:
        m.parse_ticker(dict(s.TICKER, price="12,5"))
    assert info.value.path == "data.price"


# --- market data ---


def test_symbols_exact_decimals_and_unknown_fields_ignored() -> None:
    (sym,) = _both(m.parse_symbols, [s.SYMBOL])
    assert sym.symbol == "BTC-USDT"
    assert sym.base_increment == Decimal("0.00000001")
    assert str(sym.price_increment) == "0.1"
    assert sym.is_margin_enabled and sym.enable_trading and sym.fee_category == 1
    assert m.parse_symbol(s.SYMBOL) == sym
    with pytest.raises(AttributeError):
        sym.symbol = "x"  # type: ignore[misc]


def test_currencies() -> None:
    (cur,) = _both(m.parse_currencies, [s.CURRENCY])
    assert cur.precision == 8 and cur.full_name == "Bitcoin"
    assert cur.chains is not None and cur.chains[0].withdrawal_min_fee == Decimal("0.0005")
    assert m.parse_currency(s.CURRENCY) == cur


def test_ticker_stats_and_all_tickers() -> None:
    t = _both(m.parse_ticker, s.TICKER)
    assert (t.best_bid, t.best_ask, t.sequence) == (
        Decimal("67267.5"),
        Decimal("67267.6"),
        "14609309753",
    )
    st_ = _both(m.parse_stats, s.STATS)
    assert st_.vol_value == Decimal("124068431.06726933")
    allt = _both(m.parse_all_tickers, s.ALL_TICKERS)
    assert allt.ticker[0].best_ask_size == Decimal("1.2")
    assert allt.ticker[1].last is None


def test_spot_order_book() -> None:
    book = _both(m.parse_order_book, s.BOOK)
    assert book.bids[0] == (Decimal("66976.4"), Decimal("0.69109872"))
    assert book.asks[-1] == (Decimal("66976.6"), Decimal("0.00002"))
    assert book.seq == 14610502970
    with pytest.raises(errors.ProtocolError):
        m.parse_order_book(dict(s.BOOK, sequence="abc"))


def test_futures_order_book_numbers_are_exact_decimals() -> None:
    book = m.parse_futures_order_book(s.FUTURES_BOOK_RAW)
    assert book.asks[0][0] == Decimal("66968.10000000000000000001")
    assert book.bids[1] == (Decimal("66964.8"), Decimal("25596"))
    assert book.ts == 1729168101216000000


def test_spot_candles_reorder_open_close_high_low() -> None:
    c = _both(m.parse_spot_candles, s.SPOT_CANDLES)[0]
    assert c.start_ms == 1729176180000
    assert (c.open, c.close, c.high, c.low) == (
        Decimal("67045.1"),
        Decimal("67061.3"),
        Decimal("67070.0"),
        Decimal("67040.2"),
    )
    assert (c.volume, c.turnover) == (Decimal("0.42418106"), Decimal("28442.25"))
    with pytest.raises(errors.ProtocolError) as info:
        m.parse_spot_candles([["t1", "1", "1", "1", "1", "1", "1"]])
    assert info.value.path == "data[0][0]"


def test_futures_candles_use_their_own_order() -> None:
    (c,) = m.parse_futures_candles(s.FUTURES_CANDLES_RAW)
    assert c.start_ms == 1729152000000
    assert (c.open, c.high, c.low, c.close, c.volume) == (
        Decimal("67094.0"),
        Decimal("67230.2"),
        Decimal("66888.8"),
        Decimal("67111.3"),
        Decimal("4012"),
    )
    assert c.turnover is None


def test_trades_status_time_and_futures_market() -> None:
    (tr,) = _both(m.parse_market_trades, s.TRADES)
    assert tr.price == Decimal("67122") and tr.time == 1729177117877000000
    assert m.parse_server_time(b"1729100692873") == 1729100692873
    assert m.parse_server_status({"status": "open", "msg": ""}).status == "open"
    ft = _both(m.parse_futures_ticker, s.FUTURES_TICKER)
    assert ft.best_bid_size == Decimal(32345) and ft.price == Decimal("67158.4")
    (con,) = m.parse_contracts(json.dumps([s.CONTRACT]).encode())
    assert con.multiplier == Decimal("0.001") and con.tick_size == Decimal("0.1")
    assert m.parse_contract(s.CONTRACT).max_leverage == 125


# --- spot trading ---


def test_place_responses() -> None:
    assert m.parse_order_placed({"orderId": "o1"}) == m.OrderPlaced(order_id="o1")
    sync = _both(
        m.parse_order_placed_sync,
        {
            "orderId": "o1",
            "clientOid": "c1",
            "orderTime": 1729174140586,
            "originSize": "0.00001",
            "dealSize": "0",
            "remainSize": "0.00001",
            "canceledSize": "0",
            "status": "open",
            "matchTime": 1729174140588,
        },
    )
    assert sync.remain_size == Decimal("0.00001") and sync.status == "open"
    batch = m.parse_batch_placed(
        [
            {"orderId": "o1", "clientOid": "c1", "success": True},
            {"success": False, "failMsg": "The order funds should more then 0.1 USDT."},
        ]
    )
    assert [b.success for b in batch] == [True, False]


def test_cancel_responses() -> None:
    assert m.parse_cancel({"orderId": "o1"}).order_ids == ("o1",)
    assert m.parse_cancel({"cancelledOrderIds": ["a", "b"]}).order_ids == ("a", "b")
    r = m.parse_cancel({"cancelledOrderId": "o2", "clientOid": "c2", "cancelledOcoOrderIds": None})
    assert r.order_ids == ("o2",) and r.client_oid == "c2"
    assert m.parse_cancel({"clientOid": "c3"}).order_ids == ()
    assert m.parse_cancel({"orderId": "o4", "cancelSize": "0.5"}).cancel_size == Decimal("0.5")
    all_ = m.parse_cancel_all(
        {"succeedSymbols": ["BTC-USDT"], "failedSymbols": [{"symbol": "ETH-USDT", "error": "x"}]}
    )
    assert all_.failed_symbols[0].symbol == "ETH-USDT"
    assert m.parse_cancel_all({"succeedSymbols": []}).failed_symbols == []
    assert m.parse_cancel_symbol(b'"success"') == "success"


def test_hf_orders() -> None:
    o = _both(m.parse_hf_order, s.HF_ORDER)
    assert (o.id, o.client_oid, o.price, o.remain_size, o.active) == (
        "ord-0001",
        "coid-0001",
        Decimal("50000"),
        Decimal("0.00001"),
        True,
    )
    assert m.parse_hf_orders([s.HF_ORDER]) == [o]
    pg = m.parse_hf_orders_page(s.page([s.HF_ORDER]))
    assert pg.total_num == 1 and pg.items == [o]
    done = m.parse_hf_done_orders({"lastId": 19814995255305, "items": [s.HF_ORDER]})
    assert done.last_id == 19814995255305 and done.items == [o]
    assert m.parse_hf_done_orders({"items": []}).last_id is None


def test_classic_and_stop_orders() -> None:
    o = _both(m.parse_classic_order, s.CLASSIC_ORDER)
    assert o.is_active and o.tags == "partner:ccxt" and o.stop_price == Decimal("0")
    assert m.parse_classic_orders(s.page([s.CLASSIC_ORDER])).items == [o]
    so = _both(m.parse_stop_order, s.STOP_ORDER)
    assert so.stop_price == Decimal("10") and so.stop == "loss"
    assert m.parse_stop_orders(s.page([s.STOP_ORDER])).items == [so]


def test_fills() -> None:
    hf = m.parse_hf_fills({"items": [s.HF_FILL], "lastId": 19814995255305})
    assert hf.items[0].trade_id == 11029373945659392 and hf.items[0].id == 19814995255305
    assert hf.items[0].fee == Decimal("0.000677176")
    classic = m.parse_classic_fills(s.page([s.CLASSIC_FILL]))
    assert classic.items[0].trade_id == "trade-0001" and classic.items[0].id is None


# --- futures ---


def test_futures_orders_fills_positions() -> None:
    o = _both(m.parse_futures_order, s.FUTURES_ORDER)
    assert o.size == Decimal(1) and o.leverage == Decimal(3) and o.visible_size == Decimal(0)
    assert m.parse_futures_orders(s.page([s.FUTURES_ORDER])).items == [o]
    (f,) = m.parse_futures_fills(s.page([s.FUTURES_FILL])).items
    assert f.fee == Decimal("0.04045854") and f.size == Decimal(1)
    p = m.parse_position(json.dumps(s.POSITION).encode())
    assert p.avg_entry_price == Decimal("67430.9") and p.unrealised_pnl == Decimal("-0.004937")
    assert m.parse_positions([s.POSITION]) == [m.parse_position(s.POSITION)]


def test_account_overview_exact_and_renamed_pnl() -> None:
    ov = m.parse_account_overview(s.ACCOUNT_OVERVIEW_RAW)
    assert ov.account_equity == Decimal("394.439280806")
    assert ov.unrealised_pnl == Decimal("20.15278")
    assert ov.risk_ratio == Decimal("0.0065289525")


def test_margin_settings_and_bools() -> None:
    assert m.parse_margin_mode({"symbol": "XBTUSDTM", "marginMode": "CROSS"}).margin_mode == "CROSS"
    assert m.parse_cross_leverage({"symbol": "XBTUSDTM", "leverage": "3"}).leverage == Decimal(3)
    assert m.parse_bool(b"true") is True
    with pytest.raises(errors.ProtocolError):
        m.parse_bool("true")


# --- accounts, broker, tokens ---


def test_accounts_and_api_key_info() -> None:
    (acc,) = _both(m.parse_accounts, s.ACCOUNTS)
    assert acc.balance == Decimal("26.66759503") and acc.type == "trade"
    bal = m.parse_account_balance(
        {"currency": "USDT", "balance": "1", "available": "0.5", "holds": "0.5"}
    )
    assert bal.holds == Decimal("0.5")
    info = _both(m.parse_api_key_info, s.API_KEY_INFO)
    assert "Transfer" in info.permissions and "Spot" in info.permissions
    assert m.parse_api_key_info(dict(s.API_KEY_INFO, permission="General, ,Spot")).permissions == {
        "General",
        "Spot",
    }


def test_broker_models() -> None:
    assert m.parse_broker_info(
        {"accountSize": 0, "maxAccountSize": None, "level": 0}
    ) == m.BrokerInfo(account_size=0, level=0)
    sub = m.parse_sub_account(s.SUB_ACCOUNT)
    assert sub.uid == "226383154"
    assert m.parse_sub_accounts(s.page([s.SUB_ACCOUNT])).items == [sub]
    key = m.parse_sub_account_key(s.SUB_KEY)
    assert key.ip_whitelist == ["127.**.1", "203.**.1"]
    assert m.parse_sub_account_keys([s.SUB_KEY]) == [key]
    assert m.parse_transfer({"orderId": "tr-0001"}).order_id == "tr-0001"
    det = m.parse_transfer_detail(s.TRANSFER_DETAIL)
    assert det.amount == Decimal(1) and det.status == "SUCCESS"
    assert m.parse_download_link({"url": "https://example.invalid/x.csv"}).url.endswith(".csv")


def test_secrets_from_the_exchange_never_show() -> None:
    import secrets

    value = secrets.token_hex(16)
    created = m.parse_created_sub_account_key(json.dumps(dict(s.SUB_KEY, secretKey=value)).encode())
    assert isinstance(created.secret_key, Secret)
    assert created.secret_key.reveal() == value
    assert value not in repr(created) and value not in str(created)
    token = secrets.token_urlsafe(24)
    bullet = m.parse_bullet({"token": token, "instanceServers": [s.INSTANCE]})
    assert bullet.token.reveal() == token
    assert token not in repr(bullet)
    assert bullet.instance_servers[0].ping_interval == 18000
    with pytest.raises(TypeError):
        pickle.dumps(bullet)
    with pytest.raises(errors.ProtocolError) as info:
        m.parse_bullet({"token": 5, "instanceServers": []})
    assert info.value.path == "data.token"


def test_generic_envelopes_are_frozen() -> None:
    pg = m.parse_sub_accounts(s.page([s.SUB_ACCOUNT]))
    with pytest.raises(AttributeError):
        pg.items = []  # type: ignore[misc]


# --- fuzzing: only ProtocolError may escape ---

PARSERS: list[Callable[[object], object]] = [
    getattr(m, name)
    for name in m.__all__
    if name.startswith("parse_") and name not in ("parse_as", "parse_envelope")
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["0.1", "1e5", "NaN", "", "abc", "123"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from([*s.HF_ORDER, "items", "token", "ticker"]), children, max_size=6
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PARSERS), json_values)
def test_fuzzed_json_raises_only_protocol_error(
    parser: Callable[[object], object], value: object
) -> None:
    for data in (value, json.dumps(value).encode()):
        with contextlib.suppress(errors.ProtocolError):
            parser(data)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(s.HF_ORDER)), json_values)
def test_mutated_sample_raises_only_protocol_error(field: str, value: object) -> None:
    data = dict(s.HF_ORDER, **{field: value})
    try:
        m.parse_hf_order(json.dumps(data).encode())
    except errors.ProtocolError as exc:
        assert exc.path.startswith("data")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64))
def test_fuzzed_envelope_bytes(raw: bytes) -> None:
    with contextlib.suppress(errors.ProtocolError, errors.ExchangeError):
        m.parse_envelope(raw)


def test_parser_list_is_complete() -> None:
    assert len(PARSERS) >= 45
    assert isinstance(msgspec.Raw(b"1"), msgspec.Raw)


# --- money must be finite ---


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-inf", "sNaN"])
def test_non_finite_money_is_rejected(bad: str) -> None:
    with pytest.raises(errors.ProtocolError) as info:
        m.parse_symbols([s.SYMBOL, dict(s.SYMBOL, priceIncrement=bad)])
    assert info.value.path == "data[1]"
    assert "priceIncrement" in info.value.message
    with pytest.raises(errors.ProtocolError) as info:
        m.parse_hf_orders_page(json.dumps(s.page([dict(s.HF_ORDER, remainSize=bad)])).encode())
    assert info.value.path == "data.items[0]"


@pytest.mark.parametrize("side", ["bids", "asks"])
def test_non_finite_book_levels_are_rejected(side: str) -> None:
    book = dict(s.BOOK, **{side: [["1", "1"], ["Infinity", "1"]]})
    with pytest.raises(errors.ProtocolError):
        m.parse_order_book(book)
    with pytest.raises(errors.ProtocolError):
        m.parse_futures_order_book(dict(book, sequence=1, symbol="X", ts=1))
    with pytest.raises(errors.ProtocolError):
        m.parse_order_book(dict(s.BOOK, **{side: [["1", "NaN"]]}))


def test_non_finite_candles_are_rejected() -> None:
    rows = [s.SPOT_CANDLES[0], ["1729176120", "1", "NaN", "1", "1", "1", "1"]]
    with pytest.raises(errors.ProtocolError) as info:
        m.parse_spot_candles(rows)
    assert info.value.path == "data[1]"
    with pytest.raises(errors.ProtocolError) as info:
        m.parse_futures_candles([[1, 1, 1, 1, 1, "Infinity"]])
    assert info.value.path == "data[0]"


def test_optional_money_may_be_null() -> None:
    sym = m.parse_symbol(dict(s.SYMBOL, priceLimitRate=None, minFunds=None))
    assert sym.price_limit_rate is None and sym.min_funds is None


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 6), json_values, st.booleans())
def test_mutated_candle_rows_raise_only_protocol_error(
    position: int, value: object, futures: bool
) -> None:
    row: list[object] = [1729152000000, 1, 2, 3, 4, 5] if futures else list(s.SPOT_CANDLES[0])
    row[position % len(row)] = value
    parser = m.parse_futures_candles if futures else m.parse_spot_candles
    for data in ([row], json.dumps([row]).encode()):
        with contextlib.suppress(errors.ProtocolError):
            parser(data)


def test_margin_models() -> None:
    asset = {
        "currency": "USDT",
        "total": "100",
        "available": "90",
        "hold": "10",
        "liability": "5",
        "liabilityPrincipal": "5",
        "liabilityInterest": "0.001",
        "maxBorrowSize": "400",
        "borrowEnabled": True,
        "transferInEnabled": True,
    }
    acc = _both(
        m.parse_cross_margin_account,
        {
            "totalAssetOfQuoteCurrency": "100",
            "totalLiabilityOfQuoteCurrency": "5",
            "debtRatio": "0.05",
            "status": "EFFECTIVE",
            "accounts": [asset],
        },
    )
    assert acc.debt_ratio == Decimal("0.05")
    assert acc.accounts[0].liability_interest == Decimal("0.001")
    assert m.parse_borrow({"orderNo": "bor-0001", "actualSize": "10"}).actual_size == Decimal(10)
    assert m.parse_borrow({"orderNo": "r1", "actualSize": "1", "timestamp": 5}).timestamp == 5


def test_loads_exact_keeps_numbers_exact() -> None:
    data = m.loads_exact(b'{"p":66968.10000000000000000001,"n":3,"s":"1.5"}')
    assert data == {"p": Decimal("66968.10000000000000000001"), "n": 3, "s": "1.5"}
    book = m.parse_futures_order_book(m.loads_exact(s.FUTURES_BOOK_RAW))
    assert book.asks[0][0] == Decimal("66968.10000000000000000001")
    with pytest.raises(errors.ProtocolError):
        m.loads_exact(b"{")


@pytest.mark.parametrize("msg", [b"null", b"5", b'{"a":1}', b"[]"])
def test_envelope_with_odd_message_still_maps_the_code(msg: bytes) -> None:
    with pytest.raises(errors.OrderNotFound) as info:
        m.parse_envelope(b'{"code":"126043","msg":' + msg + b',"data":null}', http_status=200)
    assert info.value.message == ""
