"""Signed limit orders per second against one loopback aiohttp stub, kcgateway vs its peers.

The stub runs in its own process (so each client gets a full core) and answers
``{"code":"200000","data":{"orderId":...}}`` at once. Measured in the same run:

- kcgateway ``client.spot.hf.place`` (validation from cached rules, a fresh clientOid, signing,
  budget, envelope and typed parsing), the client built as ``kcgateway serve`` builds it
  (``main.client_factory``: ``AiohttpTransport(read_timeout=t, total_timeout=2t)`` and a
  per-request ``timeout=t``, t = the default ``exchange_timeout_s``), with a rate budget whose
  quota the stub never reaches (it is still consulted on every call);
- ccxt ``async_support.kucoin.create_order`` (options hf=True, uta=False, no client throttle);
- the universal SDK ``add_order`` (sync, requests; sequential only);
- ``bare_aiohttp``, the floor: the same signed request done the plainest way with the same
  caching: per request a fresh clientOid, the same body bytes (``msgspec.json.encode`` of the
  same fields), a fresh timestamp and stdlib HMAC (``hmac.new(secret, digestmod=sha256)`` made
  once and copied, the passphrase header computed once), one ``session.post`` on aiohttp's
  defaults, and the reply decoded (``msgspec.json.decode``) with its code checked. No rule
  checks, no rate budget, no typed result, no retry policy: that is what kcgateway adds.

Sequentially and with 20 requests in flight; the clients are interleaved over ``ROUNDS`` short
rounds (who goes first rotates), each ratio is taken within a round and the verdict is on the
median of the rounds' ratios (the load of a shared machine drifts within a minute).
Goal: >= 1.3x ccxt in both modes and >= 0.8 of the floor in both modes. Ends with one JSON line.
Run: ``.venv/bin/python bench/bench_rest.py`` (``BENCH_ROUNDS``, ``BENCH_SEQ_N``, ``BENCH_PAR_N``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from statistics import median

SEQ_N = int(os.environ.get("BENCH_SEQ_N", "300"))
PAR_N = int(os.environ.get("BENCH_PAR_N", "800"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))
TIMEOUT_S = 10.0  # Settings.exchange_timeout_s's default, as `kcgateway serve` uses it
IN_FLIGHT = 20
SYMBOL = "BTC-USDT"

SYMBOL_ROW = {
    "symbol": SYMBOL,
    "name": SYMBOL,
    "baseCurrency": "BTC",
    "quoteCurrency": "USDT",
    "feeCurrency": "USDT",
    "market": "USDS",
    "baseMinSize": "0.00001",
    "quoteMinSize": "0.1",
    "baseMaxSize": "10000000000",
    "quoteMaxSize": "99999999",
    "baseIncrement": "0.00000001",
    "quoteIncrement": "0.000001",
    "priceIncrement": "0.1",
    "priceLimitRate": "0.1",
    "minFunds": "0.1",
    "isMarginEnabled": False,
    "enableTrading": True,
    "feeCategory": 1,
    "makerFeeCoefficient": "1.00",
    "takerFeeCoefficient": "1.00",
    "st": False,
}


def _serve(port: int) -> None:
    """The stub server (child process)."""
    from aiohttp import web

    order = json.dumps(
        {"code": "200000", "data": {"orderId": "stub-order-1", "clientOid": "x"}}
    ).encode()
    replies = {
        "/api/v1/timestamp": None,
        "/api/v2/symbols": {"code": "200000", "data": [SYMBOL_ROW]},
        "/api/v3/currencies": {"code": "200000", "data": []},
        "/api/v1/market/allTickers": {"code": "200000", "data": {"time": 0, "ticker": []}},
        "/api/v1/contracts/active": {"code": "200000", "data": []},
        "/api/v3/margin/symbols": {"code": "200000", "data": {"timestamp": 0, "items": []}},
        "/api/v1/isolated/symbols": {"code": "200000", "data": []},
        "/api/v1/hf/accounts/opened": {"code": "200000", "data": True},
        "/api/ua/v1/account/mode": {"code": "200000", "data": {"selfAccountMode": "CLASSIC"}},
    }
    static = {k: json.dumps(v).encode() for k, v in replies.items() if v is not None}
    headers = {"Content-Type": "application/json"}

    async def handle(request: web.Request) -> web.Response:
        if request.method == "POST":
            await request.read()
            return web.Response(body=order, headers=headers)
        if request.path == "/api/v1/timestamp":
            now = json.dumps({"code": "200000", "data": time.time_ns() // 1_000_000})
            return web.Response(body=now.encode(), headers=headers)
        body = static.get(request.path, b'{"code":"404000","msg":"Not Found"}')
        return web.Response(body=body, headers=headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("stub did not start")


def _creds() -> tuple[str, str, str]:
    return secrets.token_hex(12), str(uuid.uuid4()), secrets.token_hex(8)


async def _rate(fn: Callable[[], Awaitable[object]], n: int, in_flight: int) -> float:
    """Calls per second of ``fn``: ``n`` calls by ``in_flight`` concurrent workers."""
    per_worker = n // in_flight

    async def worker() -> None:
        for _ in range(per_worker):
            await fn()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return per_worker * in_flight / (time.perf_counter() - t0)


Place = Callable[[], Awaitable[object]]


@asynccontextmanager
async def kcgateway_client(base: str) -> AsyncIterator[Place]:
    from kcgateway.clock import SystemClock
    from kcgateway.exchange.budget import LocalBudget
    from kcgateway.exchange.rest import Hosts, KuCoinClient
    from kcgateway.exchange.transport import AiohttpTransport
    from kcgateway.kucoin.endpoints import Pool
    from kcgateway.kucoin.ratelimit import RateLimiter
    from kcgateway.kucoin.signing import Credentials
    from kcgateway.secret import Secret

    key, secret, passphrase = _creds()
    creds = Credentials(key, Secret(secret), Secret(passphrase))
    # the stub has no rate limit: give the budget a quota it never reaches (still consulted)
    budget = LocalBudget(SystemClock(), RateLimiter(dict.fromkeys(Pool, 10**12)))
    hosts = Hosts(spot=base, futures=base, broker=base)
    # as main.client_factory builds it for `kcgateway serve`
    transport = AiohttpTransport(read_timeout=TIMEOUT_S, total_timeout=TIMEOUT_S * 2)
    async with KuCoinClient(
        creds, hosts=hosts, budget=budget, transport=transport, timeout=TIMEOUT_S
    ) as client:
        price, size = Decimal("30000.1"), Decimal("0.001")

        async def place() -> object:
            return await client.spot.hf.place(SYMBOL, "buy", "limit", price=price, size=size)

        yield place


@asynccontextmanager
async def ccxt_client(base: str) -> AsyncIterator[Place]:
    import ccxt.async_support as ccxt_async

    key, secret, passphrase = _creds()
    ex = ccxt_async.kucoin(
        {"apiKey": key, "secret": secret, "password": passphrase, "enableRateLimit": False}
    )
    try:
        for name, value in list(ex.urls["api"].items()):
            if isinstance(value, str):
                ex.urls["api"][name] = base
        ex.options["hf"] = True
        ex.options["uta"] = False
        await ex.load_markets()

        async def place() -> object:
            return await ex.create_order("BTC/USDT", "limit", "buy", 0.001, 30000.1)

        yield place
    finally:
        await ex.close()


@asynccontextmanager
async def bare_client(base: str) -> AsyncIterator[Place]:
    """The floor: the same signed order, plain aiohttp + stdlib, same caching, reply decoded."""
    import aiohttp
    import msgspec

    key, secret, passphrase = _creds()
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)  # key absorbed once, as ours
    passphrase_header = base64.b64encode(
        hmac.new(secret.encode(), passphrase.encode(), hashlib.sha256).digest()
    ).decode()
    path = "/api/v1/hf/orders"
    url = base + path
    encode, decode = msgspec.json.encode, msgspec.json.decode
    async with aiohttp.ClientSession() as session:

        async def place() -> object:
            body = encode(
                {
                    "clientOid": os.urandom(16).hex(),
                    "side": "buy",
                    "symbol": SYMBOL,
                    "type": "limit",
                    "price": "30000.1",
                    "size": "0.001",
                }
            )
            ts = str(time.time_ns() // 1_000_000)
            sign = mac.copy()
            sign.update(f"{ts}POST{path}".encode() + body)
            headers = {
                "KC-API-KEY": key,
                "KC-API-SIGN": base64.b64encode(sign.digest()).decode(),
                "KC-API-TIMESTAMP": ts,
                "KC-API-PASSPHRASE": passphrase_header,
                "KC-API-KEY-VERSION": "3",
                "Content-Type": "application/json",
            }
            async with session.post(url, data=body, headers=headers) as resp:
                reply = decode(await resp.read())
            if reply["code"] != "200000":
                raise RuntimeError(f"stub refused the order: {reply}")
            return reply["data"]

        yield place


async def bench_async(base: str) -> dict[str, tuple[float, float]]:
    """Per round, each client's rates; the ratios are taken within a round, then the median.

    The machine is shared and its load drifts within a minute, so each round is short, the
    clients run back to back (who goes first rotates), and ours is compared with the floor of
    the same round: ``ROUND_RATIOS`` gets each round's ratio, and the verdict is their median.
    """
    rounds: dict[str, tuple[list[float], list[float]]] = {}
    async with AsyncExitStack() as stack:
        clients = {
            "bare": await stack.enter_async_context(bare_client(base)),
            "ours": await stack.enter_async_context(kcgateway_client(base)),
            "ccxt": await stack.enter_async_context(ccxt_client(base)),
        }
        for place in clients.values():
            for _ in range(50):
                await place()  # warm up connections and caches
        names = list(clients)
        for round_no in range(ROUNDS):
            # rotate who goes first: order effects on a shared machine are not small
            for name in names[round_no % 3 :] + names[: round_no % 3]:
                place = clients[name]
                seq = await _rate(place, SEQ_N, 1)
                par = await _rate(place, PAR_N, IN_FLIGHT)
                print(
                    f"  round {name:<5} seq {seq:7.0f}/s  20-in-flight {par:7.0f}/s  "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
                seqs, pars = rounds.setdefault(name, ([], []))
                seqs.append(seq)
                pars.append(par)
    for peer in ("bare", "ccxt"):
        for mode in (0, 1):
            ROUND_RATIOS[(peer, mode)] = [
                o / p for o, p in zip(rounds["ours"][mode], rounds[peer][mode], strict=True)
            ]
    return {name: (median(seqs), median(pars)) for name, (seqs, pars) in rounds.items()}


#: (peer, 0 = sequential / 1 = 20 in flight) -> ours / peer in each round
ROUND_RATIOS: dict[tuple[str, int], list[float]] = {}


def bench_sdk(base: str) -> float:
    from kucoin_universal_sdk.api.client import DefaultClient
    from kucoin_universal_sdk.generate.spot.order.model_add_order_req import (
        AddOrderReq,
        AddOrderReqBuilder,
    )
    from kucoin_universal_sdk.model.client_option import ClientOptionBuilder
    from kucoin_universal_sdk.model.transport_option import TransportOptionBuilder

    key, secret, passphrase = _creds()
    option = (
        ClientOptionBuilder()
        .set_key(key)
        .set_secret(secret)
        .set_passphrase(passphrase)
        .set_spot_endpoint(base)
        .set_futures_endpoint(base)
        .set_broker_endpoint(base)
        .set_transport_option(TransportOptionBuilder().build())
        .build()
    )
    api = DefaultClient(option).rest_service().get_spot_service().get_order_api()

    def place() -> object:
        req = (
            AddOrderReqBuilder()
            .set_client_oid(str(uuid.uuid4()))
            .set_side(AddOrderReq.SideEnum.BUY)
            .set_symbol(SYMBOL)
            .set_type(AddOrderReq.TypeEnum.LIMIT)
            .set_price("30000.1")
            .set_size("0.001")
            .build()
        )
        return api.add_order(req)

    for _ in range(50):
        place()
    rates = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        for _ in range(SEQ_N):
            place()
        rates.append(SEQ_N / (time.perf_counter() - t0))
    return median(rates)


def main() -> None:
    port = _free_port()
    stub = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])  # noqa: S603
    try:
        _wait_port(port)
        base = f"http://127.0.0.1:{port}"
        rates = asyncio.run(bench_async(base))
        sdk = bench_sdk(base)
        ours, ccxt, bare = rates["ours"], rates["ccxt"], rates["bare"]
    finally:
        stub.terminate()
        stub.wait(timeout=10)
    report(ours, ccxt, sdk, bare)


def report(
    ours: tuple[float, float], ccxt: tuple[float, float], sdk: float, bare: tuple[float, float]
) -> None:
    rows = [
        ("kcgateway", *ours),
        ("ccxt async", *ccxt),
        ("universal SDK", sdk, float("nan")),
        ("bare aiohttp", *bare),
    ]
    print(f"{'client':<16}{'sequential/s':>14}{'20 in flight/s':>16}")
    for name, seq, par in rows:
        print(f"{name:<16}{seq:>14.0f}{par:>16.0f}")
    ratios = {  # medians of the per-round ratios (the SDK runs alone: medians of rates)
        "ratio_vs_ccxt_seq": median(ROUND_RATIOS[("ccxt", 0)]),
        "ratio_vs_ccxt_20": median(ROUND_RATIOS[("ccxt", 1)]),
        "ratio_vs_sdk_seq": ours[0] / sdk,
        "ratio_vs_bare_seq": median(ROUND_RATIOS[("bare", 0)]),
        "ratio_vs_bare_20": median(ROUND_RATIOS[("bare", 1)]),
    }
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    met = (
        ratios["ratio_vs_ccxt_seq"] >= 1.3
        and ratios["ratio_vs_ccxt_20"] >= 1.3
        and ratios["ratio_vs_bare_seq"] >= 0.8
        and ratios["ratio_vs_bare_20"] >= 0.8
    )
    line = {
        "bench": "rest_signed_limit_orders",
        "unit": "orders/s (sequential, 20 in flight)",
        "ours": [round(ours[0]), round(ours[1])],
        "ccxt": [round(ccxt[0]), round(ccxt[1])],
        "sdk": [round(sdk), None],
        "bare_aiohttp": [round(bare[0]), round(bare[1])],
        **{k: round(v, 3) for k, v in ratios.items()},
        "ratio_vs_ccxt": round(min(ratios["ratio_vs_ccxt_seq"], ratios["ratio_vs_ccxt_20"]), 3),
        "ratio_vs_bare_aiohttp": round(
            min(ratios["ratio_vs_bare_seq"], ratios["ratio_vs_bare_20"]), 3
        ),
        "bare_20_ratio_rounds": [round(r, 2) for r in ROUND_RATIOS[("bare", 1)]],
        "rounds": ROUNDS,
        "load_average": round(os.getloadavg()[0], 1),
        "goal": ">= 1.3x ccxt and >= 0.8x the bare aiohttp floor, sequential and 20 in flight "
        "(median rounds)",
        "met": met,
    }
    print(json.dumps(line))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        _serve(int(sys.argv[2]))
    else:
        main()
