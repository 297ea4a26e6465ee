"""Placement semantics through the services: validation, clientOid, resolve, pagination."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kcgateway.errors import OutcomeUnknown, ValidationError
from kcgateway.exchange.services.base import (
    NotFound,
    Placed,
    check_client_oid,
    new_client_oid,
    text,
)
from kcgateway.exchange.services.futures import FuturesOrderRequest
from kcgateway.exchange.testing import SentRequest, error_reply
from kcgateway.exchange.transport import RawResponse, TransportError
from kcgateway.kucoin import models as m
from tests.kcgateway.kucoin import model_samples as sample

from .helpers import Exchange, new_keys

KEYS = new_keys()
D = Decimal
SYM = sample.SYMBOL["symbol"]


def _exchange() -> Exchange:
    ex = Exchange()
    ex.on("GET", "/api/v2/symbols", [sample.SYMBOL])
    return ex


async def test_invalid_order_sends_nothing() -> None:
    ex = _exchange()
    async with ex.client(KEYS) as client:
        with pytest.raises(ValidationError) as info:
            await client.spot.hf.place(SYM, "buy", price=D("1.000000001"), size=D("1"))
    assert info.value.field == "price"
    assert [r.path for r in ex.calls] == ["/api/v2/symbols"]  # rules only, no order


async def test_rules_are_loaded_once_and_unknown_symbol_is_local_error() -> None:
    ex = _exchange()
    ex.on("POST", "/api/v1/hf/orders", {"orderId": "o1", "clientOid": "c"})
    price = D(sample.SYMBOL["priceIncrement"]) * 1000
    size = D(sample.SYMBOL["baseMinSize"]) * 100
    async with ex.client(KEYS) as client:
        await client.spot.hf.place(SYM, "buy", price=price, size=size)
        await client.spot.hf.place(SYM, "buy", price=price, size=size)
        with pytest.raises(ValidationError) as info:
            await client.spot.hf.place("NOPE-USDT", "buy", price=price, size=size)
    assert info.value.field == "symbol"
    paths = [r.path for r in ex.calls]
    assert paths.count("/api/v2/symbols") == 1  # a fresh list is not refetched for NOPE
    assert paths.count("/api/v1/hf/orders") == 2


async def test_symbols_call_fills_the_rules_cache() -> None:
    ex = _exchange()
    async with ex.client(KEYS) as client:
        await client.market.symbols()
        rules = await client.rules.get(SYM)
    assert rules.symbol == SYM
    assert len(ex.calls) == 1


async def test_generated_client_oid_is_fixed_and_reported_on_unknown_outcome() -> None:
    ex = _exchange()
    ex.on("POST", "/api/v1/hf/orders", error_reply("500000", status=503))
    async with ex.client(KEYS, validate_orders=False) as client:
        with pytest.raises(OutcomeUnknown) as info:
            await client.spot.hf.place(SYM, "buy", price=D("1"), size=D("1"))
    sent = ex.calls[-1].json()
    assert isinstance(sent, dict)
    assert sent["clientOid"] == info.value.client_oid
    assert len(info.value.client_oid) == 32


def _lookup(reply: object) -> Exchange:
    ex = Exchange()
    for path in (
        "/api/v1/hf/orders/client-order/c1",
        "/api/v1/order/client-order/c1",
        "/api/v3/hf/margin/orders/client-order/c1",
        "/api/v1/orders/byClientOid",
    ):
        ex.on("GET", path, reply)
    return ex


async def _resolve_all(ex: Exchange) -> list[Any]:
    async with ex.client(KEYS) as client:
        return [
            await client.spot.hf.resolve("c1", SYM),
            await client.spot.classic.resolve("c1"),
            await client.margin.resolve("c1", SYM),
            await client.futures.resolve("c1"),
        ]


@pytest.mark.parametrize("reply", [None, error_reply("126043", "order not exist.")])
async def test_resolve_not_found(reply: object) -> None:
    assert await _resolve_all(_lookup(reply)) == [NotFound("c1")] * 4


async def test_resolve_400100_only_classic() -> None:
    from kcgateway.errors import InvalidParameter

    ex = _lookup(error_reply("400100", "order not exist."))
    async with ex.client(KEYS) as client:
        assert await client.spot.classic.resolve("c1") == NotFound("c1")
        with pytest.raises(InvalidParameter):
            await client.spot.hf.resolve("c1", SYM)


async def test_futures_resolve_treats_100001_as_not_found() -> None:
    """The futures host answers an unknown clientOid with 100001 ("The order does not exist.")."""
    ex = _lookup(error_reply("100001", "The order does not exist."))
    async with ex.client(KEYS) as client:
        assert await client.futures.resolve("c1") == NotFound("c1")


async def test_resolve_placed() -> None:
    ex = Exchange()
    ex.on("GET", "/api/v1/hf/orders/client-order/c1", sample.HF_ORDER)
    ex.on("GET", "/api/v1/order/client-order/c1", sample.CLASSIC_ORDER)
    ex.on("GET", "/api/v3/hf/margin/orders/client-order/c1", sample.HF_ORDER)
    ex.on("GET", "/api/v1/orders/byClientOid", sample.FUTURES_ORDER)
    results = await _resolve_all(ex)
    assert all(isinstance(r, Placed) for r in results)
    assert isinstance(results[0].order, m.HfOrder)
    assert isinstance(results[1].order, m.ClassicOrder)
    assert isinstance(results[3].order, m.FuturesOrder)


async def test_lost_response_then_resolve_finds_exactly_the_order() -> None:
    ex = Exchange()
    placed: list[str] = []

    def lose(req: SentRequest) -> RawResponse:
        body = req.json()
        assert isinstance(body, dict)
        placed.append(body["clientOid"])
        raise TransportError("timeout", sent=True)

    ex.on("POST", "/api/v1/orders", lose)
    async with ex.client(KEYS, validate_orders=False) as client:
        with pytest.raises(OutcomeUnknown) as info:
            await client.futures.place(
                FuturesOrderRequest(symbol="XBTUSDTM", side="buy", size=1, price=D("1"))
            )
        ex.on(
            "GET",
            "/api/v1/orders/byClientOid",
            {**sample.FUTURES_ORDER, "clientOid": info.value.client_oid},
        )
        result = await client.futures.resolve(info.value.client_oid)
    assert placed == [info.value.client_oid]
    assert isinstance(result, Placed)
    assert result.order.client_oid == info.value.client_oid


async def test_futures_size_must_be_positive() -> None:
    ex = Exchange()
    async with ex.client(KEYS) as client:
        with pytest.raises(ValidationError):
            await client.futures.place(FuturesOrderRequest(symbol="X", side="buy", size=0))
    assert ex.calls == []


@pytest.mark.parametrize("bad", ["", "x" * 41, "has space", "ü"])
def test_client_oid_checks(bad: str) -> None:
    with pytest.raises(ValidationError):
        check_client_oid(bad)


def test_client_oid_and_text_helpers() -> None:
    assert check_client_oid("a_B-9") == "a_B-9"
    assert new_client_oid() != new_client_oid()
    assert text(D("1E+3")) == "1000"
    assert text(5) == "5"
    with pytest.raises(ValidationError):
        text(D("NaN"))


async def test_pages_follow_total_page_and_limit() -> None:
    ex = Exchange()
    pages = [
        {**sample.page([sample.CLASSIC_ORDER] * 2), "currentPage": 1, "totalPage": 2},
        {**sample.page([sample.CLASSIC_ORDER]), "currentPage": 2, "totalPage": 2},
    ]
    ex.on("GET", "/api/v1/orders", *pages)
    async with ex.client(KEYS) as client:
        orders = [o async for o in client.spot.classic.orders(page_size=2)]
    assert len(orders) == 3
    assert [r.query.split("currentPage=")[1][0] for r in ex.calls] == ["1", "2"]

    ex2 = Exchange()
    ex2.on("GET", "/api/v1/orders", pages[0])
    async with ex2.client(KEYS) as client:
        orders = [o async for o in client.spot.classic.orders(page_size=2, limit=1)]
    assert len(orders) == 1
    assert len(ex2.calls) == 1


async def test_cursor_follows_last_id_until_short_page() -> None:
    ex = Exchange()
    ex.on(
        "GET",
        "/api/v1/hf/orders/done",
        {"lastId": 10, "items": [sample.HF_ORDER] * 2},
        {"lastId": 5, "items": [sample.HF_ORDER]},
    )
    async with ex.client(KEYS) as client:
        orders = [o async for o in client.spot.hf.done_orders(SYM, page_size=2)]
        limited = [o async for o in client.spot.hf.done_orders(SYM, page_size=2, limit=1)]
    assert len(orders) == 3
    assert len(limited) == 1
    queries = [r.signed_path for r in ex.calls]
    assert "lastId" not in queries[0]
    assert "lastId=10" in queries[1]


async def test_cursor_stops_on_repeated_last_id() -> None:
    ex = Exchange()
    ex.on("GET", "/api/v1/hf/fills", {"lastId": None, "items": [sample.HF_FILL] * 2})
    async with ex.client(KEYS) as client:
        fills = [f async for f in client.spot.hf.fills(SYM, page_size=2)]
    assert len(fills) == 2
    assert len(ex.calls) == 1


async def test_batch_unknown_outcome_lists_every_client_oid() -> None:
    from kcgateway.exchange.services.orders import SpotOrder

    ex = Exchange()
    ex.on("POST", "/api/v1/hf/orders/multi", error_reply("500000", status=500))
    orders = [
        SpotOrder(symbol=SYM, side="buy", price=D("1"), size=D("1"), client_oid=f"b{i}")
        for i in range(2)
    ]
    async with ex.client(KEYS, validate_orders=False) as client:
        with pytest.raises(OutcomeUnknown) as info:
            await client.spot.hf.place_batch(orders)
    assert info.value.client_oid == "b0,b1"


@pytest.mark.parametrize(
    "reply",
    [
        RawResponse(200, {}, b"<html>gateway</html>"),  # not an envelope at all
        RawResponse(200, {}, b'{"code":"200000","data":{"no":"orderId"}}'),  # envelope, bad data
    ],
)
async def test_unreadable_reply_to_an_order_is_an_unknown_outcome(reply: RawResponse) -> None:
    ex = Exchange()
    ex.on("POST", "/api/v1/hf/orders", reply)
    ex.on("POST", "/api/v1/orders", reply)
    async with ex.client(KEYS, validate_orders=False) as client:
        with pytest.raises(OutcomeUnknown) as spot:
            await client.spot.hf.place(SYM, "buy", price=D("1"), size=D("1"), client_oid="u1")
        with pytest.raises(OutcomeUnknown) as fut:
            await client.futures.place(
                FuturesOrderRequest(symbol="XBTUSDTM", side="buy", size=1, client_oid="u2")
            )
    assert (spot.value.client_oid, fut.value.client_oid) == ("u1", "u2")
    assert spot.value.reason == fut.value.reason == "unparseable reply"
    assert len(ex.calls) == 2  # neither was resent


async def test_unreadable_reply_to_a_read_is_a_protocol_error_without_retry() -> None:
    from kcgateway.errors import ProtocolError

    ex = Exchange()
    ex.on("GET", "/api/v1/accounts", RawResponse(200, {}, b"<html/>"))
    async with ex.client(KEYS) as client:
        with pytest.raises(ProtocolError):
            await client.account.accounts()
    assert len(ex.calls) == 1
