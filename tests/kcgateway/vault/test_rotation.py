"""KEK rotation: rewrap only, resumable, idempotent; afterwards the old KEK can be deleted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kcgateway.errors import CredentialUnreadable
from kcgateway.store.credential_store import SqlCredentialStore
from kcgateway.store.database import Database
from kcgateway.store.records import CredentialRecord
from kcgateway.store.repositories import TenantRepository
from kcgateway.vault.kek import KekProvider, KeyRing, LocalKek, init_kek_file, local_kek_from_file
from kcgateway.vault.rotation import RotationStalled, rotate_kek
from kcgateway.vault.signer import Signer
from tests.kcgateway.vault.support import MemoryStore, Plain, random_kek

NOW = datetime(2026, 1, 1, tzinfo=UTC)
REQUEST = {"method": "GET", "path": "/api/v1/accounts", "timestamp_ms": 1_700_000_000_000}
ROWS, BATCH, KILL_AFTER = 25, 4, 10


class Killed(Exception):
    """Stands in for the process dying half way."""


class DyingKek:
    """Wraps a KEK and 'crashes' after ``after`` wraps."""

    def __init__(self, inner: LocalKek, after: int) -> None:
        self.inner, self.left = inner, after
        self.kek_id, self.performs_io = inner.kek_id, False

    def owns(self, kek_id: str) -> bool:
        return self.inner.owns(kek_id)

    def wrap(self, dek: bytes, *, context: bytes) -> bytes:
        if self.left == 0:
            raise Killed
        self.left -= 1
        return self.inner.wrap(dek, context=context)

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        return self.inner.unwrap(wrapped, context=context)


async def _populate(db: Database, kek: KekProvider) -> tuple[SqlCredentialStore, list[str]]:
    store = SqlCredentialStore(db)
    async with db.write() as s:
        tenant = await TenantRepository(s).add(f"rot-{uuid.uuid4().hex}", now=NOW)
    ids = []
    for i in range(ROWS):
        cid = str(uuid.uuid4())
        plain = Plain.generate(broker=i % 3 == 0)
        await store.add(plain.seal(tenant_id=tenant, credential_id=cid, kek=kek), now=NOW)
        ids.append(cid)
    return store, ids


async def _sign_all(store: SqlCredentialStore, ring: KeyRing, ids: list[str]) -> list[str]:
    signer = Signer(store, ring)
    return [(await signer.sign(cid, **REQUEST))["KC-API-SIGN"] for cid in ids]  # type: ignore[arg-type]


async def test_rotation_killed_half_way_then_rerun_ends_consistent(
    db: Database, tmp_path: Path
) -> None:
    old = init_kek_file(tmp_path / "old.key")
    new = init_kek_file(tmp_path / "new.key")
    store, ids = await _populate(db, old)
    before: dict[str, CredentialRecord] = {cid: await store.get(cid) for cid in ids}
    expected = await _sign_all(store, KeyRing(old), ids)

    with pytest.raises(Killed):
        await rotate_kek(
            store, KeyRing(old), DyingKek(new, KILL_AFTER), now=lambda: NOW, batch_size=BATCH
        )
    # committed batches are on the new KEK, the rest untouched; with both KEKs all still sign
    moved = (KILL_AFTER // BATCH) * BATCH
    counts = {
        k: v for k, v in (await store.count_by_kek()).items() if k in (old.kek_id, new.kek_id)
    }
    assert counts == {new.kek_id: moved, old.kek_id: ROWS - moved}
    assert await _sign_all(store, KeyRing(new, old), ids) == expected

    progress: list[tuple[int, int]] = []
    result = await rotate_kek(
        store,
        KeyRing(old),
        new,
        now=lambda: NOW,
        batch_size=BATCH,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert (result.rewrapped, result.total) == (ROWS - moved, ROWS - moved)
    assert progress[0] == (0, ROWS - moved) and progress[-1] == (ROWS - moved, ROWS - moved)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    for cid in ids:  # only the DEK wrapping changed: the field ciphertexts are untouched
        after = await store.get(cid)
        assert after.kek_id == new.kek_id and after.fields == before[cid].fields
        assert after.wrapped_dek != before[cid].wrapped_dek

    again = await rotate_kek(store, KeyRing(old), new, now=lambda: NOW, batch_size=BATCH)
    assert (again.rewrapped, again.total) == (0, 0)  # idempotent

    reloaded = local_kek_from_file(tmp_path / "new.key")
    (tmp_path / "old.key").unlink()  # the old KEK is deleted: everything still signs
    assert await _sign_all(store, KeyRing(reloaded), ids) == expected
    with pytest.raises(CredentialUnreadable, match="not configured"):
        await _sign_all(store, KeyRing(old), ids[:1])


async def test_rotation_stops_at_a_row_no_configured_kek_opens() -> None:
    store = MemoryStore()
    known, unknown, new = random_kek(), random_kek(), random_kek()
    await store.add(Plain.generate().seal(tenant_id="t", credential_id="a", kek=known), now=NOW)
    await store.add(Plain.generate().seal(tenant_id="t", credential_id="b", kek=unknown), now=NOW)
    with pytest.raises(CredentialUnreadable, match="not configured"):
        await rotate_kek(store, KeyRing(known), new, now=lambda: NOW, batch_size=10)
    assert store.records["b"].kek_id == unknown.kek_id  # the failing batch was not applied
    with pytest.raises(ValueError, match="batch_size"):
        await rotate_kek(store, KeyRing(known), new, now=lambda: NOW, batch_size=0)


async def test_rotation_gives_up_when_rows_keep_changing_under_it() -> None:
    class Racing(MemoryStore):
        async def apply_rewraps(self, changes: object, *, now: datetime) -> int:
            return 0  # every compare-and-set loses

    store = Racing()
    old, new = random_kek(), random_kek()
    await store.add(Plain.generate().seal(tenant_id="t", credential_id="a", kek=old), now=NOW)
    with pytest.raises(RotationStalled):
        await rotate_kek(store, KeyRing(old), new, now=lambda: NOW)
