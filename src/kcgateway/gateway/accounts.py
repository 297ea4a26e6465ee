"""Connecting a KuCoin API key to a tenant: check it at the exchange, then seal it in the vault.

SECURITY.md section 1: the pasted key is first checked with ``GET /api/v1/user/api-key``; a key
with a Transfer or withdrawal permission is refused (a trading gateway never needs to move
funds out); in production a key without an IP whitelist is refused too. Only then is it stored,
sealed by the vault, which returns an id: the plaintext is not kept anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from kcgateway.exchange.rest import KuCoinClient
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.kucoin import models as m
from kcgateway.kucoin.signing import Credentials
from kcgateway.secret import Secret
from kcgateway.store.database import Database
from kcgateway.store.repositories import AccountRepository

Now = Callable[[], datetime]
ProbeFactory = Callable[[Credentials], KuCoinClient]
_REFUSED = ("transfer", "flextransfer")


class CredentialSealer(Protocol):
    """The vault's ``CredentialVault.store`` shape."""

    async def store(
        self,
        *,
        tenant_id: str,
        api_key: str,
        secret: Secret,
        passphrase: Secret,
        now: datetime,
        key_version: int = 3,
        account_id: str | None = None,
    ) -> str:
        """Seal and store; return the credential id."""
        ...


class KeyRefused(Exception):
    """The exchange key must not be connected; ``reason`` says why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccountNameTaken(Exception):
    """The tenant already has an account with this name."""


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """A pasted KuCoin key. The secret and passphrase are wrapped from the start."""

    name: str
    api_key: str
    secret: Secret
    passphrase: Secret
    key_version: int = 3


@dataclass(frozen=True, slots=True)
class AccountView:
    """A connected account (no credential material)."""

    id: str
    name: str
    uid: str | None
    permissions: tuple[str, ...]


def refusal(info: m.ApiKeyInfo, *, require_ip_whitelist: bool) -> str | None:
    """Why this key must not be connected, or None. Pure."""
    risky = sorted(p for p in info.permissions if p.lower() in _REFUSED or "withdraw" in p.lower())
    if risky:
        return (
            f"the key has the {', '.join(risky)} permission: create a key with only General "
            "and Spot (or Margin/Futures) permissions"
        )
    if require_ip_whitelist and not (info.ip_whitelist or "").strip():
        return "the key has no IP whitelist: restrict it to the gateway's egress IPs"
    return None


class AccountOnboarding:
    """Checks and stores exchange keys for tenants."""

    def __init__(
        self,
        db: Database,
        vault: CredentialSealer,
        probe: ProbeFactory,
        *,
        require_ip_whitelist: bool,
        now: Now = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._vault = vault
        self._probe = probe
        self.require_ip_whitelist = require_ip_whitelist
        self._now = now

    async def check(self, req: ConnectRequest) -> m.ApiKeyInfo:
        """Ask the exchange what the key may do; KeyRefused when it may do too much."""
        creds = Credentials(req.api_key, req.secret, req.passphrase, key_version=req.key_version)
        async with self._probe(creds) as client:
            info = await client.account.api_key_info()
        reason = refusal(info, require_ip_whitelist=self.require_ip_whitelist)
        if reason is not None:
            raise KeyRefused(reason)
        return info

    async def connect(self, tenant_id: str, actor: str, req: ConnectRequest) -> AccountView:
        """Check, create the account, seal the credential, record both."""
        await self._name_free(tenant_id, req.name)
        info = await self.check(req)
        now = self._now()
        uid = str(info.uid)
        try:
            async with self._db.write() as session:
                account_id = await AccountRepository(session).add(
                    tenant_id, req.name, now=now, sub_uid=uid
                )
        except IntegrityError:
            raise AccountNameTaken(f"an account named {req.name!r} exists") from None
        credential_id = await self._vault.store(
            tenant_id=tenant_id,
            api_key=req.api_key,
            secret=req.secret,
            passphrase=req.passphrase,
            now=now,
            key_version=req.key_version,
            account_id=account_id,
        )
        permissions = tuple(sorted(info.permissions))
        async with self._db.write() as session:
            detail = {
                "name": req.name,
                "uid": uid,
                "api_key": req.api_key,
                "credential_id": credential_id,
                "permissions": list(permissions),
            }
            await record(
                session, AuditAction.ACCOUNT_CONNECTED, actor=actor, subject=account_id,
                now=now, tenant_id=tenant_id, detail=detail,
            )  # fmt: skip
        return AccountView(account_id, req.name, uid, permissions)

    async def _name_free(self, tenant_id: str, name: str) -> None:
        async with self._db.read() as session:
            rows = await AccountRepository(session).for_tenant(tenant_id)
        if any(r.name == name for r in rows):
            raise AccountNameTaken(f"an account named {name!r} exists")

    async def list(self, tenant_id: str) -> list[AccountView]:
        """The tenant's accounts."""
        async with self._db.read() as session:
            rows = await AccountRepository(session).for_tenant(tenant_id)
        return [AccountView(r.id, r.name, r.sub_uid, ()) for r in rows]
