"""Weighted rate-limit budgets for KuCoin's resource pools. Pure: the caller passes ``now_ms``.

KuCoin ("rate limit 2.0", PROTOCOL.md section 4) debits each request's weight from a pool
(spot, futures, management, public, broker, earn) whose quota refills every 30 s; the window
starts at the first request. Every reply carries ``gw-ratelimit-limit``, ``-remaining`` and
``-reset`` (ms until the pool refills). An empty pool answers HTTP 429 / ``429000``.

Invariants of :class:`PoolBudget` (checked by property tests):

- an ordinary request is admitted only while ``used + weight <= soft_limit``, where
  ``soft_limit = floor(limit * share)`` (share 0.8 by default): the last 20% is headroom;
- a priority request (a cancel) may use that headroom: it is admitted while
  ``used + weight <= limit``, so placing orders can never starve cancels;
- nothing is admitted while the pool is blocked after a 429;
- a request heavier than its cap (only possible when the server reports a tiny limit) is
  admitted alone in an empty window, so a limiter never refuses a request forever;
- ``reserve`` returns 0 and debits the weight, or returns the ms to wait and debits nothing.

What the server reports wins when it is worse than what we counted (another process may share
the same UID), so :meth:`PoolBudget.observe` only ever raises ``used`` within a window.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from kcgateway.kucoin.endpoints import Endpoint, Pool

WINDOW_MS = 30_000
"""Length of a rate-limit window."""

DEFAULT_SHARE = 0.8
"""Share of each pool that ordinary requests may use; the rest is kept for cancels."""

_SPOT_BY_VIP = (
    4000,
    6000,
    8000,
    10000,
    13000,
    16000,
    20000,
    23000,
    26000,
    30000,
    33000,
    36000,
    40000,
)
_FUTURES_BY_VIP = (
    2000,
    2000,
    4000,
    5000,
    6000,
    7000,
    8000,
    10000,
    12000,
    14000,
    16000,
    18000,
    20000,
)
_FLAT_QUOTA = 2000  # earn, public; broker is not documented and assumed to be the same


def vip_quotas(level: int = 0) -> Mapping[Pool, int]:
    """Quota per 30 s window of every pool at a VIP ``level`` (0-12), from PROTOCOL.md table 4."""
    if not 0 <= level < len(_SPOT_BY_VIP):
        raise ValueError(f"VIP level must be 0..{len(_SPOT_BY_VIP) - 1}, not {level}")
    futures = _FUTURES_BY_VIP[level]
    return MappingProxyType(
        {
            Pool.SPOT: _SPOT_BY_VIP[level],
            Pool.FUTURES: futures,
            Pool.MANAGEMENT: futures,
            Pool.PUBLIC: _FLAT_QUOTA,
            Pool.BROKER: _FLAT_QUOTA,
            Pool.EARN: _FLAT_QUOTA,
        }
    )


VIP0_QUOTAS: Mapping[Pool, int] = vip_quotas(0)
"""Default quotas (VIP 0): spot 4000, every other pool 2000 per 30 s."""


class PoolBudget:
    """The weight used in one pool's current window, and how much more may be reserved."""

    def __init__(self, limit: int, *, share: float = DEFAULT_SHARE) -> None:
        if limit <= 0:
            raise ValueError(f"limit must be positive, not {limit}")
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], not {share}")
        self.limit = limit
        self.share = share
        self.used = 0
        self.window_end_ms: int | None = None
        self.blocked_until_ms: int | None = None

    @property
    def soft_limit(self) -> int:
        """The most ordinary (non-priority) requests may use in one window."""
        return int(self.limit * self.share)

    def _roll(self, now_ms: int) -> None:
        if self.window_end_ms is not None and now_ms >= self.window_end_ms:
            self.used = 0
            self.window_end_ms = None
        if self.blocked_until_ms is not None and now_ms >= self.blocked_until_ms:
            self.blocked_until_ms = None

    def reserve(self, weight: int, now_ms: int, *, priority: bool = False) -> int:
        """Debit ``weight`` and return 0, or return the ms to wait (nothing debited).

        A request heavier than its cap (the soft limit, or the whole limit for a priority
        request; possible only after the server reported a tiny limit) is admitted alone, in an
        otherwise empty window, rather than refused forever.
        """
        if weight < 0:
            raise ValueError(f"weight must not be negative, not {weight}")
        self._roll(now_ms)
        if self.blocked_until_ms is not None:
            return self.blocked_until_ms - now_ms
        cap = self.limit if priority else self.soft_limit
        if self.used + weight > cap and self.used:
            # a positive ``used`` always has a window end
            return (self.window_end_ms or now_ms + WINDOW_MS) - now_ms
        if self.window_end_ms is None and weight:
            self.window_end_ms = now_ms + WINDOW_MS
        self.used += weight
        return 0

    def observe(self, limit: int, remaining: int, reset_ms: int, now_ms: int) -> None:
        """Learn from ``gw-ratelimit-limit/remaining/reset`` on a reply received at ``now_ms``."""
        self._roll(now_ms)
        if limit > 0:
            self.limit = limit
        server_used = min(max(self.limit - remaining, 0), self.limit)
        self.used = max(self.used, server_used)
        self.window_end_ms = now_ms + max(reset_ms, 0) if self.used else self.window_end_ms

    def on_rate_limited(self, reset_ms: int | None, now_ms: int) -> None:
        """The exchange answered 429000: the pool is empty until ``reset_ms`` from now.

        Without a reset hint the pool stays blocked until the current window ends, or a full
        window when none is known.
        """
        self._roll(now_ms)
        if reset_ms is None:
            until = self.window_end_ms if self.window_end_ms is not None else now_ms + WINDOW_MS
        else:
            until = now_ms + max(reset_ms, 1)
        self.blocked_until_ms = until
        self.window_end_ms = until
        self.used = self.limit

    def remaining(self, now_ms: int) -> int:
        """Weight still available in this window (0 while blocked), for metrics."""
        self._roll(now_ms)
        if self.blocked_until_ms is not None:
            return 0
        return max(self.limit - self.used, 0)


