"""Private WebSocket tokens of the facade: short-lived, single use, bound to one credential.

``POST /api/v1/bullet-private`` (a signed facade call) issues a token; the facade's WebSocket
endpoint redeems it once. A token is 32 random bytes (URL-safe base64); the store keeps only
its SHA-256 digest with what it is bound to (tenant, gateway key, exchange account, the facade
apiKey, the key's scopes) and its expiry, in memory: a token never outlives the process, never
reaches the database, and the table holds nothing a reader could present. Redeeming removes
the entry whatever the outcome, so a token opens at most one connection.

Invariants: ``redeem`` answers a grant at most once per issued token, and never after
``expires_ms``; times are passed in (milliseconds), nothing here reads a clock.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from kcgateway.gateway.apikeys import Scope

#: how long a token may wait for its connection (clients connect right after the bullet)
TOKEN_TTL_MS = 60_000
#: the most live tokens kept at once (each bullet adds one; expired ones are dropped first)
MAX_TOKENS = 10_000
#: the most live tokens of one gateway key: a bot fetching bullets in a loop evicts its own
PER_KEY = 50


@dataclass(frozen=True, slots=True)
class WsGrant:
    """What a redeemed token opens: one account's private topics, as one gateway key."""

    tenant_id: str
    key_id: str
    account_id: str
    api_key: str
    scopes: frozenset[Scope]


@dataclass(slots=True)
class WsTokens:
    """The live tokens by digest (never the token itself)."""

    ttl_ms: int = TOKEN_TTL_MS
    limit: int = MAX_TOKENS
    per_key: int = PER_KEY
    _live: dict[bytes, tuple[int, WsGrant]] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"WsTokens(live={len(self._live)})"

    def issue(self, grant: WsGrant, now_ms: int) -> str:
        """A new token for ``grant``, valid until ``now_ms + ttl_ms``."""
        self._drop_expired(now_ms)
        own = [k for k, (_, g) in self._live.items() if g.key_id == grant.key_id]
        if len(own) >= self.per_key:  # the oldest goes first: dicts keep insertion order
            del self._live[own[0]]
        elif len(self._live) >= self.limit:
            del self._live[next(iter(self._live))]
        token = secrets.token_urlsafe(32)
        self._live[_digest(token)] = (now_ms + self.ttl_ms, grant)
        return token

    def redeem(self, token: str, now_ms: int) -> WsGrant | None:
        """The grant of a live token, once; None when unknown, used or expired."""
        if not token or len(token) > 256:
            return None
        found = self._live.pop(_digest(token), None)
        if found is None or found[0] < now_ms:
            return None
        return found[1]

    def _drop_expired(self, now_ms: int) -> None:
        stale = [k for k, (expires, _) in self._live.items() if expires < now_ms]
        for key in stale:
            del self._live[key]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
