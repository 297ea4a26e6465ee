"""KuCoin request signing: the KC-API-* headers and the broker partner headers. Pure.

The prehash is ``timestamp + METHOD + path + body`` where ``path`` carries the *decoded* query
string in the order it is sent (``/api/v1/orders?status=active&symbol=BTC-USDT``) and ``body`` is
the exact bytes sent (compact JSON for our client; ``b""`` for GET and DELETE).

Key versions: 1 sends the passphrase in plain text and no version header; 2 and 3 send
``base64(HMAC-SHA256(secret, passphrase))`` and ``KC-API-KEY-VERSION`` "2" or "3".

Broker partner signature: ``base64(HMAC-SHA256(broker_key, timestamp + partner + api_key))``.
"""

from __future__ import annotations

import hashlib
from binascii import b2a_base64
from dataclasses import dataclass, field

from kcgateway.secret import Secret

KEY_VERSIONS = (1, 2, 3)

_BLOCK = 64  # SHA-256 block size in bytes (RFC 2104's B)
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


class _Mac:
    """HMAC-SHA256 with its key already absorbed: the RFC 2104 inner and outer pads, hashed once.

    ``b64(msg)`` copies the two prepared SHA-256 states instead of re-deriving them from the
    key on every call, which halves the cost of a signature. The states are key material: this
    object has no useful repr and refuses to be pickled; it is never mutated, so ``copy`` and
    ``deepcopy`` (``dataclasses.asdict``) return it unchanged, as :class:`Secret` does.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def b64(self, msg: bytes) -> str:
        """Return ``base64(HMAC-SHA256(key, msg))``."""
        inner = self._inner.copy()
        inner.update(msg)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return b2a_base64(outer.digest(), newline=False).decode("ascii")

    def __repr__(self) -> str:
        return "_Mac(***)"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("key material cannot be pickled")

    def __copy__(self) -> _Mac:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> _Mac:
        return self


@dataclass(frozen=True, slots=True)
class Credentials:
    """A KuCoin API key. ``secret`` and ``passphrase`` are :class:`Secret` (never printed).

    The HMAC key state and the KC-API-PASSPHRASE value are derived once, at construction, and
    kept in private fields that take no part in repr, equality or hashing; pickling is refused.
    """

    api_key: str
    secret: Secret = field(repr=False)
    passphrase: Secret = field(repr=False)
    key_version: int = 3
    _mac: _Mac = field(init=False, repr=False, compare=False)
    _passphrase_header: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.key_version not in KEY_VERSIONS:
            raise ValueError(f"key_version must be 1, 2 or 3, not {self.key_version!r}")
        mac = _Mac(self.secret.reveal().encode())
        plain = self.passphrase.reveal()
        header = plain if self.key_version == 1 else mac.b64(plain.encode())
        object.__setattr__(self, "_mac", mac)
        object.__setattr__(self, "_passphrase_header", header)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Credentials cannot be pickled")


@dataclass(frozen=True, slots=True)
class BrokerCredentials:
    """A KuCoin broker's partner id, broker name and broker key (the key is a :class:`Secret`)."""

    partner: str
    name: str
    key: Secret = field(repr=False)
    verify: bool = True
    _mac: _Mac = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_mac", _Mac(self.key.reveal().encode()))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("BrokerCredentials cannot be pickled")


def prehash(*, timestamp_ms: int, method: str, path: str, body: bytes = b"") -> bytes:
    """Return the bytes that KC-API-SIGN is computed over."""
    return f"{timestamp_ms}{method.upper()}{path}".encode() + body


def passphrase_header(creds: Credentials) -> str:
    """The KC-API-PASSPHRASE value: plain for v1, HMAC'd with the secret for v2 and v3."""
    return creds._passphrase_header


def partner_sign(broker: BrokerCredentials, *, timestamp_ms: int, api_key: str) -> str:
    """The KC-API-PARTNER-SIGN value."""
    return broker._mac.b64(f"{timestamp_ms}{broker.partner}{api_key}".encode())


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
    headers = {
        "KC-API-KEY": creds.api_key,
        "KC-API-SIGN": creds._mac.b64(f"{ts}{method.upper()}{path}".encode() + body),
        "KC-API-TIMESTAMP": ts,
        "KC-API-PASSPHRASE": creds._passphrase_header,
    }
    if creds.key_version != 1:
        headers["KC-API-KEY-VERSION"] = _VERSION_HEADER[creds.key_version]
    if broker is not None:
        headers["KC-API-PARTNER"] = broker.partner
        headers["KC-API-PARTNER-SIGN"] = broker._mac.b64(
            f"{ts}{broker.partner}{creds.api_key}".encode()
        )
        headers["KC-BROKER-NAME"] = broker.name
        if broker.verify:
            headers["KC-API-PARTNER-VERIFY"] = "true"
    return headers


_VERSION_HEADER = {version: str(version) for version in KEY_VERSIONS}
