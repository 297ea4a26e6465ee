"""Weighted resource pools with 30-second windows (PROTOCOL.md section 4). Pure: takes now_ms.

Each (pool, subject) pair has its own window that starts at its first request and lasts
``window_ms``; a request debits its weight, and one that does not fit is refused without
debiting. Subjects are user ids for private pools and ``ip:<address>`` for the public pool.

Every window keeps its own counts (weight used, requests admitted, requests refused with 429),
and the last :data:`HISTORY` finished windows of each pair are kept, so a test can read from the
exchange's side how much of each window was used (``GET /_sim/ratelimit``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

WINDOW_MS = 30_000
HISTORY = 1000
"""Finished windows kept per (pool, subject)."""


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


@dataclass
class Window:
    """One (pool, subject) window: when it started and what it served."""

    start_ms: int
    used: int = 0
    calls: int = 0
    refused: int = 0

    def as_json(self, pool: str, subject: str) -> dict[str, object]:
        """The control API's view of the window."""
        return {
            "pool": pool,
            "subject": subject,
            "startMs": self.start_ms,
            "used": self.used,
            "calls": self.calls,
            "refused": self.refused,
        }


class RateLimiter:
    """Per-subject weighted pools; ``charge`` is the only mutating call on the request path."""

    def __init__(self, quotas: Mapping[str, int] | None = None, window_ms: int = WINDOW_MS) -> None:
        self.quotas = dict(DEFAULT_QUOTAS if quotas is None else quotas)
        self.window_ms = window_ms
        self._windows: dict[tuple[str, str], Window] = {}
        self._done: dict[tuple[str, str], deque[Window]] = {}

    def charge(self, pool: str, subject: str, weight: int, now_ms: int) -> Quota:
        """Debit ``weight`` from the subject's pool if it fits; say what is left either way."""
        limit = self.quotas.get(pool, DEFAULT_QUOTAS[Pool.PUBLIC])
        key = (pool, subject)
        window = self._windows.get(key)
        if window is None or now_ms >= window.start_ms + self.window_ms:
            if window is not None and window.calls:
                self._done.setdefault(key, deque(maxlen=HISTORY)).append(window)
            window = Window(now_ms)
            self._windows[key] = window
        allowed = window.used + weight <= limit
        if allowed:
            window.used += weight
        if weight:
            window.calls += 1
            window.refused += not allowed
        reset = max(0, window.start_ms + self.window_ms - now_ms)
        return Quota(allowed=allowed, limit=limit, remaining=limit - window.used, reset_ms=reset)

    def configure(self, quotas: Mapping[str, int], window_ms: int | None = None) -> None:
        """Change pool sizes (and the window length), forgetting every window."""
        self.quotas.update(quotas)
        if window_ms is not None:
            self.window_ms = window_ms
        self.reset()

    def windows(self, pool: str | None = None, subject: str | None = None) -> list[object]:
        """Finished and current windows (JSON-ready), oldest first, of one pool and/or subject."""
        out: list[object] = []
        for key in sorted({*self._done, *self._windows}):
            if (pool is None or key[0] == pool) and (subject is None or key[1] == subject):
                windows = [*self._done.get(key, ())]
                current = self._windows.get(key)
                if current is not None and current.calls:
                    windows.append(current)
                out += [w.as_json(*key) for w in windows]
        return out

    def reset(self) -> None:
        """Forget every window (control API reset)."""
        self._windows.clear()
        self._done.clear()
