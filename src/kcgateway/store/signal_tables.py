"""Signal bots' tables: bots, sealed secrets, the signal log and queue, replay ids, positions.

The signal log is also the durable queue; the replay window remembers accepted ids 24 h.

Secrets never appear here in clear: ``bot_secrets`` holds envelopes sealed by
:mod:`kcgateway.vault.signal_secrets`, and ``bots.url_token_hash`` the SHA-256 of the
TradingView URL token (256 random bits, so a fast hash is enough).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kcgateway.store.tables import ID, Base
from kcgateway.store.types import Money, UtcDateTime


class BotRow(Base):
    """A tenant's signal bot: what it trades, how it sizes, how its signals authenticate."""

    __tablename__ = "bots"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    account_id: Mapped[str] = mapped_column(ForeignKey("exchange_accounts.id"))
    paper_account_id: Mapped[str | None] = mapped_column(ForeignKey("exchange_accounts.id"))
    symbols: Mapped[list[str]] = mapped_column(JSON)
    sizing: Mapped[str] = mapped_column(String(16))
    sizing_value: Mapped[Decimal] = mapped_column(Money())
    order_style: Mapped[str] = mapped_column(String(16))
    limit_offset_pct: Mapped[Decimal | None] = mapped_column(Money())
    limit_timeout_s: Mapped[int | None] = mapped_column(Integer)
    max_position: Mapped[Decimal] = mapped_column(Money())
    profile: Mapped[str] = mapped_column(String(16))
    url_token_hash: Mapped[str | None] = mapped_column(String(64))
    ip_allowlist: Mapped[list[str]] = mapped_column(JSON)
    mode: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class BotSecretRow(Base):
    """One sealed signal secret; several overlap while a secret rotates."""

    __tablename__ = "bot_secrets"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id"), index=True)
    kek_id: Mapped[str] = mapped_column(String(64))
    wrapped_dek: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class SignalRow(Base):
    """One signal: its log entry and, while ``queued``/``executing``, its place in the queue.

    ``seq`` orders execution per (bot, symbol); ``plan`` is written before any order is sent,
    so a restart finishes the same plan with the same clientOids (exactly once).
    """

    __tablename__ = "signals"
    __table_args__ = (Index("ix_signals_bot_id_status", "bot_id", "status"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(ID), unique=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id"))
    tenant_id: Mapped[str] = mapped_column(String(ID), index=True)
    source: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(8))
    symbol: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    orders: Mapped[list[str]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class SignalSeenRow(Base):
    """A signal id already accepted for a bot; kept 24 h to refuse replays."""

    __tablename__ = "signal_seen"

    bot_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class BotPositionRow(Base):
    """A bot's position in one symbol and mode (signed base size), moved by its own fills."""

    __tablename__ = "bot_positions"

    bot_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[Decimal] = mapped_column(Money())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
