"""Alerts, their webhook deliveries and the webhook setting in a :class:`Database`.

The delivery rows carry the whole retry state (attempts, next attempt time, last error), so a
gateway that restarts resumes each pending delivery where the previous process left it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update

from kcgateway.store.database import Database
from kcgateway.store.event_log import NewEvent, append_events
from kcgateway.store.fastsql import CoreRunner
from kcgateway.store.tables import AlertDeliveryRow, AlertRow, AlertWebhookRow

WEBHOOK_ROW = "default"


class DeliveryState(enum.StrEnum):
    """A delivery's life: pending (retried with backoff) -> delivered | dead (a dead letter)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """Where one alert's webhook delivery stands."""

    id: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class AlertView:
    """One stored alert and its delivery (None when no webhook was configured)."""

    id: str
    tenant_id: str | None
    kind: str
    severity: str
    subjects: tuple[str, ...]
    summary: str
    evidence: dict[str, Any]
    created_at: datetime
    delivery: DeliveryView | None


@dataclass(frozen=True, slots=True)
class WebhookSetting:
    """The operator's webhook: its URL and the path of the 0600 file holding its secret."""

    url: str
    secret_path: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts to list: a tenant's (plus gateway-wide ones when ``gateway``), newest first.

    ``tenant_id`` None with ``gateway`` True lists every alert (the operator's CLI).
    """

    tenant_id: str | None = None
    gateway: bool = True
    kind: str | None = None
    since: datetime | None = None
    state: DeliveryState | None = None
    limit: int = 100
    until: datetime | None = None
    #: keyset paging: only alerts older than this ``(created_at, id)``
    after: tuple[datetime, str] | None = None


def _delivery(row: AlertDeliveryRow | None) -> DeliveryView | None:
    if row is None:
        return None
    return DeliveryView(
        row.id,
        DeliveryState(row.state),
        row.attempts,
        row.next_attempt_at,
        row.last_error,
        row.delivered_at,
    )


def _view(alert: AlertRow, delivery: AlertDeliveryRow | None) -> AlertView:
    return AlertView(
        alert.id,
        alert.tenant_id,
        alert.kind,
        alert.severity,
        tuple(alert.subjects),
        alert.summary,
        dict(alert.evidence),
        alert.created_at,
        _delivery(delivery),
    )


def _joined() -> Any:  # Select[AlertRow, AlertDeliveryRow | None], spelt per SQLAlchemy version
    return select(AlertRow, AlertDeliveryRow).outerjoin(
        AlertDeliveryRow, AlertDeliveryRow.alert_id == AlertRow.id
    )


def _filtered(query: Any, f: AlertFilter) -> Any:
    if f.tenant_id is not None:
        mine = AlertRow.tenant_id == f.tenant_id
        query = query.where(or_(mine, AlertRow.tenant_id.is_(None)) if f.gateway else mine)
    elif not f.gateway:
        query = query.where(AlertRow.tenant_id.is_not(None))
    if f.kind is not None:
        query = query.where(AlertRow.kind == f.kind)
    if f.since is not None:
        query = query.where(AlertRow.created_at >= f.since)
    if f.until is not None:
        query = query.where(AlertRow.created_at < f.until)
    if f.after is not None:
        at, ident = f.after
        older = AlertRow.created_at < at
        query = query.where(or_(older, and_(AlertRow.created_at == at, AlertRow.id < ident)))
    if f.state is not None:
        query = query.where(AlertDeliveryRow.state == f.state.value)
    return query


class SqlAlertStore:
    """The alert tables of one database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        alert: AlertView,
        *,
        delivery_id: str | None,
        now: datetime,
        events: Sequence[NewEvent] = (),
    ) -> None:
        """Store ``alert`` and, with ``delivery_id``, its pending delivery due at ``now``.

        ``events``: appended to the event log in the same transaction.
        """
        async with self._db.write() as session:
            await append_events(CoreRunner(session), events, now=now)
            session.add(
                AlertRow(
                    id=alert.id,
                    tenant_id=alert.tenant_id,
                    kind=alert.kind,
                    severity=alert.severity,
                    subjects=list(alert.subjects),
                    summary=alert.summary,
                    evidence=alert.evidence,
                    created_at=alert.created_at,
                )
            )
            await session.flush()
            if delivery_id is not None:
                session.add(
                    AlertDeliveryRow(
                        id=delivery_id,
                        alert_id=alert.id,
                        state=DeliveryState.PENDING.value,
                        attempts=0,
                        next_attempt_at=now,
                        last_error=None,
                        created_at=now,
                        updated_at=now,
                        delivered_at=None,
                    )
                )

    async def find(self, f: AlertFilter) -> list[AlertView]:
        """The alerts ``f`` selects, newest first."""
        query = _filtered(_joined(), f)
        query = query.order_by(AlertRow.created_at.desc(), AlertRow.id.desc()).limit(f.limit)
        async with self._db.read() as session:
            rows = (await session.execute(query)).all()
        return [_view(row[0], row[1]) for row in rows]

    async def due(self, now: datetime, *, limit: int) -> list[AlertView]:
        """Alerts whose pending delivery is due at ``now``, the longest waiting first."""
        query = (
            _joined()
            .where(
                AlertDeliveryRow.state == DeliveryState.PENDING.value,
                AlertDeliveryRow.next_attempt_at <= now,
            )
            .order_by(AlertDeliveryRow.next_attempt_at, AlertDeliveryRow.id)
            .limit(limit)
        )
        async with self._db.read() as session:
            rows = (await session.execute(query)).all()
        return [_view(row[0], row[1]) for row in rows]

    async def next_due(self) -> datetime | None:
        """When the earliest pending delivery is due (None: nothing pending)."""
        query = select(func.min(AlertDeliveryRow.next_attempt_at)).where(
            AlertDeliveryRow.state == DeliveryState.PENDING.value
        )
        async with self._db.read() as session:
            found: datetime | None = await session.scalar(query)
        return found

    async def record(self, view: DeliveryView, *, now: datetime) -> None:
        """Persist the outcome of an attempt (only while the delivery is still pending)."""
        async with self._db.write() as session:
            await session.execute(
                update(AlertDeliveryRow)
                .where(
                    AlertDeliveryRow.id == view.id,
                    AlertDeliveryRow.state == DeliveryState.PENDING.value,
                )
                .values(
                    state=view.state.value,
                    attempts=view.attempts,
                    next_attempt_at=view.next_attempt_at,
                    last_error=view.last_error,
                    delivered_at=view.delivered_at,
                    updated_at=now,
                )
            )

    async def requeue_dead(
        self, now: datetime, alert_ids: Sequence[str] = (), *, which: AlertFilter | None = None
    ) -> int:
        """Move dead deliveries back to pending, due now.

        All of them, or those of ``alert_ids``; with ``which``, only of the alerts its tenant
        and gateway fields select (its other fields are ignored).
        """
        query = update(AlertDeliveryRow).where(AlertDeliveryRow.state == DeliveryState.DEAD.value)
        if alert_ids:
            query = query.where(AlertDeliveryRow.alert_id.in_(list(alert_ids)))
        if which is not None:
            scope = AlertFilter(tenant_id=which.tenant_id, gateway=which.gateway)
            visible = _filtered(select(AlertRow.id), scope)
            query = query.where(AlertDeliveryRow.alert_id.in_(visible.scalar_subquery()))
        query = query.values(
            state=DeliveryState.PENDING.value, attempts=0, next_attempt_at=now, updated_at=now
        )
        async with self._db.write() as session:
            result = await session.execute(query)
        return int(getattr(result, "rowcount", 0))

    async def count_by_state(self) -> dict[str, int]:
        """How many deliveries are in each state."""
        query = select(AlertDeliveryRow.state, func.count()).group_by(AlertDeliveryRow.state)
        async with self._db.read() as session:
            return {str(s): int(n) for s, n in (await session.execute(query)).all()}

    async def webhook(self) -> WebhookSetting | None:
        """The configured webhook, or None."""
        async with self._db.read() as session:
            row = await session.get(AlertWebhookRow, WEBHOOK_ROW)
        return None if row is None else WebhookSetting(row.url, row.secret_path, row.updated_at)

    async def set_webhook(self, url: str, secret_path: str, *, now: datetime) -> WebhookSetting:
        """Replace the webhook setting."""
        async with self._db.write() as session:
            await session.execute(delete(AlertWebhookRow))
            session.add(
                AlertWebhookRow(id=WEBHOOK_ROW, url=url, secret_path=secret_path, updated_at=now)
            )
        return WebhookSetting(url, secret_path, now)

    async def clear_webhook(self) -> bool:
        """Remove the webhook setting; False when none was set."""
        async with self._db.write() as session:
            result = await session.execute(delete(AlertWebhookRow))
        return bool(getattr(result, "rowcount", 0))
