"""Clocks. Pure code never reads time: it takes ``now`` (milliseconds) as an argument.

Only I/O layers hold a :class:`Clock` and pass ``clock.now_ms()`` down into the core.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A source of wall-clock time in integer milliseconds since the Unix epoch."""

    def now_ms(self) -> int:
        """Return the current time in milliseconds."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic time in seconds, for measuring intervals."""
        ...


class SystemClock:
    """The machine's clock, corrected by ``offset_ms`` (server time minus local time)."""

    def __init__(self, offset_ms: int = 0) -> None:
        self.offset_ms = offset_ms

    def now_ms(self) -> int:
        """Return local wall time plus the offset, in milliseconds."""
        return time.time_ns() // 1_000_000 + self.offset_ms

    def monotonic(self) -> float:
        """Return :func:`time.monotonic`."""
        return time.monotonic()


class FakeClock:
    """A clock for tests that moves only when told to."""

    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self._now_ms = now_ms
        self._mono = 0.0

    def now_ms(self) -> int:
        """Return the current fake time."""
        return self._now_ms

    def monotonic(self) -> float:
        """Return the fake monotonic time in seconds."""
        return self._mono

    def advance(self, ms: int) -> None:
        """Move both clocks forward by ``ms`` milliseconds."""
        self._now_ms += ms
        self._mono += ms / 1000
