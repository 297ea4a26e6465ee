"""Issue #19's rate-budget test at reduced size: three instances share one UID's quota.

Three client stacks, each with its own SharedBudgets (own Redis connections), offer twice the
quota of one UID to the simulator for a few 2 s windows of a 200-weight spot pool; the
simulator's own count of every window must show at most 80% of the quota used and at most
0.1% of the calls answered 429. ``scripts/rate_budget_soak.py`` runs the same at full size.
"""

from __future__ import annotations

import pytest
from scripts.rate_budget_soak import run_soak

from tests.helpers.redis import REDIS_URL, redis_prefix  # noqa: F401
from tests.kucoin_sim.harness import running_sim

from .sim_client import hosts

pytestmark = pytest.mark.redis


async def test_three_instances_at_twice_the_quota_stay_within_80_percent(
    redis_prefix: str,  # noqa: F811
) -> None:
    async with running_sim() as sim:
        result = await run_soak(
            REDIS_URL, hosts(sim), instances=3, quota=200, window_ms=2_000, duration_s=7.0,
            prefix=redis_prefix,
        )  # fmt: skip
    assert result["windows"] >= 3, result
    assert result["offered"] >= 1.5 * result["calls"], result  # the demand exceeded the quota
    assert result["max_window_share"] <= 0.8, result
    assert result["refused_429"] <= 0.001 * result["calls"], result
    assert result["mean_window_share"] >= 0.5, result  # the budget was used, not just refused
    assert result["met"]
