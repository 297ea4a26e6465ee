"""``Idempotency-Key`` on the gateway's own POST routes, as Stripe does it.

The same key with the same body replays the first response (status and body, byte for byte);
the same key with another body is refused with :class:`IdempotencyConflict` (HTTP 409). Keys
are scoped per tenant and route, so tenants cannot see each other's responses. Orders add a
second guard: without an explicit clientOid, the clientOid is derived from the key
(:func:`kcgateway.gateway.orders.model.idempotent_client_oid`), so two concurrent first attempts
collide on the intent's unique (account, clientOid) instead of placing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kcgateway.errors import IdempotencyConflict, IdempotencyInProgress
from kcgateway.store.database import Database
from kcgateway.store.ledger import PENDING, IdempotencyRepository

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
    """Runs a handler at most once per (scope, key) and replays its reply.

    The key is claimed in the database before the handler runs (a pending record), so a
    concurrent retry, on this instance or another, waits for the first answer and replays it
    instead of running the request again. (Before, concurrent first attempts all ran: the
    clientOid collision kept the order single, but a retry the risk engine refused as a
    duplicate of the first could be stored, and replayed, as the key's answer while the first
    attempt's order was live.) A claim older than ``stale_after`` (longer than any request
    runs: the exchange timeout and the first risk load are 10 s and 3 s) belonged to a process
    that died, and a waiting retry takes it over (the derived clientOid keeps the order single
    even then), so a retry after a crash is answered about ``stale_after`` after the crashed
    attempt began. A retry still waiting after ``wait_s`` is told to retry
    (:class:`IdempotencyInProgress`, which the project's clients retry).
    """

    def __init__(
        self,
        db: Database,
        now: Now = lambda: datetime.now(UTC),
        *,
        wait_s: float = 35.0,
        poll_s: float = 0.05,
        stale_after: timedelta = timedelta(seconds=30),
    ) -> None:
        self._db = db
        self._now = now
        self.wait_s = wait_s
        self._poll_s = poll_s
        self._stale_after = stale_after

    async def run(
        self, scope: str, key: str, fingerprint: str, handler: Callable[[], Awaitable[Reply]]
    ) -> Reply:
        """The stored reply for a repeat, or the handler's (stored when it is not a 5xx)."""
        async with self._db.read() as session:
            stored = await IdempotencyRepository(session).get(scope, key)
        if stored is not None and stored.status != PENDING:
            return _replay(stored.request_hash, fingerprint, stored.status, stored.body)
        if stored is None:
            async with self._db.write() as session:
                stored = await IdempotencyRepository(session).claim(
                    scope, key, request_hash=fingerprint, now=self._now()
                )
        if stored is not None:  # another request holds (or answered) the key
            if stored.request_hash != fingerprint:
                raise IdempotencyConflict
            answered = await self._await_answer(scope, key, fingerprint)
            if answered is not None:
                return answered
        return await self._answer(scope, key, handler)

    async def _await_answer(self, scope: str, key: str, fingerprint: str) -> Reply | None:
        """The first request's reply once stored; None when this call took the claim over."""
        deadline = asyncio.get_running_loop().time() + self.wait_s
        while True:
            async with self._db.read() as session:
                stored = await IdempotencyRepository(session).get(scope, key)
            if stored is None:  # released (a 5xx or a crash of its handler): claim it again
                async with self._db.write() as session:
                    stored = await IdempotencyRepository(session).claim(
                        scope, key, request_hash=fingerprint, now=self._now()
                    )
                if stored is None:
                    return None
            if stored.status != PENDING:
                return _replay(stored.request_hash, fingerprint, stored.status, stored.body)
            now = self._now()
            if stored.created_at < now - self._stale_after:
                async with self._db.write() as session:
                    taken = await IdempotencyRepository(session).retake(
                        scope, key, stale_before=now - self._stale_after, now=now
                    )
                if taken:
                    return None
            if asyncio.get_running_loop().time() >= deadline:
                raise IdempotencyInProgress
            await asyncio.sleep(self._poll_s)

    async def _answer(self, scope: str, key: str, handler: Callable[[], Awaitable[Reply]]) -> Reply:
        """Run the handler under this call's claim; store its reply, or release the claim."""
        try:
            reply = await handler()
        except BaseException:
            await self._release(scope, key)
            raise
        if reply.status >= 500:
            await self._release(scope, key)
            return reply  # not a final answer: let the client retry it
        async with self._db.write() as session:
            await IdempotencyRepository(session).finish(
                scope, key, status=reply.status, body=reply.body
            )
        return reply

    async def _release(self, scope: str, key: str) -> None:
        async with self._db.write() as session:
            await IdempotencyRepository(session).release(scope, key)


def _replay(stored_hash: str, fingerprint: str, status: int, body: str) -> Reply:
    if stored_hash != fingerprint:
        raise IdempotencyConflict
    return Reply(status, body, replayed=True)
