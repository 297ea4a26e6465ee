"""A thousand random ciphertext swaps across rows, fields and tenants: none decrypts."""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from kcgateway.errors import CredentialUnreadable
from kcgateway.store.credential_store import SqlCredentialStore
from kcgateway.store.database import Database
from kcgateway.store.records import CredentialRecord
from kcgateway.store.repositories import TenantRepository
from kcgateway.store.tables import CredentialRow
from kcgateway.vault.kek import KeyRing
from kcgateway.vault.signer import Signer
from tests.kcgateway.vault.support import MemorySource, Plain, random_kek

REQUEST = {"method": "GET", "path": "/api/v1/accounts", "timestamp_ms": 1_700_000_000_000}
SWAPS = 1000


def _population(kek: object) -> tuple[dict[str, CredentialRecord], list[Plain]]:
    records, plains = {}, []
    for tenant in ("tenant-a", "tenant-b", "tenant-c"):
        for i in range(4):
            plain = Plain.generate(broker=i % 2 == 1, prefix=f"{tenant}-{i}-")
            cid = str(uuid.uuid4())
            records[cid] = plain.seal(tenant_id=tenant, credential_id=cid, kek=kek)  # type: ignore[arg-type]
            plains.append(plain)
    return records, plains


def _swap(rng: random.Random, records: dict[str, CredentialRecord]) -> tuple[str, str, str]:
    """Return (kind, victim id, cross) after planting another ciphertext in the victim."""
    ids = sorted(records)
    src, dst = rng.choice(ids), rng.choice(ids)
    a, b = records[src], records[dst]
    kind = rng.choice(["field", "wrapped_dek", "whole_row"])
    if kind == "field":
        f_src, f_dst = rng.choice(sorted(a.fields)), rng.choice(sorted(b.fields))
        while (src, f_src) == (dst, f_dst):
            f_dst = rng.choice(sorted(b.fields))
            if len(b.fields) == 1:  # pragma: no cover - every record has 2+ fields
                break
        planted = dataclasses.replace(b, fields={**b.fields, f_dst: a.fields[f_src]})
    else:
        while src == dst:
            src = rng.choice(ids)
            a = records[src]
        if kind == "wrapped_dek":
            planted = dataclasses.replace(b, wrapped_dek=a.wrapped_dek)
        else:  # the whole sealed row of A under B's id
            planted = dataclasses.replace(b, wrapped_dek=a.wrapped_dek, fields=dict(a.fields))
    records[dst] = planted
    cross = "tenant" if a.tenant_id != b.tenant_id else "row" if src != dst else "field"
    cross = f"across-{cross}"
    return kind, dst, cross


async def test_a_thousand_random_swaps_all_fail_with_a_clear_error() -> None:
    kek = random_kek()
    original, plains = _population(kek)
    secrets_in_play = [p.secret for p in plains] + [p.passphrase for p in plains]
    rng = random.Random(20260101)
    kinds: Counter[str] = Counter()
    for _ in range(SWAPS):
        records = dict(original)
        kind, victim, cross = _swap(rng, records)
        kinds[kind] += 1
        kinds[cross] += 1
        signer = Signer(MemorySource(records), KeyRing(kek))
        result = None
        with pytest.raises(CredentialUnreadable) as info:
            result = await signer.sign(victim, **REQUEST)  # type: ignore[arg-type]
        assert result is None
        message = str(info.value)
        assert victim in message and "cannot be decrypted" in message
        assert not any(s in message for s in secrets_in_play)
    assert sum(kinds[k] for k in ("field", "wrapped_dek", "whole_row")) == SWAPS
    assert min(kinds["field"], kinds["wrapped_dek"], kinds["whole_row"]) > 200
    assert min(kinds["across-tenant"], kinds["across-row"], kinds["across-field"]) > 0
    signer = Signer(MemorySource(original), KeyRing(kek))  # the untouched rows still sign
    for cid in original:
        assert "KC-API-SIGN" in await signer.sign(cid, **REQUEST)  # type: ignore[arg-type]


async def test_swaps_made_in_the_database_fail_too(db: Database) -> None:
    kek = random_kek()
    store = SqlCredentialStore(db)
    ids = []
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for name in ("x", "y"):
        async with db.write() as s:
            tenant = await TenantRepository(s).add(f"{name}-{uuid.uuid4().hex}", now=now)
        cid = str(uuid.uuid4())
        await store.add(
            Plain.generate().seal(tenant_id=tenant, credential_id=cid, kek=kek), now=now
        )
        ids.append(cid)
    async with db.write() as s:  # an attacker with SQL access swaps the sealed secrets
        rows = {r.id: r for r in (await s.scalars(select(CredentialRow))).all()}
        first, second = rows[ids[0]].sealed_fields, rows[ids[1]].sealed_fields
        await s.execute(
            update(CredentialRow).where(CredentialRow.id == ids[0]).values(sealed_fields=second)
        )
        await s.execute(
            update(CredentialRow).where(CredentialRow.id == ids[1]).values(sealed_fields=first)
        )
    for cid in ids:
        with pytest.raises(CredentialUnreadable, match="authentication failed"):
            await Signer(store, KeyRing(kek)).sign(cid, **REQUEST)  # type: ignore[arg-type]
