"""Facade credentials in the database: sealed records, looked up by apiKey, rewrapped on rotation.

A row is a :class:`~kcgateway.store.records.CredentialRecord` for the vault (its only sealed
fields the facade secret and passphrase), so KEK rotation and ``vault status`` cover it with the
same code as exchange credentials: :class:`SqlFacadeStore` satisfies the vault's
``CredentialStore`` protocol. Issuing and revoking are the gateway's (``gateway/facade``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.store import rewraps
from kcgateway.store.database import Database
from kcgateway.store.fastsql import Prepared, Runner
from kcgateway.store.records import CredentialRecord, Rewrap
from kcgateway.store.repositories import _fields_from_json, _fields_to_json
from kcgateway.store.tables import FacadeCredentialRow

_ROWS = cast(Table, FacadeCredentialRow.__table__)
_BY_API_KEY = Prepared(
    select(_ROWS).where(_ROWS.c.api_key == bindparam("api_key", type_=_ROWS.c.api_key.type))
)


async def facade_by_api_key(ex: Runner, api_key: str) -> FacadeCredentialRow | None:
    """The row of an apiKey in one prebuilt statement (the per-request authentication)."""
    rows = await ex.rows(_BY_API_KEY, {"api_key": api_key})
    return FacadeCredentialRow(**rows[0]) if rows else None


def facade_record(row: FacadeCredentialRow) -> CredentialRecord:
    """The sealed record of a row (what the vault's verifier opens)."""
    return CredentialRecord(
        credential_id=row.id,
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        api_key=row.api_key,
        key_version=3,
        v=row.envelope_version,
        alg=row.alg,
        kek_id=row.kek_id,
        wrapped_dek=row.wrapped_dek,
        fields=_fields_from_json(row.sealed_fields),
    )


def facade_row(record: CredentialRecord, *, key_id: str, now: datetime) -> FacadeCredentialRow:
    """A new row for a sealed record (``record.account_id`` is the bound account)."""
    if record.account_id is None:
        raise ValueError("a facade credential is bound to one account")
    return FacadeCredentialRow(
        id=record.credential_id,
        api_key=record.api_key,
        tenant_id=record.tenant_id,
        key_id=key_id,
        account_id=record.account_id,
        envelope_version=record.v,
        alg=record.alg,
        kek_id=record.kek_id,
        wrapped_dek=record.wrapped_dek,
        sealed_fields=_fields_to_json(record.fields),
        created_at=now,
    )


async def revoke_for_key(session: AsyncSession, key_id: str, *, now: datetime) -> list[str]:
    """Revoke every live facade credential of a gateway key; their apiKeys (for the audit)."""
    live = FacadeCredentialRow.key_id == key_id, FacadeCredentialRow.revoked_at.is_(None)
    api_keys = list((await session.scalars(select(FacadeCredentialRow.api_key).where(*live))).all())
    if api_keys:
        await session.execute(update(FacadeCredentialRow).where(*live).values(revoked_at=now))
    return api_keys


class SqlFacadeStore:
    """The facade credentials as the vault's ``CredentialStore`` (KEK rotation, status)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, credential_id: str) -> CredentialRecord:
        """The record by id (``LookupError`` when absent)."""
        async with self._db.read() as session:
            row = await session.get(FacadeCredentialRow, credential_id)
        if row is None:
            raise LookupError(f"facade credential {credential_id} not found")
        return facade_record(row)

    async def add(self, record: CredentialRecord, *, now: datetime) -> None:
        """Not used: facade credentials are issued by the gateway with their key id."""
        raise NotImplementedError("facade credentials are added by the gateway's facade service")

    async def not_on_kek(self, kek_id: str, *, limit: int) -> list[CredentialRecord]:
        """Up to ``limit`` records wrapped by another KEK (oldest first)."""
        query = (
            select(FacadeCredentialRow)
            .where(FacadeCredentialRow.kek_id != kek_id)
            .order_by(FacadeCredentialRow.created_at, FacadeCredentialRow.id)
            .limit(limit)
        )
        async with self._db.read() as session:
            return [facade_record(row) for row in (await session.scalars(query)).all()]

    async def apply_rewraps(self, changes: Sequence[Rewrap], *, now: datetime) -> int:
        """Compare-and-set each rewrap, like the credentials table."""
        return await rewraps.apply_rewraps(self._db, FacadeCredentialRow, changes)

    async def count_by_kek(self) -> dict[str, int]:
        """How many facade records each KEK wraps."""
        return await rewraps.count_by_kek(self._db, FacadeCredentialRow)
