"""Signal bots' secrets: sealed like credentials, opened only here to check a signal.

A bot's signal secret (a Standard Webhooks ``whsec_`` key, or the shared secret a TradingView
or 3Commas message carries in its body) is sealed under a fresh data key wrapped by the active
KEK, with ``"kcgw/signal/v1" | tenant | bot | secret id`` as associated data, so a ciphertext
copied to another row fails to open. :class:`SignalSecrets` hands out verdicts (True/False),
never a secret: the plaintext lives in local variables for one check. Several secrets may be
live at once (a rotation's overlap): a signal passes when any of them verifies it.

Standard Webhooks signatures are made with the ``standardwebhooks`` library's ``sign`` for the
timestamp the request states; the caller checks that timestamp against its own ``now``.
"""

from __future__ import annotations

import binascii
import hmac
import os
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from standardwebhooks.webhooks import Webhook

from kcgateway.secret import Secret
from kcgateway.vault.kek import KeyRing, UnwrapFailed
from kcgateway.vault.signal_tokens import SealedSecret

LABEL = b"kcgw/signal/v1"
DEK_LABEL = b"kcgw/signal-dek/v1"
NONCE_BYTES = 12


def _aad(label: bytes, *parts: str) -> bytes:
    out = bytearray(label)
    for part in parts:
        raw = part.encode()
        out += len(raw).to_bytes(4, "big") + raw
    return bytes(out)


class SignalSecrets:
    """Seals signal secrets and checks signals against them; returns nothing secret."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    def seal(self, *, tenant_id: str, bot_id: str, secret_id: str, secret: Secret) -> SealedSecret:
        """Encrypt ``secret`` for this (tenant, bot, secret id) under the active KEK."""
        kek = self._ring.active
        dek = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        aad = _aad(LABEL, tenant_id, bot_id, secret_id)
        ciphertext = AESGCM(dek).encrypt(nonce, secret.reveal().encode(), aad)
        wrapped = kek.wrap(dek, context=_aad(DEK_LABEL, tenant_id, bot_id, secret_id))
        return SealedSecret(secret_id, kek.kek_id, wrapped, nonce, ciphertext)

    def _open(self, tenant_id: str, bot_id: str, sealed: SealedSecret) -> str | None:
        provider = self._ring.find(sealed.kek_id)
        if provider is None:
            return None
        ids = (tenant_id, bot_id, sealed.secret_id)
        try:
            dek = provider.unwrap(sealed.wrapped_dek, context=_aad(DEK_LABEL, *ids))
            plain = AESGCM(dek).decrypt(sealed.nonce, sealed.ciphertext, _aad(LABEL, *ids))
        except (UnwrapFailed, InvalidTag, ValueError):
            return None
        return plain.decode()

    def matches(
        self, tenant_id: str, bot_id: str, sealed: Sequence[SealedSecret], presented: str
    ) -> bool:
        """True when ``presented`` equals one of the live secrets (constant-time compare)."""
        given = presented.encode()
        found = False
        for one in sealed:
            plain = self._open(tenant_id, bot_id, one)
            if plain is not None and hmac.compare_digest(plain.encode(), given):
                found = True
        return found

    def verify_standard(  # noqa: PLR0917 - whose secrets, then the three headers and the body
        self,
        tenant_id: str,
        bot_id: str,
        sealed: Sequence[SealedSecret],
        msg_id: str,
        timestamp: int,
        body: bytes,
        signatures: str,
    ) -> bool:
        """True when one ``v1,<base64>`` entry of ``signatures`` is a live secret's signature."""
        offered = [s.encode() for s in signatures.split(" ") if s.startswith("v1,")]
        if not offered:
            return False
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        at = datetime.fromtimestamp(timestamp, UTC)
        found = False
        for one in sealed:
            plain = self._open(tenant_id, bot_id, one)
            if plain is None:
                continue
            try:
                expected = Webhook(plain).sign(msg_id, at, text).encode()
            except (ValueError, binascii.Error):  # not a whsec_ key (never stored, but be safe)
                continue
            for candidate in offered:
                if hmac.compare_digest(expected, candidate):
                    found = True
        return found

    def __repr__(self) -> str:
        return f"SignalSecrets(kek_ids={self._ring.kek_ids!r})"
