"""Signal bots: bots, their sealed secrets, the signal log and queue, replay ids, positions.

Revision ID: 0014_signals
Revises: 0013_console
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kcgateway.store.types import Money, UtcDateTime

revision = "0014_signals"
down_revision: str | None = "0013_console"
branch_labels: str | None = None
depends_on: str | None = None


def _bots() -> None:
    op.create_table(
        "bots",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("paper_account_id", sa.String(36), nullable=True),
        sa.Column("symbols", sa.JSON(), nullable=False),
        sa.Column("sizing", sa.String(16), nullable=False),
        sa.Column("sizing_value", Money(), nullable=False),
        sa.Column("order_style", sa.String(16), nullable=False),
        sa.Column("limit_offset_pct", Money(), nullable=True),
        sa.Column("limit_timeout_s", sa.Integer(), nullable=True),
        sa.Column("max_position", Money(), nullable=False),
        sa.Column("profile", sa.String(16), nullable=False),
        sa.Column("url_token_hash", sa.String(64), nullable=True),
        sa.Column("ip_allowlist", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_bots_tenant_id_tenants"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["exchange_accounts.id"], name="fk_bots_account_id_exchange_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["paper_account_id"],
            ["exchange_accounts.id"],
            name="fk_bots_paper_account_id_exchange_accounts",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_bots"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_bots_tenant_id_name"),
    )
    op.create_index("ix_bots_tenant_id", "bots", ["tenant_id"])
    op.create_table(
        "bot_secrets",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("bot_id", sa.String(36), nullable=False),
        sa.Column("kek_id", sa.String(64), nullable=False),
        sa.Column("wrapped_dek", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"], name="fk_bot_secrets_bot_id_bots"),
        sa.PrimaryKeyConstraint("id", name="pk_bot_secrets"),
    )
    op.create_index("ix_bot_secrets_bot_id", "bot_secrets", ["bot_id"])


def _signals() -> None:
    op.create_table(
        "signals",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("bot_id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=True),
        sa.Column("action", sa.String(16), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("orders", sa.JSON(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"], name="fk_signals_bot_id_bots"),
        sa.PrimaryKeyConstraint("seq", name="pk_signals"),
        sa.UniqueConstraint("id", name="uq_signals_id"),
    )
    op.create_index("ix_signals_bot_id_status", "signals", ["bot_id", "status"])
    op.create_index("ix_signals_tenant_id", "signals", ["tenant_id"])
    op.create_table(
        "signal_seen",
        sa.Column("bot_id", sa.String(36), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("seen_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("bot_id", "message_id", name="pk_signal_seen"),
    )
    op.create_index("ix_signal_seen_seen_at", "signal_seen", ["seen_at"])
    op.create_table(
        "bot_positions",
        sa.Column("bot_id", sa.String(36), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("size", Money(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("bot_id", "mode", "symbol", name="pk_bot_positions"),
    )


def upgrade() -> None:
    """Add the five tables."""
    _bots()
    _signals()


def downgrade() -> None:
    """Drop them (a downgrade forgets every bot, its secrets and its signal log)."""
    op.drop_table("bot_positions")
    op.drop_index("ix_signal_seen_seen_at", table_name="signal_seen")
    op.drop_table("signal_seen")
    op.drop_index("ix_signals_tenant_id", table_name="signals")
    op.drop_index("ix_signals_bot_id_status", table_name="signals")
    op.drop_table("signals")
    op.drop_index("ix_bot_secrets_bot_id", table_name="bot_secrets")
    op.drop_table("bot_secrets")
    op.drop_index("ix_bots_tenant_id", table_name="bots")
    op.drop_table("bots")
