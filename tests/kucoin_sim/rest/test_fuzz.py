"""Fuzz the REST surface: random methods, paths, queries, bodies and headers never give a 500."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kucoin_sim.app import build_apps
from kucoin_sim.config import SimConfig
from kucoin_sim.rest import FUTURES_TABLES, SPOT_TABLES
from tests.kucoin_sim.harness import running_sim


class Background:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.stop: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.info: dict[str, Any] = {}

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        async with running_sim(
            SimConfig(
                tick_ms=0,
                quotas={
                    "spot": 10**9,
                    "public": 10**9,
                    "management": 10**9,
                    "futures": 10**9,
                    "broker": 10**9,
                },
            )
        ) as sim:
            acct = await sim.account(hf=True)
            self.info = {"sim": sim, "acct": acct}
            self.ready.set()
            await self.stop.wait()


@pytest.fixture(scope="module")
def live() -> Iterator[dict[str, Any]]:
    bg = Background()
    thread = threading.Thread(target=bg.run, daemon=True)
    thread.start()
    assert bg.ready.wait(30)
    yield bg.info
    assert bg.loop is not None and bg.stop is not None
    bg.loop.call_soon_threadsafe(bg.stop.set)
    thread.join(30)
    assert bg.info["sim"].apps.state.unexpected_errors == 0


ROUTES = [(r.method, r.path, "spot") for t in SPOT_TABLES for r in t.routes] + [
    (r.method, r.path, "futures") for t in FUTURES_TABLES for r in t.routes
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
FIELDS = st.sampled_from(
    [
        "symbol",
        "side",
        "type",
        "price",
        "size",
        "funds",
        "clientOid",
        "timeInForce",
        "stp",
        "orderList",
        "currency",
        "amount",
        "from",
        "to",
        "leverage",
        "marginMode",
        "uid",
        "accountName",
        "cancelAfter",
        "stopPrice",
        "visibleSize",
        "postOnly",
        "direction",
        "label",
        "permissions",
    ]
)
SEGMENT = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="/?#%"),
    min_size=1,
    max_size=12,
)


def _path(template: str, segment: str) -> str:
    parts = [segment if p.startswith("{") else p for p in template.split("/")]
    return "/".join(parts)


def _sign(acct: dict[str, Any], method: str, target: str, body: bytes, skew: int) -> dict[str, str]:
    ts = str(time.time_ns() // 1_000_000 + skew)
    mac = hmac.new(acct["secret"].encode(), (ts + method + target).encode() + body, hashlib.sha256)
    phrase = hmac.new(acct["secret"].encode(), acct["passphrase"].encode(), hashlib.sha256)
    return {
        "KC-API-KEY": acct["apiKey"],
        "KC-API-SIGN": base64.b64encode(mac.digest()).decode(),
        "KC-API-TIMESTAMP": ts,
        "KC-API-PASSPHRASE": base64.b64encode(phrase.digest()).decode(),
        "KC-API-KEY-VERSION": "3",
    }


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=st.sampled_from(ROUTES),
    method=st.one_of(st.none(), st.sampled_from(["GET", "POST", "DELETE", "PUT"])),
    segment=SEGMENT,
    query=st.dictionaries(FIELDS, st.text(max_size=12), max_size=3),
    body=st.one_of(
        st.dictionaries(FIELDS, VALUES, max_size=6).map(lambda d: json.dumps(d).encode()),
        st.binary(max_size=64),
    ),
    signed=st.booleans(),
    skew=st.sampled_from([0, 0, 0, 10_000]),
    junk_headers=st.dictionaries(
        st.sampled_from(
            ["KC-API-KEY-VERSION", "KC-API-PARTNER", "KC-API-PARTNER-VERIFY", "Content-Type"]
        ),
        st.text(alphabet="abc123-", max_size=8),
        max_size=2,
    ),
)
def test_fuzz_rest_surface(
    live: dict[str, Any],
    route: tuple[str, str, str],
    method: str | None,
    segment: str,
    query: dict[str, str],
    body: bytes,
    signed: bool,
    skew: int,
    junk_headers: dict[str, str],
) -> None:
    sim = live["sim"]
    verb = method or route[0]
    base = sim.spot if route[2] == "spot" else sim.futures
    target = _path(route[1], segment) + ("?" + urlencode(query) if query else "")
    payload = body if verb == "POST" else b""
    headers = dict(junk_headers)
    if signed:
        headers.update(_sign(live["acct"], verb, unquote(target), payload, skew))
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(verb, target, body=payload, headers=headers)
        resp = conn.getresponse()
        data = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status < 500, (verb, target, payload, data)
    assert isinstance(data["code"], str)
    assert resp.getheader("gw-ratelimit-limit") is not None
    assert sim.apps.state.unexpected_errors == 0


def test_every_route_is_reachable() -> None:
    apps = build_apps(SimConfig(tick_ms=0), 1)
    paths = {(r.method, r.path) for t in SPOT_TABLES for r in t.routes}
    assert ("POST", "/api/v1/hf/orders") in paths and len(paths) > 60
    assert apps.state.unexpected_errors == 0
