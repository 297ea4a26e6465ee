"""Risk control: trading states, limit overrides and the gateway symbol block list, persisted.

- ``risk_states``: a non-ACTIVE state per (level, target); deleted on resume (the audit log
  keeps the history);
- ``risk_limits``: the limit overrides a level sets, as JSON (decimals as text);
- ``risk_blocked_symbols``: the gateway-wide deny-list the stolen-key detector adds to;
- ``risk_generation``: one row bumped by every change, so a running gateway picks up another
  process's change (the CLI) by reading one number.

Revision ID: 0009_riskctl
Revises: 0008_alerts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kcgateway.store.types import UtcDateTime

revision = "0009_riskctl"
down_revision: str | None = "0008_alerts"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the four tables and the generation row."""
    op.create_table(
        "risk_states",
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("by_operator", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("level", "target", name="pk_risk_states"),
    )
    op.create_index("ix_risk_states_tenant_id", "risk_states", ["tenant_id"])
    op.create_table(
        "risk_limits",
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=True),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("by_operator", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("level", "target", name="pk_risk_limits"),
    )
    op.create_index("ix_risk_limits_tenant_id", "risk_limits", ["tenant_id"])
    op.create_table(
        "risk_blocked_symbols",
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("blocked_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", name="pk_risk_blocked_symbols"),
    )
    generation = op.create_table(
        "risk_generation",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_risk_generation"),
    )
    op.bulk_insert(generation, [{"id": 1, "generation": 0}])


def downgrade() -> None:
    """Drop them (a downgrade forgets every halt, override and blocked symbol)."""
    op.drop_table("risk_generation")
    op.drop_table("risk_blocked_symbols")
    op.drop_index("ix_risk_limits_tenant_id", table_name="risk_limits")
    op.drop_table("risk_limits")
    op.drop_index("ix_risk_states_tenant_id", table_name="risk_states")
    op.drop_table("risk_states")
