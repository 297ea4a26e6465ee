"""Envelope encryption of one credential set. Pure: stdlib and ``cryptography`` only.

Sealing: a fresh 256-bit data key (DEK) per credential; each field is AES-256-GCM encrypted with
a random 96-bit nonce and the associated data ``"kcgw/cred/v1" | tenant | credential | field``
(each part length-prefixed, so no two different triples encode alike); the DEK is wrapped by the
active KEK with ``"kcgw/dek/v1" | tenant | credential`` as its context. A ciphertext or wrapped
key copied to another row, field or tenant therefore fails authentication.

Opening (:func:`unwrap_dek`, :func:`open_fields`) is for :mod:`kcgateway.vault.signer` only; an
AST test keeps it that way. :func:`rewrap_dek` moves a DEK to a new KEK without touching the
field ciphertexts (KEK rotation).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kcgateway.errors import CredentialUnreadable
from kcgateway.secret import Secret
from kcgateway.store.records import BrokerInfo, CredentialRecord, Rewrap, SealedField
from kcgateway.vault.kek import KekProvider, KeyRing, UnwrapFailed

VERSION = 1
ALG = "AES-256-GCM"
FIELD_LABEL = b"kcgw/cred/v1"
DEK_LABEL = b"kcgw/dek/v1"
NONCE_BYTES = 12
DEK_BYTES = 32

SECRET = "secret"  # noqa: S105 # pragma: allowlist secret - a field name, not a value
PASSPHRASE = "passphrase"  # noqa: S105 - a field name, not a value
BROKER_KEY = "broker_key"
FIELDS = (SECRET, PASSPHRASE, BROKER_KEY)


def _encode(label: bytes, *parts: str) -> bytes:
    out = bytearray(label)
    for part in parts:
        raw = part.encode()
        out += len(raw).to_bytes(4, "big") + raw
    return bytes(out)


@functools.lru_cache(maxsize=65_536)
def field_aad(tenant_id: str, credential_id: str, field: str) -> bytes:
    """Associated data of one field: where the ciphertext is allowed to live (cached: public)."""
    return _encode(FIELD_LABEL, tenant_id, credential_id, field)


@functools.lru_cache(maxsize=65_536)
def dek_context(tenant_id: str, credential_id: str) -> bytes:
    """Context (AAD) of a wrapped DEK: the row it belongs to (cached: it is public)."""
    return _encode(DEK_LABEL, tenant_id, credential_id)


def seal(
    *,
    credential_id: str,
    tenant_id: str,
    api_key: str,
    secrets: Mapping[str, Secret],
    kek: KekProvider,
    key_version: int = 3,
    broker: BrokerInfo | None = None,
    account_id: str | None = None,
) -> CredentialRecord:
    """Encrypt ``secrets`` (field name -> plaintext) under a new DEK wrapped by ``kek``."""
    unknown = set(secrets) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown credential fields: {sorted(unknown)}")
    dek = AESGCM.generate_key(bit_length=256)
    aes = AESGCM(dek)
    fields = {}
    for name, value in secrets.items():
        nonce = os.urandom(NONCE_BYTES)
        aad = field_aad(tenant_id, credential_id, name)
        fields[name] = SealedField(nonce, aes.encrypt(nonce, value.reveal().encode(), aad))
    return CredentialRecord(
        credential_id=credential_id,
        tenant_id=tenant_id,
        account_id=account_id,
        api_key=api_key,
        key_version=key_version,
        v=VERSION,
        alg=ALG,
        kek_id=kek.kek_id,
        wrapped_dek=kek.wrap(dek, context=dek_context(tenant_id, credential_id)),
        fields=fields,
        broker=broker,
    )


def unwrap_provider(record: CredentialRecord, ring: KeyRing) -> KekProvider:
    """The ring's provider for this record, after checking the envelope version."""
    if record.v != VERSION or record.alg != ALG:
        raise CredentialUnreadable(record.credential_id, reason="unsupported envelope version")
    provider = ring.find(record.kek_id)
    if provider is None:
        raise CredentialUnreadable(
            record.credential_id, reason=f"its KEK {record.kek_id} is not configured"
        )
    return provider


def unwrap_dek(record: CredentialRecord, provider: KekProvider) -> bytes:
    """The record's DEK (signer only)."""
    try:
        dek = provider.unwrap(
            record.wrapped_dek, context=dek_context(record.tenant_id, record.credential_id)
        )
    except UnwrapFailed:
        raise CredentialUnreadable(
            record.credential_id, reason="the data key does not unwrap with its KEK"
        ) from None
    if len(dek) != DEK_BYTES:
        raise CredentialUnreadable(record.credential_id, reason="the data key has a bad length")
    return dek


def open_fields(record: CredentialRecord, dek: bytes, names: Iterable[str]) -> dict[str, Secret]:
    """Decrypt the named fields (signer only). All or nothing: any failure raises."""
    aes, fields = AESGCM(dek), record.fields
    tenant_id, credential_id = record.tenant_id, record.credential_id
    out: dict[str, Secret] = {}
    name = ""
    try:
        for name in names:
            sealed = fields[name]
            aad = field_aad(tenant_id, credential_id, name)
            out[name] = Secret(aes.decrypt(sealed.nonce, sealed.ciphertext, aad).decode())
    except KeyError:
        raise CredentialUnreadable(credential_id, reason="field missing", field=name) from None
    except (InvalidTag, ValueError):
        raise CredentialUnreadable(
            credential_id, reason="authentication failed", field=name
        ) from None
    return out


def rewrap_dek(record: CredentialRecord, ring: KeyRing, new: KekProvider) -> Rewrap:
    """The change that moves ``record``'s DEK to ``new``; field ciphertexts stay as they are.

    When ``new`` itself owns the record's KEK id (a Vault transit key rotated to a new version)
    and can rewrap, the DEK is rewrapped inside the provider and never reaches this process.
    """
    rewrap = getattr(new, "rewrap", None)
    if new.owns(record.kek_id) and callable(rewrap):
        wrapped = rewrap(record.wrapped_dek)
    else:
        context = dek_context(record.tenant_id, record.credential_id)
        dek = unwrap_dek(record, unwrap_provider(record, ring))
        wrapped = new.wrap(dek, context=context)
    return Rewrap(
        credential_id=record.credential_id,
        old_kek_id=record.kek_id,
        old_wrapped_dek=record.wrapped_dek,
        new_kek_id=new.kek_id,
        new_wrapped_dek=wrapped,
    )
