from __future__ import annotations

import dataclasses
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcgateway.errors import CredentialUnreadable
from kcgateway.kucoin.signing import sign_request
from kcgateway.secret import Secret
from kcgateway.vault.envelope import (
    ALG,
    VERSION,
    dek_context,
    field_aad,
    open_fields,
    seal,
    unwrap_dek,
    unwrap_provider,
)
from kcgateway.vault.kek import KeyRing
from kcgateway.vault.signer import Signer
from tests.kcgateway.vault.support import MemorySource, Plain, random_kek


def test_the_sealed_record_carries_the_envelope_and_no_plaintext() -> None:
    kek = random_kek()
    plain = Plain.generate(broker=True)
    record = plain.seal(tenant_id="t1", credential_id="c1", kek=kek)
    assert (record.v, record.alg, record.kek_id) == (VERSION, ALG, kek.kek_id)
    assert set(record.fields) == {"secret", "passphrase", "broker_key"}
    nonces = [f.nonce for f in record.fields.values()]
    assert len(set(nonces)) == 3 and all(len(n) == 12 for n in nonces)
    blob = b"".join(f.ciphertext for f in record.fields.values()) + record.wrapped_dek
    for value in (plain.secret, plain.passphrase, str(plain.broker_key)):
        assert value.encode() not in blob
        assert value not in repr(record)
    again = plain.seal(tenant_id="t1", credential_id="c1", kek=kek)
    assert again.wrapped_dek != record.wrapped_dek  # a new DEK per credential


def test_associated_data_is_unambiguous() -> None:
    assert field_aad("a", "bc", "secret") != field_aad("ab", "c", "secret")
    assert field_aad("t", "c", "secret") != field_aad("t", "c", "passphrase")
    assert dek_context("t", "c") != field_aad("t", "c", "")
    assert field_aad("t", "c", "secret").startswith(b"kcgw/cred/v1")


def test_opening_checks_version_kek_and_every_field() -> None:
    kek = random_kek()
    record = Plain.generate().seal(tenant_id="t", credential_id="c", kek=kek)
    ring = KeyRing(kek)
    dek = unwrap_dek(record, unwrap_provider(record, ring))
    opened = open_fields(record, dek, ["secret"])
    assert isinstance(opened["secret"], Secret)
    with pytest.raises(CredentialUnreadable, match="field missing"):
        open_fields(record, dek, ["broker_key"])
    with pytest.raises(CredentialUnreadable, match="unsupported envelope"):
        unwrap_provider(dataclasses.replace(record, v=2), ring)
    with pytest.raises(CredentialUnreadable, match="unsupported envelope"):
        unwrap_provider(dataclasses.replace(record, alg="AES-128-CBC"), ring)
    with pytest.raises(CredentialUnreadable, match="is not configured"):
        unwrap_provider(record, KeyRing(random_kek()))
    with pytest.raises(CredentialUnreadable, match="authentication failed"):
        open_fields(record, secrets.token_bytes(32), ["secret"])


def test_a_provider_returning_a_bad_key_is_refused() -> None:
    class Broken:
        kek_id, performs_io = "broken:1", False

        def owns(self, kek_id: str) -> bool:
            return True

        def wrap(self, dek: bytes, *, context: bytes) -> bytes:
            return b"w"

        def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
            return b"short"

    record = Plain.generate().seal(tenant_id="t", credential_id="c", kek=Broken())
    with pytest.raises(CredentialUnreadable, match="bad length"):
        unwrap_dek(record, Broken())


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown credential fields"):
        seal(
            credential_id="c",
            tenant_id="t",
            api_key="k",
            secrets={"pin": Secret("1234")},
            kek=random_kek(),
        )


@settings(max_examples=60, deadline=None)
@given(
    secret=st.text(min_size=0, max_size=80),
    passphrase=st.text(min_size=0, max_size=40),
    tenant=st.text(min_size=1, max_size=40),
    credential=st.text(min_size=1, max_size=40),
)
async def test_any_unicode_credential_round_trips_through_the_signer(
    secret: str, passphrase: str, tenant: str, credential: str
) -> None:
    kek = random_kek()
    plain = Plain("key", secret, passphrase)
    record = plain.seal(tenant_id=tenant, credential_id=credential, kek=kek)
    request = {"method": "GET", "path": "/api/v1/accounts", "timestamp_ms": 1}
    got = await Signer(MemorySource({credential: record}), KeyRing(kek)).sign(credential, **request)  # type: ignore[arg-type]
    assert got == sign_request(plain.credentials(), **request)  # type: ignore[arg-type]
