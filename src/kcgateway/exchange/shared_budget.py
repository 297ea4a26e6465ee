"""Rate budgets shared by every gateway instance through Redis, with a local 1/N fallback.

KuCoin counts each private pool per UID: two gateway instances trading for one UID, each with
its own in-process :class:`~kcgateway.exchange.budget.LocalBudget`, would each spend the whole
quota and earn 429s. :class:`SharedBudgets` keeps one budget per (budget key, pool) in Redis:

- The key is the KuCoin UID of the account (``ExchangeAccount.sub_uid``, learned from the key's
  ``GET /api/v1/user/api-key`` when it was connected), or the credential id when no UID is known;
  :class:`~kcgateway.gateway.venue.BoundSigner` builds it (``uid:<uid>`` or
  ``credential:<id>``), so two accounts of one UID share one budget.
- One Lua script does every change atomically, with Redis's clock (instances' clocks may differ):
  ``reserve`` debits the endpoint's weight within the 30 s window (ordinary requests up to the
  soft share, 0.8; priority requests, i.e. cancels, up to the whole quota, as the pure
  :class:`~kcgateway.kucoin.ratelimit.PoolBudget` does); ``observe`` learns from the
  ``gw-ratelimit-*`` headers any instance sees (``used`` only ever rises within a window, the
  window end follows the server's; a late reply from a window already over is ignored);
  ``block`` stops the pool after a 429 until its reset; ``add`` hands back what an instance
  spent on its own while Redis was away.
- Cancels are served before new orders: besides their headroom, a cancel that has to wait makes
  ordinary requests wait a little longer (``priority_grace_ms``) after the window it waits for.
- The PUBLIC pool is counted per IP by KuCoin, i.e. per instance: it stays in this process, one
  budget for every client (``SharedBudgets.public``).

When Redis does not answer (connection refused, reset or a timeout), each budget falls back to
a local :class:`~kcgateway.kucoin.ratelimit.RateLimiter` holding 1/N of each quota, N being the
live instances (``live_instances``, at least 1), never an unlimited budget: the headers seen
meanwhile count too (the server's remaining weight, split evenly over the N instances). Redis is
asked again every ``retry_s``; when it answers, the weight spent locally in the current window is
added to the shared count and the budget is shared again. :attr:`SharedBudgets.mode` says which:
``shared`` or ``local_share`` (for ``/readyz`` and ``kcgw_rate_budget_mode``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from kcgateway.clock import Clock, SystemClock
from kcgateway.exchange.budget import LocalBudget, Sleep, ratelimit_headers
from kcgateway.kucoin.endpoints import Pool
from kcgateway.kucoin.ratelimit import DEFAULT_SHARE, VIP0_QUOTAS, WINDOW_MS, RateLimiter

log = logging.getLogger("kcgateway.exchange.budget")

Mode = Literal["shared", "local_share"]

#: What makes Redis "down" for the budget (anything else is a bug and is raised).
#: Redis is "down" for the budget whatever the reason it does not serve: unreachable, slow,
#: or answering with an error (protected mode, AUTH required, out of memory, a read-only
#: replica): a ResponseError let through here made every order a 500 and /readyz crash
_DOWN = (RedisError, OSError, TimeoutError)

# KEYS[1]: the pool's hash. ARGV: op, default limit, window ms, share, priority grace ms, end
# margin ms, then the op's arguments. Fields: limit, used, wend (window end, 0: none), seen (1:
# wend came from the server), prev (the last window's end), blocked (until), pw (ordinary requests
# wait until then: a cancel is waiting). Returns {wait ms, used, limit, ms left in the window}.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op = ARGV[1]
local window = tonumber(ARGV[3])
local share = tonumber(ARGV[4])
local grace = tonumber(ARGV[5])
local margin = tonumber(ARGV[6])
local h = redis.call('HMGET', KEYS[1], 'limit', 'used', 'wend', 'seen', 'prev', 'blocked', 'pw')
local limit = tonumber(h[1]) or tonumber(ARGV[2])
local used = tonumber(h[2]) or 0
local wend = tonumber(h[3]) or 0
local seen = tonumber(h[4]) or 0
local prev = tonumber(h[5]) or 0
local blocked = tonumber(h[6]) or 0
local pw = tonumber(h[7]) or 0
if wend > 0 and now >= wend then prev = wend; used = 0; wend = 0; seen = 0 end
if blocked > 0 and now >= blocked then blocked = 0 end
if pw > 0 and now >= pw then pw = 0 end
local wait = 0
if op == 'reserve' then
  local weight = tonumber(ARGV[7])
  local priority = ARGV[8] == '1'
  local cap = math.floor(limit * share)
  if priority then cap = limit end
  if blocked > 0 then
    wait = blocked - now
    if priority then pw = math.max(pw, blocked + grace) end
  elseif pw > 0 and not priority then
    wait = pw - now
  elseif used > 0 and used + weight > cap then
    wait = math.max(wend - now, 1)
    if priority then pw = math.max(pw, wend + grace) end
  else
    if wend == 0 and weight > 0 then wend = now + window; seen = 0 end
    used = used + weight
  end
elseif op == 'observe' then
  local l = tonumber(ARGV[7])
  local e = now + math.max(tonumber(ARGV[9]), 0) + margin
  if prev == 0 or e > prev + window / 2 then
    if l > 0 then limit = l end
    local server_used = math.min(math.max(limit - tonumber(ARGV[8]), 0), limit)
    if server_used > used then used = server_used end
    if used > 0 then
      if wend == 0 or seen == 0 then wend = e else wend = math.max(wend, e) end
      seen = 1
    end
  end
elseif op == 'block' then
  local reset = tonumber(ARGV[7])
  local untl = now + math.max(reset, 1)
  if reset < 0 then
    untl = now + window
    if wend > 0 then untl = wend end
  end
  blocked = untl; wend = untl; seen = 1; used = limit
elseif op == 'add' then
  if wend == 0 then wend = now + math.max(tonumber(ARGV[8]), 1); seen = 0 end
  used = used + tonumber(ARGV[7])
end
redis.call('HSET', KEYS[1], 'limit', limit, 'used', used, 'wend', wend, 'seen', seen,
  'prev', prev, 'blocked', blocked, 'pw', pw)
redis.call('PEXPIRE', KEYS[1], math.max(wend, blocked, pw, now) - now + 2 * window)
local left = 0
if wend > 0 then left = wend - now end
return {wait, used, limit, left}
"""


