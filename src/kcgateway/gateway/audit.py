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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.store.database import Database
from kcgateway.store.ledger import GENESIS_HASH, AuditRepository, links


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
    ORDER_NEEDS_OPERATOR = "order.needs_operator"
    ACCOUNT_REMOVED = "account.removed"
    TENANT_CREATED = "tenant.created"
    BROKER_SET = "broker.set"
    BROKER_CLEARED = "broker.cleared"


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


async def verify_chain(
    db: Database,
    expected_head: str | None = None,
    *,
    batch_size: int = 5000,
    on_progress: Callable[[int, int], None] | None = None,
) -> ChainReport:
    """Walk the whole chain once (read-only), ``batch_size`` records per read.

    ``on_progress(done, total)`` is called after each batch (for a progress bar on long chains).
    """
    async with db.read() as session:
        total = await AuditRepository(session).count()
    prev, last_seq, records = GENESIS_HASH, 0, 0
    broken: int | None = None
    found = expected_head is None
    while True:
        async with db.read() as session:
            page = await AuditRepository(session).page(after_seq=last_seq, limit=batch_size)
        if not page:
            break
        for rec in page:
            if broken is None and not links(rec, prev):
                broken = rec.seq
            found = found or rec.hash == expected_head
            prev, last_seq = rec.hash, rec.seq
        records += len(page)
        if on_progress is not None:
            on_progress(records, max(total, records))
    head = None if records == 0 else prev
    return ChainReport(records=records, head=head, broken_at=broken, head_found=found)
