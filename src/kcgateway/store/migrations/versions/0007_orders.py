"""An intent can be flagged for the operator: ``order_intents.attention``.

Set (with an ``order.needs_operator`` audit record) when the gateway cannot settle an intent
on its own, e.g. its account's stored credential cannot be decrypted, so an ``unknown`` intent
is not left stuck silently; cleared by the intent's next move.

Revision ID: 0007_orders
Revises: 0006_riskfeed
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_orders"
down_revision: str | None = "0006_riskfeed"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the nullable attention column."""
    op.add_column("order_intents", sa.Column("attention", sa.String(200), nullable=True))


def downgrade() -> None:
    """Drop it."""
    op.drop_column("order_intents", "attention")
