"""SQLAlchemy 2.0 tables. Money is :class:`~kcgateway.store.types.Money`, time is UTC-aware.

Secrets never appear here in clear: ``credentials`` holds sealed envelopes only, and
``gateway_keys`` holds an HMAC of each key's secret.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kcgateway.store.types import Money, OrderState, UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = 36


class Base(DeclarativeBase):
    """Declarative base with a stable constraint naming scheme (for migrations)."""

    metadata = MetaData(naming_convention=NAMING)


class Tenant(Base):
    """A customer of the gateway: owns accounts, credentials and keys."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ExchangeAccount(Base):
    """A KuCoin (sub-)account a tenant trades through."""

    __tablename__ = "exchange_accounts"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    exchange: Mapped[str] = mapped_column(String(32), default="kucoin")
    sub_uid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    #: set by `accounts remove`: the credential is gone, the row stays for the intent history
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class CredentialRow(Base):
    """One sealed credential set: one DEK (wrapped by ``kek_id``), one sealed blob per field."""

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("exchange_accounts.id"))
    api_key: Mapped[str] = mapped_column(String(128))
    key_version: Mapped[int] = mapped_column(Integer)
    broker_partner: Mapped[str | None] = mapped_column(String(128))
    broker_name: Mapped[str | None] = mapped_column(String(128))
    broker_verify: Mapped[bool] = mapped_column(Boolean, default=True)
    envelope_version: Mapped[int] = mapped_column(Integer)
    alg: Mapped[str] = mapped_column(String(32))
    kek_id: Mapped[str] = mapped_column(String(200), index=True)
    wrapped_dek: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class BrokerSettingRow(Base):
    """The gateway-wide ND broker settings (at most one row): the broker key is sealed."""

    __tablename__ = "broker_settings"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    partner: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(128))
    envelope_version: Mapped[int] = mapped_column(Integer)
    alg: Mapped[str] = mapped_column(String(32))
    kek_id: Mapped[str] = mapped_column(String(200))
    wrapped_dek: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class GatewayKey(Base):
    """A key kcgateway issued (SECURITY.md section 2): only an HMAC of its secret is kept."""

    __tablename__ = "gateway_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    owner: Mapped[str] = mapped_column(String(200))
    secret_hmac: Mapped[bytes] = mapped_column(LargeBinary(32))
    last4: Mapped[str] = mapped_column(String(4))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    ip_allowlist: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AuthSuspension(Base):
    """A source address, or a key id from one address, suspended after repeated failures.

    Written by the gateway when a failure counter reaches its threshold, deleted when an
    operator lifts it (``kcgateway keys unsuspend``). ``tenant_id`` is the tenant of ``key_id``
    when that key exists (no foreign key: forged key ids are counted too).
    """

    __tablename__ = "auth_suspensions"

    subject: Mapped[str] = mapped_column(String(300), primary_key=True)
    address: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str | None] = mapped_column(String(64))
    tenant_id: Mapped[str | None] = mapped_column(String(ID), index=True)
    failures: Mapped[int] = mapped_column(Integer)
    suspended_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OrderIntent(Base):
    """An order the gateway means to place: unique per (account, clientOid)."""

    __tablename__ = "order_intents"
    __table_args__ = (UniqueConstraint("account_id", "client_oid"),)

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("exchange_accounts.id"), index=True)
    client_oid: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    order_type: Mapped[str] = mapped_column(String(16))
    price: Mapped[Decimal | None] = mapped_column(Money())
    size: Mapped[Decimal | None] = mapped_column(Money())
    funds: Mapped[Decimal | None] = mapped_column(Money())
    state: Mapped[OrderState] = mapped_column(
        Enum(
            OrderState,
            name="order_state",
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        ),
        index=True,
    )
    exchange_order_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # which product the intent trades (spot | margin | futures) and that product's terms
    market: Mapped[str] = mapped_column(String(8), default="spot", server_default="spot")
    margin_mode: Mapped[str | None] = mapped_column(String(16))
    leverage: Mapped[Decimal | None] = mapped_column(Money())
    reduce_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    close_order: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    auto_borrow: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    auto_repay: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: why an operator must look at the intent (None: nothing to do); cleared by its next move
    attention: Mapped[str | None] = mapped_column(String(200), default=None)
    #: why it was refused (``rejected``/``not_placed``): :class:`kcgateway.gateway.reasons.Reason`
    #: as JSON (code, message, field, exchangeCode, exchangeMessage, hint); None otherwise
    reason: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True), default=None)


