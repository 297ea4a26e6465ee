"""KuCoin-form credentials for gateway keys: issued once, checked on every facade request.

Issuing (:meth:`FacadeCredentials.issue`) binds a new apiKey, secret and passphrase to one
gateway key and one exchange account of its tenant; the secret and passphrase are sealed by the
vault and shown once. Issuing again replaces the key's earlier facade credentials; revoking or
rotating the gateway key revokes them (``KeyService`` calls
:func:`~kcgateway.store.facade_store.revoke_for_key` in the same transaction).

Who may issue: the operator, or a key holding ``keys:manage`` and every scope of the target key
(as for rotating it), of the same tenant.

Authenticating (:meth:`FacadeCredentials.authenticate`), first failure wins, each with KuCoin's
code: ``400001`` a KC-API-* header missing; ``400002`` a timestamp more than 5 s from the
gateway's clock; ``400003`` an unknown apiKey, or one whose credential or gateway key is revoked
or expired (KuCoin answers a deleted key so); ``400009``/``400004``/``400005`` key version,
passphrase, signature (the vault's verifier); ``400006`` a client address outside the gateway
key's IP allow-list (the same client-address rule as ``/v1``). Scopes are checked per route by
the caller with :meth:`FacadePrincipal.require`: ``400007``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from kcgateway.errors import FacadeRefused, Forbidden, NoSuchKey, Unauthenticated
from kcgateway.gateway import apikeys
from kcgateway.gateway.apikeys import KeyLifetime, Scope
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.gateway.keys import Actor, Principal
from kcgateway.gateway.orders.lifecycle import owned_account
from kcgateway.store.database import Database
from kcgateway.store.facade_store import (
    facade_by_api_key,
    facade_record,
    facade_row,
    revoke_for_key,
)
from kcgateway.store.records import CredentialRecord
from kcgateway.store.repositories import GatewayKeyRepository, gateway_key
from kcgateway.store.tables import GatewayKey
from kcgateway.vault.facade_forms import NewCredentials, SignedCall
from kcgateway.vault.facade_forms import new_credentials as make_credentials

Now = Callable[[], datetime]
#: KuCoin's timestamp window (PROTOCOL.md section 1)
MAX_SKEW_MS = 5_000
TOUCH_EVERY = timedelta(minutes=1)
_REQUIRED = ("KC-API-KEY", "KC-API-SIGN", "KC-API-TIMESTAMP", "KC-API-PASSPHRASE")
#: KuCoin's wording for a missing header (old docs, as the simulator answers)
MISSING = (
    "Please check the header of your request for KC-API-KEY, KC-API-SIGN, KC-API-TIMESTAMP, "
    "KC-API-PASSPHRASE"
)


#: refusals counted against the source address (a forger's); not a bad clock or header
COUNTED = frozenset({"400003", "400004", "400005", "400006"})


class SourceGuard(Protocol):
    """Failure counting per source address (:class:`~kcgateway.gateway.keys.KeyService`)."""

    async def check_source(self, ip: str) -> None:
        """Unauthenticated while ``ip`` is in backoff or suspended."""
        ...

    async def source_failed(self, ip: str) -> None:
        """Count one failure from ``ip``."""
        ...

    def source_succeeded(self, ip: str) -> None:
        """Reset ``ip``'s count."""
        ...


class FacadeSealer(Protocol):
    """The vault's side (:class:`kcgateway.vault.facade.FacadeVault`): seal, verify, no getter."""

    async def seal(
        self, made: NewCredentials, *, credential_id: str, tenant_id: str
    ) -> CredentialRecord:
        """The sealed record of a new credential."""
        ...

    async def verify(self, record: CredentialRecord, call: SignedCall) -> None:
        """Return when ``call`` is signed with the record's secret; FacadeRefused otherwise."""
        ...


@dataclass(frozen=True, slots=True)
class FacadePrincipal:
    """A facade request that passed authentication: whose, which key, which account."""

    tenant_id: str
    key_id: str
    account_id: str
    scopes: frozenset[Scope]
    ip: str

    def require(self, scope: Scope) -> None:
        """FacadeRefused 400007 (KuCoin's permission error) unless the key holds ``scope``."""
        if scope not in self.scopes and Scope.ADMIN not in self.scopes:
            raise FacadeRefused(
                "400007", "Access denied, require more permission.", http_status=403
            )


@dataclass(frozen=True, slots=True)
class IssuedView:
    """What issuing answers besides the secrets: the apiKey and what it is bound to."""

    api_key: str
    key_id: str
    account_id: str
    created_at: datetime


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def key_usable(row: GatewayKey, now: datetime) -> bool:
    """The gateway key is neither revoked nor expired (idle rules included)."""
    lifetime = KeyLifetime(
        created_ms=_ms(row.created_at) or 0,
        last_used_ms=_ms(row.last_used_at),
        scopes=apikeys.parse_scopes(row.scopes),
        has_ip_allowlist=bool(row.ip_allowlist),
        expires_ms=_ms(row.expires_at),
        revoked_ms=_ms(row.revoked_at),
    )
    return apikeys.is_usable(lifetime, _ms(now) or 0)


