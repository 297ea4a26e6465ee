"""The facade's rate budgets, pure: a refused request debits nothing, a window refills after
30 s, budgets are per (who, pool), and the table of budgets stays bounded."""

from __future__ import annotations

from kcgateway.gateway.facade.ratelimit import FacadeLimits
from kcgateway.kucoin.endpoints import Pool
from kcgateway.kucoin.ratelimit import WINDOW_MS

T0 = 1_000_000


def test_a_budget_is_debited_refuses_without_debiting_and_refills() -> None:
    limits = FacadeLimits(dict.fromkeys(Pool, 10))
    first = limits.charge("k1", Pool.SPOT, 4, T0)
    assert (first.admitted, first.limit, first.remaining, first.reset_ms) == (
        True, 10, 6, WINDOW_MS)  # fmt: skip
    assert first.headers() == {"gw-ratelimit-limit": "10", "gw-ratelimit-remaining": "6",
                               "gw-ratelimit-reset": str(WINDOW_MS)}  # fmt: skip
    assert limits.charge("k1", Pool.SPOT, 6, T0 + 1000).remaining == 0
    refused = limits.charge("k1", Pool.SPOT, 1, T0 + 2000)
    assert (refused.admitted, refused.remaining, refused.reset_ms) == (False, 0, WINDOW_MS - 2000)
    assert limits.charge("k1", Pool.FUTURES, 1, T0 + 2000).admitted  # another pool
    assert limits.charge("k2", Pool.SPOT, 10, T0 + 2000).admitted  # another key
    again = limits.charge("k1", Pool.SPOT, 3, T0 + WINDOW_MS)
    assert (again.admitted, again.remaining) == (True, 7)


def test_the_table_of_budgets_stays_bounded() -> None:
    limits = FacadeLimits(dict.fromkeys(Pool, 10), max_budgets=3)
    for who in ("a", "b", "c"):
        limits.charge(who, Pool.PUBLIC, 1, T0)
    limits.charge("d", Pool.PUBLIC, 1, T0)  # nothing idle: the oldest goes
    assert limits.charge("a", Pool.PUBLIC, 1, T0).remaining == 9  # "a" started afresh
    assert limits.charge("d", Pool.PUBLIC, 1, T0).remaining == 8
    assert "budgets=3" in repr(limits)
