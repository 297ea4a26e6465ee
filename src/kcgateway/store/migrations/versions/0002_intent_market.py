"""Order intents carry their market (spot | margin | futures) and that market's terms.

Existing rows stay spot: ``market`` defaults to ``spot`` and the flags to false.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kcgateway.store.types import Money

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

FLAGS = ("reduce_only", "close_order", "auto_borrow", "auto_repay")


def upgrade() -> None:
    """Add the market and its terms; existing rows become spot with every flag false."""
    with op.batch_alter_table("order_intents") as batch:
        batch.add_column(sa.Column("market", sa.String(8), nullable=False, server_default="spot"))
        batch.add_column(sa.Column("margin_mode", sa.String(16), nullable=True))
        batch.add_column(sa.Column("leverage", Money(), nullable=True))
        for flag in FLAGS:
            batch.add_column(
                sa.Column(flag, sa.Boolean(), nullable=False, server_default=sa.false())
            )


def downgrade() -> None:
    """Drop the market columns again."""
    with op.batch_alter_table("order_intents") as batch:
        for column in ("market", "margin_mode", "leverage", *FLAGS):
            batch.drop_column(column)
