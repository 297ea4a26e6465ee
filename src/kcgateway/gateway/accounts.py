"""Connecting a KuCoin API key to a tenant: check it at the exchange, then seal it in the vault.

SECURITY.md section 1: the pasted key is first checked with ``GET /api/v1/user/api-key``; its
permissions are checked against an ALLOW-list (:data:`ALLOWED_PERMISSIONS`: General, Spot, Margin,
Futures): anything else (Transfer, InnerTransfer, FlexTransfer, Withdrawal, Earn, or a name
KuCoin adds tomorrow) is refused by name, because a trading gateway never needs to move funds and
a permission we do not know is one we cannot vouch for; in production a key without an IP
whitelist is refused too. Only then is it stored,
sealed by the vault, which returns an id: the plaintext is not kept anywhere else.

Removing an account (:meth:`AccountOnboarding.remove`) crypto-shreds it: the sealed credential
row (its wrapped data key and ciphertexts) is deleted, so nothing can sign for the account any
more, while the account row, its order intents and the audit trail stay. It is refused while
the account has orders the gateway is still tracking (pending or open), unless forced.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.errors import AccountBusy, AccountNameTaken, KeyRefused, NoSuchAccount
from kcgateway.exchange.rest import KuCoinClient
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.gateway.lists import account_page
from kcgateway.gateway.paging import Paged, Window
from kcgateway.kucoin import models as m
from kcgateway.kucoin.signing import Credentials
from kcgateway.secret import Secret
from kcgateway.store.database import Database
from kcgateway.store.repositories import AccountRepository, CredentialRepository
from kcgateway.store.tables import CredentialRow, ExchangeAccount, OrderIntent
from kcgateway.store.types import OrderState

Now = Callable[[], datetime]
ProbeFactory = Callable[[Credentials], KuCoinClient]
#: the only exchange permissions a connected key may hold (KuCoin's spelling, any case)
ALLOWED_PERMISSIONS = frozenset({"General", "Spot", "Margin", "Futures"})
_ALLOWED_FOLDED = frozenset(p.casefold() for p in ALLOWED_PERMISSIONS)
#: intents the gateway still tracks: removing their account would orphan them
LIVE_STATES = (
    OrderState.PERSISTED,
    OrderState.SENT,
    OrderState.UNKNOWN,
    OrderState.ACKED,
    OrderState.OPEN,
)
#: called after a removal commits, to drop in-process caches of the account and credentials
Forget = Callable[[str, Sequence[str]], Awaitable[None]]


async def _nothing_to_forget(account_id: str, credential_ids: Sequence[str]) -> None:
    return None


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


@dataclass(frozen=True, slots=True)
class RemovedAccount:
    """What a removal did."""

    id: str
    name: str
    credentials_deleted: int
    live_orders: int


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


def refusal(
    info: m.ApiKeyInfo, *, require_ip_whitelist: bool, also_allow: frozenset[str] = frozenset()
) -> str | None:
    """Why this key must not be connected, or None. Pure.

    ``also_allow``: permissions an operator policy adds for this path (Fast API onboarding may
    allow KuCoin's flexible transfer); never used to allow withdrawal.
    """
    allowed = _ALLOWED_FOLDED | {p.casefold() for p in also_allow}
    refused = sorted(p for p in info.permissions if p.casefold() not in allowed)
    if refused:
        names = ", ".join(repr(p) for p in refused)
        return (
            f"the key has the {names} permission{'s' if len(refused) > 1 else ''}, which a "
            f"trading gateway does not accept (allowed: {', '.join(sorted(ALLOWED_PERMISSIONS))}): "
            "create a key with only General and Spot (or Margin/Futures) permissions"
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
        forget: Forget = _nothing_to_forget,
    ) -> None:
        self._db = db
        self._vault = vault
        self._probe = probe
        self.require_ip_whitelist = require_ip_whitelist
        self._now = now
        self._forget = forget
        self._swept: set[str] = set()
        #: told of every account removed here, after the commit (the change bus)
        self.on_removed: Callable[[str], None] | None = None

    async def check(
        self, req: ConnectRequest, *, also_allow: frozenset[str] = frozenset()
    ) -> m.ApiKeyInfo:
        """Ask the exchange what the key may do; KeyRefused when it may do too much."""
        creds = Credentials(req.api_key, req.secret, req.passphrase, key_version=req.key_version)
        async with self._probe(creds) as client:
            info = await client.account.api_key_info()
        reason = refusal(
            info, require_ip_whitelist=self.require_ip_whitelist, also_allow=also_allow
        )
        if reason is not None:
            raise KeyRefused(reason)
        return info

    async def connect(
        self,
        tenant_id: str,
        actor: str,
        req: ConnectRequest,
        *,
        also_allow: frozenset[str] = frozenset(),
    ) -> AccountView:
        """Check, create the account, seal the credential, record both."""
        await self.name_free(tenant_id, req.name)
        info = await self.check(req, also_allow=also_allow)
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

    async def name_free(self, tenant_id: str, name: str) -> None:
        """AccountNameTaken when the tenant has (or had) an account of that name."""
        async with self._db.read() as session:
            rows = await AccountRepository(session).for_tenant(tenant_id)
        for row in rows:
            if row.name == name and row.removed_at is not None:
                raise AccountNameTaken(
                    f"an account named {name!r} was removed and its name stays with its order "
                    "history: choose another name"
                )
            if row.name == name:
                raise AccountNameTaken(f"an account named {name!r} exists")

    async def list(self, tenant_id: str) -> list[AccountView]:
        """The tenant's accounts (removed ones are not listed)."""
        async with self._db.read() as session:
            rows = await AccountRepository(session).for_tenant(tenant_id)
        return [AccountView(r.id, r.name, r.sub_uid, ()) for r in rows if r.removed_at is None]

    async def page(self, tenant_id: str, window: Window) -> Paged[AccountView]:
        """A page of the tenant's accounts, newest first (:mod:`~kcgateway.gateway.lists`)."""
        async with self._db.read() as session:
            return await account_page(
                session, tenant_id, window, lambda r: AccountView(r.id, r.name, r.sub_uid, ())
            )

    async def remove(
        self, tenant_id: str, account: str, actor: str, *, force: bool = False
    ) -> RemovedAccount:
        """Delete the account's sealed credentials and mark it removed, in one transaction.

        ``account`` is an id or a name. NoSuchAccount for another tenant's (or a removed)
        account; AccountBusy while it has pending or open intents, unless ``force``. The intents
        and the audit trail are kept; the removal is audited as ``account.removed``.
        """
        now = self._now()
        async with self._db.write() as session:
            row = await _live_account(session, tenant_id, account)
            live = int(
                await session.scalar(
                    select(func.count())
                    .select_from(OrderIntent)
                    .where(OrderIntent.account_id == row.id, OrderIntent.state.in_(LIVE_STATES))
                )
                or 0
            )
            if live and not force:
                raise AccountBusy(row.name, live)
            query = select(CredentialRow.id).where(CredentialRow.account_id == row.id)
            credential_ids = list((await session.scalars(query)).all())
            repo = CredentialRepository(session)
            for credential_id in credential_ids:
                await repo.delete(credential_id)
            row.removed_at = now
            detail = {
                "name": row.name,
                "credential_ids": credential_ids,
                "live_orders": live,
                "forced": force,
            }
            await record(
                session, AuditAction.ACCOUNT_REMOVED, actor=actor, subject=row.id, now=now,
                tenant_id=tenant_id, detail=detail,
            )  # fmt: skip
            removed = RemovedAccount(row.id, row.name, len(credential_ids), live)
        await self._forget(removed.id, credential_ids)
        self._swept.add(removed.id)
        if self.on_removed is not None:
            self.on_removed(removed.id)
        return removed

    async def removed_elsewhere(self, account_id: str) -> None:
        """Forget what this process holds for an account another instance just removed."""
        await self._forget(account_id, ())
        self._swept.add(account_id)

    async def sweep_removed(self) -> int:
        """Forget what this process holds for accounts removed elsewhere; returns how many.

        `kcgateway accounts remove` runs in another process: a running gateway would otherwise
        keep signing with the sealed credential it cached. Called on every reconciliation pass.
        """
        query = select(ExchangeAccount.id).where(ExchangeAccount.removed_at.is_not(None))
        async with self._db.read() as session:
            removed = set((await session.scalars(query)).all()) - self._swept
        for account_id in sorted(removed):
            await self._forget(account_id, ())
        self._swept |= removed
        return len(removed)


async def _live_account(session: AsyncSession, tenant_id: str, account: str) -> ExchangeAccount:
    row = await session.get(ExchangeAccount, account)
    if row is None:
        row = await session.scalar(
            select(ExchangeAccount).where(
                ExchangeAccount.tenant_id == tenant_id, ExchangeAccount.name == account
            )
        )
    if row is None or row.tenant_id != tenant_id or row.removed_at is not None:
        raise NoSuchAccount(account)
    return row
