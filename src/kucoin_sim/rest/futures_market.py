"""Futures host market data: contracts, ticker, level 2, klines (numbers as JSON numbers)."""

from __future__ import annotations

from typing import Any

from kucoin_sim.engine import ContractSpec
from kucoin_sim.ratelimit import Pool
from kucoin_sim.rest.orders import engine_call
from kucoin_sim.rest.params import ApiError, bad
from kucoin_sim.rest.routing import Call, RouteTable
from kucoin_sim.rest.views import fnum

routes = RouteTable()
GRANULARITIES = {1, 5, 15, 30, 60, 120, 240, 480, 720, 1440, 10080}


def contract_spec(call: Call, symbol: str | None = None) -> ContractSpec:
    """The contract named by ``symbol`` (or the ``symbol`` query parameter), else 900001."""
    name = symbol or call.query.req("symbol", max_len=32)
    spec: ContractSpec | None = call.state.exchange.contracts.get(name)
    if spec is None:
        raise ApiError("900001", "Contract does not exist")
    return spec


def _mark(call: Call, symbol: str) -> Any:
    return call.state.exchange.mark_price(symbol)


def contract_view(call: Call, c: ContractSpec) -> dict[str, Any]:
    """``/api/v1/contracts/active`` item."""
    ex = call.state.exchange
    mark = _mark(call, c.symbol)
    return {
        "symbol": c.symbol,
        "rootSymbol": c.settle,
        "type": "FFWCSX",
        "firstOpenDate": 1585555200000,
        "expireDate": None,
        "settleDate": None,
        "baseCurrency": c.base,
        "quoteCurrency": c.quote,
        "settleCurrency": c.settle,
        "maxOrderQty": fnum(c.max_order_qty),
        "maxPrice": 1000000.0,
        "lotSize": fnum(c.lot_size),
        "tickSize": fnum(c.tick_size),
        "indexPriceTickSize": fnum(c.tick_size),
        "multiplier": fnum(c.multiplier),
        "initialMargin": fnum(c.initial_margin),
        "maintainMargin": fnum(c.maint_margin),
        "maxRiskLimit": 100000,
        "minRiskLimit": 100000,
        "riskStep": 50000,
        "makerFeeRate": fnum(c.maker_fee_rate),
        "takerFeeRate": fnum(c.taker_fee_rate),
        "takerFixFee": 0.0,
        "makerFixFee": 0.0,
        "settlementFee": None,
        "isDeleverage": True,
        "isQuanto": False,
        "isInverse": False,
        "markMethod": "FairPrice",
        "fairMethod": "FundingRate",
        "fundingBaseSymbol": f".{c.base}INT8H",
        "fundingQuoteSymbol": f".{c.quote}INT8H",
        "fundingRateSymbol": f".{c.symbol}FPI8H",
        "indexSymbol": f".K{c.base}{c.quote}",
        "settlementSymbol": "",
        "status": "Open" if c.enable_trading else "Paused",
        "fundingFeeRate": 0.0001,
        "predictedFundingFeeRate": 0.0001,
        "fundingRateGranularity": 28800000,
        "openInterest": "0",
        "turnoverOf24h": 0.0,
        "volumeOf24h": 0.0,
        "markPrice": fnum(mark),
        "indexPrice": fnum(mark),
        "lastTradePrice": fnum(ex.last_price(c.symbol) or mark),
        "nextFundingRateTime": 28800000,
        "maxLeverage": c.max_leverage,
        "sourceExchanges": ["kucoin"],
        "premiumsSymbol1M": f".{c.symbol}PREM",
        "premiumsSymbol8H": f".{c.symbol}PREM8H",
        "fundingBaseSymbol1M": f".{c.base}INT",
        "fundingQuoteSymbol1M": f".{c.quote}INT",
        "lowPrice": 0.0,
        "highPrice": 0.0,
        "priceChgPct": 0.0,
        "priceChg": 0.0,
        "k": 490.0,
        "m": 300.0,
        "f": 1.3,
        "mmrLimit": 0.3,
        "mmrLevConstant": 125.0,
        "supportCross": True,
        "buyLimit": None,
        "sellLimit": None,
    }


@routes.add("GET", "/api/v1/contracts/active", pool=Pool.PUBLIC, weight=3)
def contracts(call: Call) -> object:
    """Every open contract."""
    return [contract_view(call, c) for c in call.state.exchange.contracts.values()]


@routes.add("GET", "/api/v1/contracts/{symbol}", pool=Pool.PUBLIC, weight=3)
def contract(call: Call) -> object:
    """One contract."""
    return contract_view(call, contract_spec(call, call.path("symbol")))


@routes.add("GET", "/api/v1/ticker", pool=Pool.PUBLIC, weight=2)
def ticker(call: Call) -> object:
    """Last trade and best bid/ask (ns timestamp)."""
    spec = contract_spec(call)
    t = call.state.exchange.ticker(spec.symbol)
    trades = call.state.exchange.trades(spec.symbol, 1)
    return {
        "sequence": t.sequence,
        "symbol": spec.symbol,
        "side": trades[0].side.value if trades else "buy",
        "size": fnum(t.size),
        "tradeId": trades[0].trade_id if trades else "",
        "price": str(fnum(t.price)),
        "bestBidPrice": str(fnum(t.best_bid)),
        "bestBidSize": fnum(t.best_bid_size),
        "bestAskPrice": str(fnum(t.best_ask)),
        "bestAskSize": fnum(t.best_ask_size),
        "ts": call.now_ms * 1_000_000,
    }


def _book(call: Call, depth: int | None) -> object:
    spec = contract_spec(call)
    snap = call.state.exchange.book(spec.symbol, depth, call.now_ms)
    return {
        "sequence": snap.sequence,
        "symbol": spec.symbol,
        "bids": [[fnum(p), fnum(s)] for p, s in snap.bids],
        "asks": [[fnum(p), fnum(s)] for p, s in snap.asks],
        "ts": call.now_ms * 1_000_000,
    }


@routes.add("GET", "/api/v1/level2/snapshot", pool=Pool.PUBLIC, weight=3)
def level2_snapshot(call: Call) -> object:
    """Full visible book."""
    return _book(call, None)


@routes.add("GET", "/api/v1/level2/depth20", pool=Pool.PUBLIC, weight=5)
def depth20(call: Call) -> object:
    """Top 20 levels."""
    return _book(call, 20)


@routes.add("GET", "/api/v1/level2/depth100", pool=Pool.PUBLIC, weight=10)
def depth100(call: Call) -> object:
    """Top 100 levels."""
    return _book(call, 100)


@routes.add("GET", "/api/v1/kline/query", pool=Pool.PUBLIC, weight=3)
def klines(call: Call) -> object:
    """Rows ``[time(ms), open, high, low, close, volume]`` oldest first (at most 500)."""
    spec = contract_spec(call)
    granularity = call.query.integer("granularity")
    if granularity not in GRANULARITIES:
        raise bad("granularity")
    interval = granularity * 60
    end_ms = call.query.integer("to", 0) or call.now_ms
    start_ms = call.query.integer("from", 0) or end_ms - interval * 1000 * 500
    rows = engine_call(
        lambda: call.state.exchange.candles(spec.symbol, interval, start_ms // 1000, end_ms // 1000)
    )
    out = [
        [c.start_s * 1000, fnum(c.open), fnum(c.high), fnum(c.low), fnum(c.close), fnum(c.volume)]
        for c in rows
    ]
    out.reverse()
    return out[-500:]
