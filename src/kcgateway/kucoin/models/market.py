"""Spot and futures market data: symbols, currencies, tickers, order books, candles, trades.

Spot sends every number as a decimal string; futures sends JSON numbers. Both decode into exact
:class:`~decimal.Decimal` values (never through float).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import msgspec

from kcgateway.errors import ProtocolError
from kcgateway.kucoin.models._base import Model, check_levels, parse_as

Level = tuple[Decimal, Decimal]
"""One order-book level: (price, size)."""


class ServerStatus(Model, frozen=True, kw_only=True):
    """``GET /api/v1/status``: ``{"status":"open","msg":""}`` (open, close or cancelonly)."""

    status: str
    msg: str = ""


class Symbol(Model, frozen=True, kw_only=True):
    """One spot symbol of ``GET /api/v2/symbols``.

    ``{"symbol":"BTC-USDT","name":"BTC-USDT","baseCurrency":"BTC","quoteCurrency":"USDT",
    "feeCurrency":"USDT","market":"USDS","baseMinSize":"0.00001","quoteMinSize":"0.1",
    "baseMaxSize":"10000000000","quoteMaxSize":"99999999","baseIncrement":"0.00000001",
    "quoteIncrement":"0.000001","priceIncrement":"0.1","priceLimitRate":"0.1","minFunds":"0.1",
    "isMarginEnabled":true,"enableTrading":true,"feeCategory":1,"makerFeeCoefficient":"1.00",
    "takerFeeCoefficient":"1.00","st":false}``
    """

    symbol: str
    name: str = ""
    base_currency: str
    quote_currency: str
    fee_currency: str = ""
    market: str = ""
    base_min_size: Decimal
    quote_min_size: Decimal
    base_max_size: Decimal
    quote_max_size: Decimal
    base_increment: Decimal
    quote_increment: Decimal
    price_increment: Decimal
    price_limit_rate: Decimal | None = None
    min_funds: Decimal | None = None
    is_margin_enabled: bool = False
    enable_trading: bool = False
    fee_category: int | None = None
    maker_fee_coefficient: Decimal | None = None
    taker_fee_coefficient: Decimal | None = None
    st: bool = False
    callauction_is_enabled: bool = False
    callauction_price_floor: Decimal | None = None
    callauction_price_ceiling: Decimal | None = None
    trading_start_time: int | None = None


class CurrencyChain(Model, frozen=True, kw_only=True):
    """One chain of a currency (``chains`` of ``GET /api/v3/currencies``)."""

    chain_name: str
    chain_id: str = ""
    withdrawal_min_size: Decimal | None = None
    deposit_min_size: Decimal | None = None
    withdraw_fee_rate: Decimal | None = None
    withdrawal_min_fee: Decimal | None = None
    is_withdraw_enabled: bool = False
    is_deposit_enabled: bool = False
    confirms: int | None = None
    pre_confirms: int | None = None
    contract_address: str = ""
    withdraw_precision: int | None = None
    max_withdraw: Decimal | None = None
    max_deposit: Decimal | None = None
    need_tag: bool = False


class Currency(Model, frozen=True, kw_only=True):
    """One currency of ``GET /api/v3/currencies``.

    ``{"currency":"BTC","name":"BTC","fullName":"Bitcoin","precision":8,"confirms":null,
    "contractAddress":null,"isMarginEnabled":true,"isDebitEnabled":true,"chains":[{"chainName":
    "BTC","withdrawalMinSize":"0.001","depositMinSize":"0.0002","withdrawFeeRate":"0",
    "withdrawalMinFee":"0.0005","isWithdrawEnabled":true,"isDepositEnabled":true,"confirms":3,
    "preConfirms":1,"contractAddress":"","withdrawPrecision":8,"maxWithdraw":null,
    "maxDeposit":null,"needTag":false,"chainId":"btc"}]}``
    """

    currency: str
    name: str = ""
    full_name: str = ""
    precision: int
    confirms: int | None = None
    contract_address: str | None = None
    is_margin_enabled: bool = False
    is_debit_enabled: bool = False
    chains: list[CurrencyChain] | None = None


class Ticker(Model, frozen=True, kw_only=True):
    """``GET /api/v1/market/orderbook/level1``.

    ``{"time":1729172965609,"sequence":"14609309753","price":"67269","size":"0.000025",
    "bestBid":"67267.5","bestBidSize":"0.000025","bestAsk":"67267.6","bestAskSize":"1.24808993"}``
    """

    time: int
    sequence: str
    price: Decimal | None
    size: Decimal | None = None
    best_bid: Decimal | None = None
    best_bid_size: Decimal | None = None
    best_ask: Decimal | None = None
    best_ask_size: Decimal | None = None


class TickerStats(Model, frozen=True, kw_only=True):
    """One item of ``allTickers`` and the body of ``GET /api/v1/market/stats`` (24 h).

    ``{"symbol":"BTC-USDT","symbolName":"BTC-USDT","buy":"67192.5","bestBidSize":"0.000025",
    "sell":"67192.6","bestAskSize":"1.24949204","changeRate":"-0.0014","changePrice":"-98.5",
    "high":"68321.4","low":"66683.3","vol":"1836.03034612","volValue":"124068431.06726933",
    "last":"67193","averagePrice":"67281.21437289","takerFeeRate":"0.001","makerFeeRate":"0.001",
    "takerCoefficient":"1","makerCoefficient":"1"}``
    """

    symbol: str
    symbol_name: str = ""
    time: int | None = None
    buy: Decimal | None = None
    best_bid_size: Decimal | None = None
    sell: Decimal | None = None
    best_ask_size: Decimal | None = None
    change_rate: Decimal | None = None
    change_price: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    vol: Decimal | None = None
    vol_value: Decimal | None = None
    last: Decimal | None = None
    average_price: Decimal | None = None
    taker_fee_rate: Decimal | None = None
    maker_fee_rate: Decimal | None = None
    taker_coefficient: Decimal | None = None
    maker_coefficient: Decimal | None = None


class AllTickers(Model, frozen=True, kw_only=True):
    """``GET /api/v1/market/allTickers``: ``{"time":1729173207043,"ticker":[TickerStats...]}``."""

    time: int
    ticker: list[TickerStats]


class OrderBook(Model, frozen=True, kw_only=True):
    """A spot book snapshot (``level2_20``, ``level2_100``, ``/api/v3/market/orderbook/level2``).

    ``{"time":1729176273859,"sequence":"14610502970","bids":[["66976.4","0.69109872"]],
    "asks":[["66976.5","0.38151624"]]}``; bids best (highest) first, asks lowest first.
    """

    time: int
    sequence: Annotated[str, msgspec.Meta(pattern=r"^\d+$")]
    bids: list[Level]
    asks: list[Level]

    def __post_init__(self) -> None:
        check_levels(self.bids)
        check_levels(self.asks)

    @property
    def seq(self) -> int:
        """``sequence`` as an int, to compare with WebSocket ``sequenceStart``/``sequenceEnd``."""
        return int(self.sequence)


class FuturesOrderBook(Model, frozen=True, kw_only=True):
    """``GET /api/v1/level2/snapshot`` on the futures host: numbers, ``ts`` in ns.

    ``{"sequence":1697895963339,"symbol":"XBTUSDM","bids":[[66968,2],[66964.8,25596]],
    "asks":[[66968.1,13501],[66968.7,2032]],"ts":1729168101216000000}``
    """

    sequence: int
    symbol: str
    bids: list[Level]
    asks: list[Level]
    ts: int

    def __post_init__(self) -> None:
        check_levels(self.bids)
        check_levels(self.asks)


class Candle(Model, frozen=True, kw_only=True):
    """One candle, the same shape for spot and futures (the wire rows differ; see parsers).

    ``start_ms`` is the bucket start in milliseconds (spot sends seconds, futures ms).
    ``turnover`` (quote volume) exists on spot only.
    """

    start_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    turnover: Decimal | None = None


SpotCandleRow = tuple[
    Annotated[str, msgspec.Meta(pattern=r"^\d+$")],
    Decimal,
    Decimal,
    Decimal,
    Decimal,
    Decimal,
    Decimal,
]
FuturesCandleRow = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]


class MarketTrade(Model, frozen=True, kw_only=True):
    """One trade of ``GET /api/v1/market/histories``.

    ``{"sequence":"10976028003549185","price":"67122","size":"0.000025","side":"buy",
    "time":1729177117877000000}``
    """

    sequence: str
    price: Decimal
    size: Decimal
    side: str
    time: int


class FuturesTicker(Model, frozen=True, kw_only=True):
    """``GET /api/v1/ticker`` on the futures host.

    ``{"sequence":1697895100310,"symbol":"XBTUSDM","side":"sell","size":2936,
    "tradeId":"1697901180000","price":"67158.4","bestBidPrice":"67169.6","bestBidSize":32345,
    "bestAskPrice":"67169.7","bestAskSize":7251,"ts":1729163001780000000}``
    """

    sequence: int
    symbol: str
    side: str = ""
    size: Decimal | None = None
    trade_id: str = ""
    price: Decimal
    best_bid_price: Decimal | None = None
    best_bid_size: Decimal | None = None
    best_ask_price: Decimal | None = None
    best_ask_size: Decimal | None = None
    ts: int


class FuturesContract(Model, frozen=True, kw_only=True):
    """One contract of ``GET /api/v1/contracts/active`` (numbers on the wire).

    ``{"symbol":"XBTUSDTM","rootSymbol":"USDT","type":"FFWCSX","baseCurrency":"XBT",
    "quoteCurrency":"USDT","settleCurrency":"USDT","maxOrderQty":1000000,"maxPrice":1000000.0,
    "lotSize":1,"tickSize":0.1,"multiplier":0.001,"initialMargin":0.008,"maintainMargin":0.004,
    "makerFeeRate":0.0002,"takerFeeRate":0.0006,"isInverse":false,"isQuanto":false,
    "status":"Open","fundingFeeRate":0.0001,"markPrice":67000.1,"indexPrice":67001.2,
    "lastTradePrice":67000.0,"maxLeverage":125,"supportCross":true}``
    """

    symbol: str
    root_symbol: str = ""
    type: str = ""
    base_currency: str
    quote_currency: str
    settle_currency: str
    max_order_qty: Decimal | None = None
    max_price: Decimal | None = None
    lot_size: Decimal
    tick_size: Decimal
    multiplier: Decimal
    initial_margin: Decimal | None = None
    maintain_margin: Decimal | None = None
    maker_fee_rate: Decimal | None = None
    taker_fee_rate: Decimal | None = None
    is_inverse: bool = False
    is_quanto: bool = False
    status: str = ""
    funding_fee_rate: Decimal | None = None
    mark_price: Decimal | None = None
    index_price: Decimal | None = None
    last_trade_price: Decimal | None = None
    max_leverage: int | None = None
    support_cross: bool = False
    expire_date: int | None = None


def parse_server_time(data: object) -> int:
    """``GET /api/v1/timestamp`` (spot and futures): ``1729100692873`` (ms)."""
    return parse_as(int, data)


def parse_server_status(data: object) -> ServerStatus:
    """``GET /api/v1/status``."""
    return parse_as(ServerStatus, data)


def parse_symbols(data: object) -> list[Symbol]:
    """``GET /api/v2/symbols``: a list of :class:`Symbol`."""
    return parse_as(list[Symbol], data)


def parse_symbol(data: object) -> Symbol:
    """``GET /api/v2/symbols/{symbol}``."""
    return parse_as(Symbol, data)


def parse_currencies(data: object) -> list[Currency]:
    """``GET /api/v3/currencies``: a list of :class:`Currency`."""
    return parse_as(list[Currency], data)


def parse_currency(data: object) -> Currency:
    """``GET /api/v3/currencies/{currency}``."""
    return parse_as(Currency, data)


def parse_ticker(data: object) -> Ticker:
    """``GET /api/v1/market/orderbook/level1``."""
    return parse_as(Ticker, data)


def parse_all_tickers(data: object) -> AllTickers:
    """``GET /api/v1/market/allTickers``."""
    return parse_as(AllTickers, data)


def parse_stats(data: object) -> TickerStats:
    """``GET /api/v1/market/stats``."""
    return parse_as(TickerStats, data)


def parse_order_book(data: object) -> OrderBook:
    """Spot ``level2_20``, ``level2_100`` or the private full book."""
    return parse_as(OrderBook, data)


def parse_futures_order_book(data: object) -> FuturesOrderBook:
    """Futures ``/api/v1/level2/snapshot`` (and depth20/100)."""
    return parse_as(FuturesOrderBook, data)


def _candle(
    index: int,
    start_ms: int,
    *,
    open: Decimal,
    high: Decimal,
    low: Decimal,
    close: Decimal,
    volume: Decimal,
    turnover: Decimal | None = None,
) -> Candle:
    """Build a Candle; a non-finite value becomes a ProtocolError naming the row."""
    try:
        return Candle(
            start_ms=start_ms,
            open=open,
            high=high,
            low=low,
            close=close,
            volume=volume,
            turnover=turnover,
        )
    except ValueError as exc:
        raise ProtocolError(str(exc), path=f"data[{index}]") from None


def parse_spot_candles(data: object) -> list[Candle]:
    """Spot ``GET /api/v1/market/candles``: rows ``[t(s), open, close, high, low, vol, turnover]``.

    ``[["1729176180","67045.1","67061.3","67061.3","67045.1","0.42418106","28442.25"]]``
    (note: open, **close**, high, low).
    """
    rows: list[SpotCandleRow] = parse_as(list[SpotCandleRow], data)
    return [
        _candle(i, int(t) * 1000, open=o, close=c, high=h, low=lo, volume=v, turnover=turnover)
        for i, (t, o, c, h, lo, v, turnover) in enumerate(rows)
    ]


def parse_futures_candles(data: object) -> list[Candle]:
    """Futures ``GET /api/v1/kline/query``: rows ``[t(ms), open, high, low, close, volume]``.

    ``[[1729152000000,67094.0,67230.2,66888.8,67111.3,4012]]`` (numbers; open, **high**, low).
    """
    rows: list[FuturesCandleRow] = parse_as(list[FuturesCandleRow], data)
    return [
        _candle(i, t, open=o, high=h, low=lo, close=c, volume=v)
        for i, (t, o, h, lo, c, v) in enumerate(rows)
    ]


def parse_market_trades(data: object) -> list[MarketTrade]:
    """``GET /api/v1/market/histories``."""
    return parse_as(list[MarketTrade], data)


def parse_futures_ticker(data: object) -> FuturesTicker:
    """Futures ``GET /api/v1/ticker``."""
    return parse_as(FuturesTicker, data)


def parse_contracts(data: object) -> list[FuturesContract]:
    """Futures ``GET /api/v1/contracts/active``."""
    return parse_as(list[FuturesContract], data)


def parse_contract(data: object) -> FuturesContract:
    """Futures ``GET /api/v1/contracts/{symbol}``."""
    return parse_as(FuturesContract, data)
