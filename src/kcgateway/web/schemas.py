"""Request bodies (validated by pydantic) and response shapes. Money is a decimal string."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr

from kcgateway.gateway.accounts import AccountView, ConnectRequest
from kcgateway.gateway.keys import KeyView
from kcgateway.gateway.orders import IntentView, OrderRequest
from kcgateway.kucoin import models as m
from kcgateway.secret import Secret

_STRICT = ConfigDict(extra="forbid", populate_by_name=True)


class OrderBody(BaseModel):
    """``POST /v1/orders``. Prices and sizes as strings ("0.001") keep them exact."""

    model_config = _STRICT

    account: str = Field(min_length=1, max_length=200, description="account id or name")
    symbol: str = Field(min_length=3, max_length=40)
    side: Literal["buy", "sell"]
    type: Literal["limit", "market"] = "limit"
    price: Decimal | None = None
    size: Decimal | None = None
    funds: Decimal | None = None
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

    owner: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1)
    ip_allowlist: list[str] = Field(default_factory=list, alias="ipAllowlist", max_length=50)
    expires_at: AwareDatetime | None = Field(default=None, alias="expiresAt")


class RotateBody(BaseModel):
    """``POST /v1/keys/{key_id}/rotate``: how long the old key keeps working (max 30 days)."""

    model_config = _STRICT

    overlap_seconds: int = Field(default=86_400, ge=0, le=30 * 86_400, alias="overlapSeconds")


class AccountBody(BaseModel):
    """``POST /v1/accounts``: a KuCoin API key to connect. Never echoed back."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    api_key: str = Field(alias="apiKey", min_length=1, max_length=128)
    secret: SecretStr = Field(min_length=1, max_length=256)
    passphrase: SecretStr = Field(min_length=1, max_length=256)
    key_version: Literal[1, 2, 3] = Field(default=3, alias="keyVersion")

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


def intent_json(v: IntentView) -> dict[str, Any]:
    """An order intent."""
    return {
        "id": v.id,
        "account": v.account_id,
        "clientOid": v.client_oid,
        "symbol": v.symbol,
        "side": v.side,
        "type": v.order_type,
        "price": _money(v.price),
        "size": _money(v.size),
        "funds": _money(v.funds),
        "state": v.state.value,
        "exchangeOrderId": v.exchange_order_id,
        "createdAt": _time(v.created_at),
        "updatedAt": _time(v.updated_at),
    }


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
