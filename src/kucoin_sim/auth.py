"""The simulator's own request authentication, in the order of PROTOCOL.md section 10.

This is deliberately independent of ``kcgateway.kucoin.signing`` (import-linter forbids the
import): a client bug must not be able to agree with itself. Pure: the caller passes ``now_ms``.

Checks, first failure wins::

    400001 a KC-API-KEY/SIGN/TIMESTAMP/PASSPHRASE header is missing
    400002 KC-API-TIMESTAMP is not within 5 s of the simulator's clock
    400003 the key does not exist
    400009 KC-API-KEY-VERSION is not absent, "1", "2" or "3"
    400004 the passphrase does not match (v1: plain text; v2/v3: base64 HMAC-SHA256)
    400006 the caller's IP is not in the key's whitelist
    400005 KC-API-SIGN is not base64 HMAC-SHA256(secret, ts + METHOD + path[?query] + body)
    400007 the key lacks the route's permission
    400200/400201/400202 partner checks (see :func:`check_partner`)

The query is URL-decoded and kept in wire order (CLIENT-QUIRKS.md section 2, item 7); the body is
the raw bytes as received (item 4), never re-serialised.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote

MAX_SKEW_MS = 5_000


class Permission(StrEnum):
    """API key permissions, spelled as KuCoin answers them."""

    GENERAL = "General"
    SPOT = "Spot"
    MARGIN = "Margin"
    FUTURES = "Futures"
    INNER_TRANSFER = "InnerTransfer"
    TRANSFER = "Transfer"
    EARN = "Earn"


DEFAULT_PERMISSIONS = frozenset(
    {Permission.GENERAL, Permission.SPOT, Permission.MARGIN, Permission.FUTURES}
)


@dataclass(frozen=True)
class ApiKey:
    """One API key as the simulator stores it. ``repr`` hides the secret and passphrase."""

    api_key: str
    uid: str
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)
    key_version: int = 3
    permissions: frozenset[str] = DEFAULT_PERMISSIONS
    ip_whitelist: tuple[str, ...] = ()
    label: str = ""
    created_at_ms: int = 0

    hashed_passphrase: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # the v2/v3 passphrase header value, computed once per key
        hashed = hmac_b64(self.secret, self.passphrase.encode())
        object.__setattr__(self, "hashed_passphrase", hashed)


@dataclass(frozen=True)
class Partner:
    """A configured broker partner: its id, broker key, name and master uid."""

    partner: str
    key: str = field(repr=False)
    name: str
    broker_uid: str
    ip_whitelist: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignedRequest:
    """What authentication needs from one HTTP request. ``headers`` is case-insensitive."""

    method: str
    path: str
    raw_query: str
    body: bytes
    headers: Mapping[str, str]
    remote: str


@dataclass(frozen=True)
class AuthContext:
    """A request that passed authentication; ``partner`` is set when its signature verified."""

    key: ApiKey
    partner: Partner | None


class AuthFailure(Exception):
    """Authentication refused the request with a KuCoin code, message and HTTP status."""

    def __init__(self, code: str, msg: str, http_status: int = 401) -> None:
        super().__init__(code, msg)
        self.code = code
        self.msg = msg
        self.http_status = http_status


_REQUIRED = ("KC-API-KEY", "KC-API-SIGN", "KC-API-TIMESTAMP", "KC-API-PASSPHRASE")


def hmac_b64(key: str, message: bytes) -> str:
    """Base64 of HMAC-SHA256(key, message)."""
    return base64.b64encode(hmac.digest(key.encode(), message, hashlib.sha256)).decode()


def prehash(req: SignedRequest, timestamp: str) -> bytes:
    """``timestamp + METHOD + path + ("?" + decoded query, wire order) + raw body``."""
    endpoint = unquote(req.path)
    if req.raw_query:
        endpoint += "?" + unquote(req.raw_query)
    return (timestamp + req.method.upper() + endpoint).encode() + req.body


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _check_headers(headers: Mapping[str, str]) -> None:
    for name in _REQUIRED:
        if headers.get(name):
            continue
        raise AuthFailure(
            "400001",
            "Please check the header of your request for KC-API-KEY, KC-API-SIGN, "
            "KC-API-TIMESTAMP, KC-API-PASSPHRASE",
        )


def _check_timestamp(raw: str, now_ms: int) -> None:
    if not raw.isdigit() or abs(int(raw) - now_ms) > MAX_SKEW_MS:
        raise AuthFailure("400002", "Invalid KC-API-TIMESTAMP")


def _check_passphrase(key: ApiKey, headers: Mapping[str, str]) -> None:
    version = headers.get("KC-API-KEY-VERSION")
    sent = headers["KC-API-PASSPHRASE"]
    if version in (None, "", "1"):
        expected = key.passphrase
    elif version in ("2", "3"):
        expected = key.hashed_passphrase
    else:
        raise AuthFailure("400009", "Invalid KC-API-KEY-VERSION")
    if not _same(sent, expected):
        raise AuthFailure("400004", "Invalid KC-API-PASSPHRASE")


def _check_ip(whitelist: tuple[str, ...], remote: str, code: str) -> None:
    if whitelist and remote not in whitelist:
        raise AuthFailure(
            code,
            f"Invalid request IP, the current client IP is: {remote}.",
            400 if code == "400202" else 401,
        )


def authenticate(
    req: SignedRequest,
    *,
    keys: Mapping[str, ApiKey],
    partners: Mapping[str, Partner],
    now_ms: int,
    permission: str | None,
    broker_route: bool = False,
) -> AuthContext:
    """Authenticate one private request or raise :class:`AuthFailure` with KuCoin's code."""
    headers = req.headers
    _check_headers(headers)
    timestamp = headers["KC-API-TIMESTAMP"]
    _check_timestamp(timestamp, now_ms)
    key = keys.get(headers["KC-API-KEY"])
    if key is None:
        raise AuthFailure("400003", "KC-API-KEY not exists")
    _check_passphrase(key, headers)
    _check_ip(key.ip_whitelist, req.remote, "400006")
    if not _same(headers["KC-API-SIGN"], hmac_b64(key.secret, prehash(req, timestamp))):
        raise AuthFailure("400005", "Invalid KC-API-SIGN")
    if permission is not None and permission not in key.permissions:
        raise AuthFailure("400007", "Access denied, require more permission.", 403)
    partner = check_partner(req, key=key, partners=partners, broker_route=broker_route)
    return AuthContext(key=key, partner=partner)


