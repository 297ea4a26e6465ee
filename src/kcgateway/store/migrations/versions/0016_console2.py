"""One-time console sign-in links and equity samples (issue 18).

``console_links`` (``kcgateway console login``) keeps the SHA-256 of each link token (never
the token), the key the session it opens will carry, its deadline, and when it was used
(once). ``equity_samples`` keeps each account's marked equity over time (the equity chart).

Revision ID: 0016_console2
Revises: 0015_facade
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kcgateway.store.types import Money, UtcDateTime

revision = "0016_console2"
down_revision: str | None = "0015_facade"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the links and equity samples tables."""
    op.create_table(
        "console_links",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["key_id"], ["gateway_keys.key_id"], name="fk_console_links_key_id_gateway_keys"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_console_links"),
    )
    op.create_index("ix_console_links_key_id", "console_links", ["key_id"])
    op.create_table(
        "equity_samples",
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("equity", Money(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["exchange_accounts.id"],
            name="fk_equity_samples_account_id_exchange_accounts",
        ),
        sa.PrimaryKeyConstraint("account_id", "at", name="pk_equity_samples"),
    )


def downgrade() -> None:
    """Drop them (unused links stop working; the equity history is gone)."""
    op.drop_table("equity_samples")
    op.drop_index("ix_console_links_key_id", table_name="console_links")
    op.drop_table("console_links")
