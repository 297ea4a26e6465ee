"""The keyed audit chain: edits, deletions, rehashing without the key, cut tails, rotation."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from kcgateway.cli import app as cli
from kcgateway.gateway.audit import AuditAction, chain_head, record, verify_chain
from kcgateway.store.audit_chain import GENESIS_HASH, AuditKeys, Head
from kcgateway.store.database import Database, open_database
from kcgateway.store.ledger import AuditRepository, body_of
from kcgateway.store.migrate import upgrade
from kcgateway.store.tables import AuditRecord
from kcgateway.vault.audit_keys import create_audit_key_file, load_audit_keys, roll_audit_key

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def _append(db: Database, first: int, count: int) -> None:
    async with db.write() as session:
        for i in range(first, first + count):
            await record(
                session, AuditAction.ORDER_STATE, actor="test", subject=f"intent-{i}",
                now=T0 + timedelta(seconds=i), detail={"to": "open", "n": i},
            )  # fmt: skip


async def _keyed_db(tmp_path: Path, records: int = 5) -> tuple[Database, AuditKeys, str]:
    """A database whose chain is keyed from its first record, with ``records`` records."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    db = open_database(url)
    await upgrade(db.engine)
    keys = create_audit_key_file(tmp_path / "audit.keys", legacy_head=GENESIS_HASH, now=T0)
    db.use_audit_key(keys.active)
    await _append(db, 1, records)
    return db, keys, url


async def _rehash_without_the_key(db: Database, *, from_seq: int, keep_key_ids: bool) -> None:
    """What someone with write access to the database but not the audit key can do.

    Recompute ``prev_hash`` and ``hash`` of every record from ``from_seq`` on with the only
    hash they can compute: the published unkeyed formula (what old main's chain was).
    """
    async with db.write() as session:
        rows = (await session.scalars(select(AuditRecord).order_by(AuditRecord.seq))).all()
        prev = GENESIS_HASH
        for rec in rows:
            if rec.seq >= from_seq:
                body = json.dumps(
                    {"tenant_id": rec.tenant_id, "actor": rec.actor, "action": rec.action,
                     "subject": rec.subject, "detail": rec.detail,
                     "created_at": rec.created_at.isoformat()},
                    sort_keys=True, separators=(",", ":"),
                )  # fmt: skip
                digest = hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()
                values = {"prev_hash": "x" * 64 + str(rec.seq), "hash": "y" * 64 + str(rec.seq)}
                # two steps: prev_hash and hash are unique, the new values may collide midway
                await session.execute(
                    update(AuditRecord).where(AuditRecord.seq == rec.seq).values(**values)
                )
                values = {"prev_hash": prev, "hash": digest}
                if not keep_key_ids:
                    values["key_id"] = None  # type: ignore[assignment]
                await session.execute(
                    update(AuditRecord).where(AuditRecord.seq == rec.seq).values(**values)
                )
                prev = digest
            else:
                prev = rec.hash


async def test_a_keyed_chain_verifies_with_its_keys_and_names_them(tmp_path: Path) -> None:
    db, keys, _ = await _keyed_db(tmp_path)
    async with db:
        report = await verify_chain(db, keys=keys)
        assert report.ok and report.records == 5 and report.head is not None
        assert report.by_key == {keys.active.key_id: 5} and report.unkeyed == 0
        async with db.read() as session:
            rows = await AuditRepository(session).all()
        assert {r.key_id for r in rows} == {keys.active.key_id}
        # without the key file, keyed records cannot be vouched for
        blind = await verify_chain(db)
        assert not blind.ok and blind.broken_at == 1 and "no audit key file" in str(blind.problem)


async def test_an_edit_is_detected(tmp_path: Path) -> None:
    db, keys, _ = await _keyed_db(tmp_path)
    async with db:
        async with db.write() as session:
            await session.execute(
                update(AuditRecord).where(AuditRecord.seq == 3).values(detail={"to": "cancelled"})
            )
        report = await verify_chain(db, keys=keys)
        assert not report.ok and report.broken_at == 3 and "edited" in str(report.problem)


async def test_a_deletion_is_detected(tmp_path: Path) -> None:
    db, keys, _ = await _keyed_db(tmp_path)
    async with db:
        async with db.write() as session:
            await session.execute(delete(AuditRecord).where(AuditRecord.seq == 2))
        report = await verify_chain(db, keys=keys)
        assert not report.ok and report.broken_at == 3 and "deleted" in str(report.problem)


