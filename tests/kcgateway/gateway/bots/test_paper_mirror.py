"""Paper trading on a mirrored market: a paper bot fills against the reference market's book.

The reference is another simulator (as offline and in CI); its book is set through its control
API, the gateway follows it through its own book feed (public REST + WebSocket) and copies it
into the paper simulator, and the bot's fills must be exactly what that book offered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kcgateway.devmode import EmbeddedSim
from kcgateway.errors import ConfigError, ExchangeUnavailable
from kcgateway.exchange.hosts import KUCOIN
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.books import BookView
from kcgateway.gateway.bots.mirror import PaperMirror
from kcgateway.gateway.bots.performance import BotFill, books
from kcgateway.main import paper_mirror
from kcgateway.settings import Settings
from tests.helpers.gateway import Stack, auth, gateway_stack
from tests.helpers.signals import add_paper_account, create_bot, send_standard

D = Decimal
Level = tuple[Decimal, Decimal]


async def _set_book(url: str, bids: list[list[str]], asks: list[list[str]]) -> None:
    async with aiohttp.ClientSession() as http:
        body = {"symbol": "BTC-USDT", "bids": bids, "asks": asks}
        async with http.post(url + "/_sim/books", json=body) as resp:
            assert resp.status == 200, await resp.text()


async def _paper_follows(stack: Stack, side: str, levels: list[list[str]]) -> None:
    """Wait until the paper simulator's book shows these levels (the mirror copied them)."""
    expected = [(D(p), D(s)) for p, s in levels]
    async with asyncio.timeout(30):
        while list(getattr(stack.sim.state.exchange.book("BTC-USDT"), side)) != expected:
            await asyncio.sleep(0.05)


async def _bot_fills(stack: Stack, key: str, bot: dict[str, Any]) -> list[dict[str, Any]]:
    fills = (await stack.http.get(
        "/v1/fills?account=paper&symbol=BTC-USDT", headers=auth(key)
    )).json()  # fmt: skip
    orders = (await stack.http.get("/v1/orders", headers=auth(key))).json()
    log = (await stack.http.get(f"/v1/signals?bot={bot['id']}", headers=auth(key))).json()
    mine = {i for s in log for i in s["orders"]}
    ours = {o["exchangeOrderId"] for o in orders if o["id"] in mine}
    return [f for f in fills if f["orderId"] in ours]


async def test_paper_bot_fills_only_at_the_reference_books_prices(tmp_path: Path) -> None:
    reference = await EmbeddedSim.start(seed=11, tick_ms=0)
    try:
        async with gateway_stack(tmp_path) as stack:
            signals = stack.services.signals
            assert signals is not None
            settings = Settings(data_dir=tmp_path, paper_reference_url=reference.spot_url)
            mirror = paper_mirror(settings, stack.sim.hosts, now=lambda: datetime.now(UTC))
            assert mirror is not None
            signals.mirror = signals.executor.mirror = mirror
            tenant = await stack.add_tenant("t1")
            await add_paper_account(stack, tenant)
            key = await stack.key(tenant, Scope.BOTS_MANAGE, Scope.READ)
            bot = await create_bot(stack, key, "standard")
            # the reference market: thin asks, so a 0.001 buy walks three levels
            asks = [["65010.5", "0.0004"], ["65011.7", "0.0004"], ["65013.1", "1"]]
            await _set_book(reference.spot_url, [["64990.3", "1"]], asks)
            await signals.start()  # follows the paper bots' symbols with no signal yet
            await _paper_follows(stack, "asks", asks)
            assert list(stack.sim.state.exchange.book("BTC-USDT").bids) == [(D("64990.3"), D(1))]
            assert (await send_standard(stack.http, bot, {"action": "buy"})).status_code == 202
            await signals.executor.drain()
            bought = await _bot_fills(stack, key, bot)
            assert sorted((D(f["price"]), D(f["size"])) for f in bought) == [
                (D("65010.5"), D("0.0004")), (D("65011.7"), D("0.0004")),
                (D("65013.1"), D("0.0002")),
            ]  # fmt: skip
            assert all(f["side"] == "buy" and D(f["fee"]) > 0 for f in bought)
            # the reference moves: the paper market follows it, the close fills at its bids
            bids = [["64950.7", "0.0003"], ["64949.9", "1"]]
            await _set_book(reference.spot_url, bids, [["64960.1", "1"]])
            await _paper_follows(stack, "bids", bids)  # the feed delivered the move
            assert (await send_standard(stack.http, bot, {"action": "close"})).status_code == 202
            await signals.executor.drain()
            every = await _bot_fills(stack, key, bot)
            sold = [f for f in every if f["side"] == "sell"]
            assert sorted((D(f["price"]), D(f["size"])) for f in sold) == [
                (D("64949.9"), D("0.0007")), (D("64950.7"), D("0.0003")),
            ]  # fmt: skip
            offered = {
                ("buy" if side == "asks" else "sell", price)
                for pushed in mirror.history["BTC-USDT"]
                for side in ("asks", "bids")
                for price, _ in getattr(pushed.book, side)
            }
            assert {("buy", D("65010.5")), ("sell", D("64950.7"))} <= offered
            assert all((f["side"], D(f["price"])) in offered for f in every)
            resp = await stack.http.get(f"/v1/bots/{bot['id']}/performance", headers=auth(key))
            row = resp.json()["symbols"][0]
            again = books(
                BotFill("BTC-USDT", f["side"], D(f["price"]), D(f["size"]), D(f["fee"]),
                        f["feeCurrency"], f["createdAt"])
                for f in every
            )["BTC-USDT"]  # fmt: skip
            assert D(row["realizedPnl"]) == again.realized and D(row["position"]) == 0
            assert again.realized < 0  # bought at the asks, sold lower at the bids
    finally:
        await reference.aclose()


