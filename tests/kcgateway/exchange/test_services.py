"""Every service method against a mock transport: request shape, signature, parsing."""

from __future__ import annotations

import inspect
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from kcgateway.exchange.rest import KuCoinClient
from kcgateway.exchange.services.futures import FuturesOrderRequest
from kcgateway.exchange.services.orders import OrderOptions, SpotOrder
from kcgateway.exchange.transport import RawResponse
from kcgateway.kucoin import models as m
from kcgateway.secret import Secret
from tests.kcgateway.kucoin import model_samples as sample

from .helpers import Exchange, assert_partner, assert_signed, new_broker, new_keys

KEYS = new_keys()
KEY_ID = "key-" + secrets.token_hex(4)
BROKER, BROKER_KEY = new_broker()
D = Decimal
SYM = "BTC-USDT"
OID = "order-1"
COID = "client-1"
PLACED = {"orderId": OID, "clientOid": COID}
SPOT_ORDER = SpotOrder(symbol=SYM, side="buy", price=D("67000.1"), size=D("0.001"), client_oid=COID)
LIMIT_BODY = {
    "clientOid": COID,
    "side": "buy",
    "symbol": SYM,
    "type": "limit",
    "price": "67000.1",
    "size": "0.001",
}


def raw(data: bytes) -> RawResponse:
    return RawResponse(200, {}, b'{"code":"200000","data":' + data + b"}")


@dataclass
class Case:
    id: str
    call: Callable[[KuCoinClient], Any]
    method: str
    path: str
    reply: object
    check: Callable[[Any], bool]
    query: str = ""
    body: dict[str, Any] | None = None
    host: str = "https://spot.test"
    private: bool = True
    broker: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _q(symbol: str = SYM) -> str:
    return f"symbol={symbol}"


