"""The Vault transit KEK, against an in-process fake transit server (no Vault binary here)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import hvac
import pytest

from kcgateway.errors import ConfigError, CredentialUnreadable
from kcgateway.kucoin.signing import sign_request
from kcgateway.secret import Secret
from kcgateway.vault.config import kek_from_spec
from kcgateway.vault.credentials import CredentialVault
from kcgateway.vault.kek import KeyRing, UnwrapFailed
from kcgateway.vault.rotation import rotate_kek
from kcgateway.vault.signer import Signer
from kcgateway.vault.transit import TransitKek
from tests.kcgateway.vault.fake_transit import FakeTransit
from tests.kcgateway.vault.support import MemorySource, MemoryStore, Plain, random_kek

NOW = datetime(2026, 1, 1, tzinfo=UTC)
REQUEST = {"method": "GET", "path": "/api/v1/accounts", "timestamp_ms": 1_700_000_000_000}


@pytest.fixture
def vault() -> Iterator[FakeTransit]:
    with FakeTransit(token=secrets.token_hex(16)) as fake:
        client = hvac.Client(url=fake.url, token=fake.token)
        client.secrets.transit.create_key(name="kcgw")
        client.adapter.close()
        yield fake


@pytest.fixture
def transit(vault: FakeTransit) -> Iterator[TransitKek]:
    kek = TransitKek.connect(url=vault.url, token=Secret(vault.token), key_name="kcgw")
    yield kek
    kek.close()


def test_wrap_unwrap_through_vault_bound_to_the_row(
    transit: TransitKek, vault: FakeTransit
) -> None:
    dek = secrets.token_bytes(32)
    wrapped = transit.wrap(dek, context=b"row-1")
    assert wrapped.startswith(b"vault:v1:") and dek not in wrapped
    assert transit.unwrap(wrapped, context=b"row-1") == dek
    with pytest.raises(UnwrapFailed, match="another row"):
        transit.unwrap(wrapped, context=b"row-2")
    with pytest.raises(UnwrapFailed):
        transit.unwrap(b"vault:v1:" + b"A" * 40, context=b"row-1")
    assert transit.kek_id == "vault-transit:transit/kcgw:v1" and transit.performs_io
    assert any(c.startswith("POST /v1/transit/encrypt/kcgw") for c in vault.calls)
    assert "kcgw" in repr(transit) and vault.token not in repr(transit)


def test_key_rotation_in_vault_and_rewrap(transit: TransitKek) -> None:
    dek = secrets.token_bytes(32)
    old = transit.wrap(dek, context=b"row")
    transit.rotate()
    assert transit.kek_id.endswith(":v2") and transit.owns("vault-transit:transit/kcgw:v1")
    assert not transit.owns("vault-transit:transit/other:v1")
    assert transit.unwrap(old, context=b"row") == dek  # old versions still decrypt
    new = transit.rewrap(old)
    assert new.startswith(b"vault:v2:") and transit.unwrap(new, context=b"row") == dek


def test_bad_token_and_missing_key_are_config_errors(vault: FakeTransit) -> None:
    with pytest.raises(ConfigError, match="check VAULT_ADDR, VAULT_TOKEN") as info:
        TransitKek.connect(url=vault.url, token=Secret("wrong-token"), key_name="kcgw")
    assert "wrong-token" not in str(info.value)
    with pytest.raises(ConfigError):
        TransitKek.connect(url=vault.url, token=Secret(vault.token), key_name="absent")
    env = {"VAULT_ADDR": vault.url, "VAULT_TOKEN": vault.token}
    kek = kek_from_spec("vault:transit/kcgw", env)
    try:
        assert kek.kek_id == "vault-transit:transit/kcgw:v1"
    finally:
        kek.close()  # type: ignore[attr-defined]


async def test_signer_and_rotation_with_a_transit_kek(transit: TransitKek) -> None:
    local = random_kek()
    plains = [Plain.generate(broker=i == 0) for i in range(3)]
    source = MemorySource(
        {
            str(i): p.seal(tenant_id="t", credential_id=str(i), kek=local)
            for i, p in enumerate(plains)
        }
    )
    expected = [await Signer(source, KeyRing(local)).sign(str(i), **REQUEST) for i in range(3)]  # type: ignore[arg-type]

    store = MemoryStore(source.records)
    result = await rotate_kek(store, KeyRing(local), transit, now=lambda: NOW, batch_size=2)
    assert (result.rewrapped, result.total) == (3, 3)
    assert set(await store.count_by_kek()) == {transit.kek_id}
    signer = Signer(store, KeyRing(transit))  # the local KEK is gone
    assert [await signer.sign(str(i), **REQUEST) for i in range(3)] == expected  # type: ignore[arg-type]
    with pytest.raises(CredentialUnreadable, match="not configured"):
        await Signer(store, KeyRing(local)).sign("0", **REQUEST)  # type: ignore[arg-type]


async def test_rotating_the_vault_key_rewraps_inside_vault(
    transit: TransitKek, vault: FakeTransit
) -> None:
    plain = Plain.generate()
    store = MemoryStore({"c": plain.seal(tenant_id="t", credential_id="c", kek=transit)})
    expected = await Signer(store, KeyRing(transit)).sign("c", **REQUEST)  # type: ignore[arg-type]
    transit.rotate()
    vault.calls.clear()
    result = await rotate_kek(store, KeyRing(transit), transit, now=lambda: NOW)
    assert (result.rewrapped, result.new_kek_id) == (1, "vault-transit:transit/kcgw:v2")
    assert vault.calls == ["POST /v1/transit/rewrap/kcgw"]  # the DEK never left Vault
    assert store.records["c"].wrapped_dek.startswith(b"vault:v2:")
    assert await Signer(store, KeyRing(transit)).sign("c", **REQUEST) == expected  # type: ignore[arg-type]


async def test_storing_under_a_transit_kek_wraps_off_the_event_loop(
    transit: TransitKek, vault: FakeTransit
) -> None:
    plain = Plain.generate(broker=True)
    store = MemoryStore()
    cid = await CredentialVault(store, KeyRing(transit)).store(
        tenant_id="t",
        api_key=plain.api_key,
        secret=Secret(plain.secret),
        passphrase=Secret(plain.passphrase),
        broker=plain.broker,
        broker_key=Secret(str(plain.broker_key)),
        now=NOW,
    )
    assert store.records[cid].kek_id == transit.kek_id
    assert any("/encrypt/kcgw" in call for call in vault.calls)
    got = await Signer(store, KeyRing(transit)).sign(cid, **REQUEST)  # type: ignore[arg-type]
    want = sign_request(plain.credentials(), broker=plain.broker_credentials(), **REQUEST)  # type: ignore[arg-type]
    assert got == want
