"""Removed accounts keep their history; the gateway-wide broker settings are sealed in one row.

- ``exchange_accounts.removed_at``: `kcgateway accounts remove` / ``DELETE /v1/accounts/{id}``
  deletes the account's sealed credential (crypto-shredding) but keeps the account row, so its
  order intents (which reference it) and their audit records stay intact.
- ``broker_settings``: the ND broker's partner id and name in clear, the broker key sealed by the
  vault exactly like a credential field (own data key, wrapped by the KEK).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kcgateway.store.types import UtcDateTime

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the removal time and the broker settings table."""
    # plain ALTER TABLE (SQLite >= 3.35 has ADD/DROP COLUMN): a batch copy would have to drop
    # exchange_accounts, which the intents and credentials reference
    op.add_column("exchange_accounts", sa.Column("removed_at", UtcDateTime(), nullable=True))
    op.create_table(
        "broker_settings",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("partner", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("envelope_version", sa.Integer(), nullable=False),
        sa.Column("alg", sa.String(32), nullable=False),
        sa.Column("kek_id", sa.String(200), nullable=False),
        sa.Column("wrapped_dek", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_fields", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_broker_settings"),
    )


def downgrade() -> None:
    """Drop both (a downgrade forgets the broker settings and which accounts were removed)."""
    op.drop_table("broker_settings")
    op.drop_column("exchange_accounts", "removed_at")
