"""Order book routes over loopback against the simulator: stream-sourced, REST fallback."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kcgateway.clock import FakeClock
from kcgateway.errors import NoSuchObject
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.books import BookService, _exact
from tests.helpers.gateway import Stack, auth, gateway_stack, order_body


def _levels(rows: Any) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(str(p)), Decimal(str(s))) for p, s in rows]


def _engine_book(stack: Stack, symbol: str, depth: int) -> dict[str, Any]:
    book = stack.sim.state.exchange.book(symbol)
    return {
        "sequence": book.sequence,
        "bids": _levels(book.bids[:depth]),
        "asks": _levels(book.asks[:depth]),
    }


async def _get(stack: Stack, key: str, path: str) -> dict[str, Any]:
    resp = await stack.http.get(path, headers=auth(key))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def _until_source(
    stack: Stack, key: str, path: str, source: str, timeout: float = 10.0
) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            body = await _get(stack, key, path)
            if body["source"] == source:
                return body
            await asyncio.sleep(0.05)


def _assert_same(body: dict[str, Any], engine: dict[str, Any]) -> None:
    assert body["sequence"] == engine["sequence"]
    assert _levels(body["bids"]) == engine["bids"]
    assert _levels(body["asks"]) == engine["asks"]
    assert engine["bids"] and engine["asks"]


async def _reader(stack: Stack) -> str:
    tenant = await stack.add_tenant("t1")
    return await stack.key(tenant, Scope.READ)


async def test_spot_book_comes_from_the_stream_and_equals_the_sims(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        key = await _reader(stack)
        path = "/v1/orderbook/BTC-USDT?depth=5"
        first = await _get(stack, key, path)  # not yet synced: answered from REST
        assert first["source"] == "rest"
        _assert_same(first, _engine_book(stack, "BTC-USDT", 5))
        body = await _until_source(stack, key, path, "stream")
        _assert_same(body, _engine_book(stack, "BTC-USDT", 5))
        # a new best bid placed through the gateway shows up in the stream book
        tenant = stack.tenants["t1"]
        best = Decimal(body["bids"][0][0]) + Decimal("0.5")
        resp = await stack.http.post(
            "/v1/orders",
            json=order_body("main", price=str(best), size="0.01"),
            headers=auth(tenant.admin_key),
        )
        assert resp.status_code == 201, resp.text
        async with asyncio.timeout(30):
            while _levels((body := await _get(stack, key, path))["bids"])[0][0] != best:
                await asyncio.sleep(0.05)
        assert body["source"] == "stream"
        _assert_same(body, _engine_book(stack, "BTC-USDT", 5))


async def test_futures_book_comes_from_the_stream(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        key = await _reader(stack)
        path = "/v1/futures/orderbook/XBTUSDTM?depth=50"
        assert (await _get(stack, key, path))["source"] == "rest"
        body = await _until_source(stack, key, path, "stream")
        engine = stack.sim.state.exchange.book("XBTUSDTM")
        assert body["sequence"] == engine.sequence
        assert _levels(body["bids"]) == _levels(engine.bids[:50])
        assert _levels(body["asks"]) == _levels(engine.asks[:50])


async def test_rest_answers_while_the_stream_is_down(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        key = await _reader(stack)
        path = "/v1/orderbook/ETH-USDT?depth=3"
        await _until_source(stack, key, path, "stream")
        # no new WebSocket token can be had, and every connection drops
        fault = {"kind": "error_5xx", "pathPrefix": "/api/v1/bullet-public", "count": None}
        await stack.sim_admin("POST", "/_sim/faults", fault)
        await stack.sim_admin("POST", "/_sim/ws/faults", {"kind": "drop"})
        body = await _until_source(stack, key, path, "rest")
        _assert_same(body, _engine_book(stack, "ETH-USDT", 3))
        await asyncio.sleep(0.3)
        assert (await _get(stack, key, path))["source"] == "rest"  # still down
        await stack.sim_admin("DELETE", "/_sim/faults")
        body = await _until_source(stack, key, path, "stream", timeout=20)
        _assert_same(body, _engine_book(stack, "ETH-USDT", 3))
        counts = stack.services.stream_counts.counts
        assert counts["book_spot", "reconnect"] >= 1
        assert counts["book_spot", "resync"] >= 2


async def test_unknown_symbol_is_404_and_bad_depth_422(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        key = await _reader(stack)
        for path in ("/v1/orderbook/NOPE-USDT", "/v1/futures/orderbook/BTC-USDT"):
            resp = await stack.http.get(path, headers=auth(key))
            assert resp.status_code == 404, path
            body = resp.json()
            assert (body["error"], body["message"]) == ("not_found", "no such symbol")
            assert body["hint"]  # what to do, as every refusal says
        for query in ("depth=0", "depth=101", "depth=x"):
            resp = await stack.http.get(f"/v1/orderbook/BTC-USDT?{query}", headers=auth(key))
            assert resp.status_code == 422, query
            assert resp.json()["problems"][0]["field"] == "query.depth"
        resp = await stack.http.get("/v1/orderbook/BTC%20USDT", headers=auth(key))
        assert resp.status_code == 422
        books = stack.services.books
        assert books is not None and books.watched == []  # nothing watched for bad input


async def test_symbols_are_bounded_and_idle_ones_dropped(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        clock = FakeClock()
        books = BookService(stack.services.market, clock=clock, max_symbols=2, idle_ms=1000)
        try:
            for symbol in ("BTC-USDT", "ETH-USDT"):
                await books.book(symbol, 1)
                clock.advance(10)
            await books.book("BTC-USDT", 1)  # BTC is now the most recently asked
            clock.advance(10)
            await books.book("SOL-USDT", 1)
            assert books.watched == ["BTC-USDT", "SOL-USDT"]  # ETH made room
            assert books._from_stream("ETH-USDT", 1) is None  # an unwatched book is no answer
            clock.advance(995)
            assert await books.sweep() == ["BTC-USDT"]
            assert books.watched == ["SOL-USDT"]
            with pytest.raises(NoSuchObject):
                await books.book("NOPE-USDT", 1)
            with pytest.raises(ValueError, match="depth"):
                await books.book("BTC-USDT", 0)
        finally:
            await books.aclose()


async def test_a_partial_snapshot_too_thin_for_the_depth_goes_to_rest(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        books = stack.services.books
        assert books is not None
        async with asyncio.timeout(30):
            while (await books.book("BTC-USDT", 5)).source != "stream":
                await asyncio.sleep(0.05)
        book = books.feed.book("BTC-USDT")
        bids, _ = book.depth(5)
        snapshots = books.feed.snapshots
        # pretend the snapshot held 100 bids and the 3rd is its last: depth 5 is not known
        books._floors["BTC-USDT"] = type(books._floors["BTC-USDT"])(Decimal(bids[2][0]), None)
        assert (await books.book("BTC-USDT", 3)).source == "stream"
        assert (await books.book("BTC-USDT", 5)).source == "rest"
        async with asyncio.timeout(30):  # and the book is rebuilt from a new snapshot
            while books.feed.snapshots == snapshots:
                await asyncio.sleep(0.05)


def test_exactness_of_a_side_against_the_snapshot_floor() -> None:
    bids = [("10", "1"), ("9", "1"), ("8", "1")]
    asks = [("11", "1"), ("12", "1")]
    assert _exact(bids, 3, None, 1)  # the whole side was in the snapshot
    assert _exact(bids, 3, Decimal(8), 1)
    assert not _exact(bids, 3, Decimal("8.5"), 1)
    assert not _exact(bids, 4, Decimal(1), 1)  # fewer levels than asked, more may exist
    assert _exact(asks, 2, Decimal(12), -1)
    assert not _exact(asks, 2, Decimal("11.5"), -1)
