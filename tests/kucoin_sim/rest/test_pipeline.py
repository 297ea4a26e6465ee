"""The request pipeline over real sockets: auth codes, rate limits, faults, maintenance, limits."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac

import aiohttp
import pytest

from kcgateway.clock import FakeClock
from kucoin_sim.config import SimConfig
from tests.kucoin_sim.harness import running_sim

NO_MM = {"market_makers": []}
ORDER = {"side": "buy", "symbol": "BTC-USDT", "type": "limit", "price": "20000", "size": "0.001"}


async def test_private_route_auth_codes_and_public_routes_ignore_auth() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        acct = await sim.account()
        status, body, headers = await sim.call(None, "GET", "/api/v1/accounts")
        assert (status, body["code"]) == (401, "400001")
        assert "gw-ratelimit-remaining" in headers
        stale = sim.apps.state.now_ms() - 6_000
        status, body, _ = await sim.call(acct, "GET", "/api/v1/accounts", ts=stale)
        assert (status, body["code"]) == (401, "400002")
        wrong = {**acct, "secret": "x" + acct["secret"][1:]}
        status, body, _ = await sim.call(wrong, "GET", "/api/v1/accounts")
        assert body["code"] == "400004"  # the HMAC'd passphrase depends on the secret
        # public routes answer even with bad auth headers (universal SDK signs them with "")
        assert isinstance(await sim.ok(wrong, "GET", "/api/v1/timestamp"), int)
        status, body, _ = await sim.call(
            None, "GET", "/api/v3/market/orderbook/level2?symbol=BTC-USDT"
        )
        assert body["code"] == "400001"
        book = await sim.ok(acct, "GET", "/api/v3/market/orderbook/level2?symbol=BTC-USDT")
        assert book["bids"] == [] and book["asks"] == []


async def test_permissions_and_api_key_info() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        reader = await sim.account(permissions=["General"], ipWhitelist=["127.0.0.1"])
        info = await sim.ok(reader, "GET", "/api/v1/user/api-key")
        assert info["permission"] == "General" and info["ipWhitelist"] == "127.0.0.1"
        assert info["isMaster"] is True and info["apiVersion"] == 3
        status, body, _ = await sim.call(reader, "POST", "/api/v1/hf/orders", ORDER)
        assert (status, body["code"]) == (403, "400007")
        fenced = await sim.account(ipWhitelist=["10.1.2.3"])
        status, body, _ = await sim.call(fenced, "GET", "/api/v1/accounts")
        assert body["code"] == "400006"
        assert await sim.ok(reader, "GET", "/api/v1/hf/accounts/opened") is False
        mode = await sim.ok(reader, "GET", "/api/ua/v1/account/mode")
        assert mode["selfAccountMode"] == "CLASSIC"


async def test_rate_limit_pool_drains_then_resets() -> None:
    clock = FakeClock()
    cfg = SimConfig(tick_ms=0, engine=NO_MM, quotas={"spot": 5})
    async with running_sim(cfg, clock=clock) as sim:
        acct = await sim.account(hf=True)
        for i in range(5):
            await sim.ok(acct, "POST", "/api/v1/hf/orders", {**ORDER, "clientOid": f"r{i}"})
        status, body, headers = await sim.call(acct, "POST", "/api/v1/hf/orders", ORDER)
        assert (status, body) == (429, {"code": "429000", "msg": "Too Many Requests"})
        assert headers["gw-ratelimit-limit"] == "5" and headers["gw-ratelimit-remaining"] == "0"
        assert 0 < int(headers["gw-ratelimit-reset"]) <= 30_000
        clock.advance(30_000)
        _, _, headers = await sim.call(acct, "POST", "/api/v1/hf/orders", ORDER)
        assert headers["gw-ratelimit-remaining"] == "4"
        # another user's pool is untouched
        other = await sim.account(hf=True)
        await sim.ok(other, "POST", "/api/v1/hf/orders", ORDER)


async def test_lost_response_executes_exactly_once() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        acct = await sim.account(hf=True)
        await sim.admin(
            "POST",
            "/_sim/faults",
            {"kind": "lose_response", "pathPrefix": "/api/v1/hf/orders", "method": "POST"},
        )
        body = {**ORDER, "clientOid": "lost-1"}
        with pytest.raises(aiohttp.ClientError):
            await sim.call(acct, "POST", "/api/v1/hf/orders", body)
        seen = await sim.admin("GET", "/_sim/orders?clientOid=lost-1")
        assert seen["accepted"] == 1 and seen["orders"][0]["active"] is True
        _, again, _ = await sim.call(acct, "POST", "/api/v1/hf/orders", body)
        assert again["code"] == "126044"  # duplicate clientOid of an active order
        assert (await sim.admin("GET", "/_sim/orders?clientOid=lost-1"))["accepted"] == 1


@pytest.mark.parametrize(
    ("kind", "error"),
    [("drop_request", aiohttp.ServerDisconnectedError), ("reset", aiohttp.ClientOSError)],
)
async def test_dropped_or_reset_request_never_executes(kind: str, error: type) -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        acct = await sim.account(hf=True)
        await sim.admin("POST", "/_sim/faults", {"kind": kind, "pathPrefix": "/api/v1/hf/orders"})
        body = {**ORDER, "clientOid": f"{kind}-1"}
        with pytest.raises(error):
            await sim.call(acct, "POST", "/api/v1/hf/orders", body)
        seen = await sim.admin("GET", f"/_sim/orders?clientOid={kind}-1")
        assert seen["accepted"] == 0 and seen["orders"] == [], "the lost request never executed"
        await sim.ok(acct, "POST", "/api/v1/hf/orders", body)  # the rule fired once
        counts = await sim.admin("GET", "/_sim/orders/counts")
        assert counts == {"accepted": {f"{kind}-1": 1}}


async def test_a_client_giving_up_during_a_delay_does_not_stop_the_order() -> None:
    """A delay past the client's timeout: the order lands after the caller hung up, as at KuCoin."""
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        acct = await sim.account(hf=True)
        await sim.admin(
            "POST",
            "/_sim/faults",
            {"kind": "latency", "latencyMs": 300, "pathPrefix": "/api/v1/hf/orders"},
        )
        body = {**ORDER, "clientOid": "slow-1"}
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(sim.call(acct, "POST", "/api/v1/hf/orders", body), 0.05)
        for _ in range(100):  # wait for the delayed order (bounded, no timing asserted)
            seen = await sim.admin("GET", "/_sim/orders?clientOid=slow-1")
            if seen["accepted"]:
                break
            await asyncio.sleep(0.05)
        assert seen["accepted"] == 1, "the delayed order was dropped with the caller"
        assert (await sim.admin("GET", "/_sim/state"))["unexpectedErrors"] == 0


