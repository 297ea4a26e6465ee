"""GET /v1/bots/{id}/performance: trades, fees, realized and unrealized P&L from the bot's fills."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.bots.performance import (
    BotFill,
    EquityPoint,
    books,
    equity_curve,
    max_drawdown,
)
from tests.helpers.gateway import auth, gateway_stack
from tests.helpers.signals import add_paper_account, create_bot, send_standard

D = Decimal


def test_average_cost_books() -> None:
    fills = [
        BotFill("X-Y", "buy", D(100), D(2), D("0.2"), "Y", 1),
        BotFill("X-Y", "buy", D(130), D(1), D("0.1"), "Y", 2),  # average cost 110
        BotFill("X-Y", "sell", D(120), D(2), D("0.2"), "Y", 3),  # realizes +20
        BotFill("X-Y", "sell", D(100), D(3), D("0.3"), "Y", 4),  # -10 on 1, then short 2 at 100
    ]
    book = books(fills)["X-Y"]
    assert (book.trades, book.position, book.cost, book.realized) == (4, D(-2), D(100), D(10))
    assert book.fees == {"Y": D("0.8")}
    assert book.unrealized(D(90)) == D(20) and book.unrealized(None) is None


def test_equity_curve_and_drawdown() -> None:
    fills = [
        BotFill("X-Y", "buy", D(100), D(2), D(1), "Y", 1),  # -1 (fee)
        BotFill("X-Y", "sell", D(110), D(1), D(0), "X", 2),  # +10 realized, +10 open: 19
        BotFill("A-Y", "buy", D(5), D(10), D(0), "Y", 3),  # 19
        BotFill("X-Y", "sell", D(90), D(1), D(0), "Y", 4),  # realized 10 - 10 = 0, fee -1: -1
    ]
    curve = equity_curve(fills, {"X-Y": D(80), "A-Y": D(7), "B-Y": D(1)}, 10)
    assert curve == [
        EquityPoint(1, D(-1)), EquityPoint(2, D(19)), EquityPoint(3, D(19)),
        EquityPoint(4, D(-1)), EquityPoint(10, D(19)),  # A-Y marked at 7: +20
    ]  # fmt: skip
    assert max_drawdown(curve) == D(20)
    assert max_drawdown([EquityPoint(1, D(-3)), EquityPoint(2, D(-1))]) == D(3)
    assert equity_curve([], {"X-Y": D(1)}, 10) == [] and max_drawdown([]) == 0


async def test_report_matches_the_bots_fills(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        await add_paper_account(stack, tenant)
        key = await stack.key(tenant, Scope.BOTS_MANAGE, Scope.READ)
        bot = await create_bot(stack, key, "standard")
        other = await create_bot(stack, key, "standard")  # same account: its fills are not ours
        for action in ("buy", "buy", "sell"):
            body = {"action": action, "symbol": "BTC-USDT"}
            assert (await send_standard(stack.http, bot, body)).status_code == 202
        assert (await send_standard(stack.http, other, {"action": "buy"})).status_code == 202
        assert stack.services.signals is not None
        await stack.services.signals.executor.drain()
        resp = await stack.http.get(f"/v1/bots/{bot['id']}/performance", headers=auth(key))
        assert resp.status_code == 200, resp.text
        report = resp.json()
        assert report["mode"] == "paper" and len(report["symbols"]) == 1
        row = report["symbols"][0]
        fills = (await stack.http.get(
            "/v1/fills?account=paper&symbol=BTC-USDT", headers=auth(key)
        )).json()  # fmt: skip
        orders = (await stack.http.get("/v1/orders", headers=auth(key))).json()
        log = (await stack.http.get(f"/v1/signals?bot={bot['id']}", headers=auth(key))).json()
        ours = {
            o["exchangeOrderId"] for o in orders if o["id"] in {i for s in log for i in s["orders"]}
        }
        mine = [f for f in fills if f["orderId"] in ours]
        assert row["trades"] == len(mine) >= 3
        assert D(row["position"]) == D("0.001")
        fees = sum((D(f["fee"]) for f in mine), D(0))
        assert D(row["fees"][mine[0]["feeCurrency"]]) == fees
        again = books(
            BotFill("BTC-USDT", f["side"], D(f["price"]), D(f["size"]), D(f["fee"]),
                    f["feeCurrency"], f["createdAt"])
            for f in mine
        )["BTC-USDT"]  # fmt: skip
        assert D(row["realizedPnl"]) == again.realized
        assert D(row["unrealizedPnl"]) == again.unrealized(D(row["last"]))
        curve = equity_curve(
            [BotFill("BTC-USDT", f["side"], D(f["price"]), D(f["size"]), D(f["fee"]),
                     f["feeCurrency"], f["createdAt"]) for f in mine],
            {"BTC-USDT": D(row["last"])}, report["equity"][-1]["at"],
        )  # fmt: skip
        assert [(p["at"], D(p["equity"])) for p in report["equity"]] == [
            (p.at, p.equity) for p in curve
        ]
        assert D(report["maxDrawdown"]) == max_drawdown(curve)
