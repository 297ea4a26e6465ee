"""A copy of the database without the KEK yields no secret."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kcgateway.errors import ConfigError, CredentialUnreadable
from kcgateway.store.credential_store import SqlCredentialStore
from kcgateway.store.database import open_database
from kcgateway.store.repositories import CredentialRepository, TenantRepository
from kcgateway.vault.config import configured_kek
from kcgateway.vault.kek import KeyRing
from kcgateway.vault.signer import Signer
from tests.helpers.databases import sqlite_database
from tests.helpers.leakscan import LeakScanner
from tests.kcgateway.vault.support import Plain, random_kek

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def test_a_copied_database_file_without_the_kek_is_worthless(tmp_path: Path) -> None:
    kek = random_kek()
    plains = [Plain.generate(broker=i == 0) for i in range(4)]
    db = await sqlite_database(tmp_path / "live.db")
    try:
        async with db.write() as s:
            tenant = await TenantRepository(s).add("victim", now=NOW)
        for plain in plains:
            cid = str(uuid.uuid4())
            record = plain.seal(tenant_id=tenant, credential_id=cid, kek=kek)
            await SqlCredentialStore(db).add(record, now=NOW)
    finally:
        await db.aclose()  # checkpoints the WAL into the file
    stolen = tmp_path / "stolen.db"
    shutil.copy(tmp_path / "live.db", stolen)

    scanner = LeakScanner({})
    for i, p in enumerate(plains):
        scanner.add(f"secret{i}", p.secret)
        scanner.add(f"passphrase{i}", p.passphrase)
        scanner.add_passphrase_hmac(f"hmac{i}", secret=p.secret, passphrase=p.passphrase)
    LeakScanner.assert_clean(scanner.scan_paths([stolen]))

    with pytest.raises(ConfigError, match="kcgateway vault init-kek"):
        configured_kek({"XDG_CONFIG_HOME": str(tmp_path / "empty")})
    thief = open_database(f"sqlite:///{stolen}")
    try:
        async with thief.read() as s:
            ids = await CredentialRepository(s).ids_for_tenant(tenant)
        assert len(ids) == len(plains)
        for guess in (KeyRing(random_kek()), KeyRing(random_kek(), random_kek())):
            for cid in ids:
                with pytest.raises(CredentialUnreadable):
                    await Signer(SqlCredentialStore(thief), guess).sign(
                        cid, method="GET", path="/api/v1/accounts", timestamp_ms=1
                    )
        # with the real KEK the same file works: the failures above are the missing key
        signer = Signer(SqlCredentialStore(thief), KeyRing(kek))
        assert await signer.sign(ids[0], method="GET", path="/", timestamp_ms=1)
    finally:
        await thief.aclose()
