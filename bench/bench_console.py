"""Console pages: time to first byte with 10,000 orders in the database (issue 18).

The whole gateway (SQLite, the embedded simulator as the exchange, the risk engine on) is
served by uvicorn on loopback; one tenant has 10,000 order intents (every state, three
symbols) written straight into the store. A signed-in client (the session cookie, as a
browser holds it) asks for each page in turn, one request at a time, and times the arrival
of the response head (aiohttp returns when the status line and headers are in: the time to
first byte). Pages: Overview (the balances come from the simulator), Orders (first page, a
state filter, the last page, the htmx table partial), an order's detail with its audited
history, Fills and positions (from the simulator), Keys, Risk, Audit.

The floor (``v1_json``) is the same process answering ``GET /v1/orders?limit=50`` (the same
50 newest intents as JSON, Bearer key, no rendering, no count, no session).

``ours`` is the worst page's p95; goal: every page under 200 ms p95. Run:
``.venv/bin/python bench/bench_console.py`` (``BENCH_N`` requests per page, default 60).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from statistics import quantiles

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import uvicorn
from tests.helpers.console_seed import seed_orders
from tests.helpers.gateway import auth, gateway_stack

ORDERS = int(os.environ.get("BENCH_ORDERS", "10000"))
N = int(os.environ.get("BENCH_N", "60"))
WARMUP = 5
GOAL_MS = 200.0


def p95(samples: list[float]) -> float:
    return quantiles(samples, n=100)[94]


async def ttfb(http: aiohttp.ClientSession, url: str, **kw: object) -> float:
    start = time.perf_counter()
    async with http.get(url, allow_redirects=False, **kw) as resp:  # type: ignore[arg-type]
        took = (time.perf_counter() - start) * 1000
        assert resp.status == 200, (url, resp.status)
        await resp.read()
    return took


async def sign_in(http: aiohttp.ClientSession, base: str, key: str) -> None:
    async with http.get(base + "/ui/login") as page:
        nonce = re.search(r'name="nonce" value="([^"]+)"', await page.text())
    assert nonce is not None
    form = {"key": key, "nonce": nonce.group(1)}
    async with http.post(base + "/ui/login", data=form, allow_redirects=False) as resp:
        assert resp.status == 303, await resp.text()


async def measure(tmp: Path) -> dict[str, object]:
    async with gateway_stack(tmp) as stack:
        tenant = await stack.add_tenant("bench")
        await seed_orders(stack.services.db, tenant.account_id, ORDERS)
        config = uvicorn.Config(
            stack.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
            access_log=False, proxy_headers=False,
        )  # fmt: skip
        server = uvicorn.Server(config)
        task = asyncio.get_running_loop().create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
        try:
            async with aiohttp.ClientSession(cookie_jar=jar) as http:
                await sign_in(http, base, tenant.admin_key)
                views = await stack.services.orders.list(tenant.id, limit=1)
                pages = {
                    "overview": "/ui",
                    "orders": "/ui/orders",
                    "orders_open": "/ui/orders?state=open",
                    "orders_last_page": f"/ui/orders?page={-(-ORDERS // 50)}",
                    "orders_table": "/ui/orders/table",
                    "order_detail": f"/ui/orders/{views[0].id}",
                    "fills": "/ui/fills",
                    "keys": "/ui/keys",
                    "risk": "/ui/risk",
                    "audit": "/ui/audit",
                    "accounts": "/ui/accounts",
                    "bots": "/ui/bots",
                    "broker": "/ui/broker",
                }
                results: dict[str, float] = {}
                for name, path in pages.items():
                    for _ in range(WARMUP):
                        await ttfb(http, base + path)
                    results[name] = p95([await ttfb(http, base + path) for _ in range(N)])
            async with aiohttp.ClientSession() as plain:
                url = base + "/v1/orders?limit=50"
                headers = auth(tenant.admin_key)
                for _ in range(WARMUP):
                    await ttfb(plain, url, headers=headers)
                floor = p95([await ttfb(plain, url, headers=headers) for _ in range(N)])
        finally:
            server.should_exit = True
            await task
    return {"pages": results, "floor": floor}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        found = asyncio.run(measure(Path(tmp)))
    pages: dict[str, float] = found["pages"]  # type: ignore[assignment]
    floor: float = found["floor"]  # type: ignore[assignment]
    worst = max(pages.values())
    result = {
        "bench": "console_page_ttfb_p95_worst",
        "unit": "ms",
        "ours": round(worst, 1),
        "v1_json": round(floor, 1),
        "ratio_vs_v1_json": round(worst / floor, 2),
        "pages_p95_ms": {name: round(ms, 1) for name, ms in pages.items()},
        "orders_in_db": ORDERS,
        "requests_per_page": N,
        "load_average": round(os.getloadavg()[0], 1),
        "goal": f"every console page p95 TTFB < {GOAL_MS:g} ms with {ORDERS} orders",
        "met": worst < GOAL_MS,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