@pytest.mark.parametrize("keep_key_ids", [True, False])
async def test_deleting_and_rehashing_the_rest_without_the_key_fails(
    tmp_path: Path, keep_key_ids: bool
) -> None:
    """Finding 8: on the unkeyed chain this rewrite verified; now it needs the audit key."""
    db, keys, _ = await _keyed_db(tmp_path)
    async with db:
        async with db.write() as session:
            await session.execute(delete(AuditRecord).where(AuditRecord.seq == 3))
        # keeping the key ids, the rest is rehashed; dropping them, the whole chain is (as the
        # attack on the unkeyed design did: it then passed `audit verify`)
        first = 4 if keep_key_ids else 1
        await _rehash_without_the_key(db, from_seq=first, keep_key_ids=keep_key_ids)
        if not keep_key_ids:
            async with db.read() as session:  # a perfect unkeyed chain: the old check passes
                assert await AuditRepository(session).verify() is None
        report = await verify_chain(db, keys=keys)
        assert not report.ok and report.broken_at == first, report
        assert "without the key" in str(report.problem)


async def test_rewriting_the_whole_chain_unkeyed_fails(tmp_path: Path) -> None:
    db, keys, _ = await _keyed_db(tmp_path)
    async with db:
        await _rehash_without_the_key(db, from_seq=1, keep_key_ids=False)
        report = await verify_chain(db, keys=keys)
        assert not report.ok and report.broken_at == 1


