"""``Idempotency-Key`` on the gateway's own POST routes, as Stripe does it.

The same key with the same body replays the first response (status and body, byte for byte);
the same key with another body is refused with :class:`IdempotencyConflict` (HTTP 409). Keys
are scoped per tenant and route, so tenants cannot see each other's responses. Orders add a
second guard: without an explicit clientOid, the clientOid is derived from the key
(:func:`kcgateway.gateway.orders.model.idempotent_client_oid`), so two concurrent first attempts
collide on the intent's unique (account, clientOid) instead of placing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from kcgateway.errors import IdempotencyConflict
from kcgateway.store.database import Database
from kcgateway.store.ledger import IdempotencyRepository

MAX_KEY_LEN = 200
Now = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Reply:
    """A response to store or replay: status and the exact body bytes (JSON text)."""

    status: int
    body: str
    replayed: bool = False


def request_hash(method: str, path: str, body: bytes) -> str:
    """What identifies "the same request". Pure."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class Idempotency:
    """Runs a handler at most once per (scope, key) and replays its reply."""

    def __init__(self, db: Database, now: Now = lambda: datetime.now(UTC)) -> None:
        self._db = db
        self._now = now

    async def run(
        self, scope: str, key: str, fingerprint: str, handler: Callable[[], Awaitable[Reply]]
    ) -> Reply:
        """The stored reply for a repeat, or the handler's (stored when it is not a 5xx)."""
        async with self._db.read() as session:
            stored = await IdempotencyRepository(session).get(scope, key)
        if stored is not None:
            return _replay(stored.request_hash, fingerprint, stored.status, stored.body)
        reply = await handler()
        if reply.status >= 500:
            return reply  # not a final answer: let the client retry it
        async with self._db.write() as session:
            saved = await IdempotencyRepository(session).save(
                scope, key, request_hash=fingerprint, status=reply.status, body=reply.body,
                now=self._now(),
            )  # fmt: skip
        if saved.request_hash != fingerprint or saved.body != reply.body:
            return _replay(saved.request_hash, fingerprint, saved.status, saved.body)
        return reply


def _replay(stored_hash: str, fingerprint: str, status: int, body: str) -> Reply:
    if stored_hash != fingerprint:
        raise IdempotencyConflict
    return Reply(status, body, replayed=True)
