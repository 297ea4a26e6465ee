"""Request bodies (validated by pydantic) and response shapes. Money is a decimal string.

The ``*Out`` models are the response contract published in ``docs/openapi.json``: every route
declares one (``response_model``) plus the error bodies it can answer with
(:func:`error_responses`), so a schema checker can hold the app to it.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic.alias_generators import to_camel

from kcgateway.errors import ValidationError
from kcgateway.gateway.accounts import AccountView, ConnectRequest
from kcgateway.gateway.apikeys import check_text
from kcgateway.gateway.keys import KeyView, SuspensionView
from kcgateway.gateway.orders.model import OrderRequest
from kcgateway.kucoin import models as m
from kcgateway.secret import Secret
from kcgateway.web.decimals import DecimalString

_STRICT = ConfigDict(extra="forbid", populate_by_name=True)
_HEADER_SAFE = r"^[!-~]+$"
_SYMBOL = r"^[A-Za-z0-9]+-[A-Za-z0-9]+$"
_HEADER_SAFE_RE = re.compile(_HEADER_SAFE)


class OrderBody(BaseModel):
    """``POST /v1/orders``. Prices and sizes as strings ("0.001") keep them exact."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "account": "paper",
                    "symbol": "BTC-USDT",
                    "side": "buy",
                    "type": "limit",
                    "price": "60000",
                    "size": "0.001",
                }
            ]
        },
    )

    account: str = Field(min_length=1, max_length=200, description="account id or name")
    symbol: str = Field(
        min_length=3, max_length=40, pattern=_SYMBOL, description="a spot symbol, BASE-QUOTE"
    )
    side: Literal["buy", "sell"]
    type: Literal["limit", "market"] = "limit"
    price: DecimalString | None = None
    size: DecimalString | None = None
    funds: DecimalString | None = None
    client_oid: str | None = Field(default=None, alias="clientOid", max_length=40)
    time_in_force: Literal["GTC", "GTT", "IOC", "FOK"] | None = Field(
        default=None, alias="timeInForce"
    )

    def to_request(self, client_oid: str | None = None) -> OrderRequest:
        """The use-case request (``client_oid`` overrides when given)."""
        return OrderRequest(
            account=self.account,
            symbol=self.symbol,
            side=self.side,
            order_type=self.type,
            price=self.price,
            size=self.size,
            funds=self.funds,
            client_oid=client_oid or self.client_oid,
            time_in_force=self.time_in_force,
        )


class KeyBody(BaseModel):
    """``POST /v1/keys``."""

    model_config = _STRICT

    owner: str = Field(
        min_length=1, max_length=200, description="who holds the key: printable text"
    )
    scopes: list[str] = Field(min_length=1)
    ip_allowlist: list[str] = Field(default_factory=list, alias="ipAllowlist", max_length=50)
    expires_at: AwareDatetime | None = Field(default=None, alias="expiresAt")

    @field_validator("owner")
    @classmethod
    def _printable_owner(cls, value: str) -> str:
        return _printable(value, "owner")


class LiftBody(BaseModel):
    """``POST /v1/keys/suspensions/lift``: which suspension, and why (kept in the audit log)."""

    model_config = _STRICT

    suspension: str = Field(
        min_length=3, max_length=300, description="<keyId>@<address>, as listed"
    )
    reason: str = Field(min_length=1, max_length=200, description="why (printable text)")

    @field_validator("reason")
    @classmethod
    def _printable_reason(cls, value: str) -> str:
        return _printable(value, "reason")


def _printable(value: str, name: str) -> str:
    try:
        return check_text(value, name)
    except ValidationError as exc:  # pydantic reports a ValueError as a 422 problem
        raise ValueError(exc.message) from None


class RotateBody(BaseModel):
    """``POST /v1/keys/{key_id}/rotate``: how long the old key keeps working (max 30 days)."""

    model_config = _STRICT

    overlap_seconds: int = Field(default=86_400, ge=0, le=30 * 86_400, alias="overlapSeconds")


