"""Gateway keys as a use case: authenticate, issue, rotate, revoke, list; lift suspensions.

Authentication failures are uniform (SECURITY.md section 2): an unparsable key, a bad
checksum, an unknown id, a wrong secret, an expired, revoked or wrong-IP key all raise the same
:class:`Unauthenticated`, and every path computes exactly one HMAC (against a dummy hash when
there is no row), so the time taken does not say which check failed.

Lockout (issue 12, finding 3). Failures are counted by a
:class:`~kcgateway.gateway.failures.FailureTracker` per source address and per (key id, address),
never per key id alone, because anyone can learn a key id:

- a source address with 5 consecutive failures is in backoff (every request from it waits,
  whatever key it presents) and with 20 it is suspended: every request from it is refused until
  an operator lifts it. The address itself is the source of the failures, so this is the one
  case where a correct secret may be refused;
- a (key id, address) pair with 20 consecutive failures is suspended too (persisted, alerted,
  listed), but that never changes an answer: a correct secret is never refused because of
  failures on its key id, from that address or any other. It catches an address that resets its
  own counter with successes of another key while it forges this one;
- a success resets both counters of the request (never a suspension).

Suspensions are rows of ``auth_suspensions``: loaded on first use, kept in memory (the
per-request check is a set lookup), written when made and deleted when lifted. A suspended
address is re-read from the database at most every :data:`RECHECK_EVERY` while it keeps calling,
so a lift by the CLI (another process) reaches a running gateway within seconds.

Key rows are kept for one second after they are read (:mod:`kcgateway.gateway.key_rows`): a
revocation or rotation through this service holds from the next request; another instance
forgets the row when the change bus tells it (:attr:`KeyService.on_change` sends), and any
other process (the CLI on SQLite) sees it within that second.

Key administration (issue 12, findings 1 and 4) is authorised here, whatever the front end: the
acting principal (:class:`Principal` for a key, :class:`Operator` for the command line) never
creates, rotates or revokes a key whose scopes exceed its own; only ``admin`` touches ``admin``
keys; a key it creates or rotates stays inside its IP allow-list and expires no later than it
does. Refusals are :class:`~kcgateway.errors.Forbidden` naming the field that exceeds the actor.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from kcgateway.errors import Forbidden, NoSuchKey, NoSuchSuspension, Unauthenticated
from kcgateway.gateway import apikeys
from kcgateway.gateway.apikeys import KeyLifetime, PresentedKey, Scope
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.gateway.failures import FailureTracker, address_subject, pair_subject
from kcgateway.gateway.key_rows import KeyRows
from kcgateway.gateway.lists import KeyState, key_page
from kcgateway.gateway.paging import Paged, Window
from kcgateway.secret import Secret
from kcgateway.store.database import Database
from kcgateway.store.facade_store import revoke_for_key
from kcgateway.store.repositories import GatewayKeyRepository, gateway_key
from kcgateway.store.tables import AuthSuspension, GatewayKey

log = logging.getLogger("kcgateway.gateway.keys")
Now = Callable[[], datetime]
#: last_used is a day-granularity fact (idle expiry): one write a minute per key is plenty
TOUCH_EVERY = timedelta(minutes=1)
#: how often a suspended address that keeps calling has its suspension re-read from the database
RECHECK_EVERY = timedelta(seconds=5)
#: the longest source address counted as given (an IPv6 address with a zone fits easily)
MAX_ADDRESS = 100
_DUMMY_HASH = hashlib.sha256(b"kcgw-no-such-key").digest()
_DUMMY_KEY = PresentedKey("0" * apikeys.KEY_ID_LEN, Secret("0" * apikeys.SECRET_LEN))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a usable key of one tenant, with the limits it passes on to keys it makes."""

    key_id: str
    tenant_id: str
    owner: str
    scopes: frozenset[Scope]
    ip_allowlist: tuple[str, ...] = ()
    expires_at: datetime | None = None

    def allows(self, scope: Scope) -> bool:
        """Deny by default; ``admin`` holds every scope."""
        return scope in self.scopes or Scope.ADMIN in self.scopes

    @property
    def name(self) -> str:
        """The actor in audit records: the key id."""
        return self.key_id


