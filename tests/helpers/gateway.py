"""A whole gateway over a real in-process simulator on loopback, wired by kcgateway.main."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from kcgateway.devmode import EmbeddedSim
from kcgateway.gateway.accounts import ConnectRequest
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.cluster.bus import ChangeBus
from kcgateway.gateway.keys import Operator
from kcgateway.gateway.services import GatewayServices
from kcgateway.main import build_services, open_store
from kcgateway.risk import Limits
from kcgateway.secret import Secret
from kcgateway.settings import Settings
from kcgateway.store.database import Database
from kcgateway.store.repositories import TenantRepository
from kcgateway.vault.kek import KeyRing, LocalKek
from kcgateway.web.app import create_app
from tests.helpers import leaksuite

CLIENT_IP = "127.0.0.1"


def stack_limits(max_notional: str = "100000", **over: Any) -> Limits:
    """The test stack's gateway risk limits: every check on, loosened where tests trade on purpose.

    Tests place orders far from the quiet simulator's market (resting limit orders that must
    not fill), many at once, the same order twice, and on symbols with little 24 h volume; the
    production defaults refuse all of that. Loosened: the collar (90%), rates and daily caps,
    the duplicate window (1 ms), exposure caps, the freshness bounds of prices, balances and
    activity (60 s: on a loaded two-core CI machine, a test that blocks the event loop, such as
    Hypothesis generating cases, can hold the 1 s pollers back past the 5 s default, and those
    tests are not about staleness; ``test_freshness`` and ``test_risk_engine`` keep the
    defaults); the liquidity guard is off (the quiet simulator
    trades nothing, so every 24 h volume is 0). Still on: symbol, collar, notional
    (``max_notional``), exposure, rates, duplicates, drawdown, staleness, halts, the detector.
    """
    fields: dict[str, Any] = {
        "max_order_notional": Decimal(max_notional),
        "price_collar_pct": Decimal(90),
        "key_orders_per_second": 100_000,
        "key_orders_per_minute": 1_000_000,
        "account_orders_per_second": 100_000,
        "account_orders_per_minute": 1_000_000,
        "daily_orders": 10_000_000,
        "daily_turnover": Decimal(10) ** 12,
        "duplicate_window_ms": 1,
        # the quiet simulator's futures contracts have no 24 h turnover at all
        "check_liquidity": False,
        "max_volume_share_pct": Decimal(100),
        "min_volume_24h": Decimal(0),
        "liquid_top_n": 100_000,
        "max_symbol_position": Decimal(10) ** 12,
        "max_symbol_gross": Decimal(10) ** 12,
        "max_account_gross": Decimal(10) ** 12,
        "max_open_orders": 100_000,
        "max_price_age_ms": 60_000,
        "max_balance_age_ms": 60_000,
        "max_activity_age_ms": 60_000,
    }
    fields.update(over)
    return Limits(**fields)


@dataclass
class Tenant:
    id: str
    admin_key: str
    account_id: str
    sim_account: dict[str, Any]


@dataclass
class Stack:
    sim: EmbeddedSim
    services: GatewayServices
    app: Any
    http: httpx.AsyncClient
    session: aiohttp.ClientSession
    tenants: dict[str, Tenant] = field(default_factory=dict)
    responses: list[bytes] = field(default_factory=list)
    ring: KeyRing | None = None
    #: what another instance on the same database needs (tests/helpers/cluster.py)
    settings: Settings | None = None
    pepper: Secret | None = None
    limits: Limits | None = None

    def client(self, ip: str = CLIENT_IP) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://gateway")

    async def sim_admin(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(method, self.sim.spot_url + path, json=body) as resp:
            data = await resp.json()
            assert resp.status == 200, data
            return data

    async def fund(self, tenant: Tenant, account_type: str, balances: dict[str, str]) -> None:
        """Credit ``balances`` to one of the tenant's simulated accounts (futures, margin...)."""
        body = {"uid": tenant.sim_account["uid"], "accountType": account_type, "balances": balances}
        await self.sim_admin("POST", "/_sim/fund", body)

    async def add_tenant(self, name: str, *, hf: bool = True, **spec: Any) -> Tenant:
        now = datetime.now(UTC)
        async with self.services.db.write() as session:
            tenant_id = await TenantRepository(session).add(name, now=now)
        account = self.sim.create_account(
            {
                "hf": hf,
                "balances": {"USDT": "1000000", "BTC": "50"},
                "secret": secrets.token_hex(16),
                "passphrase": secrets.token_hex(8),
                **spec,
            }
        )
        view = await self.services.accounts.connect(
            tenant_id,
            "test",
            ConnectRequest(
                "main", account["apiKey"], Secret(account["secret"]), Secret(account["passphrase"])
            ),
        )
        full, _ = await self.services.keys.create(
            tenant_id=tenant_id,
            owner="admin",
            scopes=frozenset({Scope.ADMIN}),
            actor=Operator("test"),
        )
        tenant = Tenant(tenant_id, full.reveal(), view.id, account)
        leaksuite.register_gateway_key(tenant.admin_key)
        self.tenants[name] = tenant
        return tenant

    async def key(self, tenant: Tenant, *scopes: Scope, **kw: Any) -> str:
        full, _ = await self.services.keys.create(
            tenant_id=tenant.id, owner="bot", scopes=frozenset(scopes), actor=Operator("test"), **kw
        )
        key = full.reveal()
        leaksuite.register_gateway_key(key)
        return key


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def order_body(account: str, **over: Any) -> dict[str, Any]:
    body = {
        "account": account,
        "symbol": "BTC-USDT",
        "side": "buy",
        "type": "limit",
        "price": "60000",
        "size": "0.001",
    }
    body.update(over)
    return body


