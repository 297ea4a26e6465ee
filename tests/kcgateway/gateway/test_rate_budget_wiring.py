"""KCGW_REDIS_URL wires the shared rate budgets: per KuCoin UID, in /readyz and /metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from kcgateway.exchange.shared_budget import SharedBudget
from tests.helpers.gateway import gateway_stack
from tests.helpers.redis import REDIS_URL, TcpProxy, redis_prefix  # noqa: F401

pytestmark = pytest.mark.redis


def mode_gauge(metrics: str) -> dict[str, float]:
    return {
        line.split('"')[1]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("kcgw_rate_budget_mode{")
    }


async def test_accounts_share_their_uid_budget_and_health_says_the_mode(
    tmp_path: Path,
    redis_prefix: str,  # noqa: F811
) -> None:
    proxy = TcpProxy()
    await proxy.start()
    try:
        async with gateway_stack(tmp_path, redis_url=proxy.url) as stack:
            budgets = stack.services.rate_budgets
            assert budgets is not None
            budgets.prefix = redis_prefix  # this test's keys only
            stack.services.start()
            tenant = await stack.add_tenant("acme")
            venue = await stack.services.venues.for_account(tenant.account_id)
            budget = venue.client.budget
            assert isinstance(budget, SharedBudget)
            assert budget.key == f"uid:{tenant.sim_account['uid']}"  # KuCoin counts per UID
            await stack.services.balances(tenant.id, "main")  # spends the shared budget
            redis = Redis.from_url(REDIS_URL)
            try:
                keys = [k.decode() async for k in redis.scan_iter(match=redis_prefix + "*")]
            finally:
                await redis.aclose()
            assert f"{redis_prefix}{{uid:{tenant.sim_account['uid']}}}:management" in keys

            ready = (await stack.http.get("/readyz")).json()
            assert (ready["redis"], ready["rate_budget"]) == ("ok", "shared")
            metrics = (await stack.http.get("/metrics")).text
            assert mode_gauge(metrics) == {"shared": 1.0, "local_share": 0.0, "local": 0.0}

            await proxy.close()  # Redis gone: still ready, on a 1/N local share
            resp = await stack.http.get("/readyz")
            assert resp.status_code == 200, resp.text
            assert (resp.json()["redis"], resp.json()["rate_budget"]) == ("down", "local_share")
            metrics = (await stack.http.get("/metrics")).text
            assert mode_gauge(metrics)["local_share"] == 1.0
            await stack.services.balances(tenant.id, "main")  # served from the local share
            assert budget.local

            await proxy.start()
            ready = (await stack.http.get("/readyz")).json()
            assert (ready["redis"], ready["rate_budget"]) == ("ok", "shared")
    finally:
        await proxy.close()
