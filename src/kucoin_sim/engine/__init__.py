"""The simulator's pure, deterministic matching engine, accounts and futures.

No I/O, no asyncio, no clock: every state-changing call takes ``now_ms``; ids come from a seeded
generator, so the same seed and calls give the same ids, fills and events.

Public API (stable; the server builds on it)::

    from kucoin_sim.engine import Exchange, OrderRequest, Side, OrderType, AccountType
    ex = Exchange(DEFAULT_SYMBOLS, DEFAULT_CONTRACTS, seed=7)   # or from config.load(dict)
    uid = ex.create_user()
    ex.fund(uid, AccountType.TRADE, "USDT", Decimal("1000"), now_ms)
    order = ex.place(OrderRequest(uid, "BTC-USDT", Side.BUY, price=Decimal("30000"),
                                  size=Decimal("0.01")), now_ms)          # -> Order snapshot
    ex.cancel(uid, order.id, now_ms); ex.cancel_by_client_oid(uid, oid, now_ms)
    ex.cancel_all(uid, symbol_or_None, account_type_or_None, now_ms)
    ex.get(uid, order_id); ex.get_by_client_oid(uid, oid)      # latest with that clientOid
    ex.orders(uid, status="active"|"done"|None, symbol=..., side=..., type=..., ...)
    ex.fills(uid, symbol=..., order_id=..., ...)                # newest first
    ex.balances(uid, account_type, currency); ex.account(account_id); ex.currencies()
    ex.transfer(uid, cur, source=, target=, amount=, now_ms=, to_uid=None)  # inner / to user
    ex.ledger_entries(uid, currency=, account_type=, start_ms=, end_ms=)    # newest first
    ex.book(symbol, depth) -> BookSnapshot(symbol, sequence, bids, asks, time_ms)
    ex.ticker(symbol); ex.stats_24h(symbol, now_ms); ex.trades(symbol, limit)
    ex.candles(symbol, interval_s, start_s, end_s)              # Candle.row() = KuCoin row
    ex.expire(now_ms)                                           # GTT orders
    ex.drain_events() -> [L2Change | TradeEvent | OrderEvent | BalanceEvent | PositionEvent]
    ex.cancel_partial(uid, order_id, size, now_ms); ex.check(req, now_ms)  # HF / test orders
    ex.alter(uid, order_id, now_ms, new_price=, new_size=)      # HF modify -> new order
    ex.set_price(symbol, price, now_ms); ex.tick(now_ms)        # admin price, market makers
    futures: ex.position(uid, sym); ex.positions(uid); ex.account_overview(uid, "USDT");
      ex.get/set_margin_mode(uid, sym[, mode]); ex.get/set_cross_leverage(uid, sym[, lev]);
      ex.mark_price(sym). Futures orders use the same place/cancel with ``size`` in lots (or
      ``qty``/``value_qty``), ``leverage``, ``reduce_only``, ``close_order``.
    history: ``Exchange(..., retention=Retention(done_orders=, fills=, max_age_ms=))`` bounds
      the done orders and fills kept per user; pruned orders are unknown to every look-up.

Refusals raise :class:`EngineError` (``.code`` is KuCoin's code string, ``.message``); the
codes chosen for each rule are listed in :class:`EngineError`'s docstring.

Modules: ``types`` (values, the engine's 60-digit Decimal context), ``accounts`` (ledger
with holds and history), ``book`` (price levels in integer ticks), ``matching`` (the rules,
shared by spot and futures), ``spot`` (spot settlement and fees), ``futures`` (margin,
positions, overview), ``protection`` (priceLimitRate), ``rules`` (symbol rules and codes),
``marketdata`` (tape, candles, 24h stats), ``registry`` (orders/fills look-ups), ``events``
(the outbox for WebSocket feeds), ``market_maker``, ``config`` (defaults, loading), ``ids``.

Not modelled: liquidation, funding, index/mark price feeds (the mark is the maker's mid or the
last price), margin borrowing, KuCoin's lower priority of hidden orders within a level, stop
triggers on mark/index price (futures stops trigger on the last trade price).
"""

from kucoin_sim.engine.accounts import Balance, LedgerEntry
from kucoin_sim.engine.config import (
    DEFAULT_CONTRACTS,
    DEFAULT_MARKET_MAKERS,
    DEFAULT_SYMBOLS,
    EngineConfig,
    MarketMakerConfig,
    load,
)
from kucoin_sim.engine.events import (
    BalanceEvent,
    Event,
    L2Change,
    OrderEvent,
    OrderEventType,
    PositionEvent,
    TradeEvent,
)
from kucoin_sim.engine.exchange import Exchange, Limits
from kucoin_sim.engine.marketdata import Candle, Stats24h
from kucoin_sim.engine.marketdata_api import Ticker
from kucoin_sim.engine.registry import Retention
from kucoin_sim.engine.types import (
    AccountType,
    BookSnapshot,
    Codes,
    ContractSpec,
    DoneReason,
    EngineError,
    Fill,
    Liquidity,
    MarginMode,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    StopKind,
    Stp,
    SymbolSpec,
    TimeInForce,
    Trade,
)

__all__ = [
    "DEFAULT_CONTRACTS",
    "DEFAULT_MARKET_MAKERS",
    "DEFAULT_SYMBOLS",
    "AccountType",
    "Balance",
    "BalanceEvent",
    "BookSnapshot",
    "Candle",
    "Codes",
    "ContractSpec",
    "DoneReason",
    "EngineConfig",
    "EngineError",
    "Event",
    "Exchange",
    "Fill",
    "L2Change",
    "LedgerEntry",
    "Limits",
    "Liquidity",
    "MarginMode",
    "MarketMakerConfig",
    "Order",
    "OrderEvent",
    "OrderEventType",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "PositionEvent",
    "Retention",
    "Side",
    "Stats24h",
    "StopKind",
    "Stp",
    "SymbolSpec",
    "Ticker",
    "TimeInForce",
    "Trade",
    "TradeEvent",
    "load",
]
