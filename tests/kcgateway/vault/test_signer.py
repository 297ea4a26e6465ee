from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from kcgateway.errors import CredentialUnreadable
from kcgateway.kucoin.signing import sign_request
from kcgateway.secret import Secret
from kcgateway.store.credential_store import SqlCredentialStore
from kcgateway.store.database import Database
from kcgateway.store.records import BrokerInfo
from kcgateway.store.repositories import TenantRepository
from kcgateway.vault.credentials import CredentialVault
from kcgateway.vault.kek import KeyRing
from kcgateway.vault.signer import SealedRecordCache, Signer
from tests.kcgateway.vault.support import MemorySource, Plain, random_kek

NOW = datetime(2026, 1, 1, tzinfo=UTC)
REQUEST: dict[str, Any] = {
    "method": "POST",
    "path": "/api/v1/hf/orders",
    "body": b'{"clientOid":"x","side":"buy"}',
    "timestamp_ms": 1_700_000_000_123,
}


async def _store(db: Database, ring: KeyRing, plain: Plain) -> str:
    async with db.write() as s:
        tenant = await TenantRepository(s).add(f"t-{uuid.uuid4().hex}", now=NOW)
    vault = CredentialVault(SqlCredentialStore(db), ring)
    return await vault.store(
        tenant_id=tenant,
        api_key=plain.api_key,
        secret=Secret(plain.secret),
        passphrase=Secret(plain.passphrase),
        key_version=plain.key_version,
        broker=plain.broker,
        broker_key=Secret(plain.broker_key) if plain.broker_key else None,
        now=NOW,
    )


@pytest.mark.parametrize(("version", "broker"), [(1, False), (2, False), (3, False), (3, True)])
async def test_signer_headers_match_the_plain_signer(
    db: Database, version: int, broker: bool
) -> None:
    ring = KeyRing(random_kek())
    plain = Plain.generate(key_version=version, broker=broker)
    credential_id = await _store(db, ring, plain)
    headers = await Signer(SqlCredentialStore(db), ring).sign(credential_id, **REQUEST)
    expected = sign_request(plain.credentials(), broker=plain.broker_credentials(), **REQUEST)
    assert headers == expected
    assert ("KC-API-PARTNER-SIGN" in headers) is broker
    assert headers["KC-API-KEY"] == plain.api_key


async def test_signer_reproduces_the_shared_signing_vectors(shared_path: Any) -> None:
    import json

    vectors = json.loads((shared_path / "kucoin" / "signing_vectors.json").read_text())
    kek = random_kek()
    source = MemorySource()
    checked = checked_broker = 0
    signed = [v for v in vectors if "KC-API-SIGN" in v["headers"]]
    for i, vector in enumerate(signed):
        inputs, headers = vector["inputs"], vector["headers"]
        version = int(headers.get("KC-API-KEY-VERSION", "2"))
        broker = headers.get("KC-BROKER-NAME") == inputs["broker_name"]
        plain = Plain(
            inputs["api_key"],
            inputs["secret"],
            inputs["passphrase"],
            version,
            BrokerInfo(inputs["broker_partner"], inputs["broker_name"]) if broker else None,
            inputs["broker_key"] if broker else None,
        )
        source.records[str(i)] = plain.seal(tenant_id="t", credential_id=str(i), kek=kek)
        got = await Signer(source, KeyRing(kek)).sign(
            str(i),
            method=vector["method"],
            path=vector["path_with_query"],
            body=vector["body"].encode(),
            timestamp_ms=int(inputs["timestamp"]),
        )
        assert got["KC-API-SIGN"] == headers["KC-API-SIGN"], vector["id"]
        if "KC-API-KEY-VERSION" in headers:
            assert got["KC-API-PASSPHRASE"] == headers["KC-API-PASSPHRASE"], vector["id"]
        if broker:
            assert got["KC-API-PARTNER-SIGN"] == headers["KC-API-PARTNER-SIGN"], vector["id"]
            checked_broker += 1
        checked += 1
    assert checked == len(signed) >= 60
    assert checked_broker >= 4


async def test_there_is_no_way_to_get_a_secret_out_of_the_signer() -> None:
    kek = random_kek()
    plain = Plain.generate()
    source = MemorySource({"c": plain.seal(tenant_id="t", credential_id="c", kek=kek)})
    signer = Signer(source, KeyRing(kek))
    assert [n for n in dir(signer) if not n.startswith("_")] == ["sign"]
    assert plain.secret not in repr(signer) and kek.kek_id in repr(signer)
    assert plain.secret not in repr(source.records["c"])
    with pytest.raises(KeyError):
        await signer.sign("missing", **REQUEST)


async def test_every_call_decrypts_again_and_the_cache_holds_sealed_records_only() -> None:
    kek, other = random_kek(), random_kek()
    plain = Plain.generate()
    source = MemorySource({"c": plain.seal(tenant_id="t", credential_id="c", kek=kek)})
    cache = SealedRecordCache(source, max_entries=1)
    signer = Signer(cache, KeyRing(kek))
    first = await signer.sign("c", **REQUEST)
    assert await signer.sign("c", **REQUEST) == first
    assert source.reads == 1
    # a rotation behind the cache: the cached sealed record still needs its KEK, every call
    source.records["c"] = plain.seal(tenant_id="t", credential_id="c", kek=other)
    with pytest.raises(CredentialUnreadable):
        await Signer(cache, KeyRing(other)).sign("c", **REQUEST)
    cache.invalidate("c")
    assert await Signer(cache, KeyRing(other)).sign("c", **REQUEST) == first
    source.records["d"] = plain.seal(tenant_id="t", credential_id="d", kek=other)
    await Signer(cache, KeyRing(other)).sign("d", **REQUEST)  # evicts "c" (max 1)
    await Signer(cache, KeyRing(other)).sign("c", **REQUEST)
    assert source.reads == 4
    cache.invalidate()
    await Signer(cache, KeyRing(other)).sign("c", **REQUEST)
    assert source.reads == 5


async def test_storing_checks_its_arguments(db: Database) -> None:
    vault = CredentialVault(SqlCredentialStore(db), KeyRing(random_kek()))
    args: dict[str, Any] = {
        "tenant_id": "t",
        "api_key": "k",
        "secret": Secret("s"),
        "passphrase": Secret("p"),
        "now": NOW,
    }
    with pytest.raises(ValueError, match="key_version"):
        await vault.store(**args, key_version=4)
    with pytest.raises(ValueError, match="go together"):
        await vault.store(**args, broker_key=Secret("b"))
