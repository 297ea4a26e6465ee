"""A key's use, as the ``dormant_key`` detector reads it: the longest idle stretch since it traded.

A *use* is any authenticated request of the key (an order, a cancel, a balance or order poll),
not only an accepted order: a grid bot whose resting orders do not fill for ten days still polls
them, and its key is not dormant. A key is judged at each order by the longest stretch with no
use at all since its last accepted order (or since the gateway started following it):

- a stolen key that wakes after 8 idle days, reads the balances and then trades has an 8-day
  stretch behind its first order, however many polls came between the waking and the order;
- a bot that polls every hour and trades once in 10 days never had a stretch over an hour.

:meth:`KeyUse.view` gives the detector the stretch as ``(last use before it, the use that
ended it)``; ``None`` for the end means the stretch is still open (idle until now). Pure: every
time is passed in (epoch ms).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class KeyUse:
    """One key's last use and its longest idle stretch since its last accepted order."""

    last_ms: int | None = None
    idle_from_ms: int | None = None
    idle_to_ms: int | None = None

    def used(self, now_ms: int) -> None:
        """An authenticated request at ``now_ms`` (late or repeated times change nothing)."""
        last = self.last_ms
        if last is not None and now_ms > last:
            longest = 0 if self.idle_from_ms is None else (self.idle_to_ms or 0) - self.idle_from_ms
            if now_ms - last > longest:
                self.idle_from_ms, self.idle_to_ms = last, now_ms
        if last is None or now_ms > last:
            self.last_ms = now_ms

    def traded(self, now_ms: int) -> None:
        """An order of the key was accepted: the stretches before it are judged and closed."""
        self.used(now_ms)
        self.idle_from_ms = self.idle_to_ms = None

    def view(self, now_ms: int) -> tuple[int | None, int | None]:
        """``(last use before the longest stretch, its end or None while it is open)``."""
        last = self.last_ms
        if last is None:
            return None, None
        if self.idle_from_ms is None or self.idle_to_ms is None:
            return last, None
        if now_ms - last >= self.idle_to_ms - self.idle_from_ms:
            return last, None
        return self.idle_from_ms, self.idle_to_ms