def check_partner(
    req: SignedRequest,
    *,
    key: ApiKey,
    partners: Mapping[str, Partner],
    broker_route: bool,
) -> Partner | None:
    """Partner semantics (PROTOCOL.md section 2, CLIENT-QUIRKS.md sections 2 and 6).

    Ordinary routes: an unknown partner (ccxt, python-kucoinspot, ...) is ignored; a known
    partner with a bad signature is ignored unless ``KC-API-PARTNER-VERIFY: true``, which turns
    it into 400201. Broker ND routes require a configured partner (400200) whose master account
    owns the key (400200), a valid signature (400201) and an allowed IP (400202).
    Returns the partner when its signature verified (the order is attributed to it).
    """
    headers = req.headers
    name = headers.get("KC-API-PARTNER", "")
    partner = partners.get(name)
    if partner is None or (broker_route and partner.broker_uid != key.uid):
        if broker_route:
            raise AuthFailure("400200", "Unknown partner", 400)
        return None
    expected = hmac_b64(partner.key, (headers["KC-API-TIMESTAMP"] + name + key.api_key).encode())
    valid = _same(headers.get("KC-API-PARTNER-SIGN", ""), expected)
    verify = headers.get("KC-API-PARTNER-VERIFY", "").lower() == "true"
    if not valid and (verify or broker_route):
        raise AuthFailure("400201", "Invalid KC-API-PARTNER-SIGN", 400)
    if broker_route:
        _check_ip(partner.ip_whitelist, req.remote, "400202")
    return partner if valid else None
