"""Spot market data: currencies, symbols, tickers, stats, books, trades, candles, prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kucoin_sim.auth import Permission
from kucoin_sim.engine import SymbolSpec
from kucoin_sim.ratelimit import Pool
from kucoin_sim.rest.orders import engine_call
from kucoin_sim.rest.params import ApiError
from kucoin_sim.rest.routing import Call, RouteTable
from kucoin_sim.rest.views import num, opt

routes = RouteTable()

CANDLE_TYPES = {
    "1min": 60, "3min": 180, "5min": 300, "15min": 900, "30min": 1800, "1hour": 3600,
    "2hour": 7200, "4hour": 14400, "6hour": 21600, "8hour": 28800, "12hour": 43200,
    "1day": 86400, "1week": 604800, "1month": 2592000,
}  # fmt: skip


def _spec(call: Call, symbol: str | None = None) -> SymbolSpec:
    name = symbol or call.query.req("symbol", max_len=32)
    spec: SymbolSpec | None = call.state.exchange.symbols.get(name)
    if spec is None:
        raise ApiError("900001", "Symbol not exists")
    return spec


def symbol_view(s: SymbolSpec) -> dict[str, Any]:
    """``/api/v2/symbols`` item."""
    return {
        "symbol": s.symbol,
        "name": s.symbol,
        "baseCurrency": s.base,
        "quoteCurrency": s.quote,
        "feeCurrency": s.quote,
        "market": "USDS" if s.quote == "USDT" else s.quote,
        "baseMinSize": num(s.base_min_size),
        "quoteMinSize": num(s.quote_min_size),
        "baseMaxSize": num(s.base_max_size),
        "quoteMaxSize": num(s.quote_max_size),
        "baseIncrement": num(s.base_increment),
        "quoteIncrement": num(s.quote_increment),
        "priceIncrement": num(s.price_increment),
        "priceLimitRate": num(s.price_limit_rate),
        "minFunds": num(s.min_funds),
        "isMarginEnabled": True,
        "enableTrading": s.enable_trading,
        "feeCategory": 1,
        "makerFeeCoefficient": "1.00",
        "takerFeeCoefficient": "1.00",
        "st": False,
        "callauctionIsEnabled": False,
        "callauctionPriceFloor": None,
        "callauctionPriceCeiling": None,
        "callauctionFirstStageStartTime": None,
        "callauctionSecondStageStartTime": None,
        "callauctionThirdStageStartTime": None,
        "tradingStartTime": None,
    }


@routes.add("GET", "/api/v2/symbols", pool=Pool.PUBLIC, weight=4)
def symbols(call: Call) -> object:
    """Every symbol (``market`` filters)."""
    market = call.query.text("market")
    views = [symbol_view(s) for s in call.state.exchange.symbols.values()]
    return [v for v in views if market is None or v["market"] == market]


@routes.add("GET", "/api/v2/symbols/{symbol}", pool=Pool.PUBLIC, weight=4)
def symbol(call: Call) -> object:
    """One symbol."""
    return symbol_view(_spec(call, call.path("symbol")))


@routes.add("GET", "/api/v1/symbols", pool=Pool.PUBLIC, weight=4)
def symbols_v1(call: Call) -> object:
    """Old symbol list (same items)."""
    return symbols(call)


def _currencies(call: Call) -> list[str]:
    names: set[str] = set()
    for s in call.state.exchange.symbols.values():
        names.update((s.base, s.quote))
    for c in call.state.exchange.contracts.values():
        names.update((c.base, c.settle))
    return sorted(names)


def currency_view(name: str) -> dict[str, Any]:
    """``/api/v3/currencies`` item."""
    return {
        "currency": name,
        "name": name,
        "fullName": name,
        "precision": 8,
        "confirms": None,
        "contractAddress": None,
        "isMarginEnabled": True,
        "isDebitEnabled": True,
        "chains": [
            {
                "chainName": name,
                "chainId": name.lower(),
                "withdrawalMinSize": "0.001",
                "depositMinSize": "0.001",
                "withdrawFeeRate": "0",
                "withdrawalMinFee": "0.0001",
                "isWithdrawEnabled": True,
                "isDepositEnabled": True,
                "confirms": 1,
                "preConfirms": 1,
                "contractAddress": "",
                "withdrawPrecision": 8,
                "maxWithdraw": None,
                "maxDeposit": None,
                "needTag": False,
            }
        ],
    }


@routes.add("GET", "/api/v3/currencies", pool=Pool.PUBLIC, weight=3)
def currencies(call: Call) -> object:
    """Every currency of the configured symbols and contracts."""
    return [currency_view(c) for c in _currencies(call)]


@routes.add("GET", "/api/v3/currencies/{currency}", pool=Pool.PUBLIC, weight=3)
def currency(call: Call) -> object:
    """One currency."""
    name = call.path("currency")
    if name not in _currencies(call):
        raise ApiError("900003", "Currency not exists")
    return currency_view(name)


def _stats(call: Call, spec: SymbolSpec) -> dict[str, Any]:
    ex = call.state.exchange
    tick = ex.ticker(spec.symbol)
    stats = ex.stats_24h(spec.symbol, call.now_ms)
    last = tick.price
    return {
        "time": call.now_ms,
        "symbol": spec.symbol,
        "symbolName": spec.symbol,
        "buy": opt(tick.best_bid),
        "bestBidSize": opt(tick.best_bid_size),
        "sell": opt(tick.best_ask),
        "bestAskSize": opt(tick.best_ask_size),
        "changeRate": num(stats.change_rate),
        "changePrice": num(stats.change_price),
        "high": opt(stats.high),
        "low": opt(stats.low),
        "vol": num(stats.volume),
        "volValue": num(stats.turnover),
        "last": opt(last),
        "averagePrice": opt(last),
        "takerFeeRate": num(spec.taker_fee_rate),
        "makerFeeRate": num(spec.maker_fee_rate),
        "takerCoefficient": "1",
        "makerCoefficient": "1",
    }


@routes.add("GET", "/api/v1/market/allTickers", pool=Pool.PUBLIC, weight=15)
def all_tickers(call: Call) -> object:
    """Every ticker, with fee rates (ccxt's load_markets reads them)."""
    items = [_stats(call, s) for s in call.state.exchange.symbols.values()]
    for item in items:
        item.pop("time")
    return {"time": call.now_ms, "ticker": items}


@routes.add("GET", "/api/v1/market/stats", pool=Pool.PUBLIC, weight=15)
def stats(call: Call) -> object:
    """24 h statistics of one symbol (ccxt's fetch_ticker)."""
    return _stats(call, _spec(call))


@routes.add("GET", "/api/v1/market/orderbook/level1", pool=Pool.PUBLIC, weight=2)
def level1(call: Call) -> object:
    """Best bid/ask and last trade."""
    tick = call.state.exchange.ticker(_spec(call).symbol)
    return {
        "time": call.now_ms,
        "sequence": str(tick.sequence),
        "price": opt(tick.price),
        "size": opt(tick.size),
        "bestBid": opt(tick.best_bid),
        "bestBidSize": opt(tick.best_bid_size),
        "bestAsk": opt(tick.best_ask),
        "bestAskSize": opt(tick.best_ask_size),
    }


def _book(call: Call, depth: int | None) -> object:
    snap = call.state.exchange.book(_spec(call).symbol, depth, call.now_ms)
    return {
        "time": call.now_ms,
        "sequence": str(snap.sequence),
        "bids": [[num(p), num(s)] for p, s in snap.bids],
        "asks": [[num(p), num(s)] for p, s in snap.asks],
    }


@routes.add("GET", "/api/v1/market/orderbook/level2_20", pool=Pool.PUBLIC, weight=2)
def level2_20(call: Call) -> object:
    """Top 20 levels each side."""
    return _book(call, 20)


@routes.add("GET", "/api/v1/market/orderbook/level2_100", pool=Pool.PUBLIC, weight=4)
def level2_100(call: Call) -> object:
    """Top 100 levels each side."""
    return _book(call, 100)


@routes.add(
    "GET",
    "/api/v3/market/orderbook/level2",
    pool=Pool.SPOT,
    weight=3,
    permission=Permission.GENERAL,
)
def level2_full(call: Call) -> object:
    """The full book (private: signed, General permission)."""
    return _book(call, None)


@routes.add("GET", "/api/v1/market/histories", pool=Pool.PUBLIC, weight=3)
def histories(call: Call) -> object:
    """The last 100 trades."""
    trades = call.state.exchange.trades(_spec(call).symbol, 100)
    return [
        {
            "sequence": str(t.sequence),
            "price": num(t.price),
            "size": num(t.size),
            "side": t.side.value,
            "time": t.time_ms * 1_000_000,
        }
        for t in trades
    ]


@routes.add("GET", "/api/v1/market/candles", pool=Pool.PUBLIC, weight=3)
def candles(call: Call) -> object:
    """Candles built from the simulated trades, newest first (at most 1500)."""
    spec = _spec(call)
    interval = CANDLE_TYPES.get(call.query.text("type") or "")
    if interval is None:
        raise ApiError("400100", "type invalid")
    end_s = call.query.integer("endAt", 0) or call.now_ms // 1000
    start_s = call.query.integer("startAt", 0) or max(0, end_s - interval * 1500)
    rows = engine_call(lambda: call.state.exchange.candles(spec.symbol, interval, start_s, end_s))
    return [c.row() for c in rows[:1500]]


@routes.add("GET", "/api/v1/prices", pool=Pool.PUBLIC, weight=3)
def fiat_prices(call: Call) -> object:
    """USD prices from the ``<CUR>-USDT`` last prices (USDT counts as 1 USD)."""
    wanted = (call.query.text("currencies", max_len=1000) or "").split(",")
    out: dict[str, str] = {}
    for name in _currencies(call):
        if wanted != [""] and name not in wanted:
            continue
        price = Decimal(1) if name == "USDT" else _last(call, f"{name}-USDT")
        if price is not None:
            out[name] = num(price)
    return out


def _last(call: Call, symbol: str) -> Decimal | None:
    if symbol not in call.state.exchange.symbols:
        return None
    value: Decimal | None = call.state.exchange.last_price(symbol)
    return value


@routes.add("GET", "/api/v1/markets", pool=Pool.PUBLIC, weight=3)
def markets(call: Call) -> object:
    """Market names."""
    return sorted(
        {v["market"] for v in (symbol_view(s) for s in call.state.exchange.symbols.values())}
    )