class RateLimiter:
    """One :class:`PoolBudget` per pool, for one KuCoin account (UID).

    The PUBLIC pool is counted per IP, not per UID: give every account's limiter the same
    public budget through ``shared`` (``shared={Pool.PUBLIC: public_budget}``) so that
    market-data calls made for different accounts share one budget.
    """

    def __init__(
        self,
        quotas: Mapping[Pool, int] = VIP0_QUOTAS,
        *,
        share: float = DEFAULT_SHARE,
        shared: Mapping[Pool, PoolBudget] | None = None,
    ) -> None:
        given = dict(shared or {})
        self._pools = {
            pool: given.get(pool) or PoolBudget(quotas[pool], share=share) for pool in Pool
        }

    def budget(self, pool: Pool) -> PoolBudget:
        """The budget of ``pool``."""
        return self._pools[pool]

    def reserve(self, pool: Pool, weight: int, now_ms: int, *, priority: bool = False) -> int:
        """Reserve ``weight`` in ``pool``: 0 means go (debited), >0 the ms to wait first."""
        return self._pools[pool].reserve(weight, now_ms, priority=priority)

    def reserve_for(self, ep: Endpoint, now_ms: int) -> int:
        """Reserve an endpoint's weight in its pool; cancels get priority."""
        return self.reserve(ep.pool, ep.weight, now_ms, priority=ep.cancel)

    def observe(self, pool: Pool, limit: int, remaining: int, reset_ms: int, now_ms: int) -> None:
        """Learn from the ``gw-ratelimit-*`` headers of a reply from ``pool``."""
        self._pools[pool].observe(limit, remaining, reset_ms, now_ms)

    def on_rate_limited(self, pool: Pool, reset_ms: int | None, now_ms: int) -> None:
        """Block ``pool`` after a 429000 until its reset."""
        self._pools[pool].on_rate_limited(reset_ms, now_ms)

    def remaining(self, pool: Pool, now_ms: int) -> int:
        """Weight left in ``pool`` now (for metrics)."""
        return self._pools[pool].remaining(now_ms)
