"""The illiquid symbol (issue 13, simulator support): a thin book and a tiny 24 h volume."""

from __future__ import annotations

from decimal import Decimal

from tests.kucoin_sim.harness import running_sim


async def test_thin_symbol_has_a_thin_book_low_volume_and_moves_on_a_small_order() -> None:
    async with running_sim() as sim:  # the default symbols and market makers
        book = await sim.ok(None, "GET", "/api/v1/market/orderbook/level2_20?symbol=THIN-USDT")
        assert 0 < len(book["asks"]) <= 3 and 0 < len(book["bids"]) <= 3
        tickers = {
            t["symbol"]: t
            for t in (await sim.ok(None, "GET", "/api/v1/market/allTickers"))["ticker"]
        }
        thin, btc = tickers["THIN-USDT"], tickers["BTC-USDT"]
        assert Decimal(thin["volValue"]) < 2000 < 1_000_000 < Decimal(btc["volValue"])
        usdt = [t for t in tickers.values() if t["symbol"].endswith("-USDT")]
        ranked = sorted(usdt, key=lambda t: Decimal(t["volValue"]), reverse=True)
        assert ranked[-1]["symbol"] == "THIN-USDT"  # last by 24 h turnover in USDT
        stats = await sim.ok(None, "GET", "/api/v1/market/stats?symbol=THIN-USDT")
        assert stats["vol"] == thin["vol"] and Decimal(stats["vol"]) == 20000
        buyer = await sim.account(hf=True, balances={"USDT": "1000"})
        before = Decimal(book["asks"][0][0])
        order = {"clientOid": "thin-1", "symbol": "THIN-USDT", "side": "buy", "type": "market",
                 "funds": "250"}  # fmt: skip
        await sim.ok(buyer, "POST", "/api/v1/hf/orders", order)
        after = await sim.ok(None, "GET", "/api/v1/market/orderbook/level1?symbol=THIN-USDT")
        assert Decimal(after["price"]) > before * Decimal("1.01")  # $250 walked the book
