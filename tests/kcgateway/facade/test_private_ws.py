"""The facade's private WebSocket (issue 14): ccxt.pro's kucoin, pointed at the facade with
gateway-issued credentials, watches its own orders and sees open then canceled once each; a
token of another account sees nothing of them; a used or expired token is refused."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.pro as ccxt_pro
import pytest

from kcgateway.errors import FacadeRefused
from kcgateway.exchange.private_feed import BalanceChange
from kcgateway.gateway.accounts import ConnectRequest
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.facade.credentials import FacadePrincipal
from kcgateway.gateway.facade.ws_session import BALANCE, ORDERS_V2
from kcgateway.gateway.keys import Operator
from kcgateway.kucoin.signing import Credentials, sign_request
from kcgateway.secret import Secret
from tests.helpers import leaksuite
from tests.helpers.facade import FacadeCreds, facade_url, issue
from tests.helpers.gateway import Stack, Tenant, gateway_stack

SYMBOL = "BTC/USDT"
WAIT_S = 10.0


def _pro(url: str, creds: FacadeCreds) -> Any:
    ex = ccxt_pro.kucoin(creds.ccxt())
    for name, value in list(ex.urls["api"].items()):
        if isinstance(value, str):
            ex.urls["api"][name] = url
    return ex


async def _acked(ex: Any) -> None:
    """Until ccxt holds the orders subscription and its ack has arrived."""
    async with asyncio.timeout(WAIT_S):
        while True:
            for client in list(ex.clients.values()):
                subs = client.subscriptions
                if "/spotMarket/tradeOrders" in subs and len(subs) == 1:
                    return
            await asyncio.sleep(0.02)


def _record(ex: Any) -> list[tuple[str, str]]:
    """Every order message ccxt handles, as (type, orderId), in arrival order."""
    seen: list[tuple[str, str]] = []
    handle = ex.handle_order

    def spy(client: Any, message: dict[str, Any]) -> None:
        seen.append((message["data"]["type"], message["data"]["orderId"]))
        handle(client, message)

    ex.handle_order = spy
    return seen


async def _second_account(stack: Stack, tenant: Tenant) -> str:
    made = stack.sim.create_account(
        {"hf": True, "balances": {"USDT": "1000000"}, "secret": secrets.token_hex(16),
         "passphrase": secrets.token_hex(8)}
    )  # fmt: skip
    request = ConnectRequest(
        "other", made["apiKey"], Secret(made["secret"]), Secret(made["passphrase"])
    )
    return (await stack.services.accounts.connect(tenant.id, "test", request)).id


async def _bullet(http: aiohttp.ClientSession, url: str, creds: FacadeCreds) -> tuple[str, str]:
    """A hand-signed bullet-private: (endpoint, token)."""
    signer = Credentials(creds.api_key, Secret(creds.secret), Secret(creds.passphrase))
    path = "/api/v1/bullet-private"
    now_ms = int(time.time() * 1000)
    headers = sign_request(signer, method="POST", path=path, body=b"", timestamp_ms=now_ms)
    async with http.post(url + path, headers=headers) as resp:
        answer = await resp.json()
    assert answer["code"] == "200000", answer
    server = answer["data"]["instanceServers"][0]
    assert server["endpoint"] == url.replace("http:", "ws:") + "/facade-ws"
    return server["endpoint"], answer["data"]["token"]


async def _connect(http: aiohttp.ClientSession, endpoint: str, token: str) -> Any:
    ws = await http.ws_connect(f"{endpoint}?token={token}&connectId=c1")
    first = await ws.receive_json(timeout=WAIT_S)
    return ws, first


async def _watch_until(
    ex: Any, seen: list[tuple[str, str]], last: tuple[str, str], first: Any = None
) -> list[Any]:
    """ccxt's orders once the message ``last`` has arrived."""
    async with asyncio.timeout(WAIT_S):
        if first is not None:
            await first
        while last not in seen:
            await ex.watch_orders(SYMBOL)
    return list(ex.orders)