CASES = [
    # --- market ---
    Case(
        "market.status",
        lambda c: c.market.status(),
        "GET",
        "/api/v1/status",
        {"status": "open", "msg": ""},
        lambda r: r.status == "open",
        private=False,
    ),
    Case(
        "market.symbols",
        lambda c: c.market.symbols(),
        "GET",
        "/api/v2/symbols",
        [sample.SYMBOL],
        lambda r: r[0].symbol == sample.SYMBOL["symbol"],
        private=False,
    ),
    Case(
        "market.symbols_market",
        lambda c: c.market.symbols("USDS"),
        "GET",
        "/api/v2/symbols",
        [sample.SYMBOL],
        lambda r: len(r) == 1,
        query="market=USDS",
        private=False,
    ),
    Case(
        "market.symbol",
        lambda c: c.market.symbol(SYM),
        "GET",
        f"/api/v2/symbols/{SYM}",
        sample.SYMBOL,
        lambda r: isinstance(r, m.Symbol),
        private=False,
    ),
    Case(
        "market.currencies",
        lambda c: c.market.currencies(),
        "GET",
        "/api/v3/currencies",
        [sample.CURRENCY],
        lambda r: r[0].currency == sample.CURRENCY["currency"],
        private=False,
    ),
    Case(
        "market.currency",
        lambda c: c.market.currency("BTC"),
        "GET",
        "/api/v3/currencies/BTC",
        sample.CURRENCY,
        lambda r: isinstance(r, m.Currency),
        private=False,
    ),
    Case(
        "market.ticker",
        lambda c: c.market.ticker(SYM),
        "GET",
        "/api/v1/market/orderbook/level1",
        sample.TICKER,
        lambda r: isinstance(r, m.Ticker),
        query=_q(),
        private=False,
    ),
    Case(
        "market.all_tickers",
        lambda c: c.market.all_tickers(),
        "GET",
        "/api/v1/market/allTickers",
        sample.ALL_TICKERS,
        lambda r: isinstance(r, m.AllTickers),
        private=False,
    ),
    Case(
        "market.stats",
        lambda c: c.market.stats(SYM),
        "GET",
        "/api/v1/market/stats",
        sample.STATS,
        lambda r: isinstance(r, m.TickerStats),
        query=_q(),
        private=False,
    ),
    Case(
        "market.level2_20",
        lambda c: c.market.level2_20(SYM),
        "GET",
        "/api/v1/market/orderbook/level2_20",
        sample.BOOK,
        lambda r: r.bids[0][0] == D("66976.4"),
        query=_q(),
        private=False,
    ),
    Case(
        "market.level2_100",
        lambda c: c.market.level2_100(SYM),
        "GET",
        "/api/v1/market/orderbook/level2_100",
        sample.BOOK,
        lambda r: len(r.asks) == 2,
        query=_q(),
        private=False,
    ),
    Case(
        "market.level2_full",
        lambda c: c.market.level2_full(SYM),
        "GET",
        "/api/v3/market/orderbook/level2",
        sample.BOOK,
        lambda r: isinstance(r, m.OrderBook),
        query=_q(),
    ),
    Case(
        "market.candles",
        lambda c: c.market.candles(SYM, "1min", start_s=1, end_s=2),
        "GET",
        "/api/v1/market/candles",
        sample.SPOT_CANDLES,
        lambda r: r[0].close == D("67061.3"),
        query=f"{_q()}&type=1min&startAt=1&endAt=2",
        private=False,
    ),
    Case(
        "market.trades",
        lambda c: c.market.trades(SYM),
        "GET",
        "/api/v1/market/histories",
        sample.TRADES,
        lambda r: isinstance(r[0], m.MarketTrade),
        query=_q(),
        private=False,
    ),
    Case(
        "market.server_time",
        lambda c: c.market.server_time(),
        "GET",
        "/api/v1/timestamp",
        None,
        lambda r: isinstance(r, int),
        private=False,
    ),
    # --- account ---
    Case(
        "account.accounts",
        lambda c: c.account.accounts(currency="USDT", account_type="trade"),
        "GET",
        "/api/v1/accounts",
        sample.ACCOUNTS,
        lambda r: r[0].balance == D("26.66759503"),
        query="currency=USDT&type=trade",
    ),
    Case(
        "account.account",
        lambda c: c.account.account("548674591753"),
        "GET",
        "/api/v1/accounts/548674591753",
        {k: v for k, v in sample.ACCOUNTS[0].items() if k != "id"},
        lambda r: isinstance(r, m.AccountBalance),
    ),
    Case(
        "account.api_key_info",
        lambda c: c.account.api_key_info(),
        "GET",
        "/api/v1/user/api-key",
        sample.API_KEY_INFO,
        lambda r: "Spot" in r.permissions,
    ),
    Case(
        "account.is_hf",
        lambda c: c.account.is_hf(),
        "GET",
        "/api/v1/hf/accounts/opened",
        True,
        lambda r: r is True,
    ),
    Case(
        "account.inner_transfer",
        lambda c: c.account.inner_transfer(
            "USDT", D("1.5"), from_account="main", to_account="trade", client_oid=COID
        ),
        "POST",
        "/api/v2/accounts/inner-transfer",
        {"orderId": "t1"},
        lambda r: r.order_id == "t1",
        body={
            "clientOid": COID,
            "currency": "USDT",
            "from": "main",
            "to": "trade",
            "amount": "1.5",
        },
    ),
    # --- spot HF ---
    Case(
        "hf.place",
        lambda c: c.spot.hf.place(SYM, "buy", price=D("67000.1"), size=D("0.001"), client_oid=COID),
        "POST",
        "/api/v1/hf/orders",
        PLACED,
        lambda r: r.order_id == OID,
        body=LIMIT_BODY,
    ),
    Case(
        "hf.place_order_options",
        lambda c: c.spot.hf.place_order(
            SpotOrder(
                symbol=SYM,
                side="sell",
                order_type="market",
                funds=D("10"),
                client_oid=COID,
                options=OrderOptions(
                    time_in_force="IOC",
                    post_only=False,
                    remark="r",
                    tags="t",
                    stp="CN",
                    hidden=True,
                    iceberg=False,
                    visible_size=D("0.5"),
                    cancel_after=5,
                ),
            )
        ),
        "POST",
        "/api/v1/hf/orders",
        PLACED,
        lambda r: r.client_oid == COID,
        body={
            "clientOid": COID,
            "side": "sell",
            "symbol": SYM,
            "type": "market",
            "funds": "10",
            "timeInForce": "IOC",
            "cancelAfter": 5,
            "postOnly": False,
            "hidden": True,
            "iceberg": False,
            "visibleSize": "0.5",
            "stp": "CN",
            "remark": "r",
            "tags": "t",
        },
    ),
    Case(
        "hf.place_test",
        lambda c: c.spot.hf.place_test(SPOT_ORDER),
        "POST",
        "/api/v1/hf/orders/test",
        PLACED,
        lambda r: r.order_id == OID,
        body=LIMIT_BODY,
    ),
    Case(
        "hf.place_batch",
        lambda c: c.spot.hf.place_batch([SPOT_ORDER]),
        "POST",
        "/api/v1/hf/orders/multi",
        [{"orderId": OID, "clientOid": COID, "success": True}],
        lambda r: r[0].success,
        body={"orderList": [LIMIT_BODY]},
    ),
    Case(
        "hf.cancel",
        lambda c: c.spot.hf.cancel(OID, SYM),
        "DELETE",
        f"/api/v1/hf/orders/{OID}",
        {"orderId": OID},
        lambda r: r.order_ids == (OID,),
        query=_q(),
    ),
    Case(
        "hf.cancel_by_client_oid",
        lambda c: c.spot.hf.cancel_by_client_oid(COID, SYM),
        "DELETE",
        f"/api/v1/hf/orders/client-order/{COID}",
        {"clientOid": COID},
        lambda r: r.client_oid == COID,
        query=_q(),
    ),
    Case(
        "hf.cancel_symbol",
        lambda c: c.spot.hf.cancel_symbol(SYM),
        "DELETE",
        "/api/v1/hf/orders",
        "success",
        lambda r: r == "success",
        query=_q(),
    ),
    Case(
        "hf.cancel_all",
        lambda c: c.spot.hf.cancel_all(),
        "DELETE",
        "/api/v1/hf/orders/cancelAll",
        {"succeedSymbols": [SYM], "failedSymbols": []},
        lambda r: r.succeed_symbols == [SYM],
    ),
    Case(
        "hf.get",
        lambda c: c.spot.hf.get(OID, SYM),
        "GET",
        f"/api/v1/hf/orders/{OID}",
        sample.HF_ORDER,
        lambda r: isinstance(r, m.HfOrder),
        query=_q(),
    ),
    Case(
        "hf.get_by_client_oid",
        lambda c: c.spot.hf.get_by_client_oid(COID, SYM),
        "GET",
        f"/api/v1/hf/orders/client-order/{COID}",
        sample.HF_ORDER,
        lambda r: isinstance(r, m.HfOrder),
        query=_q(),
    ),
    Case(
        "hf.active_list",
        lambda c: c.spot.hf.active_list(SYM),
        "GET",
        "/api/v1/hf/orders/active",
        [sample.HF_ORDER],
        lambda r: len(r) == 1,
        query=_q(),
    ),
    Case(
        "hf.active_orders",
        lambda c: c.spot.hf.active_orders(SYM, page_size=10),
        "GET",
        "/api/v1/hf/orders/active/page",
        sample.page([sample.HF_ORDER]),
        lambda r: len(r) == 1,
        query=f"{_q()}&pageNum=1&pageSize=10",
    ),
    Case(
        "hf.done_orders",
        lambda c: c.spot.hf.done_orders(SYM, side="buy", page_size=20),
        "GET",
        "/api/v1/hf/orders/done",
        {"lastId": 5, "items": [sample.HF_ORDER]},
        lambda r: len(r) == 1,
        query=f"{_q()}&side=buy&limit=20",
    ),
    Case(
        "hf.fills",
        lambda c: c.spot.hf.fills(SYM, order_id=OID, page_size=20),
        "GET",
        "/api/v1/hf/fills",
        {"lastId": 5, "items": [sample.HF_FILL]},
        lambda r: isinstance(r[0], m.Fill),
        query=f"{_q()}&orderId={OID}&limit=20",
    ),
    # --- spot classic ---
    Case(
        "classic.place",
        lambda c: c.spot.classic.place(
            SYM, "buy", price=D("67000.1"), size=D("0.001"), client_oid=COID
        ),
        "POST",
        "/api/v1/orders",
        {"orderId": OID},
        lambda r: r.client_oid == COID,
        body={**LIMIT_BODY, "tradeType": "TRADE"},
    ),
    Case(
        "classic.place_test",
        lambda c: c.spot.classic.place_test(SPOT_ORDER),
        "POST",
        "/api/v1/orders/test",
        {"orderId": OID},
        lambda r: r.order_id == OID,
        body=LIMIT_BODY,
    ),
    Case(
        "classic.place_batch",
        lambda c: c.spot.classic.place_batch(SYM, [SPOT_ORDER]),
        "POST",
        "/api/v1/orders/multi",
        {"data": [{"id": OID, "clientOid": COID, "status": "success", "failMsg": ""}]},
        lambda r: r[0].success and r[0].order_id == OID and r[0].fail_msg is None,
        body={"symbol": SYM, "orderList": [LIMIT_BODY]},
    ),
    Case(
        "classic.cancel",
        lambda c: c.spot.classic.cancel(OID),
        "DELETE",
        f"/api/v1/orders/{OID}",
        {"cancelledOrderIds": [OID]},
        lambda r: r.order_ids == (OID,),
    ),
    Case(
        "classic.cancel_by_client_oid",
        lambda c: c.spot.classic.cancel_by_client_oid(COID),
        "DELETE",
        f"/api/v1/order/client-order/{COID}",
        {"cancelledOrderId": OID, "clientOid": COID},
        lambda r: r.order_ids == (OID,),
    ),
    Case(
        "classic.cancel_all",
        lambda c: c.spot.classic.cancel_all(SYM),
        "DELETE",
        "/api/v1/orders",
        {"cancelledOrderIds": [OID]},
        lambda r: r.order_ids == (OID,),
        query=f"{_q()}&tradeType=TRADE",
    ),
    Case(
        "classic.get",
        lambda c: c.spot.classic.get(OID),
        "GET",
        f"/api/v1/orders/{OID}",
        sample.CLASSIC_ORDER,
        lambda r: isinstance(r, m.ClassicOrder),
    ),
    Case(
        "classic.get_by_client_oid",
        lambda c: c.spot.classic.get_by_client_oid(COID),
        "GET",
        f"/api/v1/order/client-order/{COID}",
        sample.CLASSIC_ORDER,
        lambda r: isinstance(r, m.ClassicOrder),
    ),
    Case(
        "classic.orders",
        lambda c: c.spot.classic.orders(symbol=SYM, page_size=10),
        "GET",
        "/api/v1/orders",
        sample.page([sample.CLASSIC_ORDER]),
        lambda r: len(r) == 1,
        query=f"status=active&{_q()}&tradeType=TRADE&currentPage=1&pageSize=10",
    ),
    Case(
        "classic.fills",
        lambda c: c.spot.classic.fills(symbol=SYM),
        "GET",
        "/api/v1/fills",
        sample.page([sample.CLASSIC_FILL]),
        lambda r: r[0].trade_id == "trade-0001",
        query=f"{_q()}&tradeType=TRADE&currentPage=1&pageSize=50",
    ),
    # --- stop orders ---
    Case(
        "stop.place",
        lambda c: c.spot.stop.place(SPOT_ORDER, stop_price=D("66000"), stop="loss"),
        "POST",
        "/api/v1/stop-order",
        {"orderId": OID},
        lambda r: r.client_oid == COID,
        body={**LIMIT_BODY, "stopPrice": "66000", "stop": "loss", "tradeType": "TRADE"},
    ),
    Case(
        "stop.cancel",
        lambda c: c.spot.stop.cancel(OID),
        "DELETE",
        f"/api/v1/stop-order/{OID}",
        {"cancelledOrderIds": [OID]},
        lambda r: r.order_ids == (OID,),
    ),
    Case(
        "stop.cancel_by_client_oid",
        lambda c: c.spot.stop.cancel_by_client_oid(COID, SYM),
        "DELETE",
        "/api/v1/stop-order/cancelOrderByClientOid",
        {"cancelledOrderId": OID, "clientOid": COID},
        lambda r: r.client_oid == COID,
        query=f"{_q()}&clientOid={COID}",
    ),
    Case(
        "stop.cancel_batch",
        lambda c: c.spot.stop.cancel_batch(symbol=SYM, order_ids=["a", "b"]),
        "DELETE",
        "/api/v1/stop-order/cancel",
        {"cancelledOrderIds": ["a", "b"]},
        lambda r: r.order_ids == ("a", "b"),
        query=f"{_q()}&orderIds=a,b",
    ),
    Case(
        "stop.get",
        lambda c: c.spot.stop.get(OID),
        "GET",
        f"/api/v1/stop-order/{OID}",
        sample.STOP_ORDER,
        lambda r: isinstance(r, m.StopOrder),
    ),
    Case(
        "stop.get_by_client_oid",
        lambda c: c.spot.stop.get_by_client_oid(COID, SYM),
        "GET",
        "/api/v1/stop-order/queryOrderByClientOid",
        [sample.STOP_ORDER],
        lambda r: isinstance(r[0], m.StopOrder),
        query=f"clientOid={COID}&{_q()}",
    ),
    Case(
        "stop.orders",
        lambda c: c.spot.stop.orders(symbol=SYM),
        "GET",
        "/api/v1/stop-order",
        sample.page([sample.STOP_ORDER]),
        lambda r: len(r) == 1,
        query=f"{_q()}&currentPage=1&pageSize=50",
    ),
    # --- margin ---
    Case(
        "margin.place",
        lambda c: c.margin.place(SPOT_ORDER, isolated=True, auto_borrow=True),
        "POST",
        "/api/v3/hf/margin/order",
        PLACED,
        lambda r: r.order_id == OID,
        body={**LIMIT_BODY, "isIsolated": True, "autoBorrow": True, "autoRepay": False},
    ),
    Case(
        "margin.place_test",
        lambda c: c.margin.place_test(SPOT_ORDER),
        "POST",
        "/api/v3/hf/margin/order/test",
        PLACED,
        lambda r: r.order_id == OID,
        body={**LIMIT_BODY, "isIsolated": False},
    ),
    Case(
        "margin.cancel",
        lambda c: c.margin.cancel(OID, SYM),
        "DELETE",
        f"/api/v3/hf/margin/orders/{OID}",
        {"orderId": OID},
        lambda r: r.order_id == OID,
        query=_q(),
    ),
    Case(
        "margin.cancel_by_client_oid",
        lambda c: c.margin.cancel_by_client_oid(COID, SYM),
        "DELETE",
        f"/api/v3/hf/margin/orders/client-order/{COID}",
        {"clientOid": COID},
        lambda r: r.client_oid == COID,
        query=_q(),
    ),
    Case(
        "margin.cancel_symbol",
        lambda c: c.margin.cancel_symbol(SYM),
        "DELETE",
        "/api/v3/hf/margin/orders",
        "success",
        lambda r: r == "success",
        query=f"{_q()}&tradeType=MARGIN_TRADE",
    ),
    Case(
        "margin.get",
        lambda c: c.margin.get(OID, SYM),
        "GET",
        f"/api/v3/hf/margin/orders/{OID}",
        sample.HF_ORDER,
        lambda r: isinstance(r, m.HfOrder),
        query=_q(),
    ),
    Case(
        "margin.get_by_client_oid",
        lambda c: c.margin.get_by_client_oid(COID, SYM),
        "GET",
        f"/api/v3/hf/margin/orders/client-order/{COID}",
        sample.HF_ORDER,
        lambda r: isinstance(r, m.HfOrder),
        query=_q(),
    ),
    Case(
        "margin.active_list",
        lambda c: c.margin.active_list(SYM),
        "GET",
        "/api/v3/hf/margin/orders/active",
        [sample.HF_ORDER],
        lambda r: len(r) == 1,
        query=f"{_q()}&tradeType=MARGIN_TRADE",
    ),
    Case(
        "margin.done_orders",
        lambda c: c.margin.done_orders(SYM),
        "GET",
        "/api/v3/hf/margin/orders/done",
        {"lastId": None, "items": [sample.HF_ORDER]},
        lambda r: len(r) == 1,
        query=f"{_q()}&tradeType=MARGIN_TRADE&limit=100",
    ),
    Case(
        "margin.fills",
        lambda c: c.margin.fills(SYM),
        "GET",
        "/api/v3/hf/margin/fills",
        {"lastId": None, "items": [sample.HF_FILL]},
        lambda r: len(r) == 1,
        query=f"{_q()}&tradeType=MARGIN_TRADE&limit=100",
    ),
    Case(
        "margin.borrow",
        lambda c: c.margin.borrow("USDT", D("10")),
        "POST",
        "/api/v3/margin/borrow",
        {"orderNo": "b1", "actualSize": "10"},
        lambda r: r["orderNo"] == "b1",
        body={"currency": "USDT", "size": "10", "timeInForce": "IOC", "isIsolated": False},
    ),
    Case(
        "margin.repay",
        lambda c: c.margin.repay("USDT", D("10")),
        "POST",
        "/api/v3/margin/repay",
        {"orderNo": "r1", "actualSize": "10"},
        lambda r: r["orderNo"] == "r1",
        body={"currency": "USDT", "size": "10", "isIsolated": False},
    ),
    Case(
        "margin.cross_account",
        lambda c: c.margin.cross_account(),
        "GET",
        "/api/v3/margin/accounts",
        {"totalAssetOfQuoteCurrency": "0", "accounts": []},
        lambda r: r["accounts"] == [],
        query="quoteCurrency=USDT",
    ),
    Case(
        "margin.isolated_account",
        lambda c: c.margin.isolated_account(SYM),
        "GET",
        "/api/v3/isolated/accounts",
        {"assets": []},
        lambda r: r["assets"] == [],
        query=_q(),
    ),
    # --- futures ---
    Case(
        "futures.server_time",
        lambda c: c.futures.server_time(),
        "GET",
        "/api/v1/timestamp",
        None,
        lambda r: isinstance(r, int),
        host="https://futures.test",
        private=False,
    ),
    Case(
        "futures.contracts",
        lambda c: c.futures.contracts(),
        "GET",
        "/api/v1/contracts/active",
        [sample.CONTRACT],
        lambda r: isinstance(r[0], m.FuturesContract),
        host="https://futures.test",
        private=False,
    ),
    Case(
        "futures.contract",
        lambda c: c.futures.contract("XBTUSDTM"),
        "GET",
        "/api/v1/contracts/XBTUSDTM",
        sample.CONTRACT,
        lambda r: isinstance(r, m.FuturesContract),
        host="https://futures.test",
        private=False,
    ),
    Case(
        "futures.ticker",
        lambda c: c.futures.ticker("XBTUSDTM"),
        "GET",
        "/api/v1/ticker",
        sample.FUTURES_TICKER,
        lambda r: isinstance(r, m.FuturesTicker),
        query="symbol=XBTUSDTM",
        host="https://futures.test",
        private=False,
    ),
    Case(
        "futures.level2_snapshot",
        lambda c: c.futures.level2_snapshot("XBTUSDM"),
        "GET",
        "/api/v1/level2/snapshot",
        raw(sample.FUTURES_BOOK_RAW),
        lambda r: r.asks[0][0] == D("66968.10000000000000000001"),
        query="symbol=XBTUSDM",
        host="https://futures.test",
        private=False,
    ),
    Case(
        "futures.klines",
        lambda c: c.futures.klines("XBTUSDTM", 60, from_ms=1, to_ms=2),
        "GET",
        "/api/v1/kline/query",
        raw(sample.FUTURES_CANDLES_RAW),
        lambda r: r[0].close == D("67111.3"),
        query="symbol=XBTUSDTM&granularity=60&from=1&to=2",
        host="https://futures.test",
        private=False,
    ),
    Case(
        "futures.place",
        lambda c: c.futures.place(
            FuturesOrderRequest(
                symbol="XBTUSDTM", side="buy", size=1, price=D("60000"), leverage=3, client_oid=COID
            )
        ),
        "POST",
        "/api/v1/orders",
        {"orderId": OID},
        lambda r: r.client_oid == COID,
        body={
            "clientOid": COID,
            "side": "buy",
            "symbol": "XBTUSDTM",
            "type": "limit",
            "price": "60000",
            "size": 1,
            "leverage": "3",
        },
        host="https://futures.test",
    ),
    Case(
        "futures.place_test",
        lambda c: c.futures.place_test(
            FuturesOrderRequest(
                symbol="XBTUSDTM",
                side="sell",
                size=2,
                order_type="market",
                client_oid=COID,
                reduce_only=True,
            )
        ),
        "POST",
        "/api/v1/orders/test",
        PLACED,
        lambda r: r.order_id == OID,
        body={
            "clientOid": COID,
            "side": "sell",
            "symbol": "XBTUSDTM",
            "type": "market",
            "size": 2,
            "reduceOnly": True,
        },
        host="https://futures.test",
    ),
    Case(
        "futures.cancel",
        lambda c: c.futures.cancel(OID),
        "DELETE",
        f"/api/v1/orders/{OID}",
        {"cancelledOrderIds": [OID]},
        lambda r: r.order_ids == (OID,),
        host="https://futures.test",
    ),
    Case(
        "futures.cancel_by_client_oid",
        lambda c: c.futures.cancel_by_client_oid(COID, "XBTUSDTM"),
        "DELETE",
        f"/api/v1/orders/client-order/{COID}",
        {"clientOid": COID},
        lambda r: r.client_oid == COID,
        query="symbol=XBTUSDTM",
        host="https://futures.test",
    ),
    Case(
        "futures.cancel_all",
        lambda c: c.futures.cancel_all("XBTUSDTM"),
        "DELETE",
        "/api/v3/orders",
        {"cancelledOrderIds": [OID]},
        lambda r: r.order_ids == (OID,),
        query="symbol=XBTUSDTM",
        host="https://futures.test",
    ),
    Case(
        "futures.get",
        lambda c: c.futures.get(OID),
        "GET",
        f"/api/v1/orders/{OID}",
        sample.FUTURES_ORDER,
        lambda r: isinstance(r, m.FuturesOrder),
        host="https://futures.test",
    ),
    Case(
        "futures.get_by_client_oid",
        lambda c: c.futures.get_by_client_oid(COID),
        "GET",
        "/api/v1/orders/byClientOid",
        sample.FUTURES_ORDER,
        lambda r: isinstance(r, m.FuturesOrder),
        query=f"clientOid={COID}",
        host="https://futures.test",
    ),
    Case(
        "futures.orders",
        lambda c: c.futures.orders(symbol="XBTUSDTM"),
        "GET",
        "/api/v1/orders",
        sample.page([sample.FUTURES_ORDER]),
        lambda r: len(r) == 1,
        query="status=active&symbol=XBTUSDTM&currentPage=1&pageSize=50",
        host="https://futures.test",
    ),
    Case(
        "futures.fills",
        lambda c: c.futures.fills(symbol="XBTUSDTM"),
        "GET",
        "/api/v1/fills",
        sample.page([sample.FUTURES_FILL]),
        lambda r: isinstance(r[0], m.FuturesFill),
        query="symbol=XBTUSDTM&currentPage=1&pageSize=50",
        host="https://futures.test",
    ),
    Case(
        "futures.position",
        lambda c: c.futures.position("XBTUSDTM"),
        "GET",
        "/api/v1/position",
        sample.POSITION,
        lambda r: isinstance(r, m.Position),
        query="symbol=XBTUSDTM",
        host="https://futures.test",
    ),
    Case(
        "futures.positions",
        lambda c: c.futures.positions(),
        "GET",
        "/api/v1/positions",
        [sample.POSITION],
        lambda r: len(r) == 1,
        host="https://futures.test",
    ),
    Case(
        "futures.margin_mode",
        lambda c: c.futures.margin_mode("XBTUSDTM"),
        "GET",
        "/api/v2/position/getMarginMode",
        {"symbol": "XBTUSDTM", "marginMode": "CROSS"},
        lambda r: r.margin_mode == "CROSS",
        query="symbol=XBTUSDTM",
        host="https://futures.test",
    ),
    Case(
        "futures.set_margin_mode",
        lambda c: c.futures.set_margin_mode("XBTUSDTM", "ISOLATED"),
        "POST",
        "/api/v2/position/changeMarginMode",
        {"symbol": "XBTUSDTM", "marginMode": "ISOLATED"},
        lambda r: r.margin_mode == "ISOLATED",
        body={"symbol": "XBTUSDTM", "marginMode": "ISOLATED"},
        host="https://futures.test",
    ),
    Case(
        "futures.cross_leverage",
        lambda c: c.futures.cross_leverage("XBTUSDTM"),
        "GET",
        "/api/v2/getCrossUserLeverage",
        {"symbol": "XBTUSDTM", "leverage": "3"},
        lambda r: r.leverage == D("3"),
        query="symbol=XBTUSDTM",
        host="https://futures.test",
    ),
    Case(
        "futures.set_cross_leverage",
        lambda c: c.futures.set_cross_leverage("XBTUSDTM", 10),
        "POST",
        "/api/v2/changeCrossUserLeverage",
        True,
        lambda r: r is True,
        body={"symbol": "XBTUSDTM", "leverage": "10"},
        host="https://futures.test",
    ),
    Case(
        "futures.account_overview",
        lambda c: c.futures.account_overview(),
        "GET",
        "/api/v1/account-overview",
        raw(sample.ACCOUNT_OVERVIEW_RAW),
        lambda r: r.account_equity == D("394.439280806"),
        query="currency=USDT",
        host="https://futures.test",
    ),
    # --- broker ND ---
    Case(
        "broker.info",
        lambda c: c.broker.info("20240101", "20240601"),
        "GET",
        "/api/v1/broker/nd/info",
        {"accountSize": 1, "maxAccountSize": None, "level": 0},
        lambda r: r.account_size == 1,
        query="begin=20240101&end=20240601&tradeType=1",
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.create_subaccount",
        lambda c: c.broker.create_subaccount("Account15"),
        "POST",
        "/api/v1/broker/nd/account",
        sample.SUB_ACCOUNT,
        lambda r: r.uid == "226383154",
        body={"accountName": "Account15"},
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.subaccounts",
        lambda c: c.broker.subaccounts(),
        "GET",
        "/api/v1/broker/nd/account",
        sample.page([sample.SUB_ACCOUNT]),
        lambda r: len(r) == 1,
        query="currentPage=1&pageSize=100",
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.subaccount_keys",
        lambda c: c.broker.subaccount_keys("226383154"),
        "GET",
        "/api/v1/broker/nd/account/apikey",
        [sample.SUB_KEY],
        lambda r: r[0].permissions[0] == "General",
        query="uid=226383154",
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.modify_subaccount_key",
        lambda c: c.broker.modify_subaccount_key(
            "226383154", KEY_ID, permissions=["general"], label="lbl1", ip_whitelist=["127.0.0.1"]
        ),
        "POST",
        "/api/v1/broker/nd/account/update-apikey",
        sample.SUB_KEY,
        lambda r: isinstance(r, m.SubAccountKey),
        body={
            "uid": "226383154",
            "apiKey": KEY_ID,
            "ipWhitelist": ["127.0.0.1"],
            "permissions": ["general"],
            "label": "lbl1",
        },
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.delete_subaccount_key",
        lambda c: c.broker.delete_subaccount_key("1", KEY_ID),
        "DELETE",
        "/api/v1/broker/nd/account/apikey",
        True,
        lambda r: r is True,
        query=f"uid=1&apiKey={KEY_ID}",
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.transfer",
        lambda c: c.broker.transfer(
            "USDT", D("5"), direction="OUT", special_uid="2", client_oid=COID
        ),
        "POST",
        "/api/v1/broker/nd/transfer",
        {"orderId": "t1"},
        lambda r: r.order_id == "t1",
        body={
            "currency": "USDT",
            "amount": "5",
            "clientOid": COID,
            "direction": "OUT",
            "accountType": "MAIN",
            "specialUid": "2",
            "specialAccountType": "MAIN",
        },
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.transfer_detail",
        lambda c: c.broker.transfer_detail("tr-0001"),
        "GET",
        "/api/v3/broker/nd/transfer/detail",
        sample.TRANSFER_DETAIL,
        lambda r: r.status == "SUCCESS",
        query="orderId=tr-0001",
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.rebate_download",
        lambda c: c.broker.rebate_download("20240101", "20240131"),
        "GET",
        "/api/v1/broker/nd/rebase/download",
        {"url": "https://x/r.csv"},
        lambda r: r.url == "https://x/r.csv",
        query="begin=20240101&end=20240131&tradeType=1",
        host="https://broker.test",
        broker=True,
    ),
    # --- ws tokens ---
    Case(
        "ws.public",
        lambda c: c.ws.public_token(),
        "POST",
        "/api/v1/bullet-public",
        {"token": "tok", "instanceServers": [sample.INSTANCE]},
        lambda r: r.token.reveal() == "tok",
        private=False,
    ),
    Case(
        "ws.private",
        lambda c: c.ws.private_token(),
        "POST",
        "/api/v1/bullet-private",
        {"token": "tok", "instanceServers": [sample.INSTANCE]},
        lambda r: r.instance_servers[0].ping_interval == 18000,
    ),
    Case(
        "ws.futures_public",
        lambda c: c.ws.futures_public_token(),
        "POST",
        "/api/v1/bullet-public",
        {"token": "tok", "instanceServers": [sample.INSTANCE]},
        lambda r: isinstance(r, m.BulletToken),
        host="https://futures.test",
        private=False,
    ),
    Case(
        "ws.futures_private",
        lambda c: c.ws.futures_private_token(),
        "POST",
        "/api/v1/bullet-private",
        {"token": "tok", "instanceServers": [sample.INSTANCE]},
        lambda r: isinstance(r, m.BulletToken),
        host="https://futures.test",
    ),
]


