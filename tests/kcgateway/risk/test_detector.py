"""The stolen-key detector: each signal, its threshold, its evidence and its actions."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from kcgateway.risk import (
    Action,
    ActionKind,
    Book,
    Level,
    Limits,
    MarketKind,
    MarketView,
    OrderType,
    Position,
    ProposedOrder,
    RecentOrder,
    Side,
    TradingState,
    coordinated_buys,
)
from kcgateway.risk.detector import holdings_dump, holdings_value, pump_buy
from tests.kcgateway.risk.builders import NOW, RULES, account, activity, check, market, order, st

D = Decimal
DAY = 86_400_000
THIN_LIMITS = Limits(thin_symbol_allow=frozenset({"VIA-USDT"}))


def thin_market(**kw: object) -> MarketView:
    rules = replace(RULES, symbol="VIA-USDT", base="VIA", price_increment=D("0.0001"))
    base: dict[str, object] = {
        "symbol": "VIA-USDT",
        "rules": st(rules),
        "best_bid": st(D("1.15")),
        "best_ask": st(D("1.2")),
        "last_price": st(D("1.18")),
        "book": st(Book(bids=((D("1.15"), D(500)),), asks=((D("1.2"), D(500)),))),
        "volume_24h": st(D(50_000)),
        "volume_rank": st(900),
        "baseline_price": st(D(1)),
    }
    base.update(kw)
    return market(**base)


def via_buy(**kw: object) -> ProposedOrder:
    base: dict[str, object] = {"symbol": "VIA-USDT", "price": D("1.2"), "size": D(100)}
    base.update(kw)
    return order(**base)


SMALL = D(120)


def flow(account_id: str, at: int, *, side: Side = Side.BUY, tenant: str = "t1",
         symbol: str = "VIA-USDT", notional: Decimal = SMALL,
         market_: MarketKind = MarketKind.SPOT) -> RecentOrder:  # fmt: skip
    return RecentOrder(tenant, account_id, "k-" + account_id, symbol, side, OrderType.LIMIT,
                       D("1.2"), D(100), None, notional, at, market_)  # fmt: skip


# dormant key and new IP


def test_dormant_key_alone_alerts() -> None:
    d = check(act=activity(key_last_used_ms=NOW - 8 * DAY))
    assert d.allowed
    (signal,) = d.signals
    assert signal.code == "risk.detector.dormant_key"
    assert signal.message == (
        "key k1 was unused for 8 days and trades again; the threshold is 7 days"
    )
    assert signal.actions == (Action(ActionKind.ALERT),)
    assert signal.orders[0].at_ms == NOW


def test_new_ip_alone_alerts() -> None:
    d = check(act=activity(source_ip="203.0.113.9"))
    assert d.allowed
    assert [s.code for s in d.signals] == ["risk.detector.new_ip"]
    assert "key k1 trades from 203.0.113.9, an address it never used (known: 10.0.0.1)" in (
        d.signals[0].message
    )


def test_dormant_key_from_a_new_ip_halts_the_key() -> None:
    d = check(act=activity(key_last_used_ms=NOW - 30 * DAY, source_ip="203.0.113.9"))
    assert not d.allowed
    assert d.codes == ("risk.detector.dormant_key", "risk.detector.new_ip")
    assert {c.level for c in d.state_changes} == {Level.KEY}
    assert all(c.state is TradingState.HALTED and c.target == "k1" for c in d.state_changes)


def test_no_key_signal_for_fresh_or_first_use() -> None:
    assert check(act=activity(key_last_used_ms=NOW - 7 * DAY + 1)).signals == ()
    assert check(act=activity(key_last_used_ms=None, key_known_ips=frozenset())).signals == ()
    assert check(act=activity(source_ip=None)).signals == ()


# holdings dump


def test_holdings_dump_halts_the_account() -> None:
    # 30,000 already sold in the window; 10,000 held now; this sell of 6,695 -> 36,695 of 40,000
    earlier = (flow("acc1", NOW - 60_000, side=Side.SELL, symbol="BTC-USDT", notional=D(30_000)),)
    a = account(positions=st({"BTC": Position(D("0.15"), D(10_000))}))
    d = check(order(side=Side.SELL), a=a, act=activity(recent_orders=earlier))
    assert not d.allowed
    assert d.codes == ("risk.detector.holdings_dump",)
    (signal,) = d.signals
    assert signal.message == (
        "account acc1 would sell 36,695 of its 40,000 holdings (91.7%) within 120.0 s; the "
        "threshold is 80%"
    )
    assert signal.orders[0] == earlier[0] and signal.orders[-1].at_ms == NOW
    assert signal.actions == (Action(ActionKind.HALT_ACCOUNT, "acc1"), Action(ActionKind.ALERT))
    assert d.state_changes[0].level is Level.ACCOUNT


def test_holdings_dump_thresholds() -> None:
    mine = flow("acc1", NOW, side=Side.SELL, notional=D(79))
    assert holdings_dump(mine, (), D(100), Limits(), NOW) is None  # 79% < 80%
    assert holdings_dump(replace(mine, notional=D(80)), (), D(100), Limits(), NOW) is not None
    assert holdings_dump(replace(mine, notional=D(99)), (), D(99), Limits(), NOW) is None  # dust
    old = flow("acc1", NOW - 120_000, side=Side.SELL, notional=D(1000))  # outside the window
    other = flow("acc2", NOW - 1, side=Side.SELL, notional=D(1000))  # another account
    fut = flow("acc1", NOW - 1, side=Side.SELL, notional=D(1000), market_=MarketKind.FUTURES)
    assert holdings_dump(mine, (old, other, fut), D(100), Limits(), NOW) is None
    assert holdings_dump(replace(mine, side=Side.BUY), (), D(1), Limits(), NOW) is None
    futures = replace(mine, market=MarketKind.FUTURES)
    assert holdings_dump(futures, (), D(100), Limits(), NOW) is None


def test_holdings_value_counts_spot_and_margin_longs() -> None:
    positions = {
        "BTC": Position(D(1), D(60_000)),
        "ETH": Position(D(-2), D(6_000), MarketKind.MARGIN),
        "XBTUSDTM": Position(D(5), D(300), MarketKind.FUTURES),
        "SOL": Position(D(10), D(1_500), MarketKind.MARGIN),
    }
    assert holdings_value(positions) == D(61_500)


# pump buy


def test_pump_buy_of_a_thin_symbol_halts_the_account() -> None:
    d = check(via_buy(), m=thin_market(), limits=THIN_LIMITS)
    assert d.codes == ("risk.detector.pump_buy",)
    assert d.signals[0].message == (
        "account acc1 buys thin VIA-USDT at 1.2, 20.0% above its baseline 1; the threshold is 10%"
    )
    assert d.signals[0].figures == (("price", "1.2"), ("baseline", "1"))


def test_pump_buy_thresholds() -> None:
    assert check(via_buy(), m=thin_market(baseline_price=st(D("1.1"))), limits=THIN_LIMITS).allowed
    liquid = thin_market(volume_24h=st(D(10**9)), volume_rank=st(3))
    assert check(via_buy(), m=liquid).allowed  # a liquid symbol is not a pump target
    sell = via_buy(side=Side.SELL, price=D("1.15"))
    a = account(positions=st({"VIA": Position(D(10_000), D(11_500))}))
    assert check(sell, m=thin_market(), a=a, limits=THIN_LIMITS).allowed


def test_pump_buy_function_ignores_sells_and_liquid_symbols() -> None:
    buy = flow("acc1", NOW)
    assert pump_buy(buy, D(2), D(1), True, Limits()) is not None
    assert pump_buy(buy, D(2), D(1), False, Limits()) is None
    assert pump_buy(replace(buy, side=Side.SELL), D(2), D(1), True, Limits()) is None


def test_pump_buy_market_order_uses_the_worst_fill() -> None:
    o = via_buy(order_type=OrderType.MARKET, price=None, size=D(100))
    d = check(o, m=thin_market(), limits=THIN_LIMITS)
    assert "risk.detector.pump_buy" in d.codes


def test_thin_buy_without_allow_listing_is_denied_and_signalled() -> None:
    d = check(via_buy(), m=thin_market())
    assert d.codes == ("risk.detector.pump_buy", "risk.thin_symbol")


# coordinated buying


def test_coordinated_buying_in_one_tenant_halts_all_and_blocks_the_symbol() -> None:
    others = (flow("acc2", NOW - 30_000), flow("acc3", NOW - 10_000))
    d = check(via_buy(), m=thin_market(baseline_price=st(D("1.19"))), limits=THIN_LIMITS,
              act=activity(symbol_buys=others))  # fmt: skip
    assert d.codes == ("risk.detector.coordinated_buy",)
    (signal,) = d.signals
    assert signal.message == (
        "3 accounts of tenant t1 bought (or tried to buy) thin VIA-USDT within 30.0 s; "
        "the threshold is 3 accounts within 120.0 s"
    )
    assert Action(ActionKind.BLOCK_SYMBOL, "VIA-USDT") in signal.actions
    assert {a.target for a in signal.actions if a.kind is ActionKind.HALT_ACCOUNT} == {
        "acc1", "acc2", "acc3"}  # fmt: skip
    assert [c.target for c in d.state_changes] == ["acc1"]  # this order's account
    assert len(signal.orders) == 3


def test_coordinated_buying_gateway_wide() -> None:
    buys = [flow(f"a{i}", NOW - i * 1000, tenant=f"t{i}") for i in range(5)]
    (signal,) = coordinated_buys(buys, {"VIA-USDT"}, Limits(), NOW)
    assert "5 accounts of the gateway bought (or tried to buy) thin VIA-USDT" in signal.message
    assert coordinated_buys(buys[:4], {"VIA-USDT"}, Limits(), NOW) == ()


def test_coordinated_buying_ignores_old_sells_and_liquid_symbols() -> None:
    buys = [flow("a1", NOW - 1), flow("a2", NOW - 2)]
    assert coordinated_buys([*buys, flow("a3", NOW - 120_000)], {"VIA-USDT"}, Limits(), NOW) == ()
    assert coordinated_buys([*buys, flow("a3", NOW, side=Side.SELL)], {"VIA-USDT"}, Limits(),
                            NOW) == ()  # fmt: skip
    assert coordinated_buys([*buys, flow("a3", NOW)], {"BTC-USDT"}, Limits(), NOW) == ()
    (signal,) = coordinated_buys([*buys, flow("a3", NOW)], {"VIA-USDT"}, Limits(), NOW)
    assert signal.halts("a3") and not signal.halts("a4")


def test_detector_off() -> None:
    limits = Limits(check_detector=False, thin_symbol_allow=frozenset({"VIA-USDT"}))
    d = check(via_buy(), m=thin_market(baseline_price=None), limits=limits,
              act=activity(key_last_used_ms=NOW - 30 * DAY, source_ip="203.0.113.9"))  # fmt: skip
    assert d.allowed and d.signals == ()
