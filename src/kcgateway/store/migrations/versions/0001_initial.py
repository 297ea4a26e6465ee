"""Create every table: tenants, accounts, credentials, gateway keys, intents, audit, idempotency.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kcgateway.store.types import Money, UtcDateTime

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ORDER_STATES = (
    "received",
    "risk_ok",
    "persisted",
    "sent",
    "acked",
    "unknown",
    "open",
    "filled",
    "cancelled",
    "rejected",
    "not_placed",
)


def _tenants_and_accounts() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("name", name="uq_tenants_name"),
    )
    op.create_table(
        "exchange_accounts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("exchange", sa.String(32), nullable=False),
        sa.Column("sub_uid", sa.String(64), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_exchange_accounts"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_exchange_accounts_tenant_id_tenants"
        ),
        sa.UniqueConstraint("tenant_id", "name", name="uq_exchange_accounts_tenant_id_name"),
    )
    op.create_index("ix_exchange_accounts_tenant_id", "exchange_accounts", ["tenant_id"])


def _credentials_and_keys() -> None:
    op.create_table(
        "credentials",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=True),
        sa.Column("api_key", sa.String(128), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("broker_partner", sa.String(128), nullable=True),
        sa.Column("broker_name", sa.String(128), nullable=True),
        sa.Column("broker_verify", sa.Boolean(), nullable=False),
        sa.Column("envelope_version", sa.Integer(), nullable=False),
        sa.Column("alg", sa.String(32), nullable=False),
        sa.Column("kek_id", sa.String(200), nullable=False),
        sa.Column("wrapped_dek", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_fields", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_credentials"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_credentials_tenant_id_tenants"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["exchange_accounts.id"],
            name="fk_credentials_account_id_exchange_accounts",
        ),
    )
    op.create_index("ix_credentials_tenant_id", "credentials", ["tenant_id"])
    op.create_index("ix_credentials_kek_id", "credentials", ["kek_id"])
    op.create_table(
        "gateway_keys",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("secret_hmac", sa.LargeBinary(32), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("ip_allowlist", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_used_at", UtcDateTime(), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_gateway_keys"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_gateway_keys_tenant_id_tenants"
        ),
    )
    op.create_index("ix_gateway_keys_tenant_id", "gateway_keys", ["tenant_id"])


def _intents() -> None:
    op.create_table(
        "order_intents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("client_oid", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("order_type", sa.String(16), nullable=False),
        sa.Column("price", Money(), nullable=True),
        sa.Column("size", Money(), nullable=True),
        sa.Column("funds", Money(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(*ORDER_STATES, name="order_state", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("exchange_order_id", sa.String(64), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_intents"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["exchange_accounts.id"],
            name="fk_order_intents_account_id_exchange_accounts",
        ),
        sa.UniqueConstraint(
            "account_id", "client_oid", name="uq_order_intents_account_id_client_oid"
        ),
    )
    op.create_index("ix_order_intents_account_id", "order_intents", ["account_id"])
    op.create_index("ix_order_intents_state", "order_intents", ["state"])


def _audit_and_idempotency() -> None:
    op.create_table(
        "audit_records",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_id", sa.String(36), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_records"),
        sa.UniqueConstraint("prev_hash", name="uq_audit_records_prev_hash"),
        sa.UniqueConstraint("hash", name="uq_audit_records_hash"),
    )
    op.create_index("ix_audit_records_tenant_id", "audit_records", ["tenant_id"])
    op.create_table(
        "idempotency_records",
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_records"),
    )
    op.create_index("ix_idempotency_records_created_at", "idempotency_records", ["created_at"])


def upgrade() -> None:
    """Create the schema."""
    _tenants_and_accounts()
    _credentials_and_keys()
    _intents()
    _audit_and_idempotency()


def downgrade() -> None:
    """Drop the schema."""
    for index, table in (
        ("ix_idempotency_records_created_at", "idempotency_records"),
        ("ix_audit_records_tenant_id", "audit_records"),
        ("ix_order_intents_state", "order_intents"),
        ("ix_order_intents_account_id", "order_intents"),
        ("ix_gateway_keys_tenant_id", "gateway_keys"),
        ("ix_credentials_kek_id", "credentials"),
        ("ix_credentials_tenant_id", "credentials"),
        ("ix_exchange_accounts_tenant_id", "exchange_accounts"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "idempotency_records",
        "audit_records",
        "order_intents",
        "gateway_keys",
        "credentials",
        "exchange_accounts",
        "tenants",
    ):
        op.drop_table(table)
