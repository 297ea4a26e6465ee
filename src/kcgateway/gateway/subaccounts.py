"""ND-broker sub-accounts: the gateway creates a KuCoin sub-account for a tenant's user.

The operator connects the ND broker's master account (an ordinary connected account) and names
it once (:meth:`SubAccounts.set_master`); the broker settings (partner id, broker key) make the
vault add the partner headers to every call it signs. Then :meth:`SubAccounts.create`:

1. creates the sub-account under the master (``POST /api/v1/broker/nd/account``);
2. creates its v3 API key (``POST /api/v1/broker/nd/account/apikey``) with a passphrase the
   gateway generates, General + Spot (or the trading permissions asked for, never a transfer);
3. hands key, secret and passphrase to
   :meth:`~kcgateway.gateway.accounts.AccountOnboarding.connect` (checked at the exchange,
   sealed, audited ``account.connected``) as that tenant's account;
4. records the sub-account (``nd_subaccounts``) and audits ``broker.subaccount_created``.

Nobody sees the secret or the passphrase. A failure after step 1 leaves a sub-account at KuCoin
that no account holds: the error says so (with its uid) and the audit record keeps it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from kcgateway.errors import (
    KcgatewayError,
    NoBrokerMaster,
    NoSuchAccount,
    SubAccountOrphaned,
    ValidationError,
)
from kcgateway.exchange.rest import KuCoinClient
from kcgateway.gateway.accounts import ALLOWED_PERMISSIONS, AccountOnboarding, ConnectRequest
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.gateway.venue import Venues
from kcgateway.secret import Secret
from kcgateway.store.database import Database
from kcgateway.store.tables import ExchangeAccount, NdMasterRow, NdSubAccountRow

Now = Callable[[], datetime]
_MASTER_ID = "nd"
DEFAULT_PERMISSIONS = ("General", "Spot")


@dataclass(frozen=True, slots=True)
class SubAccountView:
    """A tenant account living in an ND sub-account (no credential material)."""

    account_id: str
    name: str
    uid: str
    kucoin_name: str
    created_at: datetime


def _permissions(asked: Sequence[str]) -> list[str]:
    allowed = {p.casefold(): p for p in ALLOWED_PERMISSIONS}
    unknown = [p for p in asked if p.casefold() not in allowed]
    if unknown:
        raise ValidationError(
            f"permissions {unknown} are not allowed: choose among {sorted(ALLOWED_PERMISSIONS)}",
            field="permissions",
        )
    return sorted({allowed[p.casefold()] for p in asked} | {"General"})


class SubAccounts:
    """Creates and lists ND sub-accounts as tenant accounts."""

    def __init__(
        self,
        db: Database,
        venues: Venues,
        accounts: AccountOnboarding,
        *,
        now: Now = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._venues = venues
        self._accounts = accounts
        self._now = now

    async def set_master(self, account_id: str, *, actor: str) -> None:
        """Name the connected account that is the ND broker's master (audited)."""
        now = self._now()
        async with self._db.write() as session:
            account = await session.get(ExchangeAccount, account_id)
            if account is None or account.removed_at is not None:
                raise NoSuchAccount(account_id)
            row = await session.get(NdMasterRow, _MASTER_ID)
            if row is None:
                row = NdMasterRow(id=_MASTER_ID)
                session.add(row)
            row.account_id, row.actor, row.updated_at = account_id, actor, now
            await record(
                session, AuditAction.BROKER_MASTER_SET, actor=actor, subject=account_id, now=now,
            )  # fmt: skip

    async def _master(self) -> str:
        async with self._db.read() as session:
            row = await session.get(NdMasterRow, _MASTER_ID)
        if row is None:
            raise NoBrokerMaster(
                "no ND broker master account: connect it, then run `kcgateway broker subaccounts "
                "master ACCOUNT_ID`"
            )
        return row.account_id

    async def master_client(self) -> KuCoinClient:
        """The ND broker master account's exchange client (NoBrokerMaster without one)."""
        return (await self._venues.for_account(await self._master())).client

    async def create(
        self,
        tenant_id: str,
        actor: str,
        name: str,
        *,
        permissions: Sequence[str] = DEFAULT_PERMISSIONS,
    ) -> SubAccountView:
        """A sub-account and its key, sealed as the tenant's account ``name``."""
        chosen = _permissions(permissions)
        await self._accounts.name_free(tenant_id, name)
        broker = (await self._venues.for_account(await self._master())).client.broker
        kucoin_name = f"kcgw{secrets.token_hex(6)}"
        sub = await broker.create_subaccount(kucoin_name)
        passphrase = Secret(secrets.token_urlsafe(24))
        try:
            key = await broker.create_subaccount_key(
                sub.uid, passphrase=passphrase, permissions=chosen, label=f"kcgw {name}"[:32]
            )
            request = ConnectRequest(name, key.api_key, key.secret_key, passphrase)
            view = await self._accounts.connect(tenant_id, actor, request)
        except KcgatewayError as exc:
            raise _orphaned(exc, sub.uid) from None
        now = self._now()
        async with self._db.write() as session:
            session.add(NdSubAccountRow(
                account_id=view.id, tenant_id=tenant_id, uid=sub.uid, kucoin_name=kucoin_name,
                created_at=now,
            ))  # fmt: skip
            detail = {
                "name": name,
                "uid": sub.uid,
                "kucoinName": kucoin_name,
                "apiKey": key.api_key,
            }
            await record(
                session, AuditAction.BROKER_SUBACCOUNT_CREATED, actor=actor, subject=view.id,
                now=now, tenant_id=tenant_id, detail=detail,
            )  # fmt: skip
        return SubAccountView(view.id, name, sub.uid, kucoin_name, now)

    async def list(self, tenant_id: str) -> list[SubAccountView]:
        """The tenant's sub-account-based accounts, oldest first."""
        query = (
            select(NdSubAccountRow, ExchangeAccount.name)
            .join(ExchangeAccount, ExchangeAccount.id == NdSubAccountRow.account_id)
            .where(NdSubAccountRow.tenant_id == tenant_id)
            .order_by(NdSubAccountRow.created_at)
        )
        async with self._db.read() as session:
            rows = (await session.execute(query)).all()
        return [
            SubAccountView(r.account_id, name, r.uid, r.kucoin_name, r.created_at)
            for r, name in rows
        ]


def _orphaned(exc: KcgatewayError, uid: str) -> SubAccountOrphaned:
    return SubAccountOrphaned(
        f"{exc}. The KuCoin sub-account {uid} was created but no gateway account holds it: "
        "delete its keys in the broker console, then try again"
    )