class RedisDown(Exception):
    """Redis did not answer: the budget uses its local share."""


class SharedBudgets:
    """The Redis connection, the mode and one :class:`SharedBudget` per budget key.

    ``live_instances`` returns how many gateway instances are live (the fallback's N);
    ``prefix`` namespaces the Redis keys (tests use one per test).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        live_instances: Callable[[], int] = lambda: 1,
        clock: Clock | None = None,
        quotas: Mapping[Pool, int] = VIP0_QUOTAS,
        share: float = DEFAULT_SHARE,
        window_ms: int = WINDOW_MS,
        prefix: str = "kcgw:rb:",
        retry_s: float = 1.0,
        priority_grace_ms: int = 250,
        end_margin_ms: int = 20,
        max_wait_ms: int = 35_000,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.redis = redis
        self.live_instances = live_instances
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.quotas = dict(quotas)
        self.share = share
        self.window_ms = window_ms
        self.prefix = prefix
        self.retry_s = retry_s
        self.priority_grace_ms = priority_grace_ms
        self.end_margin_ms = end_margin_ms
        self.max_wait_ms = max_wait_ms
        self.sleep = sleep
        self.public = LocalBudget(self.clock, RateLimiter(self.quotas, share=share), sleep=sleep)
        self._script = redis.register_script(_LUA)
        self._budgets: dict[str, SharedBudget] = {}
        self._healthy = True
        self._retry_at = 0.0

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        timeout_s: float = 1.0,
        connect_timeout_s: float = 3.0,
        max_connections: int = 32,
        **kwargs: Any,
    ) -> SharedBudgets:
        """Budgets on the Redis at ``url`` (``redis://host:port/db``); no I/O until first use.

        A command that gets no answer within ``timeout_s`` (a connection not made within
        ``connect_timeout_s``) counts as Redis being down; a broken pooled connection (Redis
        restarted) is reconnected once before that. At most
        ``max_connections`` are opened: a burst of requests queues for them instead of opening
        one connection each (hundreds of handshakes at once time out on a loaded machine).
        """
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            # wait for a pooled connection as long as it takes: a busy pool is this process's
            # congestion, not Redis being down (each command still times out on its own)
            timeout=None,
            socket_timeout=timeout_s,
            socket_connect_timeout=connect_timeout_s,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        return cls(Redis.from_pool(pool), **kwargs)

    def for_key(self, key: str) -> SharedBudget:
        """The budget of one KuCoin UID (``uid:<uid>``) or credential (``credential:<id>``)."""
        budget = self._budgets.get(key)
        if budget is None:
            budget = self._budgets[key] = SharedBudget(self, key)
        return budget

    @property
    def mode(self) -> Mode:
        """``shared`` while Redis answers, ``local_share`` while each budget holds 1/N."""
        return "shared" if self._healthy else "local_share"

    def share_of(self, quota: int) -> int:
        """This instance's part of ``quota`` while Redis is away (1/N, at least 1)."""
        return max(1, quota // max(1, self.live_instances()))

    def probe_due(self) -> bool:
        """Redis is away and it is time to ask it again (nothing changes: see use_redis)."""
        return not self._healthy and self.clock.monotonic() >= self._retry_at

    def use_redis(self) -> bool:
        """True while Redis is healthy; when it is not, True once every ``retry_s`` (a probe)."""
        if self._healthy:
            return True
        now = self.clock.monotonic()
        if now < self._retry_at:
            return False
        self._retry_at = now + self.retry_s
        return True

    async def call(self, key: str, args: list[int | float | str]) -> tuple[int, int, int, int]:
        """Run the script on ``key``; :class:`RedisDown` (and local mode) when Redis is away."""
        try:
            result = await self._script(keys=[key], args=args)
        except _DOWN as exc:
            self.went_down(exc)
            raise RedisDown from None
        self.came_back()
        wait, used, limit, left = (int(x) for x in result)
        return wait, used, limit, left

    def went_down(self, exc: BaseException) -> None:
        """Switch to the local shares (logged once per outage: the error, never the URL)."""
        if self._healthy:
            log.warning(
                "Redis is unreachable (%s: %s): rate budgets fall back to a 1/N local share",
                type(exc).__name__,
                str(exc)[:200],
            )
        self._healthy = False
        self._retry_at = self.clock.monotonic() + self.retry_s

    def came_back(self) -> None:
        """Redis answered: the budgets are shared again."""
        if not self._healthy:
            log.warning("Redis answers again: rate budgets are shared again")
        self._healthy = True

    async def check(self) -> bool:
        """Ping Redis now (for ``/readyz``); the answer also updates :attr:`mode`."""
        try:
            await self.redis.ping()
        except _DOWN as exc:
            self.went_down(exc)
            return False
        self.came_back()
        return True

    async def aclose(self) -> None:
        """Close the Redis connections."""
        await self.redis.aclose()


class SharedBudget:
    """One budget key's pools in Redis (a :class:`~kcgateway.exchange.budget.Budget`)."""

    def __init__(self, home: SharedBudgets, key: str) -> None:
        self._home = home
        self.key = key
        self._keys = {pool: f"{home.prefix}{{{key}}}:{pool.value}" for pool in Pool}
        self._limits = dict(home.quotas)
        #: the last shared state seen per pool: (used, limit, window end on the local clock)
        self._last: dict[Pool, tuple[int, int, int]] = {}
        self._pending: list[tuple[Pool, list[int | float | str]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._local: RateLimiter | None = None
        self._local_n = 1
        #: weight reserved locally per pool, and the local window it belongs to (its end)
        self._spent: dict[Pool, tuple[int, int]] = {}
        #: (pool, priority) -> the queue of this instance's waiters (FIFO): when a window is
        #: full they wait here, not all polling Redis at its end; cancels queue apart
        self._gates: dict[tuple[Pool, bool], asyncio.Lock] = {}

    @property
    def local(self) -> bool:
        """True while this budget spends its local share."""
        return self._local is not None

    def try_acquire(self, pool: Pool, weight: int, *, priority: bool = False) -> bool:
        """Public pool and local share: reserve now if possible; shared: always ask Redis."""
        home = self._home
        if pool is Pool.PUBLIC:
            return home.public.try_acquire(pool, weight, priority=priority)
        if home.mode == "shared" or home.probe_due():
            return False  # acquire asks Redis
        return self._reserve_locally(pool, weight, priority) <= 0

    async def acquire(self, pool: Pool, weight: int, *, priority: bool = False) -> None:
        """Wait until ``weight`` fits in the shared (or local) budget, then spend it."""
        if pool is Pool.PUBLIC:
            await self._home.public.acquire(pool, weight, priority=priority)
            return
        if await self.reserve(pool, weight, priority=priority) <= 0:
            return  # room now: no queue (calls run concurrently while the pool has room)
        gate = self._gates.get((pool, priority))
        if gate is None:
            gate = self._gates[(pool, priority)] = asyncio.Lock()
        async with gate:  # one waiter per pool and kind asks Redis; the others queue here
            while True:
                wait_ms = await self.reserve(pool, weight, priority=priority)
                if wait_ms <= 0:
                    return
                home = self._home
                cap = home.max_wait_ms if home.mode == "shared" else home.retry_s * 1000
                await home.sleep(min(wait_ms, cap) / 1000)  # on a local share: ask Redis again

    def observe(self, pool: Pool, headers: Mapping[str, str]) -> None:
        """Learn from a reply's ``gw-ratelimit-*`` headers (sent to Redis in the background)."""
        state = ratelimit_headers(headers)
        if state is None:
            return
        if pool is Pool.PUBLIC:
            self._home.public.observe(pool, headers)
            return
        limit, remaining, reset_ms = state
        if limit > 0:
            self._limits[pool] = limit
        self._event(pool, ["observe", limit, remaining, reset_ms])

    def on_rate_limited(self, pool: Pool, reset_ms: int | None) -> None:
        """A 429: block the pool everywhere until its reset (-1: no hint given)."""
        if pool is Pool.PUBLIC:
            self._home.public.on_rate_limited(pool, reset_ms)
            return
        self._event(pool, ["block", -1 if reset_ms is None else reset_ms])

    def _event(self, pool: Pool, op: list[int | float | str]) -> None:
        if self._local is not None or self._home.mode != "shared":
            self._apply_locally(pool, op)
            return
        self._pending.append((pool, op))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self.flush())

    async def _flush(self) -> None:
        """Send the pending observations and blocks, in order; locally what Redis missed."""
        pending, self._pending = self._pending, []
        for i, (pool, op) in enumerate(pending):
            try:
                await self._run(pool, op)
            except RedisDown:
                for rest_pool, rest_op in pending[i:]:
                    self._apply_locally(rest_pool, rest_op)
                raise

    async def flush(self) -> None:
        """Send the observations and 429s not yet in Redis now (they go in the background)."""
        if self._home.use_redis():
            with contextlib.suppress(RedisDown):
                await self._flush()

    async def reserve(self, pool: Pool, weight: int, *, priority: bool = False) -> int:
        """One try: 0 when ``weight`` was spent, else the ms to wait before trying again."""
        home = self._home
        if pool is Pool.PUBLIC:
            return home.public.limiter.reserve(pool, weight, home.clock.now_ms(), priority=priority)
        if home.use_redis():
            try:
                await self._flush()
                if self._local is not None:
                    await self._hand_back()
                return await self._run(pool, ["reserve", weight, int(priority)])
            except RedisDown:
                pass
        return self._reserve_locally(pool, weight, priority)

    async def _run(self, pool: Pool, op: list[int | float | str]) -> int:
        home = self._home
        head: list[int | float | str] = [op[0], self._limits[pool], home.window_ms, home.share]
        head += [home.priority_grace_ms, home.end_margin_ms, *op[1:]]
        wait, used, limit, left = await home.call(self._keys[pool], head)
        self._limits[pool] = limit
        self._last[pool] = (used, limit, home.clock.now_ms() + left)
        return wait

    async def _hand_back(self) -> None:
        """Redis is back: add what was spent locally in windows not over yet, then share."""
        spent, self._spent, self._local = self._spent, {}, None  # one coroutine hands back
        now = self._home.clock.now_ms()
        for pool, (weight, end) in spent.items():
            if weight and end > now:
                await self._run(pool, ["add", weight, end - now])

    def _limiter(self) -> RateLimiter:
        """The local share (1/N of each quota), seeded from the last shared state seen."""
        home = self._home
        n = max(1, home.live_instances())
        local = self._local
        if local is None:
            local = RateLimiter({p: home.share_of(q) for p, q in self._limits.items()})
            self._local, self._local_n, self._spent = local, n, {}
            now = home.clock.now_ms()
            for pool, (used, limit, end) in self._last.items():
                if end > now and used:
                    local.observe(pool, max(1, limit // n), (limit - used) // n, end - now, now)
            pending, self._pending = self._pending, []
            for pool, op in pending:  # what Redis never got
                self._apply_locally(pool, op)
        elif n != self._local_n:
            self._local_n = n
            for pool, quota in self._limits.items():
                local.budget(pool).limit = max(1, quota // n)
        return local

    def _reserve_locally(self, pool: Pool, weight: int, priority: bool) -> int:
        local = self._limiter()
        now = self._home.clock.now_ms()
        wait = local.reserve(pool, weight, now, priority=priority)
        if wait <= 0:
            end = local.budget(pool).window_end_ms or now
            spent, spent_end = self._spent.get(pool, (0, end))
            self._spent[pool] = (spent + weight if spent_end == end else weight, end)
        return wait

    def _apply_locally(self, pool: Pool, op: list[int | float | str]) -> None:
        """An observation or a 429 while Redis is away: the server's remaining split N ways."""
        local = self._limiter()
        now = self._home.clock.now_ms()
        if op[0] == "block":
            reset = int(op[1])
            local.on_rate_limited(pool, None if reset < 0 else reset, now)
        elif op[0] == "observe":
            limit, remaining, reset_ms = (int(x) for x in op[1:])
            n = self._local_n
            local.observe(pool, max(1, limit // n), max(0, remaining) // n, reset_ms, now)
