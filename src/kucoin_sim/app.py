"""Building the simulator: two aiohttp applications (spot + broker, futures) over one state.

``build_apps(config, seed)`` is usable in-process (aiohttp test utilities or a loopback port);
``kcgateway sim`` serves the same applications.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kcgateway.clock import Clock
from kucoin_sim import admin
from kucoin_sim.accounts import create_account, create_partner
from kucoin_sim.config import SimConfig
from kucoin_sim.engine_adapter import make_exchange, tick
from kucoin_sim.faults import parse_rule
from kucoin_sim.ratelimit import DEFAULT_QUOTAS, RateLimiter
from kucoin_sim.rest import FUTURES_TABLES, SPOT_TABLES, oauth_http
from kucoin_sim.rest.dispatch import Dispatcher, not_found
from kucoin_sim.rest.routing import RouteTable
from kucoin_sim.state import SimState, wall_clock_ms
from kucoin_sim.ws.routes import install as install_ws

log = logging.getLogger("kucoin_sim")
MARKET_MAKERS_KEY = web.AppKey("market_makers", asyncio.Task[None])


@dataclass(frozen=True)
class SimApps:
    """The spot host (with broker ND and ``/_sim/``), the futures host, and their state."""

    spot: web.Application
    futures: web.Application
    state: SimState
    created_accounts: tuple[dict[str, Any], ...] = ()


def _install(app: web.Application, state: SimState, tables: Iterable[RouteTable]) -> None:
    dispatcher = Dispatcher(state)
    routes = [route for table in tables for route in table.routes]
    # fixed paths first, so /api/v1/hf/orders/active is never taken for /{orderId}
    for route in sorted(routes, key=lambda r: "{" in r.path):
        app.router.add_route(route.method, route.path, dispatcher.bind(route))
    app.router.add_route("*", "/{tail:.*}", not_found(state))


async def _tick_forever(state: SimState, period_s: float) -> None:
    while True:
        await asyncio.sleep(period_s)
        try:
            tick(state.exchange, state.now_ms())
        except Exception:  # a bad step must not stop the market; it is counted and logged
            state.unexpected_errors += 1
            log.exception("market-maker tick failed")


def _market_makers(state: SimState, period_ms: int) -> Any:
    async def context(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(_tick_forever(state, period_ms / 1000))
        app[MARKET_MAKERS_KEY] = task
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context


def build_apps(
    config: SimConfig | None = None, seed: int | None = None, clock: Clock | None = None
) -> SimApps:
    """Build both applications; ``seed`` overrides the config's seed."""
    cfg = config or SimConfig()
    seed = cfg.seed if seed is None else seed
    now = clock.now_ms() if clock is not None else wall_clock_ms()
    state = SimState(make_exchange(cfg.engine, seed, now), seed, clock)
    state.limiter = RateLimiter({**DEFAULT_QUOTAS, **cfg.quotas})
    now = state.now_ms()
    created = [create_partner(state, spec, now) for spec in cfg.partners]
    created += [create_account(state, spec, now) for spec in cfg.accounts]
    for spec in cfg.faults:
        state.faults.add(parse_rule(spec))
    spot = web.Application(client_max_size=cfg.body_limit)
    futures = web.Application(client_max_size=cfg.body_limit)
    admin.register(spot, state)
    oauth_http.register(spot, state)  # Fast API OAuth (www.kucoin.com's paths)
    install_ws(spot, futures, state)
    _install(spot, state, SPOT_TABLES)
    _install(futures, state, FUTURES_TABLES)
    if cfg.tick_ms > 0:
        spot.cleanup_ctx.append(_market_makers(state, cfg.tick_ms))
    return SimApps(spot=spot, futures=futures, state=state, created_accounts=tuple(created))
