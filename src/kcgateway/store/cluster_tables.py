"""Cluster tables: the live gateway instances and the per-account leases they hold.

- ``gateway_instances``: one row per running instance, heartbeated every few seconds; an
  instance whose heartbeat is older than 15 s counts as gone.
- ``account_leases``: which instance owns an exchange account's private stream, reconciliation
  and stray scan, until ``expires_at``. ``epoch`` grows by one on every take: each write made on
  behalf of a lease names its epoch and is refused once another instance took the lease
  (``gateway/cluster/leases.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from kcgateway.store.tables import Base
from kcgateway.store.types import UtcDateTime

#: instance ids are operator-chosen names (host names by default)
INSTANCE_ID = 200


class GatewayInstanceRow(Base):
    """One running gateway instance (``kcgateway serve --instance-id``)."""

    __tablename__ = "gateway_instances"

    instance_id: Mapped[str] = mapped_column(String(INSTANCE_ID), primary_key=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    stopping: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AccountLeaseRow(Base):
    """Which instance owns one exchange account's background work, and under which epoch."""

    __tablename__ = "account_leases"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("exchange_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    owner_instance_id: Mapped[str] = mapped_column(String(INSTANCE_ID), index=True)
    epoch: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
