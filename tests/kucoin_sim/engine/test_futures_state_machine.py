"""Random futures orders across a few users: positions net to zero, margin and money add up."""

from __future__ import annotations

from decimal import Decimal

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from kucoin_sim.engine import (
    DEFAULT_CONTRACTS,
    AccountType,
    EngineError,
    Exchange,
    OrderRequest,
    OrderType,
    Side,
    Stp,
    TimeInForce,
)
from tests.kucoin_sim.engine.helpers import T0, assert_conserved

D = Decimal
SYM = "XBTUSDTM"
prices = st.integers(min_value=2990, max_value=3010).map(lambda p: D(p) * 10)
lots = st.integers(min_value=1, max_value=20).map(D)
sides = st.sampled_from([Side.BUY, Side.SELL])
leverages = st.sampled_from([D(1), D(2), D(3), D(7), D(20)])


class FuturesMachine(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 1000))
    def setup(self, seed: int) -> None:
        self.ex = Exchange([], DEFAULT_CONTRACTS, seed=seed)
        self.users = []
        for _ in range(3):
            uid = self.ex.create_user()
            self.ex.fund(uid, AccountType.FUTURES, "USDT", D(5000), T0)
            self.users.append(uid)
        self.now = T0

    def _place(self, req: OrderRequest) -> None:
        self.now += 1
        try:
            self.ex.place(req, self.now)
        except EngineError as exc:
            assert exc.code in {"200004", "300000"}, exc

    @rule(
        u=st.integers(0, 2),
        side=sides,
        price=prices,
        size=lots,
        lev=leverages,
        tif=st.sampled_from(list(TimeInForce)[:3]),
        reduce=st.booleans(),
        stp=st.sampled_from([None, Stp.CN, Stp.CO, Stp.DC]),
    )
    def limit(
        self,
        u: int,
        side: Side,
        price: Decimal,
        size: Decimal,
        lev: Decimal,
        tif: TimeInForce,
        reduce: bool,
        stp: Stp | None,
    ) -> None:
        self._place(
            OrderRequest(
                self.users[u],
                SYM,
                side,
                price=price,
                size=size,
                leverage=lev,
                tif=tif,
                reduce_only=reduce,
                stp=stp,
                cancel_after_s=2 if tif is TimeInForce.GTT else None,
            )
        )

    @rule(u=st.integers(0, 2), side=sides, size=lots, lev=leverages)
    def market(self, u: int, side: Side, size: Decimal, lev: Decimal) -> None:
        self._place(
            OrderRequest(self.users[u], SYM, side, OrderType.MARKET, size=size, leverage=lev)
        )

    @rule(u=st.integers(0, 2))
    def close(self, u: int) -> None:
        self._place(OrderRequest(self.users[u], SYM, Side.BUY, OrderType.MARKET, close_order=True))

    @rule(u=st.integers(0, 2), pick=st.integers(0, 100))
    def cancel(self, u: int, pick: int) -> None:
        active = self.ex.orders(self.users[u], status="active")
        if active:
            self.ex.cancel(self.users[u], active[pick % len(active)].id, self.now)

    @rule(ms=st.integers(0, 3000))
    def advance(self, ms: int) -> None:
        self.now += ms
        self.ex.expire(self.now)

    @invariant()
    def positions_net_to_zero_and_book_not_crossed(self) -> None:
        assert sum((p.qty for p in self.ex.futures.positions.values()), D(0)) == 0
        book = self.ex.markets[SYM].book
        bid, ask = book.bids.best(), book.asks.best()
        if bid is not None and ask is not None:
            assert bid.price < ask.price

    @invariant()
    def money_and_margins_add_up(self) -> None:
        assert_conserved(self.ex)
        for uid in self.users:
            (acct,) = self.ex.balances(uid, AccountType.FUTURES, "USDT")
            orders = sum((o.hold for o in self.ex.orders(uid, status="active")), D(0))
            margin = sum(
                (p.margin for (owner, _), p in self.ex.futures.positions.items() if owner == uid),
                D(0),
            )
            assert acct.holds == orders + margin
            assert all(o.hold >= 0 for o in self.ex.orders(uid, status="active"))
            for (owner, _), p in self.ex.futures.positions.items():
                if owner == uid:
                    assert p.margin >= 0 and (p.qty != 0 or p.margin == 0)


FuturesMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestFuturesMachine = FuturesMachine.TestCase
