"""The request pipeline with a mock transport: signing, clock, budgets, retries, errors."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

import msgspec
import pytest

from kcgateway.clock import FakeClock
from kcgateway.errors import (
    AuthError,
    ClockSkew,
    ConfigError,
    ExchangeUnavailable,
    InvalidParameter,
    OutcomeUnknown,
    ProtocolError,
    RateLimited,
    UnknownExchangeError,
)
from kcgateway.exchange.rest import Hosts, KuCoinClient, encode_body
from kcgateway.exchange.testing import MockTransport, SentRequest, envelope, error_reply
from kcgateway.exchange.transport import RawResponse, TransportError
from kcgateway.kucoin.endpoints import Pool
from kcgateway.kucoin.retry import RetryPolicy

from .helpers import (
    SERVER_NOW,
    SPOT,
    Exchange,
    assert_partner,
    assert_signed,
    new_broker,
    new_keys,
)

KEYS = new_keys()
ORDER_BODY = {"clientOid": "oid-1", "side": "buy", "symbol": "BTC-USDT", "type": "limit"}


def _raise(exc: Exception) -> object:
    def route(_req: SentRequest) -> RawResponse:
        raise exc

    return route


async def test_public_get_is_unsigned_and_query_is_encoded() -> None:
    ex = Exchange()
    ex.on("GET", "/api/v3/currencies", [{"currency": "BTC"}])
    async with ex.client() as client:
        data = await client.call("market.currencies", query={"a": "BTC,ETH", "b": None, "c": True})
    assert msgspec.json.decode(data) == [{"currency": "BTC"}]
    (req,) = ex.transport.sent  # public: no clock sync
    assert req.url == f"{SPOT}/api/v3/currencies?a=BTC%2CETH&c=true"
    assert "KC-API-KEY" not in req.headers
    assert "Content-Type" not in req.headers
    assert ex.transport.closed


async def test_private_get_signs_decoded_query_with_server_time() -> None:
    local = FakeClock(SERVER_NOW - 30_000)  # local clock 30 s behind
    ex = Exchange(local, server_skew_ms=30_000)
    ex.on("GET", "/api/v1/accounts", [])
    async with ex.client(KEYS) as client:
        await client.call("account.list", query={"currency": "BTC,ETH", "type": "trade"})
        assert client.clock.offset_ms == 30_000
    (req,) = ex.calls
    assert req.query == "currency=BTC%2CETH&type=trade"
    assert req.signed_path == "/api/v1/accounts?currency=BTC,ETH&type=trade"
    assert_signed(req, KEYS)
    assert abs(int(req.headers["KC-API-TIMESTAMP"]) - SERVER_NOW) < 1000


async def test_post_body_is_compact_json_with_decimal_strings() -> None:
    ex = Exchange()
    ex.on("POST", "/api/v1/hf/orders", {"orderId": "1", "clientOid": "oid-1"})
    body = {**ORDER_BODY, "price": Decimal("30000.10"), "size": Decimal("0.001"), "remark": None}
    async with ex.client(KEYS) as client:
        await client.call("spot.hf.place", body=body, client_oid="oid-1")
    (req,) = ex.calls
    assert req.body == (
        b'{"clientOid":"oid-1","side":"buy","symbol":"BTC-USDT","type":"limit",'
        b'"price":"30000.10","size":"0.001"}'
    )
    assert req.headers["Content-Type"] == "application/json"
    assert_signed(req, KEYS)


def test_encode_body_drops_none() -> None:
    assert encode_body({"a": None, "b": 1}) == b'{"b":1}'


async def test_private_without_credentials_sends_nothing() -> None:
    ex = Exchange()
    async with ex.client() as client:
        with pytest.raises(ConfigError):
            await client.call("account.list")
    assert ex.calls == []


async def test_clock_skew_resyncs_and_retries_once() -> None:
    ex = Exchange()
    ex.on("GET", "/api/v1/accounts", error_reply("400002", "Invalid KC-API-TIMESTAMP"), [])
    async with ex.client(KEYS) as client:
        assert msgspec.json.decode(await client.call("account.list")) == []
    stamps = [r.path for r in ex.transport.sent]
    assert stamps == [
        "/api/v1/timestamp",
        "/api/v1/accounts",
        "/api/v1/timestamp",
        "/api/v1/accounts",
    ]


async def test_clock_skew_twice_raises() -> None:
    ex = Exchange()
    ex.on("POST", "/api/v1/hf/orders", error_reply("400002"))
    async with ex.client(KEYS) as client:
        with pytest.raises(ClockSkew):
            await client.call("spot.hf.place", body=ORDER_BODY, client_oid="oid-1")
    assert len(ex.calls) == 2


async def test_rate_limited_get_waits_for_reset_and_retries() -> None:
    ex = Exchange()
    limited = error_reply(
        "429000", "Too Many Requests", status=429, headers={"gw-ratelimit-reset": "1500"}
    )
    ex.on("GET", "/api/v1/accounts", limited, [])
    async with ex.client(KEYS) as client:
        assert msgspec.json.decode(await client.call("account.list")) == []
    assert sum(ex.slept) >= 1.5
    assert len(ex.calls) == 2


async def test_rate_limited_order_is_resent_with_the_same_client_oid() -> None:
    ex = Exchange()
    limited = error_reply("429000", status=429, headers={"gw-ratelimit-reset": "200"})
    ex.on("POST", "/api/v1/hf/orders", limited, {"orderId": "o1", "clientOid": "oid-1"})
    async with ex.client(KEYS) as client:
        data = await client.call("spot.hf.place", body=ORDER_BODY, client_oid="oid-1")
    assert msgspec.json.decode(data) == {"orderId": "o1", "clientOid": "oid-1"}
    first, second = ex.calls
    assert first.body == second.body
    assert second.json()["clientOid"] == "oid-1"  # type: ignore[index]
    assert_signed(second, KEYS)


async def test_rate_limit_storm_gives_up_after_max_attempts() -> None:
    ex = Exchange()
    ex.on("GET", "/api/v1/accounts", error_reply("429000", status=429))
    async with ex.client(KEYS, retry=RetryPolicy(max_attempts=3)) as client:
        with pytest.raises(RateLimited):
            await client.call("account.list")
    assert len(ex.calls) == 3


async def test_server_error_get_retries_with_backoff() -> None:
    ex = Exchange()
    ex.on("GET", "/api/v1/accounts", error_reply("500000", status=500), [])
    async with ex.client(KEYS) as client:
        assert msgspec.json.decode(await client.call("account.list")) == []
    assert len(ex.calls) == 2
    assert ex.slept and ex.slept[0] > 0


@pytest.mark.parametrize(
    "reply",
    [
        error_reply("500000", status=500),
        RawResponse(502, {}, b"<html>bad gateway</html>"),
        error_reply("999999", "new code", status=400),
        _raise(TransportError("timeout", sent=True)),
        _raise(TransportError("reset", sent=True)),
    ],
)
async def test_order_with_unknown_outcome_raises_outcome_unknown(reply: object) -> None:
    ex = Exchange()
    ex.on("POST", "/api/v1/hf/orders", reply)
    async with ex.client(KEYS) as client:
        with pytest.raises(OutcomeUnknown) as info:
            await client.call("spot.hf.place", body=ORDER_BODY, client_oid="oid-1")
    assert info.value.client_oid == "oid-1"
    assert len(ex.calls) == 1  # never resent


async def test_order_not_sent_at_all_is_retried_with_same_bytes() -> None:
    ex = Exchange()
    ex.on(
        "POST",
        "/api/v1/hf/orders",
        _raise(TransportError("connect", sent=False)),
        {"orderId": "o1", "clientOid": "oid-1"},
    )
    async with ex.client(KEYS) as client:
        await client.call("spot.hf.place", body=ORDER_BODY, client_oid="oid-1")
    assert len(ex.calls) == 2
    assert ex.calls[0].body == ex.calls[1].body


async def test_connect_failures_give_up() -> None:
    ex = Exchange()
    ex.on("GET", "/api/v1/accounts", _raise(TransportError("connect", sent=False)))
    async with ex.client(KEYS, retry=RetryPolicy(max_attempts=2)) as client:
        with pytest.raises(TransportError):
            await client.call("account.list")
    assert len(ex.calls) == 2


async def test_non_idempotent_without_client_oid_reraises() -> None:
    ex = Exchange()
    ex.on("POST", "/api/v1/broker/nd/account", error_reply("500000", status=500))
    broker, _ = new_broker()
    async with ex.client(KEYS, broker=broker) as client:
        with pytest.raises(ExchangeUnavailable):
            await client.call("broker.nd.create_subaccount", body={"accountName": "x"})
    assert len(ex.calls) == 1


async def test_auth_and_rejections_stop_at_once() -> None:
    ex = Exchange()
    ex.on("GET", "/api/v1/accounts", error_reply("400005", "Invalid KC-API-SIGN", status=401))
    ex.on("POST", "/api/v1/hf/orders", error_reply("400100", "bad size"))
    async with ex.client(KEYS) as client:
        with pytest.raises(AuthError) as auth:
            await client.call("account.list")
        with pytest.raises(InvalidParameter):
            await client.call("spot.hf.place", body=ORDER_BODY, client_oid="oid-1")
    assert auth.value.http_status == 401
    assert auth.value.request_path == "/api/v1/accounts"
    assert auth.value.request_id
    assert len(ex.calls) == 2


async def test_error_on_http_200_and_unknown_code() -> None:
    ex = Exchange()
    ex.on("GET", "/api/v1/status", error_reply("123456", "odd", status=200))
    async with ex.client() as client:
        with pytest.raises(UnknownExchangeError) as info:
            await client.call("market.status", query=None)
    assert info.value.code == "123456"
    assert info.value.message == "odd"


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b'{"data":1}', b'{"code":null}'])
async def test_garbage_200_is_protocol_error(body: bytes) -> None:
    ex = Exchange()
    ex.on("GET", "/api/v1/status", RawResponse(200, {}, body))
    async with ex.client() as client:
        with pytest.raises(ProtocolError):
            await client.call("market.status")


async def test_non_json_429_is_rate_limited_with_reset() -> None:
    ex = Exchange()
    ex.on("GET", "/api/v1/status", RawResponse(429, {"gw-ratelimit-reset": "300"}, b"slow down"))
    async with ex.client(retry=RetryPolicy(max_attempts=1)) as client:
        with pytest.raises(RateLimited) as info:
            await client.call("market.status")
    assert info.value.reset_ms == 300


async def test_numeric_code_and_futures_numbers_are_decimal() -> None:
    ex = Exchange()
    ex.on("GET", "/api/v1/ticker", RawResponse(200, {}, b'{"code":200000,"data":{"price":0.1}}'))
    async with ex.client() as client:
        data = await client.call("futures.ticker", query={"symbol": "XBTUSDTM"})
    assert msgspec.json.Decoder(float_hook=Decimal).decode(data) == {"price": Decimal("0.1")}
    assert ex.transport.sent[0].url.startswith("https://futures.test/api/v1/ticker")


async def test_broker_endpoints_need_broker_and_force_verify() -> None:
    ex = Exchange()
    ex.on("GET", "/api/v1/broker/nd/info", {"accountSize": 1})
    async with ex.client(KEYS) as client:
        with pytest.raises(ConfigError):
            await client.call("broker.nd.info")
    broker, broker_key = new_broker()
    from dataclasses import replace

    async with ex.client(KEYS, broker=replace(broker, verify=False)) as client:
        assert client.is_broker
        await client.call("broker.nd.info", query={"begin": "20240101"})
    req = ex.calls[-1]
    assert req.url.startswith("https://broker.test/api/v1/broker/nd/info?begin=20240101")
    assert_signed(req, KEYS)
    assert_partner(req, broker, broker_key)


async def test_trading_calls_carry_partner_headers_only_for_broker_clients() -> None:
    ex = Exchange()
    ex.on("POST", "/api/v1/hf/orders", {"orderId": "1", "clientOid": "oid-1"})
    broker, broker_key = new_broker()
    async with ex.client(KEYS, broker=broker) as client:
        await client.call("spot.hf.place", body=ORDER_BODY, client_oid="oid-1")
    assert_partner(ex.calls[-1], broker, broker_key)
    async with ex.client(KEYS) as client:
        await client.call("spot.hf.place", body=ORDER_BODY, client_oid="oid-1")
    assert not any(h.startswith("KC-API-PARTNER") for h in ex.calls[-1].headers)


class RecordingBudget:
    def __init__(self) -> None:
        self.acquired: list[tuple[Pool, int, bool]] = []
        self.observed: list[Mapping[str, str]] = []
        self.limited: list[tuple[Pool, int | None]] = []

    def try_acquire(self, pool: Pool, weight: int, *, priority: bool = False) -> bool:
        return False  # always take the slow path, so every acquire is recorded

    async def acquire(self, pool: Pool, weight: int, *, priority: bool = False) -> None:
        self.acquired.append((pool, weight, priority))

    def observe(self, pool: Pool, headers: Mapping[str, str]) -> None:
        self.observed.append(headers)

    def on_rate_limited(self, pool: Pool, reset_ms: int | None) -> None:
        self.limited.append((pool, reset_ms))


async def test_budget_gets_weights_priority_headers_and_limits() -> None:
    ex = Exchange()
    headers = {
        "gw-ratelimit-limit": "4000",
        "gw-ratelimit-remaining": "3990",
        "gw-ratelimit-reset": "29000",
    }
    ex.on("DELETE", "/api/v1/hf/orders/abc", envelope({"orderId": "abc"}, headers=headers))
    ex.on(
        "GET",
        "/api/v1/accounts",
        error_reply("429000", status=429, headers={"gw-ratelimit-reset": "10"}),
        [],
    )
    budget = RecordingBudget()
    async with ex.client(KEYS, budget=budget) as client:
        await client.call(
            "spot.hf.cancel_by_id", path_params={"orderId": "abc"}, query={"symbol": "BTC-USDT"}
        )
        await client.call("account.list")
    assert (Pool.SPOT, 1, True) in budget.acquired
    assert (Pool.MANAGEMENT, 5, False) in budget.acquired
    assert headers in [dict(h) for h in budget.observed]
    assert budget.limited == [(Pool.MANAGEMENT, 10)]


async def test_local_budget_learns_from_headers() -> None:
    ex = Exchange()
    headers = {
        "gw-ratelimit-limit": "100",
        "gw-ratelimit-remaining": "0",
        "gw-ratelimit-reset": "5000",
    }
    ex.on("GET", "/api/v1/status", envelope({"status": "open"}, headers=headers))
    async with ex.client() as client:
        await client.call("market.status")
        await client.call("market.status")
    assert sum(ex.slept) >= 4.0  # the second call waited for the pool to reset


def test_local_budget_try_acquire_spends_only_without_a_wait() -> None:
    from kcgateway.exchange.budget import LocalBudget
    from kcgateway.kucoin.ratelimit import RateLimiter

    budget = LocalBudget(FakeClock(), RateLimiter(dict.fromkeys(Pool, 10)))
    assert budget.try_acquire(Pool.SPOT, 6)
    assert not budget.try_acquire(Pool.SPOT, 6)  # would need a wait: nothing spent
    assert budget.limiter.remaining(Pool.SPOT, FakeClock().now_ms()) < 10
    assert budget.try_acquire(Pool.SPOT, 1)


async def test_server_time_and_sync_clock() -> None:
    ex = Exchange(server_skew_ms=-12_000)
    async with ex.client() as client:
        assert await client.server_time() == SERVER_NOW - 12_000
        assert await client.sync_clock() == -12_000


async def test_server_time_rejects_non_integer() -> None:
    transport = MockTransport(lambda _r: envelope("soon"))
    async with KuCoinClient(transport=transport, hosts=Hosts(spot=SPOT)) as client:
        with pytest.raises(ProtocolError):
            await client.server_time()


async def test_debug_log_has_fields_and_no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    ex = Exchange()
    ex.on("GET", "/api/v1/accounts", [])
    caplog.set_level(logging.DEBUG, logger="kcgateway.exchange")
    async with ex.client(KEYS) as client:
        await client.call("account.list", query={"passphrase": KEYS.passphrase})
    records = [r for r in caplog.records if getattr(r, "endpoint", None) == "account.list"]
    assert records
    rec = records[0]
    assert rec.pool == "management"  # type: ignore[attr-defined]
    assert rec.status == 200  # type: ignore[attr-defined]
    text = caplog.text
    for secret in (KEYS.secret, KEYS.passphrase, KEYS.api_key):
        assert secret not in text


def test_hosts_base_strips_slash() -> None:
    from kcgateway.kucoin.endpoints import Host

    hosts = Hosts(spot="http://a/", futures="http://b", broker="http://c/")
    assert [hosts.base(h) for h in Host] == ["http://a", "http://b", "http://c"]
    assert Hosts().base(Host.SPOT) == "https://api.kucoin.com"
