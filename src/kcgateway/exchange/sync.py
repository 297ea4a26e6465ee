"""A blocking facade over :class:`~kcgateway.exchange.rest.KuCoinClient` for scripts and notebooks.

There is no second implementation: :class:`SyncKuCoinClient` runs an event loop in a daemon
thread, builds the async client inside it and forwards each call with
:func:`asyncio.run_coroutine_threadsafe`. Service methods keep their names and arguments::

    with SyncKuCoinClient(creds, hosts=Hosts(spot="http://127.0.0.1:8130")) as kc:
        print(kc.market.server_time())
        placed = kc.spot.hf.place("BTC-USDT", "buy", "limit", price=Decimal("1"), size=Decimal("1"))
        orders = kc.spot.hf.done_orders("BTC-USDT")      # async iterators become lists

Coroutine results are returned; async iterators are drained into a list (pass ``limit=`` where
the service offers it to bound them).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from types import TracebackType
from typing import Any, Self

from kcgateway.exchange.rest import KuCoinClient


async def _drain(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]


class _Proxy:
    """Forwards attribute access to an object living in the loop thread; calls block."""

    def __init__(self, runner: SyncKuCoinClient, target: object) -> None:
        self._runner = runner
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if callable(value):
            return self._runner.wrap(value)
        if isinstance(value, str | int | float | bool | bytes) or value is None:
            return value
        return _Proxy(self._runner, value)

    def __repr__(self) -> str:
        return f"<sync proxy of {type(self._target).__name__}>"


class SyncKuCoinClient:
    """Blocking KuCoin client: the async client run in a background event loop thread.

    Takes the same arguments as :class:`KuCoinClient`. Close it (``with`` or :meth:`close`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="kcgw-sync"
        )
        self._thread.start()
        self._client: KuCoinClient = self._run(self._build(args, kwargs))
        self._proxy = _Proxy(self, self._client)
        self._closed = False

    @staticmethod
    async def _build(args: tuple[Any, ...], kwargs: dict[str, Any]) -> KuCoinClient:
        return KuCoinClient(*args, **kwargs)

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A blocking version of ``fn`` (an async function, an async generator or a plain one)."""

        def call(*args: Any, **kwargs: Any) -> Any:
            result = fn(*args, **kwargs)
            if inspect.isasyncgen(result):
                return self._run(_drain(result))
            if inspect.iscoroutine(result):
                return self._run(result)
            return result

        return call

    @property
    def client(self) -> KuCoinClient:
        """The underlying async client (use it only from the loop thread)."""
        return self._client

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._proxy, name)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the client and stop the loop thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._run(self._client.aclose())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()
