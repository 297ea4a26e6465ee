"""Gateway keys as a use case: authenticate a presented key, issue, list and revoke keys.

Authentication failures are uniform (SECURITY.md section 2): an unparsable key, a bad
checksum, an unknown id, a wrong secret, an expired, revoked, suspended or wrong-IP key all
raise the same :class:`Unauthenticated`, and every path computes exactly one HMAC (against a
dummy hash when there is no row), so the time taken does not say which check failed.
Consecutive failures per key id and per client IP are counted by a
:class:`~kcgateway.gateway.failures.FailureTracker`: backoff after 5, suspension after 20.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from kcgateway.errors import NoSuchKey, Unauthenticated
from kcgateway.gateway import apikeys
from kcgateway.gateway.apikeys import KeyLifetime, PresentedKey, Scope
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.gateway.failures import FailureTracker
from kcgateway.secret import Secret
from kcgateway.store.database import Database
from kcgateway.store.repositories import GatewayKeyRepository, gateway_key
from kcgateway.store.tables import GatewayKey

log = logging.getLogger("kcgateway.gateway.keys")
Now = Callable[[], datetime]
#: last_used is a day-granularity fact (idle expiry): one write a minute per key is plenty
TOUCH_EVERY = timedelta(minutes=1)
_DUMMY_HASH = hashlib.sha256(b"kcgw-no-such-key").digest()
_DUMMY_KEY = PresentedKey("0" * apikeys.KEY_ID_LEN, Secret("0" * apikeys.SECRET_LEN))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a usable key of one tenant."""

    key_id: str
    tenant_id: str
    owner: str
    scopes: frozenset[Scope]

    def allows(self, scope: Scope) -> bool:
        """Deny by default; ``admin`` holds every scope."""
        return scope in self.scopes or Scope.ADMIN in self.scopes


@dataclass(frozen=True, slots=True)
class KeyView:
    """What listing a key shows (never the secret, never its hash)."""

    key_id: str
    owner: str
    last4: str
    scopes: tuple[str, ...]
    ip_allowlist: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def _lifetime(row: GatewayKey) -> KeyLifetime:
    return KeyLifetime(
        created_ms=_ms(row.created_at) or 0,
        last_used_ms=_ms(row.last_used_at),
        scopes=apikeys.parse_scopes(row.scopes),
        has_ip_allowlist=bool(row.ip_allowlist),
        expires_ms=_ms(row.expires_at),
        revoked_ms=_ms(row.revoked_at),
    )