async def _run(value: Any) -> Any:
    if inspect.isasyncgen(value) or hasattr(value, "__anext__"):
        return [item async for item in value]
    return await value


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_service_method(case: Case) -> None:
    ex = Exchange()
    if case.path != "/api/v1/timestamp":
        ex.on(case.method, case.path, case.reply)
    async with ex.client(
        KEYS, broker=BROKER if case.broker else None, validate_orders=False
    ) as client:
        result = await _run(case.call(client))
    assert case.check(result), result
    req = ex.transport.sent[-1]
    assert req.method == case.method
    assert req.url.startswith(case.host + case.path)
    assert req.signed_path == case.path + (f"?{case.query}" if case.query else "")
    if case.body is None:
        assert req.body == b""
    else:
        assert json.loads(req.body) == case.body
        assert list(json.loads(req.body)) == list(case.body)  # key order kept
    if case.private:
        assert_signed(req, KEYS)
    else:
        assert "KC-API-SIGN" not in req.headers
    if case.broker:
        assert_partner(req, BROKER, BROKER_KEY)


async def test_create_subaccount_key_sends_passphrase_and_wraps_secret() -> None:
    ex = Exchange()
    passphrase = secrets.token_hex(8)
    sub_secret = secrets.token_hex(16)
    ex.on("POST", "/api/v1/broker/nd/account/apikey", {**sample.SUB_KEY, "secretKey": sub_secret})
    async with ex.client(KEYS, broker=BROKER) as client:
        created = await client.broker.create_subaccount_key(
            "226383154",
            passphrase=Secret(passphrase),
            permissions=["general", "spot"],
            label="bot-1",
        )
    assert created.secret_key.reveal() == sub_secret
    assert sub_secret not in repr(created)
    req = ex.calls[-1]
    assert json.loads(req.body) == {
        "uid": "226383154",
        "passphrase": passphrase,
        "ipWhitelist": [],
        "permissions": ["general", "spot"],
        "label": "bot-1",
    }
    assert_partner(req, BROKER, BROKER_KEY)


