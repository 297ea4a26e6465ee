"""KuCoin-form credentials the gateway issues (the KuCoin facade): made, sealed and verified here.

A bot that speaks KuCoin's API holds an apiKey, a secret and a passphrase the gateway issued for
one of its gateway keys. The gateway must recompute the bot's signatures, so it must be able to
read the secret: like an exchange secret it is sealed (:func:`~kcgateway.vault.envelope.seal`,
AAD bound to its row) and only :class:`FacadeVerifier` opens it, for one check, answering
"valid" or a refusal with KuCoin's code. There is no method that returns the secret; the one
moment it exists in clear outside this module is :func:`new_credentials`, whose result is shown
to the caller once (``POST /v1/keys/{id}/kucoin-credentials``) and then sealed. The plain
forms (:mod:`kcgateway.vault.facade_forms`) import no cryptography, so the gateway may use them.

What is checked, first failure wins (PROTOCOL.md section 1, as the simulator's ``auth.py``):
``400009`` a KC-API-KEY-VERSION other than absent, "1", "2" or "3"; ``400004`` a passphrase that
is not the plain one (no version, or "1": python-kucoin) or its base64 HMAC-SHA256 under the
secret ("2": ccxt, "3": the official SDK); ``400005`` a KC-API-SIGN that is not
``base64(HMAC-SHA256(secret, timestamp + METHOD + path?query + body))``. Comparisons are
constant-time. The timestamp window and who the key is are the gateway's checks
(``kcgateway.gateway.facade.auth``), made before anything is unsealed.
"""

from __future__ import annotations

import asyncio
import hmac

from kcgateway.errors import FacadeRefused
from kcgateway.kucoin.signing import Credentials, sign_request
from kcgateway.store.records import CredentialRecord
from kcgateway.vault.envelope import (
    PASSPHRASE,
    SECRET,
    open_fields,
    seal,
    unwrap_dek,
    unwrap_provider,
)
from kcgateway.vault.facade_forms import ISSUED_VERSION, NewCredentials, SignedCall
from kcgateway.vault.kek import KeyRing

_VERSIONS = {None: 1, "": 1, "1": 1, "2": 2, "3": 3}


def key_version(header: str | None) -> int:
    """The key version a KC-API-KEY-VERSION header asks for; FacadeRefused 400009 otherwise."""
    version = _VERSIONS.get(header)
    if version is None:
        raise FacadeRefused("400009", "Invalid KC-API-KEY-VERSION")
    return version


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class FacadeVault:
    """Seals new facade credentials and checks requests against sealed ones (no getter)."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    def __repr__(self) -> str:
        return f"FacadeVault(kek_ids={self._ring.kek_ids!r})"

    async def seal(
        self, made: NewCredentials, *, credential_id: str, tenant_id: str
    ) -> CredentialRecord:
        """The sealed record of ``made`` under the active KEK, bound to ``credential_id``."""
        kek = self._ring.active

        def make() -> CredentialRecord:
            return seal(
                credential_id=credential_id,
                tenant_id=tenant_id,
                api_key=made.api_key,
                secrets={SECRET: made.secret, PASSPHRASE: made.passphrase},
                kek=kek,
                key_version=ISSUED_VERSION,
            )

        return await asyncio.to_thread(make) if kek.performs_io else make()

    async def verify(self, record: CredentialRecord, call: SignedCall) -> None:
        """Return when the call is signed with the record's secret; FacadeRefused otherwise.

        The record's DEK is unwrapped and its two fields opened for this one check; the
        plaintext lives in this call's locals only (inside the :class:`Credentials`).
        """
        version = key_version(call.version)
        provider = unwrap_provider(record, self._ring)
        if provider.performs_io:
            dek = await asyncio.to_thread(unwrap_dek, record, provider)
        else:
            dek = unwrap_dek(record, provider)
        opened = open_fields(record, dek, (SECRET, PASSPHRASE))
        creds = Credentials(record.api_key, opened[SECRET], opened[PASSPHRASE], key_version=version)
        timestamp = int(call.timestamp)
        paths = [call.path] if call.wire_path in (None, call.path) else [call.path, call.wire_path]
        signs = []
        for path in paths:
            expected = sign_request(
                creds, method=call.method, path=path or "", body=call.body, timestamp_ms=timestamp
            )
            signs.append(expected["KC-API-SIGN"])
        if not _same(call.passphrase, expected["KC-API-PASSPHRASE"]):
            raise FacadeRefused("400004", "Invalid KC-API-PASSPHRASE")
        if not any([_same(call.sign, sign) for sign in signs]):
            raise FacadeRefused("400005", "Invalid KC-API-SIGN")
