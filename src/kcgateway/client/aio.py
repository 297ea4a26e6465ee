"""The asyncio client of the gateway's ``/v1`` API (aiohttp).

Placing an order makes its ``Idempotency-Key`` (and a ``clientOid``) once, before the first
attempt, and sends every retry with the same ones: a lost answer is retried without placing
twice (the gateway replays its first answer). Reads retry too; nothing else is resent. A
refusal raises a :mod:`kcgateway.client.errors` class with the gateway's reasons.

:meth:`AsyncGatewayClient.events` follows ``GET /v1/events`` and, when the connection drops,
reconnects with the last id it saw (``Last-Event-ID``): the gateway replays what was missed,
so each event arrives once and in order.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import aiohttp

from kcgateway.client.errors import GatewayError, GatewayUnavailable, RequestRefused, error_for
from kcgateway.client.models import Event, Order

__all__ = ["AsyncGatewayClient", "Backoff"]

_PREFIX = {"spot": "/v1", "margin": "/v1/margin", "futures": "/v1/futures"}
Sleep = Callable[[float], Awaitable[None]]


class Backoff:
    """Capped, jittered exponential backoff: ``base * 2**attempt``, at most ``cap`` seconds."""

    def __init__(
        self, base_s: float = 0.2, cap_s: float = 5.0, rand: Callable[[], float] = random.random
    ) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self._rand = rand

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based): full jitter."""
        return self._rand() * min(self.cap_s, self.base_s * float(2**attempt))


def _text(value: Any) -> Any:
    """Decimals (and anything numeric) go out as exact strings, never JSON numbers."""
    return str(value) if isinstance(value, Decimal | int | float) else value


