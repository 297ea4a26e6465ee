"""The official universal SDK (requests, real loopback port) places and cancels an HF order."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest

from kucoin_sim.config import SimConfig
from tests.kucoin_sim.harness import running_sim


def _sdk() -> Any:
    """Import the SDK lazily: its models trigger pydantic deprecation warnings on import."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import kucoin_universal_sdk.api.client as client_mod
        import kucoin_universal_sdk.generate.spot.order as order_mod
        import kucoin_universal_sdk.model.client_option as option_mod
        import kucoin_universal_sdk.model.transport_option as transport_mod
    return client_mod, order_mod, option_mod, transport_mod


def _client(
    acct: dict[str, Any], spot: str, futures: str, broker: dict[str, Any] | None = None
) -> Any:
    client_mod, _, option_mod, transport_mod = _sdk()
    builder = option_mod.ClientOptionBuilder()
    if broker is not None:
        builder = (
            builder.set_broker_partner(broker["partner"])
            .set_broker_name(broker["brokerName"])
            .set_broker_key(broker["brokerKey"])
        )
    option = (
        builder.set_key(acct["apiKey"])
        .set_secret(acct["secret"])
        .set_passphrase(acct["passphrase"])
        .set_spot_endpoint(spot)
        .set_futures_endpoint(futures)
        .set_broker_endpoint(spot)
        .set_transport_option(transport_mod.TransportOptionBuilder().build())
        .build()
    )
    return client_mod.DefaultClient(option)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's pydantic usage
async def test_universal_sdk_hf_order_round_trip() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine={"market_makers": []})) as sim:
        acct = await sim.account(hf=True)

        def run() -> tuple[Any, Any, Any]:
            o = _sdk()[1]
            client = _client(acct, sim.spot, sim.futures)
            market = client.rest_service().get_spot_service().get_market_api()
            server_time = market.get_server_time().data
            orders = client.rest_service().get_spot_service().get_order_api()
            req = (
                o.AddOrderReqBuilder()
                .set_client_oid("sdk-1")
                .set_side(o.AddOrderReq.SideEnum.BUY)
                .set_symbol("BTC-USDT")
                .set_type(o.AddOrderReq.TypeEnum.LIMIT)
                .set_price("20000")
                .set_size("0.001")
                .build()
            )
            placed = orders.add_order(req)
            got = orders.get_order_by_order_id(
                o.GetOrderByOrderIdReqBuilder()
                .set_order_id(placed.order_id)
                .set_symbol("BTC-USDT")
                .build()
            )
            cancelled = orders.cancel_order_by_order_id(
                o.CancelOrderByOrderIdReqBuilder()
                .set_order_id(placed.order_id)
                .set_symbol("BTC-USDT")
                .build()
            )
            return server_time, got, cancelled

        server_time, got, cancelled = await asyncio.to_thread(run)
        assert abs(server_time - sim.apps.state.now_ms()) < 5_000
        assert got.active is True and got.price == "20000"
        assert cancelled.order_id == got.id
        seen = await sim.admin("GET", "/_sim/orders?clientOid=sdk-1")
        assert seen["accepted"] == 1 and seen["orders"][0]["active"] is False


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_universal_sdk_nd_broker_calls_carry_valid_partner_headers() -> None:
    partner = {"partner": "SDKPARTNER", "name": "SDKBROKER"}
    cfg = SimConfig(tick_ms=0, engine={"market_makers": []}, partners=(partner,))
    async with running_sim(cfg) as sim:
        broker = sim.apps.created_accounts[0]

        def run() -> tuple[Any, Any]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                import kucoin_universal_sdk.generate.broker.ndbroker as nd
            api = (
                _client(broker, sim.spot, sim.futures, broker)
                .rest_service()
                .get_broker_service()
                .get_nd_broker_api()
            )
            info = api.get_broker_info(
                nd.GetBrokerInfoReqBuilder()
                .set_begin("20240101")
                .set_end("20240201")
                .set_trade_type(nd.GetBrokerInfoReq.TradeTypeEnum.T_1)
                .build()
            )
            sub = api.add_sub_account(
                nd.AddSubAccountReqBuilder().set_account_name("sdk-sub").build()
            )
            return info, sub

        info, sub = await asyncio.to_thread(run)
        assert info.account_size == 0
        assert sub.account_name == "sdk-sub" and sub.uid in sim.apps.state.users
