"""KuCoin-shaped REST routes of the simulator, grouped by area.

``SPOT_TABLES`` are served on the spot host (which also serves the ND broker paths);
``FUTURES_TABLES`` on the futures host.
"""

from __future__ import annotations

from kucoin_sim.rest import (
    accounts,
    broker,
    futures,
    futures_market,
    margin,
    market,
    misc,
    spot_classic,
    spot_hf,
    stop_orders,
)
from kucoin_sim.rest.routing import RouteTable

SPOT_TABLES: tuple[RouteTable, ...] = (
    misc.spot,
    market.routes,
    accounts.routes,
    spot_hf.routes,
    spot_classic.routes,
    stop_orders.routes,
    margin.routes,
    broker.routes,
)
FUTURES_TABLES: tuple[RouteTable, ...] = (misc.futures, futures_market.routes, futures.routes)
