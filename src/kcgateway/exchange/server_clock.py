"""The exchange's clock as seen from here: the local clock plus a measured offset.

KuCoin rejects a signed request whose KC-API-TIMESTAMP is more than 5 s from its own clock
(400002). :class:`ServerClock` measures ``offset = server_time - midpoint(local send, local
receive)`` from ``GET /api/v1/timestamp`` before the first signed request, again once
``refresh_s`` has passed (checked lazily on use, no background task), and at once when the
exchange answers 400002. Concurrent callers share one measurement (single flight).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from kcgateway.clock import Clock

FetchServerTime = Callable[[], Awaitable[int]]


class ServerClock:
    """A :class:`~kcgateway.clock.Clock` corrected to the exchange's time."""

    def __init__(self, local: Clock, *, refresh_s: float = 300.0) -> None:
        self._local = local
        self._refresh_s = refresh_s
        self._offset_ms = 0
        self._synced_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def offset_ms(self) -> int:
        """Server time minus local time, in milliseconds (0 before the first sync)."""
        return self._offset_ms

    @property
    def synced(self) -> bool:
        """True once an offset has been measured."""
        return self._synced_at is not None

    def now_ms(self) -> int:
        """The estimated server time in milliseconds."""
        return self._local.now_ms() + self._offset_ms

    def monotonic(self) -> float:
        """The local monotonic clock (offsets do not apply to intervals)."""
        return self._local.monotonic()

    def stale(self) -> bool:
        """True when no offset is known or the last one is older than ``refresh_s``."""
        if self._synced_at is None:
            return True
        return self._local.monotonic() - self._synced_at >= self._refresh_s

    async def ensure_fresh(self, fetch: FetchServerTime) -> None:
        """Measure the offset if it is missing or old; otherwise return at once."""
        if self.stale():
            await self.resync(fetch, only_if_stale=True)

    async def resync(self, fetch: FetchServerTime, *, only_if_stale: bool = False) -> int:
        """Measure the offset now (one request; concurrent callers wait for it)."""
        started = self._local.monotonic()
        async with self._lock:
            if only_if_stale and not self.stale():
                return self._offset_ms
            if self._synced_at is not None and self._synced_at > started:
                return self._offset_ms  # someone measured while we waited
            sent = self._local.now_ms()
            server = await fetch()
            received = self._local.now_ms()
            self._offset_ms = server - (sent + received) // 2
            self._synced_at = self._local.monotonic()
            return self._offset_ms
