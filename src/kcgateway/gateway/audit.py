"""The gateway's audit trail: key events, account changes, order intents and their states.

Records are appended through the store's :class:`~kcgateway.store.ledger.AuditRepository`,
which chains them (each hash is an HMAC-SHA256, under the audit key, of the previous hash and
the record; :mod:`kcgateway.store.audit_chain`), inside the SAME transaction as the change they
describe: a change without its record cannot commit.

:func:`verify_chain` finds an edited record (its hash no longer matches) or a deleted one
(the next record's ``prev_hash`` no longer matches); rehashing the rest after a deletion needs
the audit key, which is not in the database. A chain cut at its end looks intact by itself,
so operators export the head (:func:`chain_head`, ``kcgateway audit head``) somewhere else and
pass it back as ``expected_head``: a truncated or rewritten chain no longer contains it.

Details never hold secrets: only ids, names, scopes, symbols, sides, amounts and states.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.errors import ConfigError
from kcgateway.store.audit_chain import GENESIS_HASH, AuditKeys, ChainCheck, Head
from kcgateway.store.database import Database
from kcgateway.store.ledger import AuditRepository, body_of


class AuditAction(StrEnum):
    """What happened. Stable strings: they are stored."""

    KEY_CREATED = "key.created"
    KEY_REVOKED = "key.revoked"
    KEY_ROTATED = "key.rotated"
    KEY_SUSPENDED = "key.suspended"
    SUSPENSION_LIFTED = "key.unsuspended"
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
    AUDIT_KEY_ROLLED = "audit.key_rolled"
    RISK_HALTED = "risk.halted"
    RISK_RESUMED = "risk.resumed"
    RISK_STATE_SET = "risk.state_set"
    RISK_LIMITS_SET = "risk.limits_set"
    RISK_SYMBOL_BLOCKED = "risk.symbol_blocked"
    RISK_SYMBOL_UNBLOCKED = "risk.symbol_unblocked"
    ONBOARDING_CONFIGURED = "onboarding.configured"
    ONBOARDING_ENDED = "onboarding.ended"
    BROKER_MASTER_SET = "broker.master_set"
    BROKER_SUBACCOUNT_CREATED = "broker.subaccount_created"
    BOT_CREATED = "bot.created"
    BOT_CHANGED = "bot.changed"
    BOT_PROMOTED = "bot.promoted"
    BOT_SECRET_ROTATED = "bot.secret_rotated"  # noqa: S105  # pragma: allowlist secret
    BOT_DELETED = "bot.deleted"
    FACADE_ISSUED = "facade.issued"


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
    """The result of a verification: ``broken_at`` is the first bad ``seq`` (None: intact).

    ``problem`` says what is wrong with it; ``unkeyed`` counts the v1 records before the switch
    to keyed hashes and ``by_key`` the records per audit key id.
    """

    records: int
    head: str | None
    broken_at: int | None
    head_found: bool
    problem: str | None = None
    unkeyed: int = 0
    by_key: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the chain is intact and contains the expected head (if one was given)."""
        return self.broken_at is None and self.head_found


async def chain_head(db: Database) -> Head | None:
    """The newest record as an exportable :class:`Head` (None: the log is empty)."""
    async with db.read() as session:
        last = await AuditRepository(session).last()
    return None if last is None else Head(last.seq, last.hash, last.created_at)


async def switch_point(db: Database) -> str:
    """The head to record in a new audit key file: where unkeyed records end (genesis if none).

    Refused (ConfigError) when the newest record is already keyed: the audit key file that
    chained it is missing, and a new one would make every keyed record unverifiable.
    """
    async with db.read() as session:
        last = await AuditRepository(session).last()
    if last is None:
        return GENESIS_HASH
    if last.key_id is not None:
        raise ConfigError(
            f"the audit chain is already keyed (record {last.seq} is chained with {last.key_id}) "
            "but its audit key file is missing: restore it from your backup and point "
            "KCGW_AUDIT_KEY_FILE at it; a new key file cannot verify those records"
        )
    return last.hash


async def verify_chain(
    db: Database,
    expected_head: str | Head | None = None,
    *,
    keys: AuditKeys | None = None,
    batch_size: int = 5000,
    on_progress: Callable[[int, int], None] | None = None,
) -> ChainReport:
    """Walk the whole chain once (read-only), ``batch_size`` records per read.

    ``keys``: the deployment's audit keys (:func:`kcgateway.vault.audit_keys.load_audit_keys`);
    without them only an unkeyed chain verifies. ``expected_head``: an exported head (or a bare
    hash) the chain must still contain. ``on_progress(done, total)`` is called after each batch
    (for a progress bar on long chains).
    """
    wanted = Head.parse(expected_head) if isinstance(expected_head, str) else expected_head
    async with db.read() as session:
        total = await AuditRepository(session).count()
    check = ChainCheck(keys)
    found = wanted is None
    while True:
        async with db.read() as session:
            page = await AuditRepository(session).page(after_seq=check.last_seq, limit=batch_size)
        if not page:
            break
        for rec in page:
            check.receive(
                seq=rec.seq, prev_hash=rec.prev_hash, digest=rec.hash, key_id=rec.key_id,
                body=body_of(rec),
            )  # fmt: skip
            found = found or (
                wanted is not None and wanted.matches(rec.seq, rec.hash, rec.created_at)
            )
        if on_progress is not None:
            on_progress(check.records, max(total, check.records))
    check.finish()
    return ChainReport(
        records=check.records,
        head=None if check.records == 0 else check.prev,
        broken_at=check.broken_at,
        head_found=found,
        problem=check.problem,
        unkeyed=check.unkeyed,
        by_key=dict(check.by_key),
    )
