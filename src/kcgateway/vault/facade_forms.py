"""The plain forms of the KuCoin facade's credentials: no cryptography, so the gateway uses them.

:class:`NewCredentials` is a credential just made (shown once, then sealed by
:class:`kcgateway.vault.facade.FacadeVault`); :class:`SignedCall` what one request presents.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field

from kcgateway.secret import Secret

#: the key version the facade issues (KuCoin's current form); clients may send "2" as ccxt does
ISSUED_VERSION = 3


@dataclass(frozen=True, slots=True)
class NewCredentials:
    """A freshly issued facade credential, before it is sealed: shown once, then dropped."""

    api_key: str
    secret: Secret = field(repr=False)
    passphrase: Secret = field(repr=False)


@dataclass(frozen=True, slots=True)
class SignedCall:
    """What one request presents: the KC-API-* header values and the bytes that were signed.

    ``path`` is the path plus ``?`` and the URL-decoded query in wire order (empty query: no
    ``?``); ``body`` the raw body bytes as received.
    """

    api_key: str
    sign: str = field(repr=False)
    timestamp: str
    passphrase: str = field(repr=False)
    version: str | None
    method: str
    path: str
    body: bytes = field(repr=False)
    #: the path with the query as it travelled (still URL-encoded), when that differs from
    #: ``path``: some clients sign that form, and KuCoin's own documents disagree
    wire_path: str | None = None


def new_credentials() -> NewCredentials:
    """An apiKey (24 hex digits, KuCoin's look), a UUID secret and a 24-character passphrase."""
    return NewCredentials(
        api_key=secrets.token_hex(12),
        secret=Secret(str(uuid.uuid4())),
        passphrase=Secret(secrets.token_urlsafe(18)),
    )
