"""Rate budgets behind an interface, so a shared store (Redis) can back them later.

The client asks its :class:`Budget` for permission before each request (``acquire``), feeds it
the ``gw-ratelimit-*`` headers of each reply (``observe``) and tells it when the exchange said
429000 (``on_rate_limited``). :class:`LocalBudget` keeps the budget in this process with the
pure :class:`~kcgateway.kucoin.ratelimit.RateLimiter` of the core and sleeps with asyncio.

One budget belongs to one set of credentials (KuCoin counts private pools per UID): give each
client its own, or share one between clients that use the same KuCoin account.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from kcgateway.clock import Clock
from kcgateway.kucoin.endpoints import Pool
from kcgateway.kucoin.ratelimit import RateLimiter

Sleep = Callable[[float], Awaitable[None]]


class Budget(Protocol):
    """Admission control for one KuCoin account's rate-limit pools."""

    def try_acquire(self, pool: Pool, weight: int, *, priority: bool = False) -> bool:
        """Spend ``weight`` now if that needs no wait; False means: call :meth:`acquire`.

        The client's fast path (no coroutine per request while the pool has room). A budget
        that must always ask elsewhere (a shared store) simply returns False.
        """
        ...

    async def acquire(self, pool: Pool, weight: int, *, priority: bool = False) -> None:
        """Wait until ``weight`` can be spent from ``pool``, then spend it."""
        ...

    def observe(self, pool: Pool, headers: Mapping[str, str]) -> None:
        """Learn the pool's state from a reply's ``gw-ratelimit-*`` headers."""
        ...

    def on_rate_limited(self, pool: Pool, reset_ms: int | None) -> None:
        """The exchange refused with 429000: block ``pool`` until it resets."""
        ...


def ratelimit_headers(headers: Mapping[str, str]) -> tuple[int, int, int] | None:
    """``(limit, remaining, reset_ms)`` from ``gw-ratelimit-*`` headers, or None if absent/bad."""
    limit = headers.get("gw-ratelimit-limit")
    remaining = headers.get("gw-ratelimit-remaining")
    reset = headers.get("gw-ratelimit-reset")
    if limit is None or remaining is None or reset is None:
        return None
    try:
        return int(limit), int(remaining), int(reset)
    except ValueError:
        return None


def reset_ms_from(headers: Mapping[str, str]) -> int | None:
    """Milliseconds until the pool resets, from ``gw-ratelimit-reset`` (None if absent)."""
    value = headers.get("gw-ratelimit-reset")
    if value is None:
        return None
    try:
        return max(0, int(value))
    except ValueError:
        return None


class LocalBudget:
    """An in-process :class:`Budget` over the core's pure :class:`RateLimiter`."""

    def __init__(
        self,
        clock: Clock,
        limiter: RateLimiter | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        max_wait_ms: int = 35_000,
    ) -> None:
        self._clock = clock
        self.limiter = limiter if limiter is not None else RateLimiter()
        self._sleep = sleep
        self._max_wait_ms = max_wait_ms

    def try_acquire(self, pool: Pool, weight: int, *, priority: bool = False) -> bool:
        """Reserve ``weight`` if the limiter admits it now (debited); False if it says wait."""
        return self.limiter.reserve(pool, weight, self._clock.now_ms(), priority=priority) <= 0

    async def acquire(self, pool: Pool, weight: int, *, priority: bool = False) -> None:
        """Reserve ``weight``; sleep and ask again while the limiter says wait."""
        while True:
            wait_ms = self.limiter.reserve(pool, weight, self._clock.now_ms(), priority=priority)
            if wait_ms <= 0:
                return
            await self._sleep(min(wait_ms, self._max_wait_ms) / 1000)

    def observe(self, pool: Pool, headers: Mapping[str, str]) -> None:
        """Feed the limiter the server's view of the pool."""
        state = ratelimit_headers(headers)
        if state is not None:
            limit, remaining, reset_ms = state
            self.limiter.observe(pool, limit, remaining, reset_ms, self._clock.now_ms())

    def on_rate_limited(self, pool: Pool, reset_ms: int | None) -> None:
        """Block the pool until the reset the exchange gave (or a default)."""
        self.limiter.on_rate_limited(pool, reset_ms, self._clock.now_ms())
