"""SyncKuCoinClient against kucoin_sim over real sockets: the sim runs in its own thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from decimal import Decimal
from typing import Any

import pytest

from kcgateway.exchange import Placed, SyncKuCoinClient
from tests.kucoin_sim.harness import Sim, running_sim

from .sim_client import creds, hosts


@pytest.fixture
def sim_thread() -> Iterator[tuple[Sim, asyncio.AbstractEventLoop]]:
    """A running simulator served by an event loop in a background thread."""
    ready: Future[tuple[Sim, asyncio.AbstractEventLoop]] = Future()
    stop = threading.Event()

    async def serve() -> None:
        async with running_sim() as sim:
            ready.set_result((sim, asyncio.get_running_loop()))
            while not stop.is_set():
                await asyncio.sleep(0.02)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    try:
        yield ready.result(timeout=10)
    finally:
        stop.set()
        thread.join(timeout=10)


def _admin(sim: Sim, loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=10)


def test_blocking_client_places_queries_and_resolves(
    sim_thread: tuple[Sim, asyncio.AbstractEventLoop],
) -> None:
    sim, loop = sim_thread
    acct = _admin(sim, loop, sim.account(hf=True))
    with SyncKuCoinClient(creds(acct), hosts=hosts(sim)) as kc:
        assert kc.account.is_hf() is True
        placed = kc.spot.hf.place("BTC-USDT", "buy", price=Decimal("60000"), size=Decimal("0.001"))
        assert kc.spot.hf.get(placed.order_id, "BTC-USDT").active
        assert [o.id for o in kc.spot.hf.active_orders("BTC-USDT")] == [placed.order_id]
        found = kc.spot.hf.resolve(placed.client_oid, "BTC-USDT")
        assert isinstance(found, Placed) and found.order.id == placed.order_id
        kc.spot.hf.cancel(placed.order_id, "BTC-USDT")
