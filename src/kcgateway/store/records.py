"""The stored form of an encrypted credential: plain data, no I/O, no crypto.

A leaf module: the vault (which seals and opens these) imports it; the store persists it.
One data key (DEK) per credential, wrapped by a key-encryption key (KEK). Each field has its own
nonce and ciphertext; the envelope record of one field is therefore
``{v, alg, kek_id, wrapped_dek, nonce, ciphertext}`` with the first four shared by the row.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SealedField:
    """AES-GCM nonce and ciphertext (tag included) of one field."""

    nonce: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    """The public half of a broker's partner credentials (the broker key itself is sealed)."""

    partner: str
    name: str
    verify: bool = True


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    """One stored KuCoin credential set, every secret field sealed.

    ``api_key`` is the public key id (it is sent in clear in every request header).
    """

    credential_id: str
    tenant_id: str
    api_key: str
    key_version: int
    v: int
    alg: str
    kek_id: str
    wrapped_dek: bytes = field(repr=False)
    fields: dict[str, SealedField] = field(repr=False)
    broker: BrokerInfo | None = None
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class Rewrap:
    """A DEK moved from one KEK to another; applied only if the row is still on ``old_kek_id``."""

    credential_id: str
    old_kek_id: str
    old_wrapped_dek: bytes = field(repr=False)
    new_kek_id: str = ""
    new_wrapped_dek: bytes = field(repr=False, default=b"")


#: the "tenant" a gateway-wide record (the broker settings) is sealed for: part of its AAD, so
#: its ciphertexts cannot be moved into (or out of) a tenant's credential row
GATEWAY_SCOPE = "_gateway"
