"""A blocking wrapper of :class:`~kcgateway.client.aio.AsyncGatewayClient` for plain scripts.

It runs the async client on an event loop of its own, in one background thread; every method
blocks until its answer. Use it as a context manager (or call :meth:`close`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Coroutine, Iterator
from typing import Any, TypeVar

from kcgateway.client.aio import AsyncGatewayClient
from kcgateway.client.models import Event, Order

__all__ = ["GatewayClient"]
T = TypeVar("T")


class GatewayClient:
    """The blocking client: the same methods as the async one, same retries and errors."""

    def __init__(self, base_url: str, key: str, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._client = self._run(_make(base_url, key, options))

    def __repr__(self) -> str:
        return f"GatewayClient({self._client.base_url!r})"

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    @property
    def last_event_id(self) -> int | None:
        """The id of the last event :meth:`events` yielded."""
        return self._client.last_event_id

    def place_order(self, account: str, symbol: str, side: str, **fields: Any) -> Order:
        """See :meth:`AsyncGatewayClient.place_order`."""
        return self._run(self._client.place_order(account, symbol, side, **fields))

    def get_order(self, order_id: str, *, market: str = "spot") -> Order:
        """See :meth:`AsyncGatewayClient.get_order`."""
        return self._run(self._client.get_order(order_id, market=market))

    def list_orders(self, *, market: str = "spot", **params: Any) -> list[Order]:
        """See :meth:`AsyncGatewayClient.list_orders`."""
        return self._run(self._client.list_orders(market=market, **params))

    def cancel_order(self, order_id: str, *, market: str = "spot") -> Order:
        """See :meth:`AsyncGatewayClient.cancel_order`."""
        return self._run(self._client.cancel_order(order_id, market=market))

    def balances(self, account: str) -> list[dict[str, Any]]:
        """See :meth:`AsyncGatewayClient.balances`."""
        return self._run(self._client.balances(account))

    def events_page(self, **options: Any) -> tuple[list[Event], int]:
        """See :meth:`AsyncGatewayClient.events_page`."""
        return self._run(self._client.events_page(**options))

    def events(self, **options: Any) -> Iterator[Event]:
        """See :meth:`AsyncGatewayClient.events`: blocks for each next event, forever."""
        stream = self._client.events(**options)
        try:
            while True:
                yield self._run(_next(stream))
        finally:
            self._run(stream.aclose())

    def close(self) -> None:
        """Close the HTTP session and stop the loop's thread."""
        if self._thread.is_alive():
            self._run(self._client.aclose())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()


async def _next(stream: AsyncGenerator[Event, None]) -> Event:
    return await anext(stream)


async def _make(base_url: str, key: str, options: dict[str, Any]) -> AsyncGatewayClient:
    """Built on the client's own loop (its aiohttp session belongs to that loop)."""
    return AsyncGatewayClient(base_url, key, **options)
