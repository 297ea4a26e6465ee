"""The leak canary: unique canary secrets go through the vault and the signer with DEBUG logging
(SQL echo included); then the logs, stdout/stderr, the SQLite file and its WAL, and a pg_dump
of the PostgreSQL database are scanned for every encoded form. Zero hits allowed."""

from __future__ import annotations

import base64
import dataclasses
import logging
import secrets
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from kcgateway.errors import CredentialUnreadable
from kcgateway.secret import Secret
from kcgateway.store.credential_store import SqlCredentialStore
from kcgateway.store.database import Database
from kcgateway.store.records import BrokerInfo
from kcgateway.store.repositories import TenantRepository
from kcgateway.vault.config import configured_kek
from kcgateway.vault.credentials import CredentialVault
from kcgateway.vault.kek import KeyRing
from kcgateway.vault.rotation import rotate_kek
from kcgateway.vault.signer import Signer
from tests.conftest import services_required
from tests.helpers.leakscan import LeakScanner
from tests.kcgateway.vault.support import MemorySource, random_kek

NOW = datetime(2026, 1, 1, tzinfo=UTC)
log = logging.getLogger("kcgateway.test.canary")


def _canary(kind: str) -> str:
    return f"CANARY-{kind}/{secrets.token_hex(10)}+{secrets.token_urlsafe(8)}="


def _pg_dump(url: str) -> bytes:
    parsed = make_url(url)
    if shutil.which("pg_dump") is None:
        message = "pg_dump is not installed: cannot scan a PostgreSQL dump"
        if services_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    out = subprocess.run(  # noqa: S603 - fixed arguments, test database
        ["pg_dump", "-h", str(parsed.host), "-U", str(parsed.username), str(parsed.database)],  # noqa: S607
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert b"CREATE TABLE public.credentials" in out.stdout
    return out.stdout


async def test_no_canary_escapes_in_any_form(
    db: Database,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw_kek = secrets.token_bytes(32)
    monkeypatch.setenv("KCGW_KEK", base64.b64encode(raw_kek).decode())
    sets = [
        {"secret": _canary("sec"), "passphrase": _canary("pass"), "broker_key": None, "v": v}
        for v in (1, 2, 3)
    ]
    sets[2]["broker_key"] = _canary("bkey")
    scanner = LeakScanner({"kek": raw_kek})
    for i, s in enumerate(sets):
        for field in ("secret", "passphrase", "broker_key"):
            if s[field]:
                scanner.add(f"{field}{i}", str(s[field]))
        scanner.add_passphrase_hmac(
            f"passphrase_hmac{i}", secret=str(s["secret"]), passphrase=str(s["passphrase"])
        )

    log_file = tmp_path / "debug.log"
    handler = logging.FileHandler(log_file)
    logging.getLogger().addHandler(handler)
    caplog.set_level(logging.DEBUG)
    for noisy in ("sqlalchemy.engine", "aiosqlite", "asyncpg", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.DEBUG)
    db.engine.sync_engine.echo = True
    db_url = db.engine.url.render_as_string(hide_password=False)
    try:
        ring = KeyRing(configured_kek())
        store = SqlCredentialStore(db)
        async with db.write() as session:
            tenant = await TenantRepository(session).add(f"canary-{uuid.uuid4().hex}", now=NOW)
        vault = CredentialVault(store, ring)
        ids = []
        for i, s in enumerate(sets):
            ids.append(
                await vault.store(
                    tenant_id=tenant,
                    api_key=f"canary-api-key-{i}",
                    secret=Secret(str(s["secret"])),
                    passphrase=Secret(str(s["passphrase"])),
                    key_version=int(str(s["v"])),
                    broker=BrokerInfo("PARTNER", "BROKER") if s["broker_key"] else None,
                    broker_key=Secret(str(s["broker_key"])) if s["broker_key"] else None,
                    now=NOW,
                )
            )
        signer = Signer(store, ring)
        for cid in ids:
            for n in range(5):
                headers = await signer.sign(
                    cid, method="POST", path="/api/v1/orders", body=b"{}", timestamp_ms=n
                )
                log.debug("signed %s for %s (%d headers)", signer, cid, len(headers))
        record = await store.get(ids[0])
        print(f"debug print of a record: {record!r}; signer {signer!r}; ring {ring.active!r}")
        broken = dataclasses.replace(record, wrapped_dek=(await store.get(ids[1])).wrapped_dek)
        try:
            await Signer(MemorySource({ids[0]: broken}), ring).sign(
                ids[0], method="GET", path="/x", timestamp_ms=1
            )
        except CredentialUnreadable:
            log.exception("expected failure while signing")
        new = random_kek()
        scanner.add("new_kek_id_is_public_but_key_is_not", new.kek_id + "-never-logged")
        await rotate_kek(store, ring, new, now=lambda: NOW, batch_size=2)
        await Signer(store, KeyRing(new)).sign(ids[2], method="GET", path="/y", timestamp_ms=2)

        hits = scanner.scan_text(caplog.text, "caplog")
        hits += scanner.scan_paths([log_file])
        out, err = capfd.readouterr()
        assert "debug print of a record" in out
        assert "INSERT INTO credentials" in caplog.text  # SQL echo really was on
        hits += scanner.scan_text(out, "stdout") + scanner.scan_text(err, "stderr")
        if db.is_sqlite:
            db_file = Path(str(make_url(db_url).database))
            wal = db_file.with_name(db_file.name + "-wal")
            assert wal.stat().st_size > 0  # the WAL really holds the recent writes
            hits += scanner.scan_paths([db_file, wal])
        else:
            hits += scanner.scan_bytes(_pg_dump(db_url), "pg_dump")
    finally:
        await db.aclose()
        db.engine.sync_engine.echo = False
        logging.getLogger().removeHandler(handler)
        handler.close()
        for noisy in ("sqlalchemy.engine", "aiosqlite", "asyncpg", "urllib3", "alembic"):
            logging.getLogger(noisy).setLevel(logging.NOTSET)
    if db.is_sqlite:
        hits += scanner.scan_paths([Path(str(make_url(db_url).database))])  # after checkpoint
    assert scanner.needle_count > 100
    LeakScanner.assert_clean(hits)
