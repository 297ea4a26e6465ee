"""The kill switch's speed (issue 13): 1,000 open orders over 20 accounts and 3 markets, then
``POST /v1/risk/halt`` at gateway level with ``cancelOpen``.

``ours``: seconds from the halt call until every order is cancelled AT THE SIMULATOR (its own
book is read), with ``refused_s``: until a new order is first refused as halted (probed every
20 ms). Peer, same run, same orders: ``one_by_one``, the orders cancelled with one
``DELETE`` each, 24 in flight, through the same gateway (what a client-side kill switch does;
Hummingbot's also polls its trigger only every 10 s, which is not counted here). The drill is
``tests/integration/kill_switch_drill.py``, which also asserts every outcome (refused, all
cancelled, the gateway's records agree); the test of the same name asserts no timing.

Goal: refused within 1 s and every order cancelled within 5 s (medians over ROUNDS rounds).
Run: ``.venv/bin/python bench/bench_kill_switch.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.kill_switch_drill import halt_drill, one_by_one_drill

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
GOAL_REFUSED_S, GOAL_CANCELLED_S = 1.0, 5.0


async def main() -> dict[str, object]:
    refused, cancelled, peer = [], [], []
    for n in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            result = await halt_drill(Path(tmp))
        with tempfile.TemporaryDirectory() as tmp:
            peer.append(await one_by_one_drill(Path(tmp)))
        refused.append(result.refused_after_s)
        cancelled.append(result.cancelled_after_s)
        print(
            f"round {n + 1}: refused after {refused[-1]:.3f} s, all cancelled after "
            f"{cancelled[-1]:.3f} s; one by one: {peer[-1]:.3f} s",
            flush=True,
        )
    ours, refused_s, one_by_one = (statistics.median(v) for v in (cancelled, refused, peer))
    return {
        "bench": "kill_switch_gateway_halt",
        "unit": "s until 1,000 open orders (20 accounts, 3 markets) are cancelled at the exchange",
        "ours": round(ours, 3),
        "refused_s": round(refused_s, 3),
        "one_by_one": round(one_by_one, 3),
        "ratio_vs_one_by_one": round(one_by_one / ours, 2),
        "rounds": ROUNDS,
        "load_average": round(os.getloadavg()[0], 1),
        "goal": f"new orders refused within {GOAL_REFUSED_S:g} s and every order cancelled within "
        f"{GOAL_CANCELLED_S:g} s of the halt call (medians)",
        "met": refused_s <= GOAL_REFUSED_S and ours <= GOAL_CANCELLED_S,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
