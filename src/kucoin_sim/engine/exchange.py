"""The engine's facade: the one object the simulator's server talks to.

Pure and deterministic: every call that changes state takes ``now_ms``; ids come from the
seeded :class:`~kucoin_sim.engine.ids.IdGenerator`; nothing reads a clock or does I/O. The same
seed and the same sequence of calls give the same ids, fills and events.

Everything returned is a snapshot (orders) or a fresh value; mutating it changes nothing.
Refusals raise :class:`~kucoin_sim.engine.types.EngineError` with KuCoin's code.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from kucoin_sim.engine.accounts import Balance, Ledger
from kucoin_sim.engine.config import EngineConfig, MarketMakerConfig
from kucoin_sim.engine.events import Event, Outbox
from kucoin_sim.engine.futures import FuturesDesk, FuturesSettlement
from kucoin_sim.engine.futures_api import FuturesApi
from kucoin_sim.engine.ids import IdGenerator
from kucoin_sim.engine.market_maker import MarketMaker
from kucoin_sim.engine.marketdata_api import MarketDataApi
from kucoin_sim.engine.matching import ActiveCounter, Context, Market
from kucoin_sim.engine.queries_api import QueriesApi
from kucoin_sim.engine.registry import OrderFilter, OrderRegistry, Retention
from kucoin_sim.engine.rules import check_amount, check_numbers, check_spot, is_multiple
from kucoin_sim.engine.spot import SpotSettlement
from kucoin_sim.engine.types import (
    ZERO,
    AccountType,
    Codes,
    ContractSpec,
    EngineError,
    Fill,
    Order,
    OrderRequest,
    OrderType,
    SymbolSpec,
    exact,
)

NOT_FOUND_MSG = "order_not_exist_or_not_allow_to_cancel"
PROTECTION_MSG = "Order price is outside the price protection range (priceLimitRate)."


@dataclass(frozen=True, slots=True)
class Limits:
    """KuCoin's active-order limits (stop orders included)."""

    per_account: int = 2000
    per_symbol: int = 200


