"""The risk engine keeps each account's peak and start-of-day equity across restarts.

- ``risk_equity_marks``: one row per account (peak equity and when it was reached, the UTC day
  and the equity at its start). Without it a restart would reset the drawdown check: the peak
  would start again at the current (possibly already fallen) equity.

Revision ID: 0006_riskfeed
Revises: 0005_audit
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kcgateway.store.types import Money, UtcDateTime

revision = "0006_riskfeed"
down_revision: str | None = "0005_audit"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the equity marks table."""
    op.create_table(
        "risk_equity_marks",
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("peak_equity", Money(), nullable=False),
        sa.Column("peak_at", UtcDateTime(), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("day_start_equity", Money(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["exchange_accounts.id"],
            name="fk_risk_equity_marks_account_id_exchange_accounts",
        ),
        sa.PrimaryKeyConstraint("account_id", name="pk_risk_equity_marks"),
    )


def downgrade() -> None:
    """Drop it (the next start takes the current equity as the peak)."""
    op.drop_table("risk_equity_marks")
