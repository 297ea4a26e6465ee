"""ccxt's kucoin classes against the simulator (CLIENT-QUIRKS.md sections 1 and 4)."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from kucoin_sim.config import SimConfig
from tests.kucoin_sim.harness import Sim, running_sim

SMALL = SimConfig(tick_ms=0, engine={"market_makers": []})


def _point(ex: Any, spot: str, futures: str) -> Any:
    for name, value in list(ex.urls["api"].items()):
        if isinstance(value, str):
            ex.urls["api"][name] = futures if name.startswith("futures") else spot
    return ex


def _creds(acct: dict[str, Any]) -> dict[str, Any]:
    return {"apiKey": acct["apiKey"], "secret": acct["secret"], "password": acct["passphrase"]}


async def _seed_book(sim: Sim) -> None:
    maker = await sim.account()
    for price in ("19000", "19500"):
        await sim.ok(
            maker,
            "POST",
            "/api/v1/orders",
            {
                "clientOid": f"m{price}",
                "side": "buy",
                "symbol": "BTC-USDT",
                "type": "limit",
                "price": price,
                "size": "0.01",
            },
        )
    for price in ("21000", "21500"):
        await sim.ok(
            maker,
            "POST",
            "/api/v1/orders",
            {
                "clientOid": f"m{price}",
                "side": "sell",
                "symbol": "BTC-USDT",
                "type": "limit",
                "price": price,
                "size": "0.01",
            },
        )


async def _exercise(ex: Any, sim: Sim, hf: bool) -> None:
    await ex.load_markets()
    assert "BTC/USDT" in ex.markets
    assert abs(await ex.fetch_time() - sim.apps.state.now_ms()) < 5_000
    book = await ex.fetch_order_book("BTC/USDT")
    assert book["bids"][0][0] == 19500 and book["asks"][0][0] == 21000
    assert len((await ex.fetch_order_book("BTC/USDT", 20))["asks"]) == 2
    await ex.fetch_ohlcv("BTC/USDT", "1m")
    ticker = await ex.fetch_ticker("BTC/USDT")
    assert ticker["bid"] == 19500
    balance = await ex.fetch_balance()
    assert balance["USDT"]["free"] == 100000
    order = await ex.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
    fetched = await ex.fetch_order(order["id"], "BTC/USDT")
    assert fetched["status"] == "open" and fetched["price"] == 20000
    assert ("inOrderBook" in fetched["info"]) is hf  # HF paths answer the HF order shape
    assert [o["id"] for o in await ex.fetch_open_orders("BTC/USDT")] == [order["id"]]
    await ex.cancel_order(order["id"], "BTC/USDT")
    assert (await ex.fetch_order(order["id"], "BTC/USDT"))["status"] == "canceled"
    taker = await ex.create_order("BTC/USDT", "limit", "buy", 0.002, 21000)
    assert (await ex.fetch_order(taker["id"], "BTC/USDT"))["status"] == "closed"


@pytest.mark.parametrize("hf", [False, True], ids=["classic", "hf"])
async def test_ccxt_async_kucoin(hf: bool) -> None:
    async with running_sim(SMALL) as sim:
        await _seed_book(sim)
        acct = await sim.account(hf=hf)
        ex = _point(ccxt_async.kucoin(_creds(acct)), sim.spot, sim.futures)
        try:
            await _exercise(ex, sim, hf)
        finally:
            await ex.close()
        orders = await sim.admin("GET", f"/_sim/fills?uid={acct['uid']}")
        assert len(orders) == 1


async def test_ccxt_public_only_and_sync_client_in_a_thread() -> None:
    async with running_sim(SMALL) as sim:
        await _seed_book(sim)
        acct = await sim.account()

        def run() -> tuple[Any, Any]:
            anon = _point(ccxt.kucoin(), sim.spot, sim.futures)
            anon.load_markets()
            book = anon.fetch_order_book("BTC/USDT")
            ex = _point(ccxt.kucoin(_creds(acct)), sim.spot, sim.futures)
            order = ex.create_order("BTC/USDT", "limit", "sell", 0.001, 30000)
            return book, ex.fetch_order(order["id"], "BTC/USDT")

        book, order = await asyncio.to_thread(run)
        assert book["asks"][0][0] == 21000
        assert order["status"] == "open"


async def test_ccxt_kucoinfutures_order_lifecycle_and_positions() -> None:
    async with running_sim(SimConfig(tick_ms=0)) as sim:
        acct = await sim.account()
        await sim.admin(
            "POST",
            "/_sim/fund",
            {"uid": acct["uid"], "accountType": "futures", "balances": {"USDT": "50000"}},
        )
        ex = _point(ccxt_async.kucoinfutures(_creds(acct)), sim.spot, sim.futures)
        try:
            await ex.load_markets()
            symbol = "BTC/USDT:USDT"
            assert symbol in ex.markets
            book = await ex.fetch_order_book(symbol)
            best_bid = book["bids"][0][0]
            order = await ex.create_order(
                symbol, "limit", "buy", 1, round(best_bid * 0.9, 1), params={"leverage": 5}
            )
            fetched = await ex.fetch_order(order["id"], symbol)
            assert fetched["status"] == "open" and fetched["amount"] == 1
            await ex.cancel_order(order["id"], symbol)
            assert (await ex.fetch_order(order["id"], symbol))["status"] in ("canceled", "closed")
            await ex.create_order(symbol, "market", "buy", 2, params={"leverage": 5})
            positions = await ex.fetch_positions([symbol])
            assert len(positions) == 1 and positions[0]["contracts"] == 2
            assert positions[0]["side"] == "long" and positions[0]["markPrice"] > 0
        finally:
            await ex.close()
