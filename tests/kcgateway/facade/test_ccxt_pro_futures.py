"""The facade's futures private WebSocket (issue 14): ccxt.pro's kucoinfutures, pointed at the
facade with gateway-issued credentials, watches its contract orders (each change once), its
position (``/contract/position``, through the spot bullet as ccxt does) and its futures wallet
(``/contractAccount/wallet``, through the futures host's own bullet)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import ccxt.pro as ccxt_pro

from kcgateway.gateway.apikeys import Scope
from tests.helpers.facade import facade_url, issue, point_futures
from tests.helpers.gateway import gateway_stack

SYMBOL = "BTC/USDT:USDT"
WAIT_S = 30.0


async def _subscribed(ex: Any, topic: str, held: str | None = None) -> None:
    """Until one of ccxt's connections holds ``topic`` (under ``held``) and its ack arrived."""
    async with asyncio.timeout(WAIT_S):
        while True:
            for client in list(ex.clients.values()):
                subs = client.subscriptions
                pending = [k for k, v in subs.items() if v == topic and str(k).isdigit()]
                if (held or topic) in subs and not pending:
                    return
            await asyncio.sleep(0.02)


def _record(ex: Any) -> list[tuple[str, str]]:
    """Every contract order message ccxt handles, as (type, orderId), in arrival order."""
    seen: list[tuple[str, str]] = []
    handle = ex.handle_order

    def spy(client: Any, message: dict[str, Any]) -> None:
        assert message["topic"] == "/contractMarket/tradeOrders"
        seen.append((message["data"]["type"], message["data"]["orderId"]))
        handle(client, message)

    ex.handle_order = spy
    return seen


async def _until(ex: Any, seen: list[tuple[str, str]], last: tuple[str, str]) -> None:
    async with asyncio.timeout(WAIT_S):
        while last not in seen:
            await ex.watch_orders(SYMBOL)


async def test_ccxt_pro_kucoinfutures_watches_orders_position_and_wallet(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("bots")
        await stack.fund(tenant, "futures", {"USDT": "50000"})
        creds = await issue(stack, tenant, Scope.READ, Scope.TRADE_FUTURES)
        assert stack.services.events is not None
        logging.getLogger("ccxt.base.exchange").setLevel(logging.INFO)  # the bot's own log
        async with facade_url(stack) as spot, facade_url(stack, futures=True) as futures:
            ex = point_futures(ccxt_pro.kucoinfutures(creds.ccxt()), spot, futures)
            seen = _record(ex)
            try:
                await ex.load_markets()
                bid = (await ex.fetch_order_book(SYMBOL))["bids"][0][0]
                low = round(bid * 0.9, 1)
                # the gateway follows an account's futures stream once it trades futures
                first = await ex.create_order(SYMBOL, "limit", "buy", 1, low, {"leverage": 5})
                await ex.cancel_order(first["id"], SYMBOL)
                await stack.services.events.rescan()
                watching = asyncio.ensure_future(ex.watch_orders(SYMBOL))
                await _subscribed(ex, "/contractMarket/tradeOrders")
                (snapshot,) = await ex.watch_position(SYMBOL)  # ccxt's REST snapshot first
                assert snapshot["contracts"] in (None, 0)
                position = asyncio.ensure_future(ex.watch_position(SYMBOL))
                wallet = asyncio.ensure_future(ex.watch_balance())
                await _subscribed(ex, "/contract/position:XBTUSDTM")
                await _subscribed(ex, "/contractAccount/wallet", "contract")

                placed = await ex.create_order(SYMBOL, "limit", "buy", 1, low, {"leverage": 5})
                await ex.cancel_order(placed["id"], SYMBOL)
                await watching
                await _until(ex, seen, ("canceled", placed["id"]))
                assert seen == [("open", placed["id"]), ("canceled", placed["id"])]
                taker = await ex.create_order(SYMBOL, "market", "buy", 2, None, {"leverage": 5})
                await _until(ex, seen, ("filled", taker["id"]))
                assert seen[2:] == [("open", taker["id"]), ("match", taker["id"]),
                                    ("filled", taker["id"])]  # fmt: skip
                mine = {o["id"]: o for o in ex.orders}
                assert (mine[placed["id"]]["status"], mine[taker["id"]]["status"]) == (
                    "canceled", "closed")  # fmt: skip
                assert mine[taker["id"]]["filled"] == 2
                assert mine[taker["id"]]["clientOrderId"] == taker["clientOrderId"]

                async with asyncio.timeout(WAIT_S):
                    moved = await position
                    balance = await wallet
                assert (moved["contracts"], moved["side"]) == (2, "long")
                assert moved["symbol"] == SYMBOL
                assert 0 < balance["USDT"]["free"] < 50000
                assert balance["USDT"]["used"] > 0  # the position's margin
            finally:
                await ex.close()
                logging.getLogger("ccxt.base.exchange").setLevel(logging.NOTSET)
        await stack.services.events.aclose()
