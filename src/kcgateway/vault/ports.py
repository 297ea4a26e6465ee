"""What the vault needs from persistence, as protocols (the store satisfies them structurally)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from kcgateway.store.records import CredentialRecord, Rewrap


class CredentialSource(Protocol):
    """Where the signer reads sealed credentials from."""

    async def get(self, credential_id: str) -> CredentialRecord:
        """The sealed record (``LookupError`` when absent)."""
        ...


class CredentialStore(CredentialSource, Protocol):
    """Sealed credential persistence: add, read, and rewrap in batches."""

    async def add(self, record: CredentialRecord, *, now: datetime) -> None:
        """Insert one sealed record."""
        ...

    async def not_on_kek(self, kek_id: str, *, limit: int) -> list[CredentialRecord]:
        """Up to ``limit`` records wrapped by a KEK other than ``kek_id``."""
        ...

    async def apply_rewraps(self, changes: Sequence[Rewrap], *, now: datetime) -> int:
        """Apply the changes in one transaction (each only if its row is unchanged)."""
        ...

    async def count_by_kek(self) -> dict[str, int]:
        """How many records each KEK wraps."""
        ...