def _check_issuer(actor: Actor, tenant_id: str, key: GatewayKey) -> None:
    """Forbidden unless the actor may manage ``key`` (keys:manage and all of its scopes)."""
    if not isinstance(actor, Principal):
        return
    if actor.tenant_id != tenant_id:
        raise NoSuchKey(key.key_id)
    if not actor.allows(Scope.KEYS_MANAGE):
        raise Forbidden(
            "this key lacks the keys:manage scope: issue KuCoin credentials with a key that "
            "holds it",
            field="scopes",
        )
    beyond = apikeys.scopes_beyond(actor.scopes, apikeys.parse_scopes(key.scopes))
    if beyond:
        names = ", ".join(s.value for s in beyond)
        raise Forbidden(
            f"the key holds the scope(s) {names}, which this key does not: issue its KuCoin "
            "credentials with a key that holds them (or an admin key)",
            field="scopes",
        )


def signed_call(
    headers: Mapping[str, str], method: str, path: str, body: bytes, wire_path: str | None = None
) -> SignedCall:
    """The KC-API-* values of a request (FacadeRefused 400001 when one is missing).

    ``headers`` must look names up case-insensitively (Starlette's ``Headers`` do).
    """
    values = [headers.get(name) or "" for name in _REQUIRED]
    if not all(values):
        raise FacadeRefused("400001", MISSING)
    api_key, sign, timestamp, passphrase = values
    return SignedCall(
        api_key=api_key,
        sign=sign,
        timestamp=timestamp,
        passphrase=passphrase,
        version=headers.get("KC-API-KEY-VERSION"),
        method=method.upper(),
        path=path,
        body=body,
        wire_path=wire_path,
    )


class FacadeCredentials:
    """Issues facade credentials and authenticates facade requests."""

    def __init__(
        self,
        db: Database,
        vault: FacadeSealer,
        *,
        guard: SourceGuard | None = None,
        now: Now = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._vault = vault
        self._guard = guard
        self._now = now

    def __repr__(self) -> str:
        return "FacadeCredentials()"

    async def issue(
        self, tenant_id: str, key_id: str, account: str, *, actor: Actor
    ) -> tuple[NewCredentials, IssuedView]:
        """New facade credentials for the tenant's gateway key ``key_id``, bound to ``account``.

        The secrets are returned once (show them, then drop them). NoSuchKey for an unknown,
        revoked or expired key (or another tenant's); NoSuchObject for an account that is not
        the tenant's; Forbidden when the actor may not manage the key.
        """
        now = self._now()
        async with self._db.read() as session:
            key = await GatewayKeyRepository(session).get(key_id)
            if key is None or key.tenant_id != tenant_id or not key_usable(key, now):
                raise NoSuchKey(key_id)
            _check_issuer(actor, tenant_id, key)
            account_id = (await owned_account(session, tenant_id, account)).id
        made = make_credentials()
        sealed = await self._vault.seal(made, credential_id=str(uuid.uuid4()), tenant_id=tenant_id)
        row = facade_row(replace(sealed, account_id=account_id), key_id=key_id, now=now)
        async with self._db.write() as session:
            replaced = await revoke_for_key(session, key_id, now=now)
            session.add(row)
            await session.flush()
            await record(
                session, AuditAction.FACADE_ISSUED, actor=actor.name, subject=key_id, now=now,
                tenant_id=tenant_id,
                detail={"api_key": made.api_key, "account_id": account_id, "replaced": replaced},
            )  # fmt: skip
        return made, IssuedView(made.api_key, key_id, account_id, now)

    async def authenticate(self, call: SignedCall, ip: str) -> FacadePrincipal:
        """The principal of a signed facade request, or FacadeRefused with KuCoin's code.

        With a guard, an address in backoff or suspended gets ``429000`` before any check, and
        each refusal in :data:`COUNTED` counts against the address (SECURITY.md section 2).
        """
        guard = self._guard
        if guard is None:
            return await self._authenticate(call, ip)
        try:
            await guard.check_source(ip)
        except Unauthenticated:
            raise FacadeRefused("429000", "Too Many Requests", http_status=429) from None
        try:
            principal = await self._authenticate(call, ip)
        except FacadeRefused as exc:
            if exc.kc_code in COUNTED:
                await guard.source_failed(ip)
            raise
        guard.source_succeeded(ip)
        return principal

    async def _authenticate(self, call: SignedCall, ip: str) -> FacadePrincipal:
        now = self._now()
        if not call.timestamp.isdigit() or abs(int(call.timestamp) - (_ms(now) or 0)) > MAX_SKEW_MS:
            raise FacadeRefused("400002", "Invalid KC-API-TIMESTAMP")
        async with self._db.hot_read() as ex:
            cred = await facade_by_api_key(ex, call.api_key)
            key = None if cred is None else await gateway_key(ex, cred.key_id)
        if cred is None or key is None:
            raise FacadeRefused("400003", "KC-API-KEY not exists")
        if cred.revoked_at is not None or not key_usable(key, now):
            raise FacadeRefused("400003", "KC-API-KEY not exists")
        await self._vault.verify(facade_record(cred), call)
        if not apikeys.ip_allowed(ip, key.ip_allowlist):
            raise FacadeRefused(
                "400006", f"Invalid request IP, the current client IP is: {ip[:100]}."
            )
        if key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY:
            async with self._db.write() as session:
                await GatewayKeyRepository(session).touch(key.key_id, now=now)
        scopes = apikeys.parse_scopes(key.scopes)
        return FacadePrincipal(key.tenant_id, key.key_id, cred.account_id, scopes, ip)
