from __future__ import annotations

from kucoin_sim.ratelimit import Pool, RateLimiter


def test_pool_drains_then_resets_after_the_window() -> None:
    limiter = RateLimiter({Pool.SPOT: 10})
    first = limiter.charge(Pool.SPOT, "u1", 4, 1_000)
    assert (first.allowed, first.limit, first.remaining, first.reset_ms) == (True, 10, 6, 30_000)
    assert limiter.charge(Pool.SPOT, "u1", 6, 2_000).remaining == 0
    refused = limiter.charge(Pool.SPOT, "u1", 1, 3_000)
    assert (refused.allowed, refused.remaining, refused.reset_ms) == (False, 0, 28_000)
    assert refused.headers() == {
        "gw-ratelimit-limit": "10",
        "gw-ratelimit-remaining": "0",
        "gw-ratelimit-reset": "28000",
    }
    again = limiter.charge(Pool.SPOT, "u1", 1, 31_000)
    assert (again.allowed, again.remaining, again.reset_ms) == (True, 9, 30_000)


def test_subjects_and_pools_are_independent() -> None:
    limiter = RateLimiter({Pool.SPOT: 5, Pool.PUBLIC: 5})
    assert limiter.charge(Pool.SPOT, "u1", 5, 0).allowed
    assert not limiter.charge(Pool.SPOT, "u1", 1, 0).allowed
    assert limiter.charge(Pool.SPOT, "u2", 5, 0).allowed
    assert limiter.charge(Pool.PUBLIC, "u1", 5, 0).allowed
    limiter.reset()
    assert limiter.charge(Pool.SPOT, "u1", 5, 0).allowed


def test_a_refused_request_does_not_debit() -> None:
    limiter = RateLimiter({Pool.SPOT: 10})
    limiter.charge(Pool.SPOT, "u", 8, 0)
    assert not limiter.charge(Pool.SPOT, "u", 3, 0).allowed
    assert limiter.charge(Pool.SPOT, "u", 2, 0).remaining == 0


def test_each_window_counts_weight_calls_and_refusals() -> None:
    limiter = RateLimiter({Pool.SPOT: 10}, window_ms=1_000)
    limiter.charge(Pool.SPOT, "u", 6, 0)
    limiter.charge(Pool.SPOT, "u", 6, 10)  # refused: 12 > 10
    limiter.charge(Pool.SPOT, "u", 4, 20)
    limiter.charge(Pool.SPOT, "u", 0, 30)  # a peek debits nothing and is not a call
    limiter.charge(Pool.SPOT, "u", 3, 1_000)  # the next window
    limiter.charge(Pool.SPOT, "v", 1, 1_000)
    assert limiter.windows(Pool.SPOT, "u") == [
        {"pool": "spot", "subject": "u", "startMs": 0, "used": 10, "calls": 3, "refused": 1},
        {"pool": "spot", "subject": "u", "startMs": 1_000, "used": 3, "calls": 1, "refused": 0},
    ]
    assert [w["subject"] for w in limiter.windows(Pool.SPOT)] == ["u", "u", "v"]  # type: ignore[index]
    limiter.configure({Pool.SPOT: 20}, window_ms=500)
    assert limiter.windows() == []
    assert limiter.charge(Pool.SPOT, "u", 20, 2_000).reset_ms == 500
