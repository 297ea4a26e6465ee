"""Futures positions count against the limits however they were opened.

The engine read an account's futures positions only once it had seen an OPEN futures order of
the account at one of its refreshes. A position opened elsewhere (another key, the exchange's
site), held from before a restart, or built by market orders that filled between two refreshes
was never read, so ``max_symbol_position`` let every next futures order pass.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from kcgateway.exchange.rest import KuCoinClient
from kcgateway.exchange.services.futures import FuturesOrderRequest
from kcgateway.exchange.transport import AiohttpTransport
from kcgateway.gateway.risk_engine import RiskEngine
from kcgateway.kucoin.signing import Credentials
from kcgateway.risk import MarketKind, OrderType, ProposedOrder, Side, TradingStates
from kcgateway.secret import Secret
from tests.helpers.gateway import (
    Stack,
    Tenant,
    auth,
    futures_body,
    gateway_stack,
    stack_limits,
)

LIMITS = stack_limits(max_symbol_position=Decimal(300))  # about 4.6 lots of XBTUSDTM
MARKET_BUY = {"type": "market", "price": None, "size": 2}


async def _funded(stack: Stack) -> Tenant:
    tenant = await stack.add_tenant("t1")
    await stack.fund(tenant, "futures", {"USDT": "500000"})
    return tenant


async def test_a_position_opened_elsewhere_counts_at_the_first_futures_order(
    tmp_path: Path,
) -> None:
    async with gateway_stack(tmp_path, risk_limits=LIMITS) as stack:
        tenant = await _funded(stack)
        h = auth(tenant.admin_key)
        acct = tenant.sim_account
        creds = Credentials(acct["apiKey"], Secret(acct["secret"]), Secret(acct["passphrase"]))
        async with KuCoinClient(creds, transport=AiohttpTransport(), hosts=stack.sim.hosts) as c:
            outside = FuturesOrderRequest(symbol="XBTUSDTM", side="buy", size=4,
                                          order_type="market", leverage=5)  # fmt: skip
            await c.futures.place(outside)  # 4 lots long, not through the gateway
            assert [p.current_qty for p in await c.futures.positions()] == [4]

        resp = await stack.http.post(  # 2 more lots: about 390 USDT long, over the 300 cap
            "/v1/futures/orders", json=futures_body("main", **MARKET_BUY), headers=h
        )
        assert resp.status_code == 422, resp.text
        assert "risk.max_position" in resp.text, resp.text


async def test_a_restarted_engine_reads_the_positions_its_futures_orders_opened(
    tmp_path: Path,
) -> None:
    async with gateway_stack(tmp_path, risk_limits=LIMITS) as stack:
        tenant = await _funded(stack)
        h = auth(tenant.admin_key)
        for _ in range(2):  # 2 lots each, filled at once: 4 lots long (about 260 USDT)
            resp = await stack.http.post(
                "/v1/futures/orders", json=futures_body("main", **MARKET_BUY), headers=h
            )
            assert resp.status_code == 201, resp.text
        deadline = time.monotonic() + 30
        while await stack.services.orders.reconcile():  # every futures intent settled
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)

        engine = RiskEngine.for_services(  # as after a restart: knows nothing yet
            stack.services, states_for=lambda t, a, k: TradingStates(),
            limits_for=lambda t, a, k: LIMITS, every_s={"accounts": 3600.0},
        )  # fmt: skip
        await engine.start()
        try:
            spot = ProposedOrder(
                tenant_id="", account_id="", key_id="", market=MarketKind.SPOT,
                symbol="BTC-USDT", side=Side.BUY, order_type=OrderType.LIMIT,
                price=Decimal(60000), size=Decimal("0.001"),
            )  # fmt: skip
            await engine.check(spot, tenant=tenant.id, account_id=tenant.account_id,
                               key_id="k", source_ip=None, now=datetime.now(UTC))  # fmt: skip
            positions = engine.accounts.view(tenant.account_id).positions
            assert positions is not None
            assert positions.value["XBTUSDTM"].quantity == 4, positions
        finally:
            await engine.aclose()
