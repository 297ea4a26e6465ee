"""Authentication suspensions are persisted: they survive a restart and are listed and lifted.

- ``auth_suspensions``: one row per suspended subject, ``ip:<address>`` (every request from that
  address is refused) or ``key:<key id>@<address>`` (recorded and alerted; a correct secret is
  never refused because of it). Deleted when an operator lifts it (the lift is audited).

Revision ID: 0004_keys
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kcgateway.store.types import UtcDateTime

revision = "0004_keys"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the suspensions table."""
    op.create_table(
        "auth_suspensions",
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("tenant_id", sa.String(36), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("suspended_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subject", name="pk_auth_suspensions"),
    )
    op.create_index("ix_auth_suspensions_tenant_id", "auth_suspensions", ["tenant_id"])


def downgrade() -> None:
    """Drop it (a downgrade forgets every suspension)."""
    op.drop_index("ix_auth_suspensions_tenant_id", table_name="auth_suspensions")
    op.drop_table("auth_suspensions")
