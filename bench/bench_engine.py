"""Engine placements per second with 10,000 resting orders on one book.

Builds a BTC-USDT book with 10,000 resting limit orders (5,000 bids below 30,000 and 5,000
asks above, from 50 users), then times N placements: 80% new resting orders at random prices
inside the book, 20% marketable orders that take one or two levels. Events are recorded as in
the server (the outbox is drained every 1,000 orders). No peer engine exists, so the figure is
compared with the 2,000 orders/s floor the issue asks for.

The rate is measured on the process's CPU time (``time.process_time``): the machine is shared
with other jobs, and wall time there measures the neighbours. The wall-clock rate is printed
too (``wall``).
"""

from __future__ import annotations

import json
import random
import time
from decimal import Decimal

from kucoin_sim.engine import (
    DEFAULT_SYMBOLS,
    AccountType,
    Exchange,
    Limits,
    OrderRequest,
    OrderType,
    Side,
)

D = Decimal
T0 = 1_700_000_000_000
RESTING = 10_000
N = 20_000
FLOOR = 2000


def build(rng: random.Random) -> tuple[Exchange, list[str]]:
    ex = Exchange(DEFAULT_SYMBOLS, seed=42)
    users = [ex.create_user() for _ in range(60)]
    for uid in users:
        ex.fund(uid, AccountType.TRADE, "USDT", D(10) ** 12, T0)
        ex.fund(uid, AccountType.TRADE, "BTC", D(10) ** 8, T0)
    for i in range(RESTING):
        side = Side.BUY if i % 2 == 0 else Side.SELL
        offset = D(rng.randrange(1, 20_000)) / 10
        price = D(30000) - offset if side is Side.BUY else D(30000) + offset
        size = D(rng.randrange(1, 100)) / 1000
        ex.place(OrderRequest(users[i % 50], "BTC-USDT", side, price=price, size=size), T0)
    ex.drain_events()
    return ex, users


def requests(rng: random.Random, users: list[str]) -> list[OrderRequest]:
    out = []
    for i in range(N):
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        uid = users[50 + i % 10]
        if rng.random() < 0.2:
            size = D(rng.randrange(1, 50)) / 1000
            out.append(OrderRequest(uid, "BTC-USDT", side, OrderType.MARKET, size=size))
            continue
        offset = D(rng.randrange(1, 20_000)) / 10
        price = D(30000) - offset if side is Side.BUY else D(30000) + offset
        size = D(rng.randrange(1, 100)) / 1000
        out.append(OrderRequest(uid, "BTC-USDT", side, price=price, size=size))
    return out


def main() -> None:
    rng = random.Random(7)
    ex, users = build(rng)
    reqs = requests(rng, users)
    ex.limits = Limits(per_account=10**9, per_symbol=10**9)
    resting_before = len(ex.markets["BTC-USDT"].book)
    start, cpu_start = time.perf_counter(), time.process_time()
    for i, req in enumerate(reqs):
        ex.place(req, T0 + i)
        if i % 1000 == 999:
            ex.drain_events()
    wall = N / (time.perf_counter() - start)
    rate = N / (time.process_time() - cpu_start)
    print(f"resting before: {resting_before}, after: {len(ex.markets['BTC-USDT'].book)}")
    print(
        json.dumps(
            {
                "bench": "engine_placements_10k_resting",
                "unit": "orders/s (CPU time)",
                "ours": round(rate),
                "floor": FLOOR,
                "ratio_vs_floor": round(rate / FLOOR, 2),
                "wall": round(wall),
                "goal": f">= {FLOOR}",
                "met": rate >= FLOOR,
            }
        )
    )


if __name__ == "__main__":
    main()
