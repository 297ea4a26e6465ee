"""Two gateway instances on one PostgreSQL database and the simulator: each account is
reconciled and streamed by exactly one of them, and a graceful stop hands its accounts over.

Each instance is a whole :class:`GatewayServices` (``build_services``) with its own engine, as
two processes would have; both reach the same in-process simulator.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kcgateway.gateway.services import GatewayServices
from kcgateway.main import build_services
from kcgateway.secret import Secret
from kcgateway.settings import Settings
from kcgateway.store.database import open_database
from kcgateway.store.tables import OrderIntent
from tests.helpers.gateway import auth, gateway_stack, order_body, stack_limits, warm_risk

ACCOUNTS = 4


async def _until(predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            done = predicate()
            if done if isinstance(done, bool) else await done:
                return
            await asyncio.sleep(0.05)


def _quick(services: GatewayServices, looked_up: set[str]) -> None:
    """Short lease ticks, a reconciliation pass (with the open refresh) every 0.2 s, and every
    exchange lookup of an intent recorded by account."""
    assert services.leases is not None
    services.leases.tick_s = 0.2
    services.reconcile_every_s = 0.2
    services.adopt_every_passes = 1
    intents = services.orders.intents
    look_up = intents.look_up

    async def recorded(row: OrderIntent) -> Any:
        looked_up.add(row.account_id)
        return await look_up(row)

    intents.look_up = recorded  # type: ignore[method-assign]


def _streams(services: GatewayServices) -> set[str]:
    assert services.events is not None
    return set(services.events.streams)


def _stale(services: GatewayServices) -> float:
    return float(services.metrics.stale_epoch_writes._value.get())


@pytest.mark.parametrize(
    "fresh_db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_two_instances_reconcile_each_account_exactly_once(
    tmp_path: Path, fresh_db_url: str
) -> None:
    async with gateway_stack(tmp_path, db=open_database(fresh_db_url)) as stack:
        a = stack.services
        accounts = []
        for i in range(ACCOUNTS):
            tenant = await stack.add_tenant(f"t{i}")
            await warm_risk(stack, tenant.id, tenant.account_id)
            body = order_body("main", price="30000", size="0.001")  # rests: far below the market
            resp = await stack.http.post("/v1/orders", json=body, headers=auth(tenant.admin_key))
            assert resp.status_code == 201, resp.text
            accounts.append(tenant.account_id)
        settings = Settings(data_dir=tmp_path / "b", instance_id="gw-b", exchange_timeout_s=2.0)
        b = build_services(
            settings, open_database(fresh_db_url), stack.ring, Secret(secrets.token_hex(32)),  # type: ignore[arg-type]
            stack.sim.hosts, risk_limits=stack_limits(),
        )  # fmt: skip
        seen_a: set[str] = set()
        seen_b: set[str] = set()
        _quick(a, seen_a)
        _quick(b, seen_b)
        assert a.leases is not None and b.leases is not None
        closed = False
        try:
            await a.join()
            assert set(a.leases.owned()) == set(accounts)  # alone: it owns every account
            await b.join()
            a.start()
            b.start()
            await _until(lambda: len(a.leases.owned()) == len(b.leases.owned()) == 2)
            owned_a, owned_b = set(a.leases.owned()), set(b.leases.owned())
            assert owned_a | owned_b == set(accounts) and not owned_a & owned_b
            # what only one instance may record (position events, equity samples): its holder's
            assert all(a.owns(acc) != b.owns(acc) for acc in accounts)
            assert {acc for acc in accounts if a.owns(acc)} == owned_a
            await _until(lambda: _streams(a) == owned_a and _streams(b) == owned_b)

            seen_a.clear()
            seen_b.clear()
            await _until(lambda: seen_a == owned_a and seen_b == owned_b)
            await asyncio.sleep(1.0)  # several more passes of both: still nobody else's
            assert seen_a == owned_a and seen_b == owned_b
            assert a.cluster_view() == {"instance_id": a.instance_id, "leases_owned": 2}
            resp = await stack.http.get("/readyz")
            assert resp.json()["leases_owned"] == 2 and resp.json()["instance_id"] == a.instance_id
            exposition = await a.refresh_metrics()
            assert b"kcgw_leases_owned 2.0" in exposition
            assert b"kcgw_stale_epoch_writes_total 0.0" in exposition

            closed = True
            await b.aclose()  # graceful: b's accounts are handed over at once
            await _until(lambda: set(a.leases.owned()) == set(accounts))
            await _until(lambda: _streams(a) == set(accounts))
            seen_a.clear()
            await _until(lambda: seen_a == set(accounts))
            assert _stale(a) == 0 and _stale(b) == 0  # nobody wrote under a moved lease
            async with a.db.read() as session:
                stored = await session.execute(OrderIntent.__table__.select())
                assert len(stored.all()) == ACCOUNTS  # nothing doubled, nothing adopted
        finally:
            if not closed:
                await b.aclose()
