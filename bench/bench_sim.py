"""Authenticated order placements per second the simulator sustains (20 requests in flight).

The simulator runs in its own process on a loopback port with 10,000 resting sell orders on
BTC-USDT (one exempt maker, 1 BTC each, one per 0.1 USDT from 30000). The load generator (this
process: a minimal asyncio HTTP/1.1 keep-alive client, one connection per in-flight
request, so the server gets the CPU) signs each request just before sending
it and places HF limit buy orders of 0.0001 BTC below the asks (they rest: every placement is
authenticated, rate-limit checked, matched against the book, rested and answered). KuCoin's
200-active-orders-per-symbol rule is respected by spreading the load over 400 accounts.
(An IOC order that crosses and fills once costs the engine about twice a resting placement:
~95 vs ~42 us in-process on this machine.)

Usage: ``python bench/bench_sim.py [--seconds 10] [--inflight 20]``. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any

RESTING = 10_000
SYMBOL = "BTC-USDT"
ACCOUNTS = 400  # KuCoin allows 200 active orders per account and symbol
PER_ACCOUNT = 200


def _hmac(key: str, msg: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), msg, hashlib.sha256).digest()).decode()


def serve(port: int) -> None:
    """Child process: build the simulator, seed the book, print credentials, serve."""
    from aiohttp import web

    from kucoin_sim.accounts import create_account
    from kucoin_sim.app import build_apps
    from kucoin_sim.config import SimConfig
    from kucoin_sim.engine import AccountType, OrderRequest, Side

    # KuCoin's default pools stay on: each account places 200 orders of weight 1 (< 4000)
    apps = build_apps(SimConfig(tick_ms=0, engine={"market_makers": []}), 7)
    ex, now = apps.state.exchange, apps.state.now_ms()
    maker = ex.create_user(ephemeral=True)
    ex.fund(maker, AccountType.TRADE_HF, "BTC", Decimal(RESTING * 2), now)
    for i in range(RESTING):
        price = Decimal(30000) + Decimal(i) / 10
        ex.place(OrderRequest(maker, SYMBOL, Side.SELL, price=price, size=Decimal(1),
                              account_type=AccountType.TRADE_HF), now)  # fmt: skip
    ex.outbox.enabled = False  # no WebSocket consumers in this run
    accounts = [
        create_account(apps.state, {"hf": True, "balances": {"USDT": "1000000000"}}, now)
        for _ in range(ACCOUNTS)
    ]
    print(json.dumps(accounts), flush=True)
    web.run_app(apps.spot, host="127.0.0.1", port=port, print=None, access_log=None)


class _Conn(asyncio.Protocol):
    """A minimal keep-alive HTTP/1.1 client connection: cheap, so the server gets the CPU."""

    def __init__(self) -> None:
        self.buf = b""
        self.done: asyncio.Future[bytes] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0 or self.done is None:
            return
        head = self.buf[:head_end].lower()
        start = head.find(b"content-length:") + len(b"content-length:")
        length = int(head[start : head.find(b"\r\n", start)])
        if len(self.buf) >= head_end + 4 + length:
            body = self.buf[head_end + 4 : head_end + 4 + length]
            self.buf = self.buf[head_end + 4 + length :]
            self.done.set_result(body)

    async def request(self, raw: bytes) -> bytes:
        assert self.transport is not None
        self.done = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.done


def _request(acct: dict[str, Any], passphrase: str, oid: str, price: int) -> bytes:
    path = "/api/v1/hf/orders"
    body = (
        f'{{"clientOid":"{oid}","side":"buy","symbol":"{SYMBOL}","type":"limit",'
        f'"price":"{price}","size":"0.0001"}}'
    ).encode()
    ts = str(time.time_ns() // 1_000_000)
    sign = _hmac(acct["secret"], (ts + "POST" + path).encode() + body)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"KC-API-KEY: {acct['apiKey']}\r\nKC-API-SIGN: {sign}\r\nKC-API-TIMESTAMP: {ts}\r\n"
        f"KC-API-PASSPHRASE: {passphrase}\r\nKC-API-KEY-VERSION: 3\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _worker(port: int, accounts: list[dict[str, Any]], stop_at: float, wid: int,
                  counts: dict[str, int]) -> None:  # fmt: skip
    """Place resting buy orders below the asks, moving to the next account every 200."""
    loop = asyncio.get_running_loop()
    transport, conn = await loop.create_connection(_Conn, "127.0.0.1", port)
    n = 0
    try:
        while time.perf_counter() < stop_at:
            if n % PER_ACCOUNT == 0:
                if not accounts:
                    raise RuntimeError("out of bench accounts: raise ACCOUNTS")
                acct = accounts.pop()
                passphrase = _hmac(acct["secret"], acct["passphrase"].encode())
            n += 1
            raw = _request(acct, passphrase, f"b{wid}-{n}", 20000 - n % 1000)
            body = await conn.request(raw)
            key = "ok" if b'"code":"200000"' in body else json.loads(body).get("code", "?")
            counts[key] = counts.get(key, 0) + 1
    finally:
        transport.close()


async def load(
    port: int,
    accounts: list[dict[str, Any]],
    seconds: float,
    inflight: int,
    on_start: Any = None,
) -> dict[str, Any]:
    """Warm up for 1 s, then measure ``seconds`` with ``inflight`` concurrent requests."""
    warm: dict[str, int] = {}
    end = time.perf_counter() + 1.0
    await asyncio.gather(*(_worker(port, accounts, end, -i, warm) for i in range(inflight)))
    counts: dict[str, int] = {}
    if on_start is not None:
        on_start()
    start = time.perf_counter()
    cpu_start = time.process_time()
    end = start + seconds
    await asyncio.gather(*(_worker(port, accounts, end, i, counts) for i in range(inflight)))
    elapsed = time.perf_counter() - start
    client_cpu = time.process_time() - cpu_start
    rate = counts.get("ok", 0) / elapsed
    return {"counts": counts, "elapsed": elapsed, "rate": rate, "client_cpu": client_cpu}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=int)
    parser.add_argument("--port", type=int, default=18190)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--inflight", type=int, default=20)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, __file__, "--serve", str(args.port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        accounts = json.loads(child.stdout.readline())
        time.sleep(0.5)
        cpu_start: list[float] = []
        result = asyncio.run(
            load(
                args.port,
                accounts,
                args.seconds,
                args.inflight,
                lambda: cpu_start.append(_cpu_seconds(child.pid)),
            )
        )
        cpu = _cpu_seconds(child.pid) - cpu_start[0]
    finally:
        child.terminate()
        child.wait(timeout=10)
    rate = round(result["rate"], 1)
    total = sum(result["counts"].values()) + 1
    print(
        f"# {result['counts']} in {result['elapsed']:.1f} s; server CPU "
        f"{cpu * 1e6 / total:.0f} us/request -> one free core would do "
        f"~{total / cpu:.0f}/s; load generator CPU {result['client_cpu'] * 1e6 / total:.0f} "
        f"us/request; load average {os.getloadavg()[0]:.2f}",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "bench": "sim_authenticated_order_placements",
                "unit": "orders/s",
                "ours": rate,
                "floor": 2000,
                "ratio_vs_floor": round(rate / 2000, 3),
                "goal": f">= 2000 orders/s, {args.inflight} in flight, {RESTING} resting orders",
                "met": rate >= 2000,
            }
        )
    )


if __name__ == "__main__":
    main()
