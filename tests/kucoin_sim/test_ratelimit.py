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