class AsyncGatewayClient:
    """A gateway key's view of ``/v1``. ``async with`` it, or call :meth:`aclose`."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        session: aiohttp.ClientSession | None = None,
        retries: int = 4,
        backoff: Backoff | None = None,
        timeout_s: float = 30.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {key}"}
        self._session = session
        self._own_session = session is None
        self.retries = retries
        self.backoff = backoff or Backoff()
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._sleep = sleep
        #: the id of the last event :meth:`events` yielded (resume from here)
        self.last_event_id: int | None = None

    def __repr__(self) -> str:
        return f"AsyncGatewayClient({self.base_url!r})"  # never the key

    async def __aenter__(self) -> AsyncGatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session (if the client made it)."""
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    # -- orders ------------------------------------------------------------------------------

    async def place_order(
        self,
        account: str,
        symbol: str,
        side: str,
        *,
        type: str = "limit",
        price: Decimal | str | None = None,
        size: Decimal | str | int | None = None,
        funds: Decimal | str | None = None,
        client_oid: str | None = None,
        market: str = "spot",
        idempotency_key: str | None = None,
        **terms: Any,
    ) -> Order:
        """Place an order, exactly once however often the answer is lost.

        ``terms``: the market's own fields by their API names (``timeInForce``, ``leverage``,
        ``marginMode``, ...). Raises :class:`OrderRejected` (with its reason) when refused.
        """
        body: dict[str, Any] = {"account": account, "symbol": symbol, "side": side, "type": type}
        body["clientOid"] = client_oid or uuid.uuid4().hex
        for name, value in (("price", price), ("size", size), ("funds", funds), *terms.items()):
            if value is not None:
                body[name] = _text(value)
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        data = await self._call("POST", f"{_PREFIX[market]}/orders", body=body, headers=headers)
        return Order.from_json(data)

    async def get_order(self, order_id: str, *, market: str = "spot") -> Order:
        """One order (by the gateway's id)."""
        return Order.from_json(await self._call("GET", f"{_PREFIX[market]}/orders/{order_id}"))

    async def list_orders(self, *, market: str = "spot", **params: Any) -> list[Order]:
        """The tenant's orders of ``market``, newest first (``params``: the route's filters)."""
        data = await self._call("GET", f"{_PREFIX[market]}/orders", params=params)
        return [Order.from_json(o) for o in data]

    async def cancel_order(self, order_id: str, *, market: str = "spot") -> Order:
        """Cancel an order; the answer is the order as it then stands."""
        path = f"{_PREFIX[market]}/orders/{order_id}"
        return Order.from_json(await self._call("DELETE", path))

    async def balances(self, account: str) -> list[dict[str, Any]]:
        """Spot balances of one of the tenant's accounts (money as strings)."""
        data: list[dict[str, Any]] = await self._call(
            "GET", "/v1/balances", params={"account": account}
        )
        return data

    # -- events ------------------------------------------------------------------------------

    async def events_page(
        self, *, after: int = 0, limit: int = 100, kinds: str | None = None
    ) -> tuple[list[Event], int]:
        """One page of events after ``after`` (polling) and the id to continue after."""
        params: dict[str, Any] = {"after": after, "limit": limit}
        if kinds:
            params["kinds"] = kinds
        data = await self._call("GET", "/v1/events/page", params=params)
        return [Event.from_json(e) for e in data["events"]], int(data["next"])

    async def events(
        self, *, after: int | None = None, kinds: str | None = None, read_timeout_s: float = 30.0
    ) -> AsyncGenerator[Event, None]:
        """Follow the event stream forever, reconnecting with the last id after any drop.

        ``after``: resume after this id (e.g. the ``last_event_id`` a previous run stored);
        None starts with the live events. Raises :class:`RequestRefused` (bad key, missing
        scope); every other failure is retried with backoff.
        """
        if after is not None:
            self.last_event_id = after
        attempt = 0
        while True:
            try:
                async for event in self._stream_once(kinds, read_timeout_s):
                    attempt = 0
                    yield event
            except RequestRefused:
                raise
            except (GatewayError, aiohttp.ClientError, TimeoutError):
                pass  # dropped or refused for now: reconnect from the last id
            await self._sleep(self.backoff.delay(attempt))
            attempt = min(attempt + 1, 16)

    async def _stream_once(self, kinds: str | None, read_timeout_s: float) -> AsyncIterator[Event]:
        headers = dict(self._auth)
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        params = {"kinds": kinds} if kinds else None
        timeout = aiohttp.ClientTimeout(total=None, sock_read=read_timeout_s)
        url = self.base_url + "/v1/events"
        async with self._http().get(url, headers=headers, params=params, timeout=timeout) as resp:
            if resp.status != 200:
                raise error_for(resp.status, await _json_or_empty(resp))
            async for frame in _sse_frames(resp.content):
                if "id" in frame and frame["id"].isdigit():
                    self.last_event_id = int(frame["id"])  # also the opening id-only frame
                if frame.get("data"):
                    yield Event.from_json(_loads(frame["data"]))

    # -- the one request loop ----------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send (retrying reads and keyed placements with the SAME headers), decode, raise."""
        resend = method == "GET" or (headers is not None and "Idempotency-Key" in headers)
        attempts = self.retries + 1 if resend else 1
        last: GatewayError | None = None
        for attempt in range(attempts):
            if attempt:
                await self._sleep(self.backoff.delay(attempt - 1))
            try:
                status, data = await self._send(method, path, body, params, headers)
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = GatewayUnavailable(0, {"error": "no_answer", "message": _why(exc)})
                continue
            if status < 400:
                return data
            last = error_for(status, data)
            if not isinstance(last, GatewayUnavailable) and not _in_progress(data):
                raise last
        assert last is not None  # noqa: S101 - the loop ran at least once
        raise last

    async def _send(
        self,
        method: str,
        path: str,
        body: Any,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ) -> tuple[int, Any]:
        sent = {**self._auth, **(headers or {})}
        query = {k: _text(v) for k, v in (params or {}).items() if v is not None}
        async with self._http().request(
            method, self.base_url + path, json=body, params=query, headers=sent,
            timeout=self._timeout,
        ) as resp:  # fmt: skip
            return resp.status, await _json_or_empty(resp)


def _in_progress(data: Any) -> bool:
    """The gateway is still answering the first request under this Idempotency-Key: retry."""
    return isinstance(data, dict) and data.get("error") == "idempotency_in_progress"


def _why(exc: BaseException) -> str:
    return f"no answer from the gateway ({type(exc).__name__}); retried and gave up"


def _loads(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    return data


async def _json_or_empty(resp: aiohttp.ClientResponse) -> Any:
    if resp.status == 204:
        return None
    try:
        return await resp.json(content_type=None)
    except ValueError:
        return {}


async def _sse_frames(content: aiohttp.StreamReader) -> AsyncIterator[dict[str, str]]:
    """Server-sent event frames as ``{field: value}`` (``data`` lines joined by newlines)."""
    frame: dict[str, str] = {}
    async for raw in content:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if frame:
                yield frame
            frame = {}
            continue
        if line.startswith(":"):
            continue  # a comment: keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data" and "data" in frame:
            frame["data"] += "\n" + value
        else:
            frame[name] = value