class AccountBody(BaseModel):
    """``POST /v1/accounts``: a KuCoin API key to connect. Never echoed back."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    # both travel in HTTP headers to the exchange: printable ASCII only, no spaces
    api_key: str = Field(alias="apiKey", min_length=1, max_length=128, pattern=_HEADER_SAFE)
    secret: SecretStr = Field(min_length=1, max_length=256)
    passphrase: SecretStr = Field(
        min_length=1,
        max_length=256,
        description="printable ASCII without spaces (KuCoin sends it in a header)",
    )
    key_version: Literal[1, 2, 3] = Field(default=3, alias="keyVersion")

    @field_validator("passphrase")
    @classmethod
    def _header_safe(cls, value: SecretStr) -> SecretStr:
        if not _HEADER_SAFE_RE.fullmatch(value.get_secret_value()):
            raise ValueError("the passphrase must be printable ASCII without spaces")
        return value

    def to_request(self) -> ConnectRequest:
        """Wrap the secrets in :class:`Secret` for the use case."""
        return ConnectRequest(
            name=self.name,
            api_key=self.api_key,
            secret=Secret(self.secret.get_secret_value()),
            passphrase=Secret(self.passphrase.get_secret_value()),
            key_version=self.key_version,
        )


def _num(value: Decimal) -> str:
    return format(value, "f")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else _num(value)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def key_json(v: KeyView) -> dict[str, Any]:
    """A gateway key (no secret)."""
    return {
        "keyId": v.key_id,
        "owner": v.owner,
        "last4": v.last4,
        "scopes": list(v.scopes),
        "ipAllowlist": list(v.ip_allowlist),
        "createdAt": _time(v.created_at),
        "lastUsedAt": _time(v.last_used_at),
        "expiresAt": _time(v.expires_at),
        "revokedAt": _time(v.revoked_at),
    }


def suspension_json(v: SuspensionView) -> dict[str, Any]:
    """A suspension (``suspension`` is what the lift takes)."""
    return {
        "suspension": v.target,
        "address": v.address,
        "keyId": v.key_id,
        "failures": v.failures,
        "suspendedAt": _time(v.suspended_at),
    }


def account_json(v: AccountView) -> dict[str, Any]:
    """A connected account."""
    return {"id": v.id, "name": v.name, "uid": v.uid, "permissions": list(v.permissions)}


def balance_json(a: m.Account) -> dict[str, Any]:
    """One balance line."""
    return {
        "currency": a.currency,
        "type": a.type,
        "balance": _num(a.balance),
        "available": _num(a.available),
        "holds": _num(a.holds),
    }


def symbol_json(s: m.Symbol) -> dict[str, Any]:
    """One symbol's trading rules."""
    return {
        "symbol": s.symbol,
        "base": s.base_currency,
        "quote": s.quote_currency,
        "baseMinSize": _num(s.base_min_size),
        "baseIncrement": _num(s.base_increment),
        "priceIncrement": _num(s.price_increment),
        "minFunds": _money(s.min_funds),
    }


# ---- responses ---------------------------------------------------------------------------

_OUT = ConfigDict(alias_generator=to_camel, populate_by_name=True)

Money = Annotated[
    str,
    Field(
        pattern=r"^-?[0-9]+(\.[0-9]+)?$",
        description='an exact decimal number as a string (never a JSON number), e.g. "0.001"',
        examples=["0.001"],
    ),
]
Timestamp = Annotated[
    str,
    Field(
        description="an ISO 8601 / RFC 3339 date-time with its UTC offset",
        json_schema_extra={"format": "date-time"},
    ),
]


class KeyOut(BaseModel):
    """A gateway key (its secret is never shown again)."""

    model_config = _OUT

    key_id: str
    owner: str
    last4: str
    scopes: list[str]
    ip_allowlist: list[str]
    created_at: Timestamp | None
    last_used_at: Timestamp | None
    expires_at: Timestamp | None
    revoked_at: Timestamp | None