async def test_5xx_burst_429_storm_latency_and_clear() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        acct = await sim.account()
        await sim.admin(
            "POST",
            "/_sim/faults",
            {"kind": "error_5xx", "count": 2, "status": 502, "pathPrefix": "/api/v1/accounts"},
        )
        for _ in range(2):
            status, body, _ = await sim.call(acct, "GET", "/api/v1/accounts")
            assert (status, body["code"]) == (502, "500000")
        await sim.ok(acct, "GET", "/api/v1/accounts")
        await sim.admin(
            "POST",
            "/_sim/faults",
            {"kind": "rate_limit", "count": None, "pathPrefix": "/api/v1/timestamp"},
        )
        status, body, _ = await sim.call(None, "GET", "/api/v1/timestamp")
        assert (status, body["code"]) == (429, "429000")
        await sim.admin("DELETE", "/_sim/faults")
        await sim.admin(
            "POST",
            "/_sim/faults",
            {"kind": "rate_limit", "resetMs": 250, "pathPrefix": "/api/v1/timestamp"},
        )
        status, body, headers = await sim.call(None, "GET", "/api/v1/timestamp")
        assert (status, headers["gw-ratelimit-reset"]) == (429, "250")
        await sim.admin(
            "POST",
            "/_sim/faults",
            {"kind": "latency", "latencyMs": 5, "pathPrefix": "/api/v1/status", "count": 1},
        )
        assert (await sim.ok(None, "GET", "/api/v1/status"))["status"] == "open"
        state = await sim.admin("DELETE", "/_sim/faults")
        assert state["rules"] == []
        assert isinstance(await sim.ok(None, "GET", "/api/v1/timestamp"), int)