async def test_ccxt_pro_watches_its_orders_once_and_another_account_sees_none(
    tmp_path: Path,
) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("bots")
        creds = await issue(stack, tenant, Scope.READ, Scope.TRADE_SPOT)
        other_id = await _second_account(stack, tenant)
        other = await issue(stack, tenant, Scope.READ, account="other")
        assert stack.services.events is not None
        await stack.services.events.rescan()  # the exchange's own streams: fills, acked -> open
        async with facade_url(stack) as url, aiohttp.ClientSession() as http:
            endpoint, token = await _bullet(http, url, other)
            spy, welcome = await _connect(http, endpoint, token)
            assert welcome == {"id": "c1", "type": "welcome"}
            await spy.send_json({"id": "s1", "type": "subscribe", "topic": f"{ORDERS_V2},{BALANCE}",
                                 "privateChannel": True, "response": True})  # fmt: skip
            assert await spy.receive_json(timeout=WAIT_S) == {"id": "s1", "type": "ack"}
            # ccxt logs every answer it reads at DEBUG, the bullet (and its token) too: the
            # bot's own log of its own answer, not the gateway's; the canary scans the rest
            logging.getLogger("ccxt.base.exchange").setLevel(logging.INFO)
            ex = _pro(url, creds)
            seen = _record(ex)
            try:
                await ex.load_markets()
                watching = asyncio.ensure_future(ex.watch_orders(SYMBOL))
                await _acked(ex)
                book = await ex.fetch_order_book(SYMBOL)
                bid, ask = book["bids"][0][0], book["asks"][0][0]
                placed = await ex.create_order(SYMBOL, "limit", "buy", 0.001, round(bid * 0.9, 1))
                await ex.cancel_order(placed["id"], SYMBOL)
                orders = await _watch_until(ex, seen, ("canceled", placed["id"]), watching)
                assert seen == [("open", placed["id"]), ("canceled", placed["id"])]
                assert [(o["id"], o["status"]) for o in orders] == [(placed["id"], "canceled")]
                assert orders[0]["clientOrderId"] == placed["clientOrderId"]
                taker = await ex.create_order(SYMBOL, "limit", "buy", 0.001, round(ask * 1.01, 1))
                orders = await _watch_until(ex, seen, ("filled", taker["id"]))
                assert seen[2:] == [("open", taker["id"]), ("match", taker["id"]),
                                    ("filled", taker["id"])]  # fmt: skip
                done = {o["id"]: (o["status"], o["filled"], o["remaining"]) for o in orders}
                assert done[taker["id"]] == ("closed", 0.001, 0.0)
                assert [t["order"] for t in ex.myTrades] == [taker["id"]]
            finally:
                await ex.close()
                logging.getLogger("ccxt.base.exchange").setLevel(logging.NOTSET)
            # a marker on the spy's own account: events go out in id order, so the spy's first
            # message being the marker shows it was sent nothing of the first account's orders
            feed = stack.services.event_feed
            assert feed is not None
            marker = BalanceChange("USDT", Decimal(7), Decimal(5), Decimal(2), Decimal(-2))
            await feed.balance_changed(other_id, marker)
            message = await spy.receive_json(timeout=WAIT_S)
            assert (message["topic"], message["subject"]) == (BALANCE, "account.balance")
            assert message["data"]["total"] == "7" and message["data"]["availableChange"] == "-2"
            await spy.send_json({"id": "p1", "type": "ping"})
            assert await spy.receive_json(timeout=WAIT_S) == {"id": "p1", "type": "pong"}
            await spy.close()
        await stack.services.events.aclose()


@pytest.mark.parametrize("why", ["used", "expired"])
async def test_a_used_or_expired_token_is_refused(tmp_path: Path, why: str) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("bots")
        creds = await issue(stack, tenant, Scope.READ)
        assert stack.services.facade is not None and stack.services.facade.stream is not None
        async with facade_url(stack) as url, aiohttp.ClientSession() as http:
            if why == "expired":
                stack.services.facade.stream.tokens.ttl_ms = -1
            endpoint, token = await _bullet(http, url, creds)
            if why == "used":
                ws, first = await _connect(http, endpoint, token)
                assert first["type"] == "welcome"
                await ws.close()
            ws, first = await _connect(http, endpoint, token)
            assert first == {"id": "c1", "type": "error", "code": 401, "data": "token is expired"}
            assert (await ws.receive(timeout=WAIT_S)).type is aiohttp.WSMsgType.CLOSE
            await ws.close()


async def test_the_bullet_needs_a_signed_call(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        await stack.add_tenant("bots")
        async with (
            facade_url(stack) as url,
            aiohttp.ClientSession() as http,
            http.post(f"{url}/api/v1/bullet-private") as resp,
        ):
            assert resp.status == 401
            assert json.loads(await resp.text())["code"] == "400001"


async def test_revoking_the_key_closes_its_stream(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("bots")
        creds = await issue(stack, tenant, Scope.READ)
        feed = stack.services.event_feed
        assert feed is not None
        feed.recheck_s, feed.poll_s = 0.0, 0.05  # check the key on every idle poll
        async with facade_url(stack) as url, aiohttp.ClientSession() as http:
            endpoint, token = await _bullet(http, url, creds)
            ws, first = await _connect(http, endpoint, token)
            assert first["type"] == "welcome"
            await stack.services.keys.revoke(tenant.id, creds.key_id, actor=Operator("test"))
            assert (await ws.receive(timeout=WAIT_S)).type is aiohttp.WSMsgType.CLOSE
            await ws.close()


async def test_a_token_opens_only_from_an_address_the_key_allows(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("bots")
        creds = await issue(stack, tenant, Scope.READ, ip_allowlist=["10.0.0.0/8"])
        assert stack.services.facade is not None and stack.services.facade.stream is not None
        stream = stack.services.facade.stream
        principal = FacadePrincipal(
            tenant.id, creds.key_id, tenant.account_id, frozenset({Scope.READ}), "10.1.1.1"
        )
        tokens = [stream.bullet(principal, creds.api_key, "ws://h/facade-ws")["token"]
                  for _ in range(2)]  # fmt: skip
        for token in tokens:
            leaksuite.register("facade WebSocket token", token)
        with pytest.raises(FacadeRefused):
            await stream.open(tokens[0], "192.168.1.1")
        assert (await stream.open(tokens[1], "10.2.3.4")).account_id == tenant.account_id


async def test_a_key_holds_at_most_50_connections(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("bots")
        creds = await issue(stack, tenant, Scope.READ)
        assert stack.services.facade is not None and stack.services.facade.stream is not None
        stream = stack.services.facade.stream
        principal = FacadePrincipal(
            tenant.id, creds.key_id, tenant.account_id, frozenset({Scope.READ}), "127.0.0.1"
        )
        tokens = [stream.bullet(principal, creds.api_key, "ws://h/facade-ws")["token"]
                  for _ in range(2)]  # fmt: skip
        for token in tokens:
            leaksuite.register("facade WebSocket token", token)
        stream.connections[creds.key_id] = 49
        grant = await stream.open(tokens[0], "127.0.0.1")
        with pytest.raises(FacadeRefused) as refused:
            await stream.open(tokens[1], "127.0.0.1")
        assert refused.value.kc_code == "509"
        stream.close(grant)
        assert stream.connections == {creds.key_id: 49}
