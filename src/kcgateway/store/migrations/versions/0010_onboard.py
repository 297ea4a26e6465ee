"""Fast API onboarding: the broker's OAuth client and the "Connect with KuCoin" attempts.

- ``fastapi_settings``: at most one row (client id, redirect URL, OAuth base URL, the transfer
  policy); nothing secret;
- ``onboarding_attempts``: one row per started attempt, keyed by its state nonce; the callback
  claims it once (a replayed callback finds it claimed); attempts that may have left a key at
  KuCoin stay flagged for the operator.

Revision ID: 0010_onboard
Revises: 0009_riskctl
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kcgateway.store.types import UtcDateTime

revision = "0010_onboard"
down_revision: str | None = "0009_riskctl"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the two tables."""
    op.create_table(
        "fastapi_settings",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("redirect_url", sa.String(500), nullable=False),
        sa.Column("base_url", sa.String(500), nullable=False),
        sa.Column("allow_transfer", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fastapi_settings"),
    )
    op.create_table(
        "onboarding_attempts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("account_name", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("api_key", sa.String(128), nullable=True),
        sa.Column("account_id", sa.String(36), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_onboarding_attempts_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_onboarding_attempts"),
    )
    op.create_index("ix_onboarding_attempts_tenant_id", "onboarding_attempts", ["tenant_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_onboarding_attempts_tenant_id", table_name="onboarding_attempts")
    op.drop_table("onboarding_attempts")
    op.drop_table("fastapi_settings")
