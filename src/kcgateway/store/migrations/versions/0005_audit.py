"""Audit records carry the id of the audit key that chained them (NULL: an unkeyed v1 record).

Existing records keep their plain SHA-256 links and ``key_id`` NULL; they still verify, as the
prefix that ends at the switch point the audit key file records (``legacy_head``, see
``kcgateway.store.audit_chain``). Every record after it is an HMAC under an audit key.

Revision ID: 0005_audit
Revises: 0004_keys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_audit"
down_revision: str | None = "0004_keys"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the nullable key id (a plain ADD COLUMN on both engines)."""
    op.add_column("audit_records", sa.Column("key_id", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop it (keyed records then no longer verify: their key ids are gone)."""
    with op.batch_alter_table("audit_records") as batch:
        batch.drop_column("key_id")
