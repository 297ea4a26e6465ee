"""KuCoin request signing: the KC-API-* headers and the broker partner headers. Pure.

The prehash is ``timestamp + METHOD + path + body`` where ``path`` carries the *decoded* query
string in the order it is sent (``/api/v1/orders?status=active&symbol=BTC-USDT``) and ``body`` is
the exact bytes sent (compact JSON for our client; ``b""`` for GET and DELETE).

Key versions: 1 sends the passphrase in plain text and no version header; 2 and 3 send
``base64(HMAC-SHA256(secret, passphrase))`` and ``KC-API-KEY-VERSION`` "2" or "3".

Broker partner signature: ``base64(HMAC-SHA256(broker_key, timestamp + partner + api_key))``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from kcgateway.secret import Secret

KEY_VERSIONS = (1, 2, 3)


@dataclass(frozen=True, slots=True)
class Credentials:
    """A KuCoin API key. ``secret`` and ``passphrase`` are :class:`Secret` (never printed)."""

    api_key: str
    secret: Secret = field(repr=False)
    passphrase: Secret = field(repr=False)
    key_version: int = 3

    def __post_init__(self) -> None:
        if self.key_version not in KEY_VERSIONS:
            raise ValueError(f"key_version must be 1, 2 or 3, not {self.key_version!r}")

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Credentials cannot be pickled")


@dataclass(frozen=True, slots=True)
class BrokerCredentials:
    """A KuCoin broker's partner id, broker name and broker key (the key is a :class:`Secret`)."""

    partner: str
    name: str
    key: Secret = field(repr=False)
    verify: bool = True

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("BrokerCredentials cannot be pickled")


def _b64_hmac(key: bytes, msg: bytes) -> str:
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode("ascii")


def prehash(*, timestamp_ms: int, method: str, path: str, body: bytes = b"") -> bytes:
    """Return the bytes that KC-API-SIGN is computed over."""
    return f"{timestamp_ms}{method.upper()}{path}".encode() + body


def passphrase_header(creds: Credentials) -> str:
    """The KC-API-PASSPHRASE value: plain for v1, HMAC'd with the secret for v2 and v3."""
    if creds.key_version == 1:
        return creds.passphrase.reveal()
    return _b64_hmac(creds.secret.reveal().encode(), creds.passphrase.reveal().encode())


def partner_sign(broker: BrokerCredentials, *, timestamp_ms: int, api_key: str) -> str:
    """The KC-API-PARTNER-SIGN value."""
    msg = f"{timestamp_ms}{broker.partner}{api_key}".encode()
    return _b64_hmac(broker.key.reveal().encode(), msg)


def sign_request(
    creds: Credentials,
    *,
    method: str,
    path: str,
    body: bytes = b"",
    timestamp_ms: int,
    broker: BrokerCredentials | None = None,
) -> dict[str, str]:
    """KC-API-* headers (and partner headers when ``broker`` is given) for one request. Pure."""
    ts = str(timestamp_ms)
    secret = creds.secret.reveal().encode()
    headers = {
        "KC-API-KEY": creds.api_key,
        "KC-API-SIGN": _b64_hmac(
            secret, prehash(timestamp_ms=timestamp_ms, method=method, path=path, body=body)
        ),
        "KC-API-TIMESTAMP": ts,
        "KC-API-PASSPHRASE": passphrase_header(creds),
    }
    if creds.key_version != 1:
        headers["KC-API-KEY-VERSION"] = str(creds.key_version)
    if broker is not None:
        headers["KC-API-PARTNER"] = broker.partner
        headers["KC-API-PARTNER-SIGN"] = partner_sign(
            broker, timestamp_ms=timestamp_ms, api_key=creds.api_key
        )
        headers["KC-BROKER-NAME"] = broker.name
        if broker.verify:
            headers["KC-API-PARTNER-VERIFY"] = "true"
    return headers
