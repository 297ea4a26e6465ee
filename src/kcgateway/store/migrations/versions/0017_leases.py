"""Cluster membership and fenced account leases (several instances on one database).

- ``gateway_instances``: each running instance and its heartbeat;
- ``account_leases``: the instance owning each account's stream, reconciliation and stray scan,
  with an epoch that grows on every take (the fencing token).

Revision ID: 0017_leases
Revises: 0015_facade
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kcgateway.store.types import UtcDateTime

revision = "0017_leases"
down_revision: str | None = "0016_console2"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the instances and leases tables."""
    op.create_table(
        "gateway_instances",
        sa.Column("instance_id", sa.String(200), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("heartbeat_at", UtcDateTime(), nullable=False),
        sa.Column("stopping", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("instance_id", name="pk_gateway_instances"),
    )
    op.create_index("ix_gateway_instances_heartbeat_at", "gateway_instances", ["heartbeat_at"])
    op.create_table(
        "account_leases",
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("owner_instance_id", sa.String(200), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_account_leases"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["exchange_accounts.id"],
            name="fk_account_leases_account_id_exchange_accounts",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_account_leases_owner_instance_id", "account_leases", ["owner_instance_id"])


def downgrade() -> None:
    """Drop the instances and leases tables."""
    op.drop_table("account_leases")
    op.drop_table("gateway_instances")