@dataclass(frozen=True, slots=True)
class Operator:
    """The operator at the command line: admin of every tenant, no IP allow-list, no expiry.

    ``name`` is the actor in audit records (``cli``, ``serve``).
    """

    name: str = "cli"
    scopes: frozenset[Scope] = field(default=frozenset({Scope.ADMIN}))


#: who administers keys: a key (bounded by its own scopes, IPs and expiry) or the operator
Actor = Principal | Operator


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


@dataclass(frozen=True, slots=True)
class SuspensionView:
    """A suspended address (``key_id`` None) or key id from one address."""

    subject: str
    address: str
    key_id: str | None
    failures: int
    suspended_at: datetime

    @property
    def target(self) -> str:
        """What ``kcgateway keys unsuspend`` takes: ``<address>`` or ``<key id>@<address>``."""
        return self.address if self.key_id is None else f"{self.key_id}@{self.address}"


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


def _suspension_view(row: AuthSuspension) -> SuspensionView:
    return SuspensionView(row.subject, row.address, row.key_id, row.failures, row.suspended_at)


def _usable(row: GatewayKey | None, ok_secret: bool, ip: str, now: datetime) -> bool:
    if row is None or not ok_secret:
        return False
    if not apikeys.is_usable(_lifetime(row), _ms(now) or 0):
        return False
    return apikeys.ip_allowed(ip, row.ip_allowlist)


def suspension_subject(target: str) -> str:
    """The subject for ``<address>`` or ``<key id>@<address>`` (or an already listed subject)."""
    text = target.strip()
    if text.startswith(("ip:", "key:")):
        return text
    key_id, at, address = text.rpartition("@")
    if at and key_id and address:
        return pair_subject(key_id, address)
    return address_subject(text)


def _check_scopes(actor: Actor, target: frozenset[Scope], verb: str) -> None:
    """Forbidden unless the actor holds ``keys:manage`` and every scope of ``target``.

    Only admin touches admin (``admin`` is held by ``admin`` alone).
    """
    if isinstance(actor, Principal) and not actor.allows(Scope.KEYS_MANAGE):
        raise Forbidden(
            f"this key lacks the keys:manage scope: {verb} keys with a key that holds it",
            field="scopes",
        )
    beyond = apikeys.scopes_beyond(actor.scopes, target)
    if not beyond:
        return
    if Scope.ADMIN in beyond:
        raise Forbidden(
            f"only an admin key can {verb} an admin key: use an admin key, or the operator's "
            f"`kcgateway keys {verb}`",
            field="scopes",
        )
    names = ", ".join(s.value for s in beyond)
    raise Forbidden(
        f"this key cannot {verb} a key with the scope(s) {names}, which it does not hold "
        f"itself: use a key that holds {names} (or an admin key)",
        field="scopes",
    )


def _check_allowlist(actor: Actor, allowlist: Sequence[str], verb: str) -> None:
    """Forbidden when an entry lies outside the actor's own IP allow-list."""
    if not isinstance(actor, Principal):
        return
    outside = apikeys.allowlist_outside(allowlist, actor.ip_allowlist)
    if not outside:
        return
    own = ", ".join(actor.ip_allowlist)
    what = "any address" if outside == ["any"] else ", ".join(outside)
    fix = (
        "give ipAllowlist entries inside it"
        if verb == "create"
        else "use a key whose allow-list covers the key's, or the operator's "
        f"`kcgateway keys {verb}`"
    )
    raise Forbidden(
        f"the key to {verb} would allow {what}, outside this key's own IP allow-list ({own}): "
        f"{fix}",
        field="ipAllowlist",
    )


