"""The gateway's audit trail: key events, account changes, order intents and their states.

Records are appended through the store's :class:`~kcgateway.store.ledger.AuditRepository`,
which chains them (each hash covers the previous hash and the record), inside the SAME
transaction as the change they describe: a change without its record cannot commit.

:func:`verify_chain` finds an edited record (its hash no longer matches) or a deleted one
(the next record's ``prev_hash`` no longer matches). A chain cut at its end looks intact by
itself, so operators keep the head (``kcgateway audit verify`` prints it) somewhere else and
pass it back as ``expected_head``: a truncated chain no longer contains it.

Details never hold secrets: only ids, names, scopes, symbols, sides, amounts and states.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.store.database import Database
from kcgateway.store.ledger import AuditRepository


class AuditAction(StrEnum):
    """What happened. Stable strings: they are stored."""

    KEY_CREATED = "key.created"
    KEY_REVOKED = "key.revoked"
    KEY_ROTATED = "key.rotated"
    KEY_SUSPENDED = "key.suspended"
    ACCOUNT_CONNECTED = "account.connected"
    ACCOUNT_REFUSED = "account.refused"
    ORDER_INTENT = "order.intent"
    ORDER_STATE = "order.state"
    ORDER_CANCEL = "order.cancel"
    ORDER_ADOPTED = "order.adopted"


async def record(
    session: AsyncSession,
    action: AuditAction,
    *,
    actor: str,
    subject: str,
    now: datetime,
    tenant_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one record in the caller's transaction."""
    await AuditRepository(session).append(
        actor=actor,
        action=action.value,
        subject=subject,
        now=now,
        detail=detail,
        tenant_id=tenant_id,
    )


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of a verification: ``broken_at`` is the first bad ``seq`` (None: intact)."""

    records: int
    head: str | None
    broken_at: int | None
    head_found: bool

    @property
    def ok(self) -> bool:
        """True when the chain is intact and contains the expected head (if one was given)."""
        return self.broken_at is None and self.head_found


async def verify_chain(db: Database, expected_head: str | None = None) -> ChainReport:
    """Walk the whole chain once (read-only)."""
    async with db.read() as session:
        repo = AuditRepository(session)
        broken = await repo.verify()
        rows = await repo.all()
    hashes = {r.hash for r in rows}
    head = rows[-1].hash if rows else None
    found = expected_head is None or expected_head in hashes
    return ChainReport(records=len(rows), head=head, broken_at=broken, head_found=found)