async def test_an_old_unkeyed_chain_verifies_up_to_the_switch_and_stays_pinned(
    tmp_path: Path,
) -> None:
    """A database from before the keyed chain: its records verify as the recorded prefix."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    async with open_database(url) as db:
        await upgrade(db.engine)
        await _append(db, 1, 3)  # no audit key: what the previous version wrote
        head = await chain_head(db)
        assert head is not None
        keys = create_audit_key_file(tmp_path / "audit.keys", legacy_head=head.hash, now=T0)
        legacy_only = await verify_chain(db, keys=keys)
        assert legacy_only.ok and legacy_only.unkeyed == 3
        db.use_audit_key(keys.active)
        await _append(db, 4, 2)
        report = await verify_chain(db, keys=keys)
        assert report.ok and report.unkeyed == 3 and report.by_key == {keys.active.key_id: 2}
        # an unkeyed record after the switch is refused (a writer without the key, or a forger)
        db2 = open_database(url)
        try:
            await _append(db2, 6, 1)
        finally:
            await db2.aclose()
        late = await verify_chain(db, keys=keys)
        assert late.broken_at == 6 and "unkeyed" in str(late.problem)


async def test_the_unkeyed_prefix_cannot_be_cut_or_rewritten(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    async with open_database(url) as db:
        await upgrade(db.engine)
        await _append(db, 1, 4)
        head = await chain_head(db)
        assert head is not None
        keys = create_audit_key_file(tmp_path / "audit.keys", legacy_head=head.hash, now=T0)
        # no keyed record yet: deleting the last unkeyed one misses the recorded switch point
        async with db.write() as session:
            await session.execute(delete(AuditRecord).where(AuditRecord.seq == 4))
        cut = await verify_chain(db, keys=keys)
        assert not cut.ok and "switch point" in str(cut.problem)
        async with db.read() as session:  # the bare chain itself is a valid unkeyed chain
            assert await AuditRepository(session).verify() is None
    # with keyed records after it: deleting an unkeyed record and rehashing fails too
    (tmp_path / "audit.keys").unlink()
    db, keys, _ = await _legacy_then_keyed(tmp_path / "two")
    async with db:
        async with db.write() as session:
            await session.execute(delete(AuditRecord).where(AuditRecord.seq == 2))
        await _rehash_without_the_key(db, from_seq=3, keep_key_ids=True)
        report = await verify_chain(db, keys=keys)
        assert not report.ok and report.broken_at is not None and report.broken_at <= 4


async def _legacy_then_keyed(tmp_path: Path) -> tuple[Database, AuditKeys, str]:
    tmp_path.mkdir()
    url = f"sqlite+aiosqlite:///{tmp_path / 'mixed.db'}"
    db = open_database(url)
    await upgrade(db.engine)
    await _append(db, 1, 3)
    head = await chain_head(db)
    assert head is not None
    keys = create_audit_key_file(tmp_path / "audit.keys", legacy_head=head.hash, now=T0)
    db.use_audit_key(keys.active)
    await _append(db, 4, 3)
    return db, keys, url


async def test_a_cut_tail_is_detected_with_the_exported_head(tmp_path: Path) -> None:
    db, keys, _ = await _keyed_db(tmp_path)
    async with db:
        head = await chain_head(db)
        assert head is not None and head.seq == 5
        exported = head.export()
        assert Head.parse(exported) == head
        assert exported.startswith(f"5:{head.hash}:2026-12-01T12:00:05")
        assert (await verify_chain(db, exported, keys=keys)).ok
        assert (await verify_chain(db, head.hash, keys=keys)).ok, "a bare hash still works"
        async with db.write() as session:
            await session.execute(delete(AuditRecord).where(AuditRecord.seq == 5))
        assert (await verify_chain(db, keys=keys)).ok, "a cut tail alone looks intact"
        report = await verify_chain(db, exported, keys=keys)
        assert not report.ok and not report.head_found and report.broken_at is None
        await _append(db, 10, 1)  # the chain goes on: still not the exported record
        assert not (await verify_chain(db, exported, keys=keys)).head_found


def test_a_malformed_head_is_refused() -> None:
    for bad in ("", "abc", "x:" + "0" * 64, "5:" + "0" * 63, "5:" + "0" * 64 + ":yesterday"):
        with pytest.raises(ValueError, match="head"):
            Head.parse(bad)


async def test_rotation_keeps_old_records_verifiable(tmp_path: Path) -> None:
    db, first, _ = await _keyed_db(tmp_path, records=3)
    async with db:
        rolled = roll_audit_key(tmp_path / "audit.keys", now=T0)
        assert rolled.keys[0].key_id == first.active.key_id
        assert rolled.active.key_id != first.active.key_id
        db.use_audit_key(rolled.active)
        await _append(db, 4, 2)
        keys = load_audit_keys(tmp_path / "audit.keys")
        report = await verify_chain(db, keys=keys)
        assert report.ok, report
        assert report.by_key == {first.active.key_id: 3, rolled.active.key_id: 2}
        # a ring that lost the old key cannot vouch for the records it chained
        partial = AuditKeys([rolled.active], legacy_head=GENESIS_HASH)
        lost = await verify_chain(db, keys=partial)
        assert lost.broken_at == 1 and "not in the audit key file" in str(lost.problem)
        # a stolen OLD key cannot rewrite what the new key sealed: the first record chained
        # with the new key covers the last one chained with the old key
        async with db.write() as session:
            rec = await session.get(AuditRecord, 3)
            assert rec is not None
            old_key = first.active
            rec.detail = {"to": "forged"}
            await session.flush()
            rec.hash = old_key.digest(rec.prev_hash, body_of(rec))
        forged = await verify_chain(db, keys=keys)
        assert forged.broken_at == 4


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("KCGW_KEK", "KCGW_KEK_SPEC", "KCGW_DATABASE_URL", "KCGW_AUDIT_KEY_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("KCGW_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


async def _unkeyed(url: str, first: int, count: int) -> None:
    async with open_database(url) as db:
        await _append(db, first, count)


async def _edit(url: str, seq: int) -> None:
    async with open_database(url) as db, db.write() as session:
        await session.execute(
            update(AuditRecord).where(AuditRecord.seq == seq).values(actor="mallory")
        )


def test_cli_init_key_head_verify_and_roll(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    url = f"sqlite:///{env / 'cli.db'}"
    assert runner.invoke(cli, ["db", "upgrade", "--url", url]).exit_code == 0
    asyncio.run(_unkeyed(url, 1, 2))  # records from before this version

    missing = runner.invoke(cli, ["audit", "verify", "--url", url])
    assert missing.exit_code == 1 and "kcgateway audit init-key" in missing.output

    made = runner.invoke(cli, ["audit", "init-key", "--url", url])
    assert made.exit_code == 0, made.output
    path = env / "data" / "audit.keys"
    assert "records after #2" in made.output and str(path) in made.output
    assert path.stat().st_mode & 0o777 == 0o600
    secret = json.loads(path.read_text())["keys"][0]["key"]
    assert secret not in made.output
    again = runner.invoke(cli, ["audit", "init-key", "--url", url])
    assert again.exit_code == 1 and "never overwritten" in again.output

    ok = runner.invoke(cli, ["audit", "verify", "--url", url])
    assert ok.exit_code == 0, ok.output
    assert "intact: 2 records (2 unkeyed before the switch" in ok.output

    # the CLI's own administration writes keyed records (dev: same data dir, same key file)
    db_env = {"KCGW_DATABASE_URL": url}
    created = runner.invoke(cli, ["tenants", "create", "acme"], env=db_env)
    assert created.exit_code == 0, created.output
    head = runner.invoke(cli, ["audit", "head", "--url", url])
    assert head.exit_code == 0, head.output
    exported = head.stdout.strip().splitlines()[-1]  # stdout only: the token to store
    assert exported.startswith("3:") and Head.parse(exported).seq == 3
    good = runner.invoke(cli, ["audit", "verify", "--url", url, "--head", exported])
    assert good.exit_code == 0, good.output
    assert "keyed: 1 with audit:" in good.output

    # rotate the KEK: the audit key rolls with it, and everything still verifies
    kek_old, kek_new = env / "old.key", env / "new.key"
    for kek in (kek_old, kek_new):
        assert runner.invoke(cli, ["vault", "init-kek", "--path", str(kek)]).exit_code == 0
    monkeypatch.setenv("KCGW_KEK_FILE", str(kek_old))
    rotated = runner.invoke(cli, ["vault", "rotate-kek", "--new", f"file:{kek_new}", "--url", url])
    assert rotated.exit_code == 0, rotated.output
    assert "audit key rolled" in rotated.output
    keys = load_audit_keys(path)
    assert len(keys.keys) == 2
    after = runner.invoke(cli, ["audit", "verify", "--url", url, "--head", exported])
    assert after.exit_code == 0, after.output
    assert f"1 with {keys.active.key_id}" in after.output  # the audit.key_rolled record
    kept = runner.invoke(
        cli, ["vault", "rotate-kek", "--new", f"file:{kek_new}", "--old", f"file:{kek_new}",
              "--url", url, "--keep-audit-key"],
    )  # fmt: skip
    assert kept.exit_code == 0 and len(load_audit_keys(path).keys) == 2

    # losing the key file: a new one would orphan every keyed record, so it is refused
    path.rename(env / "kept-elsewhere.keys")
    lost = runner.invoke(cli, ["audit", "init-key", "--url", url])
    assert lost.exit_code == 1 and "already keyed" in lost.output, lost.output
    assert not path.exists()
    (env / "kept-elsewhere.keys").rename(path)

    asyncio.run(_edit(url, 2))
    bad = runner.invoke(cli, ["audit", "verify", "--url", url])
    assert bad.exit_code == 1
    assert "BROKEN at record 2" in bad.output and "edited" in bad.output
    cut = runner.invoke(cli, ["audit", "verify", "--url", url, "--head", "9:" + "a" * 64 + ":"])
    assert cut.exit_code == 1
    malformed = runner.invoke(cli, ["audit", "verify", "--url", url, "--head", "nonsense"])
    assert malformed.exit_code == 2 and "--head" in malformed.output


def test_cli_head_of_an_empty_log(env: Path) -> None:
    url = f"sqlite:///{env / 'empty.db'}"
    assert CliRunner().invoke(cli, ["db", "upgrade", "--url", url]).exit_code == 0
    result = CliRunner().invoke(cli, ["audit", "head", "--url", url])
    assert result.exit_code == 1 and "empty" in result.output


async def test_a_long_chain_is_walked_in_batches_with_progress(tmp_path: Path) -> None:
    db, keys, _ = await _keyed_db(tmp_path)
    async with db:
        whole = await verify_chain(db, keys=keys)
        seen: list[tuple[int, int]] = []
        batched = await verify_chain(
            db, whole.head, keys=keys, batch_size=2, on_progress=lambda d, t: seen.append((d, t))
        )
        assert batched == whole and batched.ok
        assert seen == [(2, 5), (4, 5), (5, 5)]
        async with db.write() as session:  # an edit in the middle of the second batch
            await session.execute(
                update(AuditRecord).where(AuditRecord.seq == 4).values(detail={"to": "x"})
            )
        report = await verify_chain(db, whole.head, keys=keys, batch_size=2)
        assert report.broken_at == 4 and report.records == 5 and report.head_found
