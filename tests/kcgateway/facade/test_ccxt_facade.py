"""ccxt's kucoin, unmodified but for its base URL and gateway-issued credentials, trades through
the facade: markets, book, balance, orders and trades; every order is a gateway intent with
audit records and an order at the simulator (issue 14)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kcgateway.gateway.apikeys import Scope
from kcgateway.store.tables import AuditRecord
from tests.helpers.facade import ccxt_kucoin, facade_url, issue
from tests.helpers.gateway import gateway_stack

SYMBOL = "BTC/USDT"


async def _audit_subjects(stack: Any, actor: str) -> list[str]:
    query = select(AuditRecord.action).where(AuditRecord.actor == actor)
    async with stack.services.db.read() as session:
        return [str(a) for a in (await session.scalars(query)).all()]


async def _trade(ex: Any, stack: Any) -> tuple[str, str]:
    """The ordinary flow; returns the resting order's and the filled order's clientOids."""
    await ex.load_markets()
    assert SYMBOL in ex.markets
    book = await ex.fetch_order_book(SYMBOL)
    bid, ask = book["bids"][0][0], book["asks"][0][0]
    balance = await ex.fetch_balance()
    assert balance["USDT"]["free"] == 1_000_000
    resting = await ex.create_order(SYMBOL, "limit", "buy", 0.001, round(bid * 0.95, 1))
    fetched = await ex.fetch_order(resting["id"], SYMBOL)
    assert fetched["status"] == "open"
    assert [o["id"] for o in await ex.fetch_open_orders(SYMBOL)] == [resting["id"]]
    await ex.cancel_order(resting["id"], SYMBOL)
    assert (await ex.fetch_order(resting["id"], SYMBOL))["status"] == "canceled"
    taker = await ex.create_order(SYMBOL, "limit", "buy", 0.001, round(ask * 1.01, 1))
    filled = await ex.fetch_order(taker["id"], SYMBOL)
    assert filled["status"] == "closed"
    trades = await ex.fetch_my_trades(SYMBOL)
    assert {t["order"] for t in trades} == {taker["id"]}
    return fetched["clientOrderId"], filled["clientOrderId"]


@pytest.mark.parametrize("hf", [True, False], ids=["hf", "classic"])
async def test_ccxt_trades_through_the_facade(tmp_path: Path, hf: bool) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("bots", hf=hf)
        creds = await issue(stack, tenant, Scope.READ, Scope.TRADE_SPOT)
        async with facade_url(stack) as url:
            ex = ccxt_kucoin(url, creds)
            try:
                resting_oid, taker_oid = await _trade(ex, stack)
            finally:
                await ex.close()
        orders = stack.services.orders
        views = [await orders.get(tenant.id, v.id) for v in await orders.list(tenant.id)]
        states = {v.client_oid: v.state.value for v in views}
        assert states == {resting_oid: "cancelled", taker_oid: "filled"}
        for oid in (resting_oid, taker_oid):  # exactly one exchange order each, same clientOid
            found = await stack.sim_admin("GET", f"/_sim/orders?clientOid={oid}")
            assert found["accepted"] == 1
        actions = await _audit_subjects(stack, creds.key_id)
        assert actions.count("order.intent") == 2 and "order.cancel" in actions