class Exchange(FuturesApi, MarketDataApi, QueriesApi):
    """Spot (and futures) matching, accounts and market data for the simulator."""

    @exact
    def __init__(
        self,
        symbols: Iterable[SymbolSpec],
        contracts: Iterable[ContractSpec] = (),
        seed: int = 0,
        *,
        limits: Limits | None = None,
        market_makers: Iterable[MarketMakerConfig] = (),
        now_ms: int = 0,
        retention: Retention | None = None,
    ) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.ids = IdGenerator(seed)
        self.outbox = Outbox()
        self.ledger = Ledger(self.ids, self.outbox)
        self.registry = OrderRegistry(retention)
        self.ledger.ephemeral = self.registry.ephemeral
        self.limits = limits or Limits()
        self.active = ActiveCounter()
        self.exempt: set[str] = set()
        self.symbols: dict[str, SymbolSpec] = {s.symbol: s for s in symbols}
        self.contracts: dict[str, ContractSpec] = {c.symbol: c for c in contracts}
        self.markets: dict[str, Market] = {}
        self._ctx = Context(
            self.ids,
            self.ledger,
            self.outbox,
            self.active,
            self._on_fills,
            self.registry.done,
            quiet=self.registry.ephemeral,
        )
        self._seq = 0
        self._next_uid = 100_000_000 + self.rng.randrange(100_000_000)
        self.futures = FuturesDesk(self.contracts, self.ledger, self.outbox)
        self.makers: dict[str, MarketMaker] = {}
        self.background_volume: dict[str, Decimal] = {}
        self._build_markets()
        for cfg in market_makers:
            self.add_market_maker(cfg, now_ms)

    @classmethod
    def from_config(cls, cfg: EngineConfig, seed: int = 0, now_ms: int = 0) -> Exchange:
        """An exchange with the config's symbols, contracts and market makers."""
        return cls(
            cfg.symbols,
            cfg.contracts,
            seed,
            market_makers=cfg.market_makers,
            now_ms=now_ms,
            retention=cfg.retention,
        )

    def _build_markets(self) -> None:
        for spec in self.symbols.values():
            self.markets[spec.symbol] = Market(
                spec.symbol,
                tick_size=spec.price_increment,
                size_increment=spec.base_increment,
                multiplier=Decimal(1),
                settlement=SpotSettlement(spec, self.ledger),
                ctx=self._ctx,
            )
            self.markets[spec.symbol].protect_rate = spec.price_limit_rate
        for contract in self.contracts.values():
            self.markets[contract.symbol] = Market(
                contract.symbol,
                tick_size=contract.tick_size,
                size_increment=contract.lot_size,
                multiplier=contract.multiplier,
                settlement=FuturesSettlement(contract, self.futures),
                ctx=self._ctx,
            )

    # -- users and money ---------------------------------------------------------------------

    def create_user(self, uid: str | None = None, *, ephemeral: bool = False) -> str:
        """A new user id (numeric string like KuCoin's) or register ``uid`` as given.

        ``ephemeral`` users (market makers) are exempt from order limits and their done orders
        and fills are not kept.
        """
        if uid is None:
            self._next_uid += 1
            uid = str(self._next_uid)
        if ephemeral:
            self.registry.ephemeral.add(uid)
            self.exempt.add(uid)
        return uid

    @exact
    def fund(
        self, uid: str, account_type: AccountType, currency: str, amount: Decimal, now_ms: int = 0
    ) -> Balance:
        """Admin deposit (negative: withdrawal) into one account; returns a snapshot."""
        check_amount(amount, "amount")
        return replace(self.ledger.fund(uid, account_type, currency, amount, now_ms))

    @exact
    def transfer(
        self,
        uid: str,
        currency: str,
        *,
        source: AccountType,
        target: AccountType,
        amount: Decimal,
        now_ms: int = 0,
        to_uid: str | None = None,
    ) -> None:
        """Inner transfer, or to ``to_uid``'s account (sub-account / broker transfers).

        ``200004`` if the source is short, ``400100`` if the amount is not positive.
        """
        check_amount(amount, "amount")
        self.ledger.transfer(
            uid, currency, source=source, target=target, amount=amount, now_ms=now_ms, to_uid=to_uid
        )

    def currencies(self) -> list[str]:
        """Every currency of every symbol and contract, sorted."""
        names = {c for symbol in self.markets for c in self.currencies_of(symbol)}
        return sorted(names)

    # -- orders ------------------------------------------------------------------------------

    def market(self, symbol: str) -> Market:
        """The market of ``symbol`` or ``900001``."""
        market = self.markets.get(symbol)
        if market is None:
            raise EngineError(Codes.NO_SYMBOL, "Symbol not exists")
        return market

    @exact
    def place(self, req: OrderRequest, now_ms: int) -> Order:
        """Validate, reserve and execute one order; returns its snapshot after matching."""
        req = self.check(req, now_ms)
        market = self.markets[req.symbol]
        order = self._new_order(req, now_ms)
        if order.stop is None and market.breaches_protection(order):
            raise EngineError(Codes.PARAM, PROTECTION_MSG)
        market.settlement.reserve(order, market.book, now_ms)
        self.registry.add(order)
        market.submit(order, now_ms)
        return order.snapshot()

    def _validate(self, req: OrderRequest, market: Market) -> OrderRequest:
        spec = self.symbols.get(req.symbol)
        if spec is None:
            return self.futures.normalize(req, market)
        if req.account_type is AccountType.FUTURES or req.account_type is AccountType.MAIN:
            raise EngineError(Codes.PARAM, "Spot orders trade from trade, trade_hf or margin")
        check_spot(req, spec)
        return req

    def _check_client_oid(self, req: OrderRequest) -> None:
        if not req.client_oid:
            return
        prior = self.registry.by_client_oid(req.uid, req.client_oid)
        if prior is not None and prior.active:
            hf = req.account_type is AccountType.TRADE_HF
            code = Codes.DUPLICATE_HF if hf else Codes.PARAM
            raise EngineError(code, "The clientOid is duplicated. Please change the clientOid.")

    def _check_limits(self, req: OrderRequest) -> None:
        if req.uid in self.exempt:
            return
        if self.active.per_uid.get(req.uid, 0) >= self.limits.per_account:
            raise EngineError(Codes.TOO_MANY, "Exceeded the maximum number of active orders")
        if self.active.per_symbol.get((req.uid, req.symbol), 0) >= self.limits.per_symbol:
            raise EngineError(
                Codes.TOO_MANY, "Exceeded the maximum number of active orders per symbol"
            )

    def _new_order(self, req: OrderRequest, now_ms: int) -> Order:
        self._seq += 1
        by_funds = req.type is OrderType.MARKET and req.funds is not None
        return Order(
            id=self.ids.object_id(now_ms),
            uid=req.uid,
            symbol=req.symbol,
            side=req.side,
            type=req.type,
            price=req.price if req.type is OrderType.LIMIT else None,
            size=None if by_funds else req.size,
            funds=req.funds if by_funds else None,
            client_oid=req.client_oid,
            tif=req.tif,
            cancel_after_s=req.cancel_after_s,
            post_only=req.post_only and req.tif not in ("IOC", "FOK"),
            hidden=req.hidden,
            iceberg=req.iceberg,
            visible_size=req.visible_size if req.iceberg else None,
            stp=req.stp,
            stop=req.stop,
            stop_price=req.stop_price if req.stop is not None else None,
            account_type=req.account_type,
            remark=req.remark,
            tags=req.tags,
            created_at_ms=now_ms,
            last_updated_ms=now_ms,
            seq=self._seq,
            remaining=ZERO if by_funds else (req.size or ZERO),
            remaining_funds=req.funds if by_funds else None,
            leverage=req.leverage,
            margin_mode=req.margin_mode,
            reduce_only=req.reduce_only,
        )

    @exact
    def cancel(
        self, uid: str, order_id: str, now_ms: int, account_type: AccountType | None = None
    ) -> Order:
        """Cancel one active order of ``uid``; unknown or done orders raise not-found."""
        order = self.registry.get(order_id)
        if order is None or order.uid != uid or not order.active:
            raise _not_found(account_type)
        self.markets[order.symbol].cancel(order, now_ms)
        return order.snapshot()

    @exact
    def cancel_partial(
        self,
        uid: str,
        order_id: str,
        cancel_size: Decimal,
        now_ms: int,
        account_type: AccountType | None = None,
    ) -> Order:
        """Cancel part of an active order (HF ``cancelSize``); all of it cancels the order."""
        order = self.registry.get(order_id)
        if order is None or order.uid != uid or not order.active:
            raise _not_found(account_type)
        market = self.markets[order.symbol]
        if order.remaining_funds is not None:
            raise EngineError(Codes.PARAM, "A market order by funds cannot be partly cancelled")
        check_amount(cancel_size, "cancelSize")
        if cancel_size <= 0 or not is_multiple(cancel_size, market.size_increment):
            raise EngineError(Codes.PARAM, "cancelSize invalid")
        market.reduce(order, cancel_size, now_ms)
        return order.snapshot()

    @exact
    def alter(
        self,
        uid: str,
        order_id: str,
        now_ms: int,
        *,
        new_price: Decimal | None = None,
        new_size: Decimal | None = None,
        account_type: AccountType | None = None,
    ) -> Order:
        """HF modify (``/api/v1/hf/orders/alter``): cancel and re-create a resting limit order.

        The copy gets the new price and/or size (default: the remaining size) and the same
        clientOid. Returns the new order (a new id). Like KuCoin's cancel-and-recreate, if the
        new order is refused the old one stays cancelled.
        """
        old = self.registry.get(order_id)
        if old is None or old.uid != uid or not old.active or old.waiting_stop:
            raise _not_found(account_type)  # active and not a waiting stop: a resting limit
        req = OrderRequest(
            uid,
            old.symbol,
            old.side,
            price=new_price if new_price is not None else old.price,
            size=new_size if new_size is not None else old.remaining,
            client_oid=old.client_oid,
            tif=old.tif,
            cancel_after_s=old.cancel_after_s,
            post_only=old.post_only,
            hidden=old.hidden,
            iceberg=old.iceberg,
            visible_size=old.visible_size,
            stp=old.stp,
            account_type=old.account_type,
            remark=old.remark,
            tags=old.tags,
            leverage=old.leverage,
            reduce_only=old.reduce_only,
        )
        self.cancel(uid, order_id, now_ms, account_type)
        return self.place(req, now_ms)

    @exact
    def check(self, req: OrderRequest, now_ms: int) -> OrderRequest:
        """Validate an order like :meth:`place` (rules, clientOid, limits) without placing it.

        For the test-order endpoints; returns the normalised request (futures: lots).
        """
        market = self.market(req.symbol)
        market.expire(now_ms)
        check_numbers(req)
        req = self._validate(req, market)
        self._check_client_oid(req)
        self._check_limits(req)
        return req

    @exact
    def cancel_by_client_oid(
        self, uid: str, client_oid: str, now_ms: int, account_type: AccountType | None = None
    ) -> Order:
        """Cancel the active order with this clientOid."""
        order = self.registry.by_client_oid(uid, client_oid)
        if order is None or not order.active:
            raise _not_found(account_type)
        return self.cancel(uid, order.id, now_ms, account_type)

    @exact
    def cancel_all(
        self,
        uid: str,
        symbol: str | None,
        account_type: AccountType | None,
        now_ms: int,
        *,
        stop: bool | None = None,
    ) -> list[Order]:
        """Cancel a user's active orders.

        ``stop`` as in :meth:`orders`: waiting stops only, everything else, or both (None).
        """
        flt = OrderFilter(symbol=symbol, account_type=account_type)
        victims = [
            o
            for o in self.registry.orders(uid, True, flt)
            if stop is None or o.waiting_stop is stop
        ]
        victims.reverse()
        for order in victims:
            self.markets[order.symbol].cancel(order, now_ms)
        return [o.snapshot() for o in victims]

    def _on_fills(self, taker: Fill, maker: Fill) -> None:
        self.registry.add_fills((taker, maker))

    def currencies_of(self, symbol: str) -> tuple[str, ...]:
        """(base, quote) of a spot symbol, (settle,) of a contract."""
        spec = self.symbols.get(symbol)
        if spec is not None:
            return (spec.base, spec.quote)
        contract = self.contracts.get(symbol)
        if contract is None:
            raise EngineError(Codes.NO_SYMBOL, "Symbol not exists")
        return (contract.settle,)

    def tick_size(self, symbol: str) -> Decimal:
        """Price increment of a symbol or contract."""
        return self.market(symbol).book.tick_size

    # -- market makers and time --------------------------------------------------------------

    @exact
    def add_market_maker(self, cfg: MarketMakerConfig, now_ms: int = 0) -> MarketMaker:
        """Start a market maker on ``cfg.symbol`` and quote right away."""
        self.market(cfg.symbol)
        rng = random.Random(f"{self.seed}:{cfg.symbol}")
        maker = MarketMaker(self, cfg, rng)
        self.makers[cfg.symbol] = maker
        if cfg.volume_24h:
            self.background_volume[cfg.symbol] = cfg.volume_24h
        maker.quote(now_ms)
        return maker

    @exact
    def set_price(self, symbol: str, price: Decimal, now_ms: int) -> None:
        """Move a symbol's price (admin).

        Re-centres its market maker (which trades through resting orders on the way), then
        sets the last price to ``price``, as if the market traded there; stop orders trigger.
        """
        market = self.market(symbol)
        if check_amount(price, "price") <= 0:
            raise EngineError(Codes.PARAM, "price must be positive")
        maker = self.makers.get(symbol)
        if maker is not None:
            maker.move_to(price, now_ms)
        market.tape.last_price = price
        market.run_stops(now_ms)

    @exact
    def mirror_book(
        self,
        symbol: str,
        bids: list[tuple[Decimal, Decimal]],
        asks: list[tuple[Decimal, Decimal]],
        now_ms: int,
    ) -> None:
        """Make the symbol's book quote another market's levels (admin ``POST /_sim/books``).

        The symbol's market maker (one is started if it had none) quotes exactly these levels
        from now on and stops its random walk (see :meth:`MarketMaker.mirror`); the last price
        becomes the mid of the best levels, and stop orders trigger on it.
        """
        market = self.market(symbol)
        for price, size in (*bids, *asks):
            if check_amount(price, "price") <= 0 or check_amount(size, "size") <= 0:
                raise EngineError(Codes.PARAM, "every level needs a positive price and size")
        if bids and asks and bids[0][0] >= asks[0][0]:
            raise EngineError(Codes.PARAM, "the best bid must be below the best ask")
        maker = self.makers.get(symbol)
        if maker is None:
            best = (bids or asks or [(Decimal(1), Decimal(1))])[0][0]
            maker = self.add_market_maker(MarketMakerConfig(symbol, best, levels=0), now_ms)
        maker.mirror(bids, asks, now_ms)
        if bids or asks:
            market.tape.last_price = maker.mid_on_tick()
            market.run_stops(now_ms)

    @exact
    def tick(self, now_ms: int) -> None:
        """Advance time: expire GTT orders, step every market maker's random walk.

        The maker's new mid (on the tick grid) becomes the symbol's last price, as if the market
        traded there, so stop orders trigger on random-walk moves too.
        """
        self.expire(now_ms)
        for symbol, maker in self.makers.items():
            maker.step(now_ms)
            market = self.markets[symbol]
            market.tape.last_price = maker.mid_on_tick()
            market.run_stops(now_ms)

    @exact
    def expire(self, now_ms: int) -> None:
        """Cancel every GTT order whose time is up; forget history past its retention."""
        for market in self.markets.values():
            market.expire(now_ms)
        self.registry.prune(now_ms)

    def drain_events(self) -> list[Event]:
        """Every event since the last drain, oldest first."""
        return self.outbox.drain()


def _not_found(account_type: AccountType | None) -> EngineError:
    if account_type is AccountType.TRADE_HF:
        return EngineError(Codes.NOT_FOUND_HF, "order not exist.")
    return EngineError(Codes.PARAM, NOT_FOUND_MSG)
