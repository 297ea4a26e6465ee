"""The gateway-wide ND broker settings: one sealed row, read by the signer, rewrapped on rotation.

The row is a :class:`~kcgateway.store.records.CredentialRecord` like any credential (its
``tenant_id`` is :data:`~kcgateway.store.records.GATEWAY_SCOPE`, its ``api_key`` the partner id,
its only sealed field the broker key), so the vault seals, opens and rewraps it with the same
code. :class:`SqlBrokerStore` satisfies the vault's ``CredentialStore`` protocol (KEK rotation
and ``vault status`` cover it) plus ``current``/``replace``/``clear``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from kcgateway.store import rewraps
from kcgateway.store.database import Database
from kcgateway.store.records import GATEWAY_SCOPE, BrokerInfo, CredentialRecord, Rewrap
from kcgateway.store.repositories import _fields_from_json, _fields_to_json
from kcgateway.store.tables import BrokerSettingRow


@dataclass(frozen=True, slots=True)
class BrokerPublic:
    """What may be shown about the broker settings (never the key)."""

    partner: str
    name: str
    kek_id: str
    updated_at: datetime


def _to_record(row: BrokerSettingRow) -> CredentialRecord:
    return CredentialRecord(
        credential_id=row.id,
        tenant_id=GATEWAY_SCOPE,
        api_key=row.partner,
        key_version=3,
        v=row.envelope_version,
        alg=row.alg,
        kek_id=row.kek_id,
        wrapped_dek=row.wrapped_dek,
        fields=_fields_from_json(row.sealed_fields),
        broker=BrokerInfo(row.partner, row.name, True),
    )


class SqlBrokerStore:
    """The broker settings row in a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def current(self) -> CredentialRecord | None:
        """The sealed broker record, or None when no broker is configured."""
        async with self._db.read() as session:
            row = await session.scalar(select(BrokerSettingRow).limit(1))
        return None if row is None else _to_record(row)

    async def public(self) -> BrokerPublic | None:
        """Partner, name, KEK id and time of the last change (None when unset)."""
        async with self._db.read() as session:
            row = await session.scalar(select(BrokerSettingRow).limit(1))
        if row is None:
            return None
        return BrokerPublic(row.partner, row.name, row.kek_id, row.updated_at)

    async def add(self, record: CredentialRecord, *, now: datetime) -> None:
        """Store ``record`` as THE broker settings, replacing any previous ones atomically."""
        if record.broker is None:
            raise ValueError("a broker settings record carries broker info")
        row = BrokerSettingRow(
            id=record.credential_id,
            partner=record.broker.partner,
            name=record.broker.name,
            envelope_version=record.v,
            alg=record.alg,
            kek_id=record.kek_id,
            wrapped_dek=record.wrapped_dek,
            sealed_fields=_fields_to_json(record.fields),
            created_at=now,
            updated_at=now,
        )
        async with self._db.write() as session:
            await session.execute(delete(BrokerSettingRow))
            session.add(row)
            await session.flush()

    async def clear(self) -> bool:
        """Delete the broker settings (the sealed key with them); False when none were set."""
        async with self._db.write() as session:
            result = await session.execute(delete(BrokerSettingRow))
        return bool(getattr(result, "rowcount", 0))

    async def get(self, credential_id: str) -> CredentialRecord:
        """The record by id (``LookupError`` when absent): the vault's source protocol."""
        async with self._db.read() as session:
            row = await session.get(BrokerSettingRow, credential_id)
        if row is None:
            raise LookupError(f"broker settings {credential_id} not found")
        return _to_record(row)

    async def not_on_kek(self, kek_id: str, *, limit: int) -> list[CredentialRecord]:
        """The broker record when another KEK wraps it (KEK rotation)."""
        query = select(BrokerSettingRow).where(BrokerSettingRow.kek_id != kek_id).limit(limit)
        async with self._db.read() as session:
            return [_to_record(row) for row in (await session.scalars(query)).all()]

    async def apply_rewraps(self, changes: Sequence[Rewrap], *, now: datetime) -> int:
        """Compare-and-set each rewrap, like the credentials table."""
        return await rewraps.apply_rewraps(
            self._db, BrokerSettingRow, changes, also={"updated_at": now}
        )

    async def count_by_kek(self) -> dict[str, int]:
        """How many broker records (0 or 1) each KEK wraps."""
        return await rewraps.count_by_kek(self._db, BrokerSettingRow)
