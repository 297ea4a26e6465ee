"""Web console sessions (issue 18): a gateway key exchanged for a server-side session.

``console_sessions`` keeps the SHA-256 of each session token (never the token), the key it
was opened with, and its idle and absolute deadlines; sign-out sets ``revoked_at``.

Revision ID: 0013_console
Revises: 0012_events
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kcgateway.store.types import UtcDateTime

revision = "0013_console"
down_revision: str | None = "0012_events"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the sessions table."""
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_console_sessions_tenant_id_tenants"
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["gateway_keys.key_id"], name="fk_console_sessions_key_id_gateway_keys"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_console_sessions"),
    )
    op.create_index("ix_console_sessions_tenant_id", "console_sessions", ["tenant_id"])
    op.create_index("ix_console_sessions_key_id", "console_sessions", ["key_id"])


def downgrade() -> None:
    """Drop it (every console session ends)."""
    op.drop_index("ix_console_sessions_key_id", table_name="console_sessions")
    op.drop_index("ix_console_sessions_tenant_id", table_name="console_sessions")
    op.drop_table("console_sessions")
