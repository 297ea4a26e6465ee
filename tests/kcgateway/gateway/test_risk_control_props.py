"""Property: any sequence of halt / reduce / resume calls leaves ``states_for`` equal to a model.

The model is a dictionary (level, target) -> state, ACTIVE when absent. After every call the
running service answers as the model does for every (tenant, account, key) combination, and at
the end a NEW service over the same database (a restart) answers the same: nothing is lost
or invented by persistence, the generation bookkeeping, or a concurrent second process.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcgateway.gateway.keys import Operator
from kcgateway.gateway.risk_control import RiskControl
from kcgateway.risk import TradingState, TradingStates
from kcgateway.risk.model import Level
from kcgateway.store.database import Database
from kcgateway.store.repositories import AccountRepository, TenantRepository
from kcgateway.store.tables import GatewayKey, RiskLimitRow, RiskStateRow
from tests.helpers.databases import sqlite_database

NOW = datetime(2026, 6, 1, tzinfo=UTC)
OPERATOR = Operator("prop")
Ids = dict[str, tuple[str, list[str], list[str]]]

#: one call: (which service: the gateway's or the CLI's), verb, level, index of the target
calls = st.lists(
    st.tuples(
        st.sampled_from(["gateway", "cli"]),
        st.sampled_from(["halt", "reduce", "resume"]),
        st.sampled_from(list(Level)),
        st.integers(0, 3),
    ),
    max_size=25,
)


async def _seed(db: Database) -> Ids:
    ids: Ids = {}
    async with db.write() as session:
        for name in ("a", "b"):
            tenant = await TenantRepository(session).add(name, now=NOW)
            accounts = [
                await AccountRepository(session).add(tenant, f"acc{i}", now=NOW) for i in range(2)
            ]
            keys = [f"k{name}{i}".ljust(12, "0") for i in range(2)]
            for key in keys:
                session.add(
                    GatewayKey(
                        key_id=key, tenant_id=tenant, owner="bot", secret_hmac=b"\0" * 32,
                        last4="abcd", scopes=["read"], ip_allowlist=[], created_at=NOW,
                    )
                )  # fmt: skip
            ids[name] = (tenant, accounts, keys)
    return ids


def _targets(ids: Ids, level: Level) -> list[str]:
    if level is Level.GATEWAY:
        return [""]
    if level is Level.TENANT:
        return [ids[n][0] for n in ids]
    if level is Level.ACCOUNT:
        return [a for n in ids for a in ids[n][1]]
    return [k for n in ids for k in ids[n][2]]


def _expected(
    model: dict[tuple[Level, str], TradingState], t: str, a: str, k: str
) -> TradingStates:
    get = model.get
    active = TradingState.ACTIVE
    return TradingStates(
        get((Level.GATEWAY, ""), active),
        get((Level.TENANT, t), active),
        get((Level.ACCOUNT, a), active),
        get((Level.KEY, k), active),
    )


def _check(risk: RiskControl, model: dict[tuple[Level, str], TradingState], ids: Ids) -> None:
    for name in ids:
        tenant, accounts, keys = ids[name]
        for account, key in itertools.product(accounts, keys):
            assert risk.states_for(tenant, account, key) == _expected(model, tenant, account, key)


async def _run(db: Database, ids: Ids, steps: list[tuple[str, str, Level, int]]) -> None:
    async with db.write() as session:  # each example starts from no states
        await session.execute(RiskStateRow.__table__.delete())
        await session.execute(RiskLimitRow.__table__.delete())
    gateway, cli = RiskControl(db, now=lambda: NOW), RiskControl(db, now=lambda: NOW)
    await gateway.load()
    await cli.load()
    model: dict[tuple[Level, str], TradingState] = {}
    for who, verb, level, index in steps:
        targets = _targets(ids, level)
        target = targets[index % len(targets)]
        service = gateway if who == "gateway" else cli
        if verb == "halt":
            await service.halt(level, target, "prop", OPERATOR)
            model[(level, target)] = TradingState.HALTED
        elif verb == "reduce":
            await service.set_state(level, target, TradingState.REDUCING, "prop", OPERATOR)
            model[(level, target)] = TradingState.REDUCING
        else:
            await service.resume(level, target, "prop", OPERATOR)
            model.pop((level, target), None)
        if who == "gateway":
            _check(gateway, model, ids)  # its own change: at once, without a refresh
        await gateway.refresh()  # what the background loop does every refresh_every_s
        _check(gateway, model, ids)
    restarted = RiskControl(db)
    await restarted.load()
    _check(restarted, model, ids)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Ids]:
    """A migrated database with two tenants, each with two accounts and two keys."""
    path = tmp_path_factory.mktemp("riskprop") / "risk.db"

    async def seed() -> Ids:
        db = await sqlite_database(path)
        try:
            return await _seed(db)
        finally:
            await db.aclose()

    return path, asyncio.run(seed())


@settings(
    max_examples=25,
    deadline=None,  # a shared 2-core machine
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps=calls)
def test_any_sequence_of_calls_matches_the_model(
    seeded: tuple[Path, Ids], steps: list[tuple[str, str, Level, int]]
) -> None:
    path, ids = seeded

    async def example() -> None:
        db = await sqlite_database(path)
        try:
            await _run(db, ids, steps)
        finally:
            await db.aclose()

    asyncio.run(example())
