"""The vault's view of the store: sealed credentials in, sealed credentials out.

:class:`SqlCredentialStore` satisfies :class:`kcgateway.vault.ports.CredentialStore` structurally
(the store never imports the vault). Each method opens its own short session on the
:class:`~kcgateway.store.database.Database` it was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from kcgateway.store.database import Database
from kcgateway.store.records import CredentialRecord, Rewrap
from kcgateway.store.repositories import CredentialRepository


class SqlCredentialStore:
    """Sealed credentials in a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, record: CredentialRecord, *, now: datetime) -> None:
        """Insert one sealed credential."""
        async with self._db.write() as session:
            await CredentialRepository(session).add(record, now=now)

    async def get(self, credential_id: str) -> CredentialRecord:
        """One sealed credential (``LookupError`` when absent)."""
        async with self._db.read() as session:
            return await CredentialRepository(session).get(credential_id)

    async def not_on_kek(self, kek_id: str, *, limit: int) -> list[CredentialRecord]:
        """Up to ``limit`` credentials still wrapped by another KEK."""
        async with self._db.read() as session:
            return await CredentialRepository(session).not_on_kek(kek_id, limit=limit)

    async def apply_rewraps(self, changes: Sequence[Rewrap], *, now: datetime) -> int:
        """Apply a batch of rewraps in one transaction; returns how many rows changed."""
        async with self._db.write() as session:
            repo = CredentialRepository(session)
            done = 0
            for change in changes:
                done += await repo.rewrap(change, now=now)
            return done

    async def count_by_kek(self) -> dict[str, int]:
        """How many credentials each KEK wraps."""
        async with self._db.read() as session:
            return await CredentialRepository(session).count_by_kek()