def futures_body(account: str, **over: Any) -> dict[str, Any]:
    body = {
        "account": account,
        "symbol": "XBTUSDTM",
        "side": "buy",
        "type": "limit",
        "price": "60000",
        "size": 1,
        "leverage": "5",
    }
    body.update(over)
    return body


def seed_last_prices(sim: EmbeddedSim) -> None:
    """Give every simulated symbol a last price at its market maker's mid.

    The quiet simulator (no market-maker ticks) has books but no trade, so no last price; the
    risk engine refuses a symbol without one (``risk.stale_data``), as it must in production.
    """
    exchange = sim.state.exchange
    for symbol, maker in exchange.makers.items():
        tape = exchange.market(symbol).tape
        if tape.last_price is None:  # as if one trade printed at the mid (no volume added)
            tape.last_price = maker.mid


@asynccontextmanager
async def gateway_stack(
    tmp_path: Path,
    *,
    timeout_s: float = 2.0,
    grace_s: float = 30.0,
    max_notional: str = "100000",
    tick_ms: int = 0,
    db: Database | None = None,
    risk_limits: Limits | None = None,
    redis_url: str | None = None,
    bus: ChangeBus | None = None,
) -> AsyncIterator[Stack]:
    """The whole gateway; ``db`` (already migrated, e.g. PostgreSQL) replaces the SQLite file.

    The risk engine is on and started (``risk_limits``, default :func:`stack_limits`).
    ``redis_url`` shares the rate budgets through that Redis (``KCGW_REDIS_URL``). A ``bus``
    given is started (the default one is not: nothing else runs in the background).
    """
    sim = await EmbeddedSim.start(seed=7, tick_ms=tick_ms)
    seed_last_prices(sim)
    settings = Settings(
        data_dir=tmp_path,
        exchange_timeout_s=timeout_s,
        reconcile_grace_s=grace_s,
        max_notional=max_notional,  # type: ignore[arg-type]
        redis_url=redis_url,
    )
    db = db if db is not None else await open_store(settings)
    kek, pepper = os.urandom(32), secrets.token_hex(32)
    leaksuite.register("KEK", kek)
    leaksuite.register("pepper", pepper)
    ring = KeyRing(LocalKek(kek))
    limits = risk_limits if risk_limits is not None else stack_limits(max_notional)
    services, app = await instance(settings, db, ring, Secret(pepper), sim, limits, bus)
    session = aiohttp.ClientSession()
    stack = Stack(sim, services, app, httpx.AsyncClient(), session, ring=ring)
    stack.settings, stack.pepper, stack.limits = settings, Secret(pepper), limits
    stack.http = stack.client()
    try:
        yield stack
    finally:
        await stack.http.aclose()
        await session.close()
        leaksuite.scan_store(tmp_path, db, "open")
        await services.aclose()
        await sim.aclose()
        leaksuite.scan_store(tmp_path, db, "closed")


async def instance(
    settings: Settings,
    db: Database,
    ring: KeyRing,
    pepper: Secret,
    sim: EmbeddedSim,
    limits: Limits,
    bus: ChangeBus | None = None,
) -> tuple[GatewayServices, Any]:
    """One gateway's services (risk loaded and started, ``bus`` started) and its scanned app."""
    services = build_services(settings, db, ring, pepper, sim.hosts, risk_limits=limits, bus=bus)
    services.orders.reconciler.settle_after = timedelta(seconds=settings.exchange_timeout_s * 2)
    assert services.risk is not None and services.risk_engine is not None
    await services.risk.load()
    await services.risk_engine.start()
    if bus is not None:
        bus.start()
    return services, leaksuite.capture_app(create_app(services))


async def warm_risk(stack: Stack, tenant_id: str, account_id: str, *, within_s: float = 60) -> None:
    """Have the risk engine load an account's figures before the test's first order on it.

    On the order path the engine waits only ``first_load_timeout_s`` (3 s) for an account's
    first load and then refuses with ``risk.stale_data`` (fail closed); on a loaded two-core
    machine, or with a short exchange timeout, a first load can miss that, which is not what the
    calling tests are about. Retries the load until the balances are there.
    """
    engine = stack.services.risk_engine
    if engine is None:
        return
    engine.accounts.follow(tenant_id, account_id)
    async with asyncio.timeout(within_s):
        while engine.accounts.view(account_id).balances is None:
            task = engine.accounts.kick(account_id)
            if task is not None:
                await task
            if engine.accounts.view(account_id).balances is None:
                await asyncio.sleep(0.1)
