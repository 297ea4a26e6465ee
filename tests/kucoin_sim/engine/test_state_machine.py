"""Random places, cancels, market orders, stops and time across a few users; invariants hold."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from kucoin_sim.engine import (
    AccountType,
    EngineError,
    Exchange,
    L2Change,
    Liquidity,
    OrderRequest,
    OrderType,
    Side,
    StopKind,
    Stp,
    TimeInForce,
)
from tests.kucoin_sim.engine.helpers import SPEC, T0, assert_conserved

D = Decimal
prices = st.integers(min_value=295, max_value=305).map(lambda p: D(p) * 100)
sizes = st.integers(min_value=1, max_value=30).map(lambda s: D(s) / 100)
sides = st.sampled_from([Side.BUY, Side.SELL])
stps = st.sampled_from([None, None, Stp.CN, Stp.CO, Stp.CB, Stp.DC])
tifs = st.sampled_from(
    [TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTT]
)


class EngineMachine(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 1000))
    def setup(self, seed: int) -> None:
        self.ex = Exchange([SPEC], seed=seed)
        self.now = T0
        self.users = []
        for _ in range(3):
            uid = self.ex.create_user()
            self.ex.fund(uid, AccountType.TRADE, "USDT", D(20000), T0)
            self.ex.fund(uid, AccountType.TRADE, "BTC", D(1), T0)
            self.users.append(uid)
        self.fok_ids: list[str] = []
        self.replica: dict[tuple[Side, Decimal], Decimal] = {}
        self.replica_seq = 0

    def _place(self, req: OrderRequest) -> None:
        self.now += 1
        try:
            order = self.ex.place(req, self.now)
        except EngineError as exc:
            assert exc.code in {"200004", "400100", "200003"}, exc
            return
        if order.tif is TimeInForce.FOK and order.type is OrderType.LIMIT:
            self.fok_ids.append(order.id)

    @rule(
        u=st.integers(0, 2),
        side=sides,
        price=prices,
        size=sizes,
        tif=tifs,
        stp=stps,
        post_only=st.booleans(),
        display=st.sampled_from(["plain", "plain", "hidden", "iceberg"]),
    )
    def limit(
        self,
        u: int,
        side: Side,
        price: Decimal,
        size: Decimal,
        tif: TimeInForce,
        stp: Stp | None,
        post_only: bool,
        display: str,
    ) -> None:
        self._place(
            OrderRequest(
                self.users[u],
                "BTC-USDT",
                side,
                price=price,
                size=size,
                tif=tif,
                cancel_after_s=3 if tif is TimeInForce.GTT else None,
                stp=stp,
                post_only=post_only,
                hidden=display == "hidden",
                iceberg=display == "iceberg",
                visible_size=min(size, D("0.02")) if display == "iceberg" else None,
            )
        )

    @rule(
        u=st.integers(0, 2),
        side=sides,
        size=sizes,
        funds=st.integers(10, 5000),
        by_funds=st.booleans(),
        stp=stps,
    )
    def market(
        self, u: int, side: Side, size: Decimal, funds: int, by_funds: bool, stp: Stp | None
    ) -> None:
        amount = {"funds": D(funds)} if by_funds else {"size": size}
        self._place(
            OrderRequest(self.users[u], "BTC-USDT", side, OrderType.MARKET, stp=stp, **amount)
        )  # type: ignore[arg-type]

    @rule(
        u=st.integers(0, 2),
        side=sides,
        price=prices,
        size=sizes,
        stop=st.sampled_from([StopKind.LOSS, StopKind.ENTRY]),
        market=st.booleans(),
    )
    def stop(
        self, u: int, side: Side, price: Decimal, size: Decimal, stop: StopKind, market: bool
    ) -> None:
        typ = OrderType.MARKET if market else OrderType.LIMIT
        self._place(
            OrderRequest(
                self.users[u],
                "BTC-USDT",
                side,
                typ,
                price=None if market else price,
                size=size,
                stop=stop,
                stop_price=price,
            )
        )

    @rule(u=st.integers(0, 2), pick=st.integers(0, 1000))
    def cancel(self, u: int, pick: int) -> None:
        active = self.ex.orders(self.users[u], status="active")
        if active:
            self.ex.cancel(self.users[u], active[pick % len(active)].id, self.now)

    @rule(u=st.integers(0, 2))
    def cancel_all(self, u: int) -> None:
        self.ex.cancel_all(self.users[u], "BTC-USDT", None, self.now)

    @rule(ms=st.integers(0, 5000))
    def advance(self, ms: int) -> None:
        self.now += ms
        self.ex.expire(self.now)

    @rule(price=prices)
    def set_price(self, price: Decimal) -> None:
        self.ex.set_price("BTC-USDT", price, self.now)

    @invariant()
    def l2_deltas_replay_to_the_book(self) -> None:
        """A client applying every L2Change in order holds exactly the engine's book."""
        for event in self.ex.drain_events():
            if isinstance(event, L2Change):
                assert event.sequence == self.replica_seq + 1
                self.replica_seq = event.sequence
                if event.size:
                    self.replica[(event.side, event.price)] = event.size
                else:
                    self.replica.pop((event.side, event.price), None)
        snap = self.ex.book("BTC-USDT")
        assert snap.sequence == self.replica_seq
        bids = sorted(
            ((p, s) for (side, p), s in self.replica.items() if side is Side.BUY), reverse=True
        )
        asks = sorted((p, s) for (side, p), s in self.replica.items() if side is Side.SELL)
        assert (snap.bids, snap.asks) == (bids, asks)

    @invariant()
    def book_not_crossed_and_consistent(self) -> None:
        book = self.ex.markets["BTC-USDT"].book
        bid, ask = book.bids.best(), book.asks.best()
        if bid is not None and ask is not None:
            assert bid.price < ask.price
        for side in (book.bids, book.asks):
            assert side.keys == sorted(side.keys)
            for level in side:
                assert level.orders and level.visible == sum(
                    (o.shown for o in level.orders.values()), D(0)
                )
                for o in level.orders.values():
                    assert o.remaining > 0 and o.active and o.in_book and o.price == level.price

    @invariant()
    def money_is_conserved_and_holds_match_orders(self) -> None:
        for acct in self.ex.ledger.all_accounts():
            assert D(0) <= acct.holds <= acct.balance
        assert_conserved(self.ex)
        need: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for uid in self.users:
            for o in self.ex.orders(uid, status="active"):
                need[(uid, o.hold_currency)] += o.hold
            for o in self.ex.orders(uid, status="done"):
                assert o.hold == 0 and not o.in_book
        for uid in self.users:
            for acct in self.ex.balances(uid, AccountType.TRADE):
                assert acct.holds == need.get((uid, acct.currency), D(0))

    @invariant()
    def every_fill_on_both_sides(self) -> None:
        by_trade = defaultdict(list)
        for fill in self.ex.registry.all_fills():
            by_trade[fill.trade_id].append(fill)
        for fills in by_trade.values():
            assert len(fills) == 2
            a, b = fills
            assert {a.liquidity, b.liquidity} == {Liquidity.MAKER, Liquidity.TAKER}
            assert a.side is not b.side and (a.price, a.size) == (b.price, b.size)
            assert a.order_id == b.counter_order_id and b.order_id == a.counter_order_id

    @invariant()
    def fok_all_or_nothing_and_sizes_add_up(self) -> None:
        for oid in self.fok_ids:
            o = self.ex.registry.get(oid)
            assert o is not None and not o.active and o.deal_size in (0, o.size)
        for uid in self.users:
            for o in self.ex.orders(uid):
                if o.size is not None:
                    assert o.deal_size + o.cancelled_size + o.remaining == o.size


EngineMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineMachine = EngineMachine.TestCase
