"""KEK rotation over the sealed rows that are not exchange credentials (broker, facade).

Each table's row is rewrapped by compare-and-set: the update applies only while the row still
holds the KEK id and wrapped data key the rotation read, so a concurrent rewrap or re-seal is
never overwritten (the same rule as ``CredentialRepository.rewrap``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, update

from kcgateway.store.database import Database
from kcgateway.store.records import Rewrap
from kcgateway.store.tables import BrokerSettingRow, FacadeCredentialRow

#: the sealed tables rotated through this module
SealedRow = type[BrokerSettingRow] | type[FacadeCredentialRow]


async def apply_rewraps(
    db: Database,
    row: SealedRow,
    changes: Sequence[Rewrap],
    *,
    also: Mapping[str, Any] | None = None,
) -> int:
    """Compare-and-set each rewrap in one transaction (``also``: more columns to set)."""
    done = 0
    async with db.write() as session:
        for change in changes:
            result = await session.execute(
                update(row)
                .where(
                    row.id == change.credential_id,
                    row.kek_id == change.old_kek_id,
                    row.wrapped_dek == change.old_wrapped_dek,
                )
                .values(
                    kek_id=change.new_kek_id, wrapped_dek=change.new_wrapped_dek, **(also or {})
                )
            )
            done += int(getattr(result, "rowcount", 0) == 1)
    return done


async def count_by_kek(db: Database, row: SealedRow) -> dict[str, int]:
    """How many rows of the table each KEK wraps."""
    query = select(row.kek_id, func.count()).group_by(row.kek_id)
    async with db.read() as session:
        return {str(k): int(n) for k, n in (await session.execute(query)).all()}