def _view(row: GatewayKey) -> KeyView:
    return KeyView(
        key_id=row.key_id,
        owner=row.owner,
        last4=row.last4,
        scopes=tuple(sorted(row.scopes)),
        ip_allowlist=tuple(row.ip_allowlist),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def _usable(row: GatewayKey | None, ok_secret: bool, ip: str, now: datetime) -> bool:
    if row is None or not ok_secret:
        return False
    if not apikeys.is_usable(_lifetime(row), _ms(now) or 0):
        return False
    return apikeys.ip_allowed(ip, row.ip_allowlist)


class KeyService:
    """Issues and checks gateway keys stored in ``db``; the pepper never leaves this object."""

    def __init__(
        self,
        db: Database,
        pepper: Secret,
        *,
        tracker: FailureTracker | None = None,
        now: Now = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._pepper = pepper
        self.tracker = tracker if tracker is not None else FailureTracker()
        self._now = now

    def __repr__(self) -> str:
        return "KeyService(pepper=***)"

    async def authenticate(self, authorization: str | None, ip: str) -> Principal:
        """The principal for an ``Authorization: Bearer kgw_...`` header, or Unauthenticated."""
        now = self._now()
        now_ms = _ms(now) or 0
        presented = _bearer(authorization)
        subjects = [f"ip:{ip}"] + ([f"key:{presented.key_id}"] if presented else [])
        self._check_backoff(subjects, now_ms)
        async with self._db.hot_read() as conn:
            row = await gateway_key(conn, presented.key_id if presented else _DUMMY_KEY.key_id)
        stored = row.secret_hmac if row is not None else _DUMMY_HASH
        ok = apikeys.secret_matches(self._pepper, presented or _DUMMY_KEY, stored)
        if presented is None or not _usable(row, ok, ip, now) or row is None:
            await self._fail(subjects, now, now_ms)
            raise Unauthenticated()
        for subject in subjects:
            self.tracker.record_success(subject)
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
            async with self._db.write() as session:
                await GatewayKeyRepository(session).touch(row.key_id, now=now)
        return Principal(row.key_id, row.tenant_id, row.owner, apikeys.parse_scopes(row.scopes))

    def _check_backoff(self, subjects: Sequence[str], now_ms: int) -> None:
        for subject in subjects:
            wait = self.tracker.retry_after_ms(subject, now_ms)
            if wait is not None:
                raise Unauthenticated(retry_after_s=-1 if wait < 0 else -(-wait // 1000))

    async def _fail(self, subjects: Sequence[str], now: datetime, now_ms: int) -> None:
        for subject in subjects:
            outcome = self.tracker.record_failure(subject, now_ms)
            if outcome.alert:
                log.warning("authentication subject suspended after repeated failures: %s", subject)
                async with self._db.write() as session:
                    await record(
                        session,
                        AuditAction.KEY_SUSPENDED,
                        actor="gateway",
                        subject=subject,
                        now=now,
                    )

    async def create(
        self,
        *,
        tenant_id: str,
        owner: str,
        scopes: frozenset[Scope],
        ip_allowlist: Sequence[str] = (),
        expires_at: datetime | None = None,
        actor: str,
    ) -> tuple[Secret, KeyView]:
        """Issue a key. The full key is returned once and never stored."""
        apikeys.parse_allowlist(ip_allowlist)
        issued = apikeys.issue_key(self._pepper)
        now = self._now()
        row = GatewayKey(
            key_id=issued.key_id,
            tenant_id=tenant_id,
            owner=owner,
            secret_hmac=issued.secret_hash,
            last4=issued.last4,
            scopes=sorted(s.value for s in scopes),
            ip_allowlist=list(ip_allowlist),
            created_at=now,
            expires_at=expires_at,
        )
        async with self._db.write() as session:
            await GatewayKeyRepository(session).add(row)
            detail = {"owner": owner, "scopes": row.scopes, "ip_allowlist": row.ip_allowlist}
            await record(
                session,
                AuditAction.KEY_CREATED,
                actor=actor,
                subject=issued.key_id,
                now=now,
                tenant_id=tenant_id,
                detail=detail,
            )
        return issued.full, _view(row)

    async def rotate(
        self, tenant_id: str, key_id: str, *, overlap: timedelta, actor: str
    ) -> tuple[Secret, KeyView]:
        """Issue a successor with the same owner, scopes and allowlist.

        The old key keeps working for ``overlap`` only. NoSuchKey for another tenant's (or a
        revoked) key.
        """
        now = self._now()
        async with self._db.read() as session:
            old = await GatewayKeyRepository(session).get(key_id)
        if old is None or old.tenant_id != tenant_id or old.revoked_at is not None:
            raise NoSuchKey(key_id)
        full, view = await self.create(
            tenant_id=tenant_id,
            owner=old.owner,
            scopes=apikeys.parse_scopes(old.scopes),
            ip_allowlist=old.ip_allowlist,
            expires_at=old.expires_at,
            actor=actor,
        )
        ends = now + overlap
        if old.expires_at is not None:
            ends = min(ends, old.expires_at)
        async with self._db.write() as session:
            await session.execute(
                update(GatewayKey).where(GatewayKey.key_id == key_id).values(expires_at=ends)
            )
            await record(
                session, AuditAction.KEY_ROTATED, actor=actor, subject=key_id, now=now,
                tenant_id=tenant_id,
                detail={"successor": view.key_id, "old_expires_at": ends.isoformat()},
            )  # fmt: skip
        return full, view

    async def list(self, tenant_id: str) -> list[KeyView]:
        """The tenant's keys, newest first."""
        query = (
            select(GatewayKey)
            .where(GatewayKey.tenant_id == tenant_id)
            .order_by(GatewayKey.created_at.desc())
        )
        async with self._db.read() as session:
            return [_view(r) for r in (await session.scalars(query)).all()]

    async def revoke(self, tenant_id: str, key_id: str, *, actor: str) -> bool:
        """Revoke one of the tenant's keys; False when the tenant has no such key."""
        now = self._now()
        async with self._db.write() as session:
            repo = GatewayKeyRepository(session)
            row = await repo.get(key_id)
            if row is None or row.tenant_id != tenant_id:
                return False
            await repo.revoke(key_id, now=now)
            await record(
                session,
                AuditAction.KEY_REVOKED,
                actor=actor,
                subject=key_id,
                now=now,
                tenant_id=tenant_id,
            )
        return True


def _bearer(authorization: str | None) -> PresentedKey | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return apikeys.parse_key(token.strip())