class AuditRecord(Base):
    """Append-only, hash-chained audit log. ``prev_hash`` is unique: the chain cannot fork.

    ``key_id``: the audit key whose HMAC is ``hash`` (NULL: an unkeyed v1 record written before
    the chain was keyed; see :mod:`kcgateway.store.audit_chain`).
    """

    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    tenant_id: Mapped[str | None] = mapped_column(String(ID), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str | None] = mapped_column(String(64), default=None)


class IdempotencyRecord(Base):
    """The first response to an ``Idempotency-Key`` (per scope), replayed for the same body."""

    __tablename__ = "idempotency_records"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class RiskEquityMark(Base):
    """An account's peak and start-of-day equity, kept so a restart does not reset drawdown.

    Written by the risk engine (``gateway/risk_inputs.py``) as the equity it marks to market
    rises to a new peak or a new UTC day starts. ``day`` is the UTC date (``YYYY-MM-DD``) that
    ``day_start_equity`` belongs to. Amounts are in the engine's quote currency (USDT).
    """

    __tablename__ = "risk_equity_marks"

    account_id: Mapped[str] = mapped_column(ForeignKey("exchange_accounts.id"), primary_key=True)
    peak_equity: Mapped[Decimal] = mapped_column(Money())
    peak_at: Mapped[datetime] = mapped_column(UtcDateTime())
    day: Mapped[str] = mapped_column(String(10))
    day_start_equity: Mapped[Decimal] = mapped_column(Money())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AlertRow(Base):
    """One alert (gateway/alerts.py): who it is about, what happened, the evidence. Append-only.

    ``tenant_id`` is None for a gateway-wide alert (only admin keys list those).
    """

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(ID), index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    subjects: Mapped[list[str]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class AlertDeliveryRow(Base):
    """One alert's delivery to the operator's webhook; its retry state survives a restart.

    ``id`` is the Standard Webhooks ``webhook-id`` (the same on every attempt, so a receiver
    can drop repeats). ``state``: pending, delivered or dead (after the last allowed attempt).
    """

    __tablename__ = "alert_deliveries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AlertWebhookRow(Base):
    """The operator's alert webhook (at most one row): the URL and WHERE its secret is.

    The signing secret itself is never in the database: it is in a 0600 file the operator
    gives (or `kcgateway alerts webhook set` writes), read at each delivery.
    """

    __tablename__ = "alert_webhook"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret_path: Mapped[str] = mapped_column(String(1000))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class RiskStateRow(Base):
    """A trading state other than ACTIVE at one level (gateway, tenant, account or key).

    ``target`` is the tenant, account or key id ("" for the gateway). Resuming deletes the row
    (the audit log keeps the history). ``by_operator``: set by the operator or the risk engine,
    which a tenant's key without ``admin`` may not lift.
    """

    __tablename__ = "risk_states"

    level: Mapped[str] = mapped_column(String(16), primary_key=True)
    target: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(ID), index=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    by_operator: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class RiskLimitRow(Base):
    """The limit overrides a level holds: only the fields it sets, as JSON (decimals as text)."""

    __tablename__ = "risk_limits"

    level: Mapped[str] = mapped_column(String(16), primary_key=True)
    target: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(ID), index=True)
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    #: set by the operator (or the engine): a key without ``admin`` may not change them
    by_operator: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class BlockedSymbolRow(Base):
    """A symbol on the gateway-wide deny-list (the detector's "block the symbol")."""

    __tablename__ = "risk_blocked_symbols"

    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    blocked_at: Mapped[datetime] = mapped_column(UtcDateTime())


class RiskGeneration(Base):
    """One row, bumped by every risk-control change.

    A running gateway sees another process's change (the CLI) by reading this one number.
    """

    __tablename__ = "risk_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger)


