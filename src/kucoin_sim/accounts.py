"""Creating simulator users and API keys, shared by the control API, the config and ND broker.

An account spec is the JSON body of ``POST /_sim/accounts``; every field is optional::

    {"apiKey": str, "secret": str, "passphrase": str, "keyVersion": 1|2|3 (3),
     "permissions": ["General","Spot","Margin","Futures"], "ipWhitelist": [],
     "hf": false, "balances": {"USDT": "100000"}, "label": str}

Balances go into the trading account (``trade_hf`` when ``hf`` is true, else ``trade``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from kucoin_sim.auth import DEFAULT_PERMISSIONS, ApiKey, Partner, Permission
from kucoin_sim.engine import AccountType
from kucoin_sim.state import SimState, User

_PERMISSIONS = {p.value.lower(): p.value for p in Permission}


class SpecError(ValueError):
    """An account, key or partner spec is invalid; the message names the field."""


def _opt_str(spec: Mapping[str, Any], name: str, max_len: int = 128) -> str | None:
    value = spec.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise SpecError(f"{name} must be a non-empty string of at most {max_len} characters")
    return value


def parse_permissions(value: object) -> frozenset[str]:
    """KuCoin permission names in any case (the SDK sends lower case) -> canonical names."""
    if value is None:
        return DEFAULT_PERMISSIONS
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise SpecError("permissions must be a list of strings")
    unknown = [p for p in value if p.lower() not in _PERMISSIONS]
    if unknown:
        raise SpecError(f"unknown permissions {unknown}; use {sorted(_PERMISSIONS.values())}")
    return frozenset(_PERMISSIONS[p.lower()] for p in value) | {Permission.GENERAL.value}


def ip_list(value: object) -> tuple[str, ...]:
    """A whitelist from a list or a comma-separated string (at most 20 addresses)."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [ip.strip() for ip in value.split(",") if ip.strip()]
    if not isinstance(value, list) or not all(isinstance(ip, str) for ip in value):
        raise SpecError("ipWhitelist must be a list of IP addresses")
    if len(value) > 20:
        raise SpecError("ipWhitelist holds at most 20 addresses")
    return tuple(value)


def parse_balances(value: object) -> dict[str, Decimal]:
    """``{"USDT": "100000"}`` -> Decimals (strings or JSON numbers, never negative)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError("balances must map currencies to amounts")
    out: dict[str, Decimal] = {}
    for currency, amount in value.items():
        try:
            number = Decimal(str(amount))
        except InvalidOperation as exc:
            raise SpecError(f"balance of {currency} is not a number") from exc
        if isinstance(amount, bool) or not number.is_finite() or number < 0:
            raise SpecError(f"balance of {currency} must be a non-negative number")
        out[str(currency)] = number
    return out


def make_key(state: SimState, uid: str, spec: Mapping[str, Any], now_ms: int) -> ApiKey:
    """Register a new API key for ``uid`` from a spec (generated values where absent)."""
    api_key = _opt_str(spec, "apiKey") or state.token(12)
    if api_key in state.keys:
        raise SpecError("apiKey already exists")
    version = spec.get("keyVersion", 3)
    if version not in (1, 2, 3) or isinstance(version, bool):
        raise SpecError("keyVersion must be 1, 2 or 3")
    key = ApiKey(
        api_key=api_key,
        uid=uid,
        secret=_opt_str(spec, "secret") or state.token(16),
        passphrase=_opt_str(spec, "passphrase") or state.token(8),
        key_version=int(version),
        permissions=parse_permissions(spec.get("permissions")),
        ip_whitelist=ip_list(spec.get("ipWhitelist")),
        label=_opt_str(spec, "label", 32) or "sim",
        created_at_ms=now_ms,
    )
    state.keys[api_key] = key
    return key


def key_answer(key: ApiKey) -> dict[str, Any]:
    """What the control API answers for a key (the secret is shown: it is a sim test key)."""
    return {
        "uid": key.uid,
        "apiKey": key.api_key,
        "secret": key.secret,
        "passphrase": key.passphrase,
        "keyVersion": key.key_version,
    }


def trading_account(user: User) -> str:
    """The engine account type that spot orders of this user use."""
    return "trade_hf" if user.hf else "trade"


def create_user(state: SimState, now_ms: int, *, hf: bool = False, **fields: Any) -> User:
    """A new engine user wrapped in a :class:`User` record."""
    uid = str(state.exchange.create_user())
    user = User(uid=uid, hf=hf, created_at_ms=now_ms, **fields)
    state.users[uid] = user
    return user


def fund(state: SimState, uid: str, account_type: str, balances: Mapping[str, Decimal]) -> None:
    """Credit each currency to one of the user's accounts."""
    for currency, amount in balances.items():
        state.exchange.fund(uid, AccountType(account_type), currency, amount)


def create_account(state: SimState, spec: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
    """``POST /_sim/accounts``: a user, one key, optional balances; returns its credentials."""
    if not isinstance(spec, Mapping):
        raise SpecError("the body must be a JSON object")
    hf = spec.get("hf", False)
    if not isinstance(hf, bool):
        raise SpecError("hf must be a boolean")
    balances = parse_balances(spec.get("balances"))
    api_key = _opt_str(spec, "apiKey")
    if api_key is not None and api_key in state.keys:
        raise SpecError("apiKey already exists")
    user = create_user(state, now_ms, hf=hf)
    key = make_key(state, user.uid, spec, now_ms)
    fund(state, user.uid, trading_account(user), balances)
    return key_answer(key)


def create_partner(state: SimState, spec: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
    """A configured ND broker: partner id, broker key, name, and its master account."""
    name = _opt_str(spec, "partner")
    if name is None:
        raise SpecError("partner is required")
    if name in state.partners:
        raise SpecError("partner already exists")
    account = create_account(state, spec, now_ms)
    partner = Partner(
        partner=name,
        key=_opt_str(spec, "key") or state.token(16),
        name=_opt_str(spec, "name") or name,
        broker_uid=account["uid"],
        ip_whitelist=ip_list(spec.get("partnerIpWhitelist")),
    )
    state.partners[name] = partner
    return {**account, "partner": name, "brokerKey": partner.key, "brokerName": partner.name}
