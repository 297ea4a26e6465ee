"""Fast API onboarding: the broker's OAuth client and the "Connect with KuCoin" attempts.

- ``fastapi_settings``: at most one row (client id, redirect URL, OAuth base URL, the transfer
  policy); nothing secret;
- ``nd_broker_master`` (one row: the connected account that is the ND broker's master) and
  ``nd_subaccounts`` (tenant accounts living in sub-accounts the gateway created);
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
    """Add the tables."""
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
    _nd_tables()


def _nd_tables() -> None:
    op.create_table(
        "nd_broker_master",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["exchange_accounts.id"],
            name="fk_nd_broker_master_account_id_exchange_accounts",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_nd_broker_master"),
    )  # fmt: skip
    op.create_table(
        "nd_subaccounts",
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("uid", sa.String(64), nullable=False),
        sa.Column("kucoin_name", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["exchange_accounts.id"],
            name="fk_nd_subaccounts_account_id_exchange_accounts",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_nd_subaccounts_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("account_id", name="pk_nd_subaccounts"),
    )  # fmt: skip
    op.create_index("ix_nd_subaccounts_tenant_id", "nd_subaccounts", ["tenant_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_nd_subaccounts_tenant_id", table_name="nd_subaccounts")
    op.drop_table("nd_subaccounts")
    op.drop_table("nd_broker_master")
    op.drop_index("ix_onboarding_attempts_tenant_id", table_name="onboarding_attempts")
    op.drop_table("onboarding_attempts")
    op.drop_table("fastapi_settings")