def test_no_mirror_unless_asked_and_never_with_kucoin_as_the_exchange(tmp_path: Path) -> None:
    now = lambda: datetime.now(UTC)  # noqa: E731
    assert paper_mirror(Settings(data_dir=tmp_path), KUCOIN, now=now) is None
    following = Settings(data_dir=tmp_path, paper_reference_url="https://api.kucoin.com")
    with pytest.raises(ConfigError, match="real money"):
        paper_mirror(following, KUCOIN, now=now)


class _Reference:
    def __init__(self) -> None:
        self.asks: tuple[Level, ...] = ((D(11), D(1)),)
        self.closed = False

    async def book(self, symbol: str, depth: int) -> BookView:
        return BookView(symbol, "stream", 1, 0, ((D(10), D(1)),), self.asks)

    async def aclose(self) -> None:
        self.closed = True


class _Paper:
    def __init__(self) -> None:
        self.pushed: list[tuple[str, tuple[Level, ...]]] = []
        self.fail = False
        self.closed = False

    async def mirror(self, symbol: str, bids: Sequence[Level], asks: Sequence[Level]) -> None:
        if self.fail:
            raise ExchangeUnavailable("paper_mirror", "down")
        self.pushed.append((symbol, tuple(asks)))

    async def aclose(self) -> None:
        self.closed = True


async def test_mirror_pushes_changed_books_only_and_keeps_following_after_a_failure() -> None:
    reference, paper = _Reference(), _Paper()
    mirror = PaperMirror(reference, paper, now_ms=lambda: 5, period_s=0.01)
    await mirror.sync("BTC-USDT")
    await mirror.sync("BTC-USDT")  # unchanged: not pushed again
    assert paper.pushed == [("BTC-USDT", ((D(11), D(1)),))]
    paper.fail, reference.asks = True, ((D(12), D(1)),)
    with pytest.raises(ExchangeUnavailable):
        await mirror.sync("BTC-USDT")
    mirror.follow(["ETH-USDT"])
    mirror.start()  # the background loop logs the failure and carries on
    paper.fail = False
    for _ in range(3000):
        if ("ETH-USDT", ((D(12), D(1)),)) in paper.pushed and len(paper.pushed) >= 3:
            break
        await asyncio.sleep(0.01)
    assert ("BTC-USDT", ((D(12), D(1)),)) in paper.pushed
    assert ("ETH-USDT", ((D(12), D(1)),)) in paper.pushed
    assert [p.at_ms for p in mirror.history["BTC-USDT"]] == [5, 5]
    await mirror.aclose()
    assert reference.closed and paper.closed


async def test_a_bot_whose_paper_account_is_its_live_account_is_refused(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        key = await stack.key(tenant, Scope.BOTS_MANAGE)
        body = {"name": "same", "account": "main", "paperAccount": "main", "symbols": ["BTC-USDT"],
                "sizing": "size", "sizingValue": "0.001", "maxPosition": "0.01",
                "profile": "standard"}  # fmt: skip
        resp = await stack.http.post("/v1/bots", json=body, headers=auth(key))
        assert resp.status_code == 400, resp.text
        assert "paper account must not be the live account" in resp.text
