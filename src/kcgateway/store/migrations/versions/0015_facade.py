"""KuCoin facade credentials: KuCoin-form keys issued for gateway keys, their secrets sealed.

- ``facade_credentials``: one row per issued apiKey; the secret and passphrase are sealed
  envelopes (like ``credentials``), bound to a gateway key and one exchange account.

Revision ID: 0015_facade
Revises: 0014_signals
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kcgateway.store.types import UtcDateTime

revision = "0015_facade"
down_revision: str | None = "0014_signals"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the facade credentials table."""
    op.create_table(
        "facade_credentials",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("api_key", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("envelope_version", sa.Integer(), nullable=False),
        sa.Column("alg", sa.String(32), nullable=False),
        sa.Column("kek_id", sa.String(200), nullable=False),
        sa.Column("wrapped_dek", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_fields", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_facade_credentials"),
        sa.UniqueConstraint("api_key", name="uq_facade_credentials_api_key"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_facade_credentials_tenant_id_tenants"
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["gateway_keys.key_id"], name="fk_facade_credentials_key_id_gateway_keys"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["exchange_accounts.id"],
            name="fk_facade_credentials_account_id_exchange_accounts",
        ),
    )
    op.create_index("ix_facade_credentials_tenant_id", "facade_credentials", ["tenant_id"])
    op.create_index("ix_facade_credentials_key_id", "facade_credentials", ["key_id"])
    op.create_index("ix_facade_credentials_kek_id", "facade_credentials", ["kek_id"])


def downgrade() -> None:
    """Drop the facade credentials table."""
    op.drop_table("facade_credentials")
