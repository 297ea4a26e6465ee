"""The gateway's event log that bots follow and resume from (``GET /v1/events``).

``gateway_events``: one row per order state change, fill, balance change and alert, with a
gateway-wide increasing id (never reused: SQLite ``AUTOINCREMENT``).

Revision ID: 0012_events
Revises: 0011_reasons
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kcgateway.store.types import UtcDateTime

revision = "0012_events"
down_revision: str | None = "0011_reasons"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the event log."""
    op.create_table(
        "gateway_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_id", sa.String(36), nullable=True),
        sa.Column("account_id", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gateway_events"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_gateway_events_tenant_id", "gateway_events", ["tenant_id"])
    op.create_index("ix_gateway_events_created_at", "gateway_events", ["created_at"])


def downgrade() -> None:
    """Drop the event log."""
    op.drop_index("ix_gateway_events_created_at", table_name="gateway_events")
    op.drop_index("ix_gateway_events_tenant_id", table_name="gateway_events")
    op.drop_table("gateway_events")