def _bounded_expiry(
    actor: Actor, expires_at: datetime | None, *, explicit: bool
) -> datetime | None:
    """The expiry of a key the actor makes: no later than the actor's own.

    Without an expiry of its own, the new key gets the actor's; an explicit later one is
    Forbidden when ``explicit`` (create), and capped otherwise (rotate keeps the old key's).
    """
    limit = actor.expires_at if isinstance(actor, Principal) else None
    if limit is None:
        return expires_at
    if expires_at is None:
        return limit
    if expires_at <= limit:
        return expires_at
    if not explicit:
        return limit
    raise Forbidden(
        f"expiresAt {expires_at.isoformat()} is later than this key's own expiry "
        f"{limit.isoformat()}: give an expiry no later than that",
        field="expiresAt",
    )


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
        self._tracker = tracker if tracker is not None else FailureTracker()
        self._now = now
        self._loaded = False
        self._rows = KeyRows()
        #: told of every authenticated request (the risk engine's dormant-key detector)
        self.on_use: Callable[[str, datetime], None] | None = None
        #: told of every key revoked or rotated here, after the commit (the change bus)
        self.on_change: Callable[[str], None] | None = None
        #: told of every suspension made or lifted here, after the commit (the change bus)
        self.on_suspension: Callable[[str], None] | None = None
        #: when each suspended address was last confirmed in the database
        self._confirmed: dict[str, datetime] = {}

    def __repr__(self) -> str:
        return "KeyService(pepper=***)"

    @property
    def tracker(self) -> FailureTracker:
        """The failure counters (tests swap in one with other thresholds)."""
        return self._tracker

    @tracker.setter
    def tracker(self, tracker: FailureTracker) -> None:
        self._tracker = tracker
        self._loaded = False

    @property
    def row_ttl(self) -> timedelta:
        """How long a key row read is kept (tests lengthen it to see only the change bus)."""
        return self._rows.ttl

    @row_ttl.setter
    def row_ttl(self, ttl: timedelta) -> None:
        self._rows = KeyRows(ttl)

    async def still_usable(self, principal: Principal, ip: str) -> bool:
        """Whether a key authenticated earlier may go on (a long-lived event stream).

        False once it was revoked, expired or fenced off ``ip`` since. Counts no failure: the
        stream ends and the client's next request meets :meth:`authenticate`.
        """
        async with self._db.hot_read() as conn:
            row = await gateway_key(conn, principal.key_id)
        return _usable(row, True, ip, self._now())

    async def authenticate(self, authorization: str | None, ip: str) -> Principal:
        """The principal for an ``Authorization: Bearer kgw_...`` header, or Unauthenticated."""
        now = self._now()
        now_ms = _ms(now) or 0
        if not self._loaded:
            await self._load_suspensions(now)
        presented = _bearer(authorization)
        source = ip[:MAX_ADDRESS]  # a socket address; anything longer is not one anyway
        address = address_subject(source)
        await self._check_address(address, now, now_ms)
        row = await self._row(presented.key_id if presented else _DUMMY_KEY.key_id, now)
        stored = row.secret_hmac if row is not None else _DUMMY_HASH
        ok = apikeys.secret_matches(self._pepper, presented or _DUMMY_KEY, stored)
        subjects = [address] + ([pair_subject(presented.key_id, source)] if presented else [])
        if presented is None or not _usable(row, ok, ip, now) or row is None:
            await self._fail(
                subjects=subjects, ip=source, presented=presented, row=row, now=now, now_ms=now_ms
            )
            raise Unauthenticated()
        for subject in subjects:
            self._tracker.record_success(subject)
        if self.on_use is not None:
            self.on_use(row.key_id, now)
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
            async with self._db.write() as session:
                await GatewayKeyRepository(session).touch(row.key_id, now=now)
            self._rows.touched(row.key_id, now)
        return Principal(
            row.key_id,
            row.tenant_id,
            row.owner,
            apikeys.parse_scopes(row.scopes),
            tuple(row.ip_allowlist),
            row.expires_at,
        )

    async def _row(self, key_id: str, now: datetime) -> GatewayKey | None:
        """The key row (or None), read at most ``key_rows.KEY_ROW_TTL`` ago."""
        kept, row = self._rows.get(key_id, now)
        if not kept:
            generation = self._rows.generation
            async with self._db.hot_read() as conn:
                row = await gateway_key(conn, key_id)
            self._rows.put(key_id, row, now, generation)
        return row

    async def check_source(self, ip: str) -> None:
        """Unauthenticated while ``ip`` is in backoff or suspended (the KuCoin facade's check).

        The facade counts its own failures per source address with :meth:`source_failed`, so an
        address forging facade signatures is slowed and suspended like one forging keys.
        """
        now = self._now()
        if not self._loaded:
            await self._load_suspensions(now)
        await self._check_address(address_subject(ip[:MAX_ADDRESS]), now, _ms(now) or 0)

    async def source_failed(self, ip: str) -> None:
        """Count one failed authentication from ``ip`` (suspended and alerted at the threshold)."""
        now, source = self._now(), ip[:MAX_ADDRESS]
        await self._fail(
            subjects=[address_subject(source)], ip=source, presented=None, row=None, now=now,
            now_ms=_ms(now) or 0,
        )  # fmt: skip

    def source_succeeded(self, ip: str) -> None:
        """A successful authentication from ``ip`` resets its failure count."""
        self._tracker.record_success(address_subject(ip[:MAX_ADDRESS]))

    async def _check_address(self, subject: str, now: datetime, now_ms: int) -> None:
        """Unauthenticated while the source address is in backoff or suspended."""
        wait = self._tracker.retry_after_ms(subject, now_ms)
        if wait is None:
            return
        if wait >= 0:
            raise Unauthenticated(retry_after_s=-(-wait // 1000))
        confirmed = self._confirmed.get(subject)
        if confirmed is None or now - confirmed >= RECHECK_EVERY:
            async with self._db.read() as session:
                still = await session.get(AuthSuspension, subject) is not None
            if not still:  # lifted elsewhere (the CLI is another process)
                self._tracker.lift(subject)
                self._confirmed.pop(subject, None)
                return
            self._confirmed[subject] = now
        raise Unauthenticated(retry_after_s=-1)

    async def _load_suspensions(self, now: datetime) -> None:
        async with self._db.read() as session:
            subjects = (await session.scalars(select(AuthSuspension.subject))).all()
        self._tracker.suspend(subjects)
        self._confirmed.update(dict.fromkeys(subjects, now))
        self._loaded = True

    async def _fail(
        self,
        *,
        subjects: Sequence[str],
        ip: str,
        presented: PresentedKey | None,
        row: GatewayKey | None,
        now: datetime,
        now_ms: int,
    ) -> None:
        for subject in subjects:
            outcome = self._tracker.record_failure(subject, now_ms)
            if not outcome.alert:
                continue
            is_pair = subject != address_subject(ip)
            key_id = presented.key_id if is_pair and presented is not None else None
            tenant_id = row.tenant_id if is_pair and row is not None else None
            log.warning("authentication subject suspended after repeated failures: %s", subject)
            self._confirmed[subject] = now
            async with self._db.write() as session:
                await session.merge(
                    AuthSuspension(
                        subject=subject,
                        address=ip,
                        key_id=key_id,
                        tenant_id=tenant_id,
                        failures=self._tracker.suspend_after,
                        suspended_at=now,
                    )
                )
                await record(
                    session,
                    AuditAction.KEY_SUSPENDED,
                    actor="gateway",
                    subject=subject,
                    now=now,
                    tenant_id=tenant_id,
                    detail={"address": ip, "key_id": key_id},
                )
            if self.on_suspension is not None:
                self.on_suspension(subject)

    async def suspensions(self, *, actor: Actor) -> list[SuspensionView]:
        """Current suspensions, oldest first.

        The operator sees all; a key sees those of its own tenant's key ids (an address
        suspension covers every tenant, so only the operator lists and lifts it).
        """
        query = select(AuthSuspension).order_by(AuthSuspension.suspended_at)
        if isinstance(actor, Principal):
            query = query.where(AuthSuspension.tenant_id == actor.tenant_id)
        async with self._db.read() as session:
            return [_suspension_view(r) for r in (await session.scalars(query)).all()]

    async def unsuspend(self, target: str, *, actor: Actor, reason: str) -> SuspensionView:
        """Lift the suspension of ``<address>`` or ``<key id>@<address>``; audited with ``reason``.

        NoSuchSuspension when nothing the actor may see is suspended under that name. A key may
        lift only suspensions of its own tenant's keys whose scopes it holds; address
        suspensions are the operator's.
        """
        reason = apikeys.check_text(reason, "reason")
        subject = suspension_subject(target)
        now = self._now()
        async with self._db.write() as session:
            row = await session.get(AuthSuspension, subject)
            if row is None:
                raise NoSuchSuspension(target)
            if isinstance(actor, Principal):
                if row.tenant_id != actor.tenant_id:
                    if row.key_id is None:
                        raise Forbidden(
                            f"{row.address} is suspended as a source address, for every tenant: "
                            f"the operator lifts it with `kcgateway keys unsuspend {row.address}`",
                            field="suspension",
                        )
                    raise NoSuchSuspension(target)
                key = await GatewayKeyRepository(session).get(row.key_id or "")
                if key is not None:
                    _check_scopes(actor, apikeys.parse_scopes(key.scopes), "unsuspend")
            view = _suspension_view(row)
            await session.execute(delete(AuthSuspension).where(AuthSuspension.subject == subject))
            await record(
                session,
                AuditAction.SUSPENSION_LIFTED,
                actor=actor.name,
                subject=subject,
                now=now,
                tenant_id=row.tenant_id,
                detail={"address": row.address, "key_id": row.key_id, "reason": reason},
            )
        self._tracker.lift(subject)
        self._confirmed.pop(subject, None)
        if self.on_suspension is not None:
            self.on_suspension(subject)
        return view

    async def suspension_changed(self, subject: str) -> None:
        """Another instance suspended ``subject`` or lifted its suspension: read which."""
        async with self._db.read() as session:
            suspended = await session.get(AuthSuspension, subject) is not None
        if suspended:
            self._tracker.suspend([subject])
            self._confirmed[subject] = self._now()
        else:
            self._tracker.lift(subject)
            self._confirmed.pop(subject, None)

    async def reload_suspensions(self) -> None:
        """Read every suspension again (ones made elsewhere; lifts are re-read as they are hit)."""
        await self._load_suspensions(self._now())

    async def create(
        self,
        *,
        tenant_id: str,
        owner: str,
        scopes: frozenset[Scope],
        ip_allowlist: Sequence[str] = (),
        expires_at: datetime | None = None,
        actor: Actor,
    ) -> tuple[Secret, KeyView]:
        """Issue a key. The full key is returned once and never stored.

        Forbidden when the actor (a key) does not hold every scope it grants (``admin`` only
        from ``admin``), when an allow-list entry lies outside its own, or when ``expires_at``
        is later than its own expiry; without ``expires_at`` the key gets the actor's expiry.
        """
        owner = apikeys.check_text(owner, "owner")
        apikeys.parse_allowlist(ip_allowlist)
        if isinstance(actor, Principal) and actor.tenant_id != tenant_id:
            raise Forbidden("a key creates keys of its own tenant only", field="tenant")
        _check_scopes(actor, scopes, "create")
        _check_allowlist(actor, ip_allowlist, "create")
        expires_at = _bounded_expiry(actor, expires_at, explicit=True)
        return await self._issue(
            tenant_id=tenant_id,
            owner=owner,
            scopes=scopes,
            ip_allowlist=ip_allowlist,
            expires_at=expires_at,
            actor=actor.name,
        )

    async def _issue(
        self,
        *,
        tenant_id: str,
        owner: str,
        scopes: frozenset[Scope],
        ip_allowlist: Sequence[str],
        expires_at: datetime | None,
        actor: str,
    ) -> tuple[Secret, KeyView]:
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
        self, tenant_id: str, key_id: str, *, overlap: timedelta, actor: Actor
    ) -> tuple[Secret, KeyView]:
        """Issue a successor with the same owner, scopes and allowlist.

        The old key keeps working for ``overlap`` only. NoSuchKey for another tenant's (or a
        revoked) key. Forbidden when the old key holds a scope the actor does not (only admin
        rotates admin) or allows addresses outside the actor's allow-list; the successor
        expires no later than the actor.
        """
        now = self._now()
        async with self._db.read() as session:
            old = await GatewayKeyRepository(session).get(key_id)
        if old is None or old.tenant_id != tenant_id or old.revoked_at is not None:
            raise NoSuchKey(key_id)
        if isinstance(actor, Principal) and actor.tenant_id != tenant_id:
            raise NoSuchKey(key_id)
        scopes = apikeys.parse_scopes(old.scopes)
        _check_scopes(actor, scopes, "rotate")
        _check_allowlist(actor, old.ip_allowlist, "rotate")
        expires_at = _bounded_expiry(actor, old.expires_at, explicit=False)
        full, view = await self._issue(
            tenant_id=tenant_id,
            owner=old.owner,
            scopes=scopes,
            ip_allowlist=old.ip_allowlist,
            expires_at=expires_at,
            actor=actor.name,
        )
        ends = now + overlap
        if old.expires_at is not None:
            ends = min(ends, old.expires_at)
        async with self._db.write() as session:
            await session.execute(
                update(GatewayKey).where(GatewayKey.key_id == key_id).values(expires_at=ends)
            )
            await revoke_for_key(session, key_id, now=now)  # its KuCoin-form credentials too
            await record(
                session, AuditAction.KEY_ROTATED, actor=actor.name, subject=key_id, now=now,
                tenant_id=tenant_id,
                detail={"successor": view.key_id, "old_expires_at": ends.isoformat()},
            )  # fmt: skip
        self._changed(key_id)
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

    async def page(self, tenant_id: str, state: KeyState | None, window: Window) -> Paged[KeyView]:
        """A page of the tenant's keys, newest first (:mod:`~kcgateway.gateway.lists`)."""
        async with self._db.read() as session:
            return await key_page(session, tenant_id, state, window, _view)

    async def revoke(self, tenant_id: str, key_id: str, *, actor: Actor) -> bool:
        """Revoke one of the tenant's keys; False when the tenant has no such key.

        Forbidden when the key holds a scope the actor does not (only admin revokes admin).
        """
        now = self._now()
        if isinstance(actor, Principal) and actor.tenant_id != tenant_id:
            return False
        async with self._db.write() as session:
            repo = GatewayKeyRepository(session)
            row = await repo.get(key_id)
            if row is None or row.tenant_id != tenant_id:
                return False
            _check_scopes(actor, apikeys.parse_scopes(row.scopes), "revoke")
            await repo.revoke(key_id, now=now)
            await revoke_for_key(session, key_id, now=now)  # its KuCoin-form credentials too
            await record(
                session,
                AuditAction.KEY_REVOKED,
                actor=actor.name,
                subject=key_id,
                now=now,
                tenant_id=tenant_id,
            )
        self._changed(key_id)
        return True

    def _changed(self, key_id: str) -> None:
        self._rows.forget(key_id)  # after the commit (a read begun before is not kept)
        if self.on_change is not None:
            self.on_change(key_id)

    def forget_row(self, key_id: str) -> None:
        """Read the key's row again at its next use (another instance changed it)."""
        self._rows.forget(key_id)

    def forget_rows(self) -> None:
        """Read every key's row again at its next use (changes may have been missed)."""
        self._rows.forget_all()


def _bearer(authorization: str | None) -> PresentedKey | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return apikeys.parse_key(token.strip())
