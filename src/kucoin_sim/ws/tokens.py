"""WebSocket tokens handed out by ``POST /api/v1/bullet-public`` and ``bullet-private``.

A token names who connects (a uid for private tokens, None for public ones) and when it stops
being accepted. KuCoin tokens live 24 h; tests shorten that or expire them all at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

DEFAULT_TTL_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class Grant:
    """What a token allows: ``uid`` is None for a public token."""

    uid: str | None
    expires_at_ms: int


class TokenRegistry:
    """Issued tokens, their expiry, and the ping settings the bullet responses announce.

    The simulator's clock decides expiry; it is passed in as ``now``.
    """

    def __init__(
        self,
        ttl_ms: int = DEFAULT_TTL_MS,
        *,
        ping_interval_ms: int = 18_000,
        ping_timeout_ms: int = 10_000,
    ) -> None:
        self.ttl_ms = ttl_ms
        self.ping_interval_ms = ping_interval_ms
        self.ping_timeout_ms = ping_timeout_ms
        self._grants: dict[str, Grant] = {}

    def issue(self, uid: str | None, now_ms: int) -> str:
        """A new random token for ``uid`` (None: public)."""
        token = secrets.token_urlsafe(48)
        self._grants[token] = Grant(uid, now_ms + self.ttl_ms)
        return token

    def check(self, token: str, now_ms: int) -> Grant | None:
        """The grant of a valid token, or None (unknown or expired)."""
        grant = self._grants.get(token)
        if grant is None or grant.expires_at_ms <= now_ms:
            return None
        return grant

    def expire_all(self) -> int:
        """Forget every token (the control API's "expire tokens" fault); returns how many."""
        count = len(self._grants)
        self._grants.clear()
        return count
