"""Console sessions: a gateway key, presented once, exchanged for a server-side session.

Why a session and not the key in the browser: a key kept in ``localStorage`` (FreqUI's way)
is readable by any script on the page, forever. Here the key is sent once in a form POST and
never stored; the browser holds only a random session token in an HttpOnly cookie, and the
database holds only that token's SHA-256 (a dump opens no session).

Invariants, checked on every request by :meth:`ConsoleSessions.resume`:

- a session is usable only while its key is: a revoked, expired or (for this address)
  IP-refused key ends every session it opened, at the next request;
- it ends ``idle`` after its last request and ``absolute`` after it was opened, whatever
  happens in between; sign-out revokes it in the database (the cookie alone is worth nothing
  once revoked);
- the session carries the key's scopes (:meth:`ConsoleSession.require` refuses the rest with
  the same :class:`~kcgateway.errors.PermissionDenied` as /v1);
- every state-changing form carries a CSRF token derived from the session token
  (HMAC-SHA256), compared in constant time: a page of another origin cannot know it.

Failures are the same :class:`~kcgateway.errors.Unauthenticated` whatever the reason, as for
keys; sign-in goes through :meth:`KeyService.authenticate`, so its backoff and suspension
rules hold for the console too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from kcgateway.errors import Forbidden, NoSuchKey, PermissionDenied, Unauthenticated
from kcgateway.gateway import apikeys
from kcgateway.gateway.apikeys import KeyLifetime, Scope
from kcgateway.gateway.keys import KeyService, Principal
from kcgateway.secret import Secret
from kcgateway.store.database import Database
from kcgateway.store.repositories import gateway_key
from kcgateway.store.tables import ConsoleLinkRow, ConsoleSessionRow, GatewayKey

Now = Callable[[], datetime]
#: a session token: 32 random bytes, URL-safe base64 (43 characters)
TOKEN_BYTES = 32
#: the longest cookie value looked at (anything longer is not a token of ours)
MAX_TOKEN = 100
#: last_seen_at is written at most this often per session (idle time has this granularity)
TOUCH_EVERY = timedelta(seconds=15)
_CSRF_LABEL = b"kcgw/console/csrf/v1"
#: sessions past their absolute end are deleted this long after it (at the next sign-in)
KEEP_ENDED = timedelta(days=7)
#: the longest a one-time sign-in link stays usable
LINK_TTL = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a session lives: ``idle`` after its last request, ``absolute`` at most."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """An open session: who (the key's principal) and the CSRF token its forms carry."""

    session_id: str
    principal: Principal
    csrf: str
    expires_at: datetime

    def can(self, scope: Scope) -> bool:
        """True when the session's key holds ``scope`` (what a page shows)."""
        return self.principal.allows(scope)

    def require(self, scope: Scope) -> Principal:
        """The principal, or PermissionDenied (what the server enforces)."""
        if not self.principal.allows(scope):
            raise PermissionDenied(scope.value)
        return self.principal

    def check_csrf(self, presented: str | None) -> None:
        """Forbidden unless ``presented`` is this session's CSRF token."""
        if not presented or not hmac.compare_digest(presented.encode(), self.csrf.encode()):
            raise Forbidden(
                "the form did not come from this console session: reload the page and submit "
                "it again",
                field="csrf",
            )


def token_id(token: str) -> str:
    """The stored id of a session token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_of(token: str) -> str:
    """The CSRF token of a session: HMAC-SHA256 keyed with the session token."""
    mac = hmac.new(token.encode(), _CSRF_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def key_usable(row: GatewayKey | None, ip: str, now: datetime, *, any_ip: bool = False) -> bool:
    """The key exists, is neither revoked nor expired (idle or absolute) and allows ``ip``.

    ``any_ip``: the address is not checked (a link is issued before anyone uses it).
    """
    if row is None:
        return False
    lifetime = KeyLifetime(
        created_ms=_ms(row.created_at) or 0,
        last_used_ms=_ms(row.last_used_at),
        scopes=apikeys.parse_scopes(row.scopes),
        has_ip_allowlist=bool(row.ip_allowlist),
        expires_ms=_ms(row.expires_at),
        revoked_ms=_ms(row.revoked_at),
    )
    usable = apikeys.is_usable(lifetime, _ms(now) or 0)
    return usable and (any_ip or apikeys.ip_allowed(ip, row.ip_allowlist))


def _principal(row: GatewayKey) -> Principal:
    return Principal(
        row.key_id,
        row.tenant_id,
        row.owner,
        apikeys.parse_scopes(row.scopes),
        tuple(row.ip_allowlist),
        row.expires_at,
    )


def _alive(row: ConsoleSessionRow | None, policy: SessionPolicy, now: datetime) -> bool:
    if row is None or row.revoked_at is not None:
        return False
    return now < row.expires_at and now - row.last_seen_at < policy.idle


class ConsoleSessions:
    """Opens, resumes and ends console sessions stored in ``db``."""

    def __init__(
        self,
        db: Database,
        keys: KeyService,
        *,
        policy: SessionPolicy | None = None,
        now: Now = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._keys = keys
        self.policy = policy or SessionPolicy()
        self._now = now

    async def sign_in(self, key: str, ip: str) -> tuple[Secret, ConsoleSession]:
        """Check ``key`` (the same rules, backoff and suspension as a Bearer key), open a session.

        Returns the session token (for the cookie, shown nowhere else) and the session.
        """
        principal = await self._keys.authenticate(f"Bearer {key.strip()}", ip)
        return await self._open(principal, ip)

    async def _open(self, principal: Principal, ip: str) -> tuple[Secret, ConsoleSession]:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._now()
        expires = now + self.policy.absolute
        if principal.expires_at is not None:
            expires = min(expires, principal.expires_at)
        row = ConsoleSessionRow(
            id=token_id(token),
            tenant_id=principal.tenant_id,
            key_id=principal.key_id,
            address=ip[:200],
            created_at=now,
            last_seen_at=now,
            expires_at=expires,
        )
        async with self._db.write() as session:
            await session.execute(  # ended sessions are kept a while (who was signed in when)
                delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at < now - KEEP_ENDED)
            )
            session.add(row)
        return Secret(token), ConsoleSession(row.id, principal, csrf_of(token), expires)

    async def issue_link(self, key_id: str, ttl: timedelta = LINK_TTL) -> Secret:
        """A one-time sign-in link token for key ``key_id`` (``kcgateway console login``).

        NoSuchKey unless the key exists and is neither revoked nor expired. The token opens
        one session with the key's scopes, once, within ``ttl`` (at most :data:`LINK_TTL`).
        """
        now = self._now()
        async with self._db.hot_read() as conn:
            key = await gateway_key(conn, key_id[:64])
        if key is None or not key_usable(key, "", now, any_ip=True):
            raise NoSuchKey(key_id)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        row = ConsoleLinkRow(
            id=token_id(token), key_id=key.key_id, created_at=now,
            expires_at=now + min(ttl, LINK_TTL),
        )  # fmt: skip
        async with self._db.write() as session:
            await session.execute(delete(ConsoleLinkRow).where(ConsoleLinkRow.expires_at < now))
            session.add(row)
        return Secret(token)

    async def redeem_link(self, token: str | None, ip: str) -> tuple[Secret, ConsoleSession]:
        """Open the session a link token stands for; Unauthenticated if used, expired or unknown.

        The token is spent first (one atomic update), so two clicks open at most one session;
        the key must still be usable, from ``ip`` too.
        """
        if not token or len(token) > MAX_TOKEN:
            raise Unauthenticated()
        now = self._now()
        spend = (
            update(ConsoleLinkRow)
            .where(ConsoleLinkRow.id == token_id(token), ConsoleLinkRow.used_at.is_(None))
            .where(ConsoleLinkRow.expires_at > now)
            .values(used_at=now)
            .returning(ConsoleLinkRow.key_id)
        )
        async with self._db.write() as session:
            key_id = (await session.execute(spend)).scalar_one_or_none()
        if key_id is None:
            raise Unauthenticated()
        async with self._db.hot_read() as conn:
            key = await gateway_key(conn, key_id)
        if key is None or not key_usable(key, ip, now):
            raise Unauthenticated()
        return await self._open(_principal(key), ip)

    async def resume(self, token: str | None, ip: str, *, touch: bool = True) -> ConsoleSession:
        """The open session of ``token`` from ``ip``; Unauthenticated when there is none.

        ``touch=False`` for what the page does by itself (the orders table's refresh): it
        does not count as activity, so an open tab does not defeat the idle timeout.
        """
        if not token or len(token) > MAX_TOKEN:
            raise Unauthenticated()
        now = self._now()
        sid = token_id(token)
        async with self._db.read() as session:
            row = await session.get(ConsoleSessionRow, sid)
        if not _alive(row, self.policy, now) or row is None:
            raise Unauthenticated()
        async with self._db.hot_read() as conn:
            key = await gateway_key(conn, row.key_id)
        if key is None or not key_usable(key, ip, now):
            raise Unauthenticated()
        if touch and now - row.last_seen_at >= TOUCH_EVERY:
            await self._touch(sid, now)
        return ConsoleSession(sid, _principal(key), csrf_of(token), row.expires_at)

    async def _touch(self, sid: str, now: datetime) -> None:
        async with self._db.write() as session:
            await session.execute(
                update(ConsoleSessionRow)
                .where(ConsoleSessionRow.id == sid)
                .values(last_seen_at=now)
            )

    async def sign_out(self, token: str | None) -> bool:
        """Revoke the session of ``token`` in the database; False when none was open."""
        if not token or len(token) > MAX_TOKEN:
            return False
        query = (
            update(ConsoleSessionRow)
            .where(ConsoleSessionRow.id == token_id(token))
            .where(ConsoleSessionRow.revoked_at.is_(None))
            .values(revoked_at=self._now())
        )
        async with self._db.write() as session:
            result = await session.execute(query)
        return bool(getattr(result, "rowcount", 0))

    async def is_revoked(self, session_id: str) -> bool:
        """True when the session was revoked (or never existed): for tests and audits."""
        query = select(ConsoleSessionRow.revoked_at).where(ConsoleSessionRow.id == session_id)
        async with self._db.read() as session:
            found = (await session.execute(query)).first()
        return found is None or found[0] is not None
