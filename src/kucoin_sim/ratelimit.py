"""Weighted resource pools with 30-second windows (PROTOCOL.md section 4). Pure: takes now_ms.

Each (pool, subject) pair has its own window that starts at its first request and lasts
``window_ms``; a request debits its weight, and one that does not fit is refused without
debiting. Subjects are user ids for private pools and ``ip:<address>`` for the public pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

WINDOW_MS = 30_000


class Pool(StrEnum):
    """Resource pools."""

    SPOT = "spot"
    FUTURES = "futures"
    MANAGEMENT = "management"
    PUBLIC = "public"
    BROKER = "broker"


DEFAULT_QUOTAS: Mapping[str, int] = {
    Pool.SPOT: 4000,
    Pool.FUTURES: 2000,
    Pool.MANAGEMENT: 2000,
    Pool.PUBLIC: 2000,
    Pool.BROKER: 2000,
}


@dataclass(frozen=True)
class Quota:
    """The outcome of one charge, as the ``gw-ratelimit-*`` headers report it."""

    allowed: bool
    limit: int
    remaining: int
    reset_ms: int

    def headers(self) -> dict[str, str]:
        """The three ``gw-ratelimit-*`` response headers."""
        return {
            "gw-ratelimit-limit": str(self.limit),
            "gw-ratelimit-remaining": str(self.remaining),
            "gw-ratelimit-reset": str(self.reset_ms),
        }


class RateLimiter:
    """Per-subject weighted pools; ``charge`` is the only mutating call."""

    def __init__(self, quotas: Mapping[str, int] | None = None, window_ms: int = WINDOW_MS) -> None:
        self.quotas = dict(DEFAULT_QUOTAS if quotas is None else quotas)
        self.window_ms = window_ms
        self._windows: dict[tuple[str, str], list[int]] = {}

    def charge(self, pool: str, subject: str, weight: int, now_ms: int) -> Quota:
        """Debit ``weight`` from the subject's pool if it fits; say what is left either way."""
        limit = self.quotas.get(pool, DEFAULT_QUOTAS[Pool.PUBLIC])
        window = self._windows.get((pool, subject))
        if window is None or now_ms >= window[0] + self.window_ms:
            window = [now_ms, 0]
            self._windows[(pool, subject)] = window
        allowed = window[1] + weight <= limit
        if allowed:
            window[1] += weight
        reset = max(0, window[0] + self.window_ms - now_ms)
        return Quota(allowed=allowed, limit=limit, remaining=limit - window[1], reset_ms=reset)

    def reset(self) -> None:
        """Forget every window (control API reset)."""
        self._windows.clear()
