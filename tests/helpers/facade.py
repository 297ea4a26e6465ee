"""The KuCoin facade served on a loopback port over a :func:`gateway_stack`, and ccxt on it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async
import uvicorn

from kcgateway.facade.app import create_facade_app
from kcgateway.gateway.apikeys import Scope, parse_key
from kcgateway.kucoin.signing import Credentials, sign_request
from kcgateway.secret import Secret
from tests.helpers import leaksuite
from tests.helpers.gateway import Stack, Tenant, auth


@dataclass
class FacadeCreds:
    api_key: str
    secret: str
    passphrase: str
    key_id: str

    def ccxt(self) -> dict[str, str]:
        return {"apiKey": self.api_key, "secret": self.secret, "password": self.passphrase}


@asynccontextmanager
async def facade_url(stack: Stack, *, futures: bool = False) -> AsyncIterator[str]:
    """The facade app (leak-captured) on a free loopback port, for as long as the block runs."""
    assert stack.services.facade is not None
    app = leaksuite.capture_app(create_facade_app(stack.services.facade, futures=futures))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="off", proxy_headers=False, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def issue(
    stack: Stack, tenant: Tenant, *scopes: Scope, account: str = "main", **kw: Any
) -> FacadeCreds:
    """A bot key with ``scopes`` and its KuCoin credentials on the tenant's account (via /v1)."""
    key = await stack.key(tenant, *scopes, **kw)
    presented = parse_key(key)
    assert presented is not None
    resp = await stack.http.post(
        f"/v1/keys/{presented.key_id}/kucoin-credentials",
        json={"account": account},
        headers=auth(tenant.admin_key),
    )
    assert resp.status_code == 201, resp.text
    made = resp.json()
    return FacadeCreds(made["apiKey"], made["secret"], made["passphrase"], presented.key_id)


def ccxt_kucoin(url: str, creds: FacadeCreds | None = None) -> Any:
    """ccxt's async kucoin with every REST base URL pointed at ``url`` (nothing else changed)."""
    ex = ccxt_async.kucoin(creds.ccxt() if creds is not None else {})
    for name, value in list(ex.urls["api"].items()):
        if isinstance(value, str):
            ex.urls["api"][name] = url
    return ex


def ccxt_kucoinfutures(spot_url: str, futures_url: str, creds: FacadeCreds) -> Any:
    """ccxt's async kucoinfutures: futures groups at the futures facade, the rest at spot."""
    return point_futures(ccxt_async.kucoinfutures(creds.ccxt()), spot_url, futures_url)


def point_futures(ex: Any, spot_url: str, futures_url: str) -> Any:
    """``ex`` (ccxt or ccxt.pro kucoinfutures) with its futures groups at ``futures_url``."""
    for name, value in list(ex.urls["api"].items()):
        if isinstance(value, str):
            ex.urls["api"][name] = futures_url if name.startswith("futures") else spot_url
    return ex


async def signed(
    http: aiohttp.ClientSession,
    url: str,
    creds: FacadeCreds,
    method: str,
    path: str,
    body: Any = None,
) -> tuple[int, dict[str, Any], Mapping[str, str]]:
    """A hand-signed facade call: (HTTP status, KuCoin envelope, response headers)."""
    signer = Credentials(creds.api_key, Secret(creds.secret), Secret(creds.passphrase))
    now_ms = int(time.time() * 1000)
    raw = b"" if body is None else json.dumps(body).encode()
    headers = sign_request(signer, method=method, path=path, body=raw, timestamp_ms=now_ms)
    if raw:
        headers["Content-Type"] = "application/json"
    async with http.request(method, url + path, headers=headers, data=raw or None) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers
