"""Repositories for tenants, exchange accounts, credentials and gateway keys.

Each repository wraps ONE session the caller opened (``Database.read()`` / ``.write()``); it
never commits or opens sessions itself. Time is passed in (``now``), ids are random UUIDs.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.store.fastsql import Prepared, Runner
from kcgateway.store.records import BrokerInfo, CredentialRecord, Rewrap, SealedField
from kcgateway.store.tables import CredentialRow, ExchangeAccount, GatewayKey, Tenant
from kcgateway.store.types import AccountId, CredentialId, TenantId


def new_id() -> str:
    """A fresh random identifier (UUID4, 36 characters)."""
    return str(uuid.uuid4())


class NotFoundInStore(LookupError):
    """The row asked for does not exist."""


class TenantRepository:
    """Tenants."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, name: str, *, now: datetime) -> TenantId:
        """Create a tenant; returns its id."""
        tenant = Tenant(id=new_id(), name=name, created_at=now)
        self._s.add(tenant)
        await self._s.flush()
        return TenantId(tenant.id)

    async def get(self, tenant_id: str) -> Tenant:
        """The tenant, or :class:`NotFoundInStore`."""
        tenant = await self._s.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFoundInStore(f"tenant {tenant_id} not found")
        return tenant

    async def by_name(self, name: str) -> Tenant | None:
        """The tenant with this name, if any."""
        return await self._s.scalar(select(Tenant).where(Tenant.name == name))


class AccountRepository:
    """Exchange accounts of a tenant."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(
        self, tenant_id: str, name: str, *, now: datetime, sub_uid: str | None = None
    ) -> AccountId:
        """Create an account; returns its id."""
        account = ExchangeAccount(
            id=new_id(), tenant_id=tenant_id, name=name, sub_uid=sub_uid, created_at=now
        )
        account.exchange = "kucoin"
        self._s.add(account)
        await self._s.flush()
        return AccountId(account.id)

    async def get(self, account_id: str) -> ExchangeAccount:
        """The account, or :class:`NotFoundInStore`."""
        account = await self._s.get(ExchangeAccount, account_id)
        if account is None:
            raise NotFoundInStore(f"account {account_id} not found")
        return account

    async def for_tenant(self, tenant_id: str) -> Sequence[ExchangeAccount]:
        """The tenant's accounts, by name."""
        query = (
            select(ExchangeAccount)
            .where(ExchangeAccount.tenant_id == tenant_id)
            .order_by(ExchangeAccount.name)
        )
        return (await self._s.scalars(query)).all()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _fields_to_json(fields: dict[str, SealedField]) -> dict[str, dict[str, str]]:
    return {
        name: {"nonce": _b64(f.nonce), "ciphertext": _b64(f.ciphertext)}
        for name, f in sorted(fields.items())
    }


def _fields_from_json(data: dict[str, dict[str, str]]) -> dict[str, SealedField]:
    return {
        name: SealedField(
            nonce=base64.b64decode(item["nonce"]), ciphertext=base64.b64decode(item["ciphertext"])
        )
        for name, item in data.items()
    }


def _to_record(row: CredentialRow) -> CredentialRecord:
    broker = None
    if row.broker_partner is not None and row.broker_name is not None:
        broker = BrokerInfo(row.broker_partner, row.broker_name, row.broker_verify)
    return CredentialRecord(
        credential_id=row.id,
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        api_key=row.api_key,
        key_version=row.key_version,
        v=row.envelope_version,
        alg=row.alg,
        kek_id=row.kek_id,
        wrapped_dek=row.wrapped_dek,
        fields=_fields_from_json(row.sealed_fields),
        broker=broker,
    )


class CredentialRepository:
    """Sealed credentials. Stores and returns :class:`CredentialRecord` (never plaintext)."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, record: CredentialRecord, *, now: datetime) -> CredentialId:
        """Insert a sealed credential under ``record.credential_id``."""
        broker = record.broker
        row = CredentialRow(
            id=record.credential_id,
            tenant_id=record.tenant_id,
            account_id=record.account_id,
            api_key=record.api_key,
            key_version=record.key_version,
            broker_partner=broker.partner if broker else None,
            broker_name=broker.name if broker else None,
            broker_verify=broker.verify if broker else True,
            envelope_version=record.v,
            alg=record.alg,
            kek_id=record.kek_id,
            wrapped_dek=record.wrapped_dek,
            sealed_fields=_fields_to_json(record.fields),
            created_at=now,
            updated_at=now,
        )
        self._s.add(row)
        await self._s.flush()
        return CredentialId(row.id)

    async def get(self, credential_id: str) -> CredentialRecord:
        """The sealed record, or :class:`NotFoundInStore`."""
        row = await self._s.get(CredentialRow, credential_id)
        if row is None:
            raise NotFoundInStore(f"credential {credential_id} not found")
        return _to_record(row)

    async def not_on_kek(self, kek_id: str, *, limit: int) -> list[CredentialRecord]:
        """Up to ``limit`` records whose DEK is wrapped by another KEK (oldest first)."""
        query = (
            select(CredentialRow)
            .where(CredentialRow.kek_id != kek_id)
            .order_by(CredentialRow.created_at, CredentialRow.id)
            .limit(limit)
        )
        return [_to_record(row) for row in (await self._s.scalars(query)).all()]

    async def rewrap(self, change: Rewrap, *, now: datetime) -> bool:
        """Replace the wrapped DEK if the row is unchanged since it was read (compare-and-set)."""
        result = await self._s.execute(
            update(CredentialRow)
            .where(
                CredentialRow.id == change.credential_id,
                CredentialRow.kek_id == change.old_kek_id,
                CredentialRow.wrapped_dek == change.old_wrapped_dek,
            )
            .values(kek_id=change.new_kek_id, wrapped_dek=change.new_wrapped_dek, updated_at=now)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def delete(self, credential_id: str) -> bool:
        """Remove a credential (the user revoked the key); False if it did not exist."""
        result = await self._s.execute(
            delete(CredentialRow).where(CredentialRow.id == credential_id)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def count_by_kek(self) -> dict[str, int]:
        """How many credentials each KEK wraps."""
        query = select(CredentialRow.kek_id, func.count()).group_by(CredentialRow.kek_id)
        return {str(row[0]): int(row[1]) for row in (await self._s.execute(query)).all()}

    async def ids_for_tenant(self, tenant_id: str) -> list[CredentialId]:
        """The tenant's credential ids."""
        query = select(CredentialRow.id).where(CredentialRow.tenant_id == tenant_id)
        return [CredentialId(i) for i in (await self._s.scalars(query)).all()]


_KEYS = cast(Table, GatewayKey.__table__)
_KEY_BY_ID = Prepared(
    select(_KEYS).where(_KEYS.c.key_id == bindparam("key_id", type_=_KEYS.c.key_id.type))
)


async def gateway_key(ex: Runner, key_id: str) -> GatewayKey | None:
    """The key row by id in one prebuilt statement (the per-request authentication).

    The object is built from the row and attached to no session.
    """
    rows = await ex.rows(_KEY_BY_ID, {"key_id": key_id})
    return GatewayKey(**rows[0]) if rows else None


class GatewayKeyRepository:
    """Keys kcgateway issued. Only ``HMAC(pepper, secret)`` is stored, never the secret."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, key: GatewayKey) -> None:
        """Insert a key row built by the caller (who computed the HMAC)."""
        self._s.add(key)
        await self._s.flush()

    async def get(self, key_id: str) -> GatewayKey | None:
        """The key row, if any."""
        return await self._s.get(GatewayKey, key_id)

    async def touch(self, key_id: str, *, now: datetime) -> None:
        """Record a successful use."""
        await self._s.execute(
            update(GatewayKey).where(GatewayKey.key_id == key_id).values(last_used_at=now)
        )

    async def revoke(self, key_id: str, *, now: datetime) -> bool:
        """Revoke a key (idempotent: the first revocation time is kept)."""
        result = await self._s.execute(
            update(GatewayKey)
            .where(GatewayKey.key_id == key_id, GatewayKey.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def for_owner(self, tenant_id: str, owner: str) -> Sequence[GatewayKey]:
        """An owner's keys, newest first."""
        query = (
            select(GatewayKey)
            .where(GatewayKey.tenant_id == tenant_id, GatewayKey.owner == owner)
            .order_by(GatewayKey.created_at.desc())
        )
        return (await self._s.scalars(query)).all()
