"""Run the simulator on real loopback ports and talk to it with signed requests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from kcgateway.kucoin.signing import BrokerCredentials, Credentials, sign_request
from kcgateway.secret import Secret
from kucoin_sim.app import SimApps, build_apps
from kucoin_sim.config import SimConfig


@dataclass
class Sim:
    apps: SimApps
    spot: str
    futures: str
    session: aiohttp.ClientSession

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(method, self.spot + path, json=body) as resp:
            data = await resp.json()
            assert resp.status == 200, data
            return data

    async def account(self, **spec: Any) -> dict[str, Any]:
        spec.setdefault("balances", {"USDT": "100000", "BTC": "10", "ETH": "100"})
        return await self.admin("POST", "/_sim/accounts", spec)  # type: ignore[no-any-return]

    async def call(
        self,
        account: dict[str, Any] | None,
        method: str,
        path: str,
        body: Any = None,
        *,
        futures: bool = False,
        broker: dict[str, Any] | None = None,
        ts: int | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        base = self.futures if futures else self.spot
        payload = raw if raw is not None else (b"" if body is None else _compact(body))
        headers = {"Content-Type": "application/json"} if payload else {}
        if account is not None:
            creds = Credentials(
                account["apiKey"], Secret(account["secret"]), Secret(account["passphrase"])
            )
            partner = None
            if broker is not None:
                partner = BrokerCredentials(
                    broker["partner"], broker["brokerName"], Secret(broker["brokerKey"])
                )
            headers.update(
                sign_request(
                    creds,
                    method=method,
                    path=path,
                    body=payload,
                    timestamp_ms=ts
                    if ts is not None
                    else self.apps.state.now_ms() - self.apps.state.faults.clock_offset_ms,
                    broker=partner,
                )
            )
        async with self.session.request(method, base + path, data=payload, headers=headers) as r:
            text = await r.text()
            data = json.loads(text) if text else None
            return r.status, data, dict(r.headers)

    async def ok(
        self, account: dict[str, Any] | None, method: str, path: str, body: Any = None, **kw: Any
    ) -> Any:
        status, data, _ = await self.call(account, method, path, body, **kw)
        assert status == 200 and data["code"] == "200000", (status, data)
        return data["data"]


def _compact(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


@asynccontextmanager
async def running_sim(
    config: SimConfig | None = None, seed: int = 7, clock: Any = None
) -> AsyncIterator[Sim]:
    cfg = config or SimConfig(tick_ms=0)
    apps = build_apps(cfg, seed, clock)
    runners = [web.AppRunner(apps.spot), web.AppRunner(apps.futures)]
    urls = []
    try:
        for runner in runners:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            server = site._server
            assert server is not None
            port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            urls.append(f"http://127.0.0.1:{port}")
        async with aiohttp.ClientSession() as session:
            yield Sim(apps, urls[0], urls[1], session)
        assert apps.state.unexpected_errors == 0
    finally:
        for runner in runners:
            await runner.cleanup()
