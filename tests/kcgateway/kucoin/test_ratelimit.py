from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcgateway.kucoin.endpoints import ENDPOINTS, Pool
from kcgateway.kucoin.ratelimit import (
    VIP0_QUOTAS,
    WINDOW_MS,
    PoolBudget,
    RateLimiter,
    vip_quotas,
)


def test_vip0_quotas() -> None:
    assert dict(VIP0_QUOTAS) == {
        Pool.SPOT: 4000,
        Pool.FUTURES: 2000,
        Pool.MANAGEMENT: 2000,
        Pool.PUBLIC: 2000,
        Pool.BROKER: 2000,
        Pool.EARN: 2000,
    }


def test_vip_levels() -> None:
    assert vip_quotas(12)[Pool.SPOT] == 40000
    assert vip_quotas(12)[Pool.FUTURES] == vip_quotas(12)[Pool.MANAGEMENT] == 20000
    assert vip_quotas(3)[Pool.PUBLIC] == 2000
    for bad in (-1, 13):
        with pytest.raises(ValueError, match="VIP level"):
            vip_quotas(bad)


@pytest.mark.parametrize(("limit", "share"), [(0, 0.8), (-5, 0.8), (100, 0.0), (100, 1.5)])
def test_budget_rejects_bad_configuration(limit: int, share: float) -> None:
    with pytest.raises(ValueError):
        PoolBudget(limit, share=share)


def test_ordinary_requests_stop_at_the_share_cancels_use_the_headroom() -> None:
    b = PoolBudget(100)  # soft limit 80
    assert b.soft_limit == 80
    assert b.reserve(50, 1_000) == 0
    assert b.reserve(30, 1_000) == 0
    assert b.used == 80
    # 81 > 80: wait until the window that started at t=1000 ends
    assert b.reserve(1, 2_000) == 1_000 + WINDOW_MS - 2_000
    assert b.used == 80
    assert b.reserve(20, 2_000, priority=True) == 0
    assert b.reserve(1, 2_000, priority=True) == 29_000
    assert b.remaining(2_000) == 0


def test_window_starts_at_first_request_and_refills() -> None:
    b = PoolBudget(10, share=1.0)
    assert b.reserve(10, 5_000) == 0
    assert b.reserve(1, 34_999) == 1
    assert b.reserve(1, 35_000) == 0  # new window
    assert b.used == 1
    assert b.window_end_ms == 35_000 + WINDOW_MS


def test_oversized_requests_run_alone() -> None:
    b = PoolBudget(100)  # soft limit 80
    assert b.reserve(90, 0) == 0  # heavier than the share: admitted alone in an empty window
    assert b.reserve(1, 0, priority=True) == 0
    assert b.reserve(1, 0) == WINDOW_MS
    assert b.reserve(150, WINDOW_MS, priority=True) == 0  # heavier than the whole limit
    assert b.used == 150
    assert b.remaining(WINDOW_MS) == 0
    with pytest.raises(ValueError, match="negative"):
        b.reserve(-1, 0)


def test_zero_weight_is_free() -> None:
    b = PoolBudget(10)
    assert b.reserve(0, 0) == 0
    assert b.used == 0 and b.window_end_ms is None


def test_observe_learns_limit_and_server_usage() -> None:
    b = PoolBudget(4000)
    b.observe(limit=2000, remaining=500, reset_ms=12_000, now_ms=1_000)
    assert b.limit == 2000
    assert b.used == 1500
    assert b.window_end_ms == 13_000
    assert b.reserve(101, 1_000) == 12_000  # 1500 + 101 > 1600 soft limit
    assert b.reserve(101, 1_000, priority=True) == 0
    assert b.remaining(1_000) == 399
    assert b.remaining(13_000) == 2000


def test_observe_never_lowers_local_usage_within_a_window() -> None:
    b = PoolBudget(100)
    assert b.reserve(60, 0) == 0
    b.observe(limit=100, remaining=90, reset_ms=20_000, now_ms=10)  # server has not seen them yet
    assert b.used == 60
    assert b.window_end_ms == 20_010  # the server's window timing wins


def test_observe_with_an_idle_pool_keeps_no_window() -> None:
    b = PoolBudget(100)
    b.observe(limit=0, remaining=100, reset_ms=-5, now_ms=0)  # nonsense limit ignored
    assert (b.limit, b.used, b.window_end_ms) == (100, 0, None)
    b.observe(limit=100, remaining=200, reset_ms=5, now_ms=0)  # remaining > limit clamps to 0
    assert b.used == 0


