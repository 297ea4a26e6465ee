"""Column types and identifiers shared by the tables: exact money, UTC timestamps, order states.

``Money`` is ``NUMERIC(38, 18)`` on PostgreSQL. SQLite has no exact decimal type (its NUMERIC
affinity stores a float), so there the canonical decimal string is stored instead: a value read
back is always the exact :class:`~decimal.Decimal` that was written, on both engines.

``UtcDateTime`` accepts only timezone-aware datetimes and always returns UTC-aware ones (SQLite
would otherwise hand back naive values).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NewType

from sqlalchemy import DateTime, Dialect, Numeric, String, TypeDecorator
from sqlalchemy.types import TypeEngine

TenantId = NewType("TenantId", str)
AccountId = NewType("AccountId", str)
CredentialId = NewType("CredentialId", str)
IntentId = NewType("IntentId", str)


class OrderState(enum.StrEnum):
    """Order intent life cycle (SECURITY.md section 3).

    ``received -> risk_ok -> persisted -> sent -> {acked | unknown} ->
    {open | filled | cancelled | rejected | not_placed}``
    """

    RECEIVED = "received"
    RISK_OK = "risk_ok"
    PERSISTED = "persisted"
    SENT = "sent"
    ACKED = "acked"
    UNKNOWN = "unknown"
    OPEN = "open"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    NOT_PLACED = "not_placed"


class Money(TypeDecorator[Decimal]):
    """An exact decimal: NUMERIC(38, 18) where the engine has it, canonical text on SQLite."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Text on SQLite (exact), NUMERIC(38, 18) elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(38, 18, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> object:
        """Refuse floats; store text on SQLite."""
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money must be a Decimal, not {type(value).__name__}")
        if not value.is_finite():
            raise ValueError("money must be finite")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: object, dialect: Dialect) -> Decimal | None:
        """Always a Decimal (or None)."""
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value
        return Decimal(str(value))


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every engine."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC (naive on SQLite, which has no zone)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return UTC-aware datetimes."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
