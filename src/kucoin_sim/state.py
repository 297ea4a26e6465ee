"""Everything one running simulator holds: the engine, users, keys, partners, limits, faults.

The engine (``kucoin_sim.engine``) owns balances, orders and books; this module owns what the
HTTP side adds around it: API keys, the per-user HF flag, broker sub-accounts, transfers,
rebate files, the rate limiter, the fault settings and the counters tests read (orders the
exchange accepted per clientOid, unexpected 500s).
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kcgateway.clock import Clock
from kucoin_sim.auth import ApiKey, Partner
from kucoin_sim.engine import Exchange
from kucoin_sim.faults import Faults
from kucoin_sim.ratelimit import RateLimiter
from kucoin_sim.ws.tokens import TokenRegistry

if TYPE_CHECKING:
    from kucoin_sim.scenario.runner import ScenarioRun


@dataclass
class User:
    """A simulator user (a master account or a broker sub-account)."""

    uid: str
    hf: bool = False
    is_master: bool = True
    parent_uid: str | None = None
    account_name: str = ""
    created_at_ms: int = 0
    sub_uids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Transfer:
    """A broker transfer as ``/api/v3/broker/nd/transfer/detail`` reports it."""

    order_id: str
    currency: str
    amount: str
    from_uid: str
    from_account_type: str
    to_uid: str
    to_account_type: str
    status: str
    reason: str
    created_at_ms: int


def wall_clock_ms() -> int:
    """The machine's time in milliseconds (the simulator's clock before any offset)."""
    return time.time_ns() // 1_000_000


class SimState:
    """The mutable state shared by every route of one simulator instance."""

    def __init__(self, exchange: Exchange, seed: int, clock: Clock | None = None) -> None:
        self.exchange = exchange
        self.rng = random.Random(seed)
        self._clock = clock
        self.users: dict[str, User] = {}
        self.keys: dict[str, ApiKey] = {}
        self.partners: dict[str, Partner] = {}
        self.limiter = RateLimiter()
        self.ws_tokens = TokenRegistry()
        self.faults = Faults()
        self.accepted_by_client_oid: Counter[str] = Counter()
        self.unexpected_errors = 0
        self.transfers: dict[str, Transfer] = {}
        self.files: dict[str, bytes] = {}
        self.cross_leverage: dict[tuple[str, str], str] = {}
        self.margin_mode: dict[tuple[str, str], str] = {}
        #: scenario account names (``attacker-1``) -> uid, and groups -> names
        self.scenario_names: dict[str, str] = {}
        self.scenario_groups: dict[str, list[str]] = {}
        #: scenario runs started through the control API, by id, with their tasks
        self.scenario_runs: dict[str, tuple[ScenarioRun, asyncio.Task[dict[str, Any]]]] = {}
        self.spot_base_url = ""
        self.futures_base_url = ""
        self._id_counter = 0

    def now_ms(self) -> int:
        """The simulator's clock: wall time (or the injected clock) plus the fault offset."""
        base = self._clock.now_ms() if self._clock is not None else wall_clock_ms()
        return base + self.faults.clock_offset_ms

    def new_id(self) -> str:
        """A 24-hex id like KuCoin's, from the seeded RNG (deterministic per seed)."""
        self._id_counter += 1
        return f"{self._id_counter:08x}{self.rng.getrandbits(64):016x}"

    def token(self, nbytes: int = 16) -> str:
        """A random token for generated keys and secrets (not deterministic: these are secrets)."""
        return secrets.token_hex(nbytes)

    def user(self, uid: str) -> User:
        """The user with this uid (every authenticated uid exists)."""
        return self.users[uid]