def test_rate_limited_blocks_everything_until_reset() -> None:
    b = PoolBudget(100)
    b.on_rate_limited(1_500, now_ms=10_000)
    assert b.remaining(10_000) == 0
    assert b.reserve(1, 10_000) == 1_500
    assert b.reserve(1, 10_000, priority=True) == 1_500
    assert b.reserve(1, 11_499, priority=True) == 1
    assert b.reserve(1, 11_500) == 0
    assert b.blocked_until_ms is None


def test_rate_limited_without_reset_waits_for_the_window() -> None:
    b = PoolBudget(100)
    b.on_rate_limited(None, now_ms=0)
    assert b.reserve(1, 0) == WINDOW_MS
    b2 = PoolBudget(100)
    assert b2.reserve(10, 0) == 0
    b2.on_rate_limited(None, now_ms=7_000)
    assert b2.reserve(1, 7_000, priority=True) == WINDOW_MS - 7_000
    b3 = PoolBudget(100)
    b3.on_rate_limited(0, now_ms=0)  # a zero reset still blocks for 1 ms
    assert b3.reserve(1, 0) == 1


def test_limiter_delegates_per_pool() -> None:
    lim = RateLimiter(share=0.5)
    place = ENDPOINTS["futures.place"]
    cancel = ENDPOINTS["futures.cancel_by_id"]
    for _ in range(500):  # 500 * 2 = 1000 = 50% of 2000
        assert lim.reserve_for(place, 0) == 0
    assert lim.reserve_for(place, 0) == WINDOW_MS
    assert lim.reserve_for(cancel, 0) == 0  # cancels still pass
    assert lim.remaining(Pool.FUTURES, 0) == 999
    assert lim.remaining(Pool.SPOT, 0) == 4000  # other pools untouched
    lim.observe(Pool.SPOT, 4000, 100, 3_000, 0)
    assert lim.budget(Pool.SPOT).used == 3900
    lim.on_rate_limited(Pool.PUBLIC, 2_000, 0)
    assert lim.reserve(Pool.PUBLIC, 1, 0) == 2_000


ops = st.lists(
    st.tuples(
        st.sampled_from(["reserve", "observe", "limited"]),
        st.integers(0, 120),  # weight or remaining
        st.integers(0, 40_000),  # time step
        st.booleans(),  # priority
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(ops, st.sampled_from([0.5, 0.8, 1.0]))
def test_invariants_under_random_traffic(
    steps: list[tuple[str, int, int, bool]], share: float
) -> None:
    b = PoolBudget(100, share=share)
    now = 0
    for kind, n, dt, priority in steps:
        now += dt
        if kind == "observe":
            b.observe(100, n, dt, now)
            continue
        if kind == "limited":
            b.on_rate_limited(dt if priority else None, now)
            continue
        weight = min(n, b.soft_limit)
        before = b.used
        blocked = b.blocked_until_ms is not None and now < b.blocked_until_ms
        rolled = b.window_end_ms is not None and now >= b.window_end_ms
        base = 0 if rolled else before
        wait = b.reserve(weight, now, priority=priority)
        assert wait >= 0
        if wait:
            assert b.used == base  # nothing debited
        else:
            assert not blocked
            assert b.used == base + weight
            assert b.used <= (b.limit if priority else b.soft_limit) or before > b.soft_limit
        if priority and not blocked and base + weight <= b.limit:
            assert wait == 0  # a cancel is admitted whenever headroom remains
        if not priority and base + weight > b.soft_limit:
            assert wait > 0  # ordinary traffic never crosses the share


def test_public_budget_can_be_shared_between_accounts() -> None:
    public = PoolBudget(100)
    alice = RateLimiter(shared={Pool.PUBLIC: public})
    bob = RateLimiter(shared={Pool.PUBLIC: public})
    assert alice.budget(Pool.PUBLIC) is bob.budget(Pool.PUBLIC) is public
    assert alice.budget(Pool.SPOT) is not bob.budget(Pool.SPOT)
    assert alice.reserve(Pool.PUBLIC, 80, 0) == 0
    assert bob.reserve(Pool.PUBLIC, 1, 0) == WINDOW_MS  # the IP's budget is spent
    assert bob.reserve(Pool.SPOT, 1, 0) == 0
