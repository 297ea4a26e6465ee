"""KuCoin's rate limits as the facade grants them: a budget per facade key, KuCoin's headers.

KuCoin ("rate limit 2.0", PROTOCOL.md section 4) debits each request's weight from a resource
pool whose quota refills every 30 s, and answers every request with ``gw-ratelimit-limit``,
``gw-ratelimit-remaining`` and ``gw-ratelimit-reset`` (ms until the pool refills); an empty
pool is HTTP 429 ``429000``. Bots (ccxt, the official SDK, Hummingbot) pace themselves on these,
so the facade answers them the same way, from its own budgets:

- a private request is debited from its facade key's pool (spot or futures, the exchange
  endpoint's pool and weight: ``routes.py`` names the endpoint of every route), so one bot
  cannot spend the account's real exchange quota that other bots and the gateway share;
- a public request from the client address's public pool (KuCoin counts public calls per IP),
  although the facade serves most of them from its 1 s cache;
- quotas are KuCoin's of a VIP level (``KCGW_KUCOIN_FACADE_VIP``, VIP 0 by default: spot 4000,
  futures 2000, public 2000 per 30 s) and the whole quota is the bot's (no headroom kept back:
  the gateway's own cancels use the exchange budget, not this one).

Invariants: a request is admitted only while the window's debited weight plus its own stays
within the quota (a request heavier than the whole quota is admitted alone in an empty window,
:class:`~kcgateway.kucoin.ratelimit.PoolBudget`'s rule); a refused request debits nothing;
times are passed in (ms), nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kcgateway.kucoin.endpoints import Pool
from kcgateway.kucoin.ratelimit import VIP0_QUOTAS, WINDOW_MS, PoolBudget

#: the most budgets kept (one per key or address and pool); idle ones go first
MAX_BUDGETS = 20_000


@dataclass(frozen=True, slots=True)
class RateState:
    """A pool's figures after one request: what KuCoin's headers say."""

    limit: int
    remaining: int
    reset_ms: int
    admitted: bool

    def headers(self) -> dict[str, str]:
        """KuCoin's ``gw-ratelimit-*`` headers."""
        return {
            "gw-ratelimit-limit": str(self.limit),
            "gw-ratelimit-remaining": str(self.remaining),
            "gw-ratelimit-reset": str(self.reset_ms),
        }


class FacadeLimits:
    """Budgets by (who, pool): who is a gateway key id, or ``ip:<address>`` for public calls."""

    def __init__(
        self, quotas: Mapping[Pool, int] = VIP0_QUOTAS, *, max_budgets: int = MAX_BUDGETS
    ) -> None:
        self.quotas = dict(quotas)
        self.max_budgets = max_budgets
        self._budgets: dict[tuple[str, Pool], PoolBudget] = {}

    def __repr__(self) -> str:
        return f"FacadeLimits(budgets={len(self._budgets)})"

    def charge(self, who: str, pool: Pool, weight: int, now_ms: int) -> RateState:
        """Debit ``weight`` from ``who``'s ``pool`` if it fits; the pool's figures either way."""
        budget = self._budgets.get((who, pool))
        if budget is None:
            self._make_room(now_ms)
            budget = self._budgets[(who, pool)] = PoolBudget(self.quotas[pool], share=1.0)
        wait_ms = budget.reserve(weight, now_ms)
        end = budget.window_end_ms
        reset = max(end - now_ms, 0) if end is not None else WINDOW_MS
        if wait_ms:
            reset = wait_ms
        return RateState(budget.limit, budget.remaining(now_ms), reset, admitted=not wait_ms)

    def _make_room(self, now_ms: int) -> None:
        if len(self._budgets) < self.max_budgets:
            return
        for key in [k for k, b in self._budgets.items() if b.remaining(now_ms) == b.limit]:
            del self._budgets[key]  # idle: its window is over, nothing to remember
        while len(self._budgets) >= self.max_budgets:  # the oldest goes (dicts keep order)
            del self._budgets[next(iter(self._budgets))]
