"""Bounded history: done orders and fills are pruned by count and age (issue 12, finding 13).

Before :class:`Retention` every done order and fill was kept forever, so a long run grew without
bound; these tests fail on that code (nothing is ever pruned).
"""

from __future__ import annotations

import pytest

from kucoin_sim.engine import Exchange, OrderRequest, OrderType, Retention, Side
from kucoin_sim.engine.config import ConfigError, load
from tests.kucoin_sim.engine.helpers import SPEC, T0, D, user

HOUR_MS = 3_600_000


def _round_trip(ex: Exchange, maker: str, taker: str, now: int, oid: str) -> tuple[str, str]:
    """A resting sell taken by a buy: two done orders, two fills."""
    sell = OrderRequest(maker, "BTC-USDT", Side.SELL, price=D(100), size=D("0.01"), client_oid=oid)
    resting = ex.place(sell, now)
    buy = OrderRequest(taker, "BTC-USDT", Side.BUY, OrderType.MARKET, size=D("0.01"))
    taking = ex.place(buy, now)
    return resting.id, taking.id


def test_memory_stays_bounded_over_many_orders_and_recent_history_is_served() -> None:
    ex = Exchange([SPEC], seed=1, retention=Retention(done_orders=50, fills=40, max_age_ms=0))
    maker, taker = user(ex), user(ex)
    ids = [_round_trip(ex, maker, taker, T0 + i, f"oid-{i}") for i in range(1000)]
    sizes = ex.registry.sizes()
    assert sizes == {"orders": 100, "doneOrders": 100, "fills": 80}  # 2 users x the limits
    first_sell, first_buy = ids[0]
    assert ex.get(maker, first_sell) is None and ex.get(taker, first_buy) is None
    assert ex.get_by_client_oid(maker, "oid-0") is None
    last_sell, last_buy = ids[-1]
    assert ex.get(maker, last_sell) is not None
    assert ex.get_by_client_oid(maker, "oid-999") is not None
    done = ex.orders(maker, status="done")
    assert [o.id for o in done] == [sell for sell, _ in reversed(ids[-50:])]  # newest first
    fills = ex.fills(taker)
    assert len(fills) == 40 and fills[0].order_id == last_buy


def test_done_orders_and_fills_older_than_the_age_limit_go_when_time_passes() -> None:
    ex = Exchange([SPEC], seed=1, retention=Retention(max_age_ms=HOUR_MS))
    maker, taker = user(ex), user(ex)
    old = _round_trip(ex, maker, taker, T0, "old")
    new = _round_trip(ex, maker, taker, T0 + HOUR_MS // 2, "new")
    resting = ex.place(OrderRequest(maker, "BTC-USDT", Side.SELL, price=D(200), size=D("0.01")), T0)
    ex.tick(T0 + HOUR_MS + 1)  # the caller's time: the first round trip is now too old
    assert ex.get(maker, old[0]) is None and ex.get(taker, old[1]) is None
    assert ex.get(maker, new[0]) is not None
    assert [f.order_id for f in ex.fills(taker)] == [new[1]]
    assert ex.get(maker, resting.id) is not None  # active orders are never pruned
    ex.tick(T0 + 2 * HOUR_MS)
    assert ex.fills(taker) == [] and ex.orders(maker, status="done") == []
    assert [o.id for o in ex.orders(maker, status="active")] == [resting.id]


def test_defaults_follow_kucoin_windows_and_config_loads_the_table() -> None:
    assert Retention() == Retention(done_orders=10_000, fills=10_000, max_age_ms=7 * 24 * HOUR_MS)
    cfg = load({"retention": {"done_orders": 5, "fills": 6, "max_age_ms": 0}})
    assert cfg.retention == Retention(5, 6, 0)
    with pytest.raises(ConfigError, match="retention"):
        load({"retention": {"done_orders": -1}})
    with pytest.raises(ConfigError, match="unknown key"):
        load({"retention": {"orders": 1}})
