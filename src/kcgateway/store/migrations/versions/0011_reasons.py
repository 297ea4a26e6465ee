"""Why an order was refused, kept on its intent; intents listed by time.

- ``order_intents.reason``: the refusal of a ``rejected`` or ``not_placed`` intent as JSON
  (stable code, message, field, the exchange's code and message, what to do); NULL otherwise;
- ``ix_order_intents_created_at``: the order lists page by (created_at, id).

Revision ID: 0011_reasons
Revises: 0010_onboard
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_reasons"
down_revision: str | None = "0010_onboard"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the reason column and the time index."""
    with op.batch_alter_table("order_intents") as batch:
        batch.add_column(sa.Column("reason", sa.JSON(none_as_null=True), nullable=True))
    op.create_index("ix_order_intents_created_at", "order_intents", ["created_at"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_order_intents_created_at", table_name="order_intents")
    with op.batch_alter_table("order_intents") as batch:
        batch.drop_column("reason")