class FastApiSettingRow(Base):
    """The broker's KuCoin Fast API client (at most one row): who the broker is at KuCoin.

    Nothing secret: the client id and redirect URL travel in the user's browser anyway.
    """

    __tablename__ = "fastapi_settings"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128))
    redirect_url: Mapped[str] = mapped_column(String(500))
    base_url: Mapped[str] = mapped_column(String(500))
    #: the operator's policy: may a Fast API key hold KuCoin's flexible-transfer permission
    allow_transfer: Mapped[bool] = mapped_column(Boolean)
    actor: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OnboardingAttemptRow(Base):
    """One "Connect with KuCoin" attempt, keyed by its state nonce (single use).

    ``status``: started -> exchanging -> connected | denied | failed | key_possibly_created |
    key_orphaned (the last two need the operator: a key may exist at KuCoin). Never a code, a
    token or a secret: ``api_key`` is the created key's public id.
    """

    __tablename__ = "onboarding_attempts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    account_name: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    api_key: Mapped[str | None] = mapped_column(String(128))
    account_id: Mapped[str | None] = mapped_column(String(ID))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class NdMasterRow(Base):
    """Which connected account is the ND broker's master (at most one row): it signs ND calls."""

    __tablename__ = "nd_broker_master"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("exchange_accounts.id"))
    actor: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class NdSubAccountRow(Base):
    """A tenant's account that lives in an ND broker sub-account the gateway created."""

    __tablename__ = "nd_subaccounts"

    account_id: Mapped[str] = mapped_column(ForeignKey("exchange_accounts.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    uid: Mapped[str] = mapped_column(String(64))
    kucoin_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class GatewayEventRow(Base):
    """One event of the gateway's own log that bots follow and resume from (``/v1/events``).

    ``id`` increases gateway-wide in commit order (one writer on SQLite; on PostgreSQL the
    append takes the audit log's transaction lock) and is never reused (``AUTOINCREMENT``:
    pruning the newest rows cannot hand their ids out again). ``tenant_id`` None: a
    gateway-wide event (admin keys only). ``scope``: the key scope that may see it.
    """

    __tablename__ = "gateway_events"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    tenant_id: Mapped[str | None] = mapped_column(String(ID), index=True)
    account_id: Mapped[str | None] = mapped_column(String(ID))
    kind: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class ConsoleSessionRow(Base):
    """A web console session (issue 18): a gateway key exchanged for a server-side session.

    ``id`` is the SHA-256 of the session token the browser holds in its cookie, so a database
    dump holds no usable session. The session is as strong as its key, re-checked on every
    request; it ends at ``expires_at`` (absolute), after an idle time, or when revoked.
    """

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("gateway_keys.key_id"), index=True)
    address: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ConsoleLinkRow(Base):
    """A one-time console sign-in link (``kcgateway console login``) for one gateway key.

    ``id`` is the SHA-256 of the link's token (a dump opens nothing); the link opens one
    session, once (``used_at``), before ``expires_at``, and only while its key is usable.
    """

    __tablename__ = "console_links"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("gateway_keys.key_id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class EquitySample(Base):
    """An account's equity marked to market at one moment (the console's equity chart).

    Sampled from the risk engine's marks (``gateway/console/equity_history.py``), in the
    engine's quote currency (USDT); kept for a limited time.
    """

    __tablename__ = "equity_samples"

    account_id: Mapped[str] = mapped_column(ForeignKey("exchange_accounts.id"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    equity: Mapped[Decimal] = mapped_column(Money())


class FacadeCredentialRow(Base):
    """KuCoin-form credentials the gateway issued for one gateway key (the KuCoin facade).

    The secret and passphrase are sealed like exchange secrets (only the vault's facade
    verifier opens them); ``api_key`` is the public KC-API-KEY. Bound to one gateway key and
    one exchange account; revoked with the gateway key (revoke or rotate) or when reissued.
    """

    __tablename__ = "facade_credentials"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    api_key: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("gateway_keys.key_id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("exchange_accounts.id"))
    envelope_version: Mapped[int] = mapped_column(Integer)
    alg: Mapped[str] = mapped_column(String(32))
    kek_id: Mapped[str] = mapped_column(String(200), index=True)
    wrapped_dek: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