async def test_clock_offset_and_maintenance() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        acct = await sim.account(hf=True)
        before = await sim.ok(None, "GET", "/api/v1/timestamp")
        await sim.admin("POST", "/_sim/clock", {"offsetMs": 60_000})
        assert await sim.ok(None, "GET", "/api/v1/timestamp") >= before + 60_000
        real = sim.apps.state.now_ms() - 60_000
        status, body, _ = await sim.call(acct, "GET", "/api/v1/accounts", ts=real)
        assert body["code"] == "400002"
        await sim.admin("POST", "/_sim/clock", {"offsetMs": 0})
        await sim.admin("POST", "/_sim/status", {"status": "cancelonly"})
        order = None
        status, body, _ = await sim.call(acct, "POST", "/api/v1/hf/orders", ORDER)
        assert body["code"] == "200001"
        await sim.admin("POST", "/_sim/status", {"status": "open"})
        order = await sim.ok(acct, "POST", "/api/v1/hf/orders", ORDER)
        await sim.admin("POST", "/_sim/status", {"status": "cancelonly"})
        await sim.ok(acct, "DELETE", f"/api/v1/hf/orders/{order['orderId']}?symbol=BTC-USDT")
        await sim.admin("POST", "/_sim/status", {"status": "close", "msg": "upgrade"})
        assert await sim.ok(None, "GET", "/api/v1/status") == {"status": "close", "msg": "upgrade"}
        status, body, _ = await sim.call(acct, "GET", "/api/v1/accounts")
        assert status == 503


async def test_bad_input_never_500s() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM, body_limit=4096)) as sim:
        acct = await sim.account()
        cases = [
            (b"{not json", "400100"),
            (b"[1,2]", "400100"),
            (
                b'{"side":"buy","symbol":"NOPE-USDT","price":"1","size":"1","clientOid":"a"}',
                "900001",
            ),
            (b'{"side":"sideways","symbol":"BTC-USDT","clientOid":"a"}', "400100"),
            (
                b'{"side":"buy","symbol":"BTC-USDT","price":{"x":1},"size":"1","clientOid":"a"}',
                "400100",
            ),
            (b'{"side":"buy","symbol":"BTC-USDT","price":"1","size":"1"}', "400100"),
            (
                b'{"side":"buy","symbol":"BTC-USDT","price":"NaN","size":"1","clientOid":"a"}',
                "400100",
            ),
        ]
        for raw, code in cases:
            status, body, _ = await sim.call(acct, "POST", "/api/v1/orders", raw=raw)
            assert (body["code"], status) == (code, 400), raw
        status, body, _ = await sim.call(
            acct, "POST", "/api/v1/orders", raw=b"{" + b" " * 5000 + b"}"
        )
        assert (status, body["code"]) == (413, "400100")
        status, body, _ = await sim.call(None, "GET", "/api/v1/nowhere")
        assert (status, body["code"]) == (404, "404000")
        # tolerated: nulls, unknown fields and SDK defaults
        ok = await sim.ok(
            acct,
            "POST",
            "/api/v1/orders",
            {
                **ORDER,
                "clientOid": "t1",
                "trade_type": None,
                "timeInForce": "GTC",
                "postOnly": False,
                "hidden": False,
                "iceberg": False,
                "tradeType": "TRADE",
                "extra": [1],
            },
        )
        assert ok["orderId"]


async def test_python_kucoin_style_v1_headers_and_unknown_partner() -> None:
    """No KC-API-KEY-VERSION, plain passphrase, python-kucoin's own partner, query with %2C."""
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        acct = await sim.account()
        ts = str(sim.apps.state.now_ms())
        signed = "/api/v1/prices?base=USD&currencies=BTC,USDT"
        mac = hmac.new(acct["secret"].encode(), (ts + "GET" + signed).encode(), hashlib.sha256)
        headers = {
            "KC-API-KEY": acct["apiKey"],
            "KC-API-SIGN": base64.b64encode(mac.digest()).decode(),
            "KC-API-TIMESTAMP": ts,
            "KC-API-PASSPHRASE": acct["passphrase"],
            "KC-API-PARTNER": "python-kucoinspot",
            "KC-API-PARTNER-SIGN": "bm90LW91cnM=",
            "KC-API-PARTNER-VERIFY": "true",
        }
        url = sim.spot + "/api/v1/prices?base=USD&currencies=BTC%2CUSDT"
        async with sim.session.get(url, headers=headers) as resp:
            assert (await resp.json())["data"] == {"USDT": "1"}
        # the same headers on a private route: v1 plain passphrase + unknown partner accepted
        path = "/api/v1/accounts?type=trade"
        mac = hmac.new(acct["secret"].encode(), (ts + "GET" + path).encode(), hashlib.sha256)
        headers["KC-API-SIGN"] = base64.b64encode(mac.digest()).decode()
        async with sim.session.get(sim.spot + path, headers=headers) as resp:
            body = await resp.json()
        assert body["code"] == "200000" and body["data"]
