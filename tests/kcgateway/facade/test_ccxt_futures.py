"""ccxt's kucoinfutures through the facade's futures host: contracts, book, balance, an order's
life and positions, with trade:futures; a key without it gets KuCoin's permission error."""

from __future__ import annotations

from pathlib import Path

import ccxt
import pytest

from kcgateway.gateway.apikeys import Scope
from tests.helpers.facade import ccxt_kucoinfutures, facade_url, issue
from tests.helpers.gateway import gateway_stack

SYMBOL = "BTC/USDT:USDT"


async def test_ccxt_kucoinfutures_trades_through_the_facade(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("bots")
        await stack.fund(tenant, "futures", {"USDT": "50000"})
        creds = await issue(stack, tenant, Scope.READ, Scope.TRADE_FUTURES)
        spot_only = await issue(stack, tenant, Scope.READ, Scope.TRADE_SPOT)
        async with facade_url(stack) as spot, facade_url(stack, futures=True) as futures:
            ex = ccxt_kucoinfutures(spot, futures, creds)
            denied = ccxt_kucoinfutures(spot, futures, spot_only)
            try:
                await ex.load_markets()
                assert SYMBOL in ex.markets
                bid = (await ex.fetch_order_book(SYMBOL))["bids"][0][0]
                assert (await ex.fetch_balance())["USDT"]["free"] == 50000
                order = await ex.create_order(
                    SYMBOL, "limit", "buy", 1, round(bid * 0.9, 1), params={"leverage": 5}
                )
                fetched = await ex.fetch_order(order["id"], SYMBOL)
                assert fetched["status"] == "open" and fetched["amount"] == 1
                await ex.cancel_order(order["id"], SYMBOL)
                assert (await ex.fetch_order(order["id"], SYMBOL))["status"] == "canceled"
                await ex.create_order(SYMBOL, "market", "buy", 2, params={"leverage": 5})
                (position,) = await ex.fetch_positions([SYMBOL])
                assert position["contracts"] == 2 and position["side"] == "long"
                await denied.load_markets()
                with pytest.raises(ccxt.AuthenticationError, match="400007"):
                    await denied.create_order(SYMBOL, "market", "buy", 1, params={"leverage": 5})
            finally:
                await ex.close()
                await denied.close()
        views = await stack.services.orders.list(tenant.id, market="futures")
        assert len(views) == 2 and fetched["clientOrderId"] in {v.client_oid for v in views}