# issue 4's list: every one of these endpoints has a service method (and a case above)
REQUIRED = [
    "market.timestamp",
    "market.status",
    "market.symbols",
    "market.currencies",
    "market.ticker",
    "market.all_tickers",
    "market.stats",
    "market.level2_20",
    "market.level2_100",
    "market.level2_full",
    "market.candles",
    "market.histories",
    "account.list",
    "account.get",
    "account.api_key_info",
    "account.hf_opened",
    "account.inner_transfer",
    "spot.hf.place",
    "spot.hf.test",
    "spot.hf.batch",
    "spot.hf.cancel_by_id",
    "spot.hf.cancel_by_client_oid",
    "spot.hf.cancel_all_by_symbol",
    "spot.hf.cancel_all",
    "spot.hf.get_by_id",
    "spot.hf.get_by_client_oid",
    "spot.hf.active",
    "spot.hf.done",
    "spot.hf.fills",
    "spot.classic.place",
    "spot.classic.test",
    "spot.classic.batch",
    "spot.classic.cancel_by_id",
    "spot.classic.cancel_by_client_oid",
    "spot.classic.cancel_all",
    "spot.classic.list",
    "spot.classic.get_by_id",
    "spot.classic.get_by_client_oid",
    "spot.classic.fills",
    "spot.stop.place",
    "spot.stop.list",
    "spot.stop.get_by_id",
    "spot.stop.cancel_by_id",
    "margin.hf.place",
    "margin.hf.cancel_by_id",
    "margin.borrow",
    "margin.repay",
    "margin.cross_account",
    "futures.contracts_active",
    "futures.ticker",
    "futures.level2_snapshot",
    "futures.kline",
    "futures.place",
    "futures.cancel_by_id",
    "futures.cancel_by_client_oid",
    "futures.get_by_id",
    "futures.get_by_client_oid",
    "futures.list",
    "futures.position",
    "futures.positions",
    "futures.margin_mode",
    "futures.change_margin_mode",
    "futures.cross_leverage",
    "futures.change_cross_leverage",
    "futures.account_overview",
    "broker.nd.info",
    "broker.nd.create_subaccount",
    "broker.nd.list_subaccounts",
    "broker.nd.create_subaccount_key",
    "broker.nd.list_subaccount_keys",
    "broker.nd.modify_subaccount_key",
    "broker.nd.delete_subaccount_key",
    "broker.nd.transfer",
    "broker.nd.transfer_detail",
    "broker.nd.rebate_download",
    "ws.bullet_public",
    "ws.bullet_private",
    "ws.futures_bullet_public",
    "ws.futures_bullet_private",
]
HOSTS = {
    "SPOT": "https://spot.test",
    "FUTURES": "https://futures.test",
    "BROKER": "https://broker.test",
}


def _covered(name: str) -> bool:
    from kcgateway.kucoin.endpoints import ENDPOINTS

    ep = ENDPOINTS[name]
    extra = [("POST", "https://broker.test", "/api/v1/broker/nd/account/apikey")]
    return any(
        meth == ep.method.value and host == HOSTS[ep.host.name] and _matches(path, ep.path)
        for meth, host, path in [(c.method, c.host, c.path) for c in CASES] + extra
    )


def test_issue_endpoint_list_is_covered() -> None:
    assert [name for name in REQUIRED if not _covered(name)] == []


def test_every_case_calls_a_table_endpoint() -> None:
    from kcgateway.kucoin.endpoints import ENDPOINTS

    for case in CASES:
        assert any(
            case.method == ep.method.value
            and case.host == HOSTS[ep.host.name]
            and _matches(case.path, ep.path)
            for ep in ENDPOINTS.values()
        ), case.id


def _matches(concrete: str, template: str) -> bool:
    import re

    pattern = re.sub(r"\\\{[A-Za-z]+\\\}", "[^/]+", re.escape(template))
    return re.fullmatch(pattern, concrete) is not None