class SuspensionOut(BaseModel):
    """A key id suspended from one address after repeated failures (its correct secret works)."""

    model_config = _OUT

    suspension: str = Field(description="<keyId>@<address>: what the lift takes")
    address: str
    key_id: str | None
    failures: int
    suspended_at: Timestamp | None


class CreatedKeyOut(BaseModel):
    """A key just issued: ``key`` is the full key, shown in this answer only."""

    model_config = _OUT

    key: str = Field(description="the full key (shown once: store it now)")
    key_id: str
    owner: str
    last4: str
    scopes: list[str]
    ip_allowlist: list[str]
    created_at: Timestamp | None
    last_used_at: Timestamp | None
    expires_at: Timestamp | None
    revoked_at: Timestamp | None


class AccountOut(BaseModel):
    """A connected exchange account (no credential material)."""

    model_config = _OUT

    id: str
    name: str
    uid: str | None
    permissions: list[str]


class BalanceOut(BaseModel):
    """One balance line of an account."""

    model_config = _OUT

    currency: str
    type: str
    balance: Money
    available: Money
    holds: Money


class SymbolOut(BaseModel):
    """One spot symbol's trading rules."""

    model_config = _OUT

    symbol: str
    base: str
    quote: str
    base_min_size: Money
    base_increment: Money
    price_increment: Money
    min_funds: Money | None


class StatusOut(BaseModel):
    """A health answer."""

    status: str


class Problem(BaseModel):
    """One invalid part of a request."""

    field: str = Field(description="where: e.g. body.price, query.limit, header.Idempotency-Key")
    message: str


class RiskFailure(BaseModel):
    """One failed risk check."""

    code: str = Field(description="a stable code, e.g. risk.price_collar, risk.stale_data")
    message: str = Field(description="what failed and by how much, e.g. the collar's limit")


class ErrorOut(BaseModel):
    """Every error answer: a stable code (``error``), what went wrong, what to do (``hint``).

    Never echoes request input. The optional members appear with the errors that have them.
    """

    model_config = _OUT

    error: str = Field(description="a stable code, e.g. not_found, invalid_request")
    message: str
    field: str | None = Field(
        default=None,
        description="the invalid field (invalid_request), or what exceeds the caller's own key "
        "(forbidden: scopes, ipAllowlist, expiresAt)",
    )
    order_id: str | None = Field(
        default=None, serialization_alias="orderId", description="the intent (client_oid_taken)"
    )
    exchange_code: str | None = Field(
        default=None, serialization_alias="exchangeCode", description="KuCoin's code (exchange_*)"
    )
    exchange_message: str | None = Field(
        default=None,
        serialization_alias="exchangeMessage",
        description="KuCoin's own message, when the exchange answered (exchange_*)",
    )
    hint: str | None = Field(default=None, description="what to do about it")
    problems: list[Problem] | None = Field(
        default=None, description="each invalid part (request validation)"
    )
    failures: list[RiskFailure] | None = Field(
        default=None, description="every failed risk check (risk_rejected)"
    )


_ERRORS: dict[int, str] = {
    400: "The request is invalid (invalid_request): see message and field.",
    401: "Missing, invalid, expired or revoked key (unauthenticated); Retry-After in backoff.",
    403: "The key lacks the scope this route needs (forbidden).",
    404: "No such object for this tenant (not_found).",
    409: "Conflicts with the current state (e.g. not_cancellable, client_oid_taken).",
    413: "The request body is larger than the gateway's limit (body_too_large).",
    422: "The request body, query or headers are invalid (invalid_request, with problems), "
    "or the order was refused (risk_rejected, exchange_rejected).",
    502: "The exchange refused the gateway (exchange_auth_failed, exchange_error).",
    503: "The exchange is unavailable or the outcome is unknown (exchange_*): retry later.",
}

#: the errors every route that needs a key can answer with
AUTHED = (401, 403, 422)
#: what a route that calls the exchange can add
EXCHANGE = (502, 503)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status with the :class:`ErrorOut` body."""
    return {
        status: {"model": ErrorOut, "description": _ERRORS[status]}
        for status in sorted(set(statuses))
    }
