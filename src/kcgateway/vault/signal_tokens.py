"""Signal-bot credentials that need no cipher: new secrets, URL tokens, the sealed record shape.

Kept apart from :mod:`kcgateway.vault.signal_secrets` (which imports ``cryptography``) so the
gateway can make and hash credentials without importing a cipher (an import-linter contract).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from kcgateway.secret import Secret
from kcgateway.vault.webhook import new_secret


@dataclass(frozen=True, slots=True)
class SealedSecret:
    """One sealed signal secret as stored (no plaintext)."""

    secret_id: str
    kek_id: str
    wrapped_dek: bytes
    nonce: bytes
    ciphertext: bytes

    def __repr__(self) -> str:
        return f"SealedSecret(secret_id={self.secret_id!r}, kek_id={self.kek_id!r})"


def new_body_secret() -> Secret:
    """A fresh shared secret for TradingView / 3Commas messages (256 random bits)."""
    return Secret(secrets.token_urlsafe(32))


def token_hash(token: str) -> str:
    """SHA-256 hex of a TradingView URL token (256 random bits: no slow hash needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_url_token() -> tuple[Secret, str]:
    """A fresh TradingView URL token and the hash that is stored instead of it."""
    text = secrets.token_urlsafe(32)
    return Secret(text), token_hash(text)


def new_standard_secret() -> Secret:
    """A fresh Standard Webhooks ``whsec_`` secret."""
    return new_secret()
