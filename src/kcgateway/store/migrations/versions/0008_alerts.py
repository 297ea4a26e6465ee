"""Alerts, their webhook deliveries (retry state that survives a restart) and the webhook.

- ``alerts``: kind, severity, subjects, summary and evidence of each alert (tenant or
  gateway-wide);
- ``alert_deliveries``: per alert, the webhook delivery's state (pending, delivered, dead),
  attempt count, next attempt time and last error;
- ``alert_webhook``: the operator's webhook URL and the path of its 0600 secret file (the
  secret is never stored in the database).

Revision ID: 0008_alerts
Revises: 0007_orders
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kcgateway.store.types import UtcDateTime

revision = "0008_alerts"
down_revision: str | None = "0007_orders"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the three tables."""
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_tenant_id", "alerts", ["tenant_id"])
    op.create_index("ix_alerts_kind", "alerts", ["kind"])
    op.create_index("ix_alerts_created_at", "alerts", ["created_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("alert_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_alert_deliveries_alert_id_alerts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alert_deliveries"),
    )
    op.create_index("ix_alert_deliveries_alert_id", "alert_deliveries", ["alert_id"])
    op.create_index("ix_alert_deliveries_state", "alert_deliveries", ["state"])
    op.create_table(
        "alert_webhook",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret_path", sa.String(1000), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_webhook"),
    )


def downgrade() -> None:
    """Drop the three tables (the alert history goes with them)."""
    op.drop_table("alert_webhook")
    op.drop_index("ix_alert_deliveries_state", "alert_deliveries")
    op.drop_index("ix_alert_deliveries_alert_id", "alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index("ix_alerts_created_at", "alerts")
    op.drop_index("ix_alerts_kind", "alerts")
    op.drop_index("ix_alerts_tenant_id", "alerts")
    op.drop_table("alerts")
